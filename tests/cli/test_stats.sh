# SPDX-License-Identifier: MIT
# The counters of a real FUSE mount, read while mounted through the root's
# user.ckptfs.stats xattr: one line of JSON with the documented fields;
# bytes_served counts exactly what read() returned on the shards; a read
# decodes source chunks and loads tensors; source_bytes agrees with
# `inspect --json`; the kernel's page cache and the tensor cache keep later
# reads from decoding again; the xattr is listed on the root only; and
# `convert --stats` prints the same counters.
. "$(dirname "$0")/lib.sh"
need_fuse jq getfattr
mount_tmp

# field NAME: one counter now.
field() { stats | jq -r ".$1"; }

fields='bytes_served bytes_decoded chunk_decodes cache_hits cache_misses
cache_evictions cache_bytes cache_peak_bytes disk_tier_bytes_written
disk_tier_bytes_read tensor_loads read_amplification source_bytes
remote_requests remote_bytes_fetched remote_retries remote_failures'

EX=$TMP/ex
"$CKPTFS" example "$EX" >/dev/null || not_ok "example"
# The uncompressed size of every source array, as inspect reports it (the
# example's mapping uses them all).
src_bytes=$("$CKPTFS" inspect "$EX" --json | jq '[.arrays[].nbytes] | add')
ntensors=0

# A cache that holds the whole model: each tensor is computed once.
opts="hf_config=$EX/config.json,shard_size=60KB"
if "$CKPTFS" "$EX" "$MNT" -o "$opts" 2>"$TMP/err" && mounted; then
	ok "mounted"
else
	not_ok "mount failed: $(cat "$TMP/err")"
	finish
fi

# Before any read: valid JSON, one line, every field a number, nothing served.
stats >"$TMP/s0"
if [ "$(wc -l <"$TMP/s0")" -le 1 ] && jq -e . "$TMP/s0" >/dev/null 2>&1; then
	ok "stats parse as one line of JSON: $(cat "$TMP/s0")"
else
	not_ok "stats: $(cat "$TMP/s0")"
fi
want=$(echo $fields | tr ' ' '\n' | sort | tr '\n' ' ')
got=$(jq -r 'keys[]' "$TMP/s0" | sort | tr '\n' ' ')
[ "$got" = "$want" ] && ok "the fields are exactly the documented ones" ||
	not_ok "fields: $got (want $want)"
jq -e '[.[] | type == "number"] | all' "$TMP/s0" >/dev/null &&
	ok "every field is a number" || not_ok "a field is not a number"
jq -e '.bytes_served == 0 and .chunk_decodes == 0 and .tensor_loads == 0' \
	"$TMP/s0" >/dev/null && ok "nothing served or decoded before a read" ||
	not_ok "counters before a read: $(cat "$TMP/s0")"
jq -e '.disk_tier_bytes_written == 0 and .disk_tier_bytes_read == 0' \
	"$TMP/s0" >/dev/null && ok "disk tier fields present, 0" ||
	not_ok "disk tier fields"
[ "$(jq .source_bytes "$TMP/s0")" = "$src_bytes" ] &&
	ok "source_bytes $src_bytes: the sum of inspect's nbytes" ||
	not_ok "source_bytes $(jq .source_bytes "$TMP/s0"), inspect says $src_bytes"

# Reading the config and the index serves no shard bytes.
cat "$MNT/config.json" "$MNT/model.safetensors.index.json" >/dev/null
[ "$(field bytes_served)" = 0 ] && ok "config.json and the index count nothing" ||
	not_ok "bytes_served after config.json: $(field bytes_served)"

# Read every shard once: bytes_served is the sum of their sizes.
total=0
for f in "$MNT"/model-*.safetensors; do
	total=$((total + $(stat -c %s "$f")))
done
cat "$MNT"/model-*.safetensors >/dev/null
stats >"$TMP/s1"
[ "$(jq .bytes_served "$TMP/s1")" = "$total" ] &&
	ok "bytes_served $total: the shards' total size" ||
	not_ok "bytes_served $(jq .bytes_served "$TMP/s1"), the shards hold $total"
jq -e '.chunk_decodes > 0 and .bytes_decoded > 0 and .cache_misses > 0 and
	.tensor_loads > 0 and .cache_peak_bytes >= .cache_bytes' "$TMP/s1" >/dev/null &&
	ok "the read decoded chunks and loaded tensors: $(cat "$TMP/s1")" ||
	not_ok "counters after a read: $(cat "$TMP/s1")"
jq -e '.remote_requests == 0 and .remote_bytes_fetched == 0' "$TMP/s1" >/dev/null &&
	ok "a local source makes no remote request" ||
	not_ok "remote counters of a local source: $(cat "$TMP/s1")"
ntensors=$(jq '.weight_map | length' "$MNT/model.safetensors.index.json")
jq -e --argjson n "$ntensors" '.tensor_loads == $n and .cache_evictions == 0' \
	"$TMP/s1" >/dev/null &&
	ok "a cache holding the model computes each of the $ntensors tensors once" ||
	not_ok "tensor_loads $(jq .tensor_loads "$TMP/s1") for $ntensors tensors"
jq -e '(.read_amplification - .bytes_decoded / .source_bytes) | fabs < 1e-5' \
	"$TMP/s1" >/dev/null && ok "read_amplification is bytes_decoded / source_bytes" ||
	not_ok "read_amplification: $(cat "$TMP/s1")"
# The example's chunks tile its arrays, so one decode of each is exactly
# the source size.
jq -e '.bytes_decoded == .source_bytes' "$TMP/s1" >/dev/null &&
	ok "each source chunk decoded once (read amplification 1)" ||
	not_ok "read amplification: $(cat "$TMP/s1")"

# Again: the kernel's page cache serves it (keep_cache), nothing is decoded.
cat "$MNT"/model-*.safetensors >/dev/null
stats >"$TMP/s2"
[ "$(jq .chunk_decodes "$TMP/s2")" = "$(jq .chunk_decodes "$TMP/s1")" ] &&
	ok "a second read decodes nothing" ||
	not_ok "chunk_decodes $(jq .chunk_decodes "$TMP/s1") -> $(jq .chunk_decodes "$TMP/s2")"

# An O_DIRECT read skips the page cache: served by the tensor cache (hits
# grow, misses and decodes do not), counted in bytes_served.
f=$(ls "$MNT"/model-00002-*.safetensors)
if dd if="$f" of=/dev/null iflag=direct bs=4096 skip=2 count=2 status=none 2>/dev/null; then
	stats >"$TMP/s3"
	if jq -e --slurpfile a "$TMP/s2" '.bytes_served == $a[0].bytes_served + 8192 and
		.cache_hits > $a[0].cache_hits and .cache_misses == $a[0].cache_misses and
		.chunk_decodes == $a[0].chunk_decodes' "$TMP/s3" >/dev/null; then
		ok "an O_DIRECT read: 8192 bytes served from the tensor cache"
	else
		not_ok "O_DIRECT read: $(cat "$TMP/s2") -> $(cat "$TMP/s3")"
	fi
else
	echo "skip O_DIRECT read: not supported here"
fi

# Listed on the root only; a file has its source xattr and no stats.
getfattr -d -m - "$MNT" 2>/dev/null | grep -q '^user\.ckptfs\.stats=' &&
	ok "the root lists user.ckptfs.stats" || not_ok "the root does not list the stats"
getfattr -d -m - "$f" 2>/dev/null >"$TMP/fx"
if grep -q '^user\.ckptfs\.source=' "$TMP/fx" && ! grep -q 'ckptfs\.stats' "$TMP/fx"; then
	ok "a file lists user.ckptfs.source, not the stats"
else
	not_ok "a file's xattrs: $(cat "$TMP/fx")"
fi
if getfattr --only-values -n user.ckptfs.stats "$f" >/dev/null 2>&1; then
	not_ok "a file has the stats xattr"
else
	ok "a file has no stats xattr"
fi
fusermount3 -u "$MNT" && ! mounted && ok "unmounted" || not_ok "unmount"

# A cache smaller than the model: tensors are evicted, the budget holds.
opts2="hf_config=$EX/config.json,shard_size=60KB,cache_size=40KB"
if "$CKPTFS" "$EX" "$MNT" -o "$opts2" 2>"$TMP/err" && mounted; then
	cat "$MNT"/model-*.safetensors >/dev/null
	stats >"$TMP/s4"
	jq -e --argjson t "$total" '.bytes_served == $t and .cache_evictions > 0 and
		.cache_peak_bytes <= 40000 and .cache_bytes <= .cache_peak_bytes' \
		"$TMP/s4" >/dev/null &&
		ok "cache_size=40KB: evictions, peak within the budget: $(cat "$TMP/s4")" ||
		not_ok "cache_size=40KB: $(cat "$TMP/s4")"
	fusermount3 -u "$MNT"
else
	not_ok "cache_size=40KB: mount failed: $(cat "$TMP/err")"
fi

# convert --stats: the same counters on stdout, over the files it wrote.
if "$CKPTFS" convert "$EX" "$TMP/conv" --stats -o "$opts" >"$TMP/cs" 2>"$TMP/err"; then
	ctotal=0
	for f in "$TMP/conv"/model-*.safetensors; do
		ctotal=$((ctotal + $(stat -c %s "$f")))
	done
	jq -e --argjson t "$ctotal" --argjson n "$ntensors" --argjson s "$src_bytes" \
		'.bytes_served == $t and .tensor_loads == $n and .source_bytes == $s and
		.chunk_decodes > 0' "$TMP/cs" >/dev/null &&
		ok "convert --stats: $(cat "$TMP/cs")" ||
		not_ok "convert --stats: $(cat "$TMP/cs")"
else
	not_ok "convert --stats failed: $(cat "$TMP/err")"
fi
finish
