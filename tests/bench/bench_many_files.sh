#!/bin/sh
# SPDX-License-Identifier: MIT
# Checkpoints with many OCDBT data files, against the same arrays written
# compactly, in one run.
#   sh tests/bench/bench_many_files.sh [CKPTFS] [LAYERS]
# CKPTFS  the binary (default build/ckptfs; copied first)
# LAYERS  layers of the unscanned Llama (default 10: about 2,700 data files,
#         every chunk in its own; 20 makes about 5,400)
#
# Prints, for the many-file checkpoint and for the compact one (one data
# file), each with the default descriptor limit and with `ulimit -n 256`
# (the store then keeps 64 open and reopens the rest):
#   - mount-to-ready, warm page cache (median of 5) and cold (page cache
#     dropped before each, median of 3), against the 0.3 s target;
#   - a cold `cat` of the whole safetensors file, over the disk floor of
#     the same run (a cold `cat` of that checkpoint's source files: many
#     small files are slower to read from disk whoever reads them), and the
#     many-file time over the compact one;
#   - the daemon's peak RSS after that read (VmHWM).
# Needs root (drop_caches, FUSE), fuse3 and /usr/bin/python3.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CKPTFS_IN=${1:-build/ckptfs}
LAYERS=${2:-10}
PY=/usr/bin/python3
[ "$(id -u)" = 0 ] || { echo "bench_many_files: needs root" >&2; exit 2; }
T=$(mktemp -d /tmp/ckptfs-many-XXXXXX)
MNT=$T/mnt
PID=
mkdir -p "$MNT"
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || true
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
CK=$T/ckptfs
cp "$CKPTFS_IN" "$CK"
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ARGS="--unscanned --layers $LAYERS --chunks 64 --scale 4 --random"
"$CK" example "$T/many" $ARGS --data-file-bytes 1 >/dev/null
"$CK" example "$T/compact" $ARGS >/dev/null
echo "== ckptfs: checkpoints with many data files"
echo "machine: $(nproc) cores, kernel $(uname -r); default soft limit $(ulimit -n) descriptors"
echo "checkpoint: ckptfs example $ARGS"
echo "  many:    --data-file-bytes 1: $(find "$T/many" -path '*/d/*' -type f | wc -l) data files, $(du -sm "$T/many" | cut -f1) MB"
echo "  compact: $(find "$T/compact" -path '*/d/*' -type f | wc -l) data files, $(du -sm "$T/compact" | cut -f1) MB"

# ready NAME LIMIT COLD: seconds from start to config.json readable.
ready() {
	[ "$3" = cold ] && drop
	(ulimit -n "$2" && exec "$PY" "$HERE/perf_reads.py" ready "$CK" "$T/$1" "$MNT" \
		"hf_config=$T/$1/config.json" 1) | sed -n 's/^median_s=//p'
}
# catread NAME LIMIT: cold read of the whole file; prints "SECONDS RSS_KB".
catread() {
	drop
	(ulimit -n "$2" && exec "$CK" "$T/$1" "$MNT" -f -o "hf_config=$T/$1/config.json") 2>/dev/null &
	PID=$!
	i=0
	until grep -q " $MNT fuse.ckptfs " /proc/mounts; do
		i=$((i + 1))
		[ $i -lt 400 ] || { echo "mount failed" >&2; exit 1; }
		sleep 0.025
	done
	t0=$(now)
	cat "$MNT"/*.safetensors >/dev/null
	t1=$(now)
	rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$PID/status)
	fusermount3 -u "$MNT"
	wait "$PID" || true
	PID=
	echo "$(calc "%.4f" "$t1 - $t0") $rss"
}

floor() { # cold cat of the checkpoint's source files
	drop
	t0=$(now)
	find "$T/$1/checkpoints" -type f -exec cat {} + >/dev/null
	t1=$(now)
	calc "%.4f" "$t1 - $t0"
}
floor_compact=$(floor compact)
floor_many=$(floor many)
echo "  disk floor (cold cat of the source files): compact $floor_compact s, many $floor_many s"
echo
printf '%-26s %12s %12s %10s %10s %12s %10s\n' "" "ready warm" "ready cold" "cat cold" "cat/floor" "cat/compact" "peak RSS"
for lim in default 256; do
	l=$([ $lim = default ] && ulimit -n || echo $lim)
	base=
	for c in compact many; do
		w=$(for _ in 1 2 3 4 5; do ready $c "$l" warm; done | median)
		k=$(for _ in 1 2 3; do ready $c "$l" cold; done | median)
		set -- $(catread $c "$l")
		[ -n "$base" ] || base=$1
		eval "fl=\$floor_$c"
		printf '%-26s %10s s %10s s %8s s %10s %12s %7s MB\n' "$c, ulimit -n $l" "$w" "$k" "$1" \
			"$(calc "%.2f" "$1 / $fl")" "$(calc "%.2f" "$1 / $base")" "$(calc "%.1f" "$2 / 1024")"
		eval "ready_${c}_${lim}=$k"
	done
done
echo
for lim in default 256; do
	eval "r=\$ready_many_$lim"
	v=$(awk -v r="$r" 'BEGIN { print (r <= 0.3) ? "ok" : "MISS" }')
	echo "mount-to-ready, many data files, cold, ulimit -n $lim: $r s, target <= 0.300 s: $v"
done
