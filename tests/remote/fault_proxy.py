#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""fault_proxy.py - an HTTP/1.1 reverse proxy that injects faults.

It forwards every request to one upstream (http://HOST:PORT), keeping the
method, path, query and every header as sent (Host included, so that an S3
Signature V4 or a GCS signed URL stays valid; Range, If-Match and
Authorization pass untouched), and answers with the upstream's status,
headers and body, except when a fault is armed.

Usage:
    /usr/bin/python3 tests/remote/fault_proxy.py --upstream http://127.0.0.1:8080 [--port 0]

It listens on 127.0.0.1 (port 0: any free one) and prints the port it got
as the first line on stdout.  Stdlib only; threaded; keep-alive.

Control: requests to /__fault (never forwarded) set the fault, which applies
to the next COUNT proxied requests (each one spends one), then the proxy is
back to 'none':

    GET /__fault?mode=none
    GET /__fault?mode=drop&count=N[&after=BYTES]
        send the headers and BYTES of the body (default: half of it), then
        close the connection
    GET /__fault?mode=status&count=N[&code=503][&retry_after=SECONDS]
        answer CODE (503 or 429 ...) without asking upstream, with
        Retry-After: SECONDS (default 1; -1 sends none)
    GET /__fault?mode=stall&count=N[&seconds=S]
        send the headers, wait S seconds (default 5), then send the body
    GET /__fault/stats
        JSON: {"proxied": N, "faults": N, "mode": "...", "count": N}

Each answer to a control request is 200 with a JSON body of the state.
"""
import argparse
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
       "proxy-authorization", "te", "trailer", "transfer-encoding",
       "upgrade"}


class Faults:
    """The armed fault, shared by every connection."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "none"
        self.count = 0
        self.params = {}
        self.proxied = 0
        self.faults = 0

    def arm(self, query):
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        with self.lock:
            self.mode = q.get("mode", "none")
            self.count = int(q.get("count", "1")) if self.mode != "none" else 0
            self.params = q

    def take(self):
        """The fault for this request: (mode, params)."""
        with self.lock:
            self.proxied += 1
            if self.mode == "none" or self.count <= 0:
                return "none", {}
            self.count -= 1
            self.faults += 1
            mode, params = self.mode, dict(self.params)
            if self.count == 0:
                self.mode = "none"
            return mode, params

    def state(self):
        with self.lock:
            return {"proxied": self.proxied, "faults": self.faults,
                    "mode": self.mode, "count": self.count}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # else 40 ms a request (delayed ACKs)
    upstream = None     # (host, port), set by main()
    faults = None       # Faults
    conn = None         # this client connection's upstream connection

    def log_message(self, fmt, *args):  # quiet: paths may carry signatures
        pass

    def send_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self):
        path, _, query = self.path.partition("?")
        if path == "/__fault":
            self.faults.arm(query)
        self.send_json(self.faults.state())

    def upstream_request(self, body):
        """The upstream's response, on a kept-alive connection."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(*self.upstream,
                                                       timeout=60)
            try:
                self.conn.putrequest(self.command, self.path, skip_host=True,
                                     skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in HOP:
                        self.conn.putheader(k, v)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                return self.conn.getresponse()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return None

    def answer_status(self, p):
        code = int(p.get("code", "503"))
        ra = int(p.get("retry_after", "1"))
        body = b"injected fault\n"
        self.send_response(code)
        if ra >= 0:
            self.send_header("Retry-After", str(ra))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def proxy(self):
        if self.path.startswith("/__fault"):
            return self.control()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n or self.command in ("POST", "PUT") \
            else None
        mode, p = self.faults.take()
        if mode == "status":
            return self.answer_status(p)
        try:
            resp = self.upstream_request(body)
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.send_error(502)
            return
        self.send_response_only(resp.status, resp.reason)  # upstream's Date
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        clen = resp.getheader("Content-Length")
        if self.command == "HEAD" and clen is not None:
            self.send_header("Content-Length", clen)
        elif self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if mode == "drop":
            cut = int(p.get("after", len(data) // 2))
            self.wfile.write(data[:min(cut, len(data))])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if mode == "stall":
            self.wfile.flush()
            time.sleep(float(p.get("seconds", "5")))
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = proxy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.upstream)
    if u.scheme != "http" or not u.hostname:
        sys.exit("fault_proxy: --upstream must be http://HOST:PORT")
    Proxy.upstream = (u.hostname, u.port or 80)
    Proxy.faults = Faults()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Proxy)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
