#!/usr/bin/env python3
"""A callback receiver for qys-sandbox's own shell tests.

usage: cb_receiver.py LOG-FILE [PORT]
Prints "listening on PORT" once it accepts connections, then serves until
killed. Every request is appended to LOG-FILE as one JSON line: t_ms, method,
path, ctype, body, answer (the HTTP status sent). Answers by path:
  /ok/...      HTTP 200 {"code":0}
  /fail/K/...  the first K requests to this exact path fail, cycling through
               HTTP 500, HTTP 200 {"code":1}, HTTP 200 success (not JSON),
               HTTP 200 {"code":"0"}; later ones get HTTP 200 {"code":0}
  anything else: HTTP 503
"""
import http.server
import json
import sys
import threading
import time

FAILS = [(500, "text/html", "<html>500</html>"),
         (200, "application/json", '{"code":1,"message":"busy"}'),
         (200, "text/plain", "success"),
         (200, "application/json", '{"code":"0"}')]
OK = (200, "application/json", '{"code":0}')
lock = threading.Lock()
seen = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        parts = self.path.split("/")
        with lock:
            k = seen.get(self.path, 0)
            seen[self.path] = k + 1
        if len(parts) > 1 and parts[1] == "ok":
            answer = OK
        elif len(parts) > 2 and parts[1] == "fail":
            answer = FAILS[k % len(FAILS)] if k < int(parts[2]) else OK
        else:
            answer = (503, "text/plain", "unavailable")
        # logged before the answer: once the sandbox has the answer, the
        # line is in the file
        rec = {"t_ms": int(time.time() * 1000), "method": self.command,
               "path": self.path, "ctype": self.headers.get("Content-Type"),
               "body": body, "answer": answer[0]}
        with lock:
            with open(sys.argv[1], "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        data = answer[2].encode()
        self.send_response(answer[0])
        self.send_header("Content-Type", answer[1])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST


def main():
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("listening on %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
