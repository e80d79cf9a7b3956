#!/bin/sh
# SPDX-License-Identifier: MIT
# Mixture-of-experts read amplification and throughput, in one run.
#   sh tests/bench/bench_moe.sh [CKPTFS] [LAYERS] [SCALE]
# CKPTFS  the binary (default build/ckptfs; copied)
# LAYERS  layers of each checkpoint (default 24)
# SCALE   --scale of the example (default 1: 64-wide hidden, 32-wide experts)
#
# Checkpoints: `ckptfs example --family qwen3_moe --experts E --layers L
# --chunks 4 --chunk-axis A --random`, E = 128 and 256, scanned ([E, L, D,
# M] expert arrays) and unscanned ([E, D, M] per layer), cut in 4 chunks
# along the expert axis (A = 0) or along the hidden axis (A = -2: every
# chunk then holds a part of every expert).
#
# For each, two caches: the default (which holds the model) and an eighth
# of the served bytes with cache_dir= (batches and a spill).  Two reads on a
# fresh mount, page cache dropped: a front-to-back cat of every shard, and
# the loader order (perf_reads.py loader, one reader).  Printed per line:
# read_amplification (decoded bytes / source bytes; target <= 1.05),
# throughput, and its ratio to the cold floor of the same checkpoint in the
# same run (the slower of the all-core zstd decode of its chunks and the
# cold read of its files), and the daemon's peak RSS.
#
# Needs root (drop_caches, FUSE), fuse3, getfattr, /usr/bin/python3 with
# numpy and python3-zstandard.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CKPTFS_IN=${1:-build/ckptfs}
LAYERS=${2:-24}
SCALE=${3:-1}
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "bench_moe: needs root (drop_caches, FUSE)" >&2; exit 2; }
[ -x "$CKPTFS_IN" ] || { echo "bench_moe: no executable $CKPTFS_IN" >&2; exit 2; }

T=$(mktemp -d /tmp/ckptfs-moe-XXXXXX)
MNT=$T/mnt
PID=
mkdir -p "$MNT"
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || true
	[ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
CK=$T/ckptfs
cp "$CKPTFS_IN" "$CK"

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
kv() { sed -n "s/^$1=//p" "$2"; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
field() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

mount_fg() {
	"$CK" "$1" "$MNT" -f -o "$2" 2>>"$T/daemon.log" &
	PID=$!
	i=0
	while ! grep -q " $MNT fuse" /proc/mounts; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$PID" 2>/dev/null; then
			echo "bench_moe: the mount did not come up (-o $2):" >&2
			tail -5 "$T/daemon.log" >&2
			exit 1
		fi
		sleep 0.05
	done
}
umount_fg() {
	fusermount3 -u "$MNT"
	wait "$PID" || true
	PID=
}

echo "bench_moe: $(nproc) cores, layers $LAYERS, scale $SCALE, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-34s %-24s %-7s %-9s %-9s %-7s %s\n' checkpoint cache read amplif MB/s floor× RSS_MB
for E in 128 256; do
	for layout in scanned unscanned; do
		for axis in 0 -2; do
			EX=$T/ex
			rm -rf "$EX" "$T/plain" "$T/cache"
			flags="--experts $E --layers $LAYERS --scale $SCALE --chunks 4 --chunk-axis $axis --random"
			[ $layout = unscanned ] && flags="$flags --unscanned"
			# shellcheck disable=SC2086
			"$CK" example "$EX" --family qwen3_moe $flags >/dev/null
			base="hf_config=$EX/config.json"
			"$CK" convert "$EX" "$T/plain" -o "$base" >/dev/null 2>&1
			served=$(cat "$T"/plain/*.safetensors | wc -c)
			rm -rf "$T/plain"
			# The cold floor of this checkpoint.
			"$PY" "$HERE/decode_floor.py" "$EX/checkpoints" "$(nproc)" 2 >"$T/dec.kv"
			tdec=$(kv t_allcore "$T/dec.kv")
			drop
			t0=$(now)
			find "$EX/checkpoints" -type f -exec cat {} + >/dev/null
			tdisk=$(calc "%.6f" "$(now) - $t0")
			tfloor=$(awk -v a="$tdec" -v b="$tdisk" 'BEGIN { printf "%.6f", (a > b ? a : b) }')
			name="E=$E $layout, chunks on $([ "$axis" = 0 ] && echo expert || echo hidden)"
			eighth=$((served / 8))
			for cache in default eighth; do
				opts=$base
				label="default (holds the model)"
				if [ $cache = eighth ]; then
					mkdir -p "$T/cache"
					opts="$opts,cache_size=$eighth,cache_dir=$T/cache"
					label="1/8 + cache_dir"
				fi
				for read in cat loader; do
					drop
					mount_fg "$EX" "$opts"
					t0=$(now)
					if [ $read = cat ]; then
						cat "$MNT"/*.safetensors >/dev/null
					else
						"$PY" "$HERE/perf_reads.py" loader "$MNT" 1 >/dev/null
					fi
					secs=$(calc "%.6f" "$(now) - $t0")
					getfattr --absolute-names --only-values -n user.ckptfs.stats "$MNT" >"$T/stats.json"
					rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status")
					umount_fg
					printf '%-34s %-24s %-7s %-9s %-9s %-7s %s\n' "$name" "$label" "$read" \
						"$(calc "%.3f" "$(field "$T/stats.json" read_amplification)")" \
						"$(calc "%.1f" "$served / 1048576 / $secs")" \
						"$(calc "%.3f" "$tfloor / $secs")" "$(calc "%.0f" "$rss / 1024")"
				done
			done
		done
	done
done
echo "(amplif: decoded / source bytes, target <= 1.05; floor×: the cold floor's time /"
echo " this read's time, 1 = as fast as the slower of decode and disk)"
