# SPDX-License-Identifier: MIT
# The MaxText slice shapes ("mt") of the mapping files, what the reverse
# conversion builds: for every family `ckptfs example` writes, in each
# layout, with its own dims and with other expert and layer counts,
# `plan -o check_mt` finds every tensor's mt equal to the slice its source
# holds.  A padded vocabulary passes with config.maxtext_vocab_size and is
# refused without it; a mapping whose "mt" is wrong, or missing where no
# default applies, is refused in one line naming the tensor (and planned as
# before without check_mt).
. "$(dirname "$0")/lib.sh"
MAPS=${CKPTFS_SRC:-$(dirname "$0")/../..}/mappings
command -v jq >/dev/null || { echo "skipped: jq is needed"; exit 77; }

# vocab DIR: the HF vocabulary of the example's config.json (nested or not).
vocab() { jq '[.. | objects | .vocab_size? // empty] | first' "$1/config.json"; }

# example NAME ARGS...: write $EX; 1 (with a line) when the family refuses
# those dims, which is no failure.
example() {
	name=$1
	shift
	rm -rf "$EX"
	if "$CKPTFS" example "$EX" "$@" >/dev/null 2>"$TMP/err"; then
		return 0
	fi
	if grep -q "example: " "$TMP/err"; then
		echo "skip - $name: $(cat "$TMP/err")"
	else
		not_ok "$name: example: $(cat "$TMP/err")"
	fi
	return 1
}

# check NAME [OPTS]: plan -o check_mt over $EX passes.
check() {
	if "$CKPTFS" plan "$EX" -o "check_mt,hf_config=$EX/config.json${2:+,$2}" \
		>/dev/null 2>"$TMP/err"; then
		ok "$1"
	else
		not_ok "$1: $(cat "$TMP/err")"
	fi
}

EX=$TMP/ex
"$CKPTFS" example --list >"$TMP/families" || not_ok "example --list"
[ -s "$TMP/families" ] || not_ok "example --list is empty"
# Under valgrind (tests/valgrind-cli.sh) a few families stand for all.
if [ -n "${CKPT_VG_BIN:-}" ]; then
	grep -E '^(llama|deepseek_v3|gemma3|qwen3_next) ' "$TMP/families" >"$TMP/f2"
	mv "$TMP/f2" "$TMP/families"
fi
while read -r fam layouts; do
	for layout in $layouts; do
		v="$fam $layout"
		flags="--family $fam --pad-vocab 0"
		[ "$layout" = unscanned ] && flags="$flags --unscanned"
		example "$v" $flags && check "$v"
		example "$v, 6 experts" $flags --experts 6 && check "$v, 6 experts"
		# Another layer count: families with a layer cycle take a
		# multiple of it, DeepSeek V4 an odd count; gemma4_small has
		# fixed dims.
		n=
		for n in 8 12 7 ""; do
			[ -n "$n" ] || break
			rm -rf "$EX"
			"$CKPTFS" example "$EX" $flags --layers $n >/dev/null 2>"$TMP/err" &&
				break
		done
		if [ -n "$n" ]; then
			check "$v, $n layers"
		else
			grep -q "example: " "$TMP/err" &&
				echo "skip - $v: $(cat "$TMP/err")" ||
				not_ok "$v: example --layers: $(cat "$TMP/err")"
		fi
		# MaxText's vocabulary padded by 8 rows.
		if example "$v, padded vocab" $flags --pad-vocab 8; then
			check "$v, padded vocab" "config.maxtext_vocab_size=$(($(vocab "$EX") + 8))"
			expect_fail "$v, padded vocab, no maxtext_vocab_size" \
				"embed_tokens\.weight: its MaxText shape \[[0-9]+,[0-9]+\] .* is not the slice \[[0-9]+,[0-9]+\] of '.*token_embedder\.embedding'" \
				"$CKPTFS" plan "$EX" -o "check_mt,hf_config=$EX/config.json"
		fi
	done
done <"$TMP/families"

# A wrong "mt" (Llama's q_proj: [D, heads, head_dim] reversed), and a
# missing one (no default for reshape_kernel): refused with check_mt only.
example "llama" --family llama || not_ok "llama example"
Q='model.layers.{i}.self_attn.q_proj.weight'
for edit in wrong missing; do
	mkdir -p "$TMP/maps-$edit"
	cp "$MAPS"/*.json "$TMP/maps-$edit/"
	if [ $edit = wrong ]; then
		jq --arg q "$Q" '(.tensors[] | select(.hf == $q) | .mt) |= reverse' \
			"$MAPS/llama.json" >"$TMP/maps-$edit/llama.json"
		pat="^ckptfs: error: .*model\.layers\.0\.self_attn\.q_proj\.weight: its MaxText shape \[16,4,64\] \(its rule's \"mt\"\) is not the slice \[64,4,16\] of 'params\.params\.decoder\.layers\.self_attention\.query\.kernel'"
	else
		jq --arg q "$Q" '(.tensors[] | select(.hf == $q)) |= del(.mt)' \
			"$MAPS/llama.json" >"$TMP/maps-$edit/llama.json"
		pat="^ckptfs: error: .*model\.layers\.0\.self_attn\.q_proj\.weight: no MaxText shape for 'params\.params\.decoder\.layers\.self_attention\.query\.kernel' \(the slice \[64,4,16\]\): its rule needs \"mt\""
	fi
	expect_fail "$edit mt" "$pat" "$CKPTFS" plan "$EX" \
		-o "check_mt,hf_config=$EX/config.json,mappings=$TMP/maps-$edit"
	"$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json,mappings=$TMP/maps-$edit" \
		>/dev/null 2>"$TMP/err" && ok "$edit mt: planned without check_mt" ||
		not_ok "$edit mt without check_mt: $(cat "$TMP/err")"
done
finish
