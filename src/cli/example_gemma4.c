/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny Gemma4 models of `ckptfs example` (see
 * example.h), as maxtext-mapping.md §4.3 and §4.4 list their MaxText
 * weights.  All three write a Gemma4ForConditionalGeneration config.json
 * (model_type gemma4, the text model in text_config, no audio tower):
 *
 *   gemma4        like gemma4-26b: MoE (a shared expert, the router, 4
 *                 routed experts), K = V on the global layers, and a tiny
 *                 vision tower with its projector;
 *   gemma4_dense  like gemma4-31b: a dense MLP, K = V on the global layers,
 *                 the vision tower;
 *   gemma4_small  like gemma4-e2b: unscanned only; a global layer every 5th
 *                 layer, the last 4 layers reuse earlier layers' keys and
 *                 values (no key/value kernels, no key norm) and have a
 *                 double-wide MLP; per-layer embeddings; no vision tower
 *                 (MaxText exports none for the small models).
 *
 * Global (full-attention) layers have their own head dim and, with K = V,
 * their own kv head count and no value kernel, so their attention weights
 * are separate entries below (same MaxText names, other layers).  Scanned
 * (the first two), a block of 6 layers is 5 local layers, doubly stacked in
 * scanned_blocks.local_layers as [.., block, local, ..], and the global one,
 * stacked in scanned_blocks.global_layer as [.., block, ..].  MaxText never
 * scans the vision encoder: its layers are layer_{j} in both layouts.
 *
 * Family-specific shape letters (not scaled by --scale): g global head dim,
 * k global kv heads, o a [1] scalar, p per-layer-input dim, v its vocab,
 * l layers * p, w the double-wide MLP (2 * F); the vision letters are listed
 * at g4_weights[].  Family flags kept among them: c global-layer period,
 * m MoE, e K = V, s KV-shared layers, d double-wide, f and n the F and L
 * that w and l were derived from.
 */
#include "cli/example.h"

#include <errno.h>

#include "util/ck_err.h"

#define U(x) ((unsigned long long)(x))
#define X(c) x[(c) - 'a']

/* Which layers hold a weight (ex_weight.when). */
enum {
	G4_W_ALL,		/* every layer */
	G4_W_LOCAL,		/* sliding-window layers */
	G4_W_GLOBAL,		/* full-attention layers */
	G4_W_KV_LOCAL,		/* local layers with their own keys/values */
	G4_W_KV_GLOBAL,		/* global layers with their own keys */
	G4_W_V_GLOBAL,		/* ... and their own values (no K = V) */
	G4_W_MLP,		/* dense MLP of the usual width */
	G4_W_MLP_WIDE,		/* dense MLP, double width */
	G4_W_MOE,		/* MoE layers (all, when MoE) */
	G4_W_PLE,		/* per-layer embedding inputs */
};

#define SA "decoder.{L}.self_attention."
#define MOE "decoder.{L}.mlp.moe_block."

/*
 * Value-id order (tests/tools/expect_gemma4.py's BASE, then VISION or
 * PLE_TABLES): the layer weights every example lists (in_layer() picks
 * those of a family's layers), then the vision tower of gemma4 and
 * gemma4_dense, or the per-layer-embedding tables of gemma4_small.
 */
#define G4_BASE \
	{ "token_embedder.embedding", 0, G4_W_ALL, "TD" }, \
	{ "decoder.decoder_norm.scale", 0, G4_W_ALL, "D" }, \
	{ "decoder.{L}.pre_self_attention_norm.scale", 0, G4_W_ALL, "D" }, \
	{ "decoder.{L}.post_self_attention_norm.scale", 0, G4_W_ALL, "D" }, \
	{ "decoder.{L}.pre_ffw_norm.scale", 0, G4_W_ALL, "D" }, \
	{ "decoder.{L}.post_ffw_norm.scale", 0, G4_W_ALL, "D" }, \
	{ "decoder.{L}.layer_scalar", 0, G4_W_ALL, "o" }, \
	{ SA "query_norm.scale", 0, G4_W_LOCAL, "H" }, \
	{ SA "query_norm.scale", 0, G4_W_GLOBAL, "g" }, \
	{ SA "key_norm.scale", 0, G4_W_KV_LOCAL, "H" }, \
	{ SA "key_norm.scale", 0, G4_W_KV_GLOBAL, "g" }, \
	{ SA "query.kernel", 0, G4_W_LOCAL, "DQH" }, \
	{ SA "query.kernel", 0, G4_W_GLOBAL, "DQg" }, \
	{ SA "key.kernel", 0, G4_W_KV_LOCAL, "DKH" }, \
	{ SA "key.kernel", 0, G4_W_KV_GLOBAL, "Dkg" }, \
	{ SA "value.kernel", 0, G4_W_KV_LOCAL, "DKH" }, \
	{ SA "value.kernel", 0, G4_W_V_GLOBAL, "Dkg" }, \
	{ SA "out.kernel", 0, G4_W_LOCAL, "QHD" }, \
	{ SA "out.kernel", 0, G4_W_GLOBAL, "QgD" }, \
	/* dense MLP (gemma4_dense, gemma4_small) */ \
	{ "decoder.{L}.mlp.wi_0.kernel", 0, G4_W_MLP, "DF" }, \
	{ "decoder.{L}.mlp.wi_1.kernel", 0, G4_W_MLP, "DF" }, \
	{ "decoder.{L}.mlp.wo.kernel", 0, G4_W_MLP, "FD" }, \
	{ "decoder.{L}.mlp.wi_0.kernel", 0, G4_W_MLP_WIDE, "Dw" }, \
	{ "decoder.{L}.mlp.wi_1.kernel", 0, G4_W_MLP_WIDE, "Dw" }, \
	{ "decoder.{L}.mlp.wo.kernel", 0, G4_W_MLP_WIDE, "wD" }, \
	/* MoE (gemma4): shared expert, router, routed experts, extra norms */ \
	{ MOE "shared_experts.wi_0.kernel", 0, G4_W_MOE, "DF" }, \
	{ MOE "shared_experts.wi_1.kernel", 0, G4_W_MOE, "DF" }, \
	{ MOE "shared_experts.wo.kernel", 0, G4_W_MOE, "FD" }, \
	{ MOE "MoeBlock_0.gate.kernel", 0, G4_W_MOE, "DE" }, \
	{ "decoder.{L}.mlp.pre_forward_scale_2", 0, G4_W_MOE, "D" }, \
	{ MOE "MoeBlock_0.per_expert_scale", 0, G4_W_MOE, "E" }, \
	{ MOE "MoeBlock_0.wi_0", 0, G4_W_MOE, "EDM" }, \
	{ MOE "MoeBlock_0.wi_1", 0, G4_W_MOE, "EDM" }, \
	{ MOE "MoeBlock_0.wo", 0, G4_W_MOE, "EMD" }, \
	{ "decoder.{L}.mlp.pre_feedforward_layernorm_2.scale", 0, G4_W_MOE, "D" }, \
	{ "decoder.{L}.mlp.post_feedforward_layernorm_1.scale", 0, G4_W_MOE, "D" }, \
	{ "decoder.{L}.mlp.post_feedforward_layernorm_2.scale", 0, G4_W_MOE, "D" }, \
	/* per-layer embedding inputs (gemma4_small) */ \
	{ "decoder.{L}.per_layer_input_gate.kernel", 0, G4_W_PLE, "Dp" }, \
	{ "decoder.{L}.per_layer_projection.kernel", 0, G4_W_PLE, "pD" }, \
	{ "decoder.{L}.post_per_layer_input_norm.scale", 0, G4_W_PLE, "D" }

/* One vision encoder layer (never scanned: layer_{j} in both layouts). */
#define VIS "vision_encoder.Gemma4VisionEncoderLayer_0."
#define VLAYER(j) \
	{ VIS "layer_" #j ".attention.query.kernel", 0, G4_W_ALL, "abj" }, \
	{ VIS "layer_" #j ".attention.key.kernel", 0, G4_W_ALL, "abj" }, \
	{ VIS "layer_" #j ".attention.value.kernel", 0, G4_W_ALL, "abj" }, \
	{ VIS "layer_" #j ".attention.out.kernel", 0, G4_W_ALL, "bja" }, \
	{ VIS "layer_" #j ".attention.query_norm.scale", 0, G4_W_ALL, "j" }, \
	{ VIS "layer_" #j ".attention.key_norm.scale", 0, G4_W_ALL, "j" }, \
	{ VIS "layer_" #j ".pre_attention_norm.scale", 0, G4_W_ALL, "a" }, \
	{ VIS "layer_" #j ".post_attention_norm.scale", 0, G4_W_ALL, "a" }, \
	{ VIS "layer_" #j ".pre_ffw_norm.scale", 0, G4_W_ALL, "a" }, \
	{ VIS "layer_" #j ".post_ffw_norm.scale", 0, G4_W_ALL, "a" }, \
	{ VIS "layer_" #j ".mlp.wi_0.kernel", 0, G4_W_ALL, "aq" }, \
	{ VIS "layer_" #j ".mlp.wi_1.kernel", 0, G4_W_ALL, "aq" }, \
	{ VIS "layer_" #j ".mlp.wo.kernel", 0, G4_W_ALL, "qa" }

#define G4_VISION_LAYERS 2

/* gemma4, gemma4_dense: the text model and the vision tower.  Vision shape
 * letters: a hidden, b heads, j head dim, q mlp, r 3 * patch^2 (the
 * flattened RGB patch), t position-table size, u 2 (x and y). */
static const struct ex_weight g4_weights[] = {
	G4_BASE,
	{ VIS "vision_entry.input_projection.kernel", 0, G4_W_ALL, "ra" },
	{ VIS "vision_entry.pos_emb_param", 0, G4_W_ALL, "tua" },
	{ VIS "std_scale", 0, G4_W_ALL, "a" },
	{ VIS "std_bias", 0, G4_W_ALL, "a" },
	VLAYER(0),
	VLAYER(1),
	{ "vision_encoder.Gemma4VisionProjector_0.projection.kernel", 0, G4_W_ALL, "aD" },
};

/* gemma4_small: the text model with its per-layer-embedding tables. */
static const struct ex_weight g4_small_weights[] = {
	G4_BASE,
	{ "decoder.per_layer_embedder.embed_tokens_per_layer", 0, G4_W_ALL, "vl" },
	{ "decoder.per_layer_embedder.per_layer_model_projection.kernel", 0, G4_W_ALL, "Dl" },
	{ "decoder.per_layer_embedder.per_layer_projection_norm.scale", 0, G4_W_ALL, "p" },
};

#define NW(t) (sizeof(t) / sizeof((t)[0]))

_Static_assert(NW(g4_weights) == NW(g4_small_weights) - 3 + 5 + 13 * G4_VISION_LAYERS,
	       "one VLAYER() per vision layer");

/* The defaults every Gemma4 example shares: a hidden size whose square root
 * is inexact (the embedding normalizer), and a global head dim of its own. */
static void g4_common(struct ex_dims *d)
{
	d->D = 48;
	d->HQ = 4;
	d->HKV = 2;
	d->HD = 16;
	d->F = 64;
	d->X('g') = 48;		/* differs from HD at --scale 1 and 2 */
	d->X('o') = 1;
	d->X('c') = 6;
}

/* The tiny vision tower: patch 4, a 16-entry position table, 2 heads. */
static void g4_vision_dims(struct ex_dims *d)
{
	d->X('a') = 32;
	d->X('b') = 2;
	d->X('j') = 16;
	d->X('q') = 64;
	d->X('r') = 3 * 4 * 4;
	d->X('t') = 16;
	d->X('u') = 2;
}

/* 12 layers: two blocks of 5 local + 1 global. */
static void g4_moe_dims(struct ex_dims *d)
{
	g4_common(d);
	g4_vision_dims(d);
	d->L = 12;
	d->X('k') = 1;
	d->X('e') = 1;
	d->X('m') = 1;
}

static void g4_dense_dims(struct ex_dims *d)
{
	g4_common(d);
	g4_vision_dims(d);
	d->L = 12;
	d->X('k') = 1;
	d->X('e') = 1;
}

/* Like gemma4-e2b: 10 layers, global every 5th (4, 9), the last 4 KV-shared
 * with a double-wide MLP; no K = V, so global layers use the kv heads. */
static void g4_small_dims(struct ex_dims *d)
{
	g4_common(d);
	d->L = 10;
	d->HKV = 1;
	d->X('k') = d->HKV;
	d->X('c') = 5;
	d->X('s') = 4;
	d->X('d') = 1;
	d->X('p') = 8;
	d->X('v') = 128;
	d->X('l') = d->L * d->X('p');
	d->X('w') = 2 * d->F;
	d->X('f') = d->F;
	d->X('n') = d->L;
}

/* Scanned blocks hold 6 layers; HF forces the last layer global. */
static int g4_check(const struct ex_dims *d)
{
	if (d->L % 6)
		return ck_err(-EINVAL, "example: gemma4 needs a multiple of 6 layers");
	return 0;
}

static int g4_small_check(const struct ex_dims *d)
{
	if (d->F != d->X('f') || d->L != d->X('n'))
		return ck_err(-EINVAL, "example: gemma4_small has fixed dims "
			      "(no --scale or --layers)");
	return 0;
}

static int g4_global(const struct ex_dims *d, uint64_t l)
{
	return (l + 1) % d->X('c') == 0;
}

static int g4_shared(const struct ex_dims *d, uint64_t l)
{
	return d->X('s') && l >= d->L - d->X('s');
}

static int g4_in_layer(const struct ex_dims *d, unsigned when, uint64_t l)
{
	int glob = g4_global(d, l), sh = g4_shared(d, l), moe = d->X('m') != 0;
	int wide = sh && d->X('d');

	switch (when) {
	case G4_W_LOCAL: return !glob;
	case G4_W_GLOBAL: return glob;
	case G4_W_KV_LOCAL: return !glob && !sh;
	case G4_W_KV_GLOBAL: return glob && !sh;
	case G4_W_V_GLOBAL: return glob && !sh && !d->X('e');
	case G4_W_MLP: return !moe && !wide;
	case G4_W_MLP_WIDE: return !moe && wide;
	case G4_W_MOE: return moe;
	case G4_W_PLE: return d->X('p') != 0;
	default: return 1;
	}
}

static void g4_place(const struct ex_dims *d, int scanned, uint64_t l,
		     struct ex_place *p)
{
	if (!scanned) {
		snprintf(p->container, sizeof(p->container), "layers_%llu", U(l));
		p->stacked = 0;
		return;
	}
	p->index = l / 6;
	p->len = d->L / 6;
	if (g4_global(d, l)) {
		snprintf(p->container, sizeof(p->container), "scanned_blocks.global_layer");
		p->stacked = 1;
	} else {
		snprintf(p->container, sizeof(p->container), "scanned_blocks.local_layers");
		p->stacked = 2;
		p->index2 = l % 6;
		p->len2 = 5;
	}
}

#define I4 "    "

/* Gemma4TextConfig, nested. */
static void g4_text_config(FILE *f, const struct ex_dims *d)
{
	int moe = d->X('m') != 0, keqv = d->X('e') != 0;

	fprintf(f, "  \"text_config\": {\n" I4 "\"model_type\": \"gemma4_text\",\n"
		I4 "\"hidden_size\": %llu,\n" I4 "\"num_hidden_layers\": %llu,\n"
		I4 "\"num_attention_heads\": %llu,\n" I4 "\"num_key_value_heads\": %llu,\n"
		I4 "\"head_dim\": %llu,\n" I4 "\"global_head_dim\": %llu,\n"
		I4 "\"num_global_key_value_heads\": ",
		U(d->D), U(d->L), U(d->HQ), U(d->HKV), U(d->HD), U(d->X('g')));
	if (keqv)
		fprintf(f, "%llu,\n", U(d->X('k')));
	else
		fprintf(f, "null,\n");
	fprintf(f, I4 "\"attention_k_eq_v\": %s,\n" I4 "\"intermediate_size\": %llu,\n"
		I4 "\"enable_moe_block\": %s,\n",
		keqv ? "true" : "false", U(d->F), moe ? "true" : "false");
	if (moe)
		fprintf(f, I4 "\"num_experts\": %llu,\n" I4 "\"top_k_experts\": 2,\n"
			I4 "\"moe_intermediate_size\": %llu,\n", U(d->E), U(d->M));
	else
		fprintf(f, I4 "\"num_experts\": null,\n" I4 "\"top_k_experts\": null,\n"
			I4 "\"moe_intermediate_size\": null,\n");
	fprintf(f, I4 "\"num_kv_shared_layers\": %llu,\n"
		I4 "\"use_double_wide_mlp\": %s,\n"
		I4 "\"hidden_size_per_layer_input\": %llu,\n"
		I4 "\"vocab_size_per_layer_input\": %llu,\n"
		I4 "\"vocab_size\": %llu,\n" I4 "\"max_position_embeddings\": 2048,\n"
		I4 "\"attention_bias\": false,\n" I4 "\"attention_dropout\": 0.0,\n"
		I4 "\"pad_token_id\": 0,\n" I4 "\"eos_token_id\": 1,\n" I4 "\"bos_token_id\": 2,\n"
		I4 "\"hidden_activation\": \"gelu_pytorch_tanh\",\n"
		I4 "\"initializer_range\": 0.02,\n" I4 "\"rms_norm_eps\": 1e-06,\n"
		I4 "\"final_logit_softcapping\": 30.0,\n"
		I4 "\"rope_parameters\": {\"full_attention\": {\"partial_rotary_factor\": 0.25, "
		"\"rope_theta\": 1000000.0, \"rope_type\": \"proportional\"}, "
		"\"sliding_attention\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}},\n"
		I4 "\"sliding_window\": %d,\n" I4 "\"use_bidirectional_attention\": %s,\n"
		I4 "\"tie_word_embeddings\": true,\n" I4 "\"use_cache\": true,\n",
		U(d->X('s')), d->X('d') ? "true" : "false", U(d->X('p')),
		U(d->X('p') ? d->X('v') : d->V), U(d->V), d->X('p') ? 512 : 1024,
		d->X('p') ? "null" : "\"vision\"");
	ex_config_layer_types(f, d, (unsigned)d->X('c'), I4);
	fprintf(f, I4 "\"dtype\": \"bfloat16\"\n  },\n");
}

/* Gemma4VisionConfig of the tiny tower (sizes of the vision arrays). */
static void g4_vision_config(FILE *f, const struct ex_dims *d)
{
	fprintf(f, "  \"vision_config\": {\n" I4 "\"model_type\": \"gemma4_vision\",\n"
		I4 "\"hidden_size\": %llu,\n" I4 "\"intermediate_size\": %llu,\n"
		I4 "\"num_hidden_layers\": %d,\n" I4 "\"num_attention_heads\": %llu,\n"
		I4 "\"num_key_value_heads\": %llu,\n" I4 "\"head_dim\": %llu,\n"
		I4 "\"global_head_dim\": %llu,\n" I4 "\"patch_size\": 4,\n"
		I4 "\"position_embedding_size\": %llu,\n" I4 "\"pooling_kernel_size\": 2,\n"
		I4 "\"default_output_length\": 4,\n" I4 "\"standardize\": true,\n"
		I4 "\"use_clipped_linears\": false,\n"
		I4 "\"hidden_activation\": \"gelu_pytorch_tanh\",\n"
		I4 "\"rms_norm_eps\": 1e-06,\n" I4 "\"max_position_embeddings\": 2048,\n"
		I4 "\"attention_bias\": false,\n" I4 "\"attention_dropout\": 0.0,\n"
		I4 "\"initializer_range\": 0.02,\n"
		I4 "\"rope_parameters\": {\"rope_theta\": 100.0, \"rope_type\": \"default\"},\n"
		I4 "\"dtype\": \"bfloat16\"\n  },\n",
		U(d->X('a')), U(d->X('q')), G4_VISION_LAYERS, U(d->X('b')), U(d->X('b')),
		U(d->X('j')), U(d->X('j')), U(d->X('t')));
}

/* Gemma4ForConditionalGeneration without an audio tower (and, for the small
 * model, without a vision tower); the special token ids are moved into the
 * tiny vocabulary. */
static void g4_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	int vision = d->X('a') != 0;

	fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"gemma4\",\n"
		"  \"audio_config\": null,\n"
		"  \"audio_token_id\": 247,\n  \"boa_token_id\": 248,\n"
		"  \"boi_token_id\": 249,\n  \"eoa_token_id\": 250,\n"
		"  \"eoa_token_index\": 250,\n  \"eoi_token_id\": 251,\n"
		"  \"image_token_id\": 252,\n  \"video_token_id\": 253,\n"
		"  \"eos_token_id\": [1, 106],\n  \"initializer_range\": 0.02,\n"
		"  \"torch_dtype\": \"bfloat16\",\n", fam->arch);
	g4_text_config(f, d);
	if (vision) {
		g4_vision_config(f, d);
		fprintf(f, "  \"vision_soft_tokens_per_image\": 4,\n");
	} else {
		fprintf(f, "  \"vision_config\": null,\n");
	}
	fprintf(f, "  \"tie_word_embeddings\": true\n");
}

const struct ex_family ex_family_gemma4 = {
	.name = "gemma4",
	.arch = "Gemma4ForConditionalGeneration",
	.weights = g4_weights,
	.nweights = NW(g4_weights),
	.dims = g4_moe_dims,
	.check = g4_check,
	.in_layer = g4_in_layer,
	.place = g4_place,
	.config = g4_config,
};

const struct ex_family ex_family_gemma4_dense = {
	.name = "gemma4_dense",
	.arch = "Gemma4ForConditionalGeneration",
	.weights = g4_weights,
	.nweights = NW(g4_weights),
	.dims = g4_dense_dims,
	.check = g4_check,
	.in_layer = g4_in_layer,
	.place = g4_place,
	.config = g4_config,
};

const struct ex_family ex_family_gemma4_small = {
	.name = "gemma4_small",
	.arch = "Gemma4ForConditionalGeneration",
	.weights = g4_small_weights,
	.nweights = NW(g4_small_weights),
	.unscanned_only = 1,
	.dims = g4_small_dims,
	.check = g4_small_check,
	.in_layer = g4_in_layer,
	.place = g4_place,
	.config = g4_config,
};
