/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the in-memory OCDBT image (ocdbt_image).  Images are
 * materialized through ocdbt_image_read() into a directory and read back
 * with the project's OCDBT reader; their nodes and manifest are compared
 * with what ocdbt_writer writes for the same keys and values.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck_test.h"
#include "kvstore/kv_sink.h"
#include "kvstore/kvstore.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_envelope.h"
#include "kvstore/ocdbt_image.h"
#include "kvstore/ocdbt_manifest.h"
#include "kvstore/ocdbt_writer.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"

#define NKEYS 300
#define TAG_BASE 1000000u /* tag of key i's virtual value: TAG_BASE + i */
#define COMMIT_NS 1778718340771198958ull
#define MAX_FILES 64

/* How key i's value is put. */
enum vkind {
	V_INLINE,  /* put(), at most 1024 bytes */
	V_COPIED,  /* put(), out-of-line */
	V_VIRTUAL, /* put_virtual(), out-of-line */
	V_EMPTY,   /* put_virtual() of 0 bytes: inline */
};

static enum vkind kind_of(int i)
{
	static const enum vkind k[6] = {V_INLINE, V_COPIED,  V_VIRTUAL,
					V_EMPTY,  V_VIRTUAL, V_INLINE};

	return k[i % 6];
}

/* Key i: varied lengths and shared prefixes. */
static void key_of(int i, char *buf, size_t cap)
{
	switch (i % 4) {
	case 0:
		snprintf(buf, cap, "params.params.decoder.layers_%d/c/%d/0",
			 i / 7, i);
		break;
	case 1:
		snprintf(buf, cap, "k%d", i);
		break;
	case 2:
		snprintf(buf, cap, "opt_state.0.mu.params.%0*d", 3 + i % 200,
			 i);
		break;
	default:
		snprintf(buf, cap, "%c/%d", 'a' + i % 26, i);
	}
}

/* Value length of key i; big: virtual values of 1025 bytes at least. */
static uint64_t len_of(int i, int big)
{
	switch (kind_of(i)) {
	case V_INLINE:
		return (uint64_t)(i * 97) % 1025;
	case V_COPIED:
		return 1025 + (uint64_t)(i * 37) % 4000;
	case V_VIRTUAL:
		if (i % 12 == 2 && !big)
			return 1 + (uint64_t)i % 7; /* small, yet out-of-line */
		return 1025 + (uint64_t)(i * 131) % 20000;
	default:
		return 0;
	}
}

static int out_of_line(int i)
{
	return kind_of(i) == V_COPIED || kind_of(i) == V_VIRTUAL;
}

/* Byte j of key i's value, whatever its kind. */
static uint8_t byte_of(uint64_t i, uint64_t j)
{
	return (uint8_t)(i * 31 + j * 7 + (j >> 8) + (j >> 13));
}

static uint8_t *value_of(int i, int big, uint64_t *len)
{
	uint64_t n = len_of(i, big);
	uint8_t *v = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(v);
	for (uint64_t j = 0; j < n; j++)
		v[j] = byte_of((uint64_t)i, j);
	*len = n;
	return v;
}

/* The fill callback: checks its range, counts its calls. */
struct fillctx {
	int big;	/* the lengths of len_of(., big) */
	uint64_t calls; /* calls so far */
	int fail;	/* 1: answer -EIO */
	uint64_t huge;	/* nonzero: every value has this length */
};

static int fill(void *ctx, uint64_t tag, uint64_t off, void *buf, size_t len)
{
	struct fillctx *f = ctx;
	uint8_t *b = buf;
	uint64_t vlen;

	__atomic_fetch_add(&f->calls, 1, __ATOMIC_RELAXED);
	ck_assert_uint_ge(tag, TAG_BASE);
	ck_assert_uint_lt(tag, TAG_BASE + NKEYS);
	ck_assert_uint_gt(len, 0);
	vlen = f->huge ? f->huge : len_of((int)(tag - TAG_BASE), f->big);
	ck_assert_uint_le(off + len, vlen);
	if (f->fail)
		return ck_err(-EIO, "test fill fails on purpose");
	for (size_t j = 0; j < len; j++)
		b[j] = byte_of(tag - TAG_BASE, off + j);
	return 0;
}

/* Where the model puts each out-of-line value (in put order). */
struct model {
	uint64_t file_bytes;	  /* the option */
	int file[NKEYS];	  /* key i: data file 1.., 0 inline */
	uint64_t offset[NKEYS];	  /* key i: offset in it */
	uint64_t size[MAX_FILES]; /* data file sizes */
	int nfiles;		  /* data files */
	uint64_t indirect;	  /* out-of-line bytes */
};

static void model_put(struct model *m, int i, int big)
{
	uint64_t len = len_of(i, big);

	if (!out_of_line(i))
		return;
	if (!m->nfiles || m->size[m->nfiles] >= m->file_bytes)
		m->nfiles++;
	ck_assert_int_lt(m->nfiles, MAX_FILES);
	m->file[i] = m->nfiles;
	m->offset[i] = m->size[m->nfiles];
	m->size[m->nfiles] += len;
	m->indirect += len;
}

/* Put key i into img (and the model) as its kind says. */
static void image_put(struct ocdbt_image *img, int i, int big, struct model *m)
{
	char key[300];
	uint64_t len;
	uint8_t *v;
	int err;

	key_of(i, key, sizeof(key));
	if (kind_of(i) == V_VIRTUAL || kind_of(i) == V_EMPTY) {
		err = ocdbt_image_put_virtual(img, key, strlen(key),
					      len_of(i, big), TAG_BASE + i);
	} else {
		v = value_of(i, big, &len);
		err = ocdbt_image_put(img, key, strlen(key), v, len);
		free(v);
	}
	ck_assert_msg(err == 0, "put %s: %s", key, ck_err_msg());
	if (m)
		model_put(m, i, big);
}

/* An image of the NKEYS keys, put in a scrambled order. */
static struct ocdbt_image *build(const struct ocdbt_writer_opts *o, int big,
				 struct model *m)
{
	struct ocdbt_image *img = NULL;

	if (m) {
		memset(m, 0, sizeof(*m));
		m->file_bytes = o && o->file_bytes
					? o->file_bytes
					: OCDBT_WRITER_TARGET_FILE_BYTES;
	}
	ck_assert_int_eq(ocdbt_image_new(o, &img), 0);
	for (int k = 0; k < NKEYS; k++)
		image_put(img, (k * 211) % NKEYS, big, m);
	ocdbt_image_set_commit_time(img, COMMIT_NS);
	ck_assert_msg(ocdbt_image_commit(img) == 0, "%s", ck_err_msg());
	return img;
}

/* Write file i of img to dir/<name>, read in chunks of odd sizes. */
static void materialize_file(const struct ocdbt_image *img, size_t i,
			     const char *dir, struct fillctx *fc)
{
	const char *name = ocdbt_image_file_name(img, i);
	uint64_t size = ocdbt_image_file_size(img, i), off = 0;
	char *path = ck_path_join(dir, name);
	size_t cap = 4093 + i * 1000;
	uint8_t *buf = malloc(cap);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	ck_assert_int_ge(fd, 0);
	for (;;) {
		size_t got = 12345;

		ck_assert_msg(ocdbt_image_read(img, i, off, buf, cap, &got,
					       fill, fc) == 0,
			      "%s", ck_err_msg());
		if (!got)
			break;
		ck_assert_int_eq(write(fd, buf, got), (ssize_t)got);
		off += got;
	}
	ck_assert_uint_eq(off, size);
	close(fd);
	free(buf);
	free(path);
}

/* Write every file of img under dir (which gets a d/). */
static void materialize(const struct ocdbt_image *img, const char *dir,
			struct fillctx *fc)
{
	char *d = ck_path_join(dir, "d");

	ck_assert_int_eq(kv_sink_mkdirs(d), 0);
	for (size_t i = 0; i < ocdbt_image_nfiles(img); i++)
		materialize_file(img, i, dir, fc);
	free(d);
}

static int open_db(const char *dir, struct kvstore **kv)
{
	const char *dirs[1] = {dir};

	return kvstore_open_ocdbt(dirs, 1, 0, kv);
}

/* The image index of the file a reader's path names. */
static size_t index_of(const struct ocdbt_image *img, const char *path)
{
	for (size_t i = 0; i < ocdbt_image_nfiles(img); i++) {
		const char *n = ocdbt_image_file_name(img, i);
		size_t pl = strlen(path), nl = strlen(n);

		if (pl > nl && !strcmp(path + pl - nl, n) &&
		    path[pl - nl - 1] == '/')
			return i;
	}
	ck_abort_msg("%s is no file of the image", path);
	return 0;
}

/* Every key reads back through the reader, placed as the model says. */
static void check_keys(const struct kvstore *kv, const struct ocdbt_image *img,
		       const struct model *m, int big)
{
	ck_assert_uint_eq(kvstore_count(kv), NKEYS);
	for (int i = 0; i < NKEYS; i++) {
		char key[300];
		struct kv_value v;
		uint64_t len;
		uint8_t *want = value_of(i, big, &len), *got;

		key_of(i, key, sizeof(key));
		ck_assert_msg(kvstore_get(kv, key, strlen(key), &v) == 0,
			      "key %s: %s", key, ck_err_msg());
		ck_assert_uint_eq(v.length, len);
		if (out_of_line(i)) {
			ck_assert_ptr_null(v.inline_data);
			ck_assert_uint_eq(index_of(img, v.file),
					  (size_t)m->file[i]);
			ck_assert_uint_eq(v.offset, m->offset[i]);
		} else if (len) {
			ck_assert_ptr_nonnull(v.inline_data);
		}
		got = malloc(len ? len : 1);
		ck_assert_msg(kvstore_read(kv, &v, 0, got, len) == 0, "%s",
			      ck_err_msg());
		if (len)
			ck_assert_mem_eq(got, want, len);
		free(got);
		free(want);
	}
}

static void read_manifest(const char *dir, struct ocdbt_manifest *m)
{
	char *p = ck_path_join(dir, "manifest.ocdbt");
	uint8_t *data;
	size_t n;

	data = ck_test_read_file(p, &n);
	memset(m, 0, sizeof(*m));
	ck_assert_msg(ocdbt_manifest_decode(data, n, m) == 0, "%s",
		      ck_err_msg());
	free(data);
	free(p);
}

static int is_hex_name(const char *s)
{
	if (strlen(s) != 34 || strncmp(s, "d/", 2))
		return 0;
	for (int k = 2; k < 34; k++)
		if (!strchr("0123456789abcdef", s[k]))
			return 0;
	return 1;
}

START_TEST(image_should_round_trip_every_key_through_the_ocdbt_reader)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct fillctx fc = {0, 0, 0, 0};
	struct ocdbt_manifest man;
	struct kvstore *kv = NULL;
	struct ocdbt_image *img;
	struct model m;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "db");
	size_t nf;

	o.max_leaf_entries = 4;
	o.max_interior_entries = 3;
	o.file_bytes = 60000;
	img = build(&o, 0, &m);
	nf = ocdbt_image_nfiles(img);
	ck_assert_int_ge(m.nfiles, 4);
	ck_assert_uint_eq(nf, (size_t)m.nfiles + 2);
	ck_assert_str_eq(ocdbt_image_file_name(img, 0), "manifest.ocdbt");
	for (size_t i = 1; i < nf; i++) {
		ck_assert_msg(is_hex_name(ocdbt_image_file_name(img, i)), "%s",
			      ocdbt_image_file_name(img, i));
		for (size_t j = 1; j < i; j++)
			ck_assert_str_ne(ocdbt_image_file_name(img, i),
					 ocdbt_image_file_name(img, j));
		if (i < nf - 1)
			ck_assert_uint_eq(ocdbt_image_file_size(img, i),
					  m.size[i]);
	}
	ck_assert_ptr_null(ocdbt_image_file_name(img, nf));
	ck_assert_uint_eq(ocdbt_image_file_size(img, nf), 0);

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	materialize(img, dir, &fc);
	ck_assert_uint_gt(fc.calls, 0);
	ck_assert_msg(open_db(dir, &kv) == 0, "%s", ck_err_msg());
	check_keys(kv, img, &m, 0);
	kvstore_free(kv);

	read_manifest(dir, &man);
	ck_assert_uint_eq(man.nversions, 1);
	ck_assert_uint_eq(man.versions[0].generation, 1);
	ck_assert_uint_ge(man.versions[0].root_height, 3);
	ck_assert_uint_eq(man.versions[0].num_keys, NKEYS);
	ck_assert_uint_eq(man.versions[0].num_indirect_value_bytes, m.indirect);
	ck_assert_uint_eq(man.versions[0].commit_time, COMMIT_NS);
	ck_assert_uint_eq(man.config.max_inline_value_bytes, 1024);
	ck_assert_uint_eq(man.files.n, 1);
	ck_assert_str_eq(man.files.files[0].path,
			 ocdbt_image_file_name(img, nf - 1));
	ck_assert_uint_eq(man.versions[0].num_tree_bytes,
			  ocdbt_image_file_size(img, nf - 1));
	ocdbt_manifest_release(&man);
	ocdbt_image_free(img);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

/* The bytes each data file of the model must hold, built from the model
 * alone (caller frees each). */
static uint8_t **expected_files(const struct model *m)
{
	uint8_t **f = calloc(MAX_FILES, sizeof(*f));

	for (int k = 1; k <= m->nfiles; k++)
		f[k] = malloc(m->size[k] + 1);
	for (int i = 0; i < NKEYS; i++)
		if (m->file[i])
			for (uint64_t j = 0; j < len_of(i, 0); j++)
				f[m->file[i]][m->offset[i] + j] =
					byte_of((uint64_t)i, j);
	return f;
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* Random reads of every data file agree with the expected bytes. */
struct reader {
	const struct ocdbt_image *img;
	const struct model *m;
	uint8_t *const *want;
	struct fillctx *fc;
	uint64_t seed;
	int bad;
};

static void *reader_run(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(70000);

	for (int t = 0; t < 400 && !r->bad; t++) {
		int k = 1 + (int)(rnd(&r->seed) % (uint64_t)r->m->nfiles);
		uint64_t size = r->m->size[k];
		uint64_t off = rnd(&r->seed) % (size + 10);
		size_t len = (size_t)(rnd(&r->seed) % 70000), got = 0;
		size_t want = off >= size	 ? 0
			      : size - off < len ? (size_t)(size - off)
						 : len;

		if (ocdbt_image_read(r->img, (size_t)k, off, buf, len, &got,
				     fill, r->fc) ||
		    got != want || (got && memcmp(buf, r->want[k] + off, got)))
			r->bad = 1;
	}
	free(buf);
	return NULL;
}

START_TEST(image_reads_should_span_values_stop_at_eof_and_run_in_threads)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct fillctx fc = {0, 0, 0, 0}, bad = {0, 0, 1, 0};
	struct reader r[4];
	pthread_t th[4];
	struct ocdbt_image *img;
	struct model m;
	uint8_t **want, *buf;
	uint64_t size, calls;
	size_t got = 0, nf;
	int first_virtual = -1, first_copied = -1;

	o.max_leaf_entries = 5;
	o.file_bytes = 50000;
	img = build(&o, 0, &m);
	nf = ocdbt_image_nfiles(img);
	want = expected_files(&m);
	buf = malloc(m.file_bytes * 2);
	/* each data file whole, in one read spanning all its values */
	for (int k = 1; k <= m.nfiles; k++) {
		size = ocdbt_image_file_size(img, (size_t)k);
		ck_assert_uint_eq(size, m.size[k]);
		ck_assert_int_eq(ocdbt_image_read(img, (size_t)k, 0, buf,
						  m.file_bytes * 2, &got, fill,
						  &fc),
				 0);
		ck_assert_uint_eq(got, size);
		ck_assert_mem_eq(buf, want[k], size);
		/* the tail: fewer bytes; at and past the end: none */
		ck_assert_int_eq(ocdbt_image_read(img, (size_t)k, size - 3, buf,
						  10, &got, fill, &fc),
				 0);
		ck_assert_uint_eq(got, 3);
		ck_assert_mem_eq(buf, want[k] + size - 3, 3);
		got = 99;
		ck_assert_int_eq(ocdbt_image_read(img, (size_t)k, size, buf, 10,
						  &got, fill, &fc),
				 0);
		ck_assert_uint_eq(got, 0);
		got = 99;
		ck_assert_int_eq(ocdbt_image_read(img, (size_t)k, UINT64_MAX,
						  buf, 10, &got, fill, &fc),
				 0);
		ck_assert_uint_eq(got, 0);
		got = 99;
		ck_assert_int_eq(ocdbt_image_read(img, (size_t)k, 1, buf, 0,
						  &got, fill, &fc),
				 0);
		ck_assert_uint_eq(got, 0);
	}
	/* a read across one value boundary asks fill only for what it
	 * covers: one call per virtual value */
	for (int i = 0; i < NKEYS; i++) {
		if (first_virtual < 0 && kind_of(i) == V_VIRTUAL &&
		    len_of(i, 0) > 1024)
			first_virtual = i;
		if (first_copied < 0 && kind_of(i) == V_COPIED)
			first_copied = i;
	}
	calls = fc.calls;
	ck_assert_int_eq(ocdbt_image_read(img, (size_t)m.file[first_virtual],
					  m.offset[first_virtual] + 1, buf, 3,
					  &got, fill, &fc),
			 0);
	ck_assert_uint_eq(fc.calls, calls + 1);
	ck_assert_uint_eq(got, 3);
	ck_assert_mem_eq(
		buf, want[m.file[first_virtual]] + m.offset[first_virtual] + 1,
		3);
	/* no fill: fine over copied bytes, -EINVAL over virtual ones */
	ck_assert_int_eq(ocdbt_image_read(img, (size_t)m.file[first_copied],
					  m.offset[first_copied], buf, 1000,
					  &got, NULL, NULL),
			 0);
	ck_assert_uint_eq(got, 1000);
	ck_assert_int_eq(ocdbt_image_read(img, (size_t)m.file[first_virtual],
					  m.offset[first_virtual], buf, 1, &got,
					  NULL, NULL),
			 -EINVAL);
	/* fill's error comes back, naming the file */
	ck_assert_int_eq(ocdbt_image_read(img, (size_t)m.file[first_virtual],
					  m.offset[first_virtual], buf, 1, &got,
					  fill, &bad),
			 -EIO);
	ck_assert_ptr_nonnull(strstr(
		ck_err_msg(),
		ocdbt_image_file_name(img, (size_t)m.file[first_virtual])));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "on purpose"));
	/* the manifest and the node file read in pieces like the rest */
	ck_assert_int_eq(ocdbt_image_read(img, 0, 0, buf, 4, &got, NULL, NULL),
			 0);
	ck_assert_uint_eq(got, 4);
	ck_assert_uint_eq(buf[0], 0x0C);
	ck_assert_uint_eq(buf[3], 0x2A);
	size = ocdbt_image_file_size(img, nf - 1);
	ck_assert_int_eq(ocdbt_image_read(img, nf - 1, size - 2, buf, 100, &got,
					  NULL, NULL),
			 0);
	ck_assert_uint_eq(got, 2);
	ck_assert_int_eq(ocdbt_image_read(img, nf, 0, buf, 1, &got, fill, &fc),
			 -EINVAL);
	/* four threads of random reads at once */
	for (int t = 0; t < 4; t++) {
		r[t].img = img;
		r[t].m = &m;
		r[t].want = want;
		r[t].fc = &fc;
		r[t].seed = 77 + (uint64_t)t;
		r[t].bad = 0;
		ck_assert_int_eq(
			pthread_create(&th[t], NULL, reader_run, &r[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		ck_assert_msg(!r[t].bad, "thread %d read wrong bytes", t);
	}
	for (int k = 0; k < MAX_FILES; k++)
		free(want[k]);
	free(want);
	free(buf);
	ocdbt_image_free(img);
}
END_TEST

/* ---- byte for byte against the writer ------------------------------------ */

/* Replace every occurrence of the n bytes a in b by the n bytes c. */
static int replace_all(struct ck_buf *b, const char *a, const char *c, size_t n)
{
	int hits = 0;

	for (size_t i = 0; i + n <= b->len; i++)
		if (!memcmp(b->data + i, a, n)) {
			memcpy(b->data + i, c, n);
			hits++;
		}
	return hits;
}

static void body_of(const uint8_t *p, size_t n, uint32_t magic,
		    struct ck_buf *body)
{
	body->len = 0;
	ck_assert_msg(ocdbt_envelope_decode(p, n, magic, 1 << 24, body) == 0,
		      "%s", ck_err_msg());
}

/* The whole of file i of img (caller frees). */
static uint8_t *image_file(const struct ocdbt_image *img, size_t i, size_t *n)
{
	size_t size = (size_t)ocdbt_image_file_size(img, i), got = 0;
	uint8_t *p = malloc(size + 1);
	struct fillctx fc = {1, 0, 0, 0};

	ck_assert_int_eq(ocdbt_image_read(img, i, 0, p, size, &got, fill, &fc),
			 0);
	ck_assert_uint_eq(got, size);
	*n = size;
	return p;
}

/* The d/ name of the writer's file that is not skip. */
static void other_file(const char *dir, const char *skip, char *out)
{
	char *d = ck_path_join(dir, "d");
	DIR *dd = opendir(d);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(dd);
	while ((e = readdir(dd)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, skip + 2)) {
			ck_assert_uint_eq(strlen(e->d_name), 32);
			snprintf(out, 40, "d/%s", e->d_name);
			n++;
		}
	closedir(dd);
	ck_assert_int_eq(n, 1);
	free(d);
}

/* Offsets and lengths of the objects of a node file, back to back. */
struct objs {
	uint64_t off[1024]; /* object k starts here */
	uint64_t len[1024]; /* and has this length */
	size_t n;	    /* objects */
};

static void objs_scan(const uint8_t *p, size_t n, struct objs *o)
{
	uint64_t pos = 0;

	o->n = 0;
	while (pos < n) {
		ck_assert_uint_le(pos + 12, n);
		ck_assert_uint_lt(o->n, 1024);
		o->off[o->n] = pos;
		o->len[o->n] = ck_load_u64le(p + pos + 4);
		ck_assert_uint_le(pos + o->len[o->n], n);
		pos += o->len[o->n++];
	}
}

static size_t objs_index(const struct objs *o, uint64_t off)
{
	for (size_t k = 0; k < o->n; k++)
		if (o->off[k] == off)
			return k;
	ck_abort_msg("no node at offset %llu", (unsigned long long)off);
	return 0;
}

/* Interior nodes a (the writer's) and b (the image's) say the same thing:
 * the same keys, prefixes and statistics, children at the same positions
 * of their node files; only the node file's name and the offsets differ. */
static void interior_compare(const uint8_t *wf, const struct objs *wo,
			     const uint8_t *imf, const struct objs *io,
			     size_t k, const char *wnode, const char *inode)
{
	struct ocdbt_btree_node a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(ocdbt_btree_node_decode(wf + wo->off[k], wo->len[k],
						 1 << 24, -1, &a),
			 0);
	ck_assert_int_eq(ocdbt_btree_node_decode(imf + io->off[k], io->len[k],
						 1 << 24, -1, &b),
			 0);
	ck_assert_uint_eq(a.height, b.height);
	ck_assert_uint_eq(a.n, b.n);
	ck_assert_uint_eq(a.files.n, 1);
	ck_assert_uint_eq(b.files.n, 1);
	ck_assert_str_eq(a.files.files[0].path, wnode);
	ck_assert_str_eq(b.files.files[0].path, inode);
	for (size_t j = 0; j < a.n; j++) {
		const struct ocdbt_child *x = &a.children[j],
					 *y = &b.children[j];

		ck_assert_uint_eq(x->key_len, y->key_len);
		ck_assert_mem_eq(a.keys + x->key_off, b.keys + y->key_off,
				 x->key_len);
		ck_assert_uint_eq(x->subtree_prefix_len, y->subtree_prefix_len);
		ck_assert_uint_eq(x->num_keys, y->num_keys);
		ck_assert_uint_eq(x->num_indirect_value_bytes,
				  y->num_indirect_value_bytes);
		ck_assert_uint_eq(objs_index(wo, x->offset),
				  objs_index(io, y->offset));
		ck_assert_uint_eq(x->length,
				  wo->len[objs_index(wo, x->offset)]);
		ck_assert_uint_eq(y->length,
				  io->len[objs_index(io, y->offset)]);
	}
	ocdbt_btree_node_release(&a);
	ocdbt_btree_node_release(&b);
}

/* The manifests agree but for uuid, node file name and root position. */
static void manifest_compare(const char *dir, const struct ocdbt_image *img,
			     const struct objs *wo, const struct objs *io)
{
	struct ocdbt_manifest a, b;
	uint8_t *p;
	size_t n;
	const struct ocdbt_version *x, *y;

	read_manifest(dir, &a);
	p = image_file(img, 0, &n);
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(ocdbt_manifest_decode(p, n, &b), 0);
	free(p);
	ck_assert_mem_ne(a.config.uuid, b.config.uuid, 16);
	memcpy(a.config.uuid, b.config.uuid, 16);
	ck_assert_mem_eq(&a.config, &b.config, sizeof(a.config));
	ck_assert_uint_eq(a.nversions, 1);
	ck_assert_uint_eq(b.nversions, 1);
	ck_assert_uint_eq(b.nnodes, 0);
	ck_assert_str_eq(
		b.files.files[0].path,
		ocdbt_image_file_name(img, ocdbt_image_nfiles(img) - 1));
	x = &a.versions[0];
	y = &b.versions[0];
	ck_assert_uint_eq(x->root_height, y->root_height);
	ck_assert_uint_eq(x->num_keys, y->num_keys);
	ck_assert_uint_eq(x->num_indirect_value_bytes,
			  y->num_indirect_value_bytes);
	ck_assert_uint_eq(objs_index(wo, x->offset), wo->n - 1);
	ck_assert_uint_eq(objs_index(io, y->offset), io->n - 1);
	ck_assert_uint_eq(x->length, wo->len[wo->n - 1]);
	ck_assert_uint_eq(y->length, io->len[io->n - 1]);
	ck_assert_uint_eq(x->num_tree_bytes,
			  wo->off[wo->n - 1] + wo->len[wo->n - 1]);
	ck_assert_uint_eq(y->num_tree_bytes,
			  io->off[io->n - 1] + io->len[io->n - 1]);
	ocdbt_manifest_release(&a);
	ocdbt_manifest_release(&b);
}

/* Put the NKEYS keys, in the same order, into a writer at dir and into a
 * new image; commit both. */
static struct ocdbt_image *write_both(const struct ocdbt_writer_opts *o,
				      const char *dir, int inline_only)
{
	struct ocdbt_writer *w = NULL;
	struct ocdbt_image *img = NULL;

	ck_assert_int_eq(ocdbt_writer_open(dir, o, &w), 0);
	ck_assert_int_eq(ocdbt_image_new(o, &img), 0);
	for (int k = 0; k < NKEYS; k++) {
		int i = (k * 211) % NKEYS;
		char key[300];
		uint64_t len;
		uint8_t *v;

		if (inline_only && out_of_line(i))
			continue;
		v = value_of(i, 1, &len);
		key_of(i, key, sizeof(key));
		ck_assert_int_eq(
			ocdbt_writer_put(w, key, strlen(key), v, (size_t)len),
			0);
		free(v);
		image_put(img, i, 1, NULL);
	}
	ck_assert_msg(ocdbt_writer_commit(w) == 0, "%s", ck_err_msg());
	ocdbt_writer_free(w);
	ck_assert_int_eq(ocdbt_image_commit(img), 0);
	return img;
}

/* Leaves: the same bodies once the data file names are swapped, the same
 * bytes when they name no file.  Interior nodes: the same content.  The
 * manifest: the same but for uuid, node file name and the root's place. */
START_TEST(image_nodes_and_manifest_should_match_the_writers)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ck_buf wb = CK_BUF_INIT, ib = CK_BUF_INIT;
	struct ocdbt_image *img;
	struct ocdbt_manifest man;
	static struct objs wo, io;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "db");
	char wnode[40], wval[40], *p;
	const char *inode, *ival;
	uint8_t *wf, *imf;
	size_t wn, in, leaves = 0;

	o.max_leaf_entries = 4;
	o.max_interior_entries = 3;
	img = write_both(&o, dir, 0);
	ck_assert_uint_eq(ocdbt_image_nfiles(img), 3);
	ival = ocdbt_image_file_name(img, 1);
	inode = ocdbt_image_file_name(img, 2);
	/* the writer's node file is the root's; the other one holds values */
	read_manifest(dir, &man);
	memcpy(wnode, man.files.files[man.versions[0].file_id].path, 35);
	other_file(dir, wnode, wval);
	ocdbt_manifest_release(&man);
	p = ck_path_join(dir, wval);
	wf = ck_test_read_file(p, &wn);
	free(p);
	imf = image_file(img, 1, &in);
	ck_assert_uint_eq(wn, in);
	ck_assert_mem_eq(wf, imf, wn);
	free(wf);
	free(imf);

	p = ck_path_join(dir, wnode);
	wf = ck_test_read_file(p, &wn);
	free(p);
	imf = image_file(img, 2, &in);
	objs_scan(wf, wn, &wo);
	objs_scan(imf, in, &io);
	ck_assert_uint_eq(wo.n, io.n);
	ck_assert_uint_gt(wo.n, 100);
	for (size_t k = 0; k < wo.n; k++) {
		int hits;

		body_of(wf + wo.off[k], wo.len[k], OCDBT_MAGIC_BTREE, &wb);
		body_of(imf + io.off[k], io.len[k], OCDBT_MAGIC_BTREE, &ib);
		ck_assert_uint_eq(wb.data[0], ib.data[0]);
		if (wb.data[0]) {
			interior_compare(wf, &wo, imf, &io, k, wnode, inode);
			continue;
		}
		leaves++;
		hits = replace_all(&wb, wval, ival, 34);
		ck_assert_uint_eq(wb.len, ib.len);
		ck_assert_msg(!memcmp(wb.data, ib.data, ib.len),
			      "leaf %zu differs", k);
		if (!hits) {
			ck_assert_uint_eq(wo.len[k], io.len[k]);
			ck_assert_mem_eq(wf + wo.off[k], imf + io.off[k],
					 wo.len[k]);
		}
	}
	ck_assert_uint_eq(leaves, NKEYS / 4);
	manifest_compare(dir, img, &wo, &io);
	free(wf);
	free(imf);
	ck_buf_release(&wb);
	ck_buf_release(&ib);
	ocdbt_image_free(img);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

/* The writer's manifest at dir and the image's have the same body once
 * the uuid, the commit time and (node NULL: none) the node file name of
 * the image replace the writer's. */
static void manifest_same(const char *dir, const struct ocdbt_image *img,
			  const char *wnode, const char *inode)
{
	struct ck_buf wb = CK_BUF_INIT, ib = CK_BUF_INIT;
	char *p = ck_path_join(dir, "manifest.ocdbt");
	uint8_t *wf, *imf;
	size_t wn, in;

	wf = ck_test_read_file(p, &wn);
	free(p);
	imf = image_file(img, 0, &in);
	body_of(wf, wn, OCDBT_MAGIC_MANIFEST, &wb);
	body_of(imf, in, OCDBT_MAGIC_MANIFEST, &ib);
	ck_assert_uint_eq(wb.len, ib.len);
	memcpy(wb.data, ib.data, 16);
	memcpy(wb.data + wb.len - 9, ib.data + ib.len - 9, 8);
	if (wnode)
		ck_assert_int_eq(replace_all(&wb, wnode, inode, 34), 1);
	ck_assert_mem_eq(wb.data, ib.data, ib.len);
	free(wf);
	free(imf);
	ck_buf_release(&wb);
	ck_buf_release(&ib);
}

START_TEST(small_and_empty_images_should_be_the_writers_databases)
{
	struct ocdbt_writer *w = NULL;
	struct ocdbt_image *img = NULL;
	struct kvstore *kv = NULL;
	struct ocdbt_manifest man;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "img");
	char *wdir = ck_path_join(tmp, "w"), *one = ck_path_join(tmp, "one");
	char wnode[40], *p;
	uint8_t *wf, *imf;
	size_t wn, in;

	/* no keys: a manifest alone */
	ck_assert_int_eq(ocdbt_image_new(NULL, &img), 0);
	ck_assert_int_eq(ocdbt_image_commit(img), 0);
	ck_assert_uint_eq(ocdbt_image_nfiles(img), 1);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	materialize(img, dir, NULL);
	ck_assert_msg(open_db(dir, &kv) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(kvstore_count(kv), 0);
	kvstore_free(kv);
	ck_assert_int_eq(ocdbt_writer_open(wdir, NULL, &w), 0);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	manifest_same(wdir, img, NULL, NULL);
	ocdbt_image_free(img);

	/* inline values only, one root leaf: the same node bytes, the same
	 * manifest but for uuid, time and the node file's name */
	img = write_both(NULL, one, 1);
	ck_assert_uint_eq(ocdbt_image_nfiles(img), 2);
	read_manifest(one, &man);
	ck_assert_uint_eq(man.versions[0].root_height, 0);
	memcpy(wnode, man.files.files[man.versions[0].file_id].path, 35);
	ocdbt_manifest_release(&man);
	p = ck_path_join(one, wnode);
	wf = ck_test_read_file(p, &wn);
	free(p);
	imf = image_file(img, 1, &in);
	ck_assert_uint_eq(wn, in);
	ck_assert_mem_eq(wf, imf, wn);
	free(wf);
	free(imf);
	manifest_same(one, img, wnode, ocdbt_image_file_name(img, 1));
	ocdbt_image_free(img);
	ck_test_rmtree(tmp);
	free(dir);
	free(wdir);
	free(one);
	free(tmp);
}
END_TEST

START_TEST(image_should_refuse_bad_options_keys_duplicates_and_late_calls)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_image *img = NULL;
	static char big[70000];
	size_t got = 0;
	uint8_t b[4];

	o.max_leaf_entries = 1;
	ck_assert_int_eq(ocdbt_image_new(&o, &img), -EINVAL);
	o.max_leaf_entries = 0;
	o.max_interior_entries = 1;
	ck_assert_int_eq(ocdbt_image_new(&o, &img), -EINVAL);
	o.max_interior_entries = 0;
	o.data_base = "ocdbt.process_0/";
	ck_assert_int_eq(ocdbt_image_new(&o, &img), -EINVAL);
	o.data_base = "";
	o.data_base_db = 1;
	ck_assert_int_eq(ocdbt_image_new(&o, &img), -EINVAL);
	o.data_base_db = 0;
	o.processes = 2;
	ck_assert_int_eq(ocdbt_image_new(&o, &img), -EINVAL);
	ck_assert_ptr_null(img);

	ck_assert_int_eq(ocdbt_image_new(NULL, &img), 0);
	ck_assert_int_eq(ocdbt_image_put(img, big, 65536, "x", 1), -EINVAL);
	ck_assert_int_eq(ocdbt_image_put_virtual(img, big, 65536, 5, 1),
			 -EINVAL);
	ck_assert_int_eq(ocdbt_image_put(img, big, 65535, "x", 1), 0);
	/* a value past the file cap, or past 2^64 in all, changes nothing */
	ck_assert_int_eq(ocdbt_image_put_virtual(img, "h", 1, UINT64_MAX, 1),
			 -EOVERFLOW);
	ck_assert_int_eq(ocdbt_image_put_virtual(img, "h", 1,
						 (uint64_t)INT64_MAX + 1, 1),
			 -EOVERFLOW);
	ck_assert_int_eq(ocdbt_image_put(img, "a", 1, "1", 1), 0);
	ck_assert_int_eq(ocdbt_image_put_virtual(img, "b", 1, 2000, 7), 0);
	ck_assert_uint_eq(ocdbt_image_nfiles(img), 0);
	ck_assert_ptr_null(ocdbt_image_file_name(img, 0));
	ck_assert_int_eq(ocdbt_image_read(img, 0, 0, b, 4, &got, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(ocdbt_image_commit(img), 0);
	ck_assert_uint_eq(ocdbt_image_nfiles(img), 3);
	ck_assert_uint_eq(ocdbt_image_file_size(img, 1), 2000);
	ck_assert_int_eq(ocdbt_image_commit(img), -EINVAL);
	ck_assert_int_eq(ocdbt_image_put(img, "c", 1, "3", 1), -EINVAL);
	ck_assert_int_eq(ocdbt_image_put_virtual(img, "d", 1, 3, 1), -EINVAL);
	ocdbt_image_free(img);

	/* a duplicate key, copied or virtual, fails the commit */
	ck_assert_int_eq(ocdbt_image_new(NULL, &img), 0);
	ck_assert_int_eq(ocdbt_image_put(img, "a", 1, "1", 1), 0);
	ck_assert_int_eq(ocdbt_image_put(img, "b", 1, "1", 1), 0);
	ck_assert_int_eq(ocdbt_image_put_virtual(img, "a", 1, 5000, 1), 0);
	ck_assert_int_eq(ocdbt_image_commit(img), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "duplicate key 'a'"));
	ck_assert_uint_eq(ocdbt_image_nfiles(img), 0);
	ck_assert_int_eq(ocdbt_image_commit(img), -EINVAL);
	ocdbt_image_free(img);
	ocdbt_image_free(NULL);
}
END_TEST

/* The names and bytes of every file of two images are equal. */
static void check_same(const struct ocdbt_image *a, const struct ocdbt_image *b)
{
	ck_assert_uint_eq(ocdbt_image_nfiles(a), ocdbt_image_nfiles(b));
	for (size_t i = 0; i < ocdbt_image_nfiles(a); i++) {
		size_t na, nb;
		uint8_t *pa, *pb;

		ck_assert_str_eq(ocdbt_image_file_name(a, i),
				 ocdbt_image_file_name(b, i));
		pa = image_file(a, i, &na);
		pb = image_file(b, i, &nb);
		ck_assert_uint_eq(na, nb);
		ck_assert_mem_eq(pa, pb, na);
		free(pa);
		free(pb);
	}
}

START_TEST(image_names_should_follow_from_what_was_put)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_image *a, *b, *c = NULL;

	o.file_bytes = 40000;
	o.max_leaf_entries = 16;
	a = build(&o, 1, NULL);
	b = build(&o, 1, NULL);
	check_same(a, b);
	/* one tag changed: the same layout, other names */
	ck_assert_int_eq(ocdbt_image_new(&o, &c), 0);
	for (int k = 0; k < NKEYS; k++) {
		int i = (k * 211) % NKEYS;
		char key[300];

		if (i != 2) {
			image_put(c, i, 1, NULL);
			continue;
		}
		key_of(i, key, sizeof(key));
		ck_assert_int_eq(ocdbt_image_put_virtual(c, key, strlen(key),
							 len_of(i, 1),
							 TAG_BASE + i + 1),
				 0);
	}
	ocdbt_image_set_commit_time(c, COMMIT_NS);
	ck_assert_int_eq(ocdbt_image_commit(c), 0);
	ck_assert_uint_eq(ocdbt_image_nfiles(c), ocdbt_image_nfiles(a));
	for (size_t i = 1; i < ocdbt_image_nfiles(a); i++) {
		ck_assert_str_ne(ocdbt_image_file_name(a, i),
				 ocdbt_image_file_name(c, i));
		if (i + 1 < ocdbt_image_nfiles(a)) /* data files */
			ck_assert_uint_eq(ocdbt_image_file_size(a, i),
					  ocdbt_image_file_size(c, i));
	}
	ocdbt_image_free(a);
	ocdbt_image_free(b);
	ocdbt_image_free(c);
}
END_TEST

/* Values of 64 GiB each: nothing is materialized; the reader, given the
 * image's nodes and sparse data files, finds them where the image says. */
START_TEST(image_should_place_huge_virtual_values_without_holding_them)
{
	const uint64_t huge = (uint64_t)1 << 36;
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct fillctx fc = {0, 0, 0, huge};
	struct ocdbt_image *img = NULL;
	struct kvstore *kv = NULL;
	char *tmp = ck_test_tmpdir(), *p;
	uint8_t buf[10];
	size_t got = 0, nf;

	o.file_bytes = (uint64_t)1 << 40;
	ck_assert_int_eq(ocdbt_image_new(&o, &img), 0);
	for (int i = 0; i < 3; i++) {
		char key[32];

		snprintf(key, sizeof(key), "big/c/%d", i);
		ck_assert_int_eq(ocdbt_image_put_virtual(img, key, strlen(key),
							 huge, TAG_BASE + i),
				 0);
	}
	ck_assert_int_eq(ocdbt_image_put(img, "big/zarr.json", 13, "{}", 2), 0);
	ck_assert_int_eq(ocdbt_image_commit(img), 0);
	nf = ocdbt_image_nfiles(img);
	ck_assert_uint_eq(nf, 3);
	ck_assert_uint_eq(ocdbt_image_file_size(img, 1), 3 * huge);
	/* a read across the first boundary: two fills, in order */
	ck_assert_int_eq(
		ocdbt_image_read(img, 1, huge - 5, buf, 10, &got, fill, &fc),
		0);
	ck_assert_uint_eq(got, 10);
	ck_assert_uint_eq(fc.calls, 2);
	for (int j = 0; j < 5; j++) {
		ck_assert_uint_eq(buf[j], byte_of(0, huge - 5 + (uint64_t)j));
		ck_assert_uint_eq(buf[5 + j], byte_of(1, (uint64_t)j));
	}
	ck_assert_int_eq(ocdbt_image_read(img, 1, 3 * huge - 4, buf, 10, &got,
					  fill, &fc),
			 0);
	ck_assert_uint_eq(got, 4);

	/* the reader: the manifest and nodes for real, the data file sparse */
	{
		char *d = ck_path_join(tmp, "d");
		int fd;

		ck_assert_int_eq(kv_sink_mkdirs(d), 0);
		free(d);
		materialize_file(img, 0, tmp, NULL);
		materialize_file(img, 2, tmp, NULL);
		p = ck_path_join(tmp, ocdbt_image_file_name(img, 1));
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(ftruncate(fd, (off_t)(3 * huge)), 0);
		close(fd);
		free(p);
	}
	ck_assert_msg(open_db(tmp, &kv) == 0, "%s", ck_err_msg());
	for (int i = 0; i < 3; i++) {
		char key[32];
		struct kv_value v;

		snprintf(key, sizeof(key), "big/c/%d", i);
		ck_assert_int_eq(kvstore_get(kv, key, strlen(key), &v), 0);
		ck_assert_uint_eq(v.length, huge);
		ck_assert_uint_eq(v.offset, (uint64_t)i * huge);
		ck_assert_uint_eq(index_of(img, v.file), 1);
	}
	kvstore_free(kv);
	ocdbt_image_free(img);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ocdbt_image");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, image_should_round_trip_every_key_through_the_ocdbt_reader);
	tcase_add_test(tc, image_reads_should_span_values_stop_at_eof_and_run_in_threads);
	tcase_add_test(tc, image_nodes_and_manifest_should_match_the_writers);
	tcase_add_test(tc, small_and_empty_images_should_be_the_writers_databases);
	tcase_add_test(tc, image_should_refuse_bad_options_keys_duplicates_and_late_calls);
	tcase_add_test(tc, image_names_should_follow_from_what_was_put);
	tcase_add_test(tc, image_should_place_huge_virtual_values_without_holding_them);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
