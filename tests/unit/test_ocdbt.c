/* SPDX-License-Identifier: MIT */
/* Unit tests for the OCDBT kvstore backend, against the real fixtures. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ck_test.h"
#include "codec/codec.h"
#include "kvstore/kvstore.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_manifest.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"

#define NG "neuroglancer-ocdbt/kvstore-ocdbt/"
#define MIN_ARITY NG "files_min_arity.ocdbt"
#define MIN_ARITY_DATA "d/f6d9da936d3f6f58b667ca9d54a38667"
#define V0                                                                     \
	"orbax-compat/v0_checkpoints/direct_checkpoint/"                       \
	"checkpoint_metadata_present/"                                         \
	"pytree_checkpointable_has_metadata"
#define V1                                                                     \
	"orbax-compat/v1_checkpoints/composite_checkpoint/"                    \
	"checkpoint_metadata_present/"                                         \
	"pytree_checkpointable_has_metadata/state"
#define CRIT                                                                   \
	"orbax-compat/v0_checkpoints/direct_checkpoint/"                       \
	"critical_metadata_alterations/"

/* Open one fixture database (relative to the fixture root). */
static int open_rel(const char *rel, uint64_t gen, struct kvstore **kv)
{
	char *dir = ck_test_fixture(rel);
	const char *dirs[1] = {dir};
	int err = kvstore_open_ocdbt(dirs, 1, gen, kv);

	free(dir);
	return err;
}

static int open_abs(const char *dir, uint64_t gen, struct kvstore **kv)
{
	const char *dirs[1] = {dir};

	return kvstore_open_ocdbt(dirs, 1, gen, kv);
}

/* The value of key as a new NUL-terminated buffer (caller frees). */
static char *value_of(const struct kvstore *kv, const char *key, size_t *len)
{
	struct kv_value v;
	char *buf;

	ck_assert_msg(kvstore_get(kv, key, strlen(key), &v) == 0, "key %s: %s",
		      key, ck_err_msg());
	buf = malloc((size_t)v.length + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(kvstore_read(kv, &v, 0, buf, (size_t)v.length) == 0,
		      "read %s: %s", key, ck_err_msg());
	buf[v.length] = '\0';
	if (len)
		*len = (size_t)v.length;
	return buf;
}

struct keylist {
	char keys[16][64]; /* first keys listed */
	int n;		   /* keys listed */
};

static int list_cb(void *ctx, const char *key, size_t keylen,
		   const struct kv_value *v)
{
	struct keylist *l = ctx;

	(void)v;
	if (l->n < 16 && keylen < 64) {
		memcpy(l->keys[l->n], key, keylen);
		l->keys[l->n][keylen] = '\0';
	}
	l->n++;
	return 0;
}

static void check_files_db(const char *rel)
{
	static const char *const keys[] = {"#",	    "a",     "b", "baz/first",
					   "baz/x", "baz/z", "c", "empty"};
	struct kvstore *kv = NULL;
	struct keylist l = {.n = 0};

	ck_assert_msg(open_rel(rel, 0, &kv) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(kvstore_kind(kv), KVSTORE_OCDBT);
	ck_assert_uint_eq(kvstore_count(kv), 8);
	ck_assert_int_eq(kvstore_list(kv, "", 0, list_cb, &l), 0);
	ck_assert_int_eq(l.n, 8);
	for (int i = 0; i < 8; i++) {
		char frel[128], *fpath, *got;
		uint8_t *want;
		size_t wn, gn;

		ck_assert_str_eq(l.keys[i], keys[i]);
		snprintf(frel, sizeof(frel), "neuroglancer-ocdbt/files/%s",
			 keys[i]);
		fpath = ck_test_fixture(frel);
		want = ck_test_read_file(fpath, &wn);
		got = value_of(kv, keys[i], &gn);
		ck_assert_uint_eq(gn, wn);
		if (wn)
			ck_assert_mem_eq(got, want, wn);
		free(got);
		free(want);
		free(fpath);
	}
	l.n = 0;
	ck_assert_int_eq(kvstore_list(kv, "baz/", 4, list_cb, &l), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.keys[0], "baz/first");
	kvstore_free(kv);
}

START_TEST(files_high_arity_should_hold_the_eight_files)
{
	check_files_db(NG "files_high_arity.ocdbt");
}
END_TEST

START_TEST(files_min_arity_should_walk_interior_nodes_and_indirect_values)
{
	struct kvstore *kv = NULL;
	struct kv_value v;
	char *data;

	check_files_db(MIN_ARITY);
	ck_assert_int_eq(open_rel(MIN_ARITY, 0, &kv), 0);
	/* "abc" is out of line at offset 0 or 3 of the data file */
	ck_assert_int_eq(kvstore_get(kv, "a", 1, &v), 0);
	ck_assert_ptr_null(v.inline_data);
	ck_assert_uint_eq(v.length, 3);
	ck_assert_ptr_nonnull(strstr(v.file, MIN_ARITY_DATA));
	ck_assert_int_eq(kvstore_get(kv, "c", 1, &v), 0);
	ck_assert_ptr_null(v.inline_data);
	ck_assert_uint_eq(v.offset, 6);
	data = value_of(kv, "c", NULL);
	ck_assert_str_eq(data, "bar");
	free(data);
	kvstore_free(kv);
}
END_TEST

static void check_multi_version(const char *rel)
{
	static const uint64_t gens[] = {1, 37, 192, 193, 199};
	struct kvstore *kv = NULL;
	struct kv_value v;
	char *val;

	ck_assert_msg(open_rel(rel, 0, &kv) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(kvstore_count(kv), 200);
	ck_assert_uint_eq(kvstore_generation(kv), 200);
	val = value_of(kv, "key1", NULL);
	ck_assert_str_eq(val, "version 1");
	free(val);
	val = value_of(kv, "key150", NULL);
	ck_assert_str_eq(val, "version 150");
	free(val);
	val = value_of(kv, "key200", NULL);
	ck_assert_str_eq(val, "version 200");
	free(val);
	kvstore_free(kv);

	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
		char key[32], want[32];

		ck_assert_msg(open_rel(rel, gens[i], &kv) == 0, "gen %llu: %s",
			      (unsigned long long)gens[i], ck_err_msg());
		ck_assert_uint_eq(kvstore_generation(kv), gens[i]);
		ck_assert_uint_eq(kvstore_count(kv), gens[i]);
		snprintf(key, sizeof(key), "key%llu",
			 (unsigned long long)gens[i]);
		snprintf(want, sizeof(want), "version %llu",
			 (unsigned long long)gens[i]);
		val = value_of(kv, key, NULL);
		ck_assert_str_eq(val, want);
		free(val);
		snprintf(key, sizeof(key), "key%llu",
			 (unsigned long long)gens[i] + 1);
		ck_assert_int_eq(kvstore_get(kv, key, strlen(key), &v),
				 -ENOENT);
		kvstore_free(kv);
	}
	ck_assert_int_eq(open_rel(rel, 201, &kv), -ENOENT);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "generation 201"));
}

START_TEST(multi_version_high_arity_should_reach_every_generation)
{
	check_multi_version(NG "multi_version_high_arity.ocdbt");
}
END_TEST

START_TEST(multi_version_low_arity_should_reach_every_generation)
{
	struct kvstore *kv = NULL;
	struct keylist l = {.n = 0};

	check_multi_version(NG "multi_version_low_arity.ocdbt");
	ck_assert_int_eq(open_rel(NG "multi_version_low_arity.ocdbt", 37, &kv),
			 0);
	ck_assert_uint_eq(kvstore_count(kv), 37);
	ck_assert_int_eq(kvstore_list(kv, "key3", 4, list_cb, &l), 0);
	/* key3, key30..key37 */
	ck_assert_int_eq(l.n, 9);
	kvstore_free(kv);
}
END_TEST

static void check_orbax_keys(const struct kvstore *kv, int v1)
{
	static const char *const k0[] = {"a/.zarray", "a/0", "b.c/.zarray",
					 "b.c/0"};
	static const char *const k1[] = {"a/c/0", "a/zarr.json", "b.c/c/0",
					 "b.c/zarr.json"};
	const char *const *k = v1 ? k1 : k0;
	struct keylist l = {.n = 0};

	ck_assert_uint_eq(kvstore_count(kv), 4);
	ck_assert_int_eq(kvstore_list(kv, "", 0, list_cb, &l), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(l.keys[i], k[i]);
}

START_TEST(orbax_v0_and_v1_top_level_dbs_should_hold_the_four_keys)
{
	struct kvstore *kv = NULL;
	struct kv_value v;
	uint8_t *val;
	size_t n;

	ck_assert_msg(open_rel(V0, 0, &kv) == 0, "%s", ck_err_msg());
	check_orbax_keys(kv, 0);
	ck_assert_int_eq(kvstore_get(kv, "a/0", 3, &v), 0);
	ck_assert_uint_eq(v.length, 41);
	ck_assert_ptr_nonnull(v.inline_data);
	kvstore_free(kv);

	ck_assert_msg(open_rel(V1, 0, &kv) == 0, "%s", ck_err_msg());
	check_orbax_keys(kv, 1);
	val = (uint8_t *)value_of(kv, "a/c/0", &n);
	ck_assert_uint_eq(n, 61);
	ck_assert_uint_eq(ck_load_u64le(val + 41), 0);
	ck_assert_uint_eq(ck_load_u64le(val + 49), 41);
	ck_assert_uint_eq(ck_load_u32le(val + 57), crc32c(0, val + 41, 16));
	ck_assert_uint_eq(val[0], 0x28); /* zstd frame magic */
	ck_assert_uint_eq(val[3], 0xfd);
	free(val);
	kvstore_free(kv);
}
END_TEST

START_TEST(orbax_process_db_alone_should_match_and_merge_should_fail)
{
	char *top = ck_test_fixture(V1),
	     *proc = ck_test_fixture(V1 "/ocdbt.process_0");
	const char *both[2] = {top, proc};
	struct kvstore *kv = NULL;

	ck_assert_msg(open_abs(proc, 0, &kv) == 0, "%s", ck_err_msg());
	check_orbax_keys(kv, 1);
	kvstore_free(kv);
	kv = NULL;
	ck_assert_int_eq(kvstore_open_ocdbt(both, 2, 0, &kv), -EIO);
	ck_assert_ptr_null(kv);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "duplicate key"));
	free(top);
	free(proc);
}
END_TEST

START_TEST(ome_zarr_chunk_should_be_200_bytes_of_uint16_ramp)
{
	struct kvstore *kv = NULL;
	uint8_t *val;
	size_t n;

	ck_assert_msg(open_rel("neuroglancer-ocdbt/ome_zarr/simple_0.5.ocdbt",
			       0, &kv) == 0,
		      "%s", ck_err_msg());
	val = (uint8_t *)value_of(kv, "scale0/image/c/0/0", &n);
	ck_assert_uint_eq(n, 200);
	for (unsigned i = 0; i < 100; i++)
		ck_assert_uint_eq(val[2 * i] | val[2 * i + 1] << 8, i);
	free(val);
	kvstore_free(kv);
}
END_TEST

/* A private copy of a fixture directory; *tmp receives the temp root. */
static char *private_copy(const char *rel, char **tmp)
{
	char *src = ck_test_fixture(rel);
	char *dst;

	*tmp = ck_test_tmpdir();
	dst = ck_path_join(*tmp, "db");
	ck_test_copy_tree(src, dst);
	free(src);
	return dst;
}

static void expect_corrupt(const char *dir, int want, const char *msg_part)
{
	struct kvstore *kv = NULL;
	int err = open_abs(dir, 0, &kv);

	ck_assert_msg(err == want, "got %d (%s), want %d", err, ck_err_msg(),
		      want);
	ck_assert_ptr_null(kv);
	ck_assert_msg(strstr(ck_err_msg(), msg_part), "message '%s' lacks '%s'",
		      ck_err_msg(), msg_part);
}

START_TEST(corrupt_manifest_should_be_eio_with_reason)
{
	char *tmp, *db = private_copy(MIN_ARITY, &tmp);
	char *m = ck_path_join(db, "manifest.ocdbt");

	ck_test_flip_byte(m, 40, 0x01);
	expect_corrupt(db, -EIO, "CRC-32C");
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "manifest.ocdbt"));
	ck_test_flip_byte(m, 40, 0x01);
	ck_test_flip_byte(m, 0, 0x80);
	expect_corrupt(db, -EIO, "magic");
	ck_test_flip_byte(m, 0, 0x80);
	ck_test_truncate(m, 60);
	expect_corrupt(db, -EIO, "length");
	ck_test_truncate(m, 3);
	expect_corrupt(db, -EIO, "manifest.ocdbt");
	ck_test_rmtree(tmp);
	free(m);
	free(db);
	free(tmp);
}
END_TEST

START_TEST(corrupt_btree_node_should_be_eio_naming_the_data_file)
{
	char *tmp, *db = private_copy(MIN_ARITY, &tmp);
	char *d = ck_path_join(db, MIN_ARITY_DATA);

	/* The manifest's root node: offset 924, 93 bytes (last in the file). */
	ck_test_flip_byte(d, 924 + 30, 0x04);
	expect_corrupt(db, -EIO, "CRC-32C");
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), MIN_ARITY_DATA
				     ": btree node at offset 924"));
	ck_test_flip_byte(d, 924 + 30, 0x04);
	ck_test_truncate(d, 1000);
	expect_corrupt(db, -EIO, MIN_ARITY_DATA);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "past the end"));
	ck_test_rmtree(tmp);
	free(d);
	free(db);
	free(tmp);
}
END_TEST

START_TEST(critical_fixtures_should_fail_cleanly)
{
	struct kvstore *kv = NULL;

	ck_assert_int_eq(open_rel(CRIT "missing_pytree_data_dir_d", 0, &kv),
			 -EIO);
	ck_assert_ptr_nonnull(
		strstr(ck_err_msg(), "missing_pytree_data_dir_d/d/"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "No such file"));
	ck_assert_int_eq(open_rel(CRIT
				  "missing_pytree_data_file_manifest.ocdbt",
				  0, &kv),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "manifest.ocdbt"));
	/* its per-process database is intact */
	ck_assert_int_eq(open_rel(CRIT
				  "missing_pytree_data_file_manifest.ocdbt/"
				  "ocdbt.process_0",
				  0, &kv),
			 0);
	check_orbax_keys(kv, 0);
	kvstore_free(kv);
}
END_TEST

/* --- tiny encoder for crafted databases --- */

static void put_varint(struct ck_buf *b, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		ck_assert_int_eq(ck_buf_append(b, &c, 1), 0);
	} while (v);
}

static void put_u8(struct ck_buf *b, uint8_t v)
{
	ck_assert_int_eq(ck_buf_append(b, &v, 1), 0);
}

/* A one-entry data file table holding path (base length 0). */
static void put_table(struct ck_buf *b, const char *path)
{
	put_varint(b, 1);
	put_varint(b, strlen(path));
	put_varint(b, 0);
	ck_assert_int_eq(ck_buf_append(b, path, strlen(path)), 0);
}

/* Write body wrapped in an uncompressed envelope to path. */
static void write_object(const char *path, uint32_t magic,
			 const struct ck_buf *body)
{
	size_t n = 12 + 2 + body->len + 4;
	uint8_t *p = malloc(n);

	ck_assert_ptr_nonnull(p);
	p[0] = (uint8_t)(magic >> 24);
	p[1] = (uint8_t)(magic >> 16);
	p[2] = (uint8_t)(magic >> 8);
	p[3] = (uint8_t)magic;
	ck_store_u64le(p + 4, n);
	p[12] = 0;
	p[13] = 0;
	memcpy(p + 14, body->data, body->len);
	ck_store_u32le(p + n - 4, crc32c(0, p, n - 4));
	ck_test_write_file(path, p, n);
	free(p);
}

/* The config part of a manifest body. */
static void put_config(struct ck_buf *b, uint8_t kind)
{
	uint8_t zero[16] = {0};

	ck_buf_append(b, zero, 16); /* uuid */
	put_u8(b, kind);	    /* 0 single, 1 numbered */
	put_varint(b, 100);	    /* max inline */
	put_varint(b, 8388608);	    /* max node */
	put_u8(b, 4);		    /* arity log2 */
	put_varint(b, 0);	    /* no compression */
}

/* Manifest file name in dir with one generation gen whose root (height 0)
 * is (path, 0, len); kind as in the config. */
static void write_manifest_as(const char *dir, const char *name, uint8_t kind,
			      uint64_t gen, const char *path, uint64_t len)
{
	struct ck_buf b = CK_BUF_INIT;
	char *m = ck_path_join(dir, name);
	uint8_t zero[16] = {0};

	put_config(&b, kind);
	put_table(&b, path);
	put_varint(&b, 1);	    /* one version */
	put_varint(&b, gen);	    /* generation */
	put_u8(&b, 0);		    /* root height */
	put_varint(&b, 0);	    /* file */
	put_varint(&b, 0);	    /* offset */
	put_varint(&b, len);	    /* length */
	put_varint(&b, 1);	    /* num keys */
	put_varint(&b, len);	    /* tree bytes */
	put_varint(&b, 3);	    /* indirect bytes */
	ck_buf_append(&b, zero, 8); /* commit time */
	put_varint(&b, 0);	    /* no version nodes */
	write_object(m, 0x0CDB3A2Au, &b);
	ck_buf_release(&b);
	free(m);
}

static void write_manifest(const char *dir, const char *path, uint64_t len)
{
	write_manifest_as(dir, "manifest.ocdbt", 0, 1, path, len);
}

/* Leaf node with key "k" -> 3 bytes out of line in value_path; returns its
 * encoded length. */
static uint64_t write_leaf(const char *path, const char *value_path)
{
	struct ck_buf b = CK_BUF_INIT;
	uint64_t len;

	put_u8(&b, 0); /* height */
	put_table(&b, value_path);
	put_varint(&b, 1); /* one entry */
	put_varint(&b, 1); /* key suffix length */
	ck_buf_append(&b, "k", 1);
	put_varint(&b, 3); /* value length */
	put_u8(&b, 1);	   /* out of line */
	put_varint(&b, 0); /* file id */
	put_varint(&b, 0); /* offset */
	write_object(path, 0x0CDB20DEu, &b);
	len = 12 + 2 + b.len + 4;
	ck_buf_release(&b);
	return len;
}

START_TEST(crafted_database_should_check_value_bounds_and_refuse_escaping_paths)
{
	char *t = ck_test_tmpdir();
	char *d = ck_path_join(t, "d"), *node = ck_path_join(t, "d/node");
	char *val = ck_path_join(t, "d/val");
	struct kvstore *kv = NULL;
	uint64_t len;
	char *got;

	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_test_write_file(val, "xyz", 3);
	/* a well-formed database first, so the failures below are the paths */
	len = write_leaf(node, "d/val");
	write_manifest(t, "d/node", len);
	ck_assert_msg(open_abs(t, 0, &kv) == 0, "%s", ck_err_msg());
	got = value_of(kv, "k", NULL);
	ck_assert_str_eq(got, "xyz");
	free(got);
	kvstore_free(kv);
	/* a value file shorter than its reference */
	ck_test_truncate(val, 2);
	expect_corrupt(t, -EIO, "d/val");
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "past the end"));
	/* node table escaping the database */
	len = write_leaf(node, "../x");
	write_manifest(t, "d/node", len);
	expect_corrupt(t, -EINVAL, "../x");
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "d/node"));
	len = write_leaf(node, "/etc/passwd");
	write_manifest(t, "d/node", len);
	expect_corrupt(t, -EINVAL, "/etc/passwd");
	/* manifest table escaping the database */
	write_manifest(t, "../x", len);
	expect_corrupt(t, -EINVAL, "../x");
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "manifest.ocdbt"));
	write_manifest(t, "/etc/passwd", len);
	expect_corrupt(t, -EINVAL, "/etc/passwd");
	write_manifest(t, "d/../../x", len);
	expect_corrupt(t, -EINVAL, "d/../../x");
	ck_test_rmtree(t);
	free(val);
	free(node);
	free(d);
	free(t);
}
END_TEST

START_TEST(numbered_manifest_should_read_the_highest_numbered_file)
{
	char *t = ck_test_tmpdir();
	char *d = ck_path_join(t, "d"), *node = ck_path_join(t, "d/node");
	char *val = ck_path_join(t, "d/val"),
	     *m = ck_path_join(t, "manifest.ocdbt");
	struct ck_buf b = CK_BUF_INIT;
	struct kvstore *kv = NULL;
	uint64_t len;

	ck_assert_int_eq(mkdir(d, 0700), 0);
	ck_test_write_file(val, "xyz", 3);
	len = write_leaf(node, "d/val");
	put_config(&b, 1);
	write_object(m, 0x0CDB3A2Au, &b);
	ck_buf_release(&b);
	expect_corrupt(t, -EIO, "manifest.<16 hex>");
	/* generation 2 points at a missing file: only 0x10 must be read */
	write_manifest_as(t, "manifest.0000000000000002", 1, 2, "d/gone", len);
	write_manifest_as(t, "manifest.0000000000000010", 1, 16, "d/node", len);
	ck_assert_msg(open_abs(t, 0, &kv) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(kvstore_generation(kv), 16);
	ck_assert_uint_eq(kvstore_count(kv), 1);
	kvstore_free(kv);
	ck_test_rmtree(t);
	free(m);
	free(val);
	free(node);
	free(d);
	free(t);
}
END_TEST

START_TEST(pure_decoders_should_decode_fixture_objects)
{
	char *mp = ck_test_fixture(V0 "/manifest.ocdbt");
	struct ocdbt_manifest m;
	struct ocdbt_btree_node node;
	char *dp, *rel;
	uint8_t *bytes;
	size_t n;

	bytes = ck_test_read_file(mp, &n);
	ck_assert_uint_eq(n, 113);
	ck_assert_int_eq(ocdbt_manifest_decode(bytes, n, &m), 0);
	ck_assert_uint_eq(m.config.max_inline_value_bytes, 1024);
	ck_assert_uint_eq(m.config.max_decoded_node_bytes, 100000000);
	ck_assert_uint_eq(m.config.version_tree_arity_log2, 4);
	ck_assert_uint_eq(m.config.compression, 1);
	ck_assert_uint_eq(m.files.n, 1);
	ck_assert_str_eq(m.files.files[0].path,
			 "d/9f51d9b77c0c771353c577b65dc7bba5");
	ck_assert_uint_eq(m.nversions, 1);
	ck_assert_uint_eq(m.versions[0].generation, 1);
	ck_assert_uint_eq(m.versions[0].length, 240);
	ck_assert_uint_eq(m.versions[0].num_keys, 4);
	ck_assert_uint_eq(m.versions[0].commit_time, 1778718340771198958ull);
	ck_assert_uint_eq(m.nnodes, 0);
	ocdbt_manifest_release(&m);
	ck_assert_int_eq(ocdbt_manifest_decode(bytes, n - 1, &m), -EIO);
	free(bytes);

	rel = ck_path_join(V0, "d/9f51d9b77c0c771353c577b65dc7bba5");
	dp = ck_test_fixture(rel);
	bytes = ck_test_read_file(dp, &n);
	ck_assert_uint_eq(n, 240);
	ck_assert_int_eq(ocdbt_btree_node_decode(bytes, n, 1 << 20, 0, &node),
			 0);
	ck_assert_uint_eq(node.n, 4);
	ck_assert_uint_eq(node.leaves[1].key_len, 3);
	ck_assert_mem_eq(node.keys + node.leaves[1].key_off, "a/0", 3);
	ck_assert_uint_eq(node.leaves[0].value_length, 164);
	ck_assert_uint_eq(node.leaves[3].value_length, 21);
	ocdbt_btree_node_release(&node);
	ck_assert_int_eq(ocdbt_btree_node_decode(bytes, n, 1 << 20, 1, &node),
			 -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "height"));
	ck_assert_int_eq(ocdbt_btree_node_decode(bytes, n, 100, 0, &node),
			 -EOVERFLOW);
	free(bytes);
	free(dp);
	free(rel);
	free(mp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ocdbt");
	TCase *tc = tcase_create("ocdbt");

	ck_test_require_fixtures();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, files_high_arity_should_hold_the_eight_files);
	tcase_add_test(
		tc,
		files_min_arity_should_walk_interior_nodes_and_indirect_values);
	tcase_add_test(tc,
		       multi_version_high_arity_should_reach_every_generation);
	tcase_add_test(tc,
		       multi_version_low_arity_should_reach_every_generation);
	tcase_add_test(tc,
		       orbax_v0_and_v1_top_level_dbs_should_hold_the_four_keys);
	tcase_add_test(
		tc, orbax_process_db_alone_should_match_and_merge_should_fail);
	tcase_add_test(tc, ome_zarr_chunk_should_be_200_bytes_of_uint16_ramp);
	tcase_add_test(tc, corrupt_manifest_should_be_eio_with_reason);
	tcase_add_test(tc,
		       corrupt_btree_node_should_be_eio_naming_the_data_file);
	tcase_add_test(tc, critical_fixtures_should_fail_cleanly);
	tcase_add_test(
		tc,
		crafted_database_should_check_value_bounds_and_refuse_escaping_paths);
	tcase_add_test(tc,
		       numbered_manifest_should_read_the_highest_numbered_file);
	tcase_add_test(tc, pure_decoders_should_decode_fixture_objects);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
