/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the mapping engine: tiny MaxText-layout checkpoints of each
 * family, written in the real OCDBT+zarr3 format by the project's writer (and
 * as legacy zarr2 directories), resolved against the mapping files and read
 * tensor by tensor.  Every expected HF element is an index formula over the
 * MaxText value function g(), written here independently of the hooks.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck_test.h"
#include "mapping/detect.h"
#include "mapping/mapping.h"
#include "mapping/plan.h"
#include "read/rd_direct.h"
#include "orbax/orbax.h"
#include "orbax/orbax_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"
#include "zarr/zarr_writer.h"

/* Tiny dims shared by every family. */
enum { L = 2, D = 8, HQ = 4, HKV = 2, HD = 8, F = 12, V = 16, E = 3, FE = 6 };

/* The MaxText value of logical element `flat` of weight `w` in layer `l`:
 * multiples of 1/8 in [-3.75, 3.75], exact in bf16. */
static float g(unsigned w, unsigned l, uint64_t flat)
{
	return (float)((int)((w * 131u + l * 1009u + flat * 7u) % 61u) - 30) / 8.0f;
}

/* Round-to-nearest-even float -> bfloat16 -> float, written out here. */
static float bf16_round(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
	memcpy(&f, &u, 4);
	return f;
}

/* One MaxText weight of a tiny model. */
struct weight {
	const char *name;	/* below params.params.; "{L}" = layer container */
	unsigned rank;
	uint64_t shape[4];	/* per-layer (logical) shape */
	int expert_first;	/* axis 0 is the expert axis (scanned: [E, L, ...]) */
};

static uint64_t numel(const struct weight *w)
{
	uint64_t n = 1;

	for (unsigned i = 0; i < w->rank; i++)
		n *= w->shape[i];
	return n;
}

/* Chunk the layer axis of scanned arrays one layer per chunk. */
static int chunk_layers;

/* Write weight w (index wi) for every layer in the given layout. */
static void write_weight(struct orbax_writer *ow, const struct weight *w, unsigned wi,
			 int scanned, enum ck_dtype dt, int zarr_format)
{
	int per_layer = strstr(w->name, "{L}") != NULL;
	uint64_t n = numel(w), isz = ck_dtype_size(dt);
	char name[256], cont[64];
	unsigned nl = per_layer ? L : 1;

	for (unsigned l = 0; l < (per_layer && !scanned ? nl : 1); l++) {
		struct zarr_write_spec s = { 0 };
		uint8_t *buf;
		const char *p = strstr(w->name, "{L}");

		snprintf(cont, sizeof(cont), scanned ? "layers" : "layers_%u", l);
		if (p)
			snprintf(name, sizeof(name), "params.params.%.*s%s%s",
				 (int)(p - w->name), w->name, cont, p + 3);
		else
			snprintf(name, sizeof(name), "params.params.%s", w->name);
		s.zarr_format = zarr_format;
		s.dtype = dt;
		s.zstd_level = 3;
		/* Physical shape: insert L at axis 1 when scanned (axis 0 of a
		 * rank-1 weight is followed by L as well). */
		s.rank = w->rank + (scanned && per_layer);
		for (unsigned i = 0, j = 0; i < s.rank; i++) {
			if (scanned && per_layer && i == 1)
				s.shape[i] = L;
			else
				s.shape[i] = w->shape[j++];
			/* Several chunks along the first axis when it allows. */
			s.chunk[i] = (i == 0 && s.shape[i] % 2 == 0) ? s.shape[i] / 2 : s.shape[i];
			if (chunk_layers && scanned && per_layer && i == 1)
				s.chunk[i] = 1;
		}
		buf = malloc(n * nl * isz);
		for (uint64_t pi = 0; pi < n * (scanned && per_layer ? nl : 1); pi++) {
			/* Decompose the physical index; drop the layer axis. */
			uint64_t rem = pi, idx[5], flat = 0;
			unsigned layer = l;
			float v;

			for (int i = (int)s.rank - 1; i >= 0; i--) {
				idx[i] = rem % s.shape[i];
				rem /= s.shape[i];
			}
			for (unsigned i = 0; i < s.rank; i++) {
				if (scanned && per_layer && i == 1) {
					layer = (unsigned)idx[i];
					continue;
				}
				flat = flat * s.shape[i] + idx[i];
			}
			v = g(wi, layer, flat);
			if (dt == CK_DT_BF16) {
				uint32_t u;

				memcpy(&u, &v, 4);
				u >>= 16;
				memcpy(buf + 2 * pi, &u, 2);
			} else {
				memcpy(buf + 4 * pi, &v, 4);
			}
		}
		ck_assert_int_eq(orbax_writer_add(ow, name, &s, buf), 0);
		free(buf);
	}
}

/* --- the families --- */

#define ATTN(qb) \
	{ "token_embedder.embedding", 2, { V, D }, 0 }, \
	{ "decoder.decoder_norm.scale", 1, { D }, 0 }, \
	{ "decoder.logits_dense.kernel", 2, { D, V }, 0 }, \
	{ "decoder.{L}.pre_self_attention_layer_norm.scale", 1, { D }, 0 }, \
	{ "decoder.{L}.post_self_attention_layer_norm.scale", 1, { D }, 0 }, \
	{ "decoder.{L}.self_attention.query.kernel", 3, { D, HQ, HD }, 0 }, \
	{ "decoder.{L}.self_attention.key.kernel", 3, { D, HKV, HD }, 0 }, \
	{ "decoder.{L}.self_attention.value.kernel", 3, { D, HKV, HD }, 0 }, \
	{ "decoder.{L}.self_attention.out.kernel", 3, { HQ, HD, D }, 0 }

#define DENSE \
	{ "decoder.{L}.mlp.wi_0.kernel", 2, { D, F }, 0 }, \
	{ "decoder.{L}.mlp.wi_1.kernel", 2, { D, F }, 0 }, \
	{ "decoder.{L}.mlp.wo.kernel", 2, { F, D }, 0 }

static const struct weight llama_w[] = { ATTN(0), DENSE };
static const struct weight qwen2_w[] = {
	ATTN(0), DENSE,
	{ "decoder.{L}.self_attention.query.bias", 2, { HQ, HD }, 0 },
	{ "decoder.{L}.self_attention.key.bias", 2, { HKV, HD }, 0 },
	{ "decoder.{L}.self_attention.value.bias", 2, { HKV, HD }, 0 },
};
#define QKNORM \
	{ "decoder.{L}.self_attention.query_norm.scale", 1, { HD }, 0 }, \
	{ "decoder.{L}.self_attention.key_norm.scale", 1, { HD }, 0 }
static const struct weight qwen3_w[] = { ATTN(0), DENSE, QKNORM };
static const struct weight qwen3_moe_w[] = {
	ATTN(0), QKNORM,
	{ "decoder.{L}.moe_block.gate.kernel", 2, { D, E }, 0 },
	{ "decoder.{L}.moe_block.wi_0", 3, { E, D, FE }, 1 },
	{ "decoder.{L}.moe_block.wi_1", 3, { E, D, FE }, 1 },
	{ "decoder.{L}.moe_block.wo", 3, { E, FE, D }, 1 },
};
static const struct weight mixtral_w[] = {
	ATTN(0),
	{ "decoder.{L}.MoeBlock_0.gate.kernel", 2, { D, E }, 0 },
	{ "decoder.{L}.MoeBlock_0.wi_0", 3, { E, D, FE }, 1 },
	{ "decoder.{L}.MoeBlock_0.wi_1", 3, { E, D, FE }, 1 },
	{ "decoder.{L}.MoeBlock_0.wo", 3, { E, FE, D }, 1 },
};

struct family {
	const char *name;		/* mapping family */
	const char *model_type;
	const struct weight *w;
	size_t nw;
	int scale_q, rope;		/* query hooks of this family */
};

static const struct family families[] = {
	{ "llama", "llama", llama_w, sizeof(llama_w) / sizeof(llama_w[0]), 1, 1 },
	{ "mistral", "mistral", llama_w, sizeof(llama_w) / sizeof(llama_w[0]), 1, 0 },
	{ "qwen2", "qwen2", qwen2_w, sizeof(qwen2_w) / sizeof(qwen2_w[0]), 0, 0 },
	{ "qwen3", "qwen3", qwen3_w, sizeof(qwen3_w) / sizeof(qwen3_w[0]), 0, 0 },
	{ "qwen3_moe", "qwen3_moe", qwen3_moe_w,
	  sizeof(qwen3_moe_w) / sizeof(qwen3_moe_w[0]), 0, 0 },
	{ "mixtral", "mixtral", mixtral_w, sizeof(mixtral_w) / sizeof(mixtral_w[0]), 1, 0 },
};

static char *config_for(const struct family *f)
{
	char *c = malloc(1024);

	snprintf(c, 1024,
		 "{\"model_type\": \"%s\", \"num_hidden_layers\": %d, \"hidden_size\": %d,"
		 " \"num_attention_heads\": %d, \"num_key_value_heads\": %d,"
		 " \"head_dim\": %d, \"intermediate_size\": %d, \"vocab_size\": %d,"
		 " \"num_experts\": %d, \"num_local_experts\": %d,"
		 " \"moe_intermediate_size\": %d, \"tie_word_embeddings\": false}",
		 f->model_type, L, D, HQ, HKV, HD, !strcmp(f->name, "mixtral") ? FE : F, V,
		 E, E, FE);
	return c;
}

static int weight_index(const struct family *f, const char *suffix)
{
	for (size_t i = 0; i < f->nw; i++)
		if (!strcmp(f->w[i].name + (strstr(f->w[i].name, "{L}.") ?
					    strstr(f->w[i].name, "{L}.") - f->w[i].name + 4 : 0),
			    suffix))
			return (int)i;
	return -1;
}

/* Expected value of element (r, c) (or k for rank 1) of an HF tensor. */
static float expect(const struct family *f, const struct plan_tensor *t, uint64_t r,
		    uint64_t c)
{
	const char *n = t->name;
	unsigned l = t->layer < 0 ? 0 : (unsigned)t->layer;
	uint64_t e = t->expert < 0 ? 0 : (uint64_t)t->expert;
	int w;

#define IS(s) (strstr(n, s) != NULL)
	if (IS("embed_tokens"))
		return g((unsigned)weight_index(f, "token_embedder.embedding"), 0, r * D + c);
	if (!strcmp(n, "model.norm.weight"))
		return g((unsigned)weight_index(f, "decoder.decoder_norm.scale"), 0, r);
	if (IS("lm_head"))	/* [V, D] from [D, V] */
		return g((unsigned)weight_index(f, "decoder.logits_dense.kernel"), 0, c * V + r);
	if (IS("input_layernorm"))
		return g((unsigned)weight_index(f, "pre_self_attention_layer_norm.scale"), l, r);
	if (IS("post_attention_layernorm"))
		return g((unsigned)weight_index(f, "post_self_attention_layer_norm.scale"), l, r);
	if (IS("q_norm"))
		return g((unsigned)weight_index(f, "self_attention.query_norm.scale"), l, r);
	if (IS("k_norm"))
		return g((unsigned)weight_index(f, "self_attention.key_norm.scale"), l, r);
	if (IS("q_proj.bias"))
		return g((unsigned)weight_index(f, "self_attention.query.bias"), l, r);
	if (IS("k_proj.bias"))
		return g((unsigned)weight_index(f, "self_attention.key.bias"), l, r);
	if (IS("v_proj.bias"))
		return g((unsigned)weight_index(f, "self_attention.value.bias"), l, r);
	if (IS("q_proj") || IS("k_proj")) {
		/* [H*hd, D] from [D, H, hd]: row h*hd + j takes column j of head
		 * h, or with the RoPE regrouping j' -> 2j' / 2(j'-hd/2)+1. */
		int q = IS("q_proj");
		uint64_t h = r / HD, j = r % HD, H = q ? HQ : HKV;
		float v;

		if (f->rope)
			j = j < HD / 2 ? 2 * j : 2 * (j - HD / 2) + 1;
		w = weight_index(f, q ? "self_attention.query.kernel" : "self_attention.key.kernel");
		v = g((unsigned)w, l, c * H * HD + h * HD + j);
		if (q && f->scale_q)
			v = v * (float)sqrt((double)HD);
		return v;
	}
	if (IS("v_proj"))
		return g((unsigned)weight_index(f, "self_attention.value.kernel"), l, c * HKV * HD + r);
	if (IS("o_proj"))	/* [D, Hq*hd] from [Hq, hd, D] */
		return g((unsigned)weight_index(f, "self_attention.out.kernel"), l, c * D + r);
	if (IS("gate_proj") && !IS("experts"))
		return g((unsigned)weight_index(f, "mlp.wi_0.kernel"), l, c * F + r);
	if (IS("up_proj") && !IS("experts"))
		return g((unsigned)weight_index(f, "mlp.wi_1.kernel"), l, c * F + r);
	if (IS("down_proj") && !IS("experts"))
		return g((unsigned)weight_index(f, "mlp.wo.kernel"), l, c * D + r);
	if (IS("mlp.gate.weight"))	/* [E, D] from [D, E] */
		return g((unsigned)weight_index(f, "moe_block.gate.kernel"), l, c * E + r);
	if (IS("block_sparse_moe.gate.weight"))
		return g((unsigned)weight_index(f, "MoeBlock_0.gate.kernel"), l, c * E + r);
	/* Experts: [F, D] from slice e of [E, D, F]; [D, F] from [E, F, D]. */
	if (IS("gate_proj") || IS(".w1."))
		return g((unsigned)weight_index(f, IS("w1") ? "MoeBlock_0.wi_0" : "moe_block.wi_0"),
			 l, e * D * FE + c * FE + r);
	if (IS("up_proj") || IS(".w3."))
		return g((unsigned)weight_index(f, IS("w3") ? "MoeBlock_0.wi_1" : "moe_block.wi_1"),
			 l, e * D * FE + c * FE + r);
	if (IS("down_proj") || IS(".w2."))
		return g((unsigned)weight_index(f, IS("w2") ? "MoeBlock_0.wo" : "moe_block.wo"),
			 l, e * FE * D + c * D + r);
#undef IS
	ck_abort_msg("no expectation for %s", n);
	return 0;
}

static char *mappings_dir(void)
{
	const char *m = getenv("CKPTFS_MAPPINGS");

	return strdup(m && *m ? m : "../mappings");
}

static size_t expected_count(const struct family *f)
{
	size_t per_layer = 0, global = 0;

	for (size_t i = 0; i < f->nw; i++) {
		size_t k = f->w[i].expert_first ? E : 1;

		if (strstr(f->w[i].name, "{L}"))
			per_layer += k;
		else
			global += k;
	}
	return global + per_layer * L;
}

/* Write a checkpoint of family f, resolve it, compare every element. */
static void check_family(const struct family *f, int scanned, enum ck_dtype dt,
			 int zarr_format, int layout)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	char *t = ck_test_tmpdir(), *dir = mappings_dir(), *path, *cfg = config_for(f);
	struct orbax_writer *ow = NULL;
	struct orbax_ckpt *c = NULL;
	struct mapping *m = NULL;
	struct plan *p = NULL;
	char file[512];

	wo.zarr_format = zarr_format;
	wo.layout = layout;
	wo.ocdbt.max_leaf_entries = 4;	/* a B+tree with interior nodes */
	wo.ocdbt.max_interior_entries = 4;
	wo.scan_layers = scanned;
	ck_assert_int_eq(orbax_writer_open(t, 100, &wo, &ow), 0);
	for (size_t i = 0; i < f->nw; i++)
		write_weight(ow, &f->w[i], (unsigned)i, scanned, dt, zarr_format);
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);

	snprintf(file, sizeof(file), "%s/%s.json", dir, f->name);
	ck_assert_msg(mapping_load(file, &m) == 0, "%s", ck_err_msg());
	ck_assert_msg(orbax_open(t, NULL, &c) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(c->scan_layers, scanned);
	ck_assert_msg(plan_build(m, c, cfg, strlen(cfg), NULL, &p) == 0, "%s %s: %s",
		      f->name, scanned ? "scanned" : "unscanned", ck_err_msg());
	ck_assert_int_eq(p->scanned, scanned);
	ck_assert_uint_eq(p->layers, L);
	ck_assert_uint_eq(p->ntensors, expected_count(f));
	for (size_t i = 0; i < p->ntensors; i++) {
		const struct plan_tensor *pt = &p->tensors[i];
		uint64_t rows = pt->shape.d[0], cols = pt->shape.rank > 1 ? pt->shape.d[1] : 1;
		uint8_t *out = malloc(pt->nbytes);

		ck_assert_int_eq(pt->dtype, dt);
		ck_assert_msg(rd_tensor(pt, out) == 0, "%s", ck_err_msg());
		for (uint64_t r = 0; r < rows; r++)
			for (uint64_t k = 0; k < cols; k++) {
				float want = expect(f, pt, r, k), got;
				uint64_t at = r * cols + k;

				if (dt == CK_DT_BF16) {
					uint32_t u = 0;

					memcpy(&u, out + 2 * at, 2);
					u <<= 16;
					memcpy(&got, &u, 4);
					want = bf16_round(want);
				} else {
					memcpy(&got, out + 4 * at, 4);
				}
				ck_assert_msg(got == want, "%s %s %s[%llu,%llu]: got %g want %g",
					      f->name, scanned ? "scanned" : "unscanned", pt->name,
					      (unsigned long long)r, (unsigned long long)k,
					      (double)got, (double)want);
			}
		free(out);
	}
	plan_free(p);
	orbax_close(c);
	mapping_free(m);
	free(cfg);
	free(dir);
	path = t;
	ck_test_rmtree(path);
	free(t);
}

START_TEST(each_family_should_map_scanned_bf16_ocdbt_zarr3)
{
	check_family(&families[_i], 1, CK_DT_BF16, 3, ORBAX_LAYOUT_OCDBT);
}
END_TEST

START_TEST(each_family_should_map_unscanned_f32_ocdbt_zarr3)
{
	check_family(&families[_i], 0, CK_DT_F32, 3, ORBAX_LAYOUT_OCDBT);
}
END_TEST

START_TEST(each_family_should_map_scanned_f32_legacy_zarr2_dirs)
{
	check_family(&families[_i], 1, CK_DT_F32, 2, ORBAX_LAYOUT_DIR);
}
END_TEST

START_TEST(each_family_should_map_unscanned_bf16_multihost_ocdbt)
{
	check_family(&families[_i], 0, CK_DT_BF16, 3, ORBAX_LAYOUT_OCDBT_MULTIHOST);
}
END_TEST

/* A mapping that does not fit: the wrong family, a missing array. */
START_TEST(plan_should_refuse_a_mapping_that_does_not_fit)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	const struct family *llama = &families[0], *qwen3 = &families[3];
	char *t = ck_test_tmpdir(), *dir = mappings_dir(), *cfg = config_for(llama);
	struct orbax_writer *ow = NULL;
	struct orbax_ckpt *c = NULL;
	struct mapping *m = NULL;
	struct plan *p = NULL;
	char file[512];

	wo.scan_layers = 1;
	ck_assert_int_eq(orbax_writer_open(t, 1, &wo, &ow), 0);
	/* A llama checkpoint without its value kernels. */
	for (size_t i = 0; i < llama->nw; i++)
		if (!strstr(llama->w[i].name, "value"))
			write_weight(ow, &llama->w[i], (unsigned)i, 1, CK_DT_BF16, 3);
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
	ck_assert_int_eq(orbax_open(t, NULL, &c), 0);

	snprintf(file, sizeof(file), "%s/llama.json", dir);
	ck_assert_int_eq(mapping_load(file, &m), 0);
	ck_assert_int_eq(plan_build(m, c, cfg, strlen(cfg), NULL, &p), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "decoder.layers.self_attention.value.kernel"));
	mapping_free(m);

	/* The wrong family: qwen3 wants q/k norms the checkpoint lacks. */
	snprintf(file, sizeof(file), "%s/%s.json", dir, qwen3->name);
	ck_assert_int_eq(mapping_load(file, &m), 0);
	ck_assert_int_eq(plan_build(m, c, cfg, strlen(cfg), NULL, &p), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "query_norm"));
	mapping_free(m);

	/* A config whose dims disagree with the arrays. */
	snprintf(file, sizeof(file), "%s/llama.json", dir);
	ck_assert_int_eq(mapping_load(file, &m), 0);
	free(cfg);
	cfg = strdup("{\"num_hidden_layers\": 2, \"hidden_size\": 8, \"num_attention_heads\": 2,"
		     " \"num_key_value_heads\": 2, \"head_dim\": 8, \"intermediate_size\": 12,"
		     " \"vocab_size\": 16}");
	ck_assert_int_eq(plan_build(m, c, cfg, strlen(cfg), NULL, &p), -EINVAL);
	mapping_free(m);
	orbax_close(c);
	free(cfg);
	free(dir);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

/* Write family f (scanned, bf16) into a new temporary checkpoint root. */
static char *write_ckpt(const struct family *f, int scanned, const char *extra)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *ow = NULL;
	char *t = ck_test_tmpdir();

	wo.scan_layers = scanned;
	ck_assert_int_eq(orbax_writer_open(t, 1, &wo, &ow), 0);
	for (size_t i = 0; i < f->nw; i++)
		write_weight(ow, &f->w[i], (unsigned)i, scanned, CK_DT_BF16, 3);
	if (extra) {
		static const struct weight x = { "decoder.extra.scale", 1, { D }, 0 };
		(void)extra;
		write_weight(ow, &x, 99, scanned, CK_DT_BF16, 3);
	}
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
	return t;
}

static struct mapping *load_family(const char *name)
{
	char *dir = mappings_dir(), file[512];
	struct mapping *m = NULL;

	snprintf(file, sizeof(file), "%s/%s.json", dir, name);
	ck_assert_msg(mapping_load(file, &m) == 0, "%s", ck_err_msg());
	free(dir);
	return m;
}

START_TEST(plan_should_refuse_arrays_the_mapping_does_not_use)
{
	char *t = write_ckpt(&families[3], 1, "extra"), *cfg = config_for(&families[3]);
	struct mapping *m = load_family("qwen3");
	struct orbax_ckpt *c = NULL;
	struct plan *p = NULL;

	ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
	ck_assert_int_eq(plan_build(m, c, cfg, strlen(cfg), NULL, &p), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "does not use 1 checkpoint array: "
				     "params.params.decoder.extra.scale"));
	orbax_close(c);
	mapping_free(m);
	free(cfg);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

/* Reading one layer's tensor decodes only the chunks of that layer. */
START_TEST(reading_a_tensor_should_decode_only_intersecting_chunks)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	const struct family *f = &families[3];
	char *t = ck_test_tmpdir(), *cfg = config_for(f);
	struct orbax_writer *ow = NULL;
	struct mapping *m = load_family("qwen3");
	struct orbax_ckpt *c = NULL;
	struct plan *p = NULL;

	wo.scan_layers = 1;
	ck_assert_int_eq(orbax_writer_open(t, 1, &wo, &ow), 0);
	chunk_layers = 1;
	for (size_t i = 0; i < f->nw; i++)
		write_weight(ow, &f->w[i], (unsigned)i, 1, CK_DT_F32, 3);
	chunk_layers = 0;
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
	ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
	ck_assert_int_eq(plan_build(m, c, cfg, strlen(cfg), NULL, &p), 0);
	for (size_t i = 0; i < p->ntensors; i++) {
		const struct plan_tensor *pt = &p->tensors[i];
		const struct zarr_array *za = pt->src[0].array->za;
		struct zarr_info info;
		uint64_t before = zarr_array_decode_count(za), chunks = 1;
		uint8_t *out = malloc(pt->nbytes);

		/* The chunks of the source slice: the grid cells along every
		 * axis except the fixed (layer) one. */
		ck_assert_int_eq(zarr_array_info(za, &info), 0);
		for (unsigned ax = 0, j = 0; ax < info.rank; ax++) {
			if (j < pt->src[0].nfixed && pt->src[0].fixed_axis[j] == ax) {
				j++;
				continue;
			}
			chunks *= (info.shape[ax] + info.chunk[ax] - 1) / info.chunk[ax];
		}
		if (pt->layer >= 0)
			ck_assert_uint_lt(chunks, info.nchunks);
		ck_assert_int_eq(rd_tensor(pt, out), 0);
		ck_assert_msg(zarr_array_decode_count(za) - before == chunks,
			      "%s: %llu decodes, %llu chunks intersect", pt->name,
			      (unsigned long long)(zarr_array_decode_count(za) - before),
			      (unsigned long long)chunks);
		free(out);
	}
	plan_free(p);
	orbax_close(c);
	mapping_free(m);
	free(cfg);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

/* Every field some shipped mapping "needs", as config.KEY=VALUE gives them. */
static const struct detect_set needed[] = {
	{ "rope_theta", "1000000.0" }, { "rms_norm_eps", "1e-06" },
	{ "num_experts_per_tok", "2" }, { "norm_topk_prob", "true" },
	{ "sliding_window", "null" }, { "rope_scaling", "null" },
};
#define NNEEDED (sizeof(needed) / sizeof(needed[0]))

START_TEST(detection_should_find_the_family_and_infer_the_dims)
{
	char *dir = mappings_dir(), *json = NULL, *note = NULL;
	struct mapping **maps = NULL;
	const struct mapping *m = NULL;
	struct orbax_ckpt *c = NULL;
	struct plan *p = NULL;
	size_t n = 0, len = 0;

	ck_assert_int_eq(mapping_load_dir(dir, &maps, &n), 0);
	for (int fi = 2; fi <= 5; fi++) {	/* qwen2, qwen3, qwen3_moe, mixtral */
		for (int scanned = 0; scanned < 2; scanned++) {
			char *t = write_ckpt(&families[fi], scanned, NULL);
			cJSON *doc;

			ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
			ck_assert_msg(detect_family(maps, n, c, &m) == 0, "%s", ck_err_msg());
			ck_assert_str_eq(m->family, families[fi].name);
			/* Without the values the shapes cannot give: refused,
			 * naming each and the options that give it. */
			ck_assert_uint_ge(m->nneeds, 2);
			ck_assert_int_eq(detect_infer_config(m, c, NULL, 0, &json, &len, &note),
					 -EINVAL);
			ck_assert_ptr_nonnull(strstr(ck_err_msg(), "cannot infer rope_theta, "
						     "rms_norm_eps"));
			ck_assert_ptr_nonnull(strstr(ck_err_msg(), "hf_config=FILE or "
						     "config.rope_theta=VALUE,"
						     "config.rms_norm_eps=VALUE"));
			/* One given, the others still missing. */
			ck_assert_int_eq(detect_infer_config(m, c, needed, 1, &json, &len, &note),
					 -EINVAL);
			ck_assert_ptr_null(strstr(ck_err_msg(), "config.rope_theta="));
			ck_assert_msg(detect_infer_config(m, c, needed, NNEEDED, &json, &len,
							  &note) == 0, "%s", ck_err_msg());
			ck_assert_ptr_nonnull(strstr(note, "num_hidden_layers=2"));
			ck_assert_ptr_nonnull(strstr(note, "given rope_theta=1000000.0"));
			ck_assert_int_eq(ck_json_parse(json, len, &doc), 0);
			ck_assert_double_eq(ck_json_get(doc, "hidden_size")->valuedouble, D);
			ck_assert(cJSON_IsFalse(ck_json_get(doc, "tie_word_embeddings")));
			ck_assert_double_eq(ck_json_get(doc, "rope_theta")->valuedouble, 1e6);
			ck_assert_double_eq(ck_json_get(doc, "rms_norm_eps")->valuedouble, 1e-6);
			ck_assert(cJSON_IsNull(ck_json_get(doc, "sliding_window")));
			cJSON_Delete(doc);
			ck_assert_msg(plan_build(m, c, json, len, NULL, &p) == 0, "%s: %s", json,
				      ck_err_msg());
			ck_assert_uint_eq(p->ntensors, expected_count(&families[fi]));
			plan_free(p);
			free(json);
			free(note);
			orbax_close(c);
			ck_test_rmtree(t);
			free(t);
		}
	}
	/* Llama and Mistral checkpoints look alike: refuse to guess. */
	{
		char *t = write_ckpt(&families[0], 1, NULL);

		ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
		ck_assert_int_eq(detect_family(maps, n, c, &m), -EINVAL);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), "llama, mistral"));
		orbax_close(c);
		ck_test_rmtree(t);
		free(t);
	}
	for (size_t i = 0; i < n; i++)
		mapping_free(maps[i]);
	free(maps);
	free(dir);
}
END_TEST

/* The qwen3 mapping file, edited by fn before it is parsed. */
static struct mapping *edited_qwen3(void (*fn)(cJSON *doc))
{
	char *dir = mappings_dir(), file[512], *text;
	struct mapping *m = NULL;
	uint8_t *raw;
	size_t len;
	cJSON *doc;

	snprintf(file, sizeof(file), "%s/qwen3.json", dir);
	raw = ck_test_read_file(file, &len);
	doc = cJSON_ParseWithLength((char *)raw, len);
	ck_assert_ptr_nonnull(doc);
	fn(doc);
	text = cJSON_Print(doc);
	ck_assert_msg(mapping_parse(text, strlen(text), "qwen3-edited.json", &m) == 0,
		      "%s", ck_err_msg());
	free(text);
	cJSON_Delete(doc);
	free(raw);
	free(dir);
	return m;
}

static void add_divided(cJSON *doc)
{
	cJSON *inf = cJSON_GetObjectItemCaseSensitive(doc, "infer");

	cJSON_AddItemToArray(inf, cJSON_Parse("{\"field\": \"kv_groups\", \"array\": "
		"\"{layers}.self_attention.query.kernel\", \"axis\": 1, "
		"\"divide_by\": \"num_key_value_heads\"}"));
}

static void add_bad_divisor(cJSON *doc)
{
	cJSON *inf = cJSON_GetObjectItemCaseSensitive(doc, "infer");

	cJSON_AddItemToArray(inf, cJSON_Parse("{\"field\": \"odd\", \"array\": "
		"\"token_embedder.embedding\", \"axis\": 1, \"divide_by\": \"3\"}"));
}

static void drop_infer(cJSON *doc)
{
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "infer");
}

START_TEST(inference_should_divide_refuse_and_check_the_model_type)
{
	static const struct detect_set other_type[] = {
		{ "rope_theta", "1e6" }, { "rms_norm_eps", "1e-6" }, { "model_type", "llama" },
	};
	struct mapping *m = edited_qwen3(add_divided), *bad = edited_qwen3(add_bad_divisor);
	struct mapping *none = edited_qwen3(drop_infer);
	char *json = NULL, *note = NULL;
	struct orbax_ckpt *c = NULL;
	size_t len = 0;

	for (int scanned = 0; scanned < 2; scanned++) {
		char *t = write_ckpt(&families[3], scanned, NULL);
		cJSON *doc;

		ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
		ck_assert_msg(detect_infer_config(m, c, needed, 2, &json, &len, &note) == 0,
			      "%s", ck_err_msg());
		ck_assert_int_eq(ck_json_parse(json, len, &doc), 0);
		ck_assert_double_eq(ck_json_get(doc, "kv_groups")->valuedouble, HQ / HKV);
		cJSON_Delete(doc);
		free(json);
		free(note);
		ck_assert_int_eq(detect_infer_config(bad, c, needed, 2, &json, &len, &note),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), "not a multiple of 3"));
		ck_assert_int_eq(detect_infer_config(none, c, needed, 2, &json, &len, &note),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), "no 'infer' list"));
		ck_assert_int_eq(detect_infer_config(m, c, other_type, 3, &json, &len, &note),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), "config.model_type=llama"));
		orbax_close(c);
		ck_test_rmtree(t);
		free(t);
	}
	mapping_free(m);
	mapping_free(bad);
	mapping_free(none);
}
END_TEST

START_TEST(presets_should_match_when_family_and_every_shape_agree)
{
	char *dir = mappings_dir(), file[512], *t = write_ckpt(&families[3], 1, NULL);
	char *pd = ck_test_tmpdir(), *cfg = config_for(&families[3]), *other;
	const char *big = "{\"model_type\": \"qwen3\", \"num_hidden_layers\": 2, "
		"\"hidden_size\": 16, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
		"\"head_dim\": 8, \"intermediate_size\": 12, \"vocab_size\": 16, "
		"\"tie_word_embeddings\": false}";
	const struct mapping *fam;
	struct mapping *m = NULL;
	struct orbax_ckpt *c = NULL;
	char **names = NULL;
	size_t n = 0;

	snprintf(file, sizeof(file), "%s/qwen3.json", dir);
	ck_assert_int_eq(mapping_load(file, &m), 0);
	fam = m;
	ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
#define PUT(name, text) do { \
		snprintf(file, sizeof(file), "%s/%s", pd, name); \
		ck_test_write_file(file, text, strlen(text)); \
	} while (0)
	PUT("tiny-b.json", cfg);
	PUT("tiny-a.json", cfg);
	PUT("big.json", big);
	PUT("broken.json", "{\"model_type\": ");
	PUT("tiny.txt", cfg);
	other = config_for(&families[0]);	/* llama: not this family */
	PUT("llama-tiny.json", other);
#undef PUT
	ck_assert_msg(detect_presets(&fam, 1, c, pd, &names, &n) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "tiny-a");
	ck_assert_str_eq(names[1], "tiny-b");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	/* No presets directory: no presets. */
	snprintf(file, sizeof(file), "%s/nonesuch", pd);
	ck_assert_int_eq(detect_presets(&fam, 1, c, file, &names, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(names);
	orbax_close(c);
	mapping_free(m);
	ck_test_rmtree(t);
	ck_test_rmtree(pd);
	free(t);
	free(pd);
	free(cfg);
	free(other);
	free(dir);
}
END_TEST

/* Model types with a preset but deliberately no mapping yet. */
static int is_unmapped_type(const char *t)
{
	static const char *const unmapped[] = {
		NULL,		/* none at present */
	};

	for (size_t i = 0; i < sizeof(unmapped) / sizeof(unmapped[0]); i++)
		if (unmapped[i] && !strcmp(t, unmapped[i]))
			return 1;
	return 0;
}

static const cJSON *text_config(const cJSON *doc)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "text_config");
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(doc, "thinker_config");

	if (th)
		t = cJSON_GetObjectItemCaseSensitive(th, "text_config");
	return t ? t : doc;
}

START_TEST(every_preset_should_have_a_mapping)
{
	char *dir = mappings_dir(), path[512];
	struct mapping **maps = NULL;
	struct dirent *e;
	size_t n = 0, presets = 0;
	DIR *d;

	ck_assert_int_eq(mapping_load_dir(dir, &maps, &n), 0);
	snprintf(path, sizeof(path), "%s/presets", dir);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char file[1024];
		uint8_t *text;
		size_t len;
		cJSON *doc;
		const cJSON *mt;

		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		text = ck_test_read_file(file, &len);
		doc = cJSON_ParseWithLength((char *)text, len);
		ck_assert_msg(doc != NULL, "%s does not parse", file);
		mt = cJSON_GetObjectItemCaseSensitive(doc, "model_type");
		ck_assert_msg(cJSON_IsString(mt), "%s: no model_type", file);
		ck_assert_msg(mapping_for_model_type(maps, n, mt->valuestring) != NULL ||
			      is_unmapped_type(mt->valuestring),
			      "%s: no mapping for %s", file, mt->valuestring);
		/* The text model's dims: top level, or nested as the multimodal
		 * configs have them. */
		ck_assert_msg(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(text_config(doc),
									      "hidden_size")),
			      "%s: no hidden_size", file);
		cJSON_Delete(doc);
		free(text);
		presets++;
	}
	closedir(d);
	ck_assert_uint_ge(presets, 15);
	for (size_t i = 0; i < n; i++)
		mapping_free(maps[i]);
	free(maps);
	free(dir);
}
END_TEST

START_TEST(every_shipped_mapping_should_load)
{
	char *dir = mappings_dir();
	struct mapping **maps = NULL;
	size_t n = 0;

	ck_assert_msg(mapping_load_dir(dir, &maps, &n) == 0, "%s", ck_err_msg());
	ck_assert_uint_ge(n, 6);
	ck_assert_ptr_nonnull(mapping_for_model_type(maps, n, "qwen3_moe"));
	ck_assert_ptr_null(mapping_for_model_type(maps, n, "nonesuch"));
	for (size_t i = 0; i < n; i++)
		mapping_free(maps[i]);
	free(maps);
	free(dir);
}
END_TEST

START_TEST(mapping_parse_should_reject_bad_files)
{
	static const char *const bad[] = {
		"{}",
		"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": []}",
		"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": [{\"hf\": \"a\", "
		"\"from\": \"b\", \"shape\": [1], \"hooks\": [\"no_such_hook\"]}]}",
		"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": [{\"hf\": \"a.{i}\", "
		"\"from\": \"{layers}.b\", \"shape\": [1]}]}",
		"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": [{\"hf\": \"a\", "
		"\"from\": \"b\", \"shape\": [1], \"hooks\": [[\"scale_query\"]]}]}",
	};
	static const int want[] = { -EINVAL, -EINVAL, -ENOTSUP, -EINVAL, -EINVAL };
	struct mapping *m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(mapping_parse(bad[i], strlen(bad[i]), "t.json", &m), want[i]);
}
END_TEST

/*
 * A config path may index an array (by a number, or by i for the layer) and
 * test a string element against its last component: Gemma4 picks its global
 * layers from layer_types.  Layer 0 is sliding, layer 1 full; past the
 * array's end, or a component after the string, the let's fallback wins.
 */
/*
 * A tower rule ("count") runs over its own blocks, however many text layers
 * there are; with required_if_any, a tower that is present must be whole,
 * and an absent one is skipped; "len" reads a config list's length.
 */
START_TEST(tower_rules_should_count_their_own_blocks)
{
	static const char map[] =
		"{\"family\": \"t\", \"model_types\": [\"t\"], \"prefix\": \"params.params.\","
		" \"layers\": {\"count\": \"num_hidden_layers\", \"axis\": 1,"
		" \"unscanned\": \"decoder.layers_{i}\"},"
		" \"tensors\": ["
		"{\"hf\": \"q.{i}\", \"from\": \"{layers}.self_attention.query.kernel\","
		" \"shape\": [\"8\", \"32\"]},"
		"{\"hf\": \"tower.{i}\", \"from\": \"vision.block_{i}.scale\","
		" \"shape\": [\"8\"], \"count\": \"tower.len\","
		" \"required_if_any\": \"vision.*\"}]}";
	static const char cfg[] =
		"{\"num_hidden_layers\": 2, \"tower\": [0, 0, 0]}";
	static const struct weight q = { "decoder.{L}.self_attention.query.kernel", 3,
					 { D, HQ, HD }, 0 };
	struct weight b = { NULL, 1, { 8 }, 0 };
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct mapping *m = NULL;
	char names[3][64];

	ck_assert_int_eq(mapping_parse(map, strlen(map), "t.json", &m), 0);
	for (int blocks = 0; blocks <= 3; blocks++) {
		/* 0: no tower (skipped); 1: block 1 missing; 2, 3: whole (2:
		 * the config's three blocks, one array missing) */
		char *t = ck_test_tmpdir();
		struct orbax_writer *ow = NULL;
		struct orbax_ckpt *c = NULL;
		struct plan *p = NULL;
		int err;

		wo.scan_layers = 0;
		ck_assert_int_eq(orbax_writer_open(t, 1, &wo, &ow), 0);
		write_weight(ow, &q, 0, 0, CK_DT_F32, 3);
		for (int j = 0; j < 3; j++) {
			if (blocks == 0 || (blocks == 1 && j == 1) || (blocks == 2 && j == 2))
				continue;
			snprintf(names[j], sizeof(names[j]), "vision.block_%d.scale", j);
			b.name = names[j];
			write_weight(ow, &b, 1 + (unsigned)j, 0, CK_DT_F32, 3);
		}
		ck_assert_int_eq(orbax_writer_commit(ow), 0);
		orbax_writer_free(ow);
		ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
		err = plan_build(m, c, cfg, strlen(cfg), NULL, &p);
		if (blocks == 0 || blocks == 3) {
			ck_assert_msg(err == 0, "%d: %d %s", blocks, err, ck_err_msg());
			/* two text layers, and all three blocks past them */
			ck_assert_uint_eq(p->ntensors, blocks ? 5 : 2);
			if (blocks)
				ck_assert_str_eq(p->tensors[4].name, "tower.2");
			plan_free(p);
		} else {
			ck_assert_int_eq(err, -EINVAL);
			ck_assert_msg(strstr(ck_err_msg(), blocks == 1 ? "vision.block_1.scale" :
					     "vision.block_2.scale"), "%s", ck_err_msg());
		}
		orbax_close(c);
		ck_test_rmtree(t);
		free(t);
	}
	mapping_free(m);
}
END_TEST

/* Siblings (the layers of a scanned array, per rule and expert) read
 * together give the same bytes as read one by one. */
/* A family's example checkpoint written and planned (fam_open), and freed
 * with everything it holds (fam_close). */
struct fam {
	char *t, *dir, *cfg;
	struct orbax_ckpt *c;
	struct mapping *m;
	struct plan *p;
};

static void fam_open(struct fam *x, const struct family *f, int scanned)
{
	char file[512];

	memset(x, 0, sizeof(*x));
	x->t = write_ckpt(f, scanned, NULL);
	x->dir = mappings_dir();
	x->cfg = config_for(f);
	snprintf(file, sizeof(file), "%s/%s.json", x->dir, f->name);
	ck_assert_int_eq(mapping_load(file, &x->m), 0);
	ck_assert_int_eq(orbax_open(x->t, NULL, &x->c), 0);
	ck_assert_msg(plan_build(x->m, x->c, x->cfg, strlen(x->cfg), NULL, &x->p) == 0, "%s",
		      ck_err_msg());
}

static void fam_close(struct fam *x)
{
	plan_free(x->p);
	mapping_free(x->m);
	orbax_close(x->c);
	free(x->cfg);
	free(x->dir);
	ck_test_rmtree(x->t);
	free(x->t);
}

START_TEST(siblings_should_read_as_they_do_alone)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		struct fam x;
		struct plan *p;
		struct plan_groups g;

		fam_open(&x, &families[f], 1);
		p = x.p;
		ck_assert_int_eq(plan_groups_build(p, &g), 0);
		ck_assert_uint_gt(g.ngroups, 0);
		for (size_t k = 0; k < g.ngroups; k++) {
			uint32_t n = g.first[k + 1] - g.first[k];
			const uint32_t *ids = &g.members[g.first[k]];
			void *outs[64];

			/* Every layer of the stack, of every expert of a stacked
			 * expert array: expert-major, as the array's axes are. */
			ck_assert_uint_eq(n % L, 0);
			ck_assert_uint_le(n, 64);
			ck_assert_uint_eq(g.axes[k] >> 1 & 1, 1);
			ck_assert_uint_eq(g.axes[k] & 1, n > L);
			for (uint32_t i = 0; i < n; i++) {
				ck_assert_uint_eq(g.of[ids[i]], k);
				ck_assert_int_eq(p->tensors[ids[i]].layer, (int64_t)(i % L));
				outs[i] = malloc(p->tensors[ids[i]].nbytes);
			}
			/* Whole, and in batches of 3 that straddle experts. */
			if (k % 2)
				ck_assert_int_eq(rd_tensors(p, &g, ids, n, outs, NULL), 0);
			for (uint32_t i = 0; !(k % 2) && i < n; i += 3)
				ck_assert_int_eq(rd_tensors(p, &g, ids + i,
								   n - i < 3 ? n - i : 3,
								   outs + i, NULL), 0);
			for (uint32_t i = 0; i < n; i++) {
				const struct plan_tensor *pt = &p->tensors[ids[i]];
				void *one = malloc(pt->nbytes);

				ck_assert_int_eq(rd_tensor(pt, one), 0);
				ck_assert_msg(!memcmp(one, outs[i], pt->nbytes), "%s", pt->name);
				/* The same bytes as the hook chain. */
				ck_assert_int_eq(rd_tensor_hooks(pt, one), 0);
				ck_assert_msg(!memcmp(one, outs[i], pt->nbytes), "%s", pt->name);
				free(one);
			}
			/* And the group cut from one box through the hook chains. */
			rd_direct_disable(1);
			for (uint32_t i = 0; i < n; i += 3) {
				void *again[3];
				uint32_t b = n - i < 3 ? n - i : 3;

				for (uint32_t j = 0; j < b; j++)
					again[j] = malloc(p->tensors[ids[i + j]].nbytes);
				ck_assert_int_eq(rd_tensors(p, &g, ids + i, b, again, NULL), 0);
				for (uint32_t j = 0; j < b; j++) {
					ck_assert_msg(!memcmp(again[j], outs[i + j],
							      p->tensors[ids[i + j]].nbytes),
						      "%s (hook chains)", p->tensors[ids[i + j]].name);
					free(again[j]);
				}
			}
			rd_direct_disable(0);
			for (uint32_t i = 0; i < n; i++)
				free(outs[i]);
		}
		/* Unstacked tensors (the embedding) belong to no group. */
		ck_assert_uint_eq(g.of[0], UINT32_MAX);
		plan_groups_release(&g);
		fam_close(&x);
	}
}
END_TEST

/* bfloat16 -> float32 -> the operations -> bfloat16, one value at a time,
 * written here from the formats' definitions: round to nearest, ties to
 * even; a NaN keeps its sign and top bits and is made quiet. */
static uint16_t ref_ops_bf16(const struct rd_moves *m, uint16_t h)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
	uint32_t u, low;

	for (unsigned i = 0; i < m->nops; i++)
		v.f = m->op[i] == HOOK_OP_MUL ? v.f * m->c[i] :
		      m->op[i] == HOOK_OP_DIV ? v.f / m->c[i] : v.f + m->c[i];
	u = v.u;
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(u >> 16 | 0x40);
	low = u & 0xffffu;
	u >>= 16;
	if (low > 0x8000u || (low == 0x8000u && (u & 1)))
		u++;
	return (uint16_t)u;
}

/* The vectorized operations of the direct path agree with that for every
 * bfloat16 value (zeros, subnormals, infinities, NaNs, ties), whatever the
 * run length and alignment. */
START_TEST(direct_path_operations_should_round_every_bf16_value)
{
	static const struct { unsigned n; enum hook_op op[2]; float c[2]; } sets[] = {
		{ 1, { HOOK_OP_MUL }, { 0.08838834764831845f } },
		{ 1, { HOOK_OP_DIV }, { 11.313708498984761f } },
		{ 2, { HOOK_OP_MUL, HOOK_OP_ADD }, { 3.0f, 1.0f } },
		{ 1, { HOOK_OP_MUL }, { 1e30f } },
	};
	uint16_t *v = malloc(65536 * sizeof(*v) + 16);

	for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
		struct rd_moves m = { 0 };

		m.nops = sets[k].n;
		for (unsigned i = 0; i < m.nops; i++) {
			m.op[i] = sets[k].op[i];
			m.c[i] = sets[k].c[i];
		}
		for (unsigned off = 0; off < 3; off++) {
			for (uint32_t i = 0; i < 65536; i++)
				v[off + i] = (uint16_t)i;
			rd_ops_bf16(&m, v + off, 65536 - off);
			for (uint32_t i = 0; i < 65536 - off; i++)
				ck_assert_msg(v[off + i] == ref_ops_bf16(&m, (uint16_t)i),
					      "set %zu, 0x%04x: got 0x%04x, want 0x%04x", k, i,
					      v[off + i], ref_ops_bf16(&m, (uint16_t)i));
		}
	}
	free(v);
}
END_TEST

/* Chains that only move elements are read straight from the chunks, with
 * the same bytes as the hook chain, in both layouts. */
START_TEST(the_direct_path_should_match_the_hook_chain)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
		for (int scanned = 0; scanned < 2; scanned++) {
			struct fam x;
			struct plan *p;
			size_t direct = 0;

			fam_open(&x, &families[f], scanned);
			p = x.p;
			for (size_t i = 0; i < p->ntensors; i++) {
				const struct plan_tensor *pt = &p->tensors[i];
				uint8_t *a = malloc(pt->nbytes), *b = malloc(pt->nbytes);
				struct rd_moves mv;
				int err = rd_moves_build(pt, &mv);

				ck_assert(err == 0 || err == RD_NOT_DIRECT);
				direct += err == 0;
				rd_moves_release(&mv);
				memset(a, 0xa5, pt->nbytes);
				ck_assert_msg(rd_tensor(pt, a) == 0, "%s", ck_err_msg());
				ck_assert_int_eq(rd_tensor_hooks(pt, b), 0);
				ck_assert_msg(!memcmp(a, b, pt->nbytes), "%s %s", families[f].name,
					      pt->name);
				free(a);
				free(b);
			}
			/* Every family has kernels that are plain transposes. */
			ck_assert_msg(direct * 2 >= p->ntensors, "%s: %zu of %zu direct",
				      families[f].name, direct, p->ntensors);
			fam_close(&x);
		}
}
END_TEST

/* The moves of reshape_kernel on a [D, H, hd] slice, out [H * hd, D]:
 * element (d, h, k) goes to row h * hd + k, column d. */
START_TEST(moves_should_compose_reshape_and_transpose)
{
	struct map_rule r = { 0 };
	struct plan_tensor t = { 0 };
	struct rd_moves mv;
	const uint64_t nd = 6, nh = 2, hd = 4;

	r.nhooks = 1;
	r.hooks[0].hook = hook_find("reshape_kernel");
	t.rule = &r;
	t.nsrc = 1;
	t.src[0].rank = 3;
	t.src[0].shape[0] = nd;
	t.src[0].shape[1] = nh;
	t.src[0].shape[2] = hd;
	t.src[0].slice = (struct hook_shape){ 3, { nd, nh, hd } };
	t.out[0] = (struct hook_shape){ 2, { nh * hd, nd } };
	t.shape = t.out[0];
	ck_assert_int_eq(rd_moves_build(&t, &mv), 0);
	ck_assert_uint_eq(mv.nax, 3);
	for (uint64_t d = 0; d < nd; d++)
		for (uint64_t h = 0; h < nh; h++)
			for (uint64_t k = 0; k < hd; k++)
				ck_assert_uint_eq(mv.off[0][d] + mv.off[1][h] + mv.off[2][k],
						  (h * hd + k) * nd + d);
	ck_assert_uint_eq(mv.step[0], 1);		/* D: the columns */
	ck_assert_uint_eq(mv.step[1], hd * nd);		/* H: blocks of rows */
	ck_assert_uint_eq(mv.step[2], nd);		/* hd: rows */
	rd_moves_release(&mv);
	/* A pointwise hook is applied as elements are converted. */
	r.nhooks = 2;
	r.hooks[1].hook = hook_find("scale_query");
	t.args[1].n = 1;
	t.args[1].v[0] = 0.5;
	t.out[1] = t.out[0];
	ck_assert_int_eq(rd_moves_build(&t, &mv), 0);
	ck_assert_uint_eq(mv.nops, 1);
	ck_assert_int_eq(mv.op[0], HOOK_OP_MUL);
	ck_assert(mv.c[0] == 0.5f);
	rd_moves_release(&mv);
	/* Rows that are two slice axes cannot be cropped as one. */
	r.hooks[1].hook = hook_find("embed_pad");
	t.out[1] = (struct hook_shape){ 2, { 5, nd } };
	t.shape = t.out[1];
	ck_assert_int_eq(rd_moves_build(&t, &mv), RD_NOT_DIRECT);
	/* lm_head: [D, V] transposed, the padded vocabulary dropped: only the
	 * leading 5 of the 8 source columns are read. */
	r.hooks[0].hook = hook_find("transpose");
	t.src[0].rank = 2;
	t.src[0].shape[1] = 8;
	t.src[0].slice = (struct hook_shape){ 2, { nd, 8 } };
	t.out[0] = (struct hook_shape){ 2, { 8, nd } };
	ck_assert_int_eq(rd_moves_build(&t, &mv), 0);
	ck_assert_uint_eq(mv.len[0], nd);
	ck_assert_uint_eq(mv.len[1], 5);
	for (uint64_t d = 0; d < nd; d++)
		for (uint64_t v = 0; v < 5; v++)
			ck_assert_uint_eq(mv.off[0][d] + mv.off[1][v], v * nd + d);
	rd_moves_release(&mv);
	/* Padding is not a move: the hook chain does it. */
	t.out[1] = (struct hook_shape){ 2, { 10, nd } };
	t.shape = t.out[1];
	ck_assert_int_eq(rd_moves_build(&t, &mv), RD_NOT_DIRECT);
}
END_TEST

START_TEST(expressions_should_index_config_arrays_and_test_strings)
{
	static const char map[] =
		"{\"family\": \"t\", \"model_types\": [\"t\"], \"prefix\": \"params.params.\","
		" \"let\": {\"n\": [\"layer_types.2.full_attention\","
		" \"layer_types.i.full_attention.x\", \"sizes.1 - 2\"]},"
		" \"layers\": {\"count\": \"num_hidden_layers\", \"axis\": 1,"
		" \"unscanned\": \"decoder.layers_{i}\"},"
		" \"tensors\": ["
		"{\"hf\": \"full.{i}\", \"from\": \"{layers}.self_attention.query.kernel\","
		" \"shape\": [\"sizes.0\", \"n * 4\"], \"when\": \"layer_types.i.full_attention\"},"
		"{\"hf\": \"sliding.{i}\", \"from\": \"{layers}.self_attention.query.kernel\","
		" \"shape\": [\"sizes.i\", \"32\"],"
		" \"when\": \"layer_types.i.sliding_attention && !layer_types.i.full_attention\"}]}";
	static const char cfg[] =
		"{\"num_hidden_layers\": 2, \"sizes\": [8, 10],"
		" \"layer_types\": [\"sliding_attention\", \"full_attention\"]}";
	static const struct weight q = { "decoder.{L}.self_attention.query.kernel", 3,
					 { D, HQ, HD }, 0 };
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *ow = NULL;
	struct orbax_ckpt *c = NULL;
	struct mapping *m = NULL;
	struct plan *p = NULL;
	char *t = ck_test_tmpdir();

	wo.scan_layers = 0;
	ck_assert_int_eq(orbax_writer_open(t, 1, &wo, &ow), 0);
	write_weight(ow, &q, 0, 0, CK_DT_F32, 3);
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
	ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
	ck_assert_int_eq(mapping_parse(map, strlen(map), "t.json", &m), 0);
	ck_assert_msg(plan_build(m, c, cfg, strlen(cfg), NULL, &p) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(p->ntensors, 2);
	ck_assert_str_eq(p->tensors[0].name, "full.1");
	ck_assert_uint_eq(p->tensors[0].shape.d[0], 8);
	ck_assert_uint_eq(p->tensors[0].shape.d[1], 32);	/* n = 10 - 2 */
	ck_assert_str_eq(p->tensors[1].name, "sliding.0");
	ck_assert_uint_eq(p->tensors[1].shape.d[0], 8);	/* sizes.0 */
	plan_free(p);
	orbax_close(c);
	mapping_free(m);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

/* Write array `name` (any name, any rank) holding g(wi, 0, flat). */
static void write_named(struct orbax_writer *ow, const char *name, unsigned rank,
			const uint64_t *shape, unsigned wi)
{
	struct zarr_write_spec s = { 0 };
	uint64_t n = 1;
	float *buf;

	s.zarr_format = 3;
	s.dtype = CK_DT_F32;
	s.zstd_level = 3;
	s.rank = rank;
	for (unsigned i = 0; i < rank; i++) {
		s.shape[i] = s.chunk[i] = shape[i];
		n *= shape[i];
	}
	buf = malloc(n * 4);
	for (uint64_t k = 0; k < n; k++)
		buf[k] = g(wi, 0, k);
	ck_assert_int_eq(orbax_writer_add(ow, name, &s, buf), 0);
	free(buf);
}

/* Plan map (text) against the arrays written by fill(), with stderr (the
 * log) captured into *log (caller frees; NULL to discard). */
static int plan_logged(const char *map, const char *cfg,
		       void (*fill)(struct orbax_writer *ow), struct plan **p,
		       struct mapping **m, struct orbax_ckpt **c, char **t, char **log)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *ow = NULL;
	char file[512];
	int err, saved, fd;
	size_t n;

	*t = ck_test_tmpdir();
	wo.scan_layers = 0;
	ck_assert_int_eq(orbax_writer_open(*t, 1, &wo, &ow), 0);
	fill(ow);
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
	ck_assert_int_eq(orbax_open(*t, NULL, c), 0);
	ck_assert_msg(mapping_parse(map, strlen(map), "t.json", m) == 0, "%s", ck_err_msg());
	snprintf(file, sizeof(file), "%s.log", *t);
	fflush(stderr);
	saved = dup(2);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	err = plan_build(*m, *c, cfg, strlen(cfg), NULL, p);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (log)
		*log = (char *)ck_test_read_file(file, &n);
	unlink(file);
	return err;
}

/* The value tensor `name` of p holds at flat index k (F32). */
static float plan_value(const struct plan *p, const char *name, uint64_t k)
{
	for (size_t i = 0; i < p->ntensors; i++) {
		const struct plan_tensor *pt = &p->tensors[i];
		float *out, v;

		if (strcmp(pt->name, name))
			continue;
		out = malloc(pt->nbytes);
		ck_assert_msg(rd_tensor(pt, out) == 0, "%s", ck_err_msg());
		v = out[k];
		free(out);
		return v;
	}
	ck_abort_msg("no tensor %s", name);
	return 0;
}

static const char *plan_source(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->ntensors; i++)
		if (!strcmp(p->tensors[i].name, name))
			return p->tensors[i].src[0].array->name;
	return NULL;
}

/* Layer 0 unstacked in both layouts, layers 1.. stacked in decoder.blocks
 * when scanned (DeepSeek V4's prefix layers); "t" found at its path below
 * the prefix, in a custom collection, or under aux; mhc-like "skip" arrays
 * ignored. */
#define ALT_MAP(ignore) \
	"{\"family\": \"t\", \"model_types\": [\"t\"], \"prefix\": \"params.params.\"," \
	" \"layers\": {\"count\": \"num_hidden_layers\", \"axis\": 1," \
	" \"unscanned\": \"decoder.layers_{i}\", \"scanned\": [" \
	"{\"when\": \"i < 1\", \"container\": \"decoder.layers_{i}\"}," \
	"{\"container\": \"decoder.blocks\", \"index\": \"i - 1\"}]}," \
	ignore \
	" \"tensors\": [" \
	"{\"hf\": \"q.{i}\", \"from\": \"{layers}.q\", \"shape\": [\"8\"]}," \
	"{\"hf\": \"t.{i}\", \"from\": \"{layers}.t\", \"shape\": [\"4\"]," \
	" \"or_from\": [\"params.Tid.{layers}.t\", \"aux.model.{layers}.t\"]," \
	" \"optional\": \"log\"}]}"

static const char alt_map[] = ALT_MAP("\"ignore\": [\"decoder.*.skip.scale\"],");
static const char alt_map_no_ignore[] = ALT_MAP("");
static const char alt_cfg[] = "{\"num_hidden_layers\": 3}";

/* Scanned: q.0 and skip in layers_0, q.1-2 stacked; t.0 in a custom
 * collection, t.1-2 stacked under aux (weights 1 and 2). */
static void fill_scanned(struct orbax_writer *ow)
{
	write_named(ow, "params.params.decoder.layers_0.q", 1, (uint64_t[]){ 8 }, 0);
	write_named(ow, "params.params.decoder.blocks.q", 2, (uint64_t[]){ 8, 2 }, 3);
	write_named(ow, "params.params.decoder.layers_0.skip.scale", 1, (uint64_t[]){ 4 }, 4);
	write_named(ow, "params.Tid.decoder.layers_0.t", 1, (uint64_t[]){ 4 }, 1);
	write_named(ow, "aux.model.decoder.blocks.t", 2, (uint64_t[]){ 4, 2 }, 2);
}

/* Unscanned, no t anywhere. */
static void fill_unscanned_no_t(struct orbax_writer *ow)
{
	for (unsigned l = 0; l < 3; l++) {
		char name[64];

		snprintf(name, sizeof(name), "params.params.decoder.layers_%u.q", l);
		write_named(ow, name, 1, (uint64_t[]){ 8 }, l);
	}
}

/* Unscanned, t below the prefix for layer 0 and in the collection too (the
 * path below the prefix wins), the collection for layers 1 and 2. */
static void fill_unscanned_t(struct orbax_writer *ow)
{
	fill_unscanned_no_t(ow);
	write_named(ow, "params.params.decoder.layers_0.t", 1, (uint64_t[]){ 4 }, 5);
	write_named(ow, "params.Tid.decoder.layers_0.t", 1, (uint64_t[]){ 4 }, 6);
	write_named(ow, "params.Tid.decoder.layers_1.t", 1, (uint64_t[]){ 4 }, 7);
	write_named(ow, "params.Tid.decoder.layers_2.t", 1, (uint64_t[]){ 4 }, 8);
}

static void alt_done(struct plan *p, struct mapping *m, struct orbax_ckpt *c, char *t,
		     char *log)
{
	plan_free(p);
	mapping_free(m);
	orbax_close(c);
	ck_test_rmtree(t);
	free(t);
	free(log);
}

START_TEST(sources_should_be_found_at_alternative_paths_or_logged_absent)
{
	struct mapping *m = NULL;
	struct orbax_ckpt *c = NULL;
	struct plan *p = NULL;
	char *t = NULL, *log = NULL;
	int err;

	/* Scanned: layer 0's container is the same in both layouts, the
	 * layout is told by layer 1's; t from the collection and from aux,
	 * stacked like the rest; skip.scale consumed unread. */
	err = plan_logged(alt_map, alt_cfg, fill_scanned, &p, &m, &c, &t, &log);
	ck_assert_msg(err == 0, "%s", ck_err_msg());
	ck_assert_int_eq(p->scanned, 1);
	ck_assert_uint_eq(p->ntensors, 6);
	ck_assert_str_eq(plan_source(p, "t.0"), "params.Tid.decoder.layers_0.t");
	ck_assert_str_eq(plan_source(p, "t.2"), "aux.model.decoder.blocks.t");
	ck_assert_str_eq(plan_source(p, "q.2"), "params.params.decoder.blocks.q");
	for (uint64_t k = 0; k < 4; k++) {
		/* [4, 2] stacked: layer i at column i - 1 */
		ck_assert(plan_value(p, "t.0", k) == g(1, 0, k));
		ck_assert(plan_value(p, "t.1", k) == g(2, 0, k * 2 + 0));
		ck_assert(plan_value(p, "t.2", k) == g(2, 0, k * 2 + 1));
	}
	ck_assert(plan_value(p, "q.2", 5) == g(3, 0, 5 * 2 + 1));
	ck_assert_msg(!log || !*log, "unexpected log: %s", log);
	alt_done(p, m, c, t, log);

	/* Without the ignore glob, skip.scale is an array the mapping does
	 * not use. */
	err = plan_logged(alt_map_no_ignore, alt_cfg, fill_scanned, &p, &m, &c, &t, NULL);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_msg(strstr(ck_err_msg(), "decoder.layers_0.skip.scale"), "%s", ck_err_msg());
	alt_done(NULL, m, c, t, NULL);

	/* Unscanned, no t anywhere: the rest is served and one line names
	 * what is absent. */
	err = plan_logged(alt_map, alt_cfg, fill_unscanned_no_t, &p, &m, &c, &t, &log);
	ck_assert_msg(err == 0, "%s", ck_err_msg());
	ck_assert_int_eq(p->scanned, 0);
	ck_assert_uint_eq(p->ntensors, 3);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "t.{i} (3)"), "log: %s", log);
	ck_assert_ptr_nonnull(strchr(log, '\n'));
	ck_assert_msg(strchr(log, '\n')[1] == '\0', "more than one line: %s", log);
	alt_done(p, m, c, t, log);

	/* The path below the prefix comes first. */
	err = plan_logged(alt_map, alt_cfg, fill_unscanned_t, &p, &m, &c, &t, &log);
	ck_assert_msg(err == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(p->ntensors, 6);
	ck_assert_str_eq(plan_source(p, "t.0"), "params.params.decoder.layers_0.t");
	ck_assert_str_eq(plan_source(p, "t.1"), "params.Tid.decoder.layers_1.t");
	ck_assert(plan_value(p, "t.0", 3) == g(5, 0, 3));
	ck_assert(plan_value(p, "t.2", 3) == g(8, 0, 3));
	ck_assert_msg(!log || !*log, "unexpected log: %s", log);
	/* params.Tid.decoder.layers_0.t, unused, is outside the prefix:
	 * ignored like optimizer state. */
	alt_done(p, m, c, t, log);
}
END_TEST

/* "optional" is a boolean or "log"; "or_from" needs a single source. */
START_TEST(mapping_parse_should_check_or_from_and_optional)
{
	static const char *const bad[] = {
		"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": [{\"hf\": \"a\", "
		"\"from\": \"b\", \"shape\": [1], \"optional\": \"maybe\"}]}",
		"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": [{\"hf\": \"a\", "
		"\"from\": [\"b\", \"c\", \"d\"], \"shape\": [1], \"hooks\": [\"fused_qkv\"], "
		"\"or_from\": [\"q.b\"]}]}",
	};
	static const char good[] =
		"{\"family\": \"x\", \"prefix\": \"p.\", \"ignore\": [\"*.n\"], "
		"\"tensors\": [{\"hf\": \"a\", \"from\": \"b\", \"shape\": [1], "
		"\"optional\": \"log\", \"or_from\": [\"q.b\", \"r.b\"]}]}";
	struct mapping *m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(mapping_parse(bad[i], strlen(bad[i]), "t.json", &m), -EINVAL);
	ck_assert_msg(mapping_parse(good, strlen(good), "t.json", &m) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(m->rules[0].nalt, 2);
	ck_assert_str_eq(m->rules[0].alt[1], "r.b");
	ck_assert_int_eq(m->rules[0].optional, 1);
	ck_assert_int_eq(m->rules[0].log_absent, 1);
	ck_assert_uint_eq(m->nignore, 1);
	mapping_free(m);
}
END_TEST

/* A rule's "mt": one list for one source, one list per source for several;
 * without it, the HF shape (reversed for a lone transpose) where the chain
 * keeps the elements in place, else none. */
#define MT_MAP(rules) \
	"{\"family\": \"x\", \"prefix\": \"p.\", \"tensors\": [" rules "]}"

START_TEST(mapping_parse_should_read_mt_and_its_defaults)
{
	static const char good[] = MT_MAP(
		"{\"hf\": \"q\", \"from\": \"q\", \"shape\": [\"H * hd\", \"D\"],"
		" \"mt\": [\"D\", 4, \"hd\"], \"hooks\": [\"reshape_kernel\"]},"
		"{\"hf\": \"gu\", \"from\": [\"g\", \"u\"], \"shape\": [\"E\", \"D\", \"2 * F\"],"
		" \"mt\": [[\"E\", \"D\", \"F\"], [\"E\", \"D\", \"F\"]], \"hooks\": [\"concat2\"]},"
		"{\"hf\": \"n\", \"from\": \"n\", \"shape\": [\"D\"], \"hooks\": [\"norm_offset\"]},"
		"{\"hf\": \"w\", \"from\": \"w\", \"shape\": [\"F\", \"D\"], \"hooks\": [\"transpose\"]},"
		"{\"hf\": \"k\", \"from\": \"k\", \"shape\": [\"D\", \"D\"], \"hooks\": [\"reshape_kernel\"]},"
		"{\"hf\": \"c\", \"from\": [\"a\", \"b\"], \"shape\": [\"2\"], \"hooks\": [\"concat2\"]},"
		"{\"hf\": \"s\", \"from\": \"s\", \"shape\": [], \"mt\": []}");
	struct mapping *m;
	const struct map_rule *r;

	ck_assert_msg(mapping_parse(good, strlen(good), "t.json", &m) == 0, "%s", ck_err_msg());
	r = m->rules;
	ck_assert_int_eq(r[0].mt_from, MAP_MT_GIVEN);
	ck_assert_uint_eq(r[0].mt_rank[0], 3);
	ck_assert_str_eq(r[0].mt[0][0], "D");
	ck_assert_str_eq(r[0].mt[0][1], "4");
	ck_assert_int_eq(r[1].mt_from, MAP_MT_GIVEN);
	ck_assert_uint_eq(r[1].mt_rank[0], 3);
	ck_assert_uint_eq(r[1].mt_rank[1], 3);
	ck_assert_str_eq(r[1].mt[1][2], "F");
	ck_assert_int_eq(r[2].mt_from, MAP_MT_DEFAULT);
	ck_assert_uint_eq(r[2].mt_rank[0], 1);
	ck_assert_str_eq(r[2].mt[0][0], "D");
	ck_assert_int_eq(r[3].mt_from, MAP_MT_DEFAULT);	/* reversed */
	ck_assert_str_eq(r[3].mt[0][0], "D");
	ck_assert_str_eq(r[3].mt[0][1], "F");
	ck_assert_int_eq(r[4].mt_from, MAP_MT_NONE);
	ck_assert_ptr_null(r[4].mt[0]);
	ck_assert_int_eq(r[5].mt_from, MAP_MT_NONE);
	ck_assert_int_eq(r[6].mt_from, MAP_MT_GIVEN);
	ck_assert_uint_eq(r[6].mt_rank[0], 0);
	mapping_free(m);
}
END_TEST

START_TEST(mapping_parse_should_reject_bad_mt)
{
	static const char *const bad[] = {
		MT_MAP("{\"hf\": \"q\", \"from\": \"q\", \"shape\": [1], \"mt\": \"D\"}"),
		MT_MAP("{\"hf\": \"q\", \"from\": \"q\", \"shape\": [1], \"mt\": [\"D\", {}]}"),
		MT_MAP("{\"hf\": \"q\", \"from\": \"q\", \"shape\": [1], \"mt\": [[\"D\"], [\"E\"]]}"),
		MT_MAP("{\"hf\": \"q\", \"from\": [\"a\", \"b\"], \"shape\": [2],"
		       " \"hooks\": [\"concat2\"], \"mt\": [\"D\", \"E\"]}"),
		MT_MAP("{\"hf\": \"q\", \"from\": [\"a\", \"b\"], \"shape\": [2],"
		       " \"hooks\": [\"concat2\"], \"mt\": [[\"D\"]]}"),
		MT_MAP("{\"hf\": \"q\", \"from\": [\"a\", \"b\"], \"shape\": [2],"
		       " \"hooks\": [\"concat2\"], \"mt\": [[\"D\"], \"E\"]}"),
		MT_MAP("{\"hf\": \"q\", \"from\": \"q\", \"shape\": [1], \"mt\": [1,1,1,1,1,1,1,1,"
		       "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}"),
	};
	struct mapping *m = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(mapping_parse(bad[i], strlen(bad[i]), "t.json", &m), -EINVAL);
		ck_assert_msg(strstr(ck_err_msg(), "'mt'") && strstr(ck_err_msg(), "'q'"),
			      "%zu: %s", i, ck_err_msg());
	}
}
END_TEST

/* Two layers of k [D, H, hd] (unscanned) and a padded embedding emb
 * [10, D]. */
static void fill_mt(struct orbax_writer *ow)
{
	write_named(ow, "params.params.decoder.layers_0.k", 3, (uint64_t[]){ 4, 2, 3 }, 0);
	write_named(ow, "params.params.decoder.layers_1.k", 3, (uint64_t[]){ 4, 2, 3 }, 1);
	write_named(ow, "params.params.emb", 2, (uint64_t[]){ 10, 4 }, 2);
}

#define MT_CHECK_MAP(kmt) \
	"{\"family\": \"t\", \"model_types\": [\"t\"], \"prefix\": \"params.params.\"," \
	" \"let\": {\"vocab_mt\": [\"maxtext_vocab_size\", \"vocab_size\"]}," \
	" \"layers\": {\"count\": \"num_hidden_layers\", \"axis\": 1," \
	" \"unscanned\": \"decoder.layers_{i}\"}," \
	" \"tensors\": [" \
	"{\"hf\": \"k.{i}\", \"from\": \"{layers}.k\", \"shape\": [\"H * hd\", \"D\"]," \
	kmt " \"hooks\": [\"reshape_kernel\"]}," \
	"{\"hf\": \"emb\", \"from\": \"emb\", \"shape\": [\"vocab_size\", \"D\"]," \
	" \"mt\": [\"vocab_mt\", \"D\"], \"hooks\": [\"embed_pad\"]}]}"

/* Plan map against fill_mt()'s checkpoint with config cfg; check_mt as
 * given.  Returns plan_build()'s result; *p set on success. */
static int plan_mt(const char *map, const char *cfg, int check, struct plan **p)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *ow = NULL;
	struct plan_opts po = { 0 };
	static struct orbax_ckpt *c;
	static struct mapping *m;
	static char *t;
	int err;

	/* One call's checkpoint and mapping stay until the next call. */
	mapping_free(m);
	orbax_close(c);
	if (t)
		ck_test_rmtree(t);
	free(t);
	m = NULL;
	c = NULL;
	t = NULL;
	*p = NULL;
	if (!map)
		return 0;
	t = ck_test_tmpdir();
	wo.scan_layers = 0;
	ck_assert_int_eq(orbax_writer_open(t, 1, &wo, &ow), 0);
	fill_mt(ow);
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
	ck_assert_int_eq(orbax_open(t, NULL, &c), 0);
	ck_assert_msg(mapping_parse(map, strlen(map), "t.json", &m) == 0, "%s", ck_err_msg());
	po.dtype = CK_DT_INVALID;
	po.check_mt = check;
	err = plan_build(m, c, cfg, strlen(cfg), &po, p);
	ck_assert_int_eq(err != 0, *p == NULL);
	return err;
}

static const struct plan_tensor *tensor_named(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->ntensors; i++)
		if (!strcmp(p->tensors[i].name, name))
			return &p->tensors[i];
	ck_abort_msg("no tensor %s", name);
	return NULL;
}

/* check_mt: every tensor's mt known and equal to its slice, else -EINVAL
 * naming the tensor, the array and both shapes.  Without it an mt that is
 * wrong, absent or not computable is no error (has_mt tells). */
START_TEST(check_mt_should_refuse_a_wrong_or_unknown_mt)
{
	static const char good[] = MT_CHECK_MAP("\"mt\": [\"D\", \"H\", \"hd\"],");
	static const char none[] = MT_CHECK_MAP("");
	static const char nope[] = MT_CHECK_MAP("\"mt\": [\"D\", \"nope\", \"hd\"],");
	static const char cfg[] = "{\"num_hidden_layers\": 2, \"D\": 4, \"H\": 2, \"hd\": 3,"
				  " \"vocab_size\": 8}";
	static const char padded[] = "{\"num_hidden_layers\": 2, \"D\": 4, \"H\": 2,"
				     " \"hd\": 3, \"vocab_size\": 8, \"maxtext_vocab_size\": 10}";
	const struct plan_tensor *k, *emb;
	struct plan *p = NULL;
	int err;

	/* Forward only: the unpadded vocab_mt is wrong, and no error. */
	ck_assert_msg(plan_mt(good, cfg, 0, &p) == 0, "%s", ck_err_msg());
	k = tensor_named(p, "k.1");
	emb = tensor_named(p, "emb");
	ck_assert_int_eq(k->has_mt, 1);
	ck_assert_uint_eq(k->mt[0].rank, 3);
	ck_assert_uint_eq(k->mt[0].d[0], 4);
	ck_assert_uint_eq(k->mt[0].d[2], 3);
	ck_assert_int_eq(emb->has_mt, 1);
	ck_assert_uint_eq(emb->mt[0].d[0], 8);
	plan_free(p);

	err = plan_mt(good, cfg, 1, &p);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_msg(strstr(ck_err_msg(), "emb: its MaxText shape [8,4]") &&
		      strstr(ck_err_msg(), "the slice [10,4] of 'params.params.emb'"),
		      "%s", ck_err_msg());
	ck_assert_msg(plan_mt(good, padded, 1, &p) == 0, "%s", ck_err_msg());
	plan_free(p);

	/* No "mt" and no default for reshape_kernel. */
	ck_assert_msg(plan_mt(none, padded, 0, &p) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(tensor_named(p, "k.0")->has_mt, 0);
	ck_assert_int_eq(tensor_named(p, "emb")->has_mt, 1);
	plan_free(p);
	ck_assert_int_eq(plan_mt(none, padded, 1, &p), -EINVAL);
	ck_assert_msg(strstr(ck_err_msg(), "k.0: no MaxText shape for "
			     "'params.params.decoder.layers_0.k' (the slice [4,2,3])"),
		      "%s", ck_err_msg());

	/* An expression the config cannot give. */
	ck_assert_msg(plan_mt(nope, padded, 0, &p) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(tensor_named(p, "k.0")->has_mt, 0);
	plan_free(p);
	ck_assert_int_eq(plan_mt(nope, padded, 1, &p), -EINVAL);
	ck_assert_msg(strstr(ck_err_msg(), "k.0: ") && strstr(ck_err_msg(), "nope"),
		      "%s", ck_err_msg());

	/* The command line's -o check_mt, for every plan. */
	plan_check_mt_always(1);
	ck_assert_int_eq(plan_mt(good, cfg, 0, &p), -EINVAL);
	plan_check_mt_always(0);
	ck_assert_int_eq(plan_mt(good, cfg, 0, &p), 0);
	plan_free(p);
	plan_mt(NULL, NULL, 0, &p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");
	int nf = (int)(sizeof(families) / sizeof(families[0]));

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, each_family_should_map_scanned_bf16_ocdbt_zarr3, 0, nf);
	tcase_add_loop_test(tc, each_family_should_map_unscanned_f32_ocdbt_zarr3, 0, nf);
	tcase_add_loop_test(tc, each_family_should_map_scanned_f32_legacy_zarr2_dirs, 0, nf);
	tcase_add_loop_test(tc, each_family_should_map_unscanned_bf16_multihost_ocdbt, 0, nf);
	tcase_add_test(tc, plan_should_refuse_a_mapping_that_does_not_fit);
	tcase_add_test(tc, every_shipped_mapping_should_load);
	tcase_add_test(tc, plan_should_refuse_arrays_the_mapping_does_not_use);
	tcase_add_test(tc, reading_a_tensor_should_decode_only_intersecting_chunks);
	tcase_add_test(tc, detection_should_find_the_family_and_infer_the_dims);
	tcase_add_test(tc, inference_should_divide_refuse_and_check_the_model_type);
	tcase_add_test(tc, presets_should_match_when_family_and_every_shape_agree);
	tcase_add_test(tc, every_preset_should_have_a_mapping);
	tcase_add_test(tc, mapping_parse_should_reject_bad_files);
	tcase_add_test(tc, expressions_should_index_config_arrays_and_test_strings);
	tcase_add_test(tc, tower_rules_should_count_their_own_blocks);
	tcase_add_test(tc, siblings_should_read_as_they_do_alone);
	tcase_add_test(tc, the_direct_path_should_match_the_hook_chain);
	tcase_add_test(tc, direct_path_operations_should_round_every_bf16_value);
	tcase_add_test(tc, moves_should_compose_reshape_and_transpose);
	tcase_add_test(tc, sources_should_be_found_at_alternative_paths_or_logged_absent);
	tcase_add_test(tc, mapping_parse_should_check_or_from_and_optional);
	tcase_add_test(tc, mapping_parse_should_read_mt_and_its_defaults);
	tcase_add_test(tc, mapping_parse_should_reject_bad_mt);
	tcase_add_test(tc, check_mt_should_refuse_a_wrong_or_unknown_mt);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
