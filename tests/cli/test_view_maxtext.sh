# SPDX-License-Identifier: MIT
# The view=maxtext mount: an HF directory (made from `ckptfs example` and
# converted to HF) mounted as the MaxText checkpoint `convert --to maxtext`
# writes from it, computed as it is read.  For several families, scanned and
# unscanned, bfloat16 and one float32, the independent reader
# (tests/tools/orbax_read.py) finds the example's arrays in MNT/0 (as
# test_to_maxtext.sh: bit for bit but for Gemma's scalings, one unit in the
# last place) and exactly what `convert --to maxtext` wrote (every array,
# step included); ckptfs's own reader reads it (inspect, dump, and convert
# back to HF gives the same bytes).  Then the tree, the uncompressed zarr.json,
# each chunk computed once, the descriptions, concurrent readers, writes
# refused, and bad HF directories refused at mount in one line.
. "$(dirname "$0")/lib.sh"
need_fuse getfattr jq
need_numpy
"$PY" -c 'import zstandard' 2>/dev/null || { echo "skipped: python3-zstandard is needed"; exit 77; }
RD="$PY $CKPTFS_SRC/tests/tools/orbax_read.py"
mount_tmp

# mt_mount HF OPTS: mount HF at $MNT with view=maxtext,OPTS; MS is the time
# from the command to a ready mount, in ms.  1 if it did not mount.
mt_mount() {
	t0=$(date +%s%N)
	"$CKPTFS" "$1" "$MNT" -o "view=maxtext${2:+,$2}" 2>"$TMP/merr" || return 1
	mounted || return 1
	MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
umount_mnt() { fusermount3 -u "$MNT" 2>/dev/null; }

# view FAMILY LAYOUT DTYPE
view() {
	fam=$1 lay=$2 dt=$3
	d=$TMP/$fam-$lay-$dt
	mkdir -p "$d"
	set -- --family "$fam" --pad-vocab 0
	[ "$lay" = unscanned ] && set -- "$@" --unscanned
	[ "$dt" = float32 ] && set -- "$@" --float32
	if ! "$CKPTFS" example "$d/ex" "$@" >/dev/null 2>"$d/err" ||
		! "$CKPTFS" convert "$d/ex" "$d/hf" -o "hf_config=$d/ex/config.json" \
			>/dev/null 2>"$d/err"; then
		not_ok "$fam $lay $dt: making the HF directory: $(tail -n 1 "$d/err")"
		return
	fi
	sl=true
	[ "$lay" = unscanned ] && sl=false
	if ! "$CKPTFS" convert --to maxtext "$d/hf" "$d/out" -o "scan_layers=$sl,dtype=$dt" \
		>/dev/null 2>"$d/err"; then
		not_ok "$fam $lay $dt: convert --to maxtext: $(tail -n 1 "$d/err")"
		return
	fi
	if ! mt_mount "$d/hf" "scan_layers=$sl,dtype=$dt"; then
		not_ok "$fam $lay $dt: mount: $(cat "$TMP/merr")"
		return
	fi
	ulp=0
	case $fam in gemma*) ulp=1 ;; esac
	$RD compare "$d/ex/checkpoints/1" "$MNT/0" --only 'params.*' --max-ulp 0 \
		>"$d/cmp" 2>&1
	bad=$(grep -E '^(VALUES|SHAPE|DTYPE|ONLY-B|UNREADABLE)' "$d/cmp" |
		grep -Ev "VALUES params.params.*(token_embedder.embedding|query.kernel): .*max ulp [0-$ulp];" |
		grep -v '^ONLY-A params.params.decoder.*mhc_norm.scale')
	if [ -n "$bad" ] || ! tail -n 1 "$d/cmp" | grep -q 'arrays compared'; then
		not_ok "$fam $lay $dt: the example vs the mount: $(echo "$bad" | head -n 3) $(tail -n 1 "$d/cmp")"
	else
		ok "$fam $lay $dt: mounted in $MS ms; the example's arrays: $(tail -n 1 "$d/cmp" | cut -d, -f1-2)"
	fi
	$RD compare "$d/out/0" "$MNT/0" >"$d/cmp" 2>&1
	if tail -n 1 "$d/cmp" | grep -Eq '^([0-9]+) arrays compared: \1 equal, 0 differ, 0 only in one, 0 unreadable'; then
		ok "$fam $lay $dt: convert --to maxtext's arrays: $(tail -n 1 "$d/cmp" | cut -d, -f1-2)"
	else
		not_ok "$fam $lay $dt: convert --to maxtext vs the mount: $(grep -v '^EQUAL' "$d/cmp" | head -n 3)"
	fi
	# ckptfs's own reader: inspect and dump agree with the converted
	# checkpoint; converted forward again, the same HF bytes.
	"$CKPTFS" inspect "$MNT/0/items" >"$d/i1" 2>&1
	"$CKPTFS" inspect "$d/out/0/items" >"$d/i2" 2>&1
	a1=$(grep -c '^params\.\|^step ' "$d/i1")
	a2=$(grep -c '^params\.\|^step ' "$d/i2")
	emb=params.params.token_embedder.embedding
	"$CKPTFS" dump "$MNT/0/items" $emb --raw >"$d/e1.npy" 2>"$d/err"
	"$CKPTFS" dump "$d/out/0/items" $emb --raw >"$d/e2.npy" 2>>"$d/err"
	if grep -q 'OCDBT/zarr3' "$d/i1" && [ "$a1" = "$a2" ] && [ "$a1" -gt 1 ] &&
		[ -s "$d/e1.npy" ] && cmp -s "$d/e1.npy" "$d/e2.npy"; then
		ok "$fam $lay $dt: ckptfs inspect lists $a1 arrays, dump gives the embedding"
	else
		not_ok "$fam $lay $dt: inspect/dump: $a1 vs $a2 arrays; $(head -c 300 "$d/err")"
	fi
	if [ $ulp = 0 ]; then
		if "$CKPTFS" convert "$MNT/0" "$d/hf2" -o "hf_config=$d/ex/config.json" \
			>/dev/null 2>"$d/err" &&
			cmp -s "$d/hf/model.safetensors" "$d/hf2/model.safetensors"; then
			ok "$fam $lay $dt: converted back to HF: the same bytes"
		else
			not_ok "$fam $lay $dt: back to HF: $(tail -n 1 "$d/err")"
		fi
	fi
	umount_mnt
	rm -rf "$d"
}

# Every family and layout, bfloat16 and float32; under valgrind
# (tests/valgrind-cli.sh) or ASan a few families, in bfloat16, stand for all.
"$CKPTFS" example --list >"$TMP/families"
dts="bfloat16 float32"
if [ -n "${CKPT_VG_BIN:-}" ]; then
	# each read goes through a daemon under memcheck: three families
	grep -E '^(llama|gemma3|qwen3_next) ' "$TMP/families" >"$TMP/f2"
	mv "$TMP/f2" "$TMP/families"
	dts=bfloat16
elif ldd "$CKPTFS" 2>/dev/null | grep -q libasan; then
	grep -E '^(llama|qwen3_moe|deepseek_v3|gemma3|gpt_oss|qwen3_next) ' "$TMP/families" >"$TMP/f2"
	mv "$TMP/f2" "$TMP/families"
	dts=bfloat16
fi
while read -r fam l1 l2; do
	for lay in $l1 $l2; do
		for dt in $dts; do
			view "$fam" "$lay" "$dt"
		done
	done
done <"$TMP/families"

# One larger model, chunks of a MiB: the tree, the metadata, each chunk
# computed once however the kernel cuts the reads.
d=$TMP/big
mkdir -p "$d"
"$CKPTFS" example "$d/ex" --family llama --scale 8 --pad-vocab 0 >/dev/null
"$CKPTFS" convert "$d/ex" "$d/hf" -o "hf_config=$d/ex/config.json" >/dev/null 2>&1
mt_mount "$d/hf" chunks=2 || not_ok "chunks=2: mount: $(cat "$TMP/merr")"
echo "# mount-to-ready (scale 8 llama, chunks=2): $MS ms"
tree=$(cd "$MNT" && find . | grep -v '^./0/items/d/.' | sort | tr '\n' ' ')
want=". ./0 ./0/_CHECKPOINT_METADATA ./0/items ./0/items/_METADATA ./0/items/_sharding ./0/items/array_metadatas ./0/items/array_metadatas/process_0 ./0/items/d ./0/items/manifest.ocdbt "
[ "$tree" = "$want" ] && ok "find shows the step's tree" || not_ok "tree: $tree"
nd=$(find "$MNT/0/items/d" -type f | grep -Ec '/d/[0-9a-f]{32}$')
[ "$nd" -ge 2 ] && ok "items/d/ holds $nd files" || not_ok "items/d/: $(ls "$MNT/0/items/d")"
[ ! -e "$MNT/0/items/ocdbt.process_0" ] && ok "one database, no ocdbt.process_0/" ||
	not_ok "ocdbt.process_0 exists"
zj=$($RD get "$MNT/0/items" params.params.token_embedder.embedding/zarr.json)
if echo "$zj" | jq -e '.codecs[0].name == "sharding_indexed" and
	.codecs[0].configuration.codecs == [{"configuration": {"endian": "little"}, "name": "bytes"}] and
	.shape == [2048, 512] and .chunk_grid.configuration.chunk_shape == [1024, 512]' >/dev/null &&
	! echo "$zj" | grep -q zstd; then
	ok "zarr.json: sharding_indexed with inner codec bytes only, no zstd"
else
	not_ok "zarr.json: $zj"
fi
jq -e '.custom_metadata.scan_layers == true and (.item_handlers | keys == ["items"])' \
	"$MNT/0/_CHECKPOINT_METADATA" >/dev/null &&
	ok "_CHECKPOINT_METADATA: scan_layers true, item items" ||
	not_ok "_CHECKPOINT_METADATA: $(cat "$MNT/0/_CHECKPOINT_METADATA")"
jq -e '.use_ocdbt and .use_zarr3 and (.tree_metadata | has("(\u0027step\u0027,)") and has("(\u0027opt_state\u0027,)"))' \
	"$MNT/0/items/_METADATA" >/dev/null &&
	ok "_METADATA: use_ocdbt, use_zarr3, step and opt_state" ||
	not_ok "_METADATA: $(head -c 300 "$MNT/0/items/_METADATA")"
# $TMP is private (0700): so is the view of the HF directory in it.
[ "$(stat -c %A "$TMP")" = drwx------ ] && [ "$(stat -c %A "$MNT/0/items")" = dr-x------ ] &&
	[ "$(stat -c %A "$MNT/0/items/_METADATA")" = -r-------- ] &&
	[ "$(stat -c %U "$MNT/0/items/d")" = "$(stat -c %U "$d/hf/model.safetensors")" ] &&
	ok "modes: only the HF directory's owner may read, as at the source" ||
	not_ok "modes: $(ls -ld "$TMP" "$MNT/0/items" "$MNT/0/items/_METADATA")"
# Readers at once, each through the whole store: the same bytes.
for i in 1 2 3 4; do
	( cd "$MNT/0/items/d" && cat * | sha256sum >"$TMP/sum$i" ) &
done
wait
nchunks=$($RD keys "$MNT/0/items" | grep -c '/c/')
st=$(stats)
computed=$(echo "$st" | jq .pieces_computed)
if [ "$(cat "$TMP/sum1" "$TMP/sum2" "$TMP/sum3" "$TMP/sum4" | sort -u | wc -l)" = 1 ] &&
	[ "$computed" = "$nchunks" ] && [ "$(echo "$st" | jq .pieces)" = "$nchunks" ]; then
	ok "4 readers at once read the same bytes; each of the $nchunks chunks computed once"
else
	not_ok "readers: $(cat "$TMP"/sum?) computed $computed of $nchunks: $st"
fi
getfattr --absolute-names --only-values -n user.ckptfs.source \
	"$MNT/0/items/d/"* >"$TMP/src" 2>&1
grep -q '^params.params.token_embedder.embedding chunks 0-1 of 2 <- model.embed_tokens.weight$' "$TMP/src" &&
	ok "user.ckptfs.source: the arrays of a data file and their HF tensors" ||
	not_ok "source xattr: $(head -c 300 "$TMP/src")"
# The same store, written by convert -o view=maxtext: the same data files.
"$CKPTFS" convert "$d/hf" "$d/cv" -o view=maxtext,chunks=2 >/dev/null 2>"$TMP/err" ||
	not_ok "convert -o view=maxtext: $(cat "$TMP/err")"
same=1
for f in "$MNT"/0/items/d/* "$MNT/0/items/_METADATA" "$MNT/0/items/array_metadatas/process_0"; do
	cmp -s "$f" "$d/cv/0/items/${f#"$MNT"/0/items/}" || same=0
done
[ $same = 1 ] && ok "convert -o view=maxtext writes what the mount serves" ||
	not_ok "convert -o view=maxtext differs from the mount"
# Read-only.
ro=0
touch "$MNT/x" 2>&1 | grep -q 'Read-only' || ro=1
( echo x >"$MNT/0/items/_METADATA" ) 2>&1 | grep -q 'Read-only' || ro=1
mkdir "$MNT/0/y" 2>&1 | grep -q 'Read-only' || ro=1
rm -f "$MNT/0/items/manifest.ocdbt" 2>&1 | grep -q 'Read-only' || ro=1
[ $ro = 0 ] && ok "writes, mkdir and rm fail with EROFS" || not_ok "a write was not refused with EROFS"
umount_mnt
# A cache smaller than a few chunks is raised (to 8 pieces of a chunk,
# here whole chunks of 1 MiB): still each chunk once.
mt_mount "$d/hf" chunks=2,cache_size=100K || not_ok "cache_size=100K: $(cat "$TMP/merr")"
cat "$MNT"/0/items/d/* | sha256sum >"$TMP/sum5"
st=$(stats)
if cmp -s "$TMP/sum1" "$TMP/sum5" && [ "$(echo "$st" | jq .pieces_computed)" = "$nchunks" ] &&
	[ "$(echo "$st" | jq .cache_budget)" = $((8 << 20)) ]; then
	ok "cache_size=100K: raised to 8 pieces, each chunk once"
else
	not_ok "cache_size=100K: $st"
fi
umount_mnt

# A scanned MaxText checkpoint mounted unscanned: the unscanned example's
# arrays, through its HF view (MaxText's vLLM serving path wants this).
r=$TMP/relayout
mkdir -p "$r"
"$CKPTFS" example "$r/a" --family qwen3_moe >/dev/null
"$CKPTFS" example "$r/b" --family qwen3_moe --unscanned >/dev/null
if mt_mount "$r/a" "scan_layers=false,hf_config=$r/a/config.json" &&
	$RD compare "$r/b/checkpoints/1" "$MNT/0" --only 'params.*' >"$TMP/cmp" 2>&1; then
	ok "a scanned MaxText checkpoint mounted unscanned: $(tail -n 1 "$TMP/cmp" | cut -d, -f1-2)"
else
	not_ok "scanned MaxText mounted unscanned: $(cat "$TMP/merr") $(head -n 3 "$TMP/cmp" 2>/dev/null)"
fi
umount_mnt

# Bad HF directories and options: refused at mount, one line, nothing mounted.
bad() { # bad NAME PATTERN DIR [OPTS]
	expect_fail "$1" "$2" "$CKPTFS" "$3" "$MNT" -o "view=maxtext${4:+,$4}"
	if mounted; then
		not_ok "$1: mounted anyway"
		umount_mnt
	fi
}
hf=$d/hf
rm -rf "$TMP/unk" && cp -r "$hf" "$TMP/unk"
jq '.model_type = "no_such_model"' "$hf/config.json" >"$TMP/unk/config.json"
bad "an unknown model_type" "no mapping for model_type 'no_such_model'" "$TMP/unk"
rm -rf "$TMP/miss" && cp -r "$hf" "$TMP/miss"
"$PY" - "$TMP/miss/model.safetensors" <<'PYEOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
del h["model.layers.1.mlp.up_proj.weight"]
hb = json.dumps(h).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
PYEOF
rm -f "$TMP/miss/model.safetensors.index.json"
bad "a missing tensor" "miss.*model.layers.1.mlp.up_proj.weight.*missing" "$TMP/miss"
bad "no HF directory" "nothing" "$TMP/nothing"
bad "dtype=float16" "dtype= must be bfloat16 or float32" "$hf" dtype=float16
bad "tokenizer=" "tokenizer= does not apply" "$hf" "tokenizer=$TMP"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
