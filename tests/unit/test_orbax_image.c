/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the in-memory Orbax step (orbax_image).  An image's files
 * are materialized through orbax_image_read() into a directory and read back
 * with the project's Orbax reader; its metadata files and its keys and
 * values are compared with what orbax_writer writes for the same arrays,
 * uncompressed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "kvstore/kv_sink.h"
#include "kvstore/kvstore.h"
#include "orbax/orbax.h"
#include "orbax/orbax_image.h"
#include "orbax/orbax_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* The arrays of the tests: edge chunks, no chunks at all, rank 0. */
struct tarr {
	const char *name;
	enum ck_dtype dtype;
	unsigned rank;
	uint64_t shape[3], chunk[3];
};

static const struct tarr arrs[] = {
	{"params.params.decoder.layers.mlp.wi_0.kernel", CK_DT_BF16, 3,
	 {8, 3, 5}, {2, 3, 5}},
	{"params.params.decoder.layers.self_attention.query.kernel", CK_DT_F32,
	 2, {7, 6}, {3, 4}},
	{"params.params.token_embedder.embedding", CK_DT_BF16, 2, {16, 4},
	 {16, 4}},
	{"params.params.decoder.decoder_norm.scale", CK_DT_F32, 1, {5}, {5}},
	{"params.params.decoder.empty", CK_DT_F32, 2, {0, 4}, {1, 4}},
	{"params.params.decoder.scalar", CK_DT_F32, 0, {0}, {0}},
};

#define NARR (sizeof(arrs) / sizeof(arrs[0]))
#define ID_BASE 100u	/* array i is added with id ID_BASE + i */

static struct zarr_write_spec spec_of(size_t i)
{
	struct zarr_write_spec s;

	memset(&s, 0, sizeof(s));
	s.zarr_format = 3;
	s.dtype = arrs[i].dtype;
	s.rank = arrs[i].rank;
	memcpy(s.shape, arrs[i].shape, sizeof(arrs[i].shape));
	memcpy(s.chunk, arrs[i].chunk, sizeof(arrs[i].chunk));
	s.zstd_level = -1;
	return s;
}

/* Byte k of array i's elements (C order). */
static uint8_t byte_of(size_t i, uint64_t k)
{
	uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull + k * 0xBF58476D1CE4E5B9ull;

	return (uint8_t)(h >> 56 ^ h >> 13);
}

static uint64_t nbytes_of(size_t i)
{
	uint64_t n = ck_dtype_size(arrs[i].dtype);

	for (unsigned a = 0; a < arrs[i].rank; a++)
		n *= arrs[i].shape[a];
	return n;
}

static uint8_t *data_of(size_t i)
{
	uint64_t n = nbytes_of(i);
	uint8_t *d = malloc(n + 1);

	for (uint64_t k = 0; k < n; k++)
		d[k] = byte_of(i, k);
	return d;
}

/* Raw full-size chunk c of array i (edge padding zero) into out. */
static void chunk_of(size_t i, uint64_t c, uint8_t *out, uint64_t *len)
{
	const struct tarr *t = &arrs[i];
	size_t isz = ck_dtype_size(t->dtype);
	uint64_t grid[3], start[3], n = 1, e;

	for (unsigned a = t->rank; a-- > 0;) {
		grid[a] = (t->shape[a] + t->chunk[a] - 1) / t->chunk[a];
		start[a] = c % grid[a] * t->chunk[a];
		c /= grid[a];
	}
	for (unsigned a = 0; a < t->rank; a++)
		n *= t->chunk[a];
	for (e = 0; e < n; e++) {
		uint64_t rem = e, flat = 0, stride = 1;
		int inside = 1;

		for (unsigned a = t->rank; a-- > 0;) {
			uint64_t g = start[a] + rem % t->chunk[a];

			rem /= t->chunk[a];
			inside &= g < t->shape[a];
			flat += g * stride;
			stride *= t->shape[a];
		}
		for (size_t b = 0; b < isz; b++)
			out[e * isz + b] = inside ? byte_of(i, flat * isz + b) : 0;
	}
	*len = n * isz;
}

/* The fill of the tests: chunk c of array id - ID_BASE; fails where asked. */
struct tfill {
	uint64_t fail_id, fail_chunk;	/* fail this chunk (fail_id 0: none) */
	unsigned calls;
};

static int fill(void *ctx, uint64_t id, uint64_t chunk, uint64_t off,
		void *buf, size_t len)
{
	struct tfill *f = ctx;
	uint8_t tmp[4096];
	uint64_t n;

	__atomic_fetch_add(&f->calls, 1, __ATOMIC_RELAXED);
	if (id == f->fail_id && chunk == f->fail_chunk)
		return ck_err(-EIO, "boom");
	ck_assert_uint_ge(id, ID_BASE);
	chunk_of(id - ID_BASE, chunk, tmp, &n);
	ck_assert_uint_le(off + len, n);
	memcpy(buf, tmp + off, len);
	return 0;
}

static struct orbax_image *build(uint64_t init_ns, uint64_t commit_ns,
				 uint64_t file_bytes)
{
	struct orbax_image_opts o = ORBAX_IMAGE_OPTS_INIT;
	struct orbax_image *img = NULL;

	o.scan_layers = 1;
	o.sharding_device = "cpu:0";
	o.init_ns = init_ns;
	o.commit_ns = commit_ns;
	o.file_bytes = file_bytes;
	ck_assert_int_eq(orbax_image_new(&o, &img), 0);
	for (size_t i = 0; i < NARR; i++) {
		struct zarr_write_spec s = spec_of(i);

		s.zstd_level = 3;	/* ignored */
		ck_assert_msg(orbax_image_add_array(img, arrs[i].name, &s,
						    ID_BASE + i) == 0,
			      "%s", ck_err_msg());
	}
	ck_assert_msg(orbax_image_add_param_only_leaves(img) == 0, "%s",
		      ck_err_msg());
	ck_assert_msg(orbax_image_commit(img) == 0, "%s", ck_err_msg());
	return img;
}

/* Write every file of img under dir, read in pieces of `piece` bytes. */
static void materialize(const struct orbax_image *img, const char *dir,
			size_t piece)
{
	struct tfill f = {0, 0, 0};

	for (size_t i = 0; i < orbax_image_nfiles(img); i++) {
		uint64_t size = orbax_image_file_size(img, i), off = 0;
		uint8_t *buf = malloc(size + 1);
		char path[1024], *slash;
		size_t got = 0;

		snprintf(path, sizeof(path), "%s/%s", dir,
			 orbax_image_file_name(img, i));
		slash = strrchr(path, '/');
		*slash = '\0';
		ck_assert_int_eq(kv_sink_mkdirs(path), 0);
		*slash = '/';
		while (off < size) {
			ck_assert_msg(orbax_image_read(img, i, off, buf + off, piece,
						       &got, fill, &f) == 0,
				      "%s", ck_err_msg());
			ck_assert_uint_gt(got, 0);
			off += got;
		}
		ck_assert_int_eq(orbax_image_read(img, i, size, buf, 8, &got,
						  fill, &f), 0);
		ck_assert_uint_eq(got, 0);
		ck_test_write_file(path, buf, (size_t)size);
		free(buf);
	}
}

/* The image's files under tmp/img/0 read back as the arrays put. */
START_TEST(image_files_should_read_back_through_orbax)
{
	struct orbax_image *img = build(1, 2, 300);
	struct orbax_ckpt *c = NULL;
	const struct orbax_array *a;
	struct zarr_info info;
	char *tmp = ck_test_tmpdir(), dir[512];
	uint64_t zero[3] = {0};
	int64_t step = -1;
	size_t ndata = 0;

	for (size_t i = 0; i < orbax_image_nfiles(img); i++)
		ndata += orbax_image_file_kind(img, i) == ORBAX_IMAGE_DATA;
	ck_assert_uint_gt(ndata, 2);	/* cut at 300 bytes */
	ck_assert_str_eq(orbax_image_file_name(img, 0), "_CHECKPOINT_METADATA");
	ck_assert_str_eq(orbax_image_file_name(img, 4), "items/manifest.ocdbt");
	snprintf(dir, sizeof(dir), "%s/img/0", tmp);
	materialize(img, dir, 77);
	ck_assert_msg(orbax_open(dir, NULL, &c) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(c->step, 0);
	ck_assert_int_eq(c->scan_layers, 1);
	ck_assert_str_eq(c->format, "OCDBT/zarr3");
	ck_assert_uint_eq(c->narrays, NARR + 1);
	for (size_t i = 0; i < NARR; i++) {
		uint64_t n = nbytes_of(i);
		uint8_t *want = data_of(i), *got = malloc(n + 1);

		a = orbax_find(c, arrs[i].name);
		ck_assert_ptr_nonnull(a);
		ck_assert_int_eq(orbax_array_info(a, &info), 0);
		ck_assert_int_eq(info.dtype, arrs[i].dtype);
		ck_assert_uint_eq(info.rank, arrs[i].rank);
		ck_assert_msg(orbax_array_read(a, zero, arrs[i].shape, got) == 0,
			      "%s: %s", arrs[i].name, ck_err_msg());
		ck_assert_mem_eq(got, want, n);
		free(want);
		free(got);
	}
	a = orbax_find(c, "step");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(orbax_array_read(a, zero, zero, &step), 0);
	ck_assert_int_eq(step, 0);
	ck_assert_ptr_null(orbax_find(c, "opt_state"));
	orbax_close(c);
	orbax_image_free(img);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

static char *read_text(const char *dir, const char *rel)
{
	char path[1024];
	size_t n;
	uint8_t *d;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	d = ck_test_read_file(path, &n);
	d = realloc(d, n + 1);
	d[n] = 0;
	return (char *)d;
}

static uint64_t number_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	ck_assert_ptr_nonnull(p);
	return strtoull(p + strlen(key), NULL, 10);
}

/* Both stores: the same keys with the same values. */
struct kvcmp {
	const struct kvstore *self, *other;
	size_t n;
};

static int same_value(void *ctx, const char *key, size_t keylen,
		      const struct kv_value *v)
{
	struct kvcmp *k = ctx;
	struct kv_value w;
	uint8_t *a = malloc(v->length + 1), *b = malloc(v->length + 1);

	ck_assert_msg(kvstore_get(k->other, key, keylen, &w) == 0, "%.*s",
		      (int)keylen, key);
	ck_assert_uint_eq(w.length, v->length);
	ck_assert_int_eq(kvstore_read(k->other, &w, 0, a, w.length), 0);
	ck_assert_int_eq(kvstore_read(k->self, v, 0, b, v->length), 0);
	ck_assert_msg(!memcmp(a, b, v->length), "value of %.*s", (int)keylen,
		      key);
	free(a);
	free(b);
	k->n++;
	return 0;
}

/* The metadata files are the writer's, byte for byte, and so are the keys
 * and values of the store (uncompressed). */
START_TEST(image_should_equal_what_the_writer_writes)
{
	static const char *const texts[] = {
		"_CHECKPOINT_METADATA", "items/_METADATA", "items/_sharding",
		"items/array_metadatas/process_0",
	};
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *w = NULL;
	struct orbax_image *img;
	struct kvstore *kw = NULL, *ki = NULL;
	char *tmp = ck_test_tmpdir(), wdir[512], idir[512], *t;
	const char *dirs[1];
	struct kvcmp k;
	uint64_t init, commit;

	o.scan_layers = 1;
	o.sharding_device = "cpu:0";
	snprintf(wdir, sizeof(wdir), "%s/w", tmp);
	ck_assert_int_eq(orbax_writer_open(wdir, 0, &o, &w), 0);
	for (size_t i = NARR; i-- > 0;) {	/* another order: same texts */
		struct zarr_write_spec s = spec_of(i);
		uint8_t *d = data_of(i);

		ck_assert_msg(orbax_writer_add(w, arrs[i].name, &s, d) == 0, "%s",
			      ck_err_msg());
		free(d);
	}
	ck_assert_int_eq(orbax_writer_add_param_only_leaves(w, -1), 0);
	ck_assert_msg(orbax_writer_commit(w) == 0, "%s", ck_err_msg());
	orbax_writer_free(w);
	snprintf(wdir, sizeof(wdir), "%s/w/0", tmp);
	t = read_text(wdir, "_CHECKPOINT_METADATA");
	init = number_after(t, "\"init_timestamp_nsecs\": ");
	commit = number_after(t, "\"commit_timestamp_nsecs\": ");
	free(t);

	img = build(init, commit, 0);
	snprintf(idir, sizeof(idir), "%s/i/0", tmp);
	materialize(img, idir, 4096);
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		char *a = read_text(wdir, texts[i]), *b = read_text(idir, texts[i]);

		ck_assert_str_eq(b, a);
		free(a);
		free(b);
	}
	t = read_text(idir, "items/_METADATA");
	ck_assert_ptr_nonnull(strstr(t, "\"use_ocdbt\": true, \"use_zarr3\": true"));
	free(t);
	snprintf(wdir, sizeof(wdir), "%s/w/0/items", tmp);
	snprintf(idir, sizeof(idir), "%s/i/0/items", tmp);
	dirs[0] = wdir;
	ck_assert_msg(kvstore_open_ocdbt(dirs, 1, 0, &kw) == 0, "%s", ck_err_msg());
	dirs[0] = idir;
	ck_assert_msg(kvstore_open_ocdbt(dirs, 1, 0, &ki) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(kvstore_count(ki), kvstore_count(kw));
	k.self = ki;
	k.other = kw;
	k.n = 0;
	ck_assert_int_eq(kvstore_list(ki, "", 0, same_value, &k), 0);
	ck_assert_uint_eq(k.n, kvstore_count(kw));
	t = read_text(idir, "../_CHECKPOINT_METADATA");
	ck_assert_ptr_nonnull(strstr(t, "\"scan_layers\": true"));
	free(t);
	kvstore_free(kw);
	kvstore_free(ki);
	orbax_image_free(img);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

/* The data files' chunk lists cover every chunk once, in put order. */
struct cover {
	uint64_t next_id, next_chunk;
	unsigned calls;
};

static int covered(void *ctx, uint64_t id, const char *name, uint64_t first,
		   uint64_t n)
{
	struct cover *cv = ctx;

	while (cv->next_id < ID_BASE + NARR) {
		const struct tarr *t = &arrs[cv->next_id - ID_BASE];
		uint64_t nc = 1;

		for (unsigned a = 0; a < t->rank; a++)
			nc *= (t->shape[a] + t->chunk[a] - 1) / t->chunk[a];
		if (cv->next_chunk < nc)
			break;
		cv->next_id++;
		cv->next_chunk = 0;
	}
	ck_assert_uint_eq(id, cv->next_id);
	ck_assert_str_eq(name, arrs[id - ID_BASE].name);
	ck_assert_uint_eq(first, cv->next_chunk);
	ck_assert_uint_gt(n, 0);
	cv->next_chunk += n;
	cv->calls++;
	return 0;
}

START_TEST(data_files_should_list_their_chunks_and_fail_with_the_key)
{
	struct orbax_image *img = build(1, 2, 100);
	struct cover cv = {ID_BASE, 0, 0};
	struct tfill f = {ID_BASE + 1, 4, 0};	/* query kernel chunk (2, 0) */
	uint8_t buf[4096];
	size_t got = 0;
	int failed = 0;

	for (size_t i = 0; i < orbax_image_nfiles(img); i++) {
		ck_assert_int_eq(orbax_image_file_chunks(img, i, covered, &cv), 0);
		if (orbax_image_file_kind(img, i) != ORBAX_IMAGE_DATA)
			continue;
		if (orbax_image_read(img, i, 0, buf, sizeof(buf), &got, fill,
				     &f) == -EIO) {
			failed++;
			ck_assert_msg(strstr(ck_err_msg(), "self_attention.query."
					     "kernel/c/2/0: boom") != NULL, "%s",
				      ck_err_msg());
		}
	}
	ck_assert_int_eq(failed, 1);
	ck_assert_uint_gt(cv.calls, 6);
	/* and a read with no fill at all */
	for (size_t i = 0; i < orbax_image_nfiles(img); i++)
		if (orbax_image_file_kind(img, i) == ORBAX_IMAGE_DATA)
			ck_assert_int_eq(orbax_image_read(img, i, 0, buf, 8, &got,
							  NULL, NULL), -EINVAL);
	orbax_image_free(img);
}
END_TEST

START_TEST(image_should_refuse_bad_leaves_and_late_calls)
{
	struct orbax_image_opts o = ORBAX_IMAGE_OPTS_INIT;
	struct orbax_image *img = NULL;
	struct zarr_write_spec s = spec_of(0);
	uint8_t buf[8];
	size_t got;

	o.sharding_device = "cpu\"0";
	ck_assert_int_eq(orbax_image_new(&o, &img), -EINVAL);
	o.sharding_device = NULL;
	o.scan_layers = 2;
	ck_assert_int_eq(orbax_image_new(&o, &img), -EINVAL);
	ck_assert_int_eq(orbax_image_new(NULL, &img), 0);
	ck_assert_int_eq(orbax_image_add_array(img, "a.b", &s, 1), 0);
	ck_assert_int_eq(orbax_image_add_array(img, "a.b", &s, 1), -EINVAL);
	ck_assert_int_eq(orbax_image_add_array(img, "a", &s, 1), -EINVAL);
	ck_assert_int_eq(orbax_image_add_array(img, "a.b.c", &s, 1), -EINVAL);
	ck_assert_int_eq(orbax_image_add_array(img, "x/y", &s, 1), -EINVAL);
	ck_assert_int_eq(orbax_image_add_empty(img, "e", "Set"), -EINVAL);
	s.chunk[1] = 0;
	ck_assert_int_eq(orbax_image_add_array(img, "z", &s, 1), -EINVAL);
	ck_assert_uint_eq(orbax_image_nfiles(img), 0);
	ck_assert_int_eq(orbax_image_read(img, 0, 0, buf, 8, &got, fill, NULL),
			 -EINVAL);
	ck_assert_int_eq(orbax_image_commit(img), 0);
	/* no _sharding without a device */
	ck_assert_str_eq(orbax_image_file_name(img, 2),
			 "items/array_metadatas/process_0");
	ck_assert_int_eq(orbax_image_add_scalar(img, "step", 0), -EINVAL);
	ck_assert_int_eq(orbax_image_commit(img), -EINVAL);
	ck_assert_ptr_null(orbax_image_file_name(img, 99));
	orbax_image_free(img);
	orbax_image_free(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("orbax_image");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, image_files_should_read_back_through_orbax);
	tcase_add_test(tc, image_should_equal_what_the_writer_writes);
	tcase_add_test(tc, data_files_should_list_their_chunks_and_fail_with_the_key);
	tcase_add_test(tc, image_should_refuse_bad_leaves_and_late_calls);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_test_run(suite());
}
