#!/bin/sh
# SPDX-License-Identifier: MIT
# Memory and read speed of a mount, with a same-run baseline.
#   sh tests/bench/bench_rss.sh [path/to/ckptfs] [SCALE] [LAYERS] [CACHE]
# Writes a Llama-shaped example checkpoint (`ckptfs example --scale SCALE
# --layers LAYERS`, bfloat16, scanned), mounts it in the foreground with
# cache_size=CACHE (default 16MiB), reads every file front to back with cat,
# and prints one line per figure:
#   - the daemon's peak RSS (VmHWM) against the bound cache_size + 64 MiB;
#   - the cold read throughput through the mount, against `cat` of the
#     convert output (the same bytes, already in the page cache);
#   - the warm re-read through the mount (kernel page cache), same baseline.
set -eu
CKPTFS=${1:-build/ckptfs}
SCALE=${2:-16}
LAYERS=${3:-8}
CACHE=${4:-16MiB}
T=$(mktemp -d /tmp/ckptfs-bench-XXXXXX)
MNT=$T/mnt
mkdir -p "$MNT"
trap 'fusermount3 -u "$MNT" 2>/dev/null; rm -rf "$T"' EXIT

now() { date +%s.%N; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

"$CKPTFS" example "$T/ex" --scale "$SCALE" --layers "$LAYERS" >/dev/null
opts="hf_config=$T/ex/config.json,cache_size=$CACHE"
"$CKPTFS" convert "$T/ex" "$T/conv" -o "$opts" 2>/dev/null
bytes=$(cat "$T"/conv/* | wc -c)

# Baseline: cat of the same bytes from the page cache (read twice, time the
# second).
cat "$T"/conv/* >/dev/null
t0=$(now); cat "$T"/conv/* >/dev/null; t1=$(now)
base=$(awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / 1048576 / (z - a) }')

"$CKPTFS" "$T/ex" "$MNT" -f -o "$opts" 2>"$T/log" &
pid=$!
for _ in $(seq 100); do
	grep -q " $MNT fuse.ckptfs " /proc/mounts && break
	sleep 0.1
done
t0=$(now); cat "$MNT"/* >/dev/null; t1=$(now)
cold=$(awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / 1048576 / (z - a) }')
t0=$(now); cat "$MNT"/* >/dev/null; t1=$(now)
warm=$(awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / 1048576 / (z - a) }')
hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
same=yes
for f in "$MNT"/*; do cmp -s "$f" "$T/conv/$(basename "$f")" || same=no; done
fusermount3 -u "$MNT"
wait "$pid" || true

cache_b=$(awk -v c="$CACHE" 'BEGIN { n = c + 0; u = c; sub(/^[0-9.]+/, "", u);
	m = (u == "MiB") ? 1048576 : (u == "GiB") ? 1073741824 : (u == "KiB") ? 1024 : 1;
	printf "%d", n * m }')
bound=$((cache_b + 64 * 1048576))
hwm=$((hwm_kb * 1024))
echo "checkpoint: $(mib "$bytes") MiB served, $("$CKPTFS" inspect "$T/ex" | tail -1)"
echo "peak RSS: $(mib $hwm) MiB; bound cache_size + 64 MiB = $(mib $bound) MiB; ratio $(awk -v a=$hwm -v b=$bound 'BEGIN { printf "%.2f", a / b }') ($( [ $hwm -le $bound ] && echo within || echo OVER))"
echo "cold read: $cold MiB/s; page-cache cat baseline $base MiB/s; ratio $(awk -v a="$cold" -v b="$base" 'BEGIN { printf "%.3f", a / b }')"
echo "warm re-read: $warm MiB/s; baseline $base MiB/s; ratio $(awk -v a="$warm" -v b="$base" 'BEGIN { printf "%.3f", a / b }')"
echo "mount bytes equal convert output: $same"
