/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny DeepseekV4ForCausalLM model of
 * `ckptfs example --family deepseek_v4` (see example.h), with the MaxText
 * weights of maxtext-mapping.md §4.11 (MaxText's deepseek4 decoder block):
 *
 *   every layer: the two norms; compressed attention (wq_a, q_norm, wq_b,
 *   wkv, kv_norm, the per-head sinks, the grouped o_a_proj and o_b_proj);
 *   two mHC blocks (mhc_attention, mhc_mlp: norm, pre/post/res alpha, beta
 *   and alpha scale); the MoE block (router, routed experts, a shared
 *   expert);
 *   layers below num_hash_layers (3): the hash-routing table tid2eid
 *   [vocab, top-k], and no router bias; the others: the router bias;
 *   compress_ratios: 0 for layers 0 and 1, then 4 (a CSA compressor with
 *   its indexer) on even and 128 (an HCA compressor) on odd layers, as in
 *   deepseek4-284b;
 *   the decoder: hc_head (hc_fn, hc_base, hc_scale) besides the final norm
 *   and the untied head.
 *
 * tid2eid and the router bias are written at the path MaxText's mapping
 * names for the bias (below params.params, like every example weight).
 *
 * Unscanned, layer l is decoder.layers_{l}.  Scanned, the 3 hash layers stay
 * unstacked as decoder.layers_{0,1,2}, and the rest come in two-layer blocks
 * stacked on axis 1: decoder.scanned_blocks.layers_0 holds layers 3, 5, ...
 * (HCA) and layers_1 layers 4, 6, ... (CSA), block b at index b.
 *
 * Shapes use the built-in letters D, Q (2 heads), K (1 kv head), H (head
 * dim), A (q_lora_rank), E, M, S (shared width), T (MaxText vocab), and:
 * F = hc * D, the mHC rows (F is otherwise unused, and --scale keeps it
 * hc * D), P = Q * H = 2 * H, the CSA compressor width (2 head dims).
 * Family letters (not scaled): c hc_mult, s hc^2, u 1, g o_groups (= Q, so
 * that o_a_proj's per-group width H Q / g is H), o o_lora_rank, y g * o,
 * i index heads, j index head dim, k 2 j, n i * j, r the CSA ratio (4),
 * h the HCA ratio (128), t num_experts_per_tok.
 */
#include "cli/example.h"

#include <errno.h>

#include "util/ck_err.h"

#define U(x) ((unsigned long long)(x))
#define X(c) x[(c) - 'a']

#define DS4_HASH 3		/* num_hash_layers: the unscanned prefix */

/* Which layers hold a weight (ex_weight.when), beyond EX_W_ALL. */
enum {
	DS4_W_HASH = 16,	/* l < num_hash_layers: tid2eid */
	DS4_W_ROUTED,		/* the others: the router bias */
	DS4_W_CSA,		/* compress ratio 4 */
	DS4_W_HCA,		/* compress ratio above 4 */
};

#define SA "decoder.{L}.self_attention."
#define MLP "decoder.{L}.mlp."
#define MHC(b) \
	{ "decoder.{L}." b ".mhc_norm.scale", 0, EX_W_ALL, "F" }, \
	{ "decoder.{L}." b ".pre_alpha", 0, EX_W_ALL, "Fc" }, \
	{ "decoder.{L}." b ".post_alpha", 0, EX_W_ALL, "Fc" }, \
	{ "decoder.{L}." b ".res_alpha", 0, EX_W_ALL, "Fs" }, \
	{ "decoder.{L}." b ".pre_beta", 0, EX_W_ALL, "c" }, \
	{ "decoder.{L}." b ".post_beta", 0, EX_W_ALL, "c" }, \
	{ "decoder.{L}." b ".res_beta", 0, EX_W_ALL, "cc" }, \
	{ "decoder.{L}." b ".pre_alpha_scale", 0, EX_W_ALL, "u" }, \
	{ "decoder.{L}." b ".post_alpha_scale", 0, EX_W_ALL, "u" }, \
	{ "decoder.{L}." b ".res_alpha_scale", 0, EX_W_ALL, "u" }

/* Value-id order: tests/tools/expect_deepseek_v4.py's WEIGHTS. */
static const struct ex_weight ds4_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.logits_dense.kernel", 0, EX_W_ALL, "DT" },
	{ "decoder.hc_head.hc_fn", 0, EX_W_ALL, "Fc" },
	{ "decoder.hc_head.hc_base", 0, EX_W_ALL, "c" },
	{ "decoder.hc_head.hc_scale", 0, EX_W_ALL, "u" },
	{ "decoder.{L}.pre_self_attention_layer_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.post_self_attention_layer_norm.scale", 0, EX_W_ALL, "D" },
	{ SA "wq_a.kernel", 0, EX_W_ALL, "DA" },
	{ SA "q_norm.scale", 0, EX_W_ALL, "A" },
	{ SA "wq_b.kernel", 0, EX_W_ALL, "AQH" },
	{ SA "wkv.kernel", 0, EX_W_ALL, "DKH" },
	{ SA "kv_norm.scale", 0, EX_W_ALL, "H" },
	{ SA "sinks", 0, EX_W_ALL, "Q" },
	{ SA "o_a_proj.kernel", 0, EX_W_ALL, "gHo" },
	{ SA "o_b_proj.kernel", 0, EX_W_ALL, "yD" },
	MHC("mhc_attention"),
	MHC("mhc_mlp"),
	{ MLP "MoeBlock_0.gate.kernel", 0, EX_W_ALL, "DE" },
	{ MLP "MoeBlock_0.gate.bias", 0, DS4_W_ROUTED, "E" },
	{ MLP "MoeBlock_0.tid2eid", 0, DS4_W_HASH, "Tt" },
	{ MLP "MoeBlock_0.wi_0", 0, EX_W_ALL, "EDM" },
	{ MLP "MoeBlock_0.wi_1", 0, EX_W_ALL, "EDM" },
	{ MLP "MoeBlock_0.wo", 0, EX_W_ALL, "EMD" },
	{ MLP "shared_experts.wi_0.kernel", 0, EX_W_ALL, "DS" },
	{ MLP "shared_experts.wi_1.kernel", 0, EX_W_ALL, "DS" },
	{ MLP "shared_experts.wo.kernel", 0, EX_W_ALL, "SD" },
	{ SA "csa_compressor.kv_proj.kernel", 0, DS4_W_CSA, "DP" },
	{ SA "csa_compressor.gate_proj.kernel", 0, DS4_W_CSA, "DP" },
	{ SA "csa_compressor.position_bias", 0, DS4_W_CSA, "rP" },
	{ SA "csa_compressor.kv_norm.scale", 0, DS4_W_CSA, "H" },
	{ SA "csa_compressor.indexer.q_proj.kernel", 0, DS4_W_CSA, "An" },
	{ SA "csa_compressor.indexer.kv_proj.kernel", 0, DS4_W_CSA, "Dk" },
	{ SA "csa_compressor.indexer.gate_proj.kernel", 0, DS4_W_CSA, "Dk" },
	{ SA "csa_compressor.indexer.position_bias", 0, DS4_W_CSA, "rk" },
	{ SA "csa_compressor.indexer.kv_norm.scale", 0, DS4_W_CSA, "j" },
	{ SA "csa_compressor.indexer.weights_proj.kernel", 0, DS4_W_CSA, "Di" },
	{ SA "hca_compressor.kv_proj.kernel", 0, DS4_W_HCA, "DH" },
	{ SA "hca_compressor.gate_proj.kernel", 0, DS4_W_HCA, "DH" },
	{ SA "hca_compressor.position_bias", 0, DS4_W_HCA, "hH" },
	{ SA "hca_compressor.kv_norm.scale", 0, DS4_W_HCA, "H" },
};

/* 7 layers: the 3 hash layers (ratios 0, 0, 4), then two blocks (128, 4). */
static void ds4_dims(struct ex_dims *d)
{
	d->L = DS4_HASH + 4;
	d->D = 16;
	d->HQ = 2;
	d->HKV = 1;
	d->HD = 16;
	d->QL = 8;
	d->M = 8;
	d->NS = 1;
	d->X('c') = 4;
	d->X('s') = d->X('c') * d->X('c');
	d->F = d->X('c') * d->D;
	d->X('u') = 1;
	d->X('g') = d->HQ;
	d->X('o') = 8;
	d->X('y') = d->X('g') * d->X('o');
	d->X('i') = 2;
	d->X('j') = 8;
	d->X('k') = 2 * d->X('j');
	d->X('n') = d->X('i') * d->X('j');
	d->X('r') = 4;
	d->X('h') = 128;
	d->X('t') = 2;
}

static int ds4_check(const struct ex_dims *d)
{
	if (d->L < DS4_HASH + 2 || (d->L - DS4_HASH) % 2)
		return ck_err(-EINVAL, "example: deepseek_v4 needs %d hash layers and "
			      "whole two-layer blocks (an odd number of layers, at "
			      "least %d)", DS4_HASH, DS4_HASH + 2);
	/* The derived letters hold after --scale (it scales D and F alike). */
	if (d->F != d->X('c') * d->D || d->X('g') != d->HQ)
		return ck_err(-EINVAL, "example: deepseek_v4: inconsistent dims");
	return 0;
}

/* compress_ratios[l]: 0, 0, 4, then 128 and 4 alternating. */
static uint64_t ds4_ratio(uint64_t l)
{
	if (l < 2)
		return 0;
	return l % 2 ? 128 : 4;
}

static int ds4_in_layer(const struct ex_dims *d, unsigned when, uint64_t l)
{
	(void)d;
	switch (when) {
	case DS4_W_HASH:
		return l < DS4_HASH;
	case DS4_W_ROUTED:
		return l >= DS4_HASH;
	case DS4_W_CSA:
		return ds4_ratio(l) == 4;
	case DS4_W_HCA:
		return ds4_ratio(l) > 4;
	default:
		return 1;
	}
}

static void ds4_place(const struct ex_dims *d, int scanned, uint64_t l,
		      struct ex_place *p)
{
	if (!scanned || l < DS4_HASH) {
		snprintf(p->container, sizeof(p->container), "layers_%llu", U(l));
		p->stacked = 0;
		return;
	}
	snprintf(p->container, sizeof(p->container), "scanned_blocks.layers_%llu",
		 U((l - DS4_HASH) % 2));
	p->index = (l - DS4_HASH) / 2;
	p->len = (d->L - DS4_HASH) / 2;
}

static void ds4_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	ex_config_common(f, fam, d);
	fprintf(f, "  \"attention_bias\": false,\n  \"bos_token_id\": 0,\n"
		"  \"eos_token_id\": 1,\n  \"compress_ratios\": [");
	for (uint64_t l = 0; l < d->L; l++)
		fprintf(f, "%s%llu", l ? ", " : "", U(ds4_ratio(l)));
	fprintf(f, "],\n  \"compress_rope_theta\": 160000,\n  \"hc_eps\": 1e-06,\n"
		"  \"hc_mult\": %llu,\n  \"hc_sinkhorn_iters\": 20,\n"
		"  \"head_dim\": %llu,\n  \"hidden_act\": \"silu\",\n"
		"  \"index_head_dim\": %llu,\n  \"index_n_heads\": %llu,\n"
		"  \"index_topk\": 16,\n  \"moe_intermediate_size\": %llu,\n"
		"  \"n_routed_experts\": %llu,\n  \"n_shared_experts\": %llu,\n"
		"  \"norm_topk_prob\": true,\n  \"num_experts_per_tok\": %llu,\n"
		"  \"num_hash_layers\": %d,\n  \"o_groups\": %llu,\n"
		"  \"o_lora_rank\": %llu,\n  \"q_lora_rank\": %llu,\n"
		"  \"qk_rope_head_dim\": 8,\n  \"rms_norm_eps\": 1e-06,\n"
		"  \"rope_scaling\": {\"beta_fast\": 32, \"beta_slow\": 1, \"factor\": 16, "
		"\"original_max_position_embeddings\": 65536, \"type\": \"yarn\"},\n"
		"  \"rope_theta\": 10000,\n  \"routed_scaling_factor\": 1.5,\n"
		"  \"scoring_func\": \"sqrtsoftplus\",\n  \"sliding_window\": 128,\n"
		"  \"swiglu_limit\": 10.0,\n  \"tie_word_embeddings\": false,\n"
		"  \"topk_method\": \"noaux_tc\"\n",
		U(d->X('c')), U(d->HD), U(d->X('j')), U(d->X('i')), U(d->M), U(d->E),
		U(d->NS), U(d->X('t')), DS4_HASH, U(d->X('g')), U(d->X('o')), U(d->QL));
}

const struct ex_family ex_family_deepseek_v4 = {
	.name = "deepseek_v4",
	.arch = "DeepseekV4ForCausalLM",
	.weights = ds4_weights,
	.nweights = sizeof(ds4_weights) / sizeof(ds4_weights[0]),
	.dims = ds4_dims,
	.check = ds4_check,
	.in_layer = ds4_in_layer,
	.place = ds4_place,
	.config = ds4_config,
};
