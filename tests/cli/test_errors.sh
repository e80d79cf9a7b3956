# SPDX-License-Identifier: MIT
# Broken input fails cleanly: exit 1 or 2, never a signal or a hang, and one
# line on stderr that names the cause.  Every case works on a private copy.
. "$(dirname "$0")/lib.sh"
need_fixtures

V1=$FIX/orbax-compat/v1_checkpoints/composite_checkpoint/checkpoint_metadata_present/pytree_checkpointable_has_metadata
V0=$FIX/orbax-compat/v0_checkpoints/direct_checkpoint/checkpoint_metadata_present/pytree_checkpointable_has_metadata
CRIT=$FIX/orbax-compat/v1_checkpoints/composite_checkpoint/critical_metadata_alterations
ZS=$FIX/zarrs-sharded/sharded_array_write_read.zarr
NG=$FIX/neuroglancer-ocdbt

copy() { rm -rf "$TMP/$2"; cp -R "$1" "$TMP/$2"; chmod -R u+w "$TMP/$2"; }
# flip FILE OFFSET: invert one byte.
flip() {
	"$PY" -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0xff; open(p, "wb").write(b)' "$1" "$2"
}

# Usage errors exit 2.
expect_fail "no command" "missing command" "$CKPTFS"
expect_fail "unknown command" "unknown command" "$CKPTFS" frobnicate
expect_fail "dump without array" "need SRC and ARRAY" "$CKPTFS" dump "$V1"
expect_fail "bad step" "bad step" "$CKPTFS" inspect "$V1" --step x

# Not a checkpoint, no such array, no such step.
mkdir -p "$TMP/empty"
expect_fail "empty directory" "no Orbax checkpoint found" "$CKPTFS" inspect "$TMP/empty"
expect_fail "missing path" "not a directory" "$CKPTFS" inspect "$TMP/nope"
expect_fail "no such array" "no array 'zz'" "$CKPTFS" dump "$V1" zz
mkdir -p "$TMP/run/checkpoints"
cp -R "$V1" "$TMP/run/checkpoints/5"
expect_fail "no such step" "no committed step 7" "$CKPTFS" inspect "$TMP/run" --step 7

# The top-level d/ is gone: the manifest's root node file is missing.
expect_fail "missing d/" "d/[0-9a-f]{32}.*(No such file|missing)" \
	"$CKPTFS" dump "$CRIT/missing_pytree_data_dir_d/state" a

# The top-level manifest is gone: the per-process database is read, and
# inspect says so.
if "$CKPTFS" inspect "$CRIT/missing_pytree_data_file_manifest.ocdbt" >"$TMP/out" 2>&1 &&
	grep -q "per-process" "$TMP/out"; then
	ok "missing manifest.ocdbt: read from ocdbt.process_0, and said so"
else
	not_ok "missing manifest.ocdbt: $(cat "$TMP/out")"
fi

# One flipped byte in a manifest.
copy "$V1" m
flip "$TMP/m/state/manifest.ocdbt" 30
expect_fail "flipped byte in manifest" "manifest\.ocdbt.*(CRC|crc)" "$CKPTFS" dump "$TMP/m" a

# One flipped byte in a B+tree node (the root leaf in the top-level d/).
copy "$V0" n
node=$(ls "$TMP"/n/d/*)
flip "$node" 40
expect_fail "flipped byte in B+tree node" "d/[0-9a-f]{32}.*(CRC|crc)" "$CKPTFS" dump "$TMP/n" a

# One flipped byte in a shard index (zarr v3 sharding, crc32c index codec).
copy "$ZS" s
size=$(stat -c %s "$TMP/s/group/array/c/0/0")
flip "$TMP/s/group/array/c/0/0" $((size - 12))
expect_fail "flipped byte in shard index" "group/array/c/0/0.*crc32c" \
	"$CKPTFS" dump "$TMP/s" group/array

# A zarr.json with an unknown codec.
copy "$ZS" u
sed -i 's/"gzip"/"zfoo"/' "$TMP/u/group/array/zarr.json"
expect_fail "unknown codec" "zarr\.json.*unknown codec 'zfoo'" "$CKPTFS" inspect "$TMP/u"

# A shape whose byte size overflows.
copy "$ZS" o
"$PY" -c 'import json, sys
p = sys.argv[1]; m = json.load(open(p)); m["shape"] = [2**32, 2**32]
json.dump(m, open(p, "w"))' "$TMP/o/group/array/zarr.json"
expect_fail "shape overflow" "zarr\.json.*overflow" "$CKPTFS" inspect "$TMP/o"

# A truncated data file (out-of-line values and nodes of an OCDBT database).
copy "$NG/kvstore-ocdbt/files_min_arity.ocdbt" t
data=$(ls "$TMP"/t/d/*)
truncate -s 5 "$data"
expect_fail "truncated data file" "d/[0-9a-f]{32}.*(truncated|past the end)" "$CKPTFS" inspect "$TMP/t"

# A zstd frame cut short inside a chunk (zarr v2, plain directory).
if "$PY" -c 'import zstandard' 2>/dev/null; then
	mkdir -p "$TMP/z/w"
	"$PY" - "$TMP/z/w" <<'PYEOF'
import json, sys, zstandard
d = sys.argv[1]
json.dump({"zarr_format": 2, "shape": [64], "chunks": [64], "dtype": "<i4",
	   "compressor": {"id": "zstd", "level": 3}, "fill_value": None,
	   "filters": None, "order": "C"}, open(d + "/.zarray", "w"))
frame = zstandard.ZstdCompressor(level=3).compress(bytes(range(256)))
open(d + "/0", "wb").write(frame[: len(frame) - 7])
PYEOF
	expect_fail "zstd frame cut short" "w/0.*zstd" "$CKPTFS" dump "$TMP/z" w
else
	echo "skip zstd frame cut short: $PY lacks zstandard"
fi
# A config with fewer layers than an unscanned checkpoint holds.
"$CKPTFS" example "$TMP/exu" --unscanned >/dev/null || not_ok "example"
expect_fail "config with too few layers" "more than the 1 layers.*layers_1' exists" \
	"$CKPTFS" plan "$TMP/exu" -o "hf_config=$TMP/exu/config.json,config.num_hidden_layers=1"
finish
