# SPDX-License-Identifier: MIT
# `ckptfs convert` writes each tensor once, a group of siblings at a time,
# and keeps nothing it wrote: its files equal what a mount serves; with a
# cache_size smaller than a group, the group is computed in batches, each
# chunk decoded once through a spill in the disk tier (read_amplification
# 1) or once per batch without one (cache_dir=none), the bytes the same
# either way; its peak memory stays near the largest group's output
# whatever cache_size is (here 4 GiB for a 91 MB model); the values equal
# numpy's; an existing output file is refused in one line naming it.
. "$(dirname "$0")/lib.sh"
need_fuse jq
mount_tmp

EX=$TMP/ex
"$CKPTFS" example "$EX" --scale 12 --layers 8 --chunks 4 --random >/dev/null ||
	not_ok "example"
base="hf_config=$EX/config.json"
# The largest group: an MLP array of all 8 layers, 768 x 1536 bf16 each.
group=$((768 * 1536 * 2 * 8))
each=$((768 * 1536 * 2))

conv() { # conv OUT OPTS: convert with --stats into $TMP/OUT, stats in OUT.json
	rm -rf "${TMP:?}/$1"
	"$CKPTFS" convert "$EX" "$TMP/$1" --stats -o "$base${2:+,$2}" >"$TMP/$1.json" \
		2>"$TMP/err" || { not_ok "convert $2: $(cat "$TMP/err")"; return 1; }
}
amp() { jq -r .read_amplification "$TMP/$1.json"; }
one() { awk -v a="$(amp "$1")" 'BEGIN { exit !(a == 1) }'; }

conv ref "" && ok "convert at the defaults: amplification $(amp ref)"
one ref || not_ok "defaults: amplification $(amp ref), want 1"

# The mount serves the same bytes.
if "$CKPTFS" "$EX" "$MNT" -o "$base" 2>"$TMP/err"; then
	same=1
	for f in "$TMP/ref"/*; do
		cmp -s "$f" "$MNT/$(basename "$f")" || { same=0; echo "# differs: $f"; }
	done
	[ "$(ls "$TMP/ref" | wc -l)" = "$(ls "$MNT" | wc -l)" ] || same=0
	[ $same = 1 ] && ok "every file equals the mount's" ||
		not_ok "convert and the mount differ"
	fusermount3 -u "$MNT"
else
	not_ok "mount: $(cat "$TMP/err")"
fi

# Batches of three layers: with a spill each chunk is decoded once.
mkdir -p "$TMP/tier"
small=$((3 * each))
if conv spill "cache_size=$small,cache_dir=$TMP/tier"; then
	diff -r "$TMP/ref" "$TMP/spill" >/dev/null && ok "batches with a spill: same bytes" ||
		not_ok "batches with a spill: bytes differ"
	one spill && ok "batches with a spill: amplification 1" ||
		not_ok "batches with a spill: amplification $(amp spill)"
fi
if conv nospill "cache_size=$small,cache_dir=none"; then
	diff -r "$TMP/ref" "$TMP/nospill" >/dev/null && ok "batches without a tier: same bytes" ||
		not_ok "batches without a tier: bytes differ"
	# 3 batches of an 8-layer group: each decodes its box, at most the
	# whole group each time.
	a=$(amp nospill)
	awk -v a="$a" 'BEGIN { exit !(a > 1 && a <= 3) }' &&
		ok "batches without a tier: amplification $a, in (1, 3]" ||
		not_ok "batches without a tier: amplification $a, want in (1, 3]"
fi

# Peak memory: the largest group plus the program, not the cache_size.
if [ -n "${CKPT_VG_BIN:-}" ] || ldd "$CKPTFS" 2>/dev/null | grep -q 'libasan\|libtsan'; then
	echo "# under valgrind or a sanitizer: memory not measured"
else
	rm -rf "$TMP/big"
	rss=$("$PY" - "$CKPTFS" "$EX" "$TMP/big" "$base,cache_size=4GiB" <<'PYEOF'
import resource, subprocess, sys
ck, ex, out, opts = sys.argv[1:]
subprocess.run([ck, "convert", ex, out, "-o", opts], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
PYEOF
)
	limit=$((group + (32 << 20)))
	if [ -n "$rss" ] && [ "$rss" -le "$limit" ]; then
		ok "cache_size=4GiB: peak RSS $rss bytes <= largest group $group + 32 MiB"
	else
		not_ok "cache_size=4GiB: peak RSS ${rss:-?} bytes, want <= $limit"
	fi
	diff -r "$TMP/ref" "$TMP/big" >/dev/null || not_ok "cache_size=4GiB: bytes differ"
fi

# The values themselves, against numpy's independent computation
# (tools/verify_example.py): a Llama at --scale 2 (queries scaled and
# regrouped, keys regrouped: the transposes through a permutation), in
# batches of two layers through a spill.
if "$PY" -c 'import numpy' 2>/dev/null; then
	"$CKPTFS" example "$TMP/ex2" --scale 2 --layers 4 --chunks 4 >/dev/null
	# MLP layers of 128 x 256 bfloat16: two per batch
	if "$CKPTFS" convert "$TMP/ex2" "$TMP/v2" --stats \
		-o "hf_config=$TMP/ex2/config.json,cache_size=$((2 * 128 * 256 * 2)),cache_dir=$TMP/tier" \
		>"$TMP/v2.json" 2>"$TMP/err" && one v2 &&
		"$PY" "$(dirname "$0")/../tools/verify_example.py" "$TMP/v2" >"$TMP/out" 2>&1; then
		ok "values in batches, amplification 1: $(cat "$TMP/out")"
	else
		not_ok "values in batches: $(cat "$TMP/err" "$TMP/out" "$TMP/v2.json")"
	fi
fi

expect_fail "an existing output file is refused" "config.json.*(exists|File exists)" \
	"$CKPTFS" convert "$EX" "$TMP/ref" -o "$base"
finish
