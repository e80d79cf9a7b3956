# SPDX-License-Identifier: MIT
# `ckptfs plan`: the tensor list of the example, and clean refusals when the
# target does not fit (a wrong preset, an unknown preset, an ambiguous family).
. "$(dirname "$0")/lib.sh"
EX=$TMP/ex
"$CKPTFS" example "$EX" >/dev/null || not_ok "example"

if "$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json" >"$TMP/plan" 2>"$TMP/err"; then
	n=$(grep -vc '^#' "$TMP/plan")
	[ "$n" -eq 21 ] && ok "plan lists 21 tensors" || not_ok "plan lists $n tensors"
	grep -q "^model.layers.1.self_attn.q_proj.weight	BF16	\[64,64\]	model.safetensors	[0-9]*	params.params.decoder.layers.self_attention.query.kernel\[:,1,:,:\] | scale_query(4) | rope_to_halves | reshape_kernel" \
		"$TMP/plan" && ok "plan shows the q_proj recipe" || not_ok "q_proj recipe: $(grep q_proj "$TMP/plan" | head -1)"
else
	not_ok "plan: $(cat "$TMP/err")"
fi
expect_fail "wrong preset (dims)" "llama3.1-8b|4096|shape|gives" \
	"$CKPTFS" plan "$EX" -o model=llama3.1-8b
expect_fail "wrong preset (family)" "query_norm" "$CKPTFS" plan "$EX" -o model=qwen3-8b
expect_fail "unknown preset" "model=nonesuch: no such preset" \
	"$CKPTFS" plan "$EX" -o model=nonesuch
expect_fail "ambiguous family" "several families \(llama, mistral\)" "$CKPTFS" plan "$EX"
expect_fail "bad dtype" "dtype=int8" "$CKPTFS" plan "$EX" -o dtype=int8
expect_fail "bad size" "shard_size" "$CKPTFS" plan "$EX" -o shard_size=lots
# dtype=float32 widens the bf16 checkpoint.
"$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json,dtype=float32" 2>/dev/null |
	grep -q "^model.norm.weight	F32" && ok "dtype=float32" || not_ok "dtype=float32"
finish
