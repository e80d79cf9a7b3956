/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure is ENOMEM, never a crash: library operations run with
 * the k-th allocation failing (and every later one of the thread that hit
 * it), for every k up to the number N the operation makes (or, when N is
 * large, the first 200 and 300 more spread over the rest).  Each run must
 * return 0 with the result of a run without failures, or exactly -ENOMEM,
 * and leave as many file descriptors open and blocks allocated as before.
 *
 * The failures come from tests/tools/malloc_shim.c, preloaded by ctest and
 * driven through its ckpt_shim_* functions; without it the test is skipped.
 * Each run is made on a new thread, so that what the library caches per
 * thread (zstd contexts) is allocated, and can fail, in every run.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ck_test.h"
#include "codec/codec.h"
#include "fs/ckfs.h"
#include "kvstore/kvstore.h"
#include "layout/config_json.h"
#include "layout/st_layout.h"
#include "mapping/detect.h"
#include "mapping/mapping.h"
#include "mapping/plan.h"
#include "orbax/orbax.h"
#include "orbax/orbax_image.h"
#include "orbax/orbax_writer.h"
#include "read/rd_tensor.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* Every failure point up to this many allocations; above, a sample. */
#define ALL_POINTS 500
#define FIRST_POINTS 200
#define SPREAD_POINTS 300

static void (*shim_fail_at)(unsigned long n);
static unsigned long (*shim_count)(void);
static long (*shim_live)(void);

/* One operation: 0 and a digest of its result, or -errno. */
struct op {
	const char *name;
	int (*run)(void *ctx, uint64_t *digest);
	void *ctx;
	unsigned long upto;	/* fail only the first upto (0: all) */
};

/* --- the harness --- */

struct trial {
	const struct op *op;
	unsigned long fail_at;		/* 0: none */
	int err;
	uint64_t digest;
	unsigned long allocs;
	char msg[256];
};

static void *trial_thread(void *arg)
{
	struct trial *t = arg;

	ck_err_clear();
	shim_fail_at(t->fail_at);
	t->err = t->op->run(t->op->ctx, &t->digest);
	t->allocs = shim_count();
	shim_fail_at(0);
	snprintf(t->msg, sizeof(t->msg), "%s", ck_err_msg());
	return NULL;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Run op on a new thread with allocation fail_at failing; *fds and *live
 * get what it left open and allocated. */
static void trial_run(struct trial *t, const struct op *op, unsigned long fail_at,
		      int *fds, long *live)
{
	int fds0 = open_fds();
	long live0 = shim_live();
	pthread_t th;
	int err;

	memset(t, 0, sizeof(*t));
	t->op = op;
	t->fail_at = fail_at;
	/* A Check assertion allocates: none runs while the trial does, so
	 * that the count is the trial's alone. */
	err = pthread_create(&th, NULL, trial_thread, t);
	if (!err)
		err = pthread_join(th, NULL);
	ck_assert_int_eq(err, 0);
	*fds = open_fds() - fds0;
	*live = shim_live() - live0;
}

/* The failure points of an operation making n allocations, in order;
 * returns how many. */
static size_t failure_points(unsigned long n, unsigned long *pts)
{
	size_t k = 0;

	if (n <= ALL_POINTS) {
		for (unsigned long i = 1; i <= n; i++)
			pts[k++] = i;
		return k;
	}
	for (unsigned long i = 1; i <= FIRST_POINTS; i++)
		pts[k++] = i;
	for (unsigned long i = 0; i < SPREAD_POINTS; i++)
		pts[k++] = FIRST_POINTS + 1 +
			   (n - FIRST_POINTS - 1) * i / (SPREAD_POINTS - 1);
	return k;
}

/* Sweep op over its failure points. */
static void sweep(const struct op *op)
{
	unsigned long pts[ALL_POINTS], n, upto;
	size_t npts, bad = 0, failed = 0;
	struct trial ref, t;
	uint64_t digest;
	long live;
	int fds;

	/* Twice without failures: the first warms what stays allocated once
	 * (thread stacks kept for reuse), the second is the reference. */
	trial_run(&ref, op, 0, &fds, &live);
	ck_assert_msg(ref.err == 0, "%s: %d: %s", op->name, ref.err, ref.msg);
	digest = ref.digest;
	trial_run(&ref, op, 0, &fds, &live);
	ck_assert_msg(ref.err == 0, "%s: %d: %s", op->name, ref.err, ref.msg);
	ck_assert_msg(ref.digest == digest, "%s: two runs differ", op->name);
	ck_assert_msg(fds == 0 && live == 0, "%s: left %d fds, %ld blocks",
		      op->name, fds, live);
	n = ref.allocs;
	upto = op->upto && op->upto < n ? op->upto : n;
	npts = failure_points(upto, pts);
	for (size_t i = 0; i < npts; i++) {
		trial_run(&t, op, pts[i], &fds, &live);
		if (t.err == -ENOMEM)
			failed++;
		if ((t.err == 0 && t.digest == ref.digest) || t.err == -ENOMEM) {
			if (fds == 0 && live == 0)
				continue;
		}
		if (++bad <= 5)
			fprintf(stderr, "%s: allocation %lu of %lu failing: %d (%s)%s, "
				"%d fds and %ld blocks left: %s\n", op->name, pts[i], n,
				t.err, t.err ? strerror(-t.err) : "ok",
				t.err == 0 && t.digest != ref.digest ? ", wrong result" : "",
				fds, live, t.msg);
	}
	printf("%s: %lu allocations, %zu failure points%s, %zu -ENOMEM\n", op->name,
	       n, npts, upto < n ? " (its own allocations only)" : "", failed);
	ck_assert_msg(bad == 0, "%s: %zu of %zu failure points went wrong", op->name,
		      bad, npts);
	ck_assert_msg(failed > 0 || n == 0, "%s: no failure point reported -ENOMEM",
		      op->name);
}

/* FNV-1a over a digest. */
static void mix(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ull;
}

static void mix_str(uint64_t *h, const char *s)
{
	mix(h, s, strlen(s) + 1);
}

#define DIGEST_INIT 0xcbf29ce484222325ull

/* Room for the largest array or value read here. */
static uint8_t scratch[1 << 20];

/* --- (a) an Orbax checkpoint, every array read --- */

static int orbax_op(void *ctx, uint64_t *digest)
{
	char *path = ctx;
	struct orbax_ckpt *c = NULL;
	uint64_t h = DIGEST_INIT;
	int err;

	err = orbax_open(path, NULL, &c);
	if (err)
		return err;
	mix_str(&h, c->item_dir);
	mix_str(&h, c->format);
	mix_str(&h, c->note ? c->note : "");
	mix(&h, &c->step, sizeof(c->step));
	mix(&h, &c->scan_layers, sizeof(c->scan_layers));
	mix(&h, &c->narrays, sizeof(c->narrays));
	for (size_t i = 0; !err && i < c->narrays; i++) {
		const struct orbax_array *a = &c->arrays[i];
		uint64_t start[ZARR_MAX_RANK] = { 0 }, n;
		struct zarr_info info;

		err = orbax_array_info(a, &info);
		if (err)
			break;
		n = ck_dtype_size(info.dtype);
		for (unsigned k = 0; k < info.rank; k++)
			n *= info.shape[k];
		if (n > sizeof(scratch)) {
			err = -EFBIG;
			break;
		}
		err = orbax_array_read(a, start, info.shape, scratch);
		mix_str(&h, a->name);
		mix(&h, &info.dtype, sizeof(info.dtype));
		mix(&h, info.shape, info.rank * sizeof(info.shape[0]));
		mix(&h, scratch, (size_t)n);
	}
	orbax_close(c);
	*digest = h;
	return err;
}

static const char *const orbax_fixtures[] = {
	"orbax-compat/v1_checkpoints/composite_checkpoint/"
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata",
	"orbax-compat/v0_checkpoints/direct_checkpoint/"
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata",
	"orbax-compat/v1_checkpoints/composite_checkpoint/"
	"checkpoint_metadata_missing/pytree_checkpointable_missing_metadata",
	"orbax-compat/v1_checkpoints/composite_checkpoint/"
	"critical_metadata_alterations/missing_pytree_data_file_manifest.ocdbt",
	"orbax-legacy-aggregate/aggregate_some.checkpoint",
	"neuroglancer-ocdbt/ome_zarr/simple_0.5.ocdbt",
	"zarrs-sharded/sharded_array_write_read.zarr/group/array",
};

START_TEST(opening_and_reading_a_checkpoint_should_fail_only_with_enomem)
{
	char *p = ck_test_fixture(orbax_fixtures[_i]);
	struct op op = { orbax_fixtures[_i], orbax_op, p, 0 };

	sweep(&op);
	free(p);
}
END_TEST

/* --- (b) an OCDBT store, every key listed and read --- */

struct kv_walk {
	const struct kvstore *kv;
	uint64_t h;
};

static int kv_visit(void *ctx, const char *key, size_t keylen,
		    const struct kv_value *v)
{
	struct kv_walk *w = ctx;
	int err;

	if (v->length > sizeof(scratch))
		return -EFBIG;
	err = kvstore_read(w->kv, v, 0, scratch, (size_t)v->length);
	if (err)
		return err;
	mix(&w->h, key, keylen);
	mix(&w->h, scratch, (size_t)v->length);
	return 0;
}

struct kv_ctx {
	char *dir;
	int ocdbt;
};

static int kv_op(void *ctx, uint64_t *digest)
{
	struct kv_ctx *x = ctx;
	const char *dirs[1] = { x->dir };
	struct kv_walk w = { NULL, DIGEST_INIT };
	struct kvstore *kv = NULL;
	struct kv_value v;
	int err;

	err = x->ocdbt ? kvstore_open_ocdbt(dirs, 1, 0, &kv) :
			 kvstore_open_dir(x->dir, &kv);
	if (err)
		return err;
	w.kv = kv;
	err = kvstore_list(kv, "", 0, kv_visit, &w);
	/* A lookup of a key that is not there. */
	if (!err)
		err = kvstore_get(kv, "zzz-absent", 10, &v) == -ENOENT ? 0 : -EPROTO;
	kvstore_free(kv);
	*digest = w.h;
	return err;
}

static const char *const kv_fixtures[] = {
	"neuroglancer-ocdbt/kvstore-ocdbt/files_min_arity.ocdbt",
	"neuroglancer-ocdbt/kvstore-ocdbt/multi_version_low_arity.ocdbt",
	"orbax-compat/v1_checkpoints/composite_checkpoint/"
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata/"
	"state/ocdbt.process_0",
	"zarrs-sharded/sharded_array_write_read.zarr",	/* a directory store */
};

START_TEST(listing_and_reading_a_store_should_fail_only_with_enomem)
{
	struct kv_ctx x = { ck_test_fixture(kv_fixtures[_i]), _i < 3 };
	struct op op = { kv_fixtures[_i], kv_op, &x, 0 };

	sweep(&op);
	free(x.dir);
}
END_TEST

/* --- (c) each codec's decoder (and the encoders the writer uses) --- */

#define CODEC_BYTES 100003

enum codec_mode { DECODE, DECODE_ALLOC, DECODE_STREAM, ENCODE };

struct codec_ctx {
	const struct codec *c;
	struct codec_params p;
	struct ck_buf enc;
	uint8_t *plain;
	enum codec_mode mode;
};

static int stream_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	struct codec_ctx *x = ctx;

	memcpy(buf, x->enc.data + off, n);
	return 0;
}

static int stream_emit(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	(void)ctx;
	memcpy(scratch + off, p, n);
	return 0;
}

static int codec_op(void *ctx, uint64_t *digest)
{
	struct codec_ctx *x = ctx;
	struct ck_buf out = CK_BUF_INIT;
	size_t len = 0;
	int err;

	*digest = DIGEST_INIT;
	if (x->mode == DECODE_ALLOC || x->mode == ENCODE) {
		err = x->mode == ENCODE ? x->c->encode(&x->p, x->plain, CODEC_BYTES, &out) :
		      codec_zstd_decode_alloc(x->enc.data, x->enc.len, CODEC_BYTES, &out);
		if (!err)
			mix(digest, out.data, out.len);
		ck_buf_release(&out);
		return err;
	}
	if (x->mode == DECODE_STREAM) {
		struct codec_zstd_stream s = { x->enc.len, CODEC_BYTES, 4096,
					       stream_read, stream_emit, x };

		err = codec_zstd_decode_stream(&s);
		len = CODEC_BYTES;
	} else {
		err = x->c->decode(&x->p, x->enc.data, x->enc.len, scratch,
				   CODEC_BYTES, &len);
	}
	if (!err)
		mix(digest, scratch, len);
	return err;
}

static const struct {
	const char *label, *codec;
	enum codec_mode mode;
} codecs[] = {
	{ "zstd", "zstd", DECODE },
	{ "gzip", "gzip", DECODE },
	{ "zlib", "zlib", DECODE },
	{ "blosc", "blosc", DECODE },
	{ "lz4", "lz4", DECODE },
	{ "crc32c", "crc32c", DECODE },
	{ "zstd (decode_alloc)", "zstd", DECODE_ALLOC },
	{ "zstd (stream)", "zstd", DECODE_STREAM },
	{ "zstd (encode)", "zstd", ENCODE },
	{ "gzip (encode)", "gzip", ENCODE },
	{ "zlib (encode)", "zlib", ENCODE },
	{ "lz4 (encode)", "lz4", ENCODE },
	{ "crc32c (encode)", "crc32c", ENCODE },
};

START_TEST(each_codec_should_fail_only_with_enomem)
{
	struct codec_ctx x = { 0 };
	struct op op = { codecs[_i].label, codec_op, &x, 0 };

	x.mode = codecs[_i].mode;
	x.c = codec_find(codecs[_i].codec);
	ck_assert_ptr_nonnull(x.c);
	x.p.level = 1;
	x.p.typesize = 4;
	x.plain = malloc(CODEC_BYTES);
	ck_assert_ptr_nonnull(x.plain);
	for (size_t i = 0; i < CODEC_BYTES; i++)
		x.plain[i] = (uint8_t)((i * 7) ^ (i >> 9));
	ck_assert_int_eq(x.c->encode(&x.p, x.plain, CODEC_BYTES, &x.enc), 0);
	/* libblosc writes through its own failed allocation, which no caller
	 * can prevent: the decoder makes the same allocation first, and only
	 * that one is failed here. */
	if (!strcmp(codecs[_i].codec, "blosc"))
		op.upto = 1;
	sweep(&op);
	free(x.plain);
	ck_buf_release(&x.enc);
}
END_TEST

/* --- (d) the Hugging Face view of a checkpoint written here --- */

/* A tiny scanned Mixtral. */
enum { L = 2, D = 8, HQ = 4, HKV = 2, HD = 8, V = 16, E = 3, FE = 6 };

struct weight {
	const char *name;	/* below params.params.; "{L}": the layers */
	unsigned rank;
	uint64_t shape[3];	/* per layer */
};

static const struct weight weights[] = {
	{ "token_embedder.embedding", 2, { V, D } },
	{ "decoder.decoder_norm.scale", 1, { D } },
	{ "decoder.logits_dense.kernel", 2, { D, V } },
	{ "decoder.{L}.pre_self_attention_layer_norm.scale", 1, { D } },
	{ "decoder.{L}.post_self_attention_layer_norm.scale", 1, { D } },
	{ "decoder.{L}.self_attention.query.kernel", 3, { D, HQ, HD } },
	{ "decoder.{L}.self_attention.key.kernel", 3, { D, HKV, HD } },
	{ "decoder.{L}.self_attention.value.kernel", 3, { D, HKV, HD } },
	{ "decoder.{L}.self_attention.out.kernel", 3, { HQ, HD, D } },
	{ "decoder.{L}.MoeBlock_0.gate.kernel", 2, { D, E } },
	{ "decoder.{L}.MoeBlock_0.wi_0", 3, { E, D, FE } },
	{ "decoder.{L}.MoeBlock_0.wi_1", 3, { E, D, FE } },
	{ "decoder.{L}.MoeBlock_0.wo", 3, { E, FE, D } },
};

static const char view_config[] =
	"{\"model_type\": \"mixtral\", \"architectures\": [\"MixtralForCausalLM\"],"
	" \"num_hidden_layers\": 2, \"hidden_size\": 8, \"num_attention_heads\": 4,"
	" \"num_key_value_heads\": 2, \"head_dim\": 8, \"intermediate_size\": 6,"
	" \"vocab_size\": 16, \"num_local_experts\": 3, \"rope_theta\": 1000000.0,"
	" \"rms_norm_eps\": 1e-05, \"tie_word_embeddings\": false}";

/* Write the model as step 1 under dir, scanned, bf16, OCDBT + zarr3. */
static void write_view_ckpt(const char *dir)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *ow = NULL;

	wo.ocdbt.max_leaf_entries = 4;	/* a B+tree with interior nodes */
	wo.ocdbt.max_interior_entries = 4;
	wo.scan_layers = 1;
	ck_assert_int_eq(orbax_writer_open(dir, 1, &wo, &ow), 0);
	for (unsigned w = 0; w < sizeof(weights) / sizeof(weights[0]); w++) {
		const struct weight *wt = &weights[w];
		const char *at = strstr(wt->name, "{L}");
		struct zarr_write_spec s = { 0 };
		char name[256];
		uint64_t n = 1;
		uint16_t *buf;

		if (at)
			snprintf(name, sizeof(name), "params.params.%.*slayers%s",
				 (int)(at - wt->name), wt->name, at + 3);
		else
			snprintf(name, sizeof(name), "params.params.%s", wt->name);
		s.zarr_format = 3;
		s.dtype = CK_DT_BF16;
		s.zstd_level = 3;
		/* Scanned: the layer axis is axis 1. */
		s.rank = wt->rank + (at != NULL);
		for (unsigned i = 0, j = 0; i < s.rank; i++) {
			s.shape[i] = at && i == 1 ? L : wt->shape[j++];
			s.chunk[i] = i == 0 && s.shape[i] % 2 == 0 ? s.shape[i] / 2 :
				     s.shape[i];
			n *= s.shape[i];
		}
		buf = malloc(n * 2);
		ck_assert_ptr_nonnull(buf);
		for (uint64_t i = 0; i < n; i++) {
			/* Multiples of 1/8 in [-3.75, 3.75] as bf16. */
			float v = (float)((int)((w * 131u + i * 7u) % 61u) - 30) / 8.0f;
			uint32_t u;

			memcpy(&u, &v, 4);
			buf[i] = (uint16_t)(u >> 16);
		}
		ck_assert_msg(orbax_writer_add(ow, name, &s, buf) == 0, "%s", ck_err_msg());
		free(buf);
	}
	ck_assert_int_eq(orbax_writer_commit(ow), 0);
	orbax_writer_free(ow);
}

struct view_ctx {
	char *dir;		/* the checkpoint */
	char *maps;		/* the mapping directory */
	char *mapping;		/* its mixtral.json */
	char *config;		/* view_config as a file */
	char *spill;		/* a directory for spills */
};

static char *mappings_dir(void)
{
	const char *m = getenv("CKPTFS_MAPPINGS");

	return strdup(m && *m ? m : "../mappings");
}

static void view_setup(struct view_ctx *x)
{
	x->dir = ck_test_tmpdir();
	x->maps = mappings_dir();
	x->mapping = ck_path_join(x->maps, "mixtral.json");
	x->config = ck_path_join(x->dir, "config.json");
	x->spill = ck_path_join(x->dir, "spill");
	ck_assert_ptr_nonnull(x->maps);
	ck_assert_ptr_nonnull(x->mapping);
	ck_assert_ptr_nonnull(x->config);
	ck_assert_ptr_nonnull(x->spill);
	write_view_ckpt(x->dir);
	ck_test_write_file(x->config, view_config, strlen(view_config));
	ck_assert_int_eq(mkdir(x->spill, 0700), 0);
}

static void view_teardown(struct view_ctx *x)
{
	ck_test_rmtree(x->dir);
	free(x->dir);
	free(x->maps);
	free(x->mapping);
	free(x->config);
	free(x->spill);
}

/* Read the tensors of group k of g (stacked siblings) together, through a
 * spill when spill is set, into scratch. */
static int read_group(const struct plan *p, const struct plan_groups *g, size_t k,
		      const char *spill_dir, uint64_t *h)
{
	const uint32_t *ids = &g->members[g->first[k]];
	uint32_t n = g->first[k + 1] - g->first[k];
	struct rd_spill *spill = NULL;
	void *outs[L * E];
	uint64_t off = 0;
	int err = 0;

	if (n > L * E)
		return -EFBIG;
	for (uint32_t i = 0; i < n; i++) {
		outs[i] = scratch + off;
		off += p->tensors[ids[i]].nbytes;
	}
	if (off > sizeof(scratch))
		return -EFBIG;
	if (spill_dir)
		err = rd_spill_open(spill_dir, &spill);
	/* With a spill, one tensor at a time: the first call records. */
	for (uint32_t i = 0; !err && i < n; i += spill ? 1 : n)
		err = rd_tensors(p, g, ids + i, spill ? 1 : n, outs + i, spill);
	rd_spill_close(spill);
	if (!err)
		mix(h, scratch, (size_t)off);
	return err;
}

/* What the view is made of. */
struct view {
	struct mapping *m;
	struct orbax_ckpt *c;
	struct plan *p;
	struct plan_groups g;
	int groups;		/* g is built */
	struct st_layout *lay;
	char *cfg;
	size_t cfg_len;
};

static void view_free(struct view *v)
{
	if (v->groups)
		plan_groups_release(&v->g);
	free(v->cfg);
	st_layout_free(v->lay);
	plan_free(v->p);
	orbax_close(v->c);
	mapping_free(v->m);
}

/* Load the mapping, open the checkpoint, resolve the plan, lay out the
 * safetensors files, render config.json, find the sibling groups. */
static int view_build(const struct view_ctx *x, struct view *v, uint64_t *h)
{
	struct st_tensor_desc *desc = NULL;
	int err;

	memset(v, 0, sizeof(*v));
	err = mapping_load(x->mapping, &v->m);
	if (!err)
		err = orbax_open(x->dir, NULL, &v->c);
	if (!err)
		err = plan_build(v->m, v->c, view_config, strlen(view_config), NULL, &v->p);
	if (!err && !(desc = calloc(v->p->ntensors, sizeof(*desc))))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < v->p->ntensors; i++) {
		const struct plan_tensor *t = &v->p->tensors[i];

		desc[i].name = t->name;
		desc[i].dtype = t->dtype;
		desc[i].rank = t->shape.rank;
		memcpy(desc[i].shape, t->shape.d, t->shape.rank * sizeof(t->shape.d[0]));
	}
	if (!err)
		err = st_layout_build(desc, v->p->ntensors, 4096, &v->lay);
	free(desc);
	if (!err) {
		for (size_t f = 0; f < v->lay->nfiles; f++) {
			mix_str(h, v->lay->files[f].name);
			mix(h, v->lay->files[f].header, (size_t)v->lay->files[f].header_len);
		}
		mix(h, v->lay->index_json, v->lay->index_len);
		err = config_json_render(view_config, strlen(view_config), "bfloat16",
					 &v->cfg, &v->cfg_len);
	}
	if (!err) {
		mix(h, v->cfg, v->cfg_len);
		err = plan_groups_build(v->p, &v->g);
		v->groups = !err;
	}
	if (!err)
		mix(h, v->g.members, v->g.nmembers * sizeof(v->g.members[0]));
	return err;
}

/* Every tensor alone, every group together, the first group spilled (its
 * chain must be spillable: rd_spillable()). */
static int view_read(const struct view_ctx *x, const struct view *v, uint64_t *h)
{
	const struct plan *p = v->p;
	int err = v->g.ngroups ? 0 : -EPROTO;

	for (size_t i = 0; !err && i < p->ntensors; i++) {
		if (p->tensors[i].nbytes > sizeof(scratch))
			err = -EFBIG;
		else
			err = rd_tensor(&p->tensors[i], scratch);
		if (!err)
			mix(h, scratch, (size_t)p->tensors[i].nbytes);
	}
	for (size_t k = 0; !err && k < v->g.ngroups; k++)
		err = read_group(p, &v->g, k, NULL, h);
	if (!err)
		err = read_group(p, &v->g, 0, x->spill, h);
	return err;
}

static int view_build_op(void *ctx, uint64_t *digest)
{
	struct view v;
	int err;

	*digest = DIGEST_INIT;
	err = view_build(ctx, &v, digest);
	view_free(&v);
	return err;
}

START_TEST(building_the_hf_view_should_fail_only_with_enomem)
{
	struct view_ctx x;
	struct op op = { "mapping, plan, layout, config.json", view_build_op, &x, 0 };

	view_setup(&x);
	sweep(&op);
	view_teardown(&x);
}
END_TEST

struct view_read_ctx {
	struct view_ctx *x;
	struct view v;
};

static int view_read_op(void *ctx, uint64_t *digest)
{
	struct view_read_ctx *r = ctx;

	*digest = DIGEST_INIT;
	return view_read(r->x, &r->v, digest);
}

START_TEST(reading_through_the_plan_should_fail_only_with_enomem)
{
	struct view_ctx x;
	struct view_read_ctx r = { &x, { 0 } };
	struct op op = { "tensors read through the plan", view_read_op, &r, 0 };
	uint64_t h = DIGEST_INIT;

	view_setup(&x);
	ck_assert_msg(view_build(&x, &r.v, &h) == 0, "%s", ck_err_msg());
	ck_assert(rd_spillable(r.v.p, r.v.g.members[r.v.g.first[0]]));
	sweep(&op);
	view_free(&r.v);
	view_teardown(&x);
}
END_TEST

/* The config.KEY=VALUE options applied to a config. */
static int sets_op(void *ctx, uint64_t *digest)
{
	static const struct detect_set sets[] = {
		{ "rope_theta", "500000.0" },
		{ "rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}" },
		{ "model_type", "mixtral" },
	};
	char *out = NULL;
	size_t len = 0;
	int err;

	(void)ctx;
	*digest = DIGEST_INIT;
	err = detect_config_apply(view_config, strlen(view_config), sets,
				  sizeof(sets) / sizeof(sets[0]), &out, &len);
	if (!err)
		mix(digest, out, len);
	free(out);
	return err;
}

START_TEST(applying_config_options_should_fail_only_with_enomem)
{
	struct op op = { "config.KEY=VALUE applied", sets_op, NULL, 0 };

	sweep(&op);
}
END_TEST

/* The whole view as a mount and `convert` build it, every file read. */
static int ckfs_op(void *ctx, uint64_t *digest)
{
	struct view_ctx *x = ctx;
	struct ckfs_opts o = { 0 };
	struct ckfs *fs = NULL;
	uint64_t h = DIGEST_INIT;
	int err;

	o.src = x->dir;
	o.mappings = x->maps;
	o.hf_config = x->config;
	o.dtype = CK_DT_INVALID;
	o.step = -1;
	o.shard_size = 4096;
	o.cache_size = 64 << 10;
	err = ckfs_open(&o, &fs);
	if (err)
		return err;
	for (size_t f = 0; !err && f < fs->nfiles; f++) {
		const struct ckfs_file *cf = &fs->files[f];

		mix_str(&h, cf->name);
		for (uint64_t off = 0; !err && off < cf->size; ) {
			ssize_t n = ckfs_read(fs, cf, scratch, 3000, off);

			if (n <= 0) {
				err = n < 0 ? (int)n : -EPROTO;
				break;
			}
			mix(&h, scratch, (size_t)n);
			off += (uint64_t)n;
		}
	}
	ckfs_close(fs);
	*digest = h;
	return err;
}

START_TEST(opening_and_reading_the_whole_view_should_fail_only_with_enomem)
{
	struct view_ctx x;
	struct op op = { "ckfs_open and every file read", ckfs_op, &x, 0 };

	view_setup(&x);
	sweep(&op);
	view_teardown(&x);
}
END_TEST

/* An in-memory Orbax step built and every file read, the chunks made by
 * a fill of the chunk number. */
static int image_fill(void *ctx, uint64_t id, uint64_t chunk, uint64_t off,
		      void *buf, size_t len)
{
	(void)ctx;
	memset(buf, (int)(id * 16 + chunk + off), len);
	return 0;
}

static int image_op(void *ctx, uint64_t *digest)
{
	static const char *const names[] = {
		"params.params.decoder.layers.mlp.wi_0.kernel",
		"params.params.token_embedder.embedding",
		"params.params.decoder.decoder_norm.scale",
	};
	struct orbax_image_opts o = ORBAX_IMAGE_OPTS_INIT;
	struct orbax_image *img = NULL;
	uint64_t h = DIGEST_INIT;
	int err;

	(void)ctx;
	o.scan_layers = 1;
	o.sharding_device = "cpu:0";
	o.init_ns = o.commit_ns = 1;
	o.file_bytes = 3000;
	err = orbax_image_new(&o, &img);
	for (size_t i = 0; !err && i < 3; i++) {
		struct zarr_write_spec s;

		memset(&s, 0, sizeof(s));
		s.dtype = CK_DT_BF16;
		s.rank = 2;
		s.shape[0] = 8 << i;
		s.shape[1] = 40;
		s.chunk[0] = 2 << i;
		s.chunk[1] = 40;
		err = orbax_image_add_array(img, names[i], &s, i);
	}
	if (!err)
		err = orbax_image_add_param_only_leaves(img);
	if (!err)
		err = orbax_image_commit(img);
	for (size_t f = 0; !err && f < orbax_image_nfiles(img); f++) {
		uint64_t size = orbax_image_file_size(img, f);
		size_t got = 0;

		mix_str(&h, orbax_image_file_name(img, f));
		for (uint64_t off = 0; !err && off < size; off += got) {
			err = orbax_image_read(img, f, off, scratch, 1000, &got,
					       image_fill, NULL);
			mix(&h, scratch, err ? 0 : got);
		}
	}
	orbax_image_free(img);
	*digest = h;
	return err;
}

START_TEST(building_and_reading_an_orbax_image_should_fail_only_with_enomem)
{
	struct op op = { "orbax_image built and every file read", image_op, NULL, 0 };

	sweep(&op);
}
END_TEST

int main(void)
{
	Suite *s;
	TCase *tc;

	shim_fail_at = (void (*)(unsigned long))dlsym(RTLD_DEFAULT, "ckpt_shim_fail_at");
	shim_count = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_shim_count");
	shim_live = (long (*)(void))dlsym(RTLD_DEFAULT, "ckpt_shim_live");
	if (!shim_fail_at || !shim_count || !shim_live) {
		printf("skipped: the allocation-failure shim is not preloaded "
		       "(LD_PRELOAD=.../libckpt_malloc_shim.so)\n");
		return 77;
	}
	ck_test_require_fixtures();
	s = suite_create("enomem");
	tc = tcase_create("enomem");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, opening_and_reading_a_checkpoint_should_fail_only_with_enomem,
			    0, sizeof(orbax_fixtures) / sizeof(orbax_fixtures[0]));
	tcase_add_loop_test(tc, listing_and_reading_a_store_should_fail_only_with_enomem,
			    0, sizeof(kv_fixtures) / sizeof(kv_fixtures[0]));
	tcase_add_loop_test(tc, each_codec_should_fail_only_with_enomem,
			    0, sizeof(codecs) / sizeof(codecs[0]));
	tcase_add_test(tc, applying_config_options_should_fail_only_with_enomem);
	tcase_add_test(tc, building_the_hf_view_should_fail_only_with_enomem);
	tcase_add_test(tc, reading_through_the_plan_should_fail_only_with_enomem);
	tcase_add_test(tc, opening_and_reading_the_whole_view_should_fail_only_with_enomem);
	tcase_add_test(tc, building_and_reading_an_orbax_image_should_fail_only_with_enomem);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
