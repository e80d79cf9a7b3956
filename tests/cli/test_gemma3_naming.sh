# SPDX-License-Identifier: MIT
# Gemma3 naming follows the target config, not the arrays present
# (docs clarifications): a text-only checkpoint planned as
# Gemma3ForConditionalGeneration gets model.language_model.* names and no
# vision tensors; as Gemma3ForCausalLM (gemma3_text) it gets model.*.  The
# family found from the arrays alone is gemma3 with vision arrays,
# gemma3_text without.
. "$(dirname "$0")/lib.sh"
if ! command -v jq >/dev/null; then
	echo "skipped: jq is needed"
	exit 77
fi

# names FILE: the tensor names of a `ckptfs plan` listing.
names() { grep -v '^#' "$1" | cut -f1; }

# plan_ok NAME OUT SRC OPTIONS: `ckptfs plan` succeeds, its listing in OUT.
plan_ok() {
	if "$CKPTFS" plan "$3" -o "$4" >"$2" 2>"$TMP/err"; then
		return 0
	fi
	not_ok "$1: plan failed: $(cat "$TMP/err")"
	return 1
}

# check_mm NAME PLAN: 184 tensors (the text example's), every one under
# model.language_model., none of the vision tower or the projector.
check_mm() {
	n=$(names "$2" | wc -l)
	[ "$n" -eq 184 ] && ok "$1: 184 tensors" || not_ok "$1: $n tensors (want 184)"
	other=$(names "$2" | grep -cv '^model\.language_model\.')
	[ "$other" -eq 0 ] && ok "$1: every name is model.language_model.*" ||
		not_ok "$1: $other names outside model.language_model.: $(names "$2" |
			grep -v '^model\.language_model\.' | head -3 | tr '\n' ' ')"
	names "$2" | grep -Eq 'vision|multi_modal' &&
		not_ok "$1: vision tensors listed" || ok "$1: no vision tensors"
	grep -q '^model\.language_model\.layers\.13\.self_attn\.q_proj\.weight	' "$2" &&
		grep -q '^model\.language_model\.embed_tokens\.weight	' "$2" &&
		ok "$1: the last layer and the embedding" ||
		not_ok "$1: model.language_model.layers.13 or embed_tokens missing"
}

VIS=$TMP/vis
"$CKPTFS" example "$VIS" --family gemma3 >/dev/null || not_ok "example gemma3"
for layout in scanned unscanned; do
	EX=$TMP/ex-$layout
	flags=
	[ $layout = unscanned ] && flags=--unscanned
	# shellcheck disable=SC2086
	"$CKPTFS" example "$EX" --family gemma3_text $flags >/dev/null ||
		not_ok "example gemma3_text $layout"

	# Gemma3ForConditionalGeneration around the text config: without a
	# vision_config, and with one (a text-only MaxText export still writes
	# the multimodal config.json).
	jq '{architectures: ["Gemma3ForConditionalGeneration"], model_type: "gemma3",
	     tie_word_embeddings: true, mm_tokens_per_image: 4,
	     text_config: (del(.architectures) | .model_type = "gemma3_text")}' \
		"$EX/config.json" >"$TMP/mm.json"
	jq --slurpfile v "$VIS/config.json" '.vision_config = $v[0].vision_config' \
		"$TMP/mm.json" >"$TMP/mm-vision.json"
	for cfg in mm mm-vision; do
		v="$layout $cfg"
		plan_ok "$v" "$TMP/plan" "$EX" "hf_config=$TMP/$cfg.json" &&
			check_mm "$v" "$TMP/plan"
	done

	# Gemma3ForCausalLM, its own config: model.*.
	v="$layout gemma3_text"
	if plan_ok "$v" "$TMP/plan" "$EX" "hf_config=$EX/config.json"; then
		n=$(names "$TMP/plan" | grep -c '^model\.' )
		total=$(names "$TMP/plan" | wc -l)
		[ "$total" -eq 184 ] && [ "$n" -eq 184 ] &&
			ok "$v: 184 tensors, all model.*" ||
			not_ok "$v: $n of $total names under model."
		names "$TMP/plan" | grep -q 'language_model' &&
			not_ok "$v: model.language_model.* names" ||
			ok "$v: no model.language_model.* names"
		grep -q '^model\.layers\.13\.self_attn\.q_proj\.weight	' "$TMP/plan" &&
			ok "$v: model.layers.13" || not_ok "$v: model.layers.13 missing"
	fi

	# From the arrays alone: no vision arrays, gemma3_text.
	"$CKPTFS" inspect "$EX" 2>/dev/null | grep -Eq '^family: +gemma3_text$' &&
		ok "$layout: text-only arrays are detected as gemma3_text" ||
		not_ok "$layout: detection: $("$CKPTFS" inspect "$EX" 2>&1 | grep family)"
done

# With vision arrays: gemma3 from the arrays alone; its own config lists the
# vision tower and the projector too.
"$CKPTFS" inspect "$VIS" 2>/dev/null | grep -Eq '^family: +gemma3$' &&
	ok "vision arrays are detected as gemma3" ||
	not_ok "vision detection: $("$CKPTFS" inspect "$VIS" 2>&1 | grep family)"
if plan_ok "gemma3 vision" "$TMP/plan" "$VIS" "hf_config=$VIS/config.json"; then
	n=$(names "$TMP/plan" | grep -c '^model\.vision_tower\.vision_model\.')
	m=$(names "$TMP/plan" | grep -c '^model\.multi_modal_projector\.')
	[ "$n" -eq 37 ] && [ "$m" -eq 2 ] &&
		ok "gemma3 vision: 37 vision tower and 2 projector tensors" ||
		not_ok "gemma3 vision: $n vision tower and $m projector tensors"
fi
# A vision checkpoint is not a gemma3_text one: its arrays are refused.
jq '.text_config + {architectures: ["Gemma3ForCausalLM"]}' "$VIS/config.json" \
	>"$TMP/text.json"
expect_fail "vision arrays under gemma3_text" "does not use.*vision_encoder" \
	"$CKPTFS" plan "$VIS" -o "hf_config=$TMP/text.json"
# The vision tower has its own block count: more blocks (2) than text
# layers (1) is fine, and every value still matches numpy.
"$CKPTFS" example "$TMP/one" --family gemma3 --layers 1 >/dev/null || not_ok "example --layers 1"
if "$CKPTFS" convert "$TMP/one" "$TMP/one-hf" -o "hf_config=$TMP/one/config.json" \
	>/dev/null 2>"$TMP/err" &&
	/usr/bin/python3 "$(dirname "$0")/../tools/verify_example.py" "$TMP/one-hf" >"$TMP/out" 2>&1; then
	ok "vision tower deeper than the text model: $(cat "$TMP/out")"
else
	not_ok "vision tower deeper than the text model: $(cat "$TMP/err" "$TMP/out")"
fi
finish
