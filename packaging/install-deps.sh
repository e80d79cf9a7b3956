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
	python3-numpy python3-zstandard attr jq valgrind \
	debhelper dpkg-dev lintian man-db groff-base >/dev/null
