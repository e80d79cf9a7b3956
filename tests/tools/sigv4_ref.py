#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Reference Signature V4 signatures computed by botocore, for test_sigv4.

Reads one JSON request per line on stdin: method, host, path (encoded),
query (encoded, or null), headers ([name, value] pairs), payload_hash,
date (YYYYMMDDTHHMMSSZ), region, service, key, secret; prints the hex
signature botocore computes for each, one per line.  The secret is made by
the test when it runs.
"""
import json
import sys
from urllib.parse import parse_qsl, unquote

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

for line in sys.stdin:
    r = json.loads(line)
    req = AWSRequest(method=r["method"], url="https://" + r["host"] + unquote(r["path"]))
    for k, v in r["headers"]:
        req.headers.add_header(k, v)
    req.params = parse_qsl(r["query"] or "", keep_blank_values=True)
    req.context["timestamp"] = r["date"]
    cls = S3SigV4Auth if r["service"] == "s3" else SigV4Auth
    auth = cls(Credentials(r["key"], r["secret"]), r["service"], r["region"])
    auth.payload = lambda request, h=r["payload_hash"]: h
    creq = auth.canonical_request(req)
    print(auth.signature(auth.string_to_sign(req, creq), req), flush=True)
