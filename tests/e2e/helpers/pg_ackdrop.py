#!/usr/bin/env python3
"""pg_ackdrop.py - a TCP relay in front of PostgreSQL that loses the answer
to one COMMIT: the server commits, the client never hears it, as when the
network between them fails at that moment.

Usage: pg_ackdrop.py UPSTREAM_PORT PATTERN
Relays 127.0.0.1:<its port> to 127.0.0.1:UPSTREAM_PORT (sslmode=disable:
it reads the client's simple-query messages). The first transaction whose
client bytes (from "BEGIN" on) contain PATTERN has its COMMIT sent to the
server; the server's answer is read and dropped and both connections are
closed. Every other connection and transaction passes untouched. Prints
"listening on PORT", then "dropped" once it has done it."""
import socket
import sys
import threading

COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"
BEGIN = b"BEGIN ISOLATION LEVEL"


def main():
    upstream = int(sys.argv[1])
    pattern = sys.argv[2].encode()
    state = {"done": False}
    lock = threading.Lock()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("listening on %d" % ls.getsockname()[1], flush=True)

    def pump_back(srv, cli, mute, answered):
        try:
            while True:
                b = srv.recv(65536)
                if not b:
                    break
                if mute.is_set():
                    answered.set()  # the COMMIT's answer: lost
                    continue
                cli.sendall(b)
        except OSError:
            pass
        for s in (cli, srv):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(cli):
        srv = socket.create_connection(("127.0.0.1", upstream))
        mute, answered = threading.Event(), threading.Event()
        back = threading.Thread(target=pump_back,
                                args=(srv, cli, mute, answered), daemon=True)
        back.start()
        tx = b""
        try:
            while True:
                b = cli.recv(65536)
                if not b:
                    break
                i = b.find(BEGIN)
                tx = b[i:] if i >= 0 else tx + b
                with lock:
                    drop = (not state["done"] and COMMIT in b
                            and pattern in tx)
                    if drop:
                        state["done"] = True
                if not drop:
                    srv.sendall(b)
                    continue
                # The COMMIT goes through; its answer does not: the client
                # loses the connection once the server has committed.
                mute.set()
                srv.sendall(b)
                answered.wait(10)
                print("dropped", flush=True)
                break
        except OSError:
            pass
        for s in (cli, srv):
            try:
                s.close()
            except OSError:
                pass

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
