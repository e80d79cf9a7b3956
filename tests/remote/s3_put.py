#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Upload a local directory tree to an S3 endpoint, for the s3:// tests.

    /usr/bin/python3 tests/remote/s3_put.py ENDPOINT BUCKET SRC_DIR [PREFIX]

Each file SRC_DIR/REL becomes the object PREFIX/REL (REL alone without a
PREFIX), path-style at ENDPOINT (e.g. http://127.0.0.1:4568, an s3rver or
MinIO).  The bucket is created if it does not exist.  The credentials are
boto3's usual ones (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or a
profile); the region is AWS_REGION or us-east-1.  Symlinks are followed;
empty directories are not uploaded (S3 has none).
"""
import os
import sys

import boto3
import botocore.config
import botocore.exceptions


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 2
    endpoint, bucket, src = argv[1], argv[2], argv[3]
    prefix = argv[4].strip("/") if len(argv) == 5 else ""
    if not os.path.isdir(src):
        sys.stderr.write(f"s3_put: {src}: not a directory\n")
        return 1
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                      config=botocore.config.Config(s3={"addressing_style": "path"},
                                                    retries={"max_attempts": 3}))
    try:
        s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError:
        kw = {}
        if region != "us-east-1":
            kw["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(Bucket=bucket, **kw)
    n = size = 0
    for root, dirs, files in os.walk(src, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            key = f"{prefix}/{rel}" if prefix else rel
            s3.upload_file(path, bucket, key)
            n += 1
            size += os.path.getsize(path)
    print(f"s3_put: {n} files, {size} bytes to s3://{bucket}/{prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
