/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the streaming zarr writer (zarr_write_array_cb(),
 * zarr_write_array_stream()): the keys and values it puts, in order, are
 * those zarr_write_array() puts for the same elements, whatever the thread
 * count; errors from the fill callback, the sink and the progress callback
 * stop it; uncompressed arrays (zstd_level < 0) read back through the
 * reader.  A recording sink keeps every put in memory to compare.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "codec/codec.h"
#include "kvstore/kv_sink.h"
#include "kvstore/kvstore.h"
#include "kvstore/ocdbt_writer.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_writer.h"

/* ---- a sink that records every put ---------------------------------------- */

struct put {
	char *key;
	uint8_t *val;
	size_t len;
};

struct rec {
	struct put *p;
	size_t n, cap;
	size_t fail_at;		/* put number that fails with -EIO; 0: none */
	pthread_t owner;	/* the only thread allowed to put */
	int wrong_thread;	/* a put came from another thread */
};

static int rec_put(void *ctx, const void *key, size_t keylen, const void *val,
		   size_t len)
{
	struct rec *r = ctx;
	struct put *p;

	if (!pthread_equal(pthread_self(), r->owner))
		r->wrong_thread = 1;
	if (r->fail_at && r->n + 1 == r->fail_at)
		return ck_err(-EIO, "test sink: put %zu fails", r->n + 1);
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->p = realloc(r->p, r->cap * sizeof(*r->p));
		ck_assert_ptr_nonnull(r->p);
	}
	p = &r->p[r->n++];
	p->key = strndup(key, keylen);
	p->val = malloc(len + 1);
	ck_assert(p->key && p->val);
	memcpy(p->val, val, len);
	p->val[len] = 0;
	p->len = len;
	return 0;
}

static void rec_init(struct rec *r, struct kv_sink *sink)
{
	memset(r, 0, sizeof(*r));
	r->owner = pthread_self();
	sink->put = rec_put;
	sink->ctx = r;
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->p[i].key);
		free(r->p[i].val);
	}
	free(r->p);
}

static void rec_assert_equal(const struct rec *a, const struct rec *b,
			     const char *what)
{
	ck_assert_msg(a->n == b->n, "%s: %zu puts vs %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		ck_assert_msg(!strcmp(a->p[i].key, b->p[i].key),
			      "%s: put %zu is %s, not %s", what, i, b->p[i].key,
			      a->p[i].key);
		ck_assert_msg(a->p[i].len == b->p[i].len &&
				      !memcmp(a->p[i].val, b->p[i].val, a->p[i].len),
			      "%s: value of %s differs", what, a->p[i].key);
	}
	ck_assert(!a->wrong_thread && !b->wrong_thread);
}

/* ---- elements by formula --------------------------------------------------- */

static uint64_t nelems(const struct zarr_write_spec *s)
{
	uint64_t n = 1;

	for (unsigned i = 0; i < s->rank; i++)
		n *= s->shape[i];
	return n;
}

/* Element flat index i of an array of dtype t, into p. */
static void elem(enum ck_dtype t, uint64_t i, uint8_t *p)
{
	float f = (float)i * 0.37f - 11.5f;

	if (t == CK_DT_F32) {
		memcpy(p, &f, 4);
	} else if (t == CK_DT_BF16) {
		uint16_t h = ck_f32_to_bf16(f);

		memcpy(p, &h, 2);
	} else if (t == CK_DT_I64) {
		ck_store_u64le(p, i * 0x9e3779b97f4a7c15ull);
	} else {
		ck_store_u32le(p, (uint32_t)(i * 2654435761u));
	}
}

static uint8_t *make_data(const struct zarr_write_spec *s, size_t *nbytes)
{
	size_t isz = ck_dtype_size(s->dtype);
	uint64_t n = nelems(s);
	uint8_t *d = malloc(n * isz + 1);

	ck_assert_ptr_nonnull(d);
	for (uint64_t i = 0; i < n; i++)
		elem(s->dtype, i, d + i * isz);
	*nbytes = n * isz;
	return d;
}

/* The fill callback's context: the spec, and what the calls saw. */
struct fill_ctx {
	const struct zarr_write_spec *s;
	uint64_t fail_chunk;		/* row-major chunk number that fails;
					   UINT64_MAX: none */
	unsigned nslots;		/* 2 * threads: the claim bound, checked
					   against put when not 0 */
	uint64_t calls;			/* atomic */
	uint64_t active, most_active;	/* atomic: fills running at once */
	uint64_t put;			/* atomic: chunks put (progress) */
	int bad;			/* atomic: a call broke the contract */
};

static uint64_t chunk_number(const struct zarr_write_spec *s,
			     const uint64_t *idx)
{
	uint64_t c = 0;

	for (unsigned i = 0; i < s->rank; i++)
		c = c * ((s->shape[i] + s->chunk[i] - 1) / s->chunk[i]) + idx[i];
	return c;
}

static int formula_fill(void *ctx, const uint64_t *idx, const uint64_t *start,
			const uint64_t *count, void *out)
{
	struct fill_ctx *f = ctx;
	const struct zarr_write_spec *s = f->s;
	size_t isz = ck_dtype_size(s->dtype);
	uint64_t n = 1, act, most, claimed, put;
	int edge = 0;
	uint8_t *buf = out;

	claimed = __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
	put = __atomic_load_n(&f->put, __ATOMIC_SEQ_CST);
	if (f->nslots && claimed > put + f->nslots)
		__atomic_store_n(&f->bad, 1, __ATOMIC_SEQ_CST);
	act = __atomic_add_fetch(&f->active, 1, __ATOMIC_SEQ_CST);
	most = __atomic_load_n(&f->most_active, __ATOMIC_SEQ_CST);
	while (act > most &&
	       !__atomic_compare_exchange_n(&f->most_active, &most, act, 0,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	for (unsigned i = 0; i < s->rank; i++) {
		if (start[i] != idx[i] * s->chunk[i] || !count[i] ||
		    count[i] > s->chunk[i] || start[i] + count[i] > s->shape[i] ||
		    (count[i] < s->chunk[i] && start[i] + count[i] != s->shape[i]))
			__atomic_store_n(&f->bad, 1, __ATOMIC_SEQ_CST);
		edge |= count[i] < s->chunk[i];
		n *= s->chunk[i];
	}
	/* an edge chunk comes zeroed */
	for (uint64_t b = 0; edge && b < n * isz; b++)
		if (buf[b])
			__atomic_store_n(&f->bad, 1, __ATOMIC_SEQ_CST);
	if (chunk_number(s, idx) == f->fail_chunk) {
		__atomic_sub_fetch(&f->active, 1, __ATOMIC_SEQ_CST);
		return ck_err(-EIO, "boom in the test fill");
	}
	/* every element of the box: its flat index in the array */
	for (uint64_t e = 0; e < n; e++) {
		uint64_t rem = e, flat = 0, inside = 1, off[ZARR_MAX_RANK];

		for (int i = (int)s->rank - 1; i >= 0; i--) {
			off[i] = rem % s->chunk[i];
			rem /= s->chunk[i];
			inside &= off[i] < count[i];
		}
		if (!inside)
			continue;
		for (unsigned i = 0; i < s->rank; i++)
			flat = flat * s->shape[i] + start[i] + off[i];
		elem(s->dtype, flat, buf + e * isz);
	}
	__atomic_sub_fetch(&f->active, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void fill_init(struct fill_ctx *f, const struct zarr_write_spec *s)
{
	memset(f, 0, sizeof(*f));
	f->s = s;
	f->fail_chunk = UINT64_MAX;
}

static struct zarr_write_spec spec_of(int fmt, enum ck_dtype t, unsigned rank,
				      const uint64_t *shape,
				      const uint64_t *chunk, int level)
{
	struct zarr_write_spec s;

	memset(&s, 0, sizeof(s));
	s.zarr_format = fmt;
	s.dtype = t;
	s.rank = rank;
	s.zstd_level = level;
	for (unsigned i = 0; i < rank; i++) {
		s.shape[i] = shape[i];
		s.chunk[i] = chunk[i];
	}
	return s;
}

static uint64_t nchunks_of(const struct zarr_write_spec *s)
{
	uint64_t n = 1;

	for (unsigned i = 0; i < s->rank; i++)
		n *= (s->shape[i] + s->chunk[i] - 1) / s->chunk[i];
	return n;
}

/* Shapes of rank 0..4, with edge chunks on one or several axes, and one
 * chunk larger than its array. */
static const struct {
	unsigned rank;
	uint64_t shape[4], chunk[4];
} geoms[] = {
	{0, {0}, {0}},
	{1, {10}, {4}},
	{1, {8}, {8}},
	{2, {5, 7}, {2, 3}},
	{2, {3, 5}, {4, 8}},
	{3, {5, 7, 3}, {2, 3, 2}},
	{4, {3, 4, 5, 6}, {2, 4, 2, 4}},
	{4, {2, 3, 2, 9}, {1, 3, 2, 9}},
};

#define NGEOMS (sizeof(geoms) / sizeof(geoms[0]))

/* Whole-array writer vs streaming writer: same puts in the same order. */
static void compare_one(int fmt, enum ck_dtype t, int level, size_t g,
			unsigned threads)
{
	struct zarr_write_spec s = spec_of(fmt, t, geoms[g].rank, geoms[g].shape,
					   geoms[g].chunk, level);
	struct rec whole, streamed;
	struct kv_sink ws, ss;
	struct fill_ctx f;
	char what[160];
	size_t n;
	uint8_t *d = make_data(&s, &n);

	snprintf(what, sizeof(what), "v%d dtype %d level %d geom %zu threads %u",
		 fmt, (int)t, level, g, threads);
	rec_init(&whole, &ws);
	rec_init(&streamed, &ss);
	ck_assert_msg(zarr_write_array(&ws, "p.w", &s, d) == 0, "%s: %s", what,
		      ck_err_msg());
	fill_init(&f, &s);
	ck_assert_msg(zarr_write_array_cb(&ss, "p.w", &s, formula_fill, &f,
					  threads) == 0,
		      "%s: %s", what, ck_err_msg());
	ck_assert_msg(!f.bad, "%s: a fill call broke the contract", what);
	ck_assert_uint_eq(f.calls, nchunks_of(&s));
	ck_assert_uint_eq(streamed.n, 1 + nchunks_of(&s));
	rec_assert_equal(&whole, &streamed, what);
	rec_free(&whole);
	rec_free(&streamed);
	free(d);
}

START_TEST(stream_should_put_what_the_whole_array_writer_puts)
{
	static const enum ck_dtype types[] = {CK_DT_F32, CK_DT_BF16};
	static const int levels[] = {3, -1};
	static const unsigned threads[] = {1, 4};

	for (int fmt = 2; fmt <= 3; fmt++)
		for (size_t t = 0; t < 2; t++)
			for (size_t l = 0; l < 2; l++)
				for (size_t g = 0; g < NGEOMS; g++)
					for (size_t k = 0; k < 2; k++)
						compare_one(fmt, types[t], levels[l], g,
							    threads[k]);
}
END_TEST

/* Progress: on the calling thread, once per chunk, growing to the total. */
struct prog {
	struct fill_ctx *f;
	pthread_t owner;
	uint64_t calls, last, total;
	uint64_t fail_at;		/* call that returns -ECANCELED; 0 none */
	int bad;
};

static int prog_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct prog *p = ctx;

	if (!pthread_equal(pthread_self(), p->owner) || done <= p->last ||
	    done > total || (p->total && total != p->total))
		p->bad = 1;
	p->last = done;
	p->total = total;
	p->calls++;
	if (p->f)
		__atomic_store_n(&p->f->put, p->calls, __ATOMIC_SEQ_CST);
	if (p->fail_at && p->calls == p->fail_at)
		return ck_err(-ECANCELED, "stopped by the progress callback");
	return 0;
}

/* Many chunks on 4 and 16 workers: same output, the claim bound holds, the
 * progress callback sees every chunk. */
START_TEST(stream_should_bound_chunks_in_flight_and_report_progress)
{
	static const uint64_t shape[2] = {64, 33}, chunk[2] = {3, 4};
	static const unsigned threads[] = {4, 16};
	struct zarr_write_spec s = spec_of(3, CK_DT_BF16, 2, shape, chunk, 1);
	struct rec whole;
	struct kv_sink ws;
	size_t n;
	uint8_t *d = make_data(&s, &n);

	rec_init(&whole, &ws);
	ck_assert_int_eq(zarr_write_array(&ws, "x", &s, d), 0);
	for (size_t k = 0; k < 2; k++) {
		struct rec r;
		struct kv_sink rs;
		struct fill_ctx f;
		struct prog p = {NULL, pthread_self(), 0, 0, 0, 0, 0};
		struct zarr_stream st = {formula_fill, &f, threads[k], prog_cb, &p};

		rec_init(&r, &rs);
		fill_init(&f, &s);
		f.nslots = 2 * threads[k];
		p.f = &f;
		ck_assert_msg(zarr_write_array_stream(&rs, "x", &s, &st) == 0, "%s",
			      ck_err_msg());
		ck_assert_msg(!f.bad, "threads %u: contract or claim bound broken",
			      threads[k]);
		ck_assert_uint_le(f.most_active, threads[k]);
		ck_assert(!p.bad);
		ck_assert_uint_eq(p.calls, nchunks_of(&s));
		ck_assert_uint_eq(p.last, n);
		ck_assert_uint_eq(p.total, n);
		rec_assert_equal(&whole, &r, "many chunks");
		rec_free(&r);
	}
	rec_free(&whole);
	free(d);
}
END_TEST

/* A fill error stops the write with its errno and message; the chunk that
 * failed is never put, nor any after it. */
START_TEST(stream_should_stop_on_a_fill_error)
{
	static const uint64_t shape[3] = {9, 8, 5}, chunk[3] = {2, 3, 5};
	static const unsigned threads[] = {1, 4, 8};
	struct zarr_write_spec s = spec_of(3, CK_DT_F32, 3, shape, chunk, 3);

	for (size_t k = 0; k < 3; k++) {
		struct rec r;
		struct kv_sink rs;
		struct fill_ctx f;
		int err;

		rec_init(&r, &rs);
		fill_init(&f, &s);
		f.fail_chunk = 7;	/* index (2, 1, 0) of a 5x3x1 grid */
		ck_err_clear();
		err = zarr_write_array_cb(&rs, "bad", &s, formula_fill, &f,
					  threads[k]);
		ck_assert_int_eq(err, -EIO);
		ck_assert_msg(strstr(ck_err_msg(), "boom in the test fill") &&
				      strstr(ck_err_msg(), "array 'bad'") &&
				      strstr(ck_err_msg(), "chunk (2, 1, 0)"),
			      "%s", ck_err_msg());
		ck_assert_uint_le(r.n, 1 + 7);	/* meta + chunks 0..6 at most */
		for (size_t i = 1; i < r.n; i++)
			ck_assert_ptr_null(strstr(r.p[i].key, "c/2/1/0"));
		rec_free(&r);
	}
}
END_TEST

/* The sink's and the progress callback's errors stop the workers too. */
START_TEST(stream_should_stop_on_sink_and_progress_errors)
{
	static const uint64_t shape[2] = {40, 40}, chunk[2] = {4, 4};
	struct zarr_write_spec s = spec_of(2, CK_DT_F32, 2, shape, chunk, 3);

	for (unsigned threads = 1; threads <= 4; threads += 3) {
		struct rec r;
		struct kv_sink rs;
		struct fill_ctx f;
		struct prog p = {NULL, pthread_self(), 0, 0, 0, 3, 0};
		struct zarr_stream st = {formula_fill, &f, threads, prog_cb, &p};

		rec_init(&r, &rs);
		r.fail_at = 6;
		fill_init(&f, &s);
		ck_assert_int_eq(zarr_write_array_cb(&rs, "s", &s, formula_fill, &f,
						     threads),
				 -EIO);
		ck_assert_msg(strstr(ck_err_msg(), "put 6 fails"), "%s", ck_err_msg());
		ck_assert_uint_eq(r.n, 5);
		rec_free(&r);

		rec_init(&r, &rs);
		fill_init(&f, &s);
		ck_assert_int_eq(zarr_write_array_stream(&rs, "s", &s, &st), -ECANCELED);
		ck_assert_msg(strstr(ck_err_msg(), "stopped by the progress"), "%s",
			      ck_err_msg());
		ck_assert_uint_eq(r.n, 1 + 3);
		ck_assert_uint_eq(p.calls, 3);
		rec_free(&r);
	}
}
END_TEST

/* An array without elements: only its metadata, no fill, no progress; a
 * missing callback is -EINVAL. */
START_TEST(stream_should_write_empty_arrays_and_reject_no_callback)
{
	static const uint64_t shape[2] = {0, 4}, chunk[2] = {2, 2};
	struct zarr_write_spec s = spec_of(3, CK_DT_F32, 2, shape, chunk, 3);
	struct rec r;
	struct kv_sink rs;
	struct fill_ctx f;
	struct prog p = {NULL, pthread_self(), 0, 0, 0, 0, 0};
	struct zarr_stream st = {formula_fill, &f, 4, prog_cb, &p};

	rec_init(&r, &rs);
	fill_init(&f, &s);
	ck_assert_int_eq(zarr_write_array_stream(&rs, "e", &s, &st), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.p[0].key, "e/zarr.json");
	ck_assert_uint_eq(f.calls, 0);
	ck_assert_uint_eq(p.calls, 0);
	ck_assert_int_eq(zarr_write_array_cb(&rs, "f", &s, NULL, NULL, 2), -EINVAL);
	ck_assert_int_eq(zarr_write_array_cb(&rs, "/f", &s, formula_fill, &f, 2),
			 -EINVAL);
	rec_free(&r);
}
END_TEST

/* ---- uncompressed arrays ------------------------------------------------- */

static int open_db(const char *dir, struct kvstore **kv)
{
	const char *dirs[1] = {dir};

	return kvstore_open_ocdbt(dirs, 1, 0, kv);
}

static uint8_t *get_value(const struct kvstore *kv, const char *key,
			  size_t *len)
{
	struct kv_value v;
	uint8_t *buf;

	ck_assert_msg(kvstore_get(kv, key, strlen(key), &v) == 0, "%s: %s",
		      key, ck_err_msg());
	buf = malloc((size_t)v.length + 1);
	ck_assert_int_eq(kvstore_read(kv, &v, 0, buf, (size_t)v.length), 0);
	buf[v.length] = 0;
	*len = (size_t)v.length;
	return buf;
}

static void read_back(const struct kvstore *kv, const char *name,
		      const struct zarr_write_spec *s)
{
	uint64_t start[ZARR_MAX_RANK] = {0};
	struct zarr_array *a = NULL;
	size_t n;
	uint8_t *want = make_data(s, &n), *got = malloc(n + 1);

	ck_assert_msg(zarr_array_open(kv, name, &a) == 0, "%s: %s", name,
		      ck_err_msg());
	ck_assert_msg(zarr_array_read(a, start, s->shape, got) == 0, "%s: %s",
		      name, ck_err_msg());
	ck_assert_mem_eq(got, want, n);
	zarr_array_free(a);
	free(want);
	free(got);
}

START_TEST(uncompressed_arrays_should_read_back_and_name_no_zstd)
{
	static const uint64_t shape[3] = {5, 7, 3}, chunk[3] = {2, 3, 2};
	struct zarr_write_spec s3 = spec_of(3, CK_DT_BF16, 3, shape, chunk, -1);
	struct zarr_write_spec s2 = spec_of(2, CK_DT_F32, 3, shape, chunk, -1);
	struct zarr_write_spec s0 = spec_of(3, CK_DT_I64, 0, NULL, NULL, -1);
	struct ocdbt_writer *w = NULL;
	struct kvstore *kv = NULL;
	struct kv_sink sink;
	struct fill_ctx f3, f2, f0;
	struct ck_buf meta = CK_BUF_INIT;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "db");
	uint8_t trailer[ZARR_SHARD_INDEX_BYTES], *v, raw[12 * 2];
	size_t len;

	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w), 0);
	ck_assert_int_eq(kv_sink_ocdbt(w, &sink), 0);
	fill_init(&f3, &s3);
	fill_init(&f2, &s2);
	fill_init(&f0, &s0);
	ck_assert_msg(zarr_write_array_cb(&sink, "u3", &s3, formula_fill, &f3, 4) == 0,
		      "%s", ck_err_msg());
	ck_assert_msg(zarr_write_array_cb(&sink, "u2", &s2, formula_fill, &f2, 4) == 0,
		      "%s", ck_err_msg());
	ck_assert_msg(zarr_write_array_cb(&sink, "u0", &s0, formula_fill, &f0, 4) == 0,
		      "%s", ck_err_msg());
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	ck_assert_msg(open_db(dir, &kv) == 0, "%s", ck_err_msg());
	read_back(kv, "u3", &s3);
	read_back(kv, "u2", &s2);
	read_back(kv, "u0", &s0);

	/* zarr.json: sharding_indexed with [bytes] only; as zarr_v3_meta() */
	v = get_value(kv, "u3/zarr.json", &len);
	ck_assert_ptr_null(strstr((char *)v, "zstd"));
	ck_assert_ptr_nonnull(strstr((char *)v,
		"\"codecs\":[{\"configuration\":{\"chunk_shape\":[2,3,2],"
		"\"codecs\":[{\"configuration\":{\"endian\":\"little\"},"
		"\"name\":\"bytes\"}],\"index_codecs\":[{\"configuration\":"
		"{\"endian\":\"little\"},\"name\":\"bytes\"},{\"name\":"
		"\"crc32c\"}]},\"name\":\"sharding_indexed\"}]"));
	ck_assert_int_eq(zarr_v3_meta(&s3, &meta), 0);
	ck_assert_uint_eq(meta.len, len);
	ck_assert_mem_eq(meta.data, v, len);
	free(v);
	meta.len = 0;
	v = get_value(kv, "u2/.zarray", &len);
	ck_assert_ptr_nonnull(strstr((char *)v, "\"compressor\":null,"));
	ck_assert_int_eq(zarr_v2_meta(&s2, &meta), 0);
	ck_assert_uint_eq(meta.len, len);
	ck_assert_mem_eq(meta.data, v, len);
	free(v);
	ck_buf_release(&meta);

	/* a v3 chunk: the raw full-size chunk, then the one-entry index; the
	 * edge chunk (2, 2, 1) holds one element, the rest zero */
	v = get_value(kv, "u3/c/2/2/1", &len);
	ck_assert_uint_eq(len, sizeof(raw) + ZARR_SHARD_INDEX_BYTES);
	zarr_shard_index(sizeof(raw), trailer);
	ck_assert_mem_eq(v + sizeof(raw), trailer, sizeof(trailer));
	memset(raw, 0, sizeof(raw));
	elem(CK_DT_BF16, (4 * 7 + 6) * 3 + 2, raw);
	ck_assert_mem_eq(v, raw, sizeof(raw));
	free(v);
	/* a v2 chunk is the raw chunk alone */
	v = get_value(kv, "u2/0.0.0", &len);
	ck_assert_uint_eq(len, 12 * 4);
	free(v);
	v = get_value(kv, "u0/c", &len);
	ck_assert_uint_eq(len, 8 + ZARR_SHARD_INDEX_BYTES);
	free(v);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

/* The shard trailer of the real Orbax fixture's a/c/0 (orbax-format.md
 * §3.1): a 41-byte frame at offset 0, CRC 8e 86 77 44. */
START_TEST(shard_index_should_match_the_real_orbax_chunk)
{
	static const uint8_t want[20] = {0, 0, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0, 0,
					 0, 0, 0, 0x8e, 0x86, 0x77, 0x44};
	uint8_t got[ZARR_SHARD_INDEX_BYTES];

	zarr_shard_index(41, got);
	ck_assert_mem_eq(got, want, sizeof(want));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("zarr_stream_write");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stream_should_put_what_the_whole_array_writer_puts);
	tcase_add_test(tc, stream_should_bound_chunks_in_flight_and_report_progress);
	tcase_add_test(tc, stream_should_stop_on_a_fill_error);
	tcase_add_test(tc, stream_should_stop_on_sink_and_progress_errors);
	tcase_add_test(tc, stream_should_write_empty_arrays_and_reject_no_callback);
	tcase_add_test(tc, uncompressed_arrays_should_read_back_and_name_no_zstd);
	tcase_add_test(tc, shard_index_should_match_the_real_orbax_chunk);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
