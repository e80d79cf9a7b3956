#!/bin/sh
# SPDX-License-Identifier: MIT
# Seed corpora for the zarr metadata and shard index targets, derived at run
# time from the real fixtures into OUT/<target>/.
#   sh tests/fuzz/make_seeds_zarr.sh OUT
# fuzz_zarr_meta inputs are one selector byte (odd: zarr v3, even: v2) and
# the metadata text; fuzz_zarr_shard inputs are two configuration bytes
# (inner chunk count - 1; bit 0 index at start, bit 1 big endian, bit 2 no
# crc32c) and the shard value.
set -eu
out=$1
fix=${CKPTFS_REAL_FIXTURES:-../shared/fixtures/real}
[ -d "$fix" ] || { echo "no fixtures at $fix: no derived seeds"; exit 0; }
mkdir -p "$out/zarr_meta" "$out/zarr_shard"
i=0
for f in $(find "$fix" -name zarr.json -type f | sort | head -20); do
	i=$((i + 1))
	{ printf '\001'; cat "$f"; } >"$out/zarr_meta/v3_$i"
done
i=0
for f in $(find "$fix" -name .zarray -type f | sort | head -20); do
	i=$((i + 1))
	{ printf '\000'; cat "$f"; } >"$out/zarr_meta/v2_$i"
done
# The zarrs shards: 2 inner chunks, index at the end, little endian, crc32c.
i=0
for f in $(find "$fix/zarrs-sharded" -path '*/c/*' -type f | sort); do
	i=$((i + 1))
	{ printf '\001\000'; cat "$f"; } >"$out/zarr_shard/zarrs_$i"
done
