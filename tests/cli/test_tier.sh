# SPDX-License-Identifier: MIT
# The disk tier (cache_dir=) through real mounts.  With a RAM cache of two
# tensors of the largest layer group: a front-to-back read decodes each
# source chunk once (read amplification 1), writes the tensors to the tier,
# serves the bytes convert writes and keeps the cache within its budget; a
# read that bypasses the page cache is served from memory and the tier
# without decoding; unmount removes the tier's files, cache_dir_keep keeps
# them and a new mount serves from them without decoding anything.  With
# cache_dir=none the same cache decodes a group once per wave of two, within
# ceil(group output / cache_size) for one reader.  With no cache_dir at all
# the default tier (under $HOME/.cache/ckptfs) takes the groups larger than
# the cache: amplification 1 again, its files gone at unmount; reading
# random tensors stores what the cache evicts before the group was read
# whole, and decodes each chunk once.  A bad cache_dir is refused, naming it.
. "$(dirname "$0")/lib.sh"
need_fuse jq getfattr od
mount_tmp
TIER=$TMP/tier
mkdir -p "$TIER"

EX=$TMP/ex
"$CKPTFS" example "$EX" --layers 6 --scale 2 --chunks 4 >/dev/null || not_ok "example"
base="hf_config=$EX/config.json"
"$CKPTFS" convert "$EX" "$TMP/ref" -o "$base" >/dev/null 2>"$TMP/err" ||
	not_ok "convert: $(cat "$TMP/err")"

# The largest tensor, from the safetensors header convert wrote.
largest=0
for f in "$TMP/ref"/*.safetensors; do
	hl=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
	m=$(dd if="$f" bs=1 skip=8 count="$hl" status=none |
		jq '[to_entries[] | select(.key != "__metadata__") |
		     .value.data_offsets[1] - .value.data_offsets[0]] | max')
	[ "$m" -gt "$largest" ] && largest=$m
done
cache=$((2 * largest))
layers=6
echo "# largest tensor $largest bytes, cache_size=$cache, $layers layers"

# read_all: every shard through the mount, compared with convert's.
read_all() {
	same=1
	for f in "$TMP/ref"/*.safetensors; do
		cmp -s "$f" "$MNT/$(basename "$f")" || same=0
	done
	[ $same = 1 ]
}
# read_direct: every shard again with O_DIRECT (past the page cache).
read_direct() {
	for f in "$MNT"/*.safetensors; do
		dd if="$f" of=/dev/null iflag=direct bs=1M status=none 2>/dev/null || return 1
	done
}

# 1. A small cache and a disk tier.
opts="$base,cache_size=$cache,cache_dir=$TIER"
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
	ok "mounted with cache_dir"
else
	not_ok "mount with cache_dir: $(cat "$TMP/err")"
	finish
fi
[ "$(ls "$TIER" | wc -l)" = 1 ] && ok "the tier has its own subdirectory: $(ls "$TIER")" ||
	not_ok "tier directory: $(ls "$TIER")"
read_all && ok "every shard equals convert's" || not_ok "shards differ from convert's"
stats >"$TMP/s1"
jq -e '.bytes_decoded == .source_bytes and .read_amplification == 1' "$TMP/s1" >/dev/null &&
	ok "each chunk decoded once with an eighth-size cache: $(cat "$TMP/s1")" ||
	not_ok "amplification with the tier: $(cat "$TMP/s1")"
jq -e --argjson c "$cache" '.disk_tier_bytes_written > 0 and .cache_peak_bytes <= $c' \
	"$TMP/s1" >/dev/null && ok "tensors written to the tier, the cache within its budget" ||
	not_ok "tier and cache counters: $(cat "$TMP/s1")"
if read_direct; then
	stats >"$TMP/s2"
	jq -e --slurpfile a "$TMP/s1" '.chunk_decodes == $a[0].chunk_decodes and
		.disk_tier_bytes_read > $a[0].disk_tier_bytes_read' "$TMP/s2" >/dev/null &&
		ok "an O_DIRECT re-read decodes nothing, the tier serves it" ||
		not_ok "O_DIRECT re-read: $(cat "$TMP/s1") -> $(cat "$TMP/s2")"
else
	echo "skip O_DIRECT re-read: not supported here"
fi
fusermount3 -u "$MNT"
sleep 0.2
[ -z "$(ls "$TIER")" ] && ok "unmount removed the tier's files" ||
	not_ok "left in the tier: $(ls -R "$TIER" | head -5)"

# 2. cache_dir_keep: the files stay, and a new mount reads from them.
opts="$base,cache_size=$cache,cache_dir=$TIER,cache_dir_keep"
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
	read_all || not_ok "keep: shards differ"
	fusermount3 -u "$MNT"
	sleep 0.2
	n=$(find "$TIER" -name '*.t' | wc -l)
	[ "$n" -gt 0 ] && ok "cache_dir_keep: $n tensor files kept" ||
		not_ok "cache_dir_keep: no files kept"
else
	not_ok "mount with cache_dir_keep: $(cat "$TMP/err")"
fi
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
	if read_direct; then
		stats >"$TMP/s3"
		jq -e '.chunk_decodes == 0 and .disk_tier_bytes_read > 0' "$TMP/s3" >/dev/null &&
			ok "a new mount serves the kept tier without decoding" ||
			not_ok "kept tier: $(cat "$TMP/s3")"
	fi
	read_all && ok "and its bytes equal convert's" || not_ok "kept tier: shards differ"
	fusermount3 -u "$MNT"
else
	not_ok "second mount with cache_dir_keep: $(cat "$TMP/err")"
fi
rm -rf "${TIER:?}"/*

# 3. The same cache without a tier: one decode of a group per wave, for
# one reader reading front to back (O_DIRECT: one request at a time; the
# kernel's readahead would ask for tensors of several waves at once).
opts="$base,cache_size=$cache,cache_dir=none"
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
	read_direct || not_ok "no tier: O_DIRECT read failed"
	stats >"$TMP/s4"
	read_all && ok "no tier: every shard equals convert's" || not_ok "no tier: shards differ"
	bound=$(( (layers * largest + cache - 1) / cache ))
	jq -e --argjson b "$bound" '.read_amplification > 1 and .read_amplification <= $b' \
		"$TMP/s4" >/dev/null &&
		ok "no tier: amplification $(jq .read_amplification "$TMP/s4"), within $bound" ||
		not_ok "no tier: amplification $(jq .read_amplification "$TMP/s4"), bound $bound"
	fusermount3 -u "$MNT"
else
	not_ok "mount without tier: $(cat "$TMP/err")"
fi

# 4. No cache_dir: the default tier, in $HOME/.cache/ckptfs.
export HOME=$TMP/home
unset XDG_CACHE_HOME
mkdir -p "$HOME"
opts="$base,cache_size=$cache"
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
	n=$(find "$HOME/.cache/ckptfs" -mindepth 1 -maxdepth 1 -name 'ckptfs-*' -type d | wc -l)
	[ "$n" = 1 ] && ok "default tier: a directory under \$HOME/.cache/ckptfs" ||
		not_ok "default tier: $n directories under $HOME/.cache/ckptfs"
	read_direct || not_ok "default tier: O_DIRECT read failed"
	stats >"$TMP/s5"
	read_all && ok "default tier: every shard equals convert's" || not_ok "default tier: shards differ"
	jq -e '.read_amplification == 1 and .disk_tier_bytes_written > 0' "$TMP/s5" >/dev/null &&
		ok "default tier: amplification 1, $(jq .disk_tier_bytes_written "$TMP/s5") bytes in the tier" ||
		not_ok "default tier: $(cat "$TMP/s5")"
	fusermount3 -u "$MNT"
	for _ in $(seq 100); do
		[ -z "$(find "$HOME/.cache/ckptfs" -mindepth 1)" ] && break
		sleep 0.05
	done
	[ -z "$(find "$HOME/.cache/ckptfs" -mindepth 1)" ] && ok "default tier: removed at unmount" ||
		not_ok "default tier: left $(find "$HOME/.cache/ckptfs" -mindepth 1 | head -3)"
else
	not_ok "mount with the default tier: $(cat "$TMP/err")"
fi
# Random tensors, each read whole once or more, in an order that leaves
# every group partly read while the cache turns over: with the default
# tier the source is decoded at most 1.5 times over (what the cache evicts
# once a group has been read whole is not kept); with cache_dir=none the
# same reads decode more.
random_reads() {
	"$PY" - "$MNT" "$TMP/ref" <<'PYEOF'
import json, os, random, struct, sys
mnt, ref = sys.argv[1], sys.argv[2]
rnd = random.Random(7)
for f in sorted(os.listdir(ref)):
    if not f.endswith(".safetensors"):
        continue
    want = open(os.path.join(ref, f), "rb").read()
    (hl,) = struct.unpack("<Q", want[:8])
    hdr = json.loads(want[8:8 + hl])
    hdr.pop("__metadata__", None)
    names = sorted(hdr)
    fd = os.open(os.path.join(mnt, f), os.O_RDONLY | os.O_DIRECT)
    for name in [rnd.choice(names) for _ in range(3 * len(names))]:
        a, b = hdr[name]["data_offsets"]
        got = os.pread(fd, b - a, 8 + hl + a)
        if got != want[8 + hl + a:8 + hl + b]:
            sys.exit("%s differs" % name)
    os.close(fd)
PYEOF
}
for mode in default none; do
	o="$opts"
	[ $mode = none ] && o="$opts,cache_dir=none"
	if "$CKPTFS" "$EX" "$MNT" -o "$o" 2>"$TMP/err" && mounted; then
		random_reads || not_ok "random reads, tier $mode"
		stats >"$TMP/r.$mode"
		fusermount3 -u "$MNT"
	else
		not_ok "mount, tier $mode: $(cat "$TMP/err")"
	fi
done
jq -e '.read_amplification <= 1.5' "$TMP/r.default" >/dev/null &&
	ok "random reads, default tier: amplification $(jq .read_amplification "$TMP/r.default")" ||
	not_ok "random reads, default tier: amplification $(jq .read_amplification "$TMP/r.default")"
jq -e --slurpfile d "$TMP/r.default" '.bytes_decoded > $d[0].bytes_decoded' "$TMP/r.none" >/dev/null &&
	ok "random reads, cache_dir=none: amplification $(jq .read_amplification "$TMP/r.none")" ||
	not_ok "random reads, cache_dir=none decoded no more than the default tier"

# 5. A cache_dir that is not there: one line naming it.
expect_fail "missing cache_dir" "cache_dir=$TMP/nonexistent" \
	"$CKPTFS" "$EX" "$MNT" -o "$base,cache_dir=$TMP/nonexistent"
mounted && fusermount3 -u "$MNT"
finish
