# SPDX-License-Identifier: MIT
# Detection and inference without hf_config= or model=: the values the
# shapes cannot give (the mapping's "needs") are never guessed: the mount is
# refused, naming them, until config.KEY=VALUE gives them; config.KEY=VALUE
# also overrides a field of hf_config= and model=; malformed config options
# are refused with one line; `inspect` names the family and the presets that
# match.
. "$(dirname "$0")/lib.sh"
if ! command -v jq >/dev/null 2>&1; then
	echo "skipped: jq is needed"
	exit 77
fi
NEEDS_Q3="config.rope_theta=1000000,config.rms_norm_eps=1e-6"

EX=$TMP/q3
"$CKPTFS" example "$EX" --family qwen3 >/dev/null || not_ok "example qwen3"

# 1. Inference without the needed values is refused, naming them and the
# options that give them.
expect_fail "qwen3 inferred without rope_theta, rms_norm_eps" \
	"cannot infer rope_theta, rms_norm_eps from the checkpoint; pass model=NAME, hf_config=FILE or config\.rope_theta=VALUE,config\.rms_norm_eps=VALUE" \
	"$CKPTFS" plan "$EX"
expect_fail "qwen3 inferred with rope_theta only" \
	"cannot infer rms_norm_eps from the checkpoint; .*config\.rms_norm_eps=VALUE" \
	"$CKPTFS" plan "$EX" -o config.rope_theta=1e6
expect_fail "convert refuses too" "cannot infer rope_theta, rms_norm_eps" \
	"$CKPTFS" convert "$EX" "$TMP/never"
[ ! -e "$TMP/never/config.json" ] && ok "convert wrote nothing" ||
	not_ok "convert wrote files anyway"

# 2. With them, the plan is the one hf_config= gives.
"$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json" 2>/dev/null | grep -v '^#' >"$TMP/plan.hf"
if "$CKPTFS" plan "$EX" -o "$NEEDS_Q3" >"$TMP/plan.inf" 2>"$TMP/err"; then
	n=$(grep -vc '^#' "$TMP/plan.inf")
	[ "$n" -gt 20 ] && ok "inferred plan lists $n tensors" || not_ok "inferred plan: $n tensors"
	grep -v '^#' "$TMP/plan.inf" | cmp -s - "$TMP/plan.hf" &&
		ok "inferred plan equals the hf_config= plan" ||
		not_ok "inferred plan differs from the hf_config= plan"
	grep -q "detected family 'qwen3'.*given rope_theta=1000000, rms_norm_eps=1e-6" "$TMP/err" &&
		ok "the log names the family and the given values" ||
		not_ok "log: $(cat "$TMP/err")"
else
	not_ok "plan with $NEEDS_Q3: $(cat "$TMP/err")"
fi

# 3. The served config.json has the inferred dims and the given values
# (convert writes exactly what the mount serves).
if "$CKPTFS" convert "$EX" "$TMP/conv" -o "$NEEDS_Q3" 2>"$TMP/err"; then
	jq -e '.model_type == "qwen3" and .hidden_size == 64 and .num_hidden_layers == 2
		and .rope_theta == 1000000 and .rms_norm_eps == 0.000001' \
		"$TMP/conv/config.json" >/dev/null &&
		ok "inferred config.json has the dims, rope_theta and rms_norm_eps" ||
		not_ok "inferred config.json: $(tr -d '\n' <"$TMP/conv/config.json")"
else
	not_ok "convert with $NEEDS_Q3: $(cat "$TMP/err")"
fi

# 4. Per-family needs: Qwen3 MoE also needs the router's top-k and its
# normalisation; an unscanned float32 Qwen 2.5 infers as well.
MOE=$TMP/moe
"$CKPTFS" example "$MOE" --family qwen3_moe >/dev/null || not_ok "example qwen3_moe"
expect_fail "qwen3_moe names its needs" \
	"cannot infer num_experts_per_tok, norm_topk_prob from the checkpoint; .*config\.num_experts_per_tok=VALUE,config\.norm_topk_prob=VALUE" \
	"$CKPTFS" plan "$MOE" -o "$NEEDS_Q3"
"$CKPTFS" plan "$MOE" -o "$NEEDS_Q3,config.num_experts_per_tok=2,config.norm_topk_prob=true" \
	>"$TMP/out" 2>"$TMP/err" && grep -q "mlp.experts.3.down_proj" "$TMP/out" &&
	ok "qwen3_moe inferred with its four values" || not_ok "qwen3_moe: $(cat "$TMP/err")"
Q2=$TMP/q2
"$CKPTFS" example "$Q2" --family qwen2 --unscanned --float32 >/dev/null || not_ok "example qwen2"
"$CKPTFS" plan "$Q2" -o "$NEEDS_Q3" >"$TMP/out" 2>"$TMP/err" &&
	grep -q "^model.layers.1.self_attn.q_proj.bias	F32" "$TMP/out" &&
	ok "unscanned float32 qwen2 inferred" || not_ok "qwen2: $(cat "$TMP/err")"

# 5. config.KEY=VALUE overrides hf_config= fields (JSON values: numbers,
# objects with commas inside, strings) and keeps the rest.
if "$CKPTFS" convert "$EX" "$TMP/over" -o "hf_config=$EX/config.json,config.rope_theta=123,config.rope_scaling={\"rope_type\": \"linear\", \"factor\": 2.0},config.hidden_act=gelu,config.use_cache=false" 2>"$TMP/err"; then
	jq -e '.rope_theta == 123 and .rope_scaling.rope_type == "linear" and
		.rope_scaling.factor == 2 and .hidden_act == "gelu" and .use_cache == false and
		.max_position_embeddings == 2048 and .rms_norm_eps == 0.00001' \
		"$TMP/over/config.json" >/dev/null && ok "config.KEY overrides hf_config= fields" ||
		not_ok "override: $(tr -d '\n' <"$TMP/over/config.json")"
else
	not_ok "convert with overrides: $(cat "$TMP/err")"
fi
# An override that changes a dim reaches the plan, which refuses it.
expect_fail "config.hidden_size=32 contradicts the shapes" "\[256,64\] cannot become \[256,32\]" \
	"$CKPTFS" plan "$EX" -o "hf_config=$EX/config.json,config.hidden_size=32"
# ... and model= (a preset of a private mappings directory).
cp -R "$CKPTFS_SRC/mappings" "$TMP/maps"
chmod -R u+w "$TMP/maps"
cp "$EX/config.json" "$TMP/maps/presets/tiny-qwen3.json"
if "$CKPTFS" convert "$EX" "$TMP/preset" -o "mappings=$TMP/maps,model=tiny-qwen3,config.rope_theta=77" \
	2>"$TMP/err"; then
	jq -e '.rope_theta == 77 and .hidden_size == 64' "$TMP/preset/config.json" >/dev/null &&
		ok "config.KEY overrides a model= preset" || not_ok "model= override"
else
	not_ok "convert with model=tiny-qwen3: $(cat "$TMP/err")"
fi

# 6. Malformed config options: one clear line, before anything is read.
expect_fail "config.KEY without =VALUE" "config\.rope_theta: no value \(use config\.KEY=VALUE\)" \
	"$CKPTFS" plan "$EX" -o config.rope_theta
expect_fail "config.KEY= with an empty value" "config\.rope_theta: no value" \
	"$CKPTFS" plan "$EX" -o config.rope_theta=
expect_fail "config.=VALUE without a key" "no field name" "$CKPTFS" plan "$EX" -o config.=1
expect_fail "config.KEY with a space" "field name is letters, digits and _" \
	"$CKPTFS" plan "$EX" -o "config.rope theta=1"
expect_fail "config.KEY.SUB (nested)" "nested fields are set as a whole object" \
	"$CKPTFS" plan "$EX" -o config.rope_scaling.factor=8
expect_fail "config.KEY={ not JSON" "config\.rope_scaling=.*not valid JSON" \
	"$CKPTFS" plan "$EX" -o 'config.rope_scaling={"factor": 8'
expect_fail "mount refuses a malformed config option" "config\.rope_theta: no value" \
	"$CKPTFS" "$EX" "$TMP/mnt" -o config.rope_theta

# 7. inspect: the family and the presets.
if "$CKPTFS" inspect "$EX" >"$TMP/out" 2>"$TMP/err"; then
	grep -q "^family: *qwen3$" "$TMP/out" && ok "inspect: family qwen3" ||
		not_ok "inspect family: $(grep family "$TMP/out")"
	grep -q "^presets: *none match$" "$TMP/out" &&
		ok "inspect: no shipped preset matches the tiny example" ||
		not_ok "inspect presets: $(grep presets "$TMP/out")"
else
	not_ok "inspect: $(cat "$TMP/err")"
fi
"$CKPTFS" inspect "$EX" --json | jq -e '.family == "qwen3" and .families == ["qwen3"] and
	.presets == [] and (.arrays | length) > 10' >/dev/null &&
	ok "inspect --json: family, families, presets" || not_ok "inspect --json"
# A preset with the example's own dims matches; one of another size or
# another family does not.
cp "$EX/config.json" "$TMP/maps/presets/tiny-qwen3-copy.json"
"$CKPTFS" example "$TMP/ll" --family llama >/dev/null || not_ok "example llama"
cp "$TMP/ll/config.json" "$TMP/maps/presets/tiny-llama.json"
"$CKPTFS" inspect "$EX" --mappings "$TMP/maps" >"$TMP/out" 2>&1
grep -q "^presets: *tiny-qwen3, tiny-qwen3-copy$" "$TMP/out" &&
	ok "inspect: the presets with the example's dims match" ||
	not_ok "inspect presets: $(grep presets "$TMP/out")"
# Llama and Mistral arrays look alike: ambiguous, but a preset decides.
"$CKPTFS" inspect "$TMP/ll" --mappings "$TMP/maps" >"$TMP/out" 2>&1
grep -q "^family: *ambiguous (llama, mistral)$" "$TMP/out" &&
	ok "inspect: llama example is ambiguous (llama, mistral)" ||
	not_ok "inspect llama family: $(grep family "$TMP/out")"
grep -q "^presets: *tiny-llama$" "$TMP/out" && ok "inspect: tiny-llama matches" ||
	not_ok "inspect llama presets: $(grep presets "$TMP/out")"
expect_fail "inspect --mappings without DIR" "unknown option" "$CKPTFS" inspect "$EX" --mappings

# 8. The mounted config.json (when FUSE is there).
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null; then
	MNT=$TMP/mnt
	mkdir -p "$MNT"
	if "$CKPTFS" "$EX" "$MNT" -o "$NEEDS_Q3" 2>"$TMP/err"; then
		jq -e '.rope_theta == 1000000 and .rms_norm_eps == 0.000001 and
			.num_key_value_heads == 2' "$MNT/config.json" >/dev/null &&
			ok "mounted config.json has the given values" ||
			not_ok "mounted config.json: $(tr -d '\n' <"$MNT/config.json")"
		fusermount3 -u "$MNT"
	else
		not_ok "mount with $NEEDS_Q3: $(cat "$TMP/err")"
	fi
	expect_fail "mount refused without the needed values" "cannot infer rope_theta" \
		"$CKPTFS" "$EX" "$MNT"
	grep -q " $MNT fuse.ckptfs " /proc/mounts && { not_ok "left a mount"; fusermount3 -u "$MNT"; }
else
	echo "skip mount: no /dev/fuse or fusermount3"
fi
finish
