#!/usr/bin/python3
"""The program a user would write instead of authbatch: asyncio + aiohttp.

Reads the companies CSV (the import format), sends every company with at
most CONCURRENCY requests in flight (asyncio.Semaphore), signs each request
(MD5 of token + secret + timestamp + nonce), and stores every answer in its
own SQLite file with the standard sqlite3 module, committing every 500
results. Used by scripts/bench.sh as the peer baseline; not part of authbatch.

usage: bench_peer.py CSV DB BASE_URL [CONCURRENCY]
env:   QYS_ACCESS_TOKEN, QYS_ACCESS_SECRET
"""
import asyncio
import csv
import hashlib
import json
import os
import sqlite3
import sys
import time
import uuid

import aiohttp

PATH = "/companyauth/miniappexchange"
COMMIT_EVERY = 500


def body_of(row):
    applicant = {"contact": row["applicantContact"]}
    if row.get("applicantName"):
        applicant["name"] = row["applicantName"]
    applicant["contactType"] = row.get("applicantContactType") or (
        "EMAIL" if "@" in row["applicantContact"] else "MOBILE")
    body = {"companyName": row["companyName"], "applicant": applicant}
    for key in ("registerNo", "legalPerson", "callbackUrl", "modifyFields"):
        if row.get(key):
            body[key] = row[key]
    if row.get("closeButton"):
        body["closeButton"] = row["closeButton"].lower() in ("true", "1", "yes")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def headers_of(token, secret):
    ts = str(int(time.time() * 1000))
    nonce = str(uuid.uuid4())
    sig = hashlib.md5((token + secret + ts + nonce).encode()).hexdigest()
    return {
        "Content-Type": "application/json;charset=UTF-8",
        "x-qys-open-accesstoken": token,
        "x-qys-open-timestamp": ts,
        "x-qys-open-nonce": nonce,
        "x-qys-open-signature": sig,
    }


async def main():
    csv_path, db_path, base = sys.argv[1], sys.argv[2], sys.argv[3]
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    token = os.environ["QYS_ACCESS_TOKEN"]
    secret = os.environ["QYS_ACCESS_SECRET"]

    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("""CREATE TABLE IF NOT EXISTS results (
        company_name TEXT PRIMARY KEY, status INTEGER, code INTEGER,
        message TEXT, ticket TEXT, at INTEGER)""")
    pending = []

    def record(row):
        pending.append(row)
        if len(pending) >= COMMIT_EVERY:
            flush()

    def flush():
        db.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?)",
                       pending)
        db.commit()
        pending.clear()

    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))

    sem = asyncio.Semaphore(concurrency)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def one(row):
            async with sem:
                try:
                    async with session.post(
                            base + PATH, data=body_of(row).encode(),
                            headers=headers_of(token, secret)) as resp:
                        answer = await resp.json(content_type=None)
                        ticket = (answer.get("result") or {}).get("ticket")
                        record((row["companyName"], resp.status,
                                answer.get("code"), answer.get("message"),
                                ticket, int(time.time() * 1000)))
                except (aiohttp.ClientError, ValueError) as e:
                    record((row["companyName"], 0, None, str(e), None,
                            int(time.time() * 1000)))

        await asyncio.gather(*(one(r) for r in rows))
    flush()
    db.close()


if __name__ == "__main__":
    asyncio.run(main())
