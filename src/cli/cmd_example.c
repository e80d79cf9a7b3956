/* SPDX-License-Identifier: MIT */
/*
 * This file implements `ckptfs example DIR`: a tiny checkpoint of one of the
 * families ckptfs maps (Llama 3.1 by default), in MaxText's layout, written in
 * the real Orbax format (OCDBT + zarr3, zstd), plus the HF config.json of that
 * tiny model, to try ckptfs on and to test it with.
 *
 * Weight values are a fixed formula of (weight, layer, element), multiples of
 * 1/8 that bfloat16 holds exactly:
 *   g(w, l, k) = (((131*w + 1009*l + 7*k) mod 61) - 30) / 8
 * where w is the weight's position in the family's list (the table below,
 * skipping the weights the family does not have), l the layer and k the
 * row-major index within one layer's (unstacked) array, so that tests can
 * recompute every served element independently (tests/tools/verify_example.py).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "orbax/orbax_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* The dimensions: the defaults, all but L, the head counts and E
 * multiplied by --scale K. */
struct ex_dims {
	uint64_t L, D, HQ, HKV, HD, F, V, E, M;
};

/* Families, as bits. */
enum {
	EX_LLAMA = 1 << 0, EX_MISTRAL = 1 << 1, EX_MIXTRAL = 1 << 2,
	EX_QWEN2 = 1 << 3, EX_QWEN3 = 1 << 4, EX_QWEN3_MOE = 1 << 5,
	EX_DENSE = EX_LLAMA | EX_MISTRAL | EX_QWEN2 | EX_QWEN3,
	EX_ALL = 0xff,
};

static const struct {
	const char *name;
	unsigned bit;
	const char *arch;
} ex_families[] = {
	{ "llama", EX_LLAMA, "LlamaForCausalLM" },
	{ "mistral", EX_MISTRAL, "MistralForCausalLM" },
	{ "mixtral", EX_MIXTRAL, "MixtralForCausalLM" },
	{ "qwen2", EX_QWEN2, "Qwen2ForCausalLM" },
	{ "qwen3", EX_QWEN3, "Qwen3ForCausalLM" },
	{ "qwen3_moe", EX_QWEN3_MOE, "Qwen3MoeForCausalLM" },
};

struct ex_weight {
	const char *name;	/* below params.params.; {L} = layer container */
	unsigned families;	/* EX_* bits of the families that have it */
	unsigned rank;
	char shape[4];		/* dimension letters: D, Q (heads), K (kv heads),
				   H (head dim), F (mlp), V, E (experts),
				   M (expert mlp) */
};

static const struct ex_weight ex_weights[] = {
	{ "token_embedder.embedding", EX_ALL, 2, "VD" },
	{ "decoder.decoder_norm.scale", EX_ALL, 1, "D" },
	{ "decoder.logits_dense.kernel", EX_ALL, 2, "DV" },
	{ "decoder.{L}.pre_self_attention_layer_norm.scale", EX_ALL, 1, "D" },
	{ "decoder.{L}.post_self_attention_layer_norm.scale", EX_ALL, 1, "D" },
	{ "decoder.{L}.self_attention.query.kernel", EX_ALL, 3, "DQH" },
	{ "decoder.{L}.self_attention.key.kernel", EX_ALL, 3, "DKH" },
	{ "decoder.{L}.self_attention.value.kernel", EX_ALL, 3, "DKH" },
	{ "decoder.{L}.self_attention.out.kernel", EX_ALL, 3, "QHD" },
	{ "decoder.{L}.mlp.wi_0.kernel", EX_DENSE, 2, "DF" },
	{ "decoder.{L}.mlp.wi_1.kernel", EX_DENSE, 2, "DF" },
	{ "decoder.{L}.mlp.wo.kernel", EX_DENSE, 2, "FD" },
	{ "decoder.{L}.self_attention.query.bias", EX_QWEN2, 2, "QH" },
	{ "decoder.{L}.self_attention.key.bias", EX_QWEN2, 2, "KH" },
	{ "decoder.{L}.self_attention.value.bias", EX_QWEN2, 2, "KH" },
	{ "decoder.{L}.self_attention.query_norm.scale", EX_QWEN3 | EX_QWEN3_MOE, 1, "H" },
	{ "decoder.{L}.self_attention.key_norm.scale", EX_QWEN3 | EX_QWEN3_MOE, 1, "H" },
	{ "decoder.{L}.moe_block.gate.kernel", EX_QWEN3_MOE, 2, "DE" },
	{ "decoder.{L}.moe_block.wi_0", EX_QWEN3_MOE, 3, "EDM" },
	{ "decoder.{L}.moe_block.wi_1", EX_QWEN3_MOE, 3, "EDM" },
	{ "decoder.{L}.moe_block.wo", EX_QWEN3_MOE, 3, "EMD" },
	{ "decoder.{L}.MoeBlock_0.gate.kernel", EX_MIXTRAL, 2, "DE" },
	{ "decoder.{L}.MoeBlock_0.wi_0", EX_MIXTRAL, 3, "EDM" },
	{ "decoder.{L}.MoeBlock_0.wi_1", EX_MIXTRAL, 3, "EDM" },
	{ "decoder.{L}.MoeBlock_0.wo", EX_MIXTRAL, 3, "EMD" },
};

static uint64_t ex_dim(const struct ex_dims *d, char c)
{
	switch (c) {
	case 'D': return d->D;
	case 'Q': return d->HQ;
	case 'K': return d->HKV;
	case 'H': return d->HD;
	case 'F': return d->F;
	case 'E': return d->E;
	case 'M': return d->M;
	default: return d->V;
	}
}

/* Family-specific config.json members (each line ends with ",\n"). */
static void family_config(FILE *f, unsigned fam, const struct ex_dims *d)
{
	switch (fam) {
	case EX_LLAMA:
		fprintf(f, "  \"rope_scaling\": {\"factor\": 8.0, \"high_freq_factor\": "
			"4.0, \"low_freq_factor\": 1.0, "
			"\"original_max_position_embeddings\": 8192, \"rope_type\": "
			"\"llama3\"},\n  \"rope_theta\": 500000.0,\n"
			"  \"mlp_bias\": false,\n  \"pretraining_tp\": 1,\n");
		break;
	case EX_MISTRAL:
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"sliding_window\": null,\n");
		break;
	case EX_MIXTRAL:
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"sliding_window\": null,\n"
			"  \"num_local_experts\": %llu,\n  \"num_experts_per_tok\": 2,\n"
			"  \"router_aux_loss_coef\": 0.02,\n  \"output_router_logits\": false,\n",
			(unsigned long long)d->E);
		break;
	case EX_QWEN2:
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"use_sliding_window\": false,\n"
			"  \"sliding_window\": 2048,\n  \"max_window_layers\": %llu,\n",
			(unsigned long long)d->L);
		break;
	case EX_QWEN3:
	case EX_QWEN3_MOE:
		fprintf(f, "  \"rope_theta\": 1000000.0,\n  \"rope_scaling\": null,\n"
			"  \"use_sliding_window\": false,\n  \"sliding_window\": null,\n"
			"  \"max_window_layers\": %llu,\n", (unsigned long long)d->L);
		if (fam == EX_QWEN3_MOE)
			fprintf(f, "  \"num_experts\": %llu,\n  \"num_experts_per_tok\": 2,\n"
				"  \"moe_intermediate_size\": %llu,\n  \"decoder_sparse_step\": 1,\n"
				"  \"mlp_only_layers\": [],\n  \"norm_topk_prob\": true,\n"
				"  \"router_aux_loss_coef\": 0.001,\n  \"output_router_logits\": false,\n",
				(unsigned long long)d->E, (unsigned long long)d->M);
		break;
	}
}

static int write_config(const char *path, unsigned fam, const char *model_type,
			const char *arch, const struct ex_dims *d)
{
	FILE *f = fopen(path, "wx");
	int err = 0;

	if (!f)
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	fprintf(f, "{\n"
		"  \"architectures\": [\"%s\"],\n"
		"  \"model_type\": \"%s\",\n"
		"  \"attention_bias\": %s,\n"
		"  \"attention_dropout\": 0.0,\n"
		"  \"bos_token_id\": 1,\n"
		"  \"eos_token_id\": 2,\n"
		"  \"head_dim\": %llu,\n"
		"  \"hidden_act\": \"silu\",\n"
		"  \"hidden_size\": %llu,\n"
		"  \"initializer_range\": 0.02,\n"
		"  \"intermediate_size\": %llu,\n"
		"  \"max_position_embeddings\": 2048,\n"
		"  \"num_attention_heads\": %llu,\n"
		"  \"num_hidden_layers\": %llu,\n"
		"  \"num_key_value_heads\": %llu,\n"
		"  \"rms_norm_eps\": 1e-05,\n", arch, model_type,
		fam == EX_QWEN2 ? "true" : "false", (unsigned long long)d->HD,
		(unsigned long long)d->D,
		(unsigned long long)(fam == EX_MIXTRAL ? d->M : d->F),
		(unsigned long long)d->HQ, (unsigned long long)d->L,
		(unsigned long long)d->HKV);
	family_config(f, fam, d);
	fprintf(f, "  \"tie_word_embeddings\": false,\n"
		"  \"torch_dtype\": \"bfloat16\",\n"
		"  \"use_cache\": true,\n"
		"  \"vocab_size\": %llu\n"
		"}\n", (unsigned long long)d->V);
	if (ferror(f))
		err = ck_err(-EIO, "%s: write failed", path);
	if (fclose(f) && !err)
		err = ck_err(-EIO, "%s: %s", path, strerror(errno));
	return err;
}

static float ex_value(unsigned w, unsigned l, uint64_t k)
{
	return (float)((int)((131u * w + 1009u * l + 7u * k) % 61u) - 30) / 8.0f;
}

/* Write weight w of the example for layer l (or all layers when scanned). */
static int write_weight(struct orbax_writer *ow, const struct ex_dims *d,
			unsigned wi, unsigned value_id, int scanned, int f32, unsigned l)
{
	const struct ex_weight *w = &ex_weights[wi];
	const char *hole = strstr(w->name, "{L}");
	int stacked = hole && scanned;
	struct zarr_write_spec s = { 0 };
	uint64_t n = 1, total;
	char name[256];
	uint8_t *buf;
	int err;

	if (hole)
		snprintf(name, sizeof(name), "params.params.%.*s%s%s", (int)(hole - w->name),
			 w->name, scanned ? "layers" : "", hole + 3);
	else
		snprintf(name, sizeof(name), "params.params.%s", w->name);
	if (hole && !scanned) {
		char *p = strstr(name, "decoder.") + 8;

		memmove(p + 16, p, strlen(p) + 1);
		memcpy(p, "layers_", 7);
		snprintf(p + 7, 9, "%u", l);
		memmove(p + strlen(p), p + 16, strlen(p + 16) + 1);
	}
	s.zarr_format = 3;
	s.dtype = f32 ? CK_DT_F32 : CK_DT_BF16;
	s.zstd_level = 3;
	s.rank = w->rank + (unsigned)stacked;
	for (unsigned i = 0, j = 0; i < s.rank; i++) {
		s.shape[i] = stacked && i == 1 ? d->L : ex_dim(d, w->shape[j++]);
		/* Two chunks along axis 0, as a 2-way FSDP save makes them. */
		s.chunk[i] = i == 0 && s.shape[0] % 2 == 0 ? s.shape[0] / 2 : s.shape[i];
	}
	for (unsigned i = 0; i < w->rank; i++)
		n *= ex_dim(d, w->shape[i]);
	total = n * (stacked ? d->L : 1);
	buf = malloc((size_t)total * 4);
	if (!buf)
		return ck_err(-ENOMEM, "out of memory");
	for (uint64_t p = 0; p < total; p++) {
		uint64_t idx[4], rem = p, k = 0;
		unsigned layer = l;
		float v;

		for (int i = (int)s.rank - 1; i >= 0; i--) {
			idx[i] = rem % s.shape[i];
			rem /= s.shape[i];
		}
		for (unsigned i = 0; i < s.rank; i++) {
			if (stacked && i == 1)
				layer = (unsigned)idx[i];
			else
				k = k * s.shape[i] + idx[i];
		}
		v = ex_value(value_id, layer, k);
		if (f32) {
			memcpy(buf + 4 * p, &v, 4);
		} else {
			uint32_t u;

			memcpy(&u, &v, 4);
			u >>= 16;
			memcpy(buf + 2 * p, &u, 2);
		}
	}
	err = orbax_writer_add(ow, name, &s, buf);
	free(buf);
	return err;
}

int cmd_example(int argc, char **argv)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct ex_dims d = { 2, 64, 4, 2, 16, 128, 256, 4, 32 };
	unsigned fam = EX_LLAMA, value_id = 0;
	const char *model_type = "llama", *arch = "LlamaForCausalLM";
	struct orbax_writer *ow = NULL;
	const char *dir = NULL;
	int scanned = 1, f32 = 0, err;
	char *root = NULL, *cfg = NULL, *end;
	long k;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unscanned")) {
			scanned = 0;
		} else if ((!strcmp(argv[i], "--scale") || !strcmp(argv[i], "--layers")) &&
			   i + 1 < argc) {
			k = strtol(argv[i + 1], &end, 10);
			if (*end || k < 1 || k > 64)
				return cli_usage_error("example: %s takes 1..64", argv[i]);
			if (!strcmp(argv[i++], "--layers")) {
				d.L = (uint64_t)k;
			} else {
				d.D *= (uint64_t)k;
				d.HD *= (uint64_t)k;
				d.F *= (uint64_t)k;
				d.V *= (uint64_t)k;
				d.M *= (uint64_t)k;
			}
		} else if (!strcmp(argv[i], "--family") && i + 1 < argc) {
			size_t f;

			for (f = 0; f < sizeof(ex_families) / sizeof(ex_families[0]); f++)
				if (!strcmp(argv[i + 1], ex_families[f].name))
					break;
			if (f == sizeof(ex_families) / sizeof(ex_families[0]))
				return cli_usage_error("example: unknown family '%s' (llama, "
						       "mistral, mixtral, qwen2, qwen3, "
						       "qwen3_moe)", argv[i + 1]);
			fam = ex_families[f].bit;
			model_type = ex_families[f].name;
			arch = ex_families[f].arch;
			i++;
		}
		else if (!strcmp(argv[i], "--float32"))
			f32 = 1;
		else if (argv[i][0] == '-')
			return cli_usage_error("example: unknown option '%s'", argv[i]);
		else if (!dir)
			dir = argv[i];
		else
			return cli_usage_error("example: unexpected argument '%s'", argv[i]);
	}
	if (!dir)
		return cli_usage_error("example needs DIR");
	if (mkdir(dir, 0755) && errno != EEXIST)
		return cli_fail(ck_err(-errno, "%s: %s", dir, strerror(errno)));
	root = ck_path_join(dir, "checkpoints");
	cfg = ck_path_join(dir, "config.json");
	wo.scan_layers = scanned;
	err = root && cfg ? orbax_writer_open(root, 1, &wo, &ow) : ck_err(-ENOMEM, "out of memory");
	for (unsigned w = 0; !err && w < sizeof(ex_weights) / sizeof(ex_weights[0]); w++) {
		unsigned nl = strstr(ex_weights[w].name, "{L}") && !scanned ? (unsigned)d.L : 1;

		if (!(ex_weights[w].families & fam))
			continue;
		for (unsigned l = 0; !err && l < nl; l++)
			err = write_weight(ow, &d, w, value_id, scanned, f32, l);
		value_id++;
	}
	if (!err)
		err = orbax_writer_commit(ow);
	orbax_writer_free(ow);
	if (!err)
		err = write_config(cfg, fam, model_type, arch, &d);
	if (!err)
		printf("wrote a tiny %s %s %s checkpoint to %s and its HF config "
		       "to %s\n", scanned ? "scanned" : "unscanned", f32 ? "float32" : "bfloat16",
		       model_type, root, cfg);
	free(root);
	free(cfg);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
