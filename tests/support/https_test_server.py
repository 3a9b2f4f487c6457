#!/usr/bin/env python3
"""A loopback HTTPS server for the MTA-STS and TLS-RPT tests.

usage: https_test_server.py CERT KEY DOCROOT

Serves GET /PATH from DOCROOT/HOST/PATH (HOST is the Host header
without its port), as text/plain; DOCROOT/HOST/redirect holding a URL
makes every GET of that host answer 301 to it.  A POST is stored as
DOCROOT/posts/N.bin with its Content-Type in N.type, and answered 201.
Every request is logged, one "METHOD HOST PATH" line, to
DOCROOT/requests.log.  Prints "port N" once listening on 127.0.0.1.
"""
import http.server
import os
import ssl
import sys
import threading

CERT, KEY, ROOT = sys.argv[1:4]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def host(self):
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def note(self):
        with lock:
            with open(os.path.join(ROOT, "requests.log"), "a") as f:
                f.write("%s %s %s\n" % (self.command, self.host(), self.path))

    def reply(self, code, body=b"", ctype="text/plain", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.note()
        base = os.path.join(ROOT, self.host())
        redir = os.path.join(base, "redirect")
        if os.path.exists(redir):
            with open(redir) as f:
                self.reply(301, b"moved\n", extra={"Location": f.read().strip()})
            return
        path = os.path.normpath(os.path.join(base, self.path.lstrip("/")))
        if not path.startswith(base) or not os.path.isfile(path):
            self.reply(404, b"not found\n")
            return
        with open(path, "rb") as f:
            self.reply(200, f.read())

    def do_POST(self):
        self.note()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        d = os.path.join(ROOT, "posts")
        with lock:
            os.makedirs(d, exist_ok=True)
            k = len([x for x in os.listdir(d) if x.endswith(".bin")])
            with open(os.path.join(d, "%d.type" % k), "w") as f:
                f.write(self.headers.get("Content-Type") or "")
            with open(os.path.join(d, "%d.bin" % k), "wb") as f:
                f.write(body)
        self.reply(201, b"stored\n")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("port %d" % srv.server_address[1], flush=True)
srv.serve_forever()
