#!/usr/bin/env python3
"""fixed_server.py - answers every request the same way, as something in
front of the vendor might: a redirect, a proxy's HTML error page, a captive
portal, a throttle with a long Retry-After.

Usage: fixed_server.py STATUS [--header 'Name: value']... [--body TEXT]
Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
GET /__count answers the number of other requests it has answered."""
import argparse
import http.server
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("status", type=int)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--body", default="")
    a = ap.parse_args()
    body = a.body.encode()
    headers = [h.split(":", 1) for h in a.header]
    lock = threading.Lock()
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, hdrs, data):
            self.send_response(status)
            for k, v in hdrs:
                self.send_header(k.strip(), v.strip())
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/__count":
                with lock:
                    n = count[0]
                self.answer(200, [("Content-Type", "text/plain")],
                            b"%d\n" % n)
                return
            self.do_POST()

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            with lock:
                count[0] += 1
            self.answer(a.status, headers, body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("listening on http://127.0.0.1:%d" % srv.server_address[1],
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
