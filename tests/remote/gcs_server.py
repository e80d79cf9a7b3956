#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A small Cloud Storage JSON-API server for ckptfs's tests.

It serves the files of a local directory as buckets: ROOT/BUCKET/NAME is
the object NAME of bucket BUCKET.  An object's generation is the file's
st_mtime_ns, so rewriting a file (or touching it) changes the generation.

Usage:
  gcs_server.py --root DIR [--port 0] [--page-size N] [--watch-stdin]
                [--require-token] [--token-ttl SECONDS]
                [--sa-email EMAIL --sa-public-key PEMFILE]
                [--refresh-token VALUE]

The first line on stdout is the port listened on (127.0.0.1; --port 0, the
default, picks a free one).  With --watch-stdin the server exits when its
stdin reaches end of file (a test gives it a pipe, so a crashed test never
leaves a server behind).

Requests served:
  GET /storage/v1/b/B                      bucket metadata (404 if no dir)
  GET /storage/v1/b/B/o?prefix=&delimiter=&pageToken=&maxResults=
                                           listing: items {name, size, ...},
                                           prefixes, nextPageToken; pages of
                                           min(maxResults, --page-size, 1000)
  GET /storage/v1/b/B/o/NAME               object metadata: name, bucket,
                                           size and generation as strings,
                                           etag (NAME is one %-encoded segment)
  GET /storage/v1/b/B/o/NAME?alt=media     the bytes; Range (206 with
                                           Content-Range), ifGenerationMatch
                                           (412 on mismatch), headers
                                           x-goog-generation and ETag
  POST /token                              OAuth token endpoint:
      grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT
          the JWT must be RS256-signed by the key of --sa-public-key, with
          iss == --sa-email, aud == this server's /token URL (127.0.0.1 or
          localhost), a live exp and
          a devstorage (or cloud-platform) scope; else 400 invalid_grant
      grant_type=refresh_token&client_id=..&client_secret=..&refresh_token=
          the refresh token must equal --refresh-token
  GET /computeMetadata/v1/instance/service-accounts/default/token
                                           metadata-server token (needs the
                                           header Metadata-Flavor: Google)
  POST /_control  {"mode": "drop"|"status"|"stall"|"none", "count": N,
                   "status": 503|429, "seconds": S}
      the next N media GETs: "drop" sends the headers and half the body and
      closes the connection; "status" answers that status (429 with
      Retry-After: 1); "stall" sends half the body, sleeps S seconds, then
      sends the rest.  "none" (or count reaching 0) ends the fault.
  GET /_stats  {"requests", "media_gets", "tokens_issued",
                "authorized_requests", "unauthorized", "faults_left"}

Tokens: every token issued expires after --token-ttl seconds (default
3600).  With --require-token every /storage request needs
"Authorization: Bearer T" with T a live token issued here, else 401.

Examples:
  plain emulator:   gcs_server.py --root /tmp/gcs
                    STORAGE_EMULATOR_HOST=127.0.0.1:PORT
  service account:  openssl genpkey -algorithm RSA -out k.pem
                    openssl pkey -in k.pem -pubout -out k.pub
                    gcs_server.py --root /tmp/gcs --require-token \\
                        --sa-email t@p.iam.gserviceaccount.com \\
                        --sa-public-key k.pub
                    key JSON: {"type": "service_account", "client_email":
                        ..., "private_key": <k.pem>, "token_uri":
                        "http://127.0.0.1:PORT/token"}
                    GOOGLE_APPLICATION_CREDENTIALS=key.json
                    CKPTFS_GCS_ENDPOINT=http://127.0.0.1:PORT
  metadata server:  gcs_server.py --root /tmp/gcs --require-token
                    GCE_METADATA_HOST=127.0.0.1:PORT
                    CKPTFS_GCS_ENDPOINT=http://127.0.0.1:PORT
  faults:           curl -d '{"mode":"status","status":503,"count":2}' \\
                        http://127.0.0.1:PORT/_control
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

SCOPES = ("https://www.googleapis.com/auth/devstorage.read_only",
          "https://www.googleapis.com/auth/devstorage.full_control",
          "https://www.googleapis.com/auth/cloud-platform")
MD_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


class State:
    """Everything shared between the handler threads (under lock)."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.tokens = {}            # token -> expiry (time.time())
        self.fault = {"mode": "none", "count": 0, "status": 503, "seconds": 1}
        self.stats = {"requests": 0, "media_gets": 0, "tokens_issued": 0,
                      "authorized_requests": 0, "unauthorized": 0}
        self.public_key = None
        if args.sa_public_key:
            with open(args.sa_public_key, "rb") as f:
                self.public_key = serialization.load_pem_public_key(f.read())
        self.port = 0

    def count(self, what):
        with self.lock:
            self.stats[what] += 1

    def issue(self):
        tok = "ya29.test-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[tok] = time.time() + self.args.token_ttl
            self.stats["tokens_issued"] += 1
        return {"access_token": tok, "expires_in": self.args.token_ttl,
                "token_type": "Bearer"}

    def token_ok(self, tok):
        with self.lock:
            exp = self.tokens.get(tok)
        return exp is not None and time.time() < exp

    def take_fault(self):
        """The fault for this media GET, or None."""
        with self.lock:
            f = self.fault
            if f["mode"] == "none" or f["count"] <= 0:
                return None
            f["count"] -= 1
            return dict(f)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parse_range(h, size):
    """(first, last) of a "bytes=a-b" header, or None if unsatisfiable."""
    if not h.startswith("bytes=") or "," in h:
        return None
    a, _, b = h[6:].partition("-")
    if a == "":
        n = int(b)
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else None
    first = int(a)
    last = int(b) if b else size - 1
    if first >= size or last < first:
        return None
    return first, min(last, size - 1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # else 40 ms a request (delayed ACKs)
    server_version = "gcs-test/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def st(self):
        return self.server.state

    # ---- responses ----
    def send(self, code, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, msg, headers=()):
        self.send(code, {"error": {"code": code, "message": msg,
                                   "errors": [{"message": msg}]}},
                  headers=headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- routing ----
    def do_GET(self):
        self.st.count("requests")
        path, _, query = self.path.partition("?")
        q = {k: v[0] for k, v in urllib.parse.parse_qs(
            query, keep_blank_values=True).items()}
        if path == "/_stats":
            with self.st.lock:
                s = dict(self.st.stats, faults_left=self.st.fault["count"])
            return self.send(200, s)
        if path == MD_PATH:
            return self.metadata_token()
        parts = path.split("/")
        # ["", "storage", "v1", "b", BUCKET, ("o", (NAME))]
        if len(parts) < 5 or parts[1:4] != ["storage", "v1", "b"]:
            return self.error(404, "no such endpoint")
        if not self.authorized():
            return
        bucket = urllib.parse.unquote(parts[4])
        bdir = self.bucket_dir(bucket)
        if bdir is None:
            return self.error(404, "The specified bucket does not exist.")
        if len(parts) == 5:
            return self.send(200, {"kind": "storage#bucket", "name": bucket,
                                   "id": bucket})
        if parts[5] != "o" or len(parts) > 7:
            return self.error(404, "no such endpoint")
        if len(parts) == 6 or parts[6] == "":
            return self.listing(bdir, q)
        return self.object(bucket, bdir, urllib.parse.unquote(parts[6]), q)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.st.count("requests")
        path = self.path.partition("?")[0]
        body = self.body()
        if path == "/_control":
            try:
                c = json.loads(body or b"{}")
            except ValueError:
                return self.error(400, "bad control JSON")
            with self.st.lock:
                f = self.st.fault
                f["mode"] = c.get("mode", "none")
                f["count"] = int(c.get("count", 1))
                f["status"] = int(c.get("status", 503))
                f["seconds"] = float(c.get("seconds", 1))
            return self.send(200, {"ok": True})
        if path == "/token":
            return self.token(urllib.parse.parse_qs(body.decode()))
        return self.error(404, "no such endpoint")

    # ---- auth ----
    def authorized(self):
        h = self.headers.get("Authorization", "")
        if h:
            self.st.count("authorized_requests")
        if not self.st.args.require_token:
            return True
        if h.startswith("Bearer ") and self.st.token_ok(h[7:]):
            return True
        self.st.count("unauthorized")
        self.error(401, "Anonymous caller does not have storage.objects.get "
                   "access (or the token is invalid or expired).")
        return False

    def metadata_token(self):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.error(403, "missing Metadata-Flavor: Google")
        return self.send(200, self.st.issue(),
                         headers=[("Metadata-Flavor", "Google")])

    def token(self, form):
        def bad(why):
            self.send(400, {"error": "invalid_grant",
                            "error_description": why})
        grant = form.get("grant_type", [""])[0]
        if grant == "refresh_token":
            want = self.st.args.refresh_token
            if (not want or form.get("refresh_token", [""])[0] != want
                    or not form.get("client_id") or
                    not form.get("client_secret")):
                return bad("Bad Request")
            return self.send(200, self.st.issue())
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.send(400, {"error": "unsupported_grant_type"})
        why = self.check_jwt(form.get("assertion", [""])[0])
        if why:
            return bad(why)
        return self.send(200, self.st.issue())

    def check_jwt(self, jwt):
        """None if jwt is a valid service-account assertion, else why."""
        pk = self.st.public_key
        if pk is None:
            return "no service account configured"
        try:
            h64, c64, s64 = jwt.split(".")
            hdr = json.loads(b64url_decode(h64))
            cl = json.loads(b64url_decode(c64))
            sig = b64url_decode(s64)
        except ValueError:
            return "malformed JWT"
        if hdr.get("alg") != "RS256":
            return "alg is not RS256"
        try:
            pk.verify(sig, (h64 + "." + c64).encode(), padding.PKCS1v15(),
                      hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        auds = ["http://%s:%d/token" % (h, self.st.port)
                for h in ("127.0.0.1", "localhost")]
        if cl.get("iss") != self.st.args.sa_email:
            return "iss is not the service account"
        if cl.get("aud") not in auds:
            return "aud is not " + auds[0]
        if not isinstance(cl.get("iat"), int) or not isinstance(
                cl.get("exp"), int):
            return "iat and exp must be integers"
        if cl["exp"] <= now or cl["iat"] > now + 300 or \
                cl["exp"] - cl["iat"] > 3600:
            return "Invalid JWT: Token must be a short-lived token"
        if not set(str(cl.get("scope", "")).split()) & set(SCOPES):
            return "no storage scope"
        return None

    # ---- storage ----
    def bucket_dir(self, bucket):
        if not bucket or "/" in bucket or bucket in (".", ".."):
            return None
        d = os.path.join(self.st.args.root, bucket)
        return d if os.path.isdir(d) else None

    def object_path(self, bdir, name):
        segs = name.split("/")
        if not name or any(s in ("", ".", "..") for s in segs):
            return None
        p = os.path.join(bdir, *segs)
        return p if os.path.isfile(p) else None

    def object(self, bucket, bdir, name, q):
        p = self.object_path(bdir, name)
        try:
            st = os.stat(p) if p else None
        except OSError:
            st = None
        if st is None:
            return self.error(404, "No such object: %s/%s" % (bucket, name))
        gen = str(st.st_mtime_ns)
        etag = '"%s"' % hashlib.md5(gen.encode()).hexdigest()
        want = q.get("ifGenerationMatch")
        if want is not None and want != gen:
            return self.error(412, "At least one of the pre-conditions you "
                              "specified did not hold.")
        if q.get("alt") != "media":
            return self.send(200, {
                "kind": "storage#object", "name": name, "bucket": bucket,
                "size": str(st.st_size), "generation": gen,
                "metageneration": "1", "etag": etag,
                "contentType": "application/octet-stream"})
        return self.media(p, st.st_size, gen, etag)

    def media(self, path, size, gen, etag):
        self.st.count("media_gets")
        fault = self.st.take_fault()
        if fault and fault["mode"] == "status":
            hdrs = [("Retry-After", "1")] if fault["status"] == 429 else []
            return self.error(fault["status"], "injected fault",
                              headers=hdrs)
        code, first, last = 200, 0, size - 1
        rng = self.headers.get("Range")
        if rng:
            try:
                r = parse_range(rng, size)
            except ValueError:
                r = None
            if r is None:
                return self.error(416, "The requested range cannot be "
                                  "satisfied.",
                                  headers=[("Content-Range",
                                            "bytes */%d" % size)])
            code, (first, last) = 206, r
        with open(path, "rb") as f:
            f.seek(first)
            data = f.read(last - first + 1)
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-goog-generation", gen)
        self.send_header("ETag", etag)
        if code == 206:
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (first, last, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault and fault["mode"] in ("drop", "stall"):
            half = len(data) // 2
            self.wfile.write(data[:half])
            self.wfile.flush()
            if fault["mode"] == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            time.sleep(fault["seconds"])
            data = data[half:]
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def listing(self, bdir, q):
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        try:
            page = int(q.get("maxResults") or 1000)
        except ValueError:
            return self.error(400, "bad maxResults")
        page = max(1, min(page, 1000, self.st.args.page_size or 1000))
        after = q.get("pageToken", "")
        if after:
            try:
                after = b64url_decode(after).decode()
            except ValueError:
                return self.error(400, "bad pageToken")
        entries = {}  # name -> size, or None for a prefix
        for dirpath, _, files in os.walk(bdir):
            rel = os.path.relpath(dirpath, bdir)
            for fn in files:
                name = fn if rel == "." else rel + "/" + fn
                if not name.startswith(prefix):
                    continue
                cut = name.find(delim, len(prefix)) if delim else -1
                if cut >= 0:
                    entries[name[:cut + len(delim)]] = None
                else:
                    entries[name] = os.path.getsize(
                        os.path.join(dirpath, fn))
        names = sorted(n for n in entries if n > after)
        out = {"kind": "storage#objects"}
        if len(names) > page:
            names = names[:page]
            out["nextPageToken"] = base64.urlsafe_b64encode(
                names[-1].encode()).decode().rstrip("=")
        items = [n for n in names if entries[n] is not None]
        pfx = [n for n in names if entries[n] is None]
        if items:
            out["items"] = [{"kind": "storage#object", "name": n,
                             "size": str(entries[n])} for n in items]
        if pfx:
            out["prefixes"] = pfx
        return self.send(200, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--page-size", type=int, default=0)
    ap.add_argument("--require-token", action="store_true")
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--sa-email")
    ap.add_argument("--sa-public-key")
    ap.add_argument("--refresh-token")
    ap.add_argument("--watch-stdin", action="store_true")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    srv.state.port = srv.server_address[1]
    print(srv.state.port, flush=True)
    if args.watch_stdin:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
