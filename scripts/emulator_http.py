"""Plumbing shared by the test emulators (scripts/*_emulator.py): a quiet
HTTP/1.1 handler that reads a request body and answers JSON.

Subclasses implement `handle_one(method, raw_body)` and answer with
`reply(code, body, headers)`.
"""
import json
import socket
from http.server import BaseHTTPRequestHandler


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle plus the
        # client's delayed ACK add 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, code, body, headers=None):
        out = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(out)

    def dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        self.handle_one(method, self.rfile.read(length) if length else b"")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")
