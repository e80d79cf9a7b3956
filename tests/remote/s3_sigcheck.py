#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An S3 front that checks what s3rver does not: Signature V4 and If-Match.

s3rver serves S3's API but checks neither signatures nor If-Match.  This
front recomputes every request's signature with botocore, an independent
SigV4 implementation (403 SignatureDoesNotMatch on a mismatch, 403
AccessDenied for an unsigned request), answers 412 when an If-Match does not
name the object's current ETag, and forwards the rest to s3rver.

    s3_sigcheck.py UPSTREAM_PORT [--port N] [--key ID:SECRET]...

Port 0 (the default) picks a free port, printed as the first line of
stdout.  The default key is s3rver's own, S3RVER:S3RVER.  At exit it prints
"checked ok=N bad=M" on stderr.
"""
import argparse
import http.client
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/"
                  r"aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$")
SECRETS = {}
UPSTREAM = 0
checked = {"ok": 0, "bad": 0}


def xml_error(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message></Error>' % (code, msg)).encode()


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def verify(self):
        a = self.headers.get("Authorization")
        if not a:
            return 403, xml_error("AccessDenied", "unsigned request")
        m = AUTH.match(a)
        if not m:
            return 400, xml_error("AuthorizationHeaderMalformed", "bad header")
        key, _, region, signed, sig = m.groups()
        if key not in SECRETS:
            return 403, xml_error("InvalidAccessKeyId", "no such key")
        u = urlsplit(self.path)
        hdrs = {h: self.headers.get(h) for h in signed.split(";")}
        url = "http://" + self.headers["Host"] + quote(unquote(u.path), safe="/~")
        req = AWSRequest(method=self.command, url=url, headers=hdrs)
        req.params = parse_qsl(u.query, keep_blank_values=True)
        req.context["timestamp"] = self.headers["x-amz-date"]
        auth = S3SigV4Auth(Credentials(key, SECRETS[key]), "s3", region)
        want = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
        if want != sig:
            checked["bad"] += 1
            return 403, xml_error("SignatureDoesNotMatch",
                                  "The request signature we calculated does not match")
        checked["ok"] += 1
        return None

    def handle_any(self):
        v = self.verify()
        if v:
            return self.reply(*v, headers=[("Content-Type", "application/xml")])
        c = http.client.HTTPConnection("127.0.0.1", UPSTREAM)
        fwd = {k: v for k, v in self.headers.items()
               if k.lower() not in ("authorization", "if-match")}
        im = self.headers.get("If-Match")
        if im is not None:
            c.request("HEAD", self.path.split("?")[0], headers={"Host": self.headers["Host"]})
            r = c.getresponse()
            r.read()
            if r.status == 200 and r.getheader("ETag") != im:
                return self.reply(412, xml_error("PreconditionFailed",
                                                 "At least one of the pre-conditions you specified did not hold"))
        c.request(self.command, self.path, headers=fwd)
        r = c.getresponse()
        body = r.read()
        hs = [(k, v) for k, v in r.getheaders()
              if k.lower() not in ("connection", "keep-alive", "transfer-encoding")]
        self.reply(r.status, body, hs)

    do_GET = do_HEAD = handle_any


def main():
    global UPSTREAM
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream", type=int)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", action="append", default=[])
    a = ap.parse_args()
    UPSTREAM = a.upstream
    for k in a.key or ["S3RVER:S3RVER"]:
        i, s = k.split(":", 1)
        SECRETS[i] = s
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Front)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sys.stderr.write("checked ok=%d bad=%d\n" % (checked["ok"], checked["bad"]))


if __name__ == "__main__":
    main()
