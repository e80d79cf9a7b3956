/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny Qwen3-VL models of `ckptfs example`
 * (see example.h and example_qwen3_vl.h): --family qwen3_vl, a dense Qwen3
 * decoder with tied embeddings (as qwen3-vl-2b/4b), and --family
 * qwen3_vl_moe, a Qwen3-MoE decoder with its own lm_head (as
 * qwen3-vl-30b-a3b), each with the vision tower of maxtext-mapping.md §4.6
 * (prefix vision_encoder.Qwen3VLVisionEncoder_0, final merger in
 * vision_encoder.Qwen3VLVisionProjector_0).  Their config.json is the nested
 * Qwen3VLConfig (text_config, vision_config) transformers builds
 * Qwen3VL[Moe]ForConditionalGeneration from.
 */
#include "cli/example_qwen3_vl.h"

#include <errno.h>
#include <string.h>

#include "util/ck_err.h"

#define U(x) ((unsigned long long)(x))

#define VE "vision_encoder.Qwen3VLVisionEncoder_0."
#define VP "vision_encoder.Qwen3VLVisionProjector_0."

/* Value-id order: embedding, final norm, (head,) decoder layer, vision. */
static const struct ex_weight qv_dense_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	QV_TEXT_ATTN,
	QV_TEXT_DENSE,
	QV_VISION(VE, VP),
};

static const struct ex_weight qv_moe_weights[] = {
	{ "token_embedder.embedding", 0, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", 0, EX_W_ALL, "D" },
	{ "decoder.logits_dense.kernel", 0, EX_W_ALL, "DT" },
	QV_TEXT_ATTN,
	QV_TEXT_MOE,
	QV_VISION(VE, VP),
};

_Static_assert(sizeof(qv_dense_weights) / sizeof(qv_dense_weights[0]) ==
	       2 + 8 + 3 + QV_VISION_NWEIGHTS, "qwen3_vl weight count");
_Static_assert(sizeof(qv_moe_weights) / sizeof(qv_moe_weights[0]) ==
	       3 + 8 + 4 + QV_VISION_NWEIGHTS, "qwen3_vl_moe weight count");

/* --- shared with example_qwen3_omni.c (example_qwen3_vl.h) --- */

void qv_dims(struct ex_dims *d)
{
	d->L = 4;
	QV_X(d, 'v') = 32;
	QV_X(d, 'h') = 2;
	QV_X(d, 'd') = 16;
	QV_X(d, 'f') = 64;
	QV_X(d, 't') = 2;
	QV_X(d, 'p') = 4;
	QV_X(d, 'c') = 3;
	QV_X(d, 'n') = 16;	/* a 4 x 4 grid */
	QV_X(d, 'm') = 32 * QV_MERGE * QV_MERGE;
}

int qv_check_layers(const struct ex_dims *d, uint64_t min_layers)
{
	if (d->L < min_layers)
		return ck_err(-EINVAL, "example: needs at least %llu layers (the "
			      "vision and audio towers' depth)", U(min_layers));
	return 0;
}

uint64_t qv_mt_layers(const struct ex_dims *d)
{
	return d->L + QV_X(d, 'p');
}

int qv_in_layer(const struct ex_dims *d, unsigned when, uint64_t l)
{
	if (when == QV_W_PATCH)
		return l >= d->L;
	return l < d->L;
}

void qv_place(const struct ex_dims *d, int scanned, uint64_t l, struct ex_place *p)
{
	if (l >= d->L) {
		/* the patch kernel's axis 1 (see QV_W_PATCH) */
		snprintf(p->container, sizeof(p->container), "kernel");
		p->stacked = 1;
		p->index = l - d->L;
		p->len = QV_X(d, 'p');
	} else if (scanned) {
		snprintf(p->container, sizeof(p->container), "layers");
		p->stacked = 1;
		p->index = l;
		p->len = d->L;
	} else {
		snprintf(p->container, sizeof(p->container), "layers_%llu", U(l));
		p->stacked = 0;
	}
}

/*
 * mrope sections (t, h, w) summing to head_dim / 2, in the proportions of
 * the real [24, 20, 20] for head_dim 128.
 */
static void qv_mrope(const struct ex_dims *d, uint64_t s[3])
{
	s[1] = s[2] = d->HD * 5 / 32;
	s[0] = d->HD / 2 - 2 * s[1];
}

void qv_text_fields(FILE *f, const struct ex_dims *d, int moe, const char *ind)
{
	uint64_t s[3];

	qv_mrope(d, s);
	fprintf(f, "%s\"attention_bias\": false,\n%s\"attention_dropout\": 0.0,\n"
		"%s\"bos_token_id\": 1,\n%s\"eos_token_id\": 2,\n"
		"%s\"head_dim\": %llu,\n%s\"hidden_act\": \"silu\",\n"
		"%s\"hidden_size\": %llu,\n%s\"initializer_range\": 0.02,\n"
		"%s\"intermediate_size\": %llu,\n%s\"max_position_embeddings\": 2048,\n"
		"%s\"num_attention_heads\": %llu,\n%s\"num_hidden_layers\": %llu,\n"
		"%s\"num_key_value_heads\": %llu,\n%s\"rms_norm_eps\": 1e-06,\n"
		"%s\"rope_scaling\": {\"mrope_interleaved\": true, \"mrope_section\": "
		"[%llu, %llu, %llu], \"rope_type\": \"default\"},\n"
		"%s\"use_cache\": true,\n%s\"vocab_size\": %llu",
		ind, ind, ind, ind, ind, U(d->HD), ind, ind, U(d->D), ind, ind,
		U(d->F), ind, ind, U(d->HQ), ind, U(d->L), ind,
		U(d->HKV), ind, ind, U(s[0]), U(s[1]), U(s[2]), ind, ind, U(d->V));
	if (moe)
		fprintf(f, ",\n%s\"decoder_sparse_step\": 1,\n%s\"mlp_only_layers\": [],\n"
			"%s\"moe_intermediate_size\": %llu,\n%s\"norm_topk_prob\": true,\n"
			"%s\"num_experts\": %llu,\n%s\"num_experts_per_tok\": 2,\n"
			"%s\"router_aux_loss_coef\": 0.001",
			ind, ind, ind, U(d->M), ind, ind, U(d->E), ind, ind);
}

void qv_vision_fields(FILE *f, const struct ex_dims *d, const char *model_type,
		      const char *ind)
{
	fprintf(f, "%s\"deepstack_visual_indexes\": %s,\n%s\"depth\": %d,\n"
		"%s\"hidden_act\": \"gelu_pytorch_tanh\",\n%s\"hidden_size\": %llu,\n"
		"%s\"in_channels\": %llu,\n%s\"initializer_range\": 0.02,\n"
		"%s\"intermediate_size\": %llu,\n%s\"model_type\": \"%s\",\n"
		"%s\"num_heads\": %llu,\n%s\"num_position_embeddings\": %llu,\n"
		"%s\"out_hidden_size\": %llu,\n%s\"patch_size\": %llu,\n"
		"%s\"spatial_merge_size\": %d,\n%s\"temporal_patch_size\": %llu",
		ind, QV_DEEPSTACK, ind, QV_VISION_DEPTH, ind, ind, U(QV_X(d, 'v')),
		ind, U(QV_X(d, 'c')), ind, ind, U(QV_X(d, 'f')), ind, model_type,
		ind, U(QV_X(d, 'h')), ind, U(QV_X(d, 'n')), ind, U(d->D), ind,
		U(QV_X(d, 'p')), ind, QV_MERGE, ind, U(QV_X(d, 't')));
}

/* --- the two families --- */

static int qv_check(const struct ex_dims *d)
{
	return qv_check_layers(d, QV_VISION_DEPTH);
}

/* Qwen3VLConfig / Qwen3VLMoeConfig: token ids inside the tiny vocabulary. */
static void qv_config(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	int moe = !strcmp(fam->name, "qwen3_vl_moe");
	const char *tie = moe ? "false" : "true";

	fprintf(f, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n"
		"  \"image_token_id\": 250,\n  \"video_token_id\": 251,\n"
		"  \"vision_start_token_id\": 252,\n  \"vision_end_token_id\": 253,\n"
		"  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"bfloat16\",\n"
		"  \"text_config\": {\n    \"model_type\": \"%s_text\",\n"
		"    \"tie_word_embeddings\": %s,\n    \"rope_theta\": 5000000,\n",
		fam->arch, fam->name, tie, fam->name, tie);
	qv_text_fields(f, d, moe, "    ");
	fprintf(f, "\n  },\n  \"vision_config\": {\n");
	qv_vision_fields(f, d, fam->name, "    ");
	fprintf(f, "\n  }\n");
}

const struct ex_family ex_family_qwen3_vl = {
	.name = "qwen3_vl",
	.arch = "Qwen3VLForConditionalGeneration",
	.weights = qv_dense_weights,
	.nweights = sizeof(qv_dense_weights) / sizeof(qv_dense_weights[0]),
	.dims = qv_dims,
	.check = qv_check,
	.in_layer = qv_in_layer,
	.place = qv_place,
	.mt_layers = qv_mt_layers,
	.config = qv_config,
};

const struct ex_family ex_family_qwen3_vl_moe = {
	.name = "qwen3_vl_moe",
	.arch = "Qwen3VLMoeForConditionalGeneration",
	.weights = qv_moe_weights,
	.nweights = sizeof(qv_moe_weights) / sizeof(qv_moe_weights[0]),
	.dims = qv_dims,
	.check = qv_check,
	.in_layer = qv_in_layer,
	.place = qv_place,
	.mt_layers = qv_mt_layers,
	.config = qv_config,
};
