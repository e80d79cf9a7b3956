/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny Qwen3NextForCausalLM model of
 * `ckptfs example --family qwen3_next` (see example.h), as
 * maxtext-mapping.md §4.8 lists its MaxText weights.
 *
 * Layers come in cycles of 4: positions 0-2 are gated delta net (linear
 * attention) layers, position 3 a full attention layer with a gated query.
 * Unscanned, layer l is decoder.layers_{l}; scanned, MaxText stacks each
 * cycle position b in decoder.layers.layer_{b} (singular "layer_"), layer l
 * at index l / 4 on axis 1.  Every layer has the two norms and the MoE block
 * (routed experts, a shared expert and its sigmoid gate).
 *
 * The family's own sizes are shape letters (not scaled by --scale): h head
 * dim, g 2h (query and gate of one head), o Q h (the out kernel's rows, kept
 * flat as the doc lists it); k / v linear key / value heads, a / b their
 * head dims, w the fused qkvz width 2ka + 2vb, x the fused ba width 2v,
 * c the conv channels 2ka + vb, n the conv kernel, z the value width vb;
 * s the shared expert width; u 1.
 */
#include "cli/example.h"

#include <errno.h>

#include "util/ck_err.h"

#define U(x) ((unsigned long long)(x))
#define X(c) x[(c) - 'a']

#define QN_CYCLE 4

/* Layer kinds beyond EX_W_ALL: in the linear or the full attention layers. */
enum { QN_W_LINEAR = 16, QN_W_FULL };

#define ATT "decoder.{L}.attention."

static const struct ex_weight qn_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.logits_dense.kernel", 0, EX_W_ALL, "DT" },
	{ "decoder.{L}.input_layernorm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.{L}.post_attention_layernorm.scale", 0, EX_W_ALL, "D" },
	/* full attention */
	{ ATT "attention.query.kernel", 0, QN_W_FULL, "DQg" },
	{ ATT "attention.key.kernel", 0, QN_W_FULL, "DKh" },
	{ ATT "attention.value.kernel", 0, QN_W_FULL, "DKh" },
	{ ATT "attention.out.kernel", 0, QN_W_FULL, "oD" },
	{ ATT "attention.query_norm.scale", 0, QN_W_FULL, "h" },
	{ ATT "attention.key_norm.scale", 0, QN_W_FULL, "h" },
	/* gated delta net */
	{ ATT "in_proj_qkvz.kernel", 0, QN_W_LINEAR, "Dw" },
	{ ATT "in_proj_ba.kernel", 0, QN_W_LINEAR, "Dx" },
	{ ATT "conv1d.kernel", 0, QN_W_LINEAR, "nuc" },
	{ ATT "A_log", 0, QN_W_LINEAR, "v" },
	{ ATT "dt_bias", 0, QN_W_LINEAR, "v" },
	{ ATT "norm.rms_norm.scale", 0, QN_W_LINEAR, "b" },
	{ ATT "out_proj.kernel", 0, QN_W_LINEAR, "zD" },
	/* MoE: routed experts, shared expert and its gate */
	{ "decoder.{L}.mlp.routed_experts.gate.kernel", 0, EX_W_ALL, "DE" },
	{ "decoder.{L}.mlp.routed_experts.wi_0", 0, EX_W_ALL, "EDM" },
	{ "decoder.{L}.mlp.routed_experts.wi_1", 0, EX_W_ALL, "EDM" },
	{ "decoder.{L}.mlp.routed_experts.wo", 0, EX_W_ALL, "EMD" },
	{ "decoder.{L}.mlp.shared_expert.wi_0.kernel", 0, EX_W_ALL, "Ds" },
	{ "decoder.{L}.mlp.shared_expert.wi_1.kernel", 0, EX_W_ALL, "Ds" },
	{ "decoder.{L}.mlp.shared_expert.wo.kernel", 0, EX_W_ALL, "sD" },
	{ "decoder.{L}.mlp.shared_expert_gate.kernel", 0, EX_W_ALL, "Du" },
};

static void qn_derive(struct ex_dims *d)
{
	d->X('g') = 2 * d->X('h');
	d->X('o') = d->HQ * d->X('h');
	d->X('w') = 2 * d->X('k') * d->X('a') + 2 * d->X('v') * d->X('b');
	d->X('x') = 2 * d->X('v');
	d->X('c') = 2 * d->X('k') * d->X('a') + d->X('v') * d->X('b');
	d->X('z') = d->X('v') * d->X('b');
	d->X('u') = 1;
}

/* 8 layers (two cycles); GDN with 2 key heads of 12 and 4 value heads of 8
 * (two value heads per key head, so the grouping matters). */
static void qn_dims(struct ex_dims *d)
{
	d->L = 2 * QN_CYCLE;
	d->X('h') = 16;
	d->X('k') = 2;
	d->X('v') = 4;
	d->X('a') = 12;
	d->X('b') = 8;
	d->X('n') = 4;
	d->X('s') = 48;
	qn_derive(d);
}

static int qn_check(const struct ex_dims *d)
{
	if (d->L % QN_CYCLE)
		return ck_err(-EINVAL, "example: qwen3_next needs a multiple of %d layers",
			      QN_CYCLE);
	return 0;
}

static int qn_full(uint64_t l)
{
	return (l + 1) % QN_CYCLE == 0;
}

static int qn_in_layer(const struct ex_dims *d, unsigned when, uint64_t l)
{
	(void)d;
	if (when == QN_W_FULL)
		return qn_full(l);
	if (when == QN_W_LINEAR)
		return !qn_full(l);
	return 1;
}

static void qn_place(const struct ex_dims *d, int scanned, uint64_t l,
		     struct ex_place *p)
{
	if (!scanned) {
		snprintf(p->container, sizeof(p->container), "layers_%llu", U(l));
		return;
	}
	snprintf(p->container, sizeof(p->container), "layers.layer_%llu",
		 U(l % QN_CYCLE));
	p->index = l / QN_CYCLE;
	p->len = d->L / QN_CYCLE;
}

static void qn_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	ex_config_common(f, fam, d);
	fprintf(f, "  \"attention_bias\": false,\n  \"bos_token_id\": 1,\n"
		"  \"eos_token_id\": 2,\n  \"head_dim\": %llu,\n"
		"  \"hidden_act\": \"silu\",\n  \"intermediate_size\": %llu,\n"
		"  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": 10000000,\n"
		"  \"rope_scaling\": null,\n  \"partial_rotary_factor\": 0.25,\n"
		"  \"full_attention_interval\": %d,\n"
		"  \"linear_conv_kernel_dim\": %llu,\n  \"linear_key_head_dim\": %llu,\n"
		"  \"linear_num_key_heads\": %llu,\n  \"linear_num_value_heads\": %llu,\n"
		"  \"linear_value_head_dim\": %llu,\n  \"num_experts\": %llu,\n"
		"  \"num_experts_per_tok\": 2,\n  \"moe_intermediate_size\": %llu,\n"
		"  \"shared_expert_intermediate_size\": %llu,\n"
		"  \"decoder_sparse_step\": 1,\n  \"mlp_only_layers\": [],\n"
		"  \"norm_topk_prob\": true,\n  \"router_aux_loss_coef\": 0.001,\n"
		"  \"output_router_logits\": false,\n  \"layer_types\": [",
		U(d->X('h')), U(d->F), QN_CYCLE, U(d->X('n')), U(d->X('a')),
		U(d->X('k')), U(d->X('v')), U(d->X('b')), U(d->E), U(d->M),
		U(d->X('s')));
	for (uint64_t i = 0; i < d->L; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "",
			qn_full(i) ? "full_attention" : "linear_attention");
	fprintf(f, "],\n  \"tie_word_embeddings\": false\n");
}

const struct ex_family ex_family_qwen3_next = {
	.name = "qwen3_next",
	.arch = "Qwen3NextForCausalLM",
	.cycle = QN_CYCLE,
	.weights = qn_weights,
	.nweights = sizeof(qn_weights) / sizeof(qn_weights[0]),
	.dims = qn_dims,
	.check = qn_check,
	.in_layer = qn_in_layer,
	.place = qn_place,
	.config = qn_config,
};
