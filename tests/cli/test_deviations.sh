# SPDX-License-Identifier: MIT
# The documented deviations from MaxText's converter (docs/deviations.md):
# each is checked here, against values written down independently.
. "$(dirname "$0")/lib.sh"
need_numpy
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)
P=$CKPTFS_SRC/mappings/presets

# Gemma2: the query is scaled back by sqrt(query_pre_attn_scalar) (24 in
# the example), not sqrt(head_dim) (16): sqrt(24) = 4.898979...
EX=$TMP/gemma2
"$CKPTFS" example "$EX" --family gemma2 >/dev/null || not_ok "gemma2 example"
"$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json" 2>&1 |
	grep "^model.layers.1.self_attn.q_proj.weight	" >"$TMP/q"
grep -q "self_attention_global.query.kernel.* | reshape_kernel | scale_query(4.89898)" \
	"$TMP/q" && ok "gemma2: query scaled by sqrt(query_pre_attn_scalar)" ||
	not_ok "gemma2: query recipe: $(cat "$TMP/q")"

# A padded MaxText vocabulary is dropped from both the embedding and an
# untied lm_head (MaxText's logits_dense hook fails on it).
for fam in llama qwen3 deepseek_v3 gpt_oss; do
	EX=$TMP/pad-$fam
	"$CKPTFS" example "$EX" --family "$fam" --pad-vocab 24 >/dev/null ||
		not_ok "$fam: example --pad-vocab"
	if "$CKPTFS" convert "$EX" "$TMP/conv-$fam" -o "hf_config=$EX/config.json" \
		>/dev/null 2>"$TMP/err" &&
		"$PY" "$TOOLS/verify_example.py" --pad-vocab 24 "$TMP/conv-$fam" >"$TMP/out" 2>&1; then
		ok "$fam: padded vocab truncated ($(cat "$TMP/out"))"
	else
		not_ok "$fam: padded vocab: $(cat "$TMP/err" "$TMP/out")"
	fi
done

# Presets hold the published configs where MaxText's table is wrong.
check_preset() {
	name=$1 expr=$2 why=$3
	if [ ! -f "$P/$name.json" ]; then
		not_ok "$name: no preset"
	elif jq -e "$expr" "$P/$name.json" >/dev/null; then
		ok "$name: $why"
	else
		not_ok "$name: $why ($expr)"
	fi
}
check_preset llama3.1-405b '.rope_theta == 500000 and .rope_scaling.rope_type == "llama3"
	and .rope_scaling.factor == 8' "llama3 rope settings"
check_preset gemma2-9b '.query_pre_attn_scalar == 256' "query_pre_attn_scalar 256"
check_preset gemma2-27b '.query_pre_attn_scalar == 144' "query_pre_attn_scalar 144"
for s in 4b 12b 27b; do
	check_preset gemma3-$s '.text_config.rope_theta == 1000000 and
		.text_config.hidden_activation == "gelu_pytorch_tanh"' "rope_theta 1e6, gelu_pytorch_tanh"
done
check_preset qwen3-4b-thinking-2507 '.rope_theta == 5000000 and
	.max_position_embeddings == 262144' "rope_theta 5e6, 262144 positions"
for n in qwen3-1.7b qwen3-1.7b-base qwen3-4b-base qwen3-8b-base qwen3-14b-base \
	qwen3-480b-a35b qwen3-coder-480b-a35b olmo3-7b qwen3-next-80b-a3b; do
	check_preset "$n" '.model_type != null' "preset exists (MaxText cannot export it)"
done
finish
