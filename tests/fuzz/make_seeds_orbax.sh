#!/bin/sh
# SPDX-License-Identifier: MIT
# Seed corpora for the Orbax metadata and aggregate targets, derived at run
# time from the real fixtures into OUT/<target>/.
#   sh tests/fuzz/make_seeds_orbax.sh OUT
set -eu
out=$1
fix=${CKPTFS_REAL_FIXTURES:-../shared/fixtures/real}
[ -d "$fix" ] || { echo "no fixtures at $fix: no derived seeds"; exit 0; }
mkdir -p "$out/orbax_meta" "$out/orbax_aggregate"
i=0
for f in $(find "$fix" -name _METADATA -o -name _CHECKPOINT_METADATA | sort | head -40); do
	i=$((i + 1))
	cp "$f" "$out/orbax_meta/seed$i"
done
i=0
for f in $(find "$fix/orbax-legacy-aggregate" -name checkpoint -type f | sort); do
	i=$((i + 1))
	cp "$f" "$out/orbax_aggregate/seed$i"
done
