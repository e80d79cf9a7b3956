#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An S3 front that checks what s3rver does not: Signature V4 and If-Match.

s3rver serves S3's API but checks neither signatures nor If-Match.  This
front recomputes every signed request's signature with botocore, an
independent SigV4 implementation (403 SignatureDoesNotMatch on a mismatch,
403 InvalidAccessKeyId for an unknown key), answers 412 when an If-Match
does not name the object's current ETag, and forwards the rest to s3rver
over one kept-alive connection per client connection.

    s3_sigcheck.py UPSTREAM_URL [--log FILE] [--allow-anonymous]
                   [--key ID:SECRET]...

It listens on a free port of 127.0.0.1, printed as the first line of stdout.
The default key is s3rver's own, S3RVER:S3RVER.  Unsigned requests are
refused (403 AccessDenied) unless --allow-anonymous.  Each refused request
is one line of the --log file: "METHOD PATH: CODE: why".
"""
import argparse
import http.client
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/"
                  r"aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$")
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
       "transfer-encoding", "upgrade"}
KEYS = {}
OPTS = None
LOG = None


def xml_error(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message></Error>' % (code, msg)).encode()


def check(method, raw, headers, body):
    """None if the request may pass, else (status, code, why)."""
    a = headers.get("Authorization")
    if a is None:
        return None if OPTS.allow_anonymous else (403, "AccessDenied", "unsigned")
    m = AUTH.match(a)
    if not m:
        return 400, "AuthorizationHeaderMalformed", a.split("Signature=")[0]
    key, _, region, signed, sig = m.groups()
    if key not in KEYS:
        return 403, "InvalidAccessKeyId", key
    for h in ("host", "x-amz-date", "x-amz-content-sha256"):
        if h not in signed.split(";"):
            return 403, "AccessDenied", h + " is not signed"
    u = urllib.parse.urlsplit(raw)
    hdrs = {h: headers.get(h) for h in signed.split(";")}
    url = "http://" + headers["Host"] + urllib.parse.quote(
        urllib.parse.unquote(u.path), safe="/~")
    req = AWSRequest(method=method, url=url, headers=hdrs, data=body)
    req.params = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    req.context["timestamp"] = headers["x-amz-date"]
    auth = S3SigV4Auth(Credentials(key, KEYS[key]), "s3", region)
    creq = auth.canonical_request(req)
    if auth.signature(auth.string_to_sign(req, creq), req) != sig:
        return 403, "SignatureDoesNotMatch", "canonical request %r" % creq
    return None


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # else 40 ms a request (delayed ACKs)
    conn = None

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def upstream(self, method, path, headers, body):
        up = urllib.parse.urlsplit(OPTS.upstream)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(up.hostname, up.port,
                                                       timeout=120)
            try:
                self.conn.putrequest(method, path, skip_host=True,
                                     skip_accept_encoding=True)
                for k, v in headers:
                    self.conn.putheader(k, v)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                r = self.conn.getresponse()
                return r, r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        bad = check(self.command, self.path, self.headers, body)
        if bad:
            if LOG:
                LOG.write("%s %s: %s: %s\n" % (self.command, self.path, bad[1], bad[2]))
            return self.reply(bad[0], xml_error(bad[1], "refused by the test front"),
                              [("Content-Type", "application/xml")])
        fwd = [(k, v) for k, v in self.headers.items()
               if k.lower() not in HOP and k.lower() not in ("content-length", "if-match")]
        try:
            im = self.headers.get("If-Match")
            if im is not None:
                r, _ = self.upstream("HEAD", self.path.split("?")[0],
                                     [("Host", self.headers["Host"])], None)
                if r.status == 200 and r.getheader("ETag") != im:
                    return self.reply(412, xml_error(
                        "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold"),
                        [("Content-Type", "application/xml")])
            r, data = self.upstream(self.command, self.path, fwd, body)
        except (OSError, http.client.HTTPException):
            return self.reply(502)
        hs = [(k, v) for k, v in r.getheaders()
              if k.lower() not in HOP and k.lower() != "content-length"]
        if self.command == "HEAD":
            self.send_response_only(r.status, r.reason)
            for k, v in hs:
                self.send_header(k, v)
            self.send_header("Content-Length", r.getheader("Content-Length", "0"))
            self.end_headers()
            return
        self.send_response_only(r.status, r.reason)
        for k, v in hs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any


def main():
    global OPTS, LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("--log")
    ap.add_argument("--allow-anonymous", action="store_true")
    ap.add_argument("--key", action="append", default=[])
    OPTS = ap.parse_args()
    for k in OPTS.key or ["S3RVER:S3RVER"]:
        i, s = k.split(":", 1)
        KEYS[i] = s
    if OPTS.log:
        LOG = open(OPTS.log, "a", buffering=1)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
