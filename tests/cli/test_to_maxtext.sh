# SPDX-License-Identifier: MIT
# `ckptfs convert --to maxtext`: for every family and layout of `ckptfs
# example`, in bfloat16 and float32, the example's HF view converted back
# gives the example's MaxText arrays.  The arrays are read back by an
# independent reader (tests/tools/orbax_read.py: numpy and zstandard,
# written from the format description, not from ckptfs's reader) and
# compared bit for bit; the hooks that round (Gemma's embedding scale, a
# division by sqrt(hidden_size), and its query scale when it is not a power
# of two) are allowed one unit in the last place.
# Arrays no HF tensor holds (DeepSeek V4's mhc norms, which MaxText drops
# too) are the only ones absent.  ckptfs's own reader reads the output too:
# converted forward again it gives the same HF bytes.  Bad input is refused
# in one line naming the file and the tensor, and leaves nothing in OUT.
. "$(dirname "$0")/lib.sh"
need_numpy
"$PY" -c 'import zstandard' 2>/dev/null || { echo "skipped: python3-zstandard is needed"; exit 77; }
RD="$PY $CKPTFS_SRC/tests/tools/orbax_read.py"

# roundtrip FAMILY LAYOUT DTYPE
roundtrip() {
	fam=$1 lay=$2 dt=$3
	d=$TMP/$fam-$lay-$dt
	mkdir -p "$d"
	set -- --family "$fam" --pad-vocab 0
	[ "$lay" = unscanned ] && set -- "$@" --unscanned
	[ "$dt" = float32 ] && set -- "$@" --float32
	if ! "$CKPTFS" example "$d/ex" "$@" >/dev/null 2>"$d/err"; then
		not_ok "$fam $lay $dt: example: $(cat "$d/err")"
		return
	fi
	if ! "$CKPTFS" convert "$d/ex" "$d/hf" -o "hf_config=$d/ex/config.json" \
		>/dev/null 2>"$d/err"; then
		not_ok "$fam $lay $dt: to HF: $(tail -n 1 "$d/err")"
		return
	fi
	sl=true
	[ "$lay" = unscanned ] && sl=false
	if ! "$CKPTFS" convert --to maxtext "$d/hf" "$d/out" \
		-o "scan_layers=$sl,dtype=$dt" >/dev/null 2>"$d/err"; then
		not_ok "$fam $lay $dt: to MaxText: $(tail -n 1 "$d/err")"
		return
	fi
	ulp=0
	case $fam in gemma*) ulp=1 ;; esac
	# Gemma's embedding and query scalings may round; everything else
	# is exact.
	$RD compare "$d/ex/checkpoints/1" "$d/out/0" --only 'params.*' \
		--max-ulp 0 >"$d/cmp" 2>&1
	bad=$(grep -E '^(VALUES|SHAPE|DTYPE|ONLY-B|UNREADABLE)' "$d/cmp" |
		grep -Ev "VALUES params.params.*(token_embedder.embedding|query.kernel): .*max ulp [0-$ulp];" |
		grep -v '^ONLY-A params.params.decoder.*mhc_norm.scale')
	onlya=$(grep -c '^ONLY-A' "$d/cmp")
	if [ -n "$bad" ] || ! tail -n 1 "$d/cmp" | grep -q 'arrays compared'; then
		not_ok "$fam $lay $dt: $(echo "$bad" | head -n 3) $(tail -n 1 "$d/cmp")"
		return
	fi
	ok "$fam $lay $dt: $(tail -n 1 "$d/cmp" | cut -d, -f1-2)${onlya#0}$([ "$onlya" != 0 ] && echo ' not in HF')"
	# ckptfs's reader: the output, mounted as HF again, gives the same
	# bytes (where the conversion is exact).
	[ $ulp = 0 ] || return
	"$CKPTFS" convert "$d/out" "$d/hf2" -o "hf_config=$d/ex/config.json" \
		>/dev/null 2>"$d/err" || { not_ok "$fam $lay $dt: read back: $(tail -n 1 "$d/err")"; return; }
	cmp -s "$d/hf/model.safetensors" "$d/hf2/model.safetensors" ||
		not_ok "$fam $lay $dt: read back by ckptfs: the HF bytes differ"
	rm -rf "$d"
}

"$CKPTFS" example --list >"$TMP/families"
dts="bfloat16 float32"
# Under valgrind (tests/valgrind-cli.sh) or ASan a few families, in
# bfloat16, stand for all.
if [ -n "${CKPT_VG_BIN:-}" ] || ldd "$CKPTFS" 2>/dev/null | grep -q libasan; then
	grep -E '^(llama|qwen3_moe|deepseek_v3|gemma3|gpt_oss|qwen3_next) ' "$TMP/families" >"$TMP/f2"
	mv "$TMP/f2" "$TMP/families"
	dts=bfloat16
fi
while read -r fam l1 l2; do
	for lay in $l1 $l2; do
		for dt in $dts; do
			roundtrip "$fam" "$lay" "$dt"
		done
	done
done <"$TMP/families" >"$TMP/rt.log"
cat "$TMP/rt.log"
checks=$((checks + $(grep -c '^\(not \)\?ok' "$TMP/rt.log")))
failures=$((failures + $(grep -c '^not ok' "$TMP/rt.log")))

# The layout to_maxtext.py writes.
d=$TMP/layout
mkdir -p "$d"
"$CKPTFS" example "$d/ex" --family llama >/dev/null
"$CKPTFS" convert "$d/ex" "$d/hf" -o "hf_config=$d/ex/config.json" >/dev/null 2>&1
"$CKPTFS" convert --to maxtext "$d/hf" "$d/out" -o chunks=8 >/dev/null 2>"$TMP/err" ||
	not_ok "llama chunks=8: $(cat "$TMP/err")"
i=$d/out/0/items
if [ -f "$i/manifest.ocdbt" ] && [ -f "$i/ocdbt.process_0/manifest.ocdbt" ] &&
	[ -f "$i/_METADATA" ] && [ -f "$i/_sharding" ] && [ -f "$i/array_metadatas/process_0" ] &&
	[ -f "$d/out/0/_CHECKPOINT_METADATA" ]; then
	ok "layout: items/ has _METADATA, _sharding, array_metadatas/process_0, ocdbt.process_0/ and the merged manifest"
else
	not_ok "layout: $(cd "$d/out" && find . | tr '\n' ' ')"
fi
jq -e '.custom_metadata.scan_layers == true' "$d/out/0/_CHECKPOINT_METADATA" >/dev/null &&
	ok "_CHECKPOINT_METADATA says scan_layers true" ||
	not_ok "_CHECKPOINT_METADATA: $(cat "$d/out/0/_CHECKPOINT_METADATA")"
jq -e '.tree_metadata | keys | any(. == "(\u0027step\u0027,)" or test("step"))' "$i/_METADATA" >/dev/null 2>&1 &&
	jq -e '[.tree_metadata | keys[] | select(test("opt_state"))] | length == 1' "$i/_METADATA" >/dev/null &&
	ok "_METADATA holds step and an empty opt_state" ||
	not_ok "_METADATA: no step or opt_state"
# Arrays cut along axis 0 into 8 chunks: [64,2,4,16] in chunks of [8,2,4,16].
"$CKPTFS" inspect "$d/out" >"$TMP/insp" 2>&1
grep -q 'self_attention.query.kernel *bfloat16 *\[64,2,4,16\] *\[8,2,4,16\] *8 ' "$TMP/insp" &&
	ok "chunks=8: query kernel [64,2,4,16] in chunks [8,2,4,16]" ||
	not_ok "chunks=8: $(grep query.kernel "$TMP/insp")"
[ "$($RD list "$d/out/0" | grep -c '^params')" = 12 ] &&
	ok "the independent reader lists 12 arrays" || not_ok "list: $($RD list "$d/out/0" 2>&1 | head -n 3)"
# An existing step is not overwritten.
expect_fail "an existing OUT/0 is refused" "out.*(exist|0)" \
	"$CKPTFS" convert --to maxtext "$d/hf" "$d/out"

# A padded vocabulary: vocab_rows= rows, the HF rows first, then zeros.
"$CKPTFS" convert --to maxtext "$d/hf" "$d/pad" -o vocab_rows=272 >/dev/null 2>"$TMP/err" ||
	not_ok "vocab_rows=272: $(cat "$TMP/err")"
$RD dump "$d/pad/0" params.params.token_embedder.embedding "$TMP/e.npy" 2>/dev/null
$RD dump "$d/out/0" params.params.token_embedder.embedding "$TMP/e0.npy" 2>/dev/null
if "$PY" -c '
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(not (a.shape == (272, 64) and (a[:256] == b).all() and (a[256:] == 0).all()))
' "$TMP/e.npy" "$TMP/e0.npy"; then
	ok "vocab_rows=272: [272,64], the 256 HF rows then zeros"
else
	not_ok "vocab_rows=272: the embedding is not the HF rows padded with zeros"
fi

# A MaxText checkpoint re-laid out: scanned to unscanned and back, through
# its HF view, gives the other layout's example.
for pair in "llama scanned unscanned false" "deepseek_v3 unscanned scanned true"; do
	set -- $pair
	r=$TMP/re-$1
	mkdir -p "$r"
	u1=; [ "$2" = unscanned ] && u1=--unscanned
	u2=; [ "$3" = unscanned ] && u2=--unscanned
	"$CKPTFS" example "$r/a" --family "$1" $u1 >/dev/null
	"$CKPTFS" example "$r/b" --family "$1" $u2 >/dev/null
	if "$CKPTFS" convert --to maxtext "$r/a" "$r/out" \
		-o "scan_layers=$4,hf_config=$r/a/config.json" >/dev/null 2>"$TMP/err" &&
		$RD compare "$r/b/checkpoints/1" "$r/out/0" --only 'params.*' >"$TMP/cmp" 2>&1; then
		ok "$1 $2 re-laid out $3: $(tail -n 1 "$TMP/cmp" | cut -d, -f1-2)"
	else
		not_ok "$1 $2 re-laid out $3: $(cat "$TMP/err") $(head -n 3 "$TMP/cmp")"
	fi
done

# Killed midway, a convert leaves only Orbax's temporary directory, which
# readers ignore: nothing that looks like a checkpoint.
k=$TMP/kill
mkdir -p "$k"
"$CKPTFS" example "$k/ex" --family llama --scale 12 --layers 8 --random >/dev/null
"$CKPTFS" convert "$k/ex" "$k/hf" -o "hf_config=$k/ex/config.json" >/dev/null 2>&1
"$CKPTFS" convert --to maxtext "$k/hf" "$k/out" -o chunks=64 >/dev/null 2>&1 &
cpid=$!
for _ in $(seq 200); do
	[ -n "$(ls "$k/out" 2>/dev/null)" ] && break
	sleep 0.01
done
kill -9 $cpid 2>/dev/null
wait $cpid 2>/dev/null
if [ -d "$k/out/0" ]; then
	ok "killed convert: it had finished first (nothing to check)"
elif ls "$k/out" | grep -q '^0\.orbax-checkpoint-tmp'; then
	if "$CKPTFS" inspect "$k/out" >/dev/null 2>&1; then
		not_ok "killed convert: inspect opens what it left"
	else
		ok "killed convert: only $(ls "$k/out" | head -n 1), which inspect refuses"
	fi
else
	not_ok "killed convert: OUT holds $(ls "$k/out" 2>&1 | tr '\n' ' ')"
fi
rm -rf "$k"

# Bad input: one line naming the file and the tensor, nothing in OUT.
bad() { # bad NAME PATTERN DIR [OPTS]
	rm -rf "$TMP/bout"
	expect_fail "$1" "$2" "$CKPTFS" convert --to maxtext "$3" "$TMP/bout" ${4:+-o "$4"}
	[ ! -e "$TMP/bout" ] || [ -z "$(find "$TMP/bout" -name '0' -o -name manifest.ocdbt)" ] ||
		not_ok "$1: OUT holds $(find "$TMP/bout" | head -n 5 | tr '\n' ' ')"
}
# edit SRC DST PY: DST is SRC with model.safetensors rewritten by PY, which
# gets the header dict h and the data d (bytes) and may change both.
edit() {
	rm -rf "$2"
	cp -r "$1" "$2"
	"$PY" - "$2/model.safetensors" "$3" <<'PYEOF'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n]); d = raw[8 + n:]
exec(code)
hb = json.dumps(h).encode()
open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + d)
PYEOF
}
hf=$d/hf
edit "$hf" "$TMP/miss" 'del h["model.layers.1.mlp.up_proj.weight"]'
rm -f "$TMP/miss/model.safetensors.index.json"
bad "a missing tensor" "miss.*model.layers.1.mlp.up_proj.weight.*missing" "$TMP/miss"
edit "$hf" "$TMP/shape" 'h["model.norm.weight"]["shape"] = [32, 2]'
rm -f "$TMP/shape/model.safetensors.index.json"
bad "a wrong shape" "shape/model.safetensors.*model.norm.weight.*shape \[32,2\].*\[64\]" "$TMP/shape"
edit "$hf" "$TMP/dtype" 't = h["model.norm.weight"]; t["dtype"] = "I16"'
rm -f "$TMP/dtype/model.safetensors.index.json"
bad "a wrong dtype" "dtype/model.safetensors.*model.norm.weight.*int16.*not a float" "$TMP/dtype"
rm -rf "$TMP/trunc" && cp -r "$hf" "$TMP/trunc"
truncate -s -100 "$TMP/trunc/model.safetensors"
bad "a truncated file" "trunc/model.safetensors.*tensor.*ends at byte" "$TMP/trunc"
rm -rf "$TMP/idx" && cp -r "$hf" "$TMP/idx"
jq '.weight_map["model.norm.weight"] = "model-00002-of-00002.safetensors"' \
	"$hf/model.safetensors.index.json" >"$TMP/idx/model.safetensors.index.json"
bad "an index naming a missing shard" "index.json.*model.norm.weight.*model-00002-of-00002.*missing" "$TMP/idx"
rm -rf "$TMP/fam" && cp -r "$hf" "$TMP/fam"
jq '.model_type = "qwen3" | .architectures = ["Qwen3ForCausalLM"]' "$hf/config.json" >"$TMP/fam/config.json"
bad "a config of another family" "fam.*(q_norm|k_norm).*missing" "$TMP/fam"
rm -rf "$TMP/unk" && cp -r "$hf" "$TMP/unk"
jq '.model_type = "no_such_model"' "$hf/config.json" >"$TMP/unk/config.json"
bad "an unknown model_type" "no mapping for model_type 'no_such_model'" "$TMP/unk"
edit "$hf" "$TMP/extra" 't = dict(h["model.norm.weight"]); n = t["data_offsets"][1] - t["data_offsets"][0]
t["data_offsets"] = [len(d), len(d) + n]; d += bytes(n); h["model.extra.weight"] = t'
rm -f "$TMP/extra/model.safetensors.index.json"
bad "a tensor the mapping does not use" "extra.*model.extra.weight" "$TMP/extra"
bad "a bad option" "scan_layers=maybe" "$hf" "scan_layers=maybe"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
