/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny Gemma3ForConditionalGeneration model of
 * `ckptfs example --family gemma3` (see example.h): the Gemma3 text decoder
 * (5 local + 1 global layers; scanned as layers.layers_{l % 6} stacked over
 * blocks plus the unstacked layers_remainder) and the SigLIP vision tower
 * with its multimodal projector, as maxtext-mapping.md §4.2 lists them.
 *
 * MaxText never scans the vision encoder (Gemma3VisionEncoderLayer builds
 * its Encoder with scan=False), so each vision block is its own
 * encoderblock_{j} container in both layouts; the tiny tower has
 * EX_G3_VISION_LAYERS of them, written out below.  Its dimensions are the
 * family-specific shape letters (not scaled by --scale): p patch size,
 * c channels, v vision hidden size, h vision heads, d vision head dim,
 * f vision mlp, n patches, o a leading axis of 1.
 */
#include "cli/example.h"

#define EX_G3_VISION_LAYERS 2
#define EX_G3_IMAGE_SIZE 56
#define EX_G3_PATCH 14
#define EX_G3_MM_TOKENS 4	/* avg-pooled from (56 / 14)^2 = 16 patches */

#define U(x) ((unsigned long long)(x))
#define X(c) x[(c) - 'a']

#define VIS "vision_encoder.Gemma3VisionEncoderLayer_0."
#define BLOCK(j, tail) VIS "Transformer.encoderblock_" #j "." tail
#define ATTN(j, tail) BLOCK(j, "MultiHeadDotProductAttention_0." tail)
#define MLP(j, tail) BLOCK(j, "MlpBlockViT_0." tail)
#define VISION_BLOCK(j) \
	{ BLOCK(j, "LayerNorm_0.scale"), 0, EX_W_ALL, "v" }, \
	{ BLOCK(j, "LayerNorm_0.bias"), 0, EX_W_ALL, "v" }, \
	{ BLOCK(j, "LayerNorm_1.scale"), 0, EX_W_ALL, "v" }, \
	{ BLOCK(j, "LayerNorm_1.bias"), 0, EX_W_ALL, "v" }, \
	{ ATTN(j, "query.kernel"), 0, EX_W_ALL, "vhd" }, \
	{ ATTN(j, "key.kernel"), 0, EX_W_ALL, "vhd" }, \
	{ ATTN(j, "value.kernel"), 0, EX_W_ALL, "vhd" }, \
	{ ATTN(j, "query.bias"), 0, EX_W_ALL, "hd" }, \
	{ ATTN(j, "key.bias"), 0, EX_W_ALL, "hd" }, \
	{ ATTN(j, "value.bias"), 0, EX_W_ALL, "hd" }, \
	{ ATTN(j, "out.kernel"), 0, EX_W_ALL, "hdv" }, \
	{ ATTN(j, "out.bias"), 0, EX_W_ALL, "v" }, \
	{ MLP(j, "Dense_0.kernel"), 0, EX_W_ALL, "vf" }, \
	{ MLP(j, "Dense_0.bias"), 0, EX_W_ALL, "f" }, \
	{ MLP(j, "Dense_1.kernel"), 0, EX_W_ALL, "fv" }, \
	{ MLP(j, "Dense_1.bias"), 0, EX_W_ALL, "v" }

/*
 * Value-id order: the text weights as the classic table had them (tied: no
 * logits_dense), then the vision tower, then the projector.
 */
static const struct ex_weight g3_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.pre_self_attention_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.post_self_attention_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.pre_ffw_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.post_ffw_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.self_attention.query_norm.scale", 0, EX_W_ALL, "H" },
	{ "decoder.{L}.self_attention.key_norm.scale", 0, EX_W_ALL, "H" },
	{ "decoder.{L}.self_attention.query.kernel", 0, EX_W_ALL, "DQH" },
	{ "decoder.{L}.self_attention.key.kernel", 0, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention.value.kernel", 0, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention.out.kernel", 0, EX_W_ALL, "QHD" },
	{ "decoder.{L}.mlp.wi_0.kernel", 0, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wi_1.kernel", 0, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wo.kernel", 0, EX_W_ALL, "FD" },
	/* SigLIP: HWIO patch conv, learned positions [1, N, Dv] */
	{ VIS "embedding.kernel", 0, EX_W_ALL, "ppcv" },
	{ VIS "embedding.bias", 0, EX_W_ALL, "v" },
	{ VIS "pos_embedding", 0, EX_W_ALL, "onv" },
	{ VIS "Transformer.encoder_norm.scale", 0, EX_W_ALL, "v" },
	{ VIS "Transformer.encoder_norm.bias", 0, EX_W_ALL, "v" },
	VISION_BLOCK(0),
	VISION_BLOCK(1),
	/* the projector: w is [Dv, D], stored +1 norm */
	{ "vision_encoder.VisionEmbedder_0.mm_input_projection.w", 0, EX_W_ALL, "vD" },
	{ "vision_encoder.VisionEmbedder_0.mm_soft_embedding_norm.scale", 0, EX_W_ALL, "v" },
};

_Static_assert(sizeof(g3_weights) / sizeof(g3_weights[0]) ==
	       15 + 5 + 16 * EX_G3_VISION_LAYERS + 2,
	       "one VISION_BLOCK() per vision layer");

static void g3_dims(struct ex_dims *d)
{
	d->X('p') = EX_G3_PATCH;
	d->X('c') = 3;
	d->X('v') = 32;
	d->X('h') = 2;
	d->X('d') = 16;
	d->X('f') = 64;
	d->X('n') = (EX_G3_IMAGE_SIZE / EX_G3_PATCH) * (EX_G3_IMAGE_SIZE / EX_G3_PATCH);
	d->X('o') = 1;
}

/* The text config, nested (Gemma3TextConfig). */
static void g3_text_config(FILE *f, const struct ex_dims *d)
{
	fprintf(f, "  \"text_config\": {\n    \"model_type\": \"gemma3_text\",\n"
		"    \"hidden_size\": %llu,\n    \"num_hidden_layers\": %llu,\n"
		"    \"num_attention_heads\": %llu,\n    \"num_key_value_heads\": %llu,\n"
		"    \"vocab_size\": %llu,\n    \"max_position_embeddings\": 2048,\n"
		"    \"attention_bias\": false,\n    \"attention_dropout\": 0.0,\n"
		"    \"pad_token_id\": 0,\n    \"eos_token_id\": 1,\n    \"bos_token_id\": 2,\n"
		"    \"head_dim\": %llu,\n    \"hidden_activation\": \"gelu_pytorch_tanh\",\n"
		"    \"intermediate_size\": %llu,\n    \"rms_norm_eps\": 1e-06,\n"
		"    \"query_pre_attn_scalar\": %llu,\n    \"tie_word_embeddings\": true,\n"
		"    \"rope_theta\": 1000000.0,\n    \"rope_local_base_freq\": 10000.0,\n"
		"    \"rope_scaling\": null,\n    \"sliding_window\": 512,\n"
		"    \"sliding_window_pattern\": 6,\n    \"final_logit_softcapping\": null,\n"
		"    \"attn_logit_softcapping\": null,\n",
		U(d->D), U(d->L), U(d->HQ), U(d->HKV), U(d->V), U(d->HD), U(d->F), U(d->HD));
	ex_config_layer_types(f, d, 6, "    ");
	fprintf(f, "    \"cache_implementation\": \"hybrid\"\n  },\n");
}

/* Gemma3ForConditionalGeneration: the text config and a tiny SigLIP, whose
 * sizes are those of the vision arrays above. */
static void g3_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n"
		"  \"boi_token_index\": 250,\n  \"eoi_token_index\": 251,\n"
		"  \"image_token_index\": 252,\n  \"mm_tokens_per_image\": %d,\n"
		"  \"initializer_range\": 0.02,\n  \"torch_dtype\": \"bfloat16\",\n",
		fam->arch, fam->name, EX_G3_MM_TOKENS);
	g3_text_config(f, d);
	fprintf(f, "  \"vision_config\": {\n    \"model_type\": \"siglip_vision_model\",\n"
		"    \"hidden_size\": %llu,\n    \"intermediate_size\": %llu,\n"
		"    \"num_attention_heads\": %llu,\n    \"num_hidden_layers\": %d,\n"
		"    \"num_channels\": %llu,\n    \"image_size\": %d,\n"
		"    \"patch_size\": %llu,\n    \"hidden_act\": \"gelu_pytorch_tanh\",\n"
		"    \"layer_norm_eps\": 1e-06,\n    \"attention_dropout\": 0.0,\n"
		"    \"vision_use_head\": false\n  },\n"
		"  \"tie_word_embeddings\": true\n",
		U(d->X('v')), U(d->X('f')), U(d->X('h')), EX_G3_VISION_LAYERS,
		U(d->X('c')), EX_G3_IMAGE_SIZE, U(d->X('p')));
}

/*
 * EX_GEMMA3 (in EX_TIED): the Gemma defaults (hidden 48, 14 layers: two
 * blocks of 6 and a remainder of 2) and MaxText's padded vocabulary; cycle 6
 * gives the built-in Gemma3 placement.
 */
const struct ex_family ex_family_gemma3 = {
	.name = "gemma3",
	.arch = "Gemma3ForConditionalGeneration",
	.bit = EX_GEMMA3,
	.cycle = 6,
	.weights = g3_weights,
	.nweights = sizeof(g3_weights) / sizeof(g3_weights[0]),
	.dims = g3_dims,
	.config = g3_config,
};
