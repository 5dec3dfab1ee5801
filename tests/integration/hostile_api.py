#!/usr/bin/python3
"""A hostile Access Logs API on loopback, one behaviour per process.

usage: hostile_api.py MODE PORT_FILE [CACHE_DIR]
MODE: gzip_bomb (1 GiB of zeros gzipped to ~1 MiB), big (200 MB body),
      endless (a chunked body that never ends), stall (never answers),
      trickle (headers, then one byte every 2 s)
"""
import http.server
import os
import socketserver
import sys
import time
import zlib

MODE, PORT_FILE = sys.argv[1], sys.argv[2]
CACHE = sys.argv[3] if len(sys.argv) > 3 else "/tmp"


def gzip_bomb():
    path = os.path.join(CACHE, "bomb.gz")
    if not os.path.exists(path):
        c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip wrapper
        zeros = b"\0" * (1 << 20)
        with open(path + ".tmp", "wb") as f:
            for _ in range(1024):
                f.write(c.compress(zeros))
            f.write(c.flush())
        os.rename(path + ".tmp", path)
    with open(path, "rb") as f:
        return f.read()


BOMB = gzip_bomb() if MODE == "gzip_bomb" else b""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            if MODE == "gzip_bomb":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(BOMB)))
                self.end_headers()
                self.wfile.write(BOMB)
            elif MODE == "big":
                size = 200 * 1000 * 1000
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"a" * (1 << 20)
                sent = 0
                while sent < size:
                    n = min(len(chunk), size - sent)
                    self.wfile.write(chunk[:n])
                    sent += n
            elif MODE == "endless":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"a" * 65536
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif MODE == "stall":
                time.sleep(3600)
            elif MODE == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                while True:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(2)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client hanging up mid-body is the point of these modes


server = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
