# SPDX-License-Identifier: MIT
# tests/tools/orbax_read.py, a reader written in Python from the format
# description alone (not from ckptfs's C reader), decodes the real Orbax /
# TensorStore / zarrs fixtures to the values their README lists, and agrees
# bit for bit with `ckptfs dump --raw` on checkpoints `ckptfs example` writes:
# the writer is checked by something other than its own reader.
. "$(dirname "$0")/lib.sh"
need_fixtures
need_numpy
if ! "$PY" -c 'import zstandard' 2>/dev/null; then
	echo "skipped: $PY with zstandard (python3-zstandard) is needed"
	exit 77
fi
ORPY=$(cd "$(dirname "$0")/../tools" && pwd)/orbax_read.py
orb() { "$PY" "$ORPY" "$@"; }

# dump_check WHAT DIR ARRAY DTYPE SHAPE EXPR
dump_check() {
	if orb dump "$2" "$3" "$TMP/x.npy" 2>"$TMP/err" &&
		check_npy "$TMP/x.npy" "$4" "$5" "$6" >"$TMP/why" 2>&1; then
		ok "$1: $3"
	else
		not_ok "$1: $3: $(cat "$TMP/err" "$TMP/why")"
	fi
}
# no_traceback WHAT FILE: FILE holds no Python traceback.
no_traceback() {
	if grep -q Traceback "$2"; then
		not_ok "$1: Python traceback: $(tail -1 "$2")"
		return 1
	fi
}

# --- Orbax checkpoints (zarr v2 from the V0 API, zarr v3 from V1) ----------
OC=$FIX/orbax-compat
REF=$OC/v0_checkpoints/direct_checkpoint/checkpoint_metadata_present/pytree_checkpointable_has_metadata
REF3=$OC/v1_checkpoints/composite_checkpoint/checkpoint_metadata_present/pytree_checkpointable_has_metadata
dump_check "orbax v0 (zarr2)" "$REF" a int32 8 "np.arange(8)"
dump_check "orbax v0 (zarr2)" "$REF" b.c int32 3 "[1, 2, 3]"
dump_check "orbax v1 (zarr3, step dir)" "$REF3" a int32 8 "np.arange(8)"
dump_check "orbax v1 (zarr3, step dir)" "$REF3" b.c int32 3 "[1, 2, 3]"
if [ "$(orb list "$REF3" 2>&1)" = "$(printf 'a int32 [8]\nb.c int32 [3]')" ]; then
	ok "list names arrays from _METADATA"
else
	not_ok "list: $(orb list "$REF3" 2>&1)"
fi
# Every other intact checkpoint holds the same tree: compare with REF.
# Item dirs, step dirs, and the per-process databases alone (top-level
# manifest.ocdbt deleted).
n=0
bad=
for dir in $( (find "$OC" -name manifest.ocdbt ! -path '*ocdbt.process_*' -exec dirname {} \;
	find "$OC" -type d -name state -exec dirname {} \;
	find "$OC" -type d -name missing_pytree_data_file_manifest.ocdbt) | sort -u); do
	case "$dir" in */missing_pytree_data_dir_d*) continue ;; esac
	n=$((n + 1))
	orb compare "$REF" "$dir" >"$TMP/out" 2>&1 || bad="$bad ${dir#"$OC"/}: $(tail -1 "$TMP/out");"
done
if [ -z "$bad" ] && [ "$n" -ge 40 ]; then
	ok "compare: $n orbax-compat checkpoints equal the reference"
else
	not_ok "compare over $n orbax-compat checkpoints:$bad"
fi
expect_fail "root node's data file deleted" "cannot open data file d/" \
	"$PY" "$ORPY" list "$OC/v1_checkpoints/composite_checkpoint/critical_metadata_alterations/missing_pytree_data_dir_d"

# --- TensorStore OCDBT (neuroglancer) ---------------------------------------
NG=$FIX/neuroglancer-ocdbt
dump_check "neuroglancer simple_0.5 (zarr3 in OCDBT, no _METADATA)" \
	"$NG/ome_zarr/simple_0.5.ocdbt" scale0/image uint16 10x10 "np.arange(100)"
MIN=$NG/kvstore-ocdbt/files_min_arity.ocdbt
bad=
for k in '#' a b c baz/x empty; do
	orb get "$MIN" "$k" >"$TMP/v" 2>"$TMP/err" && cmp -s "$TMP/v" "$NG/files/$k" ||
		bad="$bad $k($(cat "$TMP/err"))"
done
[ -z "$bad" ] && ok "files_min_arity: values through interior nodes and out-of-line refs" ||
	not_ok "files_min_arity:$bad"
orb stats "$MIN" >"$TMP/out" 2>&1
grep -q "8 keys, B+tree height 3" "$TMP/out" && ok "files_min_arity: 8 keys, height 3" ||
	not_ok "files_min_arity stats: $(cat "$TMP/out")"
LOW=$NG/kvstore-ocdbt/multi_version_low_arity.ocdbt
nk=$(orb keys "$LOW" --generation 37 2>&1 | wc -l)
v=$(orb get "$LOW" key37 --generation 37 2>&1)
[ "$nk" = 37 ] && [ "$v" = "version 37" ] && ok "version tree: generation 37 has 37 keys, key37" ||
	not_ok "version tree: generation 37: $nk keys, key37=$v"
orb stats "$LOW" >"$TMP/out" 2>&1
grep -q "generation 200 of 200, 200 keys" "$TMP/out" && ok "version tree: all 200 generations reachable" ||
	not_ok "version tree stats: $(cat "$TMP/out")"

# --- zarrs sharding, legacy aggregate -----------------------------------------
dump_check "zarrs sharded (inner chunks out of index order, gzip)" \
	"$FIX/zarrs-sharded/sharded_array_write_read.zarr" group/array uint16 8x8 "np.arange(64)"
AG=$FIX/orbax-legacy-aggregate
dump_check "msgpack aggregate" "$AG/aggregate_all.checkpoint" c.e int64 4x4 "np.arange(0, 64, 4)"
dump_check "msgpack aggregate" "$AG/aggregate_all.checkpoint" b int64 16 "np.arange(0, 32, 2)"
dump_check "aggregate + plain zarr2 dir" "$AG/aggregate_some.checkpoint" a int64 8 "np.arange(8)"
dump_check "aggregate + plain zarr2 dir" "$AG/aggregate_some.checkpoint" c.a int64 2x4 "np.arange(0, 24, 3)"

# --- ulp distances: bf16 across zero, NaN, f32; --only ------------------------
"$PY" - "$TMP/ulpA" "$TMP/ulpB" <<'PYEOF'
import json, os, sys, numpy as np
vals = {"h": ("bfloat16", "<u2", [0x3F80, 0x0000, 0x7FC0, 0xC000], [0x3F81, 0x8001, 0x7FC0, 0xC000]),
        "f": ("float32", "<f4", [1.0, -2.0], [np.nextafter(np.float32(1), np.float32(2)), -2.0])}
for side, root in enumerate(sys.argv[1:]):
    for name, (dt, st, a, b) in vals.items():
        os.makedirs(os.path.join(root, name, "c"), exist_ok=True)
        meta = {"zarr_format": 3, "node_type": "array", "shape": [len(a)], "data_type": dt,
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [len(a)]}},
                "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}
        json.dump(meta, open(os.path.join(root, name, "zarr.json"), "w"))
        np.array((a, b)[side], st).tofile(os.path.join(root, name, "c", "0"))
PYEOF
orb compare "$TMP/ulpA" "$TMP/ulpB" >"$TMP/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "VALUES h: 2 of 4 elements differ, max ulp 1" "$TMP/out" &&
	ok "compare: 1-ulp bf16 differences found (also +0 vs -tiny)" || not_ok "compare ulp (rc $rc): $(cat "$TMP/out")"
orb compare "$TMP/ulpA" "$TMP/ulpB" --max-ulp 1 >"$TMP/out" 2>&1 && ok "compare --max-ulp 1 accepts them" ||
	not_ok "compare --max-ulp 1: $(cat "$TMP/out")"
orb compare "$TMP/ulpA" "$TMP/ulpB" --only 'f*' >"$TMP/out" 2>&1
[ $? -eq 1 ] && grep -q "^1 arrays compared" "$TMP/out" && ok "compare --only" ||
	not_ok "compare --only: $(cat "$TMP/out")"

# --- ckptfs's own writer, checked by the Python reader ------------------------
# example_check WHAT ARGS...: every array `ckptfs inspect` lists has the same
# name, dtype and shape in `orbax_read.py dumpall`, and `ckptfs dump --raw`
# gives the same bits.
i=0
example_check() {
	what=$1
	shift
	i=$((i + 1))
	ex=$TMP/ex$i
	if ! "$CKPTFS" example "$ex" "$@" >/dev/null 2>"$TMP/err"; then
		not_ok "example $what: $(cat "$TMP/err")"
		return
	fi
	mkdir -p "$ex.ck"
	if ! orb dumpall "$ex" "$ex.py" >"$ex.list" 2>"$TMP/err"; then
		not_ok "example $what: orbax_read.py: $(cat "$TMP/err")"
		return
	fi
	"$CKPTFS" inspect "$ex" --json >"$ex.json" || { not_ok "example $what: inspect failed"; return; }
	"$PY" -c 'import json,sys; [print(a["name"]) for a in json.load(open(sys.argv[1]))["arrays"]]' \
		"$ex.json" >"$ex.names"
	while read -r name; do
		"$CKPTFS" dump "$ex" "$name" --raw >"$ex.ck/$name.npy" 2>>"$TMP/err" ||
			echo "ckptfs dump $name failed" >>"$TMP/err"
	done <"$ex.names"
	if "$PY" - "$ex.json" "$ex.list" "$ex.py" "$ex.ck" >"$TMP/why" 2>&1 <<'PYEOF'
import json, os, sys, numpy as np
info, lst, pyd, ckd = sys.argv[1:]
ck = {a["name"]: a for a in json.load(open(info))["arrays"]}
py = {}
for line in open(lst):
    name, dtype, shape = line.split()
    py[name] = (dtype, json.loads(shape))
bad = []
if set(ck) != set(py):
    bad.append("names differ: %s" % sorted(set(ck) ^ set(py)))
for name in sorted(set(ck) & set(py)):
    if (ck[name]["dtype"], ck[name]["shape"]) != py[name]:
        bad.append("%s: ckptfs %s %s, python %s %s" % (name, ck[name]["dtype"], ck[name]["shape"], *py[name]))
        continue
    a = np.load(os.path.join(pyd, name + ".npy"))
    b = np.load(os.path.join(ckd, name + ".npy"))
    if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
        bad.append("%s: values differ (python %s %s, ckptfs %s %s)" % (name, a.dtype, a.shape, b.dtype, b.shape))
print("%d arrays" % len(ck))
if bad:
    print("; ".join(bad[:5]))
    sys.exit(1)
PYEOF
	then
		[ -s "$TMP/err" ] && not_ok "example $what: $(head -3 "$TMP/err")" ||
			ok "example $what: $(cat "$TMP/why") identical"
	else
		not_ok "example $what: $(cat "$TMP/why" "$TMP/err")"
	fi
}
example_check "llama (scanned bf16)" --family llama
example_check "qwen3_moe --unscanned --float32" --family qwen3_moe --unscanned --float32
example_check "gemma3 3 processes, 4 chunks, out-of-line values" \
	--family gemma3 --processes 3 --chunks 4 --data-file-bytes 20000 --random
example_check "deepseek_v3 small data files" --family deepseek_v3 --chunks 3 --data-file-bytes 3000
example_check "llama --train (opt_state, step)" --family llama --train
example_check "gemma3 nnx-list" --family gemma3 --unscanned --tree nnx-list

# The same example in another layout (3 processes, 4 chunks per array, small
# data files) holds the same values; the --train one has more arrays.
"$CKPTFS" example "$TMP/ex1p" --family llama --processes 3 --chunks 4 --data-file-bytes 3000 >/dev/null
orb compare "$TMP/ex1" "$TMP/ex1p" >"$TMP/out" 2>&1 &&
	ok "compare: same values in another layout: $(tail -1 "$TMP/out")" || not_ok "compare ex1 ex1p: $(tail -3 "$TMP/out")"
orb compare "$TMP/ex1" "$TMP/ex5" >"$TMP/out" 2>&1
[ $? -eq 1 ] && grep -q "^ONLY-B step " "$TMP/out" && ok "compare: arrays in one only are differences" ||
	not_ok "compare ex1 ex5: $(tail -3 "$TMP/out")"
orb stats "$TMP/ex3" >"$TMP/out" 2>&1
grep -q "^arrays: 145 " "$TMP/out" && ! grep -q "^warning" "$TMP/out" &&
	ok "stats: merged database's recorded key/byte counts match its tree" || not_ok "stats ex3: $(cat "$TMP/out")"
"$CKPTFS" example "$TMP/ex1f" --family llama --float32 >/dev/null
orb compare "$TMP/ex1" "$TMP/ex1f" >"$TMP/out" 2>&1
[ $? -eq 1 ] && grep -q "^DTYPE params.params.token_embedder.embedding: bfloat16 vs float32" "$TMP/out" &&
	ok "compare: bf16 vs f32 reported as dtype differences" || not_ok "compare bf16/f32: $(tail -3 "$TMP/out")"

# --- corruption -----------------------------------------------------------------
# A byte flipped inside an out-of-line chunk value: compare reports it (or
# the chunk fails to decode), never a crash.
bad=$TMP/bad
cp -r "$TMP/ex3" "$bad"
line=$(orb keys "$bad" | awk -F'\t' '$3 ~ /@/ && $2 > 64 { print; exit }')
key=$(printf '%s' "$line" | cut -f1)
len=$(printf '%s' "$line" | cut -f2)
ref=$(printf '%s' "$line" | cut -f3)
array=${key%%/c/*}
file=$(find "$bad" -name manifest.ocdbt ! -path '*ocdbt.process_*' -exec dirname {} \;)/${ref%@*}
off=$((${ref#*@} + len / 2))
flip() { # flip FILE OFFSET
	"$PY" -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x5a]))' "$1" "$2"
}
if [ -z "$key" ] || [ ! -f "$file" ]; then
	not_ok "corruption: no out-of-line chunk found (line: $line)"
else
	flip "$file" "$off"
	orb compare "$TMP/ex3" "$bad" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if no_traceback "corrupt chunk: compare" "$TMP/err"; then
		if { [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && grep -Eq "^(VALUES|ERROR) $array" "$TMP/out"; then
			ok "corrupt chunk of $array: compare exit $rc, $(grep -E "^(VALUES|ERROR) $array" "$TMP/out" | cut -c1-120)"
		else
			not_ok "corrupt chunk of $array: compare exit $rc: $(cat "$TMP/out" "$TMP/err" | tail -3)"
		fi
	fi
	orb dump "$bad" "$array" "$TMP/bad.npy" 2>"$TMP/err"
	rc=$?
	if no_traceback "corrupt chunk: dump" "$TMP/err"; then
		if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then
			ok "corrupt chunk: dump fails: $(cat "$TMP/err")"
		elif [ $rc -eq 0 ] && ! cmp -s "$TMP/bad.npy" "$TMP/ex3.py/$array.npy"; then
			ok "corrupt chunk: dump gives different values"
		else
			not_ok "corrupt chunk: dump exit $rc: $(cat "$TMP/err")"
		fi
	fi
fi
# A byte flipped in the manifest and in a B+tree node: CRC-32C catches it.
cp -r "$TMP/ex1" "$TMP/bad1"
cp -r "$TMP/ex1" "$TMP/bad2"
items1=$TMP/bad1/checkpoints/1/items
flip "$items1/manifest.ocdbt" 20
expect_fail "flipped manifest byte" "CRC-32C mismatch" "$PY" "$ORPY" list "$TMP/bad1"
node=$(find "$TMP/bad2/checkpoints/1/items/d" -type f | head -1)
flip "$node" 16
expect_fail "flipped B+tree node byte" "CRC-32C mismatch" "$PY" "$ORPY" compare "$TMP/ex1" "$TMP/bad2"
finish
