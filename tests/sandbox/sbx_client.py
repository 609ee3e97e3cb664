#!/usr/bin/env python3
"""A minimal signed client of qys-sandbox for its own shell tests (not the
product's client: it shares nothing with src/).

usage:
  sbx_client.py URL TOKEN SECRET issue NAMES-FILE [--callback URL-PREFIX]
      one ticket per line of NAMES-FILE (UTF-8), sequentially; prints one
      JSON line per name: {"name", "http", "body"}; with --callback each
      request carries callbackUrl URL-PREFIX/<line number>
  sbx_client.py URL TOKEN SECRET result NAMES-FILE [--raw] [--by-id IDS-FILE]
      GET /companyauth/result for each name, its value percent-encoded by
      RFC 3986 (or, with --raw, leaving & + = % ( ) unencoded, as a client
      that encodes only spaces and non-ASCII does: the Go SDK's bug);
      prints one JSON line per query: {"name", "http", "body"}
"""
import hashlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def headers(token, secret):
    ts = str(int(time.time() * 1000))
    nonce = str(uuid.uuid4())
    sig = hashlib.md5((token + secret + ts + nonce).encode()).hexdigest()
    return {
        "x-qys-open-accesstoken": token,
        "x-qys-open-timestamp": ts,
        "x-qys-open-nonce": nonce,
        "x-qys-open-signature": sig,
    }


def call(req):
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def main(argv):
    url, token, secret, cmd, names_file = argv[1:6]
    rest = argv[6:]
    with open(names_file, encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    out = sys.stdout
    if cmd == "issue":
        cb = rest[rest.index("--callback") + 1] if "--callback" in rest else None
        for i, name in enumerate(names, 1):
            body = {"companyName": name,
                    "applicant": {"name": "Applicant %d" % i,
                                  "contact": "138%08d" % i,
                                  "contactType": "MOBILE"},
                    "registerNo": "9131%014d" % i,
                    "legalPerson": "Legal %d" % i}
            if cb:
                body["callbackUrl"] = "%s/%d" % (cb, i)
            h = headers(token, secret)
            h["Content-Type"] = "application/json;charset=UTF-8"
            req = urllib.request.Request(
                url + "/companyauth/miniappexchange",
                data=json.dumps(body, ensure_ascii=False).encode(),
                headers=h, method="POST")
            status, text = call(req)
            out.write(json.dumps({"name": name, "http": status,
                                  "body": text}, ensure_ascii=False) + "\n")
    elif cmd == "result":
        raw = "--raw" in rest
        key = "requestId" if "--by-id" in rest else "companyName"
        for name in names:
            if raw:
                value = urllib.parse.quote(name, safe="&+=%()")
            else:
                value = urllib.parse.quote(name, safe="-._~")
            req = urllib.request.Request(
                url + "/companyauth/result?" + key + "=" + value,
                headers=headers(token, secret), method="GET")
            status, text = call(req)
            out.write(json.dumps({"name": name, "http": status,
                                  "body": text}, ensure_ascii=False) + "\n")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
