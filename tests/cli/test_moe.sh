# SPDX-License-Identifier: MIT
# Mixture-of-experts checkpoints with many experts: every tensor right, and
# every source chunk decoded once.  Qwen3-MoE with 64 experts, scanned
# ([E, L, D, M]) and unscanned ([E, D, M]) expert arrays, cut in 4 chunks
# along the expert axis and along the hidden axis (a chunk then holds a part
# of every expert).  Read front to back through a single-threaded mount
# (-s: no concurrent waves), the decoded bytes equal the source arrays'
# (read_amplification 1, up to the arrays no tensor reads whole), also with
# a cache far smaller than a group and a disk tier (batches from a spill);
# the tensors equal their numpy expectation; convert writes the same bytes.
. "$(dirname "$0")/lib.sh"
need_numpy
need_fuse getfattr
mount_tmp
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)

for layout in scanned unscanned scanned-spill; do
	for axis in 0 -2; do
		v="$layout, chunks along axis $axis"
		EX=$TMP/ex-$layout$axis
		flags="--experts 64 --layers 3 --chunks 4 --chunk-axis $axis"
		[ $layout = unscanned ] && flags="$flags --unscanned --float32"
		# shellcheck disable=SC2086
		"$CKPTFS" example "$EX" --family qwen3_moe $flags >/dev/null ||
			{ not_ok "$v: example"; continue; }
		opts="hf_config=$EX/config.json"
		# An eighth of the model in RAM, the rest through a disk tier:
		# each group in batches from one spill of its decoded chunks.
		if [ $layout = scanned-spill ]; then
			mkdir -p "$TMP/tier"
			opts="$opts,cache_size=100KB,cache_dir=$TMP/tier"
		fi
		if ! "$CKPTFS" "$EX" "$MNT" -s -o "$opts" 2>"$TMP/err"; then
			not_ok "$v: mount: $(cat "$TMP/err")"
			continue
		fi
		cat "$MNT"/*.safetensors >/dev/null
		amp=$(stats | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["read_amplification"])')
		loads=$(stats | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tensor_loads"])')
		n=$(jq '.weight_map | length' "$MNT/model.safetensors.index.json" 2>/dev/null ||
			"$PY" -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(len([k for k in json.loads(f.read(n)) if k!="__metadata__"]))' "$MNT/model.safetensors")
		"$PY" -c "import sys; sys.exit(0 if $amp <= 1.0001 else 1)" &&
			ok "$v: every chunk decoded once (read_amplification $amp)" ||
			not_ok "$v: read_amplification $amp"
		[ "$loads" = "$n" ] && ok "$v: each of the $n tensors computed once" ||
			not_ok "$v: $loads tensor computations for $n tensors"
		if "$PY" "$TOOLS/verify_example.py" "$MNT" >"$TMP/out" 2>&1; then
			ok "$v: $(cat "$TMP/out")"
		else
			not_ok "$v: tensors: $(cat "$TMP/out")"
		fi
		fusermount3 -u "$MNT"
		"$CKPTFS" convert "$EX" "$TMP/conv" -o "$opts" >/dev/null 2>&1
		"$CKPTFS" "$EX" "$MNT" -o "$opts" 2>/dev/null
		same=1
		for f in "$MNT"/*; do
			cmp -s "$f" "$TMP/conv/$(basename "$f")" || same=0
		done
		[ $same = 1 ] && ok "$v: convert equals the mount" || not_ok "$v: convert differs"
		fusermount3 -u "$MNT"
		rm -rf "$TMP/conv" "$EX"
	done
done
finish
