/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the checkpoint writer (ocdbt_writer, kv_sink, zarr_writer,
 * orbax_writer).  Everything written is read back through the real reader.
 * The streaming zarr writer has its own tests in test_zarr_stream_write.c;
 * here it is tested through orbax_writer_add_cb().
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck_test.h"
#include "codec/codec.h"
#include "kvstore/kv_sink.h"
#include "kvstore/kvstore.h"
#include "kvstore/ocdbt_envelope.h"
#include "kvstore/ocdbt_manifest.h"
#include "kvstore/ocdbt_writer.h"
#include "orbax/orbax.h"
#include "orbax/orbax_writer.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_writer.h"

#define NKEYS 500
#define V0_ITEM                                                               \
	"orbax-compat/v0_checkpoints/direct_checkpoint/"                      \
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata"
#define V1_STATE                                                              \
	"orbax-compat/v1_checkpoints/composite_checkpoint/"                   \
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata/state"

static const size_t value_sizes[] = {0, 10, 1024, 1025, 100 * 1024};

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

static uint8_t byte_of(int i, size_t j)
{
	return (uint8_t)(i * 31 + j * 7 + (j >> 8));
}

static uint8_t *value_of(int i, size_t *len)
{
	size_t n = value_sizes[i % 5];
	uint8_t *v = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(v);
	for (size_t j = 0; j < n; j++)
		v[j] = byte_of(i, j);
	*len = n;
	return v;
}

static int open_db(const char *dir, struct kvstore **kv)
{
	const char *dirs[1] = {dir};

	return kvstore_open_ocdbt(dirs, 1, 0, kv);
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

/* Write the NKEYS keys into w (in a scrambled order). */
static void put_all(struct ocdbt_writer *w)
{
	for (int k = 0; k < NKEYS; k++) {
		int i = (k * 211) % NKEYS;
		char key[300];
		size_t len;
		uint8_t *v = value_of(i, &len);

		key_of(i, key, sizeof(key));
		ck_assert_msg(ocdbt_writer_put(w, key, strlen(key), v, len) ==
				      0,
			      "%s", ck_err_msg());
		free(v);
	}
}

/* Every key reads back byte-exact; returns the out-of-line byte count. */
static uint64_t check_all(const struct kvstore *kv, const char *file_part)
{
	uint64_t indirect = 0;

	ck_assert_uint_eq(kvstore_count(kv), NKEYS);
	for (int i = 0; i < NKEYS; i++) {
		char key[300];
		struct kv_value v;
		size_t len;
		uint8_t *want = value_of(i, &len), *got;

		key_of(i, key, sizeof(key));
		ck_assert_msg(kvstore_get(kv, key, strlen(key), &v) == 0,
			      "key %s: %s", key, ck_err_msg());
		ck_assert_uint_eq(v.length, len);
		if (len > 1024) {
			ck_assert_ptr_null(v.inline_data);
			indirect += len;
			if (file_part)
				ck_assert_msg(strstr(v.file, file_part),
					      "%s not in %s", file_part,
					      v.file);
		} else if (len) {
			ck_assert_ptr_nonnull(v.inline_data);
		}
		got = malloc(len ? len : 1);
		ck_assert_int_eq(kvstore_read(kv, &v, 0, got, len), 0);
		if (len)
			ck_assert_mem_eq(got, want, len);
		free(got);
		free(want);
	}
	return indirect;
}

struct counter {
	size_t n;
};

static int count_cb(void *ctx, const char *key, size_t keylen,
		    const struct kv_value *v)
{
	(void)key;
	(void)keylen;
	(void)v;
	((struct counter *)ctx)->n++;
	return 0;
}

static void check_prefix(const struct kvstore *kv, const char *prefix)
{
	struct counter c = {0};
	size_t want = 0;

	for (int i = 0; i < NKEYS; i++) {
		char key[300];

		key_of(i, key, sizeof(key));
		want += !strncmp(key, prefix, strlen(prefix));
	}
	ck_assert_int_eq(kvstore_list(kv, prefix, strlen(prefix), count_cb, &c),
			 0);
	ck_assert_uint_eq(c.n, want);
}

START_TEST(ocdbt_writer_should_round_trip_500_keys_through_a_deep_tree)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_writer *w = NULL;
	struct ocdbt_manifest m;
	struct kvstore *kv = NULL;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "db");
	uint64_t indirect;

	o.max_leaf_entries = 4;
	o.max_interior_entries = 4;
	ck_assert_int_eq(ocdbt_writer_open(dir, &o, &w), 0);
	put_all(w);
	ck_assert_uint_eq(ocdbt_writer_count(w), NKEYS);
	ck_assert_msg(ocdbt_writer_commit(w) == 0, "%s", ck_err_msg());
	ocdbt_writer_free(w);

	read_manifest(dir, &m);
	ck_assert_uint_eq(m.nversions, 1);
	ck_assert_uint_eq(m.nnodes, 0);
	ck_assert_uint_eq(m.versions[0].generation, 1);
	ck_assert_uint_ge(m.versions[0].root_height, 2);
	ck_assert_uint_eq(m.versions[0].num_keys, NKEYS);
	ck_assert_uint_eq(m.config.max_inline_value_bytes, 1024);
	ck_assert_uint_eq(m.config.max_decoded_node_bytes, 100000000);
	ck_assert_uint_eq(m.config.version_tree_arity_log2, 4);
	ck_assert_uint_eq(m.config.compression, 1);
	ck_assert_uint_eq(m.config.manifest_kind, 0);

	ck_assert_msg(open_db(dir, &kv) == 0, "%s", ck_err_msg());
	indirect = check_all(kv, NULL);
	ck_assert_uint_eq(m.versions[0].num_indirect_value_bytes, indirect);
	check_prefix(kv, "");
	check_prefix(kv, "k1");
	check_prefix(kv, "params.params.decoder.layers_1");
	check_prefix(kv, "opt_state.0.mu.params.000");
	check_prefix(kv, "c/");
	check_prefix(kv, "zzz");
	kvstore_free(kv);
	ocdbt_manifest_release(&m);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(ocdbt_writer_should_make_one_root_leaf_and_an_empty_database)
{
	struct ocdbt_writer *w = NULL;
	struct ocdbt_manifest m;
	struct kvstore *kv = NULL;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "one");
	char *empty = ck_path_join(tmp, "empty");

	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w), 0);
	put_all(w);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	read_manifest(dir, &m);
	ck_assert_uint_eq(m.versions[0].root_height, 0);
	ocdbt_manifest_release(&m);
	ck_assert_int_eq(open_db(dir, &kv), 0);
	check_all(kv, NULL);
	kvstore_free(kv);

	ck_assert_int_eq(ocdbt_writer_open(empty, NULL, &w), 0);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	ck_assert_msg(open_db(empty, &kv) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(kvstore_count(kv), 0);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(dir);
	free(empty);
	free(tmp);
}
END_TEST

START_TEST(ocdbt_writer_should_put_values_under_a_data_base_like_multihost)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_writer *w = NULL;
	struct kvstore *kv = NULL;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "items");
	char *sub = ck_path_join(dir, "ocdbt.process_0");

	o.data_base = "ocdbt.process_0/";
	o.data_base_db = 1;
	o.max_leaf_entries = 8;
	ck_assert_int_eq(ocdbt_writer_open(dir, &o, &w), 0);
	put_all(w);
	ck_assert_msg(ocdbt_writer_commit(w) == 0, "%s", ck_err_msg());
	ocdbt_writer_free(w);

	ck_assert_msg(open_db(dir, &kv) == 0, "%s", ck_err_msg());
	check_all(kv, "/items/ocdbt.process_0/d/");
	kvstore_free(kv);
	ck_assert_msg(open_db(sub, &kv) == 0, "%s", ck_err_msg());
	check_all(kv, "/ocdbt.process_0/d/");
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(sub);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(ocdbt_writer_should_refuse_duplicates_existing_dbs_and_bad_opts)
{
	struct ocdbt_writer_opts o = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_writer *w = NULL, *w2 = NULL;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "db");
	char big[2000];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w), 0);
	ck_assert_int_eq(ocdbt_writer_put(w, "a", 1, "1", 1), 0);
	ck_assert_int_eq(ocdbt_writer_put(w, "b", 1, big, sizeof(big)), 0);
	ck_assert_int_eq(ocdbt_writer_put(w, "a", 1, "2", 1), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "duplicate key 'a'"));
	ck_assert_int_eq(ocdbt_writer_put(w, "b", 1, "2", 1), -EINVAL);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ck_assert_int_eq(ocdbt_writer_commit(w), -EINVAL);
	ck_assert_int_eq(ocdbt_writer_put(w, "c", 1, "3", 1), -EINVAL);
	ocdbt_writer_free(w);
	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w2), -EEXIST);
	ck_assert_ptr_null(w2);
	o.max_leaf_entries = 1;
	ck_assert_int_eq(ocdbt_writer_open(tmp, &o, &w2), -EINVAL);
	o.max_leaf_entries = 0;
	o.data_base = "../x/";
	ck_assert_int_eq(ocdbt_writer_open(tmp, &o, &w2), -EINVAL);
	o.data_base = "";
	o.data_base_db = 1;
	ck_assert_int_eq(ocdbt_writer_open(tmp, &o, &w2), -EINVAL);
	ocdbt_writer_free(NULL);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

/* ---- zarr ---------------------------------------------------------------- */

static float f32_at(uint64_t i)
{
	return (float)i * 0.5f - 3.25f;
}

/* Fill an array of spec s with its formula values. */
static void *make_data(const struct zarr_write_spec *s, size_t *nbytes)
{
	uint64_t n = 1;
	size_t isz = ck_dtype_size(s->dtype);
	uint8_t *d;

	for (unsigned i = 0; i < s->rank; i++)
		n *= s->shape[i];
	d = malloc(n * isz + 1);
	ck_assert_ptr_nonnull(d);
	for (uint64_t i = 0; i < n; i++) {
		if (s->dtype == CK_DT_F32) {
			float f = f32_at(i);

			memcpy(d + i * 4, &f, 4);
		} else if (s->dtype == CK_DT_BF16) {
			uint16_t h = ck_f32_to_bf16(f32_at(i));

			memcpy(d + i * 2, &h, 2);
		} else {
			int32_t v = (int32_t)(i * 1000003u) - 77;

			memcpy(d + i * 4, &v, 4);
		}
	}
	*nbytes = n * isz;
	return d;
}

static struct zarr_write_spec spec_of(int fmt, enum ck_dtype t, unsigned rank,
				      const uint64_t *shape,
				      const uint64_t *chunk)
{
	struct zarr_write_spec s;

	memset(&s, 0, sizeof(s));
	s.zarr_format = fmt;
	s.dtype = t;
	s.rank = rank;
	s.zstd_level = 3;
	for (unsigned i = 0; i < rank; i++) {
		s.shape[i] = shape[i];
		s.chunk[i] = chunk[i];
	}
	return s;
}

static void check_array(const struct kvstore *kv, const char *name,
			const struct zarr_write_spec *s, const void *want,
			size_t nbytes)
{
	uint64_t start[ZARR_MAX_RANK] = {0};
	struct zarr_array *a = NULL;
	struct zarr_info info;
	uint8_t *got = malloc(nbytes + 1);

	ck_assert_msg(zarr_array_open(kv, name, &a) == 0, "%s: %s", name,
		      ck_err_msg());
	ck_assert_int_eq(zarr_array_info(a, &info), 0);
	ck_assert_int_eq(info.zarr_format, s->zarr_format);
	ck_assert_int_eq(info.dtype, s->dtype);
	ck_assert_uint_eq(info.rank, s->rank);
	ck_assert_uint_eq(info.stored_chunks, info.nchunks);
	for (unsigned i = 0; i < s->rank; i++) {
		ck_assert_uint_eq(info.shape[i], s->shape[i]);
		ck_assert_uint_eq(info.chunk[i], s->chunk[i]);
	}
	ck_assert_msg(zarr_array_read(a, start, s->shape, got) == 0, "%s: %s",
		      name, ck_err_msg());
	ck_assert_mem_eq(got, want, nbytes);
	free(got);
	zarr_array_free(a);
}

static const uint64_t sh3[3] = {5, 7, 3}, ch3[3] = {2, 3, 2};
static const uint64_t sh1[1] = {10}, ch1[1] = {4};

/* Write the test arrays of one format into sink; check them through kv. */
static void write_arrays(const struct kv_sink *sink, int fmt)
{
	struct zarr_write_spec specs[4];
	const char *names[4] = {"w.f32", "params.params.bf16", "step",
				"x.i32"};

	specs[0] = spec_of(fmt, CK_DT_F32, 3, sh3, ch3);
	specs[1] = spec_of(fmt, CK_DT_BF16, 1, sh1, ch1);
	specs[2] = spec_of(fmt, CK_DT_I32, 0, NULL, NULL);
	specs[3] = spec_of(fmt, CK_DT_I32, 3, sh3, ch3);
	for (int i = 0; i < 4; i++) {
		size_t n;
		void *d = make_data(&specs[i], &n);

		ck_assert_msg(zarr_write_array(sink, names[i], &specs[i], d) ==
				      0,
			      "%s", ck_err_msg());
		free(d);
	}
}

static void check_arrays(const struct kvstore *kv, int fmt)
{
	struct zarr_write_spec specs[4];
	const char *names[4] = {"w.f32", "params.params.bf16", "step",
				"x.i32"};

	specs[0] = spec_of(fmt, CK_DT_F32, 3, sh3, ch3);
	specs[1] = spec_of(fmt, CK_DT_BF16, 1, sh1, ch1);
	specs[2] = spec_of(fmt, CK_DT_I32, 0, NULL, NULL);
	specs[3] = spec_of(fmt, CK_DT_I32, 3, sh3, ch3);
	for (int i = 0; i < 4; i++) {
		size_t n;
		void *d = make_data(&specs[i], &n);

		check_array(kv, names[i], &specs[i], d, n);
		free(d);
	}
}

/* The value of key as a new buffer. */
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

/* The shard of chunk (2, 2, 1) of x.i32: one zstd frame + 20-byte index. */
static void check_shard_by_hand(const struct kvstore *kv)
{
	const struct codec *zstd = codec_find("zstd");
	size_t len, dlen = 0;
	uint8_t *v = get_value(kv, "x.i32/c/2/2/1", &len), *idx;
	int32_t dec[12], want[12] = {0};

	ck_assert_uint_gt(len, 20);
	idx = v + len - 20;
	ck_assert_uint_eq(ck_load_u64le(idx), 0);
	ck_assert_uint_eq(ck_load_u64le(idx + 8), len - 20);
	ck_assert_uint_eq(ck_load_u32le(idx + 16), crc32c(0, idx, 16));
	ck_assert_int_eq(zstd->decode(NULL, v, len - 20, (uint8_t *)dec,
				      sizeof(dec), &dlen),
			 0);
	ck_assert_uint_eq(dlen, sizeof(dec));
	/* origin (4, 6, 2); only [4][6][2] is inside the 5x7x3 array */
	want[0] = (int32_t)(((4 * 7 + 6) * 3 + 2) * 1000003u) - 77;
	ck_assert_mem_eq(dec, want, sizeof(dec));
	free(v);
}

START_TEST(zarr3_arrays_should_read_back_through_ocdbt)
{
	struct ocdbt_writer *w = NULL;
	struct kvstore *kv = NULL;
	struct kv_sink sink;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "db");
	size_t len;
	uint8_t *meta;

	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w), 0);
	ck_assert_int_eq(kv_sink_ocdbt(w, &sink), 0);
	write_arrays(&sink, 3);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	ck_assert_msg(open_db(dir, &kv) == 0, "%s", ck_err_msg());
	check_arrays(kv, 3);
	check_shard_by_hand(kv);
	meta = get_value(kv, "step/zarr.json", &len);
	ck_assert_str_eq((char *)meta,
		"{\"chunk_grid\":{\"configuration\":{\"chunk_shape\":[]},"
		"\"name\":\"regular\"},\"chunk_key_encoding\":{\"name\":"
		"\"default\"},\"codecs\":[{\"configuration\":{\"chunk_shape\":"
		"[],\"codecs\":[{\"configuration\":{\"endian\":\"little\"},"
		"\"name\":\"bytes\"},{\"configuration\":{\"checksum\":false,"
		"\"level\":3},\"name\":\"zstd\"}],\"index_codecs\":[{"
		"\"configuration\":{\"endian\":\"little\"},\"name\":\"bytes\"},"
		"{\"name\":\"crc32c\"}]},\"name\":\"sharding_indexed\"}],"
		"\"data_type\":\"int32\",\"fill_value\":0,\"node_type\":"
		"\"array\",\"shape\":[],\"zarr_format\":3}");
	free(meta);
	free(get_value(kv, "step/c", &len));
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(dir);
	free(tmp);
}
END_TEST

/* The decoded body of a database's root node (and the manifest's body). */
static void root_body(const char *dir, struct ck_buf *node, struct ck_buf *mb)
{
	char *p = ck_path_join(dir, "manifest.ocdbt"), *f;
	struct ocdbt_manifest m;
	uint8_t *data;
	size_t n;

	read_manifest(dir, &m);
	data = ck_test_read_file(p, &n);
	ck_assert_int_eq(ocdbt_envelope_decode(data, n, OCDBT_MAGIC_MANIFEST,
					       1 << 20, mb),
			 0);
	free(data);
	f = ck_path_join(dir, m.files.files[m.versions[0].file_id].path);
	data = ck_test_read_file(f, &n);
	ck_assert_uint_le(m.versions[0].offset + m.versions[0].length, n);
	ck_assert_int_eq(ocdbt_envelope_decode(data + m.versions[0].offset,
					       m.versions[0].length,
					       OCDBT_MAGIC_BTREE, 1 << 20, node),
			 0);
	free(data);
	free(f);
	free(p);
	ocdbt_manifest_release(&m);
}

START_TEST(ocdbt_writer_should_encode_the_real_orbax_root_leaf_byte_for_byte)
{
	static const char *const keys[] = {"a/.zarray", "a/0", "b.c/.zarray",
					   "b.c/0"};
	struct ck_buf want = CK_BUF_INIT, got = CK_BUF_INIT;
	struct ck_buf wm = CK_BUF_INIT, gm = CK_BUF_INIT;
	struct ocdbt_writer *w = NULL;
	struct kvstore *real = NULL;
	char *tmp, *dir, *fix;

	if (!ck_test_fixtures())
		return;
	tmp = ck_test_tmpdir();
	dir = ck_path_join(tmp, "db");
	fix = ck_test_fixture(V0_ITEM);
	ck_assert_int_eq(open_db(fix, &real), 0);
	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w), 0);
	for (int i = 3; i >= 0; i--) {
		size_t n;
		uint8_t *v = get_value(real, keys[i], &n);

		ck_assert_int_eq(ocdbt_writer_put(w, keys[i], strlen(keys[i]),
						  v, n),
				 0);
		free(v);
	}
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	root_body(fix, &want, &wm);
	root_body(dir, &got, &gm);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert_mem_eq(got.data, want.data, want.len);
	/* manifest: config after the uuid, table shape, version columns up
	 * to the commit time (the node file name differs) */
	ck_assert_uint_eq(gm.len, wm.len);
	ck_assert_mem_eq(gm.data + 16, wm.data + 16, 13);
	ck_assert_mem_eq(gm.data + 29, wm.data + 29, 5);
	ck_assert_mem_eq(gm.data + 66, wm.data + 66, gm.len - 66 - 9);
	ck_assert_uint_eq(gm.data[gm.len - 1], 0);
	ck_buf_release(&want);
	ck_buf_release(&got);
	ck_buf_release(&wm);
	ck_buf_release(&gm);
	kvstore_free(real);
	ck_test_rmtree(tmp);
	free(fix);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(zarr3_metadata_should_match_the_real_orbax_fixture)
{
	static const uint64_t sh[1] = {8};
	struct zarr_write_spec s = spec_of(3, CK_DT_I32, 1, sh, sh);
	struct kvstore *real = NULL, *kv = NULL;
	struct ocdbt_writer *w = NULL;
	struct kv_sink sink;
	int32_t data[8];
	char *tmp, *dir, *fix;
	uint8_t *want, *got;
	size_t wn, gn;

	if (!ck_test_fixtures())
		return;
	tmp = ck_test_tmpdir();
	dir = ck_path_join(tmp, "db");
	fix = ck_test_fixture(V1_STATE);
	for (int i = 0; i < 8; i++)
		data[i] = i;
	ck_assert_int_eq(ocdbt_writer_open(dir, NULL, &w), 0);
	ck_assert_int_eq(kv_sink_ocdbt(w, &sink), 0);
	ck_assert_int_eq(zarr_write_array(&sink, "a", &s, data), 0);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	ck_assert_int_eq(open_db(dir, &kv), 0);
	ck_assert_int_eq(open_db(fix, &real), 0);
	want = get_value(real, "a/zarr.json", &wn);
	got = get_value(kv, "a/zarr.json", &gn);
	ck_assert_str_eq((char *)got, (char *)want);
	free(want);
	free(got);
	kvstore_free(real);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(fix);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(zarr2_arrays_should_read_back_from_a_directory_and_ocdbt)
{
	struct ocdbt_writer *w = NULL;
	struct kvstore *kv = NULL;
	struct kv_sink sink;
	char *tmp = ck_test_tmpdir(), *dir = ck_path_join(tmp, "plain");
	char *db = ck_path_join(tmp, "db");
	size_t len;
	uint8_t *meta;

	ck_assert_int_eq(kv_sink_mkdirs(dir), 0);
	ck_assert_int_eq(kv_sink_dir(dir, &sink), 0);
	write_arrays(&sink, 2);
	ck_assert_msg(kvstore_open_dir(dir, &kv) == 0, "%s", ck_err_msg());
	check_arrays(kv, 2);
	meta = get_value(kv, "x.i32/.zarray", &len);
	ck_assert_str_eq((char *)meta,
			 "{\"chunks\":[2,3,2],\"compressor\":{\"id\":\"zstd\","
			 "\"level\":3},\"dimension_separator\":\".\",\"dtype\":"
			 "\"<i4\",\"fill_value\":null,\"filters\":null,"
			 "\"order\":\"C\",\"shape\":[5,7,3],\"zarr_format\":2}");
	free(meta);
	free(get_value(kv, "x.i32/2.2.1", &len));
	free(get_value(kv, "step/0", &len));
	kvstore_free(kv);
	/* a duplicate key in a directory is -EEXIST */
	ck_assert_int_eq(sink.put(sink.ctx, "step/0", 6, "x", 1), -EEXIST);
	ck_assert_int_eq(sink.put(sink.ctx, "../x", 4, "x", 1), -EINVAL);

	ck_assert_int_eq(ocdbt_writer_open(db, NULL, &w), 0);
	ck_assert_int_eq(kv_sink_ocdbt(w, &sink), 0);
	write_arrays(&sink, 2);
	ck_assert_int_eq(ocdbt_writer_commit(w), 0);
	ocdbt_writer_free(w);
	ck_assert_int_eq(open_db(db, &kv), 0);
	check_arrays(kv, 2);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(db);
	free(dir);
	free(tmp);
}
END_TEST

START_TEST(zarr_writer_should_reject_bad_specs)
{
	static const uint64_t huge[2] = {(uint64_t)1 << 40, (uint64_t)1 << 40};
	static const uint64_t one[2] = {1, 1}, zero[2] = {0, 1};
	struct zarr_write_spec s = spec_of(3, CK_DT_F32, 2, huge, one);
	struct kv_sink sink;
	uint64_t nbytes;
	char *tmp = ck_test_tmpdir();

	ck_assert_int_eq(kv_sink_dir(tmp, &sink), 0);
	ck_assert_int_eq(zarr_write_array(&sink, "a", &s, ""), -EOVERFLOW);
	ck_assert_int_eq(zarr_writer_check(&s, &nbytes), -EOVERFLOW);
	s = spec_of(3, CK_DT_F32, 2, one, zero);
	ck_assert_int_eq(zarr_write_array(&sink, "a", &s, ""), -EINVAL);
	s = spec_of(3, CK_DT_F32, 2, huge, huge);
	ck_assert_int_eq(zarr_writer_check(&s, &nbytes), -EOVERFLOW);
	s = spec_of(4, CK_DT_F32, 2, one, one);
	ck_assert_int_eq(zarr_write_array(&sink, "a", &s, ""), -EINVAL);
	s = spec_of(3, CK_DT_INVALID, 2, one, one);
	ck_assert_int_eq(zarr_write_array(&sink, "a", &s, ""), -ENOTSUP);
	s = spec_of(3, CK_DT_F32, 2, one, one);
	ck_assert_int_eq(zarr_write_array(&sink, "/a", &s, "abcd"), -EINVAL);
	ck_assert_int_eq(zarr_writer_check(&s, &nbytes), 0);
	ck_assert_uint_eq(nbytes, 4);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

/* ---- orbax --------------------------------------------------------------- */

static const char *const ckpt_names[] = {
	"params.params.decoder.layers.mlp.wi_0.kernel",
	"params.params.token_embedder.embedding",
	"step",
};

/* Write step `step` under root with arrays scaled by step. */
static void write_step(const char *root, int64_t step,
		       const struct orbax_writer_opts *o, int commit)
{
	static const uint64_t sk[3] = {4, 3, 5}, ck[3] = {4, 2, 5};
	static const uint64_t se[2] = {6, 4}, ce[2] = {4, 4};
	struct zarr_write_spec specs[3];
	struct orbax_writer *w = NULL;

	specs[0] = spec_of(3, CK_DT_F32, 3, sk, ck);
	specs[1] = spec_of(3, CK_DT_BF16, 2, se, ce);
	specs[2] = spec_of(3, CK_DT_I32, 0, NULL, NULL);
	ck_assert_msg(orbax_writer_open(root, step, o, &w) == 0, "%s",
		      ck_err_msg());
	for (int i = 0; i < 3; i++) {
		size_t n;
		uint8_t *d = make_data(&specs[i], &n);

		d[0] = (uint8_t)step;
		ck_assert_msg(orbax_writer_add(w, ckpt_names[i], &specs[i], d) ==
				      0,
			      "%s", ck_err_msg());
		free(d);
	}
	if (commit)
		ck_assert_msg(orbax_writer_commit(w) == 0, "%s", ck_err_msg());
	orbax_writer_free(w);
}

static void check_step(const struct orbax_ckpt *c, int64_t step)
{
	static const uint64_t sk[3] = {4, 3, 5}, ck[3] = {4, 2, 5};
	static const uint64_t se[2] = {6, 4}, ce[2] = {4, 4};
	struct zarr_write_spec specs[3];
	uint64_t start[3] = {0};

	specs[0] = spec_of(3, CK_DT_F32, 3, sk, ck);
	specs[1] = spec_of(3, CK_DT_BF16, 2, se, ce);
	specs[2] = spec_of(3, CK_DT_I32, 0, NULL, NULL);
	ck_assert_int_eq(c->step, step);
	ck_assert_uint_eq(c->narrays, 3);
	for (int i = 0; i < 3; i++) {
		const struct orbax_array *a = orbax_find(c, ckpt_names[i]);
		size_t n;
		uint8_t *want = make_data(&specs[i], &n), *got = malloc(n);

		want[0] = (uint8_t)step;
		ck_assert_msg(a != NULL, "%s missing", ckpt_names[i]);
		ck_assert_msg(orbax_array_read(a, start, specs[i].shape, got) ==
				      0,
			      "%s", ck_err_msg());
		ck_assert_mem_eq(got, want, n);
		free(want);
		free(got);
	}
}

/* A visitor that copies each piece into a dense box buffer. */
struct collect {
	unsigned rank;
	const uint64_t *count;		/* the box */
	uint8_t *box;
	size_t isz;
	uint64_t pieces;
};

static int collect_piece(void *ctx, const uint64_t *pos, const uint64_t *n,
			 const void *data, const uint64_t *stride)
{
	struct collect *c = ctx;
	uint64_t idx[ZARR_MAX_RANK] = { 0 };

	__atomic_fetch_add(&c->pieces, 1, __ATOMIC_RELAXED);
	for (unsigned a = 0; a < c->rank; a++)
		if (n[a] == 0)
			return 0;
	for (;;) {
		uint64_t src = 0, dst = 0;
		int a;

		for (unsigned j = 0; j < c->rank; j++) {
			src += idx[j] * stride[j];
			dst = dst * c->count[j] + pos[j] + idx[j];
		}
		memcpy(c->box + dst * c->isz, (const uint8_t *)data + src * c->isz, c->isz);
		for (a = (int)c->rank - 1; a >= 0; a--) {
			if (++idx[a] < n[a])
				break;
			idx[a] = 0;
		}
		if (a < 0)
			return 0;
	}
}

/* Chunks of 4 MiB and more, stored as one zstd stream in a one-chunk shard
 * (the Orbax layout), are visited a window at a time: the pieces put
 * together give what a whole read gives, for boxes cut on every axis, and
 * each chunk counts as one decode.  A truncated data file is -EIO naming
 * the chunk key, not a crash. */
START_TEST(large_chunks_should_visit_streaming_as_they_read_whole)
{
	static const uint64_t shape[4] = { 6, 3, 512, 520 }, chunk[4] = { 3, 3, 512, 520 };
	static const uint64_t boxes[4][2][4] = {
		{ { 0, 0, 0, 0 }, { 6, 3, 512, 520 } },
		{ { 1, 1, 100, 7 }, { 4, 1, 300, 493 } },
		{ { 0, 2, 0, 0 }, { 6, 1, 512, 520 } },
		{ { 2, 0, 511, 519 }, { 2, 3, 1, 1 } },
	};
	struct zarr_write_spec spec = spec_of(3, CK_DT_BF16, 4, shape, chunk);
	char *root = ck_test_tmpdir(), path[600], *data_dir;
	struct orbax_writer *w = NULL;
	struct orbax_ckpt *c = NULL;
	const struct orbax_array *a;
	size_t n;
	uint8_t *d = make_data(&spec, &n);
	uint64_t dec0, dec1, bytes;

	ck_assert_int_eq(orbax_writer_open(root, 1, NULL, &w), 0);
	ck_assert_msg(orbax_writer_add(w, "big", &spec, d) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(orbax_writer_commit(w), 0);
	orbax_writer_free(w);
	ck_assert_msg(orbax_open(root, NULL, &c) == 0, "%s", ck_err_msg());
	a = orbax_find(c, "big");
	ck_assert_ptr_nonnull(a);
	for (int b = 0; b < 4; b++) {
		const uint64_t *start = boxes[b][0], *count = boxes[b][1];
		size_t bn = 2 * count[0] * count[1] * count[2] * count[3];
		uint8_t *whole = malloc(bn), *visited = calloc(1, bn);
		struct collect col = { 4, count, visited, 2, 0 };

		ck_assert_int_eq(orbax_array_read(a, start, count, whole), 0);
		orbax_decode_stats(c, &dec0, &bytes);
		ck_assert_msg(orbax_array_visit(a, start, count, collect_piece, &col) == 0,
			      "%s", ck_err_msg());
		orbax_decode_stats(c, &dec1, &bytes);
		ck_assert_uint_eq(dec1 - dec0, start[0] < 3 && start[0] + count[0] > 3 ? 2 : 1);
		ck_assert_uint_gt(col.pieces, dec1 - dec0);	/* windows, not chunks */
		ck_assert_msg(!memcmp(whole, visited, bn), "box %d", b);
		/* and the whole read agrees with the values written */
		for (uint64_t i = 0; i < count[0]; i++)
			for (uint64_t j = 0; j < count[1]; j++)
				for (uint64_t k = 0; k < count[2]; k++) {
					uint64_t at = (((start[0] + i) * shape[1] + start[1] + j) *
						       shape[2] + start[2] + k) * shape[3] + start[3];
					uint64_t got = ((i * count[1] + j) * count[2] + k) * count[3];

					ck_assert(!memcmp(whole + 2 * got, d + 2 * at, 2 * count[3]));
				}
		free(whole);
		free(visited);
	}
	orbax_close(c);
	/* Cut the data file short: the visit fails cleanly. */
	snprintf(path, sizeof(path), "%s/1/items/d", root);
	data_dir = path;
	{
		DIR *dd = opendir(data_dir);
		struct dirent *e;
		char f[900], big[900] = "";
		off_t most = 0;

		ck_assert_ptr_nonnull(dd);
		while ((e = readdir(dd)))
			if (e->d_name[0] != '.') {
				struct stat st;

				snprintf(f, sizeof(f), "%s/%s", data_dir, e->d_name);
				ck_assert_int_eq(stat(f, &st), 0);
				if (st.st_size > most) {
					most = st.st_size;
					memcpy(big, f, sizeof(big));
				}
			}
		closedir(dd);
		/* the data file: the chunks, then the B+tree nodes */
		ck_assert_int_eq(truncate(big, most / 4), 0);
	}
	{
		uint8_t *visited = malloc(n);
		struct collect col = { 4, shape, visited, 2, 0 };
		static const uint64_t zero[4] = { 0 };
		int err;

		c = NULL;
		err = orbax_open(root, NULL, &c);
		/* The store notices the chunk past the file's end at open, or
		 * the visit does. */
		if (!err)
			err = orbax_array_visit(orbax_find(c, "big"), zero, shape,
						collect_piece, &col);
		ck_assert_int_eq(err, -EIO);
		ck_assert_msg(strstr(ck_err_msg(), "big/c/") != NULL, "%s", ck_err_msg());
		free(visited);
	}
	orbax_close(c);
	free(d);
	ck_test_rmtree(root);
	free(root);
}
END_TEST

/* Number of entries of dir whose name contains part. */
static int count_entries(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strstr(e->d_name, part) != NULL;
	closedir(d);
	return n;
}

START_TEST(orbax_writer_should_write_steps_the_reader_picks)
{
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct orbax_opts ro = ORBAX_OPTS_INIT;
	struct orbax_writer *w = NULL;
	struct orbax_ckpt *c = NULL;
	char *tmp = ck_test_tmpdir(), *root = ck_path_join(tmp, "checkpoints");
	char *p;
	uint8_t *text;
	size_t n;

	o.scan_layers = 1;
	write_step(root, 7, &o, 1);
	o.scan_layers = 0;
	write_step(root, 9, &o, 1);
	ck_assert_int_eq(count_entries(root, ".orbax-checkpoint-tmp"), 0);
	/* an uncommitted save of step 11 leaves only its tmp directory */
	write_step(root, 11, &o, 0);
	ck_assert_int_eq(count_entries(root, ".orbax-checkpoint-tmp"), 1);

	ck_assert_msg(orbax_open(tmp, NULL, &c) == 0, "%s", ck_err_msg());
	check_step(c, 9);
	ck_assert_int_eq(c->scan_layers, 0);
	ck_assert_str_eq(c->format, "OCDBT/zarr3");
	orbax_close(c);
	ro.step = 7;
	ck_assert_msg(orbax_open(root, &ro, &c) == 0, "%s", ck_err_msg());
	check_step(c, 7);
	ck_assert_int_eq(c->scan_layers, 1);
	orbax_close(c);
	ro.step = 11;
	ck_assert_int_eq(orbax_open(root, &ro, &c), -ENOENT);

	p = ck_path_join(root, "9/items/_METADATA");
	text = ck_test_read_file(p, &n);
	ck_assert_ptr_nonnull(strstr((char *)text,
		"\"('step',)\": {\"key_metadata\": [{\"key\": \"step\", "
		"\"key_type\": 2}], \"value_metadata\": {\"value_type\": "
		"\"jax.Array\", \"skip_deserialize\": false, \"write_shape\": "
		"[]}}"));
	ck_assert_ptr_nonnull(strstr((char *)text,
		"\"('params', 'params', 'decoder', 'layers', 'mlp', 'wi_0', "
		"'kernel')\""));
	ck_assert_ptr_nonnull(strstr((char *)text, "\"write_shape\": [4, 2, 5]"));
	free(text);
	free(p);

	/* steps are never overwritten */
	ck_assert_int_eq(orbax_writer_open(root, 9, &o, &w), -EEXIST);
	ck_test_rmtree(tmp);
	free(root);
	free(tmp);
}
END_TEST

START_TEST(orbax_writer_multihost_should_fall_back_to_the_process_db)
{
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct orbax_ckpt *c = NULL;
	char *tmp = ck_test_tmpdir(), *m;
	struct kv_value v;
	const char *key = "params.params.decoder.layers.mlp.wi_0.kernel/c/0/0/0";

	o.layout = ORBAX_LAYOUT_OCDBT_MULTIHOST;
	o.ocdbt.max_inline_value_bytes = 16; /* force out-of-line chunks */
	o.scan_layers = -1;
	write_step(tmp, 3, &o, 1);
	ck_assert_msg(orbax_open(tmp, NULL, &c) == 0, "%s", ck_err_msg());
	check_step(c, 3);
	ck_assert_int_eq(c->scan_layers, -1);
	ck_assert_ptr_null(c->note);
	ck_assert_int_eq(kvstore_get(c->kv, key, strlen(key), &v), 0);
	ck_assert_ptr_null(v.inline_data);
	ck_assert_msg(strstr(v.file, "/3/items/ocdbt.process_0/d/"), "%s",
		      v.file);
	orbax_close(c);

	m = ck_path_join(tmp, "3/items/manifest.ocdbt");
	ck_assert_int_eq(unlink(m), 0);
	ck_assert_msg(orbax_open(tmp, NULL, &c) == 0, "%s", ck_err_msg());
	ck_assert_ptr_nonnull(c->note);
	check_step(c, 3);
	orbax_close(c);
	ck_test_rmtree(tmp);
	free(m);
	free(tmp);
}
END_TEST

START_TEST(orbax_writer_dir_layout_should_read_as_legacy_zarr2)
{
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct orbax_ckpt *c = NULL;
	struct orbax_writer *w = NULL;
	struct zarr_write_spec s = spec_of(3, CK_DT_I32, 0, NULL, NULL);
	char *tmp = ck_test_tmpdir(), *p;
	int32_t one = 1;

	o.layout = ORBAX_LAYOUT_DIR;
	write_step(tmp, 5, &o, 1);
	ck_assert_msg(orbax_open(tmp, NULL, &c) == 0, "%s", ck_err_msg());
	check_step(c, 5);
	ck_assert_str_eq(c->format, "directory/zarr2");
	orbax_close(c);
	p = ck_path_join(tmp, "5/items/step/.zarray");
	ck_assert(ck_is_file(p));
	free(p);

	/* bad and duplicate names, adding after commit */
	ck_assert_int_eq(orbax_writer_open(tmp, 6, &o, &w), 0);
	ck_assert_int_eq(orbax_writer_add(w, "a..b", &s, &one), -EINVAL);
	ck_assert_int_eq(orbax_writer_add(w, "a/b", &s, &one), -EINVAL);
	ck_assert_int_eq(orbax_writer_add(w, "it's", &s, &one), -EINVAL);
	ck_assert_int_eq(orbax_writer_add(w, "opt_state.0.count", &s, &one), 0);
	ck_assert_int_eq(orbax_writer_add(w, "opt_state.0.count", &s, &one),
			 -EINVAL);
	ck_assert_int_eq(orbax_writer_commit(w), 0);
	ck_assert_int_eq(orbax_writer_commit(w), -EINVAL);
	ck_assert_int_eq(orbax_writer_add(w, "x", &s, &one), -EINVAL);
	orbax_writer_free(w);
	orbax_writer_free(NULL);
	p = ck_path_join(tmp, "6/items/_METADATA");
	{
		size_t n;
		uint8_t *text = ck_test_read_file(p, &n);

		ck_assert_ptr_nonnull(strstr((char *)text,
			"{\"key\": \"0\", \"key_type\": 1}"));
		ck_assert_ptr_nonnull(strstr((char *)text,
					     "\"use_ocdbt\": false"));
		free(text);
	}
	free(p);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

/* ---- orbax: streaming adds, scalars, empty leaves ------------------------- */

/* A fill that copies out of a whole array (zarr_fill_whole) and fails at
 * one chunk when asked. */
struct test_fill {
	struct zarr_whole wh;
	int fail;			/* 1: every chunk but the first fails */
	uint64_t calls;			/* atomic */
};

static int test_fill_cb(void *ctx, const uint64_t *idx, const uint64_t *start,
			const uint64_t *count, void *buf)
{
	struct test_fill *f = ctx;

	if (__atomic_fetch_add(&f->calls, 1, __ATOMIC_SEQ_CST) && f->fail)
		return ck_err(-EIO, "the HF tensor is unreadable");
	return zarr_fill_whole(&f->wh, idx, start, count, buf);
}

/* write_step(), the arrays added by orbax_writer_add_cb() on 4 threads. */
static void write_step_cb(const char *root, int64_t step,
			  const struct orbax_writer_opts *o)
{
	static const uint64_t sk[3] = {4, 3, 5}, ck[3] = {4, 2, 5};
	static const uint64_t se[2] = {6, 4}, ce[2] = {4, 4};
	struct zarr_write_spec specs[3];
	struct orbax_writer *w = NULL;

	specs[0] = spec_of(3, CK_DT_F32, 3, sk, ck);
	specs[1] = spec_of(3, CK_DT_BF16, 2, se, ce);
	specs[2] = spec_of(3, CK_DT_I32, 0, NULL, NULL);
	ck_assert_msg(orbax_writer_open(root, step, o, &w) == 0, "%s",
		      ck_err_msg());
	for (int i = 0; i < 3; i++) {
		size_t n;
		uint8_t *d = make_data(&specs[i], &n);
		struct test_fill f = {{&specs[i], d}, 0, 0};

		d[0] = (uint8_t)step;
		ck_assert_msg(orbax_writer_add_cb(w, ckpt_names[i], &specs[i],
						  test_fill_cb, &f, 4) == 0,
			      "%s", ck_err_msg());
		free(d);
	}
	ck_assert_msg(orbax_writer_commit(w) == 0, "%s", ck_err_msg());
	orbax_writer_free(w);
}

struct key_list {
	char **k;
	size_t n;
};

static int list_key(void *ctx, const char *key, size_t keylen,
		    const struct kv_value *v)
{
	struct key_list *l = ctx;

	(void)v;
	l->k = realloc(l->k, (l->n + 1) * sizeof(*l->k));
	ck_assert_ptr_nonnull(l->k);
	l->k[l->n++] = strndup(key, keylen);
	return 0;
}

/* The same keys with the same values in both stores. */
static void assert_same_store(const struct kvstore *a, const struct kvstore *b)
{
	struct key_list la = {NULL, 0}, lb = {NULL, 0};

	ck_assert_int_eq(kvstore_list(a, "", 0, list_key, &la), 0);
	ck_assert_int_eq(kvstore_list(b, "", 0, list_key, &lb), 0);
	ck_assert_uint_eq(la.n, lb.n);
	ck_assert_uint_gt(la.n, 0);
	for (size_t i = 0; i < la.n; i++) {
		size_t na, nb;
		uint8_t *va, *vb;

		ck_assert_str_eq(la.k[i], lb.k[i]);
		va = get_value(a, la.k[i], &na);
		vb = get_value(b, lb.k[i], &nb);
		ck_assert_msg(na == nb && !memcmp(va, vb, na), "%s differs",
			      la.k[i]);
		free(va);
		free(vb);
		free(la.k[i]);
		free(lb.k[i]);
	}
	free(la.k);
	free(lb.k);
}

static void assert_same_file(const char *a, const char *b)
{
	size_t na, nb;
	uint8_t *da = ck_test_read_file(a, &na), *db = ck_test_read_file(b, &nb);

	ck_assert_msg(na == nb && !memcmp(da, db, na), "%s and %s differ", a, b);
	free(da);
	free(db);
}

/* orbax_writer_add_cb() on 4 threads writes what orbax_writer_add() writes,
 * in each layout: the same keys and values in every database (the merged
 * one and each process's), the same _METADATA and array_metadatas. */
START_TEST(orbax_add_cb_should_write_what_add_writes_in_every_layout)
{
	static const char *const files[] = {"_METADATA",
					    "array_metadatas/process_0"};
	char *tmp = ck_test_tmpdir();

	for (int layout = 0; layout < 3; layout++) {
		struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
		char ra[600], rb[600], pa[700], pb[700];
		struct kvstore *ka = NULL, *kb = NULL;

		o.layout = layout;
		o.ocdbt.max_inline_value_bytes = 16; /* chunks out of line */
		if (layout == ORBAX_LAYOUT_OCDBT_MULTIHOST)
			o.ocdbt.processes = 2;
		snprintf(ra, sizeof(ra), "%s/whole%d", tmp, layout);
		snprintf(rb, sizeof(rb), "%s/cb%d", tmp, layout);
		write_step(ra, 4, &o, 1);
		write_step_cb(rb, 4, &o);
		for (int p = -1; p < (layout == ORBAX_LAYOUT_OCDBT_MULTIHOST ? 2 : 0);
		     p++) {
			snprintf(pa, sizeof(pa), "%s/4/items", ra);
			snprintf(pb, sizeof(pb), "%s/4/items", rb);
			if (p >= 0) {
				snprintf(pa + strlen(pa), 40, "/ocdbt.process_%d", p);
				snprintf(pb + strlen(pb), 40, "/ocdbt.process_%d", p);
			}
			if (layout == ORBAX_LAYOUT_DIR) {
				ck_assert_int_eq(kvstore_open_dir(pa, &ka), 0);
				ck_assert_int_eq(kvstore_open_dir(pb, &kb), 0);
			} else {
				ck_assert_msg(open_db(pa, &ka) == 0, "%s", ck_err_msg());
				ck_assert_msg(open_db(pb, &kb) == 0, "%s", ck_err_msg());
			}
			assert_same_store(ka, kb);
			kvstore_free(ka);
			kvstore_free(kb);
		}
		for (size_t f = 0; f < (layout == ORBAX_LAYOUT_DIR ? 1u : 2u); f++) {
			snprintf(pa, sizeof(pa), "%s/4/items/%s", ra, files[f]);
			snprintf(pb, sizeof(pb), "%s/4/items/%s", rb, files[f]);
			assert_same_file(pa, pb);
		}
		{
			struct orbax_ckpt *c = NULL;

			ck_assert_msg(orbax_open(rb, NULL, &c) == 0, "%s", ck_err_msg());
			check_step(c, 4);
			orbax_close(c);
		}
	}
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

/* A fill error fails the add and the writer: nothing is committed, the
 * reader finds no step. */
START_TEST(orbax_add_cb_fill_error_should_leave_no_committed_step)
{
	static const uint64_t sh[2] = {8, 6}, ch[2] = {2, 3};
	struct zarr_write_spec s = spec_of(3, CK_DT_BF16, 2, sh, ch);
	char *tmp = ck_test_tmpdir(), *step;
	struct orbax_writer *w = NULL;
	struct orbax_ckpt *c = NULL;
	size_t n;
	uint8_t *d = make_data(&s, &n);

	for (unsigned threads = 1; threads <= 4; threads += 3) {
		struct test_fill f = {{&s, d}, 1, 0};

		ck_assert_int_eq(orbax_writer_open(tmp, 0, NULL, &w), 0);
		/* refused before anything is written: the writer goes on */
		ck_assert_int_eq(orbax_writer_add(w, "params.params.ok", &s, NULL),
				 -EINVAL);
		ck_assert_int_eq(orbax_writer_add_cb(w, "params.params.ok", &s,
						     NULL, NULL, 2),
				 -EINVAL);
		ck_assert_int_eq(orbax_writer_add(w, "params.params.ok", &s, d), 0);
		ck_assert_int_eq(orbax_writer_add_cb(w, "params.params.bad", &s,
						     test_fill_cb, &f, threads),
				 -EIO);
		ck_assert_msg(strstr(ck_err_msg(), "the HF tensor is unreadable") &&
				      strstr(ck_err_msg(), "params.params.bad"),
			      "%s", ck_err_msg());
		ck_assert_int_eq(orbax_writer_add(w, "params.params.more", &s, d),
				 -EINVAL);
		ck_assert_int_eq(orbax_writer_commit(w), -EINVAL);
		orbax_writer_free(w);
		w = NULL;
	}
	step = ck_path_join(tmp, "0");
	ck_assert(!ck_is_dir(step));
	ck_assert_int_eq(count_entries(tmp, ".orbax-checkpoint-tmp"), 2);
	ck_assert_int_eq(orbax_open(tmp, NULL, &c), -ENOENT);
	free(step);
	free(d);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

static int file_has(const char *path, const char *text)
{
	size_t n;
	uint8_t *d = ck_test_read_file(path, &n);
	int has = strstr((char *)d, text) != NULL;

	free(d);
	return has;
}

/* The parameter-only checkpoint of to_maxtext.py: step 0, the weights
 * under params.params, the scalar `step` and the empty `opt_state`. */
START_TEST(orbax_param_only_checkpoint_should_read_back_like_maxtext)
{
	static const uint64_t sk[3] = {4, 3, 10}, ck[3] = {4, 2, 5};
	static const uint64_t se[2] = {6, 4}, ce[2] = {4, 4};
	static const char *const names[2] = {
		"params.params.decoder.layers.mlp.wi_0.kernel",
		"params.params.token_embedder.embedding",
	};
	struct zarr_write_spec specs[2];
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *w = NULL;
	struct orbax_ckpt *c = NULL;
	struct kv_value kvv;
	struct zarr_info info;
	const struct orbax_array *a;
	char *tmp = ck_test_tmpdir(), p[700];
	uint64_t zero[3] = {0};
	int64_t step = -1;
	uint8_t *text;
	size_t n;

	specs[0] = spec_of(3, CK_DT_BF16, 3, sk, ck);
	specs[0].zstd_level = -1;	/* uncompressed */
	specs[1] = spec_of(3, CK_DT_BF16, 2, se, ce);
	o.scan_layers = 1;
	o.sharding_device = "cpu:0";
	ck_assert_int_eq(orbax_writer_open(tmp, 0, &o, &w), 0);
	for (int i = 0; i < 2; i++) {
		uint8_t *d = make_data(&specs[i], &n);
		struct test_fill f = {{&specs[i], d}, 0, 0};

		ck_assert_msg(orbax_writer_add_cb(w, names[i], &specs[i],
						  test_fill_cb, &f, 4) == 0,
			      "%s", ck_err_msg());
		free(d);
	}
	ck_assert_msg(orbax_writer_add_param_only_leaves(w, 3) == 0, "%s",
		      ck_err_msg());
	/* the leaves now taken */
	ck_assert_int_eq(orbax_writer_add_empty(w, "opt_state", "Dict"), -EINVAL);
	ck_assert_int_eq(orbax_writer_add_scalar(w, "opt_state.0.count", 1, 3),
			 -EINVAL);
	ck_assert_int_eq(orbax_writer_add_scalar(w, "params", 1, 3), -EINVAL);
	ck_assert_int_eq(orbax_writer_add_empty(w, "x", "Set"), -EINVAL);
	ck_assert_int_eq(orbax_writer_commit(w), 0);
	orbax_writer_free(w);

	snprintf(p, sizeof(p), "%s/0/items/_METADATA", tmp);
	text = ck_test_read_file(p, &n);
	ck_assert_msg(strstr((char *)text,
		"{\"tree_metadata\": {\"('opt_state',)\": {\"key_metadata\": "
		"[{\"key\": \"opt_state\", \"key_type\": 2}], \"value_metadata\": "
		"{\"value_type\": \"Dict\", \"skip_deserialize\": true}}, "
		"\"('params', 'params', 'decoder', ") != NULL, "%s", text);
	ck_assert_msg(strstr((char *)text,
		"\"('step',)\": {\"key_metadata\": [{\"key\": \"step\", "
		"\"key_type\": 2}], \"value_metadata\": {\"value_type\": "
		"\"scalar\", \"skip_deserialize\": false}}}, \"use_ocdbt\": true, "
		"\"use_zarr3\": true, ") != NULL, "%s", text);
	free(text);
	snprintf(p, sizeof(p), "%s/0/items/array_metadatas/process_0", tmp);
	ck_assert(file_has(p, names[0]) && file_has(p, names[1]));
	ck_assert(!file_has(p, "\"step\""));
	snprintf(p, sizeof(p), "%s/0/items/_sharding", tmp);
	text = ck_test_read_file(p, &n);
	/* base64url of the two names, sorted ("...cy50" < "...cy5k") */
	ck_assert_str_eq((char *)text,
		"{\"cGFyYW1zLnBhcmFtcy50b2tlbl9lbWJlZGRlci5lbWJlZGRpbmc=\":"
		"\"{\\\"sharding_type\\\": \\\"SingleDeviceSharding\\\", "
		"\\\"device_str\\\": \\\"cpu:0\\\"}\","
		"\"cGFyYW1zLnBhcmFtcy5kZWNvZGVyLmxheWVycy5tbHAud2lfMC5rZXJuZWw=\":"
		"\"{\\\"sharding_type\\\": \\\"SingleDeviceSharding\\\", "
		"\\\"device_str\\\": \\\"cpu:0\\\"}\"}");
	free(text);

	ck_assert_msg(orbax_open(tmp, NULL, &c) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(c->step, 0);
	ck_assert_int_eq(c->scan_layers, 1);
	ck_assert_uint_eq(c->narrays, 3);
	ck_assert_ptr_null(orbax_find(c, "opt_state"));
	ck_assert_int_eq(kvstore_get(c->kv, "opt_state", 9, &kvv), -ENOENT);
	a = orbax_find(c, "step");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(orbax_array_info(a, &info), 0);
	ck_assert_int_eq(info.dtype, CK_DT_I64);
	ck_assert_uint_eq(info.rank, 0);
	ck_assert_int_eq(orbax_array_read(a, zero, zero, &step), 0);
	ck_assert_int_eq(step, 0);
	for (int i = 0; i < 2; i++) {
		uint8_t *want = make_data(&specs[i], &n), *got = malloc(n);

		a = orbax_find(c, names[i]);
		ck_assert_ptr_nonnull(a);
		ck_assert_msg(orbax_array_read(a, zero, specs[i].shape, got) == 0,
			      "%s", ck_err_msg());
		ck_assert_mem_eq(got, want, n);
		free(want);
		free(got);
	}
	/* the uncompressed array names no zstd codec; the other does */
	snprintf(p, sizeof(p), "%s/zarr.json", names[0]);
	text = get_value(c->kv, p, &n);
	ck_assert_ptr_null(strstr((char *)text, "zstd"));
	free(text);
	snprintf(p, sizeof(p), "%s/zarr.json", names[1]);
	text = get_value(c->kv, p, &n);
	ck_assert_ptr_nonnull(strstr((char *)text, "\"name\":\"zstd\""));
	free(text);
	text = get_value(c->kv, "step/zarr.json", &n);
	ck_assert_ptr_nonnull(strstr((char *)text, "\"data_type\":\"int64\""));
	free(text);
	orbax_close(c);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

/* Arrays "a" (int32 0..7) and "b.c" (int32 1, 2, 3) as the real Orbax V1
 * fixture holds them: _METADATA, _sharding and array_metadatas/process_0
 * byte for byte, and the same keys' values. */
START_TEST(orbax_writer_metadata_should_match_the_real_orbax_fixture)
{
	static const uint64_t s8[1] = {8}, s3[1] = {3};
	static const char *const files[] = {"_METADATA", "_sharding",
					    "array_metadatas/process_0"};
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct zarr_write_spec sa = spec_of(3, CK_DT_I32, 1, s8, s8);
	struct zarr_write_spec sb = spec_of(3, CK_DT_I32, 1, s3, s3);
	int32_t a[8] = {0, 1, 2, 3, 4, 5, 6, 7}, b[3] = {1, 2, 3};
	struct test_fill fa = {{&sa, a}, 0, 0}, fb = {{&sb, b}, 0, 0};
	struct orbax_writer *w = NULL;
	struct kvstore *real = NULL, *kv = NULL;
	char *tmp, *fix, p[700], q[700];

	if (!ck_test_fixtures())
		return;
	tmp = ck_test_tmpdir();
	fix = ck_test_fixture(V1_STATE);
	o.layout = ORBAX_LAYOUT_OCDBT_MULTIHOST;
	o.sharding_device = "cpu:0";
	ck_assert_int_eq(orbax_writer_open(tmp, 1, &o, &w), 0);
	ck_assert_int_eq(orbax_writer_add_cb(w, "b.c", &sb, test_fill_cb, &fb, 2), 0);
	ck_assert_int_eq(orbax_writer_add_cb(w, "a", &sa, test_fill_cb, &fa, 2), 0);
	ck_assert_int_eq(orbax_writer_commit(w), 0);
	orbax_writer_free(w);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", fix, files[i]);
		snprintf(q, sizeof(q), "%s/1/items/%s", tmp, files[i]);
		assert_same_file(p, q);
	}
	snprintf(q, sizeof(q), "%s/1/items", tmp);
	ck_assert_int_eq(open_db(q, &kv), 0);
	ck_assert_int_eq(open_db(fix, &real), 0);
	check_array(real, "a", &sa, a, sizeof(a));
	check_array(kv, "a", &sa, a, sizeof(a));
	check_array(real, "b.c", &sb, b, sizeof(b));
	check_array(kv, "b.c", &sb, b, sizeof(b));
	/* the values too: zarr.json, and the chunks (zstd keeps inputs this
	 * small in a raw block: the same frame as Orbax's) */
	for (size_t i = 0; i < 4; i++) {
		static const char *const keys[] = {"a/zarr.json", "a/c/0",
						   "b.c/zarr.json", "b.c/c/0"};
		size_t wn, gn;
		uint8_t *want = get_value(real, keys[i], &wn);
		uint8_t *got = get_value(kv, keys[i], &gn);

		ck_assert_msg(wn == gn && !memcmp(want, got, wn), "%s differs",
			      keys[i]);
		free(want);
		free(got);
	}
	kvstore_free(real);
	kvstore_free(kv);
	ck_test_rmtree(tmp);
	free(fix);
	free(tmp);
}
END_TEST

/* The options' progress callback: each array's chunks, up to its total, on
 * the adding thread; an error from it fails the writer. */
struct progress_log {
	char last_name[200];
	uint64_t calls, done, total, stop_at;
	int arrays, bad;
};

static int progress_log_cb(void *ctx, const char *name, uint64_t done,
			   uint64_t total)
{
	struct progress_log *l = ctx;

	if (strcmp(name, l->last_name)) {
		snprintf(l->last_name, sizeof(l->last_name), "%s", name);
		l->arrays++;
	} else if (done <= l->done) {
		l->bad = 1;
	}
	l->done = done;
	l->total = total;
	if (++l->calls == l->stop_at)
		return ck_err(-EINTR, "interrupted");
	return 0;
}

START_TEST(orbax_progress_should_count_each_array_and_stop_on_error)
{
	static const uint64_t sh[2] = {10, 6}, ch[2] = {4, 4};
	struct zarr_write_spec s = spec_of(3, CK_DT_F32, 2, sh, ch);
	struct orbax_writer_opts o = ORBAX_WRITER_OPTS_INIT;
	struct progress_log log;
	struct orbax_writer *w = NULL;
	char *tmp = ck_test_tmpdir();
	size_t n;
	uint8_t *d = make_data(&s, &n);
	struct test_fill f = {{&s, d}, 0, 0};

	memset(&log, 0, sizeof(log));
	o.progress = progress_log_cb;
	o.progress_ctx = &log;
	ck_assert_int_eq(orbax_writer_open(tmp, 2, &o, &w), 0);
	ck_assert_int_eq(orbax_writer_add_cb(w, "x", &s, test_fill_cb, &f, 3), 0);
	ck_assert_uint_eq(log.calls, 6);
	ck_assert_uint_eq(log.done, n);
	ck_assert_uint_eq(log.total, n);
	ck_assert_int_eq(orbax_writer_add(w, "y", &s, d), 0);
	ck_assert_uint_eq(log.calls, 12);
	ck_assert_int_eq(log.arrays, 2);
	ck_assert_uint_eq(log.done, n);
	log.stop_at = 14;
	ck_assert_int_eq(orbax_writer_add_cb(w, "z", &s, test_fill_cb, &f, 3),
			 -EINTR);
	ck_assert_int_eq(log.bad, 0);
	ck_assert_int_eq(orbax_writer_commit(w), -EINVAL);
	orbax_writer_free(w);
	free(d);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ocdbt_writer_should_round_trip_500_keys_through_a_deep_tree);
	tcase_add_test(tc, ocdbt_writer_should_make_one_root_leaf_and_an_empty_database);
	tcase_add_test(tc, ocdbt_writer_should_put_values_under_a_data_base_like_multihost);
	tcase_add_test(tc, ocdbt_writer_should_refuse_duplicates_existing_dbs_and_bad_opts);
	tcase_add_test(tc, zarr3_arrays_should_read_back_through_ocdbt);
	tcase_add_test(tc, zarr3_metadata_should_match_the_real_orbax_fixture);
	tcase_add_test(tc, ocdbt_writer_should_encode_the_real_orbax_root_leaf_byte_for_byte);
	tcase_add_test(tc, zarr2_arrays_should_read_back_from_a_directory_and_ocdbt);
	tcase_add_test(tc, zarr_writer_should_reject_bad_specs);
	tcase_add_test(tc, orbax_writer_should_write_steps_the_reader_picks);
	tcase_add_test(tc, orbax_writer_multihost_should_fall_back_to_the_process_db);
	tcase_add_test(tc, orbax_writer_dir_layout_should_read_as_legacy_zarr2);
	tcase_add_test(tc, large_chunks_should_visit_streaming_as_they_read_whole);
	tcase_add_test(tc, orbax_add_cb_should_write_what_add_writes_in_every_layout);
	tcase_add_test(tc, orbax_add_cb_fill_error_should_leave_no_committed_step);
	tcase_add_test(tc, orbax_param_only_checkpoint_should_read_back_like_maxtext);
	tcase_add_test(tc, orbax_writer_metadata_should_match_the_real_orbax_fixture);
	tcase_add_test(tc, orbax_progress_should_count_each_array_and_stop_on_error);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
