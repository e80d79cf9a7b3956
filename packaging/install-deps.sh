#!/bin/sh
# SPDX-License-Identifier: MIT
# Install what ckptfs needs to build and test on Debian 12 (run as root),
# and to build its Debian package (packaging/build-deb.sh).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config clang llvm \
	libfuse3-dev fuse3 libcjson-dev libzstd-dev liblz4-dev zlib1g-dev \
	libblosc-dev check zstd \
	libcurl4-openssl-dev libssl-dev libxml2-dev \
	nginx-light iproute2 python3-cryptography python3-boto3 ca-certificates openssl \
	python3-numpy python3-zstandard attr jq valgrind \
	debhelper dpkg-dev lintian man-db groff-base >/dev/null
# The S3 tests run s3rver from npm: Debian's node and npm, unless a node
# with its own npm is installed already.
if ! command -v npm >/dev/null 2>&1; then
	apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
