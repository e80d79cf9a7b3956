/* SPDX-License-Identifier: MIT */
/*
 * This file describes the tiny models of `ckptfs example` (see example.h):
 * the MaxText weights of each family as MaxText's documentation lists them,
 * where each layer lives in the scanned and unscanned layouts, and the HF
 * config.json of each tiny model.
 */
#include "cli/example.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/ck_err.h"

#define CLASSIC(var, name, arch, bit, cycle) \
	static const struct ex_family var = { name, arch, bit, cycle, NULL, 0, 0, \
					      NULL, NULL, NULL, NULL, NULL, NULL }
CLASSIC(llama, "llama", "LlamaForCausalLM", EX_LLAMA, 0);
CLASSIC(mistral, "mistral", "MistralForCausalLM", EX_MISTRAL, 0);
CLASSIC(mixtral, "mixtral", "MixtralForCausalLM", EX_MIXTRAL, 0);
CLASSIC(qwen2, "qwen2", "Qwen2ForCausalLM", EX_QWEN2, 0);
CLASSIC(qwen3, "qwen3", "Qwen3ForCausalLM", EX_QWEN3, 0);
CLASSIC(qwen3_moe, "qwen3_moe", "Qwen3MoeForCausalLM", EX_QWEN3_MOE, 0);
CLASSIC(deepseek_v2, "deepseek_v2", "DeepseekV2ForCausalLM", EX_DEEPSEEK2, 0);
CLASSIC(deepseek_v3, "deepseek_v3", "DeepseekV3ForCausalLM", EX_DEEPSEEK3, 0);
CLASSIC(deepseek_v32, "deepseek_v32", "DeepseekV32ForCausalLM", EX_DEEPSEEK32, 0);
CLASSIC(olmo3, "olmo3", "Olmo3ForCausalLM", EX_OLMO3, 4);
CLASSIC(gemma2, "gemma2", "Gemma2ForCausalLM", EX_GEMMA2, 0);
CLASSIC(gemma3_text, "gemma3_text", "Gemma3ForCausalLM", EX_GEMMA3_TEXT, 6);
CLASSIC(gpt_oss, "gpt_oss", "GptOssForCausalLM", EX_GPT_OSS, 2);

/* Families described in their own files (example_<name>.c) come last. */
const struct ex_family *const ex_families[] = {
	&llama, &mistral, &mixtral, &qwen2, &qwen3, &qwen3_moe, &deepseek_v2,
	&deepseek_v3, &deepseek_v32, &olmo3, &gemma2, &gemma3_text, &gpt_oss,
	&ex_family_gemma3,
	&ex_family_qwen3_next,
	&ex_family_qwen3_vl,
	&ex_family_qwen3_vl_moe,
	&ex_family_qwen3_omni_moe,
	&ex_family_gemma4, &ex_family_gemma4_dense, &ex_family_gemma4_small,
	&ex_family_qwen3_5_moe,
	&ex_family_deepseek_v4,
};
const unsigned ex_nfamilies = sizeof(ex_families) / sizeof(ex_families[0]);

/*
 * Shape letters: D hidden, Q heads, K kv heads, H head dim, F mlp, T MaxText
 * vocab rows, E experts, M expert mlp, P Q*H, R K*H; DeepSeek: A q_lora,
 * B kv_lora + rope, C kv_lora, N nope + rope, W nope + v, U v head dim,
 * S shared experts' width (M * NS).
 */
static const struct ex_weight ex_weights[] = {
	{ "token_embedder.embedding", EX_ALL, EX_W_ALL, "TD" },
	{ "decoder.decoder_norm.scale", EX_ALL, EX_W_ALL, "D" },
	{ "decoder.logits_dense.kernel", EX_ALL & ~EX_TIED, EX_W_ALL, "DT" },
	{ "decoder.{L}.pre_self_attention_layer_norm.scale", EX_STD | EX_DS | EX_GPT_OSS, EX_W_ALL, "D" },
	{ "decoder.{L}.post_self_attention_layer_norm.scale", EX_STD | EX_DS | EX_GPT_OSS, EX_W_ALL, "D" },
	{ "decoder.{L}.self_attention.query.kernel", EX_STD, EX_W_ALL, "DQH" },
	{ "decoder.{L}.self_attention.key.kernel", EX_STD, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention.value.kernel", EX_STD, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention.out.kernel", EX_STD, EX_W_ALL, "QHD" },
	{ "decoder.{L}.mlp.wi_0.kernel", EX_DENSE, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wi_1.kernel", EX_DENSE, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wo.kernel", EX_DENSE, EX_W_ALL, "FD" },
	{ "decoder.{L}.self_attention.query.bias", EX_QWEN2, EX_W_ALL, "QH" },
	{ "decoder.{L}.self_attention.key.bias", EX_QWEN2, EX_W_ALL, "KH" },
	{ "decoder.{L}.self_attention.value.bias", EX_QWEN2, EX_W_ALL, "KH" },
	{ "decoder.{L}.self_attention.query_norm.scale", EX_QWEN3 | EX_QWEN3_MOE, EX_W_ALL, "H" },
	{ "decoder.{L}.self_attention.key_norm.scale", EX_QWEN3 | EX_QWEN3_MOE, EX_W_ALL, "H" },
	{ "decoder.{L}.moe_block.gate.kernel", EX_QWEN3_MOE, EX_W_ALL, "DE" },
	{ "decoder.{L}.moe_block.wi_0", EX_QWEN3_MOE, EX_W_ALL, "EDM" },
	{ "decoder.{L}.moe_block.wi_1", EX_QWEN3_MOE, EX_W_ALL, "EDM" },
	{ "decoder.{L}.moe_block.wo", EX_QWEN3_MOE, EX_W_ALL, "EMD" },
	{ "decoder.{L}.MoeBlock_0.gate.kernel", EX_MIXTRAL, EX_W_ALL, "DE" },
	{ "decoder.{L}.MoeBlock_0.wi_0", EX_MIXTRAL, EX_W_ALL, "EDM" },
	{ "decoder.{L}.MoeBlock_0.wi_1", EX_MIXTRAL, EX_W_ALL, "EDM" },
	{ "decoder.{L}.MoeBlock_0.wo", EX_MIXTRAL, EX_W_ALL, "EMD" },
	/* DeepSeek (MLA; V2-Lite has no q-lora, V3 has the router bias) */
	{ "decoder.{L}.self_attention.query.kernel", EX_DEEPSEEK2, EX_W_ALL, "DQN" },
	{ "decoder.{L}.self_attention.wq_a.kernel", EX_DS_QLORA, EX_W_ALL, "DA" },
	{ "decoder.{L}.self_attention.q_norm.scale", EX_DS_QLORA, EX_W_ALL, "A" },
	{ "decoder.{L}.self_attention.wq_b.kernel", EX_DS_QLORA, EX_W_ALL, "AQN" },
	{ "decoder.{L}.self_attention.wkv_a.kernel", EX_DS, EX_W_ALL, "DB" },
	{ "decoder.{L}.self_attention.kv_norm.scale", EX_DS, EX_W_ALL, "C" },
	{ "decoder.{L}.self_attention.wkv_b.kernel", EX_DS, EX_W_ALL, "CQW" },
	{ "decoder.{L}.self_attention.out.kernel", EX_DS, EX_W_ALL, "QUD" },
	/* V3.2's indexer: i index heads, j index head dim */
	{ "decoder.{L}.self_attention.indexer.wq_b.kernel", EX_DEEPSEEK32, EX_W_ALL, "Aij" },
	{ "decoder.{L}.self_attention.indexer.wk.kernel", EX_DEEPSEEK32, EX_W_ALL, "Dj" },
	{ "decoder.{L}.self_attention.indexer.k_norm.scale", EX_DEEPSEEK32, EX_W_ALL, "j" },
	{ "decoder.{L}.self_attention.indexer.k_norm.bias", EX_DEEPSEEK32, EX_W_ALL, "j" },
	{ "decoder.{L}.self_attention.indexer.weights_proj.kernel", EX_DEEPSEEK32, EX_W_ALL, "Di" },
	{ "decoder.{L}.mlp.wi_0.kernel", EX_DS, EX_W_DENSE, "DF" },
	{ "decoder.{L}.mlp.wi_1.kernel", EX_DS, EX_W_DENSE, "DF" },
	{ "decoder.{L}.mlp.wo.kernel", EX_DS, EX_W_DENSE, "FD" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.shared_experts.wi_0.kernel", EX_DS, EX_W_MOE, "DS" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.shared_experts.wi_1.kernel", EX_DS, EX_W_MOE, "DS" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.shared_experts.wo.kernel", EX_DS, EX_W_MOE, "SD" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.MoeBlock_0.gate.kernel", EX_DS, EX_W_MOE, "DE" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.MoeBlock_0.gate.bias", EX_DS_QLORA, EX_W_MOE, "E" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.MoeBlock_0.wi_0", EX_DS, EX_W_MOE, "EDM" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.MoeBlock_0.wi_1", EX_DS, EX_W_MOE, "EDM" },
	{ "decoder.{L}.DeepSeekMoeBlock_0.MoeBlock_0.wo", EX_DS, EX_W_MOE, "EMD" },
	/* Olmo3 (post-norm, q/k norms over all heads) */
	{ "decoder.{L}.attention.query.kernel", EX_OLMO3, EX_W_ALL, "DQH" },
	{ "decoder.{L}.attention.key.kernel", EX_OLMO3, EX_W_ALL, "DKH" },
	{ "decoder.{L}.attention.value.kernel", EX_OLMO3, EX_W_ALL, "DKH" },
	{ "decoder.{L}.attention.out.kernel", EX_OLMO3, EX_W_ALL, "QHD" },
	{ "decoder.{L}.attention.query_norm.scale", EX_OLMO3, EX_W_ALL, "P" },
	{ "decoder.{L}.attention.key_norm.scale", EX_OLMO3, EX_W_ALL, "R" },
	{ "decoder.{L}.post_self_attention_layer_norm.scale", EX_OLMO3, EX_W_ALL, "D" },
	{ "decoder.{L}.post_mlp_layer_norm.scale", EX_OLMO3, EX_W_ALL, "D" },
	{ "decoder.{L}.mlp.wi_0.kernel", EX_OLMO3, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wi_1.kernel", EX_OLMO3, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wo.kernel", EX_OLMO3, EX_W_ALL, "FD" },
	/* Gemma2: each MaxText layer holds a local and a global layer */
	{ "decoder.{L}.pre_self_attention_norm_local.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.post_self_attention_norm_local.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.pre_ffw_norm_local.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.post_ffw_norm_local.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.self_attention_local.query.kernel", EX_GEMMA2, EX_W_ALL, "DQH" },
	{ "decoder.{L}.self_attention_local.key.kernel", EX_GEMMA2, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention_local.value.kernel", EX_GEMMA2, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention_local.out.kernel", EX_GEMMA2, EX_W_ALL, "QHD" },
	{ "decoder.{L}.mlp_local.wi_0.kernel", EX_GEMMA2, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp_local.wi_1.kernel", EX_GEMMA2, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp_local.wo.kernel", EX_GEMMA2, EX_W_ALL, "FD" },
	{ "decoder.{L}.pre_self_attention_norm_global.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.post_self_attention_norm_global.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.pre_ffw_norm_global.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.post_ffw_norm_global.scale", EX_GEMMA2, EX_W_ALL, "D" },
	{ "decoder.{L}.self_attention_global.query.kernel", EX_GEMMA2, EX_W_ALL, "DQH" },
	{ "decoder.{L}.self_attention_global.key.kernel", EX_GEMMA2, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention_global.value.kernel", EX_GEMMA2, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention_global.out.kernel", EX_GEMMA2, EX_W_ALL, "QHD" },
	{ "decoder.{L}.mlp_global.wi_0.kernel", EX_GEMMA2, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp_global.wi_1.kernel", EX_GEMMA2, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp_global.wo.kernel", EX_GEMMA2, EX_W_ALL, "FD" },
	/* Gemma3 text */
	{ "decoder.{L}.pre_self_attention_norm.scale", EX_GEMMA3_TEXT, EX_W_ALL, "D" },
	{ "decoder.{L}.post_self_attention_norm.scale", EX_GEMMA3_TEXT, EX_W_ALL, "D" },
	{ "decoder.{L}.pre_ffw_norm.scale", EX_GEMMA3_TEXT, EX_W_ALL, "D" },
	{ "decoder.{L}.post_ffw_norm.scale", EX_GEMMA3_TEXT, EX_W_ALL, "D" },
	{ "decoder.{L}.self_attention.query_norm.scale", EX_GEMMA3_TEXT, EX_W_ALL, "H" },
	{ "decoder.{L}.self_attention.key_norm.scale", EX_GEMMA3_TEXT, EX_W_ALL, "H" },
	{ "decoder.{L}.self_attention.query.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "DQH" },
	{ "decoder.{L}.self_attention.key.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention.value.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "DKH" },
	{ "decoder.{L}.self_attention.out.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "QHD" },
	{ "decoder.{L}.mlp.wi_0.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wi_1.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "DF" },
	{ "decoder.{L}.mlp.wo.kernel", EX_GEMMA3_TEXT, EX_W_ALL, "FD" },
	/* GPT-OSS (biases everywhere, sinks, experts with biases) */
	{ "decoder.{L}.GptOssAttention.query.kernel", EX_GPT_OSS, EX_W_ALL, "DQH" },
	{ "decoder.{L}.GptOssAttention.key.kernel", EX_GPT_OSS, EX_W_ALL, "DKH" },
	{ "decoder.{L}.GptOssAttention.value.kernel", EX_GPT_OSS, EX_W_ALL, "DKH" },
	{ "decoder.{L}.GptOssAttention.query.bias", EX_GPT_OSS, EX_W_ALL, "QH" },
	{ "decoder.{L}.GptOssAttention.key.bias", EX_GPT_OSS, EX_W_ALL, "KH" },
	{ "decoder.{L}.GptOssAttention.value.bias", EX_GPT_OSS, EX_W_ALL, "KH" },
	{ "decoder.{L}.GptOssAttention.out.kernel", EX_GPT_OSS, EX_W_ALL, "QHD" },
	{ "decoder.{L}.GptOssAttention.out.bias", EX_GPT_OSS, EX_W_ALL, "D" },
	{ "decoder.{L}.GptOssAttention.sinks", EX_GPT_OSS, EX_W_ALL, "Q" },
	{ "decoder.{L}.GptOssMlp.gate.kernel", EX_GPT_OSS, EX_W_ALL, "DE" },
	{ "decoder.{L}.GptOssMlp.gate.bias", EX_GPT_OSS, EX_W_ALL, "E" },
	{ "decoder.{L}.GptOssMlp.wi_0", EX_GPT_OSS, EX_W_ALL, "EDM" },
	{ "decoder.{L}.GptOssMlp.wi_1", EX_GPT_OSS, EX_W_ALL, "EDM" },
	{ "decoder.{L}.GptOssMlp.wi_0_bias", EX_GPT_OSS, EX_W_ALL, "EM" },
	{ "decoder.{L}.GptOssMlp.wi_1_bias", EX_GPT_OSS, EX_W_ALL, "EM" },
	{ "decoder.{L}.GptOssMlp.wo", EX_GPT_OSS, EX_W_ALL, "EMD" },
	{ "decoder.{L}.GptOssMlp.wo_bias", EX_GPT_OSS, EX_W_ALL, "ED" },
};

const struct ex_family *ex_family_find(const char *name)
{
	for (unsigned i = 0; i < ex_nfamilies; i++)
		if (!strcmp(name, ex_families[i]->name))
			return ex_families[i];
	return NULL;
}

const struct ex_weight *ex_family_weights(const struct ex_family *f, unsigned *n)
{
	if (f->weights) {
		*n = f->nweights;
		return f->weights;
	}
	*n = sizeof(ex_weights) / sizeof(ex_weights[0]);
	return ex_weights;
}

int ex_family_has(const struct ex_family *f, const struct ex_weight *w)
{
	return f->weights || (w->families & f->bit);
}

void ex_dims_init(const struct ex_family *f, struct ex_dims *d)
{
	*d = (struct ex_dims){ .L = 2, .D = 64, .HQ = 4, .HKV = 2, .HD = 16, .F = 128,
			       .V = 256, .VMT = 256, .E = 4, .M = 32 };
	if (f->bit & EX_DS) {
		d->L = 3;
		d->K = 1;
		d->HKV = d->HQ;
		d->QL = f->bit & EX_DS_QLORA ? 32 : 0;
		d->x['i' - 'a'] = 4;
		d->x['j' - 'a'] = 8;
		d->KVL = 16;
		d->NOPE = 16;
		d->ROPE = 8;
		d->VHD = 16;
		d->NS = 2;
	} else if (f->bit == EX_OLMO3) {
		d->L = 8;
	} else if (f->bit & EX_TIED) {
		/* A hidden size whose square root is inexact, and MaxText's
		 * padded vocabulary. */
		d->D = 48;
		d->VMT = d->V + 16;
		d->L = f->bit == EX_GEMMA2 ? 4 : 14;
	} else if (f->bit == EX_GPT_OSS) {
		d->L = 4;
	}
	if (f->dims)
		f->dims(d);
}

int ex_dims_check(const struct ex_family *f, const struct ex_dims *d)
{
	if (f->check)
		return f->check(d);
	if (f->bit == EX_GEMMA2 && d->L % 2)
		return ck_err(-EINVAL, "example: gemma2 needs an even number of layers");
	if (f->cycle && f->cycle != 6 && d->L % f->cycle)
		return ck_err(-EINVAL, "example: %s needs a multiple of %u layers", f->name,
			      f->cycle);
	if ((f->bit & EX_DS) && d->L <= d->K)
		return ck_err(-EINVAL, "example: %s needs more than %llu layers", f->name,
			      (unsigned long long)d->K);
	return 0;
}

uint64_t ex_dim(const struct ex_dims *d, char c)
{
	if (c >= 'a' && c <= 'z')
		return d->x[c - 'a'];
	switch (c) {
	case 'D': return d->D;
	case 'Q': return d->HQ;
	case 'K': return d->HKV;
	case 'H': return d->HD;
	case 'F': return d->F;
	case 'T': return d->VMT;
	case 'E': return d->E;
	case 'M': return d->M;
	case 'P': return d->HQ * d->HD;
	case 'R': return d->HKV * d->HD;
	case 'A': return d->QL;
	case 'B': return d->KVL + d->ROPE;
	case 'C': return d->KVL;
	case 'N': return d->NOPE + d->ROPE;
	case 'W': return d->NOPE + d->VHD;
	case 'U': return d->VHD;
	case 'S': return d->M * d->NS;
	default: return d->V;
	}
}

uint64_t ex_mt_layers(const struct ex_family *f, const struct ex_dims *d)
{
	if (f->mt_layers)
		return f->mt_layers(d);
	return f->bit == EX_GEMMA2 ? d->L / 2 : d->L;
}

int ex_in_layer(const struct ex_family *f, const struct ex_dims *d,
		const struct ex_weight *w, uint64_t l)
{
	if (!ex_family_has(f, w) || !strstr(w->name, "{L}"))
		return 0;
	if (f->in_layer)
		return f->in_layer(d, w->when, l);
	if (w->when == EX_W_DENSE)
		return l < d->K;
	if (w->when == EX_W_MOE)
		return l >= d->K;
	return 1;
}

void ex_place_of(const struct ex_family *f, const struct ex_dims *d, int scanned,
		 uint64_t l, struct ex_place *p)
{
	uint64_t n = ex_mt_layers(f, d), c = f->cycle;
	unsigned long long ul = (unsigned long long)l;

	memset(p, 0, sizeof(*p));
	p->stacked = scanned;
	if (f->place)
		f->place(d, scanned, l, p);
	else if (f->bit & EX_DS) {
		/* dense_layers then moe_layers */
		int moe = l >= d->K;

		snprintf(p->container, sizeof(p->container), scanned ? "%s" : "%s_%llu",
			 moe ? "moe_layers" : "dense_layers", moe ? ul - d->K : ul);
		p->index = moe ? l - d->K : l;
		p->len = moe ? n - d->K : d->K;
	} else if (!scanned) {
		snprintf(p->container, sizeof(p->container), "layers_%llu", ul);
	} else if (c == 6 && l >= n / 6 * 6) {
		/* Gemma3: layers past the last whole block of 6, unstacked */
		snprintf(p->container, sizeof(p->container), "layers_remainder.layers_%llu",
			 ul - n / 6 * 6);
		p->stacked = 0;
	} else if (c) {
		/* a cycle of c inhomogeneous layers, each stacked over blocks */
		snprintf(p->container, sizeof(p->container), "layers.layers_%llu", ul % c);
		p->index = l / c;
		p->len = n / c;
	} else {
		snprintf(p->container, sizeof(p->container), "layers");
		p->index = l;
		p->len = n;
	}
}

/* --- config.json --- */

#define U(x) ((unsigned long long)(x))

void ex_config_common(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	fprintf(f, "{\n"
		"  \"architectures\": [\"%s\"],\n"
		"  \"model_type\": \"%s\",\n"
		"  \"hidden_size\": %llu,\n"
		"  \"num_hidden_layers\": %llu,\n"
		"  \"num_attention_heads\": %llu,\n"
		"  \"num_key_value_heads\": %llu,\n"
		"  \"vocab_size\": %llu,\n"
		"  \"attention_dropout\": 0.0,\n"
		"  \"initializer_range\": 0.02,\n"
		"  \"max_position_embeddings\": 2048,\n"
		"  \"torch_dtype\": \"bfloat16\",\n"
		"  \"use_cache\": true,\n",
		fam->arch, fam->name, U(d->D), U(d->L), U(d->HQ), U(d->HKV), U(d->V));
}

void ex_config_layer_types(FILE *f, const struct ex_dims *d, unsigned cycle, const char *ind)
{
	fprintf(f, "%s\"layer_types\": [", ind);
	for (uint64_t i = 0; i < d->L; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "",
			(i + 1) % cycle ? "sliding_attention" : "full_attention");
	fprintf(f, "],\n");
}

/* The classic families: llama, mistral, mixtral, qwen2, qwen3, qwen3_moe. */
static void config_std(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	unsigned b = fam->bit;

	fprintf(f, "  \"attention_bias\": %s,\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2,\n"
		"  \"head_dim\": %llu,\n  \"hidden_act\": \"silu\",\n"
		"  \"intermediate_size\": %llu,\n  \"rms_norm_eps\": 1e-05,\n"
		"  \"tie_word_embeddings\": false,\n",
		b == EX_QWEN2 ? "true" : "false", U(d->HD), U(b == EX_MIXTRAL ? d->M : d->F));
	if (b == EX_LLAMA)
		fprintf(f, "  \"rope_scaling\": {\"factor\": 8.0, \"high_freq_factor\": "
			"4.0, \"low_freq_factor\": 1.0, "
			"\"original_max_position_embeddings\": 8192, \"rope_type\": "
			"\"llama3\"},\n  \"rope_theta\": 500000.0,\n"
			"  \"mlp_bias\": false,\n  \"pretraining_tp\": 1\n");
	else if (b == EX_MISTRAL || b == EX_MIXTRAL)
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"sliding_window\": null%s\n",
			b == EX_MISTRAL ? "" : ",");
	if (b == EX_MIXTRAL)
		fprintf(f, "  \"num_local_experts\": %llu,\n  \"num_experts_per_tok\": 2,\n"
			"  \"router_aux_loss_coef\": 0.02,\n  \"output_router_logits\": false\n",
			U(d->E));
	if (b == EX_QWEN2)
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"use_sliding_window\": false,\n"
			"  \"sliding_window\": 2048,\n  \"max_window_layers\": %llu\n", U(d->L));
	if (b == EX_QWEN3 || b == EX_QWEN3_MOE)
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"rope_scaling\": null,\n"
			"  \"use_sliding_window\": false,\n  \"sliding_window\": null,\n"
			"  \"max_window_layers\": %llu%s\n", U(d->L), b == EX_QWEN3 ? "" : ",");
	if (b == EX_QWEN3_MOE)
		fprintf(f, "  \"num_experts\": %llu,\n  \"num_experts_per_tok\": 2,\n"
			"  \"moe_intermediate_size\": %llu,\n  \"decoder_sparse_step\": 1,\n"
			"  \"mlp_only_layers\": [],\n  \"norm_topk_prob\": true,\n"
			"  \"router_aux_loss_coef\": 0.001,\n  \"output_router_logits\": false\n",
			U(d->E), U(d->M));
}

static void config_deepseek(FILE *f, const struct ex_family *fam, const struct ex_dims *d)
{
	int v3 = fam->bit != EX_DEEPSEEK2;

	fprintf(f, "  \"attention_bias\": false,\n  \"bos_token_id\": 0,\n  \"eos_token_id\": 1,\n"
		"  \"hidden_act\": \"silu\",\n  \"intermediate_size\": %llu,\n"
		"  \"moe_intermediate_size\": %llu,\n  \"n_routed_experts\": %llu,\n"
		"  \"n_shared_experts\": %llu,\n  \"num_experts_per_tok\": 2,\n"
		"  \"first_k_dense_replace\": %llu,\n  \"moe_layer_freq\": 1,\n"
		"  \"n_group\": 1,\n  \"topk_group\": 1,\n  \"norm_topk_prob\": %s,\n"
		"  \"routed_scaling_factor\": %s,\n  \"scoring_func\": \"%s\",\n"
		"  \"topk_method\": \"%s\",\n  \"q_lora_rank\": ",
		U(d->F), U(d->M), U(d->E), U(d->NS), U(d->K), v3 ? "true" : "false",
		v3 ? "2.5" : "1.0", v3 ? "sigmoid" : "softmax", v3 ? "noaux_tc" : "greedy");
	if (d->QL)
		fprintf(f, "%llu,\n", U(d->QL));
	else
		fprintf(f, "null,\n");
	fprintf(f, "  \"kv_lora_rank\": %llu,\n  \"qk_nope_head_dim\": %llu,\n"
		"  \"qk_rope_head_dim\": %llu,\n  \"v_head_dim\": %llu,\n"
		"  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": 10000.0,\n"
		"  \"rope_scaling\": null,\n  \"tie_word_embeddings\": false%s\n",
		U(d->KVL), U(d->NOPE), U(d->ROPE), U(d->VHD),
		fam->bit == EX_DEEPSEEK32 ? "," : "");
	if (fam->bit == EX_DEEPSEEK32)
		fprintf(f, "  \"index_n_heads\": %llu,\n  \"index_head_dim\": %llu,\n"
			"  \"index_topk\": 16\n", U(d->x['i' - 'a']), U(d->x['j' - 'a']));
}

static void config_olmo3(FILE *f, const struct ex_dims *d)
{
	fprintf(f, "  \"attention_bias\": false,\n  \"pad_token_id\": 1,\n  \"eos_token_id\": 2,\n"
		"  \"hidden_act\": \"silu\",\n  \"intermediate_size\": %llu,\n"
		"  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": 500000.0,\n"
		"  \"rope_scaling\": null,\n  \"sliding_window\": 4096,\n", U(d->F));
	ex_config_layer_types(f, d, 4, "  ");
	fprintf(f, "  \"tie_word_embeddings\": false\n");
}

/*
 * Gemma2 and the Gemma3 text config (at indent ind).  Gemma2's query scalar
 * differs from head_dim as in gemma2-27b, where it matters (see
 * docs/deviations.md).
 */
static void config_gemma(FILE *f, const struct ex_family *fam, const struct ex_dims *d,
			 const char *ind)
{
	int g2 = fam->bit == EX_GEMMA2;

	fprintf(f, "%s\"attention_bias\": false,\n%s\"pad_token_id\": 0,\n"
		"%s\"eos_token_id\": 1,\n%s\"bos_token_id\": 2,\n"
		"%s\"head_dim\": %llu,\n%s\"hidden_activation\": \"gelu_pytorch_tanh\",\n"
		"%s\"intermediate_size\": %llu,\n%s\"rms_norm_eps\": 1e-06,\n"
		"%s\"query_pre_attn_scalar\": %d,\n%s\"tie_word_embeddings\": true,\n",
		ind, ind, ind, ind, ind, U(d->HD), ind, ind, U(d->F), ind, ind,
		g2 ? 24 : (int)d->HD, ind);
	if (g2) {
		fprintf(f, "%s\"rope_theta\": 10000.0,\n%s\"sliding_window\": 4096,\n"
			"%s\"final_logit_softcapping\": 30.0,\n"
			"%s\"attn_logit_softcapping\": 50.0,\n"
			"%s\"cache_implementation\": \"hybrid\"\n", ind, ind, ind, ind, ind);
		return;
	}
	fprintf(f, "%s\"rope_theta\": 1000000.0,\n%s\"rope_local_base_freq\": 10000.0,\n"
		"%s\"rope_scaling\": null,\n%s\"sliding_window\": 512,\n"
		"%s\"sliding_window_pattern\": 6,\n%s\"final_logit_softcapping\": null,\n"
		"%s\"attn_logit_softcapping\": null,\n", ind, ind, ind, ind, ind, ind, ind);
	ex_config_layer_types(f, d, 6, ind);
	fprintf(f, "%s\"cache_implementation\": \"hybrid\"\n", ind);
}

static void config_gpt_oss(FILE *f, const struct ex_dims *d)
{
	fprintf(f, "  \"attention_bias\": true,\n  \"eos_token_id\": 2,\n  \"pad_token_id\": 1,\n"
		"  \"head_dim\": %llu,\n  \"hidden_act\": \"silu\",\n"
		"  \"intermediate_size\": %llu,\n  \"num_local_experts\": %llu,\n"
		"  \"num_experts_per_tok\": 2,\n  \"experts_per_token\": 2,\n"
		"  \"router_aux_loss_coef\": 0.9,\n  \"output_router_logits\": false,\n"
		"  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 150000.0,\n"
		"  \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 32.0, "
		"\"beta_fast\": 32.0, \"beta_slow\": 1.0, \"truncate\": false, "
		"\"original_max_position_embeddings\": 4096},\n"
		"  \"sliding_window\": 128,\n  \"swiglu_limit\": 7.0,\n", U(d->HD), U(d->M),
		U(d->E));
	ex_config_layer_types(f, d, 2, "  ");
	fprintf(f, "  \"tie_word_embeddings\": false\n");
}

int ex_write_config(const char *path, const struct ex_family *fam, const struct ex_dims *d)
{
	FILE *f = fopen(path, "wx");
	int err = 0;

	if (!f)
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	if (fam->config) {
		fam->config(f, fam, d);
	} else {
		ex_config_common(f, fam, d);
		if (fam->bit & EX_STD)
			config_std(f, fam, d);
		else if (fam->bit & EX_DS)
			config_deepseek(f, fam, d);
		else if (fam->bit == EX_OLMO3)
			config_olmo3(f, d);
		else if (fam->bit == EX_GPT_OSS)
			config_gpt_oss(f, d);
		else
			config_gemma(f, fam, d, "  ");
	}
	fprintf(f, "}\n");
	if (ferror(f))
		err = ck_err(-EIO, "%s: write failed", path);
	if (fclose(f) && !err)
		err = ck_err(-EIO, "%s: %s", path, strerror(errno));
	return err;
}
