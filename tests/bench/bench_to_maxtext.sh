#!/bin/sh
# SPDX-License-Identifier: MIT
# The speed and memory of `ckptfs convert --to maxtext`, against the floor of
# the same run: compressing the same bytes with zstd at the same level on
# every core.
#   sh tests/bench/bench_to_maxtext.sh [CKPTFS] [SIZE_MB] [FAMILY]
# CKPTFS  the binary (default build/ckptfs)
# SIZE_MB about how many MiB of bfloat16 weights (default 1024; 256 is quick)
# FAMILY  llama (default) or another family of `ckptfs example --list`
#
# The HF directory is the HF view of `ckptfs example --random` (weight-like
# values, which compress as trained weights do), written to disk by
# `ckptfs convert`.  Both sides run with the HF files in the page cache (read
# once before), so the figures are the computation's, not the disk's.
#
# Figures, one line each: VALUE | BASELINE | ratio | target.
#   convert throughput: tensor bytes / wall time of `convert --to maxtext`
#     (the default: 16 chunks per array, zstd level 3, all cores);
#   floor: the same bytes (the safetensors file) through `zstd -3 -T0`;
#   peak RSS of the convert (getrusage of the child) against the largest
#     source group (the HF tensors of the largest MaxText array) + 128 MiB;
#   mount-to-ready of view=maxtext over an HF directory of 1611 tensors (a
#     Qwen3-MoE example with 64 experts and 8 layers), scanned and
#     unscanned, against 0.3 s (needs FUSE; skipped without it).
set -eu
CK=${1:-build/ckptfs}
MB=${2:-1024}
FAM=${3:-llama}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/ckptfs-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$CK" "$T/ckptfs"
CK=$T/ckptfs

# Llama-shaped example: 8 layers at --scale 1 hold 0.63 MiB; the size grows
# with scale^2.
LAYERS=8
SCALE=$("$PY" -c "import math; print(max(1, round(math.sqrt($MB * 1048576 / 657536))))")
"$CK" example "$T/ex" --family "$FAM" --scale "$SCALE" --layers "$LAYERS" --random \
	--chunks 8 >/dev/null
"$CK" convert "$T/ex" "$T/hf" -o "hf_config=$T/ex/config.json" >/dev/null 2>&1
BYTES=$(stat -c %s "$T"/hf/*.safetensors | awk '{ s += $1 } END { print s }')
cat "$T"/hf/*.safetensors >/dev/null

secs() { "$PY" -c 'import sys, time; print("%.3f" % time.monotonic())'; }
# The floor: the same bytes through zstd -3 on every core.
t0=$(secs)
cat "$T"/hf/*.safetensors | zstd -3 -T0 -q -c >/dev/null
t1=$(secs)
ZS=$("$PY" -c "print($t1 - $t0)")

# The convert, with its peak RSS.
RES=$("$PY" - "$CK" "$T/hf" "$T/out" <<'PYEOF'
import resource, subprocess, sys, time
ck, hf, out = sys.argv[1:]
t = time.monotonic()
subprocess.run([ck, "convert", "--to", "maxtext", hf, out], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("%.3f %d" % (time.monotonic() - t,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))
PYEOF
)
CS=${RES% *}
RSS=${RES#* }
# The largest MaxText array: its HF tensors are the largest source group.
LARGEST=$("$CK" inspect "$T/out" | awk '$2 == "bfloat16" {
	gsub(/[][]/, "", $3); n = split($3, d, ","); b = 2
	for (i = 1; i <= n; i++) b *= d[i]
	if (b > m) m = b } END { print m + 0 }')

mbs() { "$PY" -c "print('%.1f' % ($1 / 1048576 / $2))"; }
mb() { "$PY" -c "print('%.1f' % ($1 / 1048576))"; }
ratio() { "$PY" -c "print('%.3f' % ($1 / $2))"; }
echo "ckptfs convert --to maxtext: $FAM, $(mb "$BYTES") MB of bfloat16 tensors, $(nproc) CPUs"
echo "figure | value | baseline | ratio | target"
echo "throughput | $(mbs "$BYTES" "$CS") MB/s | zstd -3 -T0 of the same bytes: $(mbs "$BYTES" "$ZS") MB/s | $(ratio "$ZS" "$CS") | >= 0.7"
echo "peak RSS | $(mb "$RSS") MB | largest group + 128 MiB = $(mb $((LARGEST + 134217728))) MB | $(ratio "$RSS" $((LARGEST + 134217728))) | <= 1"

if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null; then
	"$CK" example "$T/moe" --family qwen3_moe --experts 64 --layers 8 >/dev/null
	"$CK" convert "$T/moe" "$T/moehf" -o "hf_config=$T/moe/config.json" >/dev/null 2>&1
	mkdir -p "$T/mnt"
	for sl in true false; do
		t0=$(secs)
		"$CK" "$T/moehf" "$T/mnt" -o "view=maxtext,scan_layers=$sl" 2>/dev/null
		t1=$(secs)
		fusermount3 -u "$T/mnt"
		echo "view=maxtext mount-to-ready, 1611 tensors, scan_layers=$sl | $("$PY" -c "print('%.3f' % ($t1 - $t0))") s | 0.3 s | $(ratio "$("$PY" -c "print($t1 - $t0)")" 0.3) | <= 1"
	done
fi
