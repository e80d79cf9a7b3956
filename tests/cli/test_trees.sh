# SPDX-License-Identifier: MIT
# Every parameter tree a MaxText-family run saves serves the same bytes.
# For every family `ckptfs example` writes, scanned and unscanned, the Linen
# tree (MaxText's trainer) is converted once; then the same weights saved as
# Tunix saves them (model_params/ beside optimizer_state/, ".value" leaves,
# "base." for RL, nnx.List layers), with the training state a step holds,
# are mounted and compared with it file by file.  The Linen conversion is
# itself checked against numpy by test_mount.  Then: the provenance names the
# arrays as saved, Tunix run/step/item paths resolve, and a step with two
# model items or a scan_layers that disagrees with the arrays is refused in
# one line.
. "$(dirname "$0")/lib.sh"
need_fuse getfattr
mount_tmp

# one_line FILE: FILE holds exactly one line, an error naming something.
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^ckptfs: error: ' "$1"; }

while read -r fam layouts; do
	for layout in $layouts; do
		flags=""
		trees="nnx-sft nnx-rl"
		if [ "$layout" = unscanned ]; then
			flags="--unscanned"
			trees="$trees nnx-list"
		fi
		v="$fam $layout"
		ref=$TMP/ref
		rm -rf "$ref" "$TMP/linen"
		# shellcheck disable=SC2086
		"$CKPTFS" example "$TMP/linen" --family "$fam" $flags --train >/dev/null &&
			"$CKPTFS" convert "$TMP/linen" "$ref" \
				-o hf_config="$TMP/linen/config.json" >/dev/null 2>"$TMP/err" ||
			{ not_ok "$v linen: $(cat "$TMP/err")"; continue; }
		for tree in $trees; do
			ex=$TMP/$tree
			rm -rf "$ex"
			# shellcheck disable=SC2086
			if ! "$CKPTFS" example "$ex" --family "$fam" $flags --tree "$tree" \
				--train >/dev/null 2>"$TMP/err"; then
				not_ok "$v $tree: example: $(cat "$TMP/err")"
				continue
			fi
			if ! "$CKPTFS" "$ex" "$MNT" -o "hf_config=$ex/config.json,cache_size=64KB" \
				2>"$TMP/err" || ! mounted; then
				not_ok "$v $tree: mount: $(cat "$TMP/err")"
				continue
			fi
			same=1
			for f in "$ref"/*; do
				cmp -s "$f" "$MNT/$(basename "$f")" || { same=0; echo "# differs: $f"; }
			done
			[ "$(ls "$MNT" | wc -l)" -eq "$(ls "$ref" | wc -l)" ] || same=0
			[ $same = 1 ] && ok "$v $tree: the mount serves the Linen tree's bytes" ||
				not_ok "$v $tree: the mount differs from the Linen tree's conversion"
			fusermount3 -u "$MNT"
		done
	done
done <<EOF
$("$CKPTFS" example --list)
EOF

# Provenance names the arrays as saved; inspect names the item and the tree.
ex=$TMP/nnx-rl
rm -rf "$ex" "$TMP/nnx-list" "$TMP/linen"
"$CKPTFS" example "$ex" --tree nnx-rl --train >/dev/null
"$CKPTFS" example "$TMP/nnx-list" --tree nnx-list --unscanned >/dev/null
"$CKPTFS" example "$TMP/linen" >/dev/null
"$CKPTFS" "$ex" "$MNT" -o "hf_config=$ex/config.json" 2>/dev/null
src=$(getfattr --absolute-names --only-values -n user.ckptfs.source "$MNT"/model*.safetensors)
echo "$src" | grep -q 'model.layers.1.mlp.down_proj.weight <- base.decoder.layers.mlp.wo.kernel.value\[:,1,:\]' &&
	ok "user.ckptfs.source names base.decoder.layers.mlp.wo.kernel.value" ||
	not_ok "provenance: $(echo "$src" | head -3)"
fusermount3 -u "$MNT"
"$CKPTFS" plan "$ex" -o "hf_config=$ex/config.json" >"$TMP/plan" 2>&1
grep -q 'base.token_embedder.embedding.value' "$TMP/plan" &&
	! grep -q 'params.params' "$TMP/plan" &&
	ok "plan names the arrays as saved" || not_ok "plan: $(head -3 "$TMP/plan")"
"$CKPTFS" inspect "$ex" >"$TMP/insp" 2>&1
grep -q '^item: *model_params (the step also holds optimizer_state)' "$TMP/insp" &&
	grep -q '^tree: *nnx-rl' "$TMP/insp" &&
	grep -q '^base.decoder.layers.mlp.wo.kernel.value ' "$TMP/insp" &&
	ok "inspect: the item, the tree and the arrays as saved" ||
	not_ok "inspect: $(head -12 "$TMP/insp")"
"$CKPTFS" inspect --json "$ex" >"$TMP/insp.json" 2>&1
[ "$(jq -r '.tree + " " + .item + " " + .other_items' "$TMP/insp.json")" = \
	"nnx-rl model_params optimizer_state" ] &&
	[ "$(jq -r '.arrays[] | select(.name == "base.decoder.decoder_norm.scale.value") | .canonical' "$TMP/insp.json")" = \
	  "params.params.decoder.decoder_norm.scale" ] &&
	ok "inspect --json: tree, item, other_items, canonical names" ||
	not_ok "inspect --json: $(head -c 300 "$TMP/insp.json")"
"$CKPTFS" inspect "$TMP/nnx-list" >"$TMP/insp" 2>&1
grep -q '^tree: *nnx-sft .*nnx.List' "$TMP/insp" &&
	ok "inspect says the layers are an nnx.List" || not_ok "inspect nnx-list: $(grep tree "$TMP/insp")"
# dump takes the path as saved.
"$CKPTFS" dump "$ex" base.decoder.decoder_norm.scale.value >"$TMP/a.npy" 2>"$TMP/err" &&
	"$CKPTFS" dump "$TMP/linen" params.params.decoder.decoder_norm.scale >"$TMP/b.npy" &&
	cmp -s "$TMP/a.npy" "$TMP/b.npy" && ok "dump by the saved path" ||
	not_ok "dump: $(cat "$TMP/err")"

# Run, checkpoints, step and item paths; step=N.
step=$ex/checkpoints/1
for p in "$ex" "$ex/checkpoints" "$step" "$step/model_params"; do
	"$CKPTFS" plan "$p" -o "hf_config=$ex/config.json" >"$TMP/p2" 2>"$TMP/err" &&
		cmp -s "$TMP/plan" "$TMP/p2" && ok "resolves ${p#"$TMP"/}" ||
		not_ok "resolve ${p#"$TMP"/}: $(cat "$TMP/err")"
done
"$CKPTFS" plan "$ex" -o "hf_config=$ex/config.json,step=1" >/dev/null 2>"$TMP/err" &&
	ok "step=1" || not_ok "step=1: $(cat "$TMP/err")"

# A step with two items that may hold the model: refused, naming both.
cp -r "$step/model_params" "$step/items"
if "$CKPTFS" "$ex" "$MNT" -o "hf_config=$ex/config.json" 2>"$TMP/err"; then
	not_ok "two model items: mounted"
	fusermount3 -u "$MNT"
elif one_line "$TMP/err" && grep -q 'items, model_params' "$TMP/err" && ! mounted; then
	ok "two model items refused: $(cat "$TMP/err")"
else
	not_ok "two model items: $(cat "$TMP/err")"
fi
"$CKPTFS" plan "$step/items" -o "hf_config=$ex/config.json" >/dev/null 2>&1 &&
	ok "naming the item directory picks it" || not_ok "item directory not accepted"
rm -rf "$step/items"

# scan_layers in _CHECKPOINT_METADATA must agree with the arrays.
sed -i 's/"scan_layers": true/"scan_layers": false/' "$step/_CHECKPOINT_METADATA"
if "$CKPTFS" "$ex" "$MNT" -o "hf_config=$ex/config.json" 2>"$TMP/err"; then
	not_ok "scan_layers disagreement: mounted"
	fusermount3 -u "$MNT"
elif one_line "$TMP/err" && grep -q 'scan_layers=false, but the arrays are laid out scanned' "$TMP/err"; then
	ok "scan_layers disagreement refused: $(cat "$TMP/err")"
else
	not_ok "scan_layers disagreement: $(cat "$TMP/err")"
fi

finish
