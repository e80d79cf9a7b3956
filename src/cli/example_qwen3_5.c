/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny Qwen3_5MoeForConditionalGeneration model of
 * `ckptfs example --family qwen3_5_moe` (see example.h), as
 * maxtext-mapping.md §4.9 lists its MaxText weights: the Qwen3-Next decoder
 * (§4.8; the same arrays, the same cycle of 4 layers, scanned as
 * decoder.layers.layer_{l % 4} stacked on l / 4) and the vision tower
 * MaxText builds for it (Qwen3_5MoeVisionEncoder subclasses Qwen3-Omni's
 * encoder, §4.6-4.7: patch embedding, learned positions, blocks_{j} with
 * separate q/k/v kernels; the final merger in Qwen3_5MoeVisionProjector_0;
 * no deepstack mergers).  MaxText never scans the vision tower: each block
 * is its own blocks_{j} module in both layouts.
 *
 * Text shape letters as in example_qwen3_next.c: h head dim, g 2h, o Q h;
 * k / v linear key / value heads, a / b their head dims, w 2ka + 2vb,
 * x 2v, c 2ka + vb, n conv kernel, z vb; s shared expert width; u 1.
 * Vision letters (not scaled by --scale): e hidden, i heads, j head dim,
 * f mlp, t temporal patch, p patch, r channels, q position embeddings,
 * m the merged width e * 4 (spatial merge 2).
 *
 * The patch kernel [T, P, P, C, Dv] has rank 5, one more than a weight's
 * shape letters allow, so it is written as a layer weight "tpre" stacked on
 * axis 1 over P pseudo-layers numbered L .. L + P - 1 past the decoder's
 * ("{L}" is "kernel"): element [t, y, x, c, o] is
 * g(w, L + y, ((t * P + x) * C + c) * Dv + o).
 */
#include "cli/example.h"

#include <errno.h>

#include "util/ck_err.h"

#define U(x) ((unsigned long long)(x))
#define X(c) x[(c) - 'a']

#define Q5_CYCLE 4
#define Q5_VISION_DEPTH 2	/* blocks_0, blocks_1 below */
#define Q5_MERGE 2		/* spatial_merge_size */

/* Layer kinds beyond EX_W_ALL: linear or full attention layers, the patch
 * kernel's pseudo-layers. */
enum { Q5_W_LINEAR = 16, Q5_W_FULL, Q5_W_PATCH };

#define ATT "decoder.{L}.attention."
#define VE "vision_encoder.Qwen3_5MoeVisionEncoder_0."
#define VP "vision_encoder.Qwen3_5MoeVisionProjector_0."

#define Q5_BLOCK(j) \
	{ VE "blocks_" #j ".ln1.scale", 0, EX_W_ALL, "e" }, \
	{ VE "blocks_" #j ".ln1.bias", 0, EX_W_ALL, "e" }, \
	{ VE "blocks_" #j ".ln2.scale", 0, EX_W_ALL, "e" }, \
	{ VE "blocks_" #j ".ln2.bias", 0, EX_W_ALL, "e" }, \
	{ VE "blocks_" #j ".attn.attn.query.kernel", 0, EX_W_ALL, "eij" }, \
	{ VE "blocks_" #j ".attn.attn.key.kernel", 0, EX_W_ALL, "eij" }, \
	{ VE "blocks_" #j ".attn.attn.value.kernel", 0, EX_W_ALL, "eij" }, \
	{ VE "blocks_" #j ".attn.attn.query.bias", 0, EX_W_ALL, "ij" }, \
	{ VE "blocks_" #j ".attn.attn.key.bias", 0, EX_W_ALL, "ij" }, \
	{ VE "blocks_" #j ".attn.attn.value.bias", 0, EX_W_ALL, "ij" }, \
	{ VE "blocks_" #j ".attn.attn.out.kernel", 0, EX_W_ALL, "ije" }, \
	{ VE "blocks_" #j ".attn.attn.out.bias", 0, EX_W_ALL, "e" }, \
	{ VE "blocks_" #j ".mlp.kernel", 0, EX_W_ALL, "ef" }, \
	{ VE "blocks_" #j ".mlp.bias", 0, EX_W_ALL, "f" }, \
	{ VE "blocks_" #j ".mlp_out.kernel", 0, EX_W_ALL, "fe" }, \
	{ VE "blocks_" #j ".mlp_out.bias", 0, EX_W_ALL, "e" }

static const struct ex_weight q5_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.logits_dense.kernel", 0, EX_W_ALL, "DT" },
	{ "decoder.{L}.input_layernorm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.post_attention_layernorm.scale", 0, EX_W_ALL, "D" },
	/* full attention */
	{ ATT "attention.query.kernel", 0, Q5_W_FULL, "DQg" },
	{ ATT "attention.key.kernel", 0, Q5_W_FULL, "DKh" },
	{ ATT "attention.value.kernel", 0, Q5_W_FULL, "DKh" },
	{ ATT "attention.out.kernel", 0, Q5_W_FULL, "oD" },
	{ ATT "attention.query_norm.scale", 0, Q5_W_FULL, "h" },
	{ ATT "attention.key_norm.scale", 0, Q5_W_FULL, "h" },
	/* gated delta net: fused, grouped by key head */
	{ ATT "in_proj_qkvz.kernel", 0, Q5_W_LINEAR, "Dw" },
	{ ATT "in_proj_ba.kernel", 0, Q5_W_LINEAR, "Dx" },
	{ ATT "conv1d.kernel", 0, Q5_W_LINEAR, "nuc" },
	{ ATT "A_log", 0, Q5_W_LINEAR, "v" },
	{ ATT "dt_bias", 0, Q5_W_LINEAR, "v" },
	{ ATT "norm.rms_norm.scale", 0, Q5_W_LINEAR, "b" },
	{ ATT "out_proj.kernel", 0, Q5_W_LINEAR, "zD" },
	/* MoE: routed experts, shared expert and its gate */
	{ "decoder.{L}.mlp.routed_experts.gate.kernel", 0, EX_W_ALL, "DE" },
	{ "decoder.{L}.mlp.routed_experts.wi_0", 0, EX_W_ALL, "EDM" },
	{ "decoder.{L}.mlp.routed_experts.wi_1", 0, EX_W_ALL, "EDM" },
	{ "decoder.{L}.mlp.routed_experts.wo", 0, EX_W_ALL, "EMD" },
	{ "decoder.{L}.mlp.shared_expert.wi_0.kernel", 0, EX_W_ALL, "Ds" },
	{ "decoder.{L}.mlp.shared_expert.wi_1.kernel", 0, EX_W_ALL, "Ds" },
	{ "decoder.{L}.mlp.shared_expert.wo.kernel", 0, EX_W_ALL, "sD" },
	{ "decoder.{L}.mlp.shared_expert_gate.kernel", 0, EX_W_ALL, "Du" },
	/* vision: patch conv [T, P, P, C, Dv] (see above), learned positions */
	{ VE "patch_embed.proj.{L}", 0, Q5_W_PATCH, "tpre" },
	{ VE "patch_embed.proj.bias", 0, EX_W_ALL, "e" },
	{ VE "pos_embed_interpolate.pos_embed", 0, EX_W_ALL, "qe" },
	Q5_BLOCK(0),
	Q5_BLOCK(1),
	/* the final merger: LayerNorm over Dv, then two Dense on the merged
	 * width */
	{ VP "merger.ln_q.scale", 0, EX_W_ALL, "e" },
	{ VP "merger.ln_q.bias", 0, EX_W_ALL, "e" },
	{ VP "merger.mlp_0.kernel", 0, EX_W_ALL, "mm" },
	{ VP "merger.mlp_0.bias", 0, EX_W_ALL, "m" },
	{ VP "merger.mlp_2.kernel", 0, EX_W_ALL, "mD" },
	{ VP "merger.mlp_2.bias", 0, EX_W_ALL, "D" },
};

_Static_assert(sizeof(q5_weights) / sizeof(q5_weights[0]) ==
	       26 + 3 + 16 * Q5_VISION_DEPTH + 6, "one Q5_BLOCK() per vision block");

/* 8 layers (two cycles); GDN with 2 key heads of 12 and 4 value heads of 8
 * (two value heads per key head, so the regrouping matters); head dim 32 so
 * that the partial rotary dims split into three mrope sections. */
static void q5_dims(struct ex_dims *d)
{
	d->L = 2 * Q5_CYCLE;
	d->X('h') = 32;
	d->X('k') = 2;
	d->X('v') = 4;
	d->X('a') = 12;
	d->X('b') = 8;
	d->X('n') = 4;
	d->X('s') = 48;
	d->X('g') = 2 * d->X('h');
	d->X('o') = d->HQ * d->X('h');
	d->X('w') = 2 * d->X('k') * d->X('a') + 2 * d->X('v') * d->X('b');
	d->X('x') = 2 * d->X('v');
	d->X('c') = 2 * d->X('k') * d->X('a') + d->X('v') * d->X('b');
	d->X('z') = d->X('v') * d->X('b');
	d->X('u') = 1;
	d->X('e') = 32;
	d->X('i') = 2;
	d->X('j') = 16;
	d->X('f') = 64;
	d->X('t') = 2;
	d->X('p') = 4;
	d->X('r') = 3;
	d->X('q') = 16;		/* a 4 x 4 grid */
	d->X('m') = d->X('e') * Q5_MERGE * Q5_MERGE;
}

/* The mapping walks the vision blocks with the decoder's layer index, so
 * the decoder needs at least as many layers as the tower has blocks. */
static int q5_check(const struct ex_dims *d)
{
	if (d->L % Q5_CYCLE || d->L < Q5_VISION_DEPTH)
		return ck_err(-EINVAL, "example: qwen3_5_moe needs a multiple of %d "
			      "layers, at least %d", Q5_CYCLE, Q5_VISION_DEPTH);
	return 0;
}

static int q5_full(uint64_t l)
{
	return (l + 1) % Q5_CYCLE == 0;
}

static uint64_t q5_mt_layers(const struct ex_dims *d)
{
	return d->L + d->X('p');
}

static int q5_in_layer(const struct ex_dims *d, unsigned when, uint64_t l)
{
	if (when == Q5_W_PATCH)
		return l >= d->L;
	if (l >= d->L)
		return 0;
	if (when == Q5_W_FULL)
		return q5_full(l);
	if (when == Q5_W_LINEAR)
		return !q5_full(l);
	return 1;
}

static void q5_place(const struct ex_dims *d, int scanned, uint64_t l,
		     struct ex_place *p)
{
	if (l >= d->L) {
		/* the patch kernel's axis 1, in both layouts */
		snprintf(p->container, sizeof(p->container), "kernel");
		p->stacked = 1;
		p->index = l - d->L;
		p->len = d->X('p');
	} else if (scanned) {
		snprintf(p->container, sizeof(p->container), "layers.layer_%llu",
			 U(l % Q5_CYCLE));
		p->index = l / Q5_CYCLE;
		p->len = d->L / Q5_CYCLE;
	} else {
		snprintf(p->container, sizeof(p->container), "layers_%llu", U(l));
	}
}

/* Qwen3_5MoeConfig: the text config nested, token ids inside the tiny
 * vocabulary, mrope sections summing to head_dim * 0.25 / 2. */
static void q5_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	uint64_t rot = d->X('h') / 4 / 2, s1 = rot / 4, s0 = rot - 2 * s1;

	fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n"
		"  \"image_token_id\": 250,\n  \"video_token_id\": 251,\n"
		"  \"vision_start_token_id\": 252,\n  \"vision_end_token_id\": 253,\n"
		"  \"tie_word_embeddings\": false,\n  \"torch_dtype\": \"bfloat16\",\n"
		"  \"text_config\": {\n    \"model_type\": \"%s_text\",\n"
		"    \"attention_bias\": false,\n    \"attention_dropout\": 0.0,\n"
		"    \"attn_output_gate\": true,\n    \"bos_token_id\": 1,\n"
		"    \"eos_token_id\": 2,\n    \"full_attention_interval\": %d,\n"
		"    \"head_dim\": %llu,\n    \"hidden_act\": \"silu\",\n"
		"    \"hidden_size\": %llu,\n    \"initializer_range\": 0.02,\n"
		"    \"linear_conv_kernel_dim\": %llu,\n    \"linear_key_head_dim\": %llu,\n"
		"    \"linear_num_key_heads\": %llu,\n    \"linear_num_value_heads\": %llu,\n"
		"    \"linear_value_head_dim\": %llu,\n    \"mamba_ssm_dtype\": \"float32\",\n"
		"    \"max_position_embeddings\": 2048,\n    \"mlp_only_layers\": [],\n"
		"    \"moe_intermediate_size\": %llu,\n    \"mtp_num_hidden_layers\": 1,\n"
		"    \"mtp_use_dedicated_embeddings\": false,\n"
		"    \"num_attention_heads\": %llu,\n    \"num_experts\": %llu,\n"
		"    \"num_experts_per_tok\": 2,\n    \"num_hidden_layers\": %llu,\n"
		"    \"num_key_value_heads\": %llu,\n    \"rms_norm_eps\": 1e-06,\n"
		"    \"rope_parameters\": {\"mrope_interleaved\": true, \"mrope_section\": "
		"[%llu, %llu, %llu], \"partial_rotary_factor\": 0.25, "
		"\"rope_theta\": 10000000, \"rope_type\": \"default\"},\n"
		"    \"router_aux_loss_coef\": 0.001,\n"
		"    \"shared_expert_intermediate_size\": %llu,\n"
		"    \"tie_word_embeddings\": false,\n    \"use_cache\": true,\n"
		"    \"vocab_size\": %llu,\n    \"layer_types\": [",
		fam->arch, fam->name, fam->name, Q5_CYCLE, U(d->X('h')), U(d->D),
		U(d->X('n')), U(d->X('a')), U(d->X('k')), U(d->X('v')), U(d->X('b')),
		U(d->M), U(d->HQ), U(d->E), U(d->L), U(d->HKV), U(s0), U(s1), U(s1),
		U(d->X('s')), U(d->V));
	for (uint64_t i = 0; i < d->L; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "",
			q5_full(i) ? "full_attention" : "linear_attention");
	fprintf(f, "]\n  },\n  \"vision_config\": {\n"
		"    \"deepstack_visual_indexes\": [],\n    \"depth\": %d,\n"
		"    \"hidden_act\": \"gelu_pytorch_tanh\",\n    \"hidden_size\": %llu,\n"
		"    \"in_channels\": %llu,\n    \"initializer_range\": 0.02,\n"
		"    \"intermediate_size\": %llu,\n    \"model_type\": \"%s\",\n"
		"    \"num_heads\": %llu,\n    \"num_position_embeddings\": %llu,\n"
		"    \"out_hidden_size\": %llu,\n    \"patch_size\": %llu,\n"
		"    \"spatial_merge_size\": %d,\n    \"temporal_patch_size\": %llu\n  }\n",
		Q5_VISION_DEPTH, U(d->X('e')), U(d->X('r')), U(d->X('f')), fam->name,
		U(d->X('i')), U(d->X('q')), U(d->D), U(d->X('p')), Q5_MERGE,
		U(d->X('t')));
}

const struct ex_family ex_family_qwen3_5_moe = {
	.name = "qwen3_5_moe",
	.arch = "Qwen3_5MoeForConditionalGeneration",
	.cycle = Q5_CYCLE,
	.weights = q5_weights,
	.nweights = sizeof(q5_weights) / sizeof(q5_weights[0]),
	.dims = q5_dims,
	.check = q5_check,
	.in_layer = q5_in_layer,
	.place = q5_place,
	.mt_layers = q5_mt_layers,
	.config = q5_config,
};
