/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the zarr layer: data types, metadata parsing, shard indexes,
 * box reads of the real fixtures and of synthetic arrays written here.
 *
 * Expected values come from the fixtures README or from index formulas
 * (element = its C-order linear index in the whole array), never from the
 * code under test.  Synthetic chunks are encoded here: transposes, byte
 * swaps and shard layouts by hand, compression with the codecs' encoders.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ck_test.h"
#include "codec/codec.h"
#include "kvstore/kvstore.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_dtype.h"
#include "zarr/zarr_meta.h"
#include "zarr/zarr_shard.h"

#define ZARRS "zarrs-sharded/sharded_array_write_read.zarr"
#define V1_STATE                                                              \
	"orbax-compat/v1_checkpoints/composite_checkpoint/"                   \
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata/state"
#define V0_ITEM                                                               \
	"orbax-compat/v0_checkpoints/direct_checkpoint/"                      \
	"checkpoint_metadata_present/pytree_checkpointable_has_metadata"
#define OME "neuroglancer-ocdbt/ome_zarr/simple_0.5.ocdbt"

/* ------------------------------------------------------------------ */
/* Helpers */

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* Write dir/rel, creating parent directories. */
static void put(const char *dir, const char *rel, const void *p, size_t n)
{
	char path[4096];
	char *s;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	ck_test_write_file(path, p, n);
}

static void put_str(const char *dir, const char *rel, const char *s)
{
	put(dir, rel, s, strlen(s));
}

static void put_buf(const char *dir, const char *rel, struct ck_buf *b)
{
	put(dir, rel, b->data ? (const void *)b->data : "", b->len);
}

static void encode(const char *codec, const void *src, size_t n,
		   unsigned typesize, struct ck_buf *out)
{
	const struct codec *c = codec_find(codec);
	struct codec_params p = { .level = 3, .typesize = typesize };

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c->encode);
	ck_assert_int_eq(c->encode(&p, src, n, out), 0);
}

static struct kvstore *open_dir(const char *dir)
{
	struct kvstore *kv = NULL;

	ck_assert_msg(kvstore_open_dir(dir, &kv) == 0, "open %s: %s", dir,
		      ck_err_msg());
	return kv;
}

static struct kvstore *open_ocdbt(const char *rel)
{
	char *p = ck_test_fixture(rel);
	const char *dirs[1] = { p };
	struct kvstore *kv = NULL;

	ck_assert_msg(kvstore_open_ocdbt(dirs, 1, 0, &kv) == 0, "open %s: %s", p,
		      ck_err_msg());
	free(p);
	return kv;
}

static struct zarr_array *open_array(const struct kvstore *kv, const char *name)
{
	struct zarr_array *a = NULL;

	ck_assert_msg(zarr_array_open(kv, name, &a) == 0, "open '%s': %s", name,
		      ck_err_msg());
	return a;
}

/* Element kinds of synthetic arrays: value of element with linear index i. */
enum elem_kind { EK_INT, EK_BF16, EK_F16 };

static void elem(enum elem_kind k, uint64_t lin, size_t isz, uint8_t *out)
{
	uint16_t h;
	size_t i;

	switch (k) {
	case EK_BF16:	/* exact for small integers: the top half of float32 */
		h = (uint16_t)(f32_bits((float)lin) >> 16);
		memcpy(out, &h, 2);
		return;
	case EK_F16:	/* any bit pattern: the reader copies bytes */
		h = (uint16_t)(0x3c00 + lin);
		memcpy(out, &h, 2);
		return;
	case EK_INT:
		for (i = 0; i < isz; i++)
			out[i] = (uint8_t)(i < 8 ? lin >> (8 * i) : 0);
		return;
	}
}

/*
 * The decoded C-order bytes of the chunk at grid cell `cell`: element = its
 * global linear index, 0xee bytes past the array edge.
 */
static uint8_t *make_chunk(unsigned rank, const uint64_t *shape,
			   const uint64_t *chunk, const uint64_t *cell,
			   size_t isz, enum elem_kind k, size_t *nbytes)
{
	uint64_t n = 1, e, pos[8];
	uint8_t *b;
	unsigned d;

	for (d = 0; d < rank; d++)
		n *= chunk[d];
	b = malloc(n * isz);
	ck_assert_ptr_nonnull(b);
	for (e = 0; e < n; e++) {
		uint64_t rem = e, lin = 0;
		int inside = 1;

		for (d = rank; d-- > 0;) {
			pos[d] = cell[d] * chunk[d] + rem % chunk[d];
			rem /= chunk[d];
		}
		for (d = 0; d < rank; d++) {
			inside &= pos[d] < shape[d];
			lin = lin * shape[d] + pos[d];
		}
		if (inside)
			elem(k, lin, isz, b + e * isz);
		else
			memset(b + e * isz, 0xee, isz);
	}
	*nbytes = n * isz;
	return b;
}

/* Read box [start, start+count) and compare with the index formula. */
static void check_box(const struct zarr_array *a, unsigned rank,
		      const uint64_t *shape, const uint64_t *start,
		      const uint64_t *count, size_t isz, enum elem_kind k)
{
	uint64_t n = 1, e, pos[8];
	uint8_t *buf, want[16];
	unsigned d;
	int err;

	for (d = 0; d < rank; d++)
		n *= count[d];
	buf = malloc(n * isz + 1);
	ck_assert_ptr_nonnull(buf);
	err = zarr_array_read(a, start, count, buf);
	ck_assert_msg(err == 0, "read: %d %s", err, ck_err_msg());
	for (e = 0; e < n; e++) {
		uint64_t rem = e, lin = 0;

		for (d = rank; d-- > 0;) {
			pos[d] = start[d] + rem % count[d];
			rem /= count[d];
		}
		for (d = 0; d < rank; d++)
			lin = lin * shape[d] + pos[d];
		elem(k, lin, isz, want);
		ck_assert_msg(memcmp(buf + e * isz, want, isz) == 0,
			      "element %llu (linear %llu) differs",
			      (unsigned long long)e, (unsigned long long)lin);
	}
	free(buf);
}

static void check_all(const struct zarr_array *a, unsigned rank,
		      const uint64_t *shape, size_t isz, enum elem_kind k)
{
	uint64_t zero[8] = { 0 };

	check_box(a, rank, shape, zero, shape, isz, k);
}

static void swap_elems(uint8_t *p, size_t n, size_t isz)
{
	size_t i, j;

	for (i = 0; i < n; i += isz)
		for (j = 0; j < isz / 2; j++) {
			uint8_t t = p[i + j];

			p[i + j] = p[i + isz - 1 - j];
			p[i + isz - 1 - j] = t;
		}
}

/* Transpose a 2-D C-order [r][c] buffer into [c][r] (= its F order). */
static uint8_t *transpose2(const uint8_t *in, uint64_t r, uint64_t c, size_t isz)
{
	uint8_t *out = malloc(r * c * isz);
	uint64_t i, j;

	ck_assert_ptr_nonnull(out);
	for (i = 0; i < r; i++)
		for (j = 0; j < c; j++)
			memcpy(out + (j * r + i) * isz, in + (i * c + j) * isz, isz);
	return out;
}

static void put_u64le(struct ck_buf *b, uint64_t v)
{
	uint8_t t[8];
	int i;

	for (i = 0; i < 8; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	ck_assert_int_eq(ck_buf_append(b, t, 8), 0);
}

/*
 * Build a shard from k encoded inner chunks (NULL = missing), storing them
 * in reverse order, with a bytes(little)+crc32c index at start or end.
 */
static void build_shard(struct ck_buf *inner, int *present, size_t k,
			int at_start, struct ck_buf *out)
{
	struct ck_buf idx = CK_BUF_INIT, data = CK_BUF_INIT;
	uint64_t *off = calloc(k, 8), base;
	uint32_t crc;
	uint8_t t[4];
	size_t i;

	base = at_start ? 16 * k + 4 : 0;
	for (i = k; i-- > 0;) {
		if (!present[i])
			continue;
		off[i] = base + data.len;
		ck_assert_int_eq(ck_buf_append(&data, inner[i].data, inner[i].len), 0);
	}
	for (i = 0; i < k; i++) {
		put_u64le(&idx, present[i] ? off[i] : UINT64_MAX);
		put_u64le(&idx, present[i] ? inner[i].len : UINT64_MAX);
	}
	crc = crc32c(0, idx.data, idx.len);
	for (i = 0; i < 4; i++)
		t[i] = (uint8_t)(crc >> (8 * i));
	ck_buf_append(&idx, t, 4);
	if (at_start) {
		ck_buf_append(out, idx.data, idx.len);
		ck_buf_append(out, data.data, data.len);
	} else {
		ck_buf_append(out, data.data, data.len);
		ck_buf_append(out, idx.data, idx.len);
	}
	ck_buf_release(&idx);
	ck_buf_release(&data);
	free(off);
}

/* ------------------------------------------------------------------ */
/* Data types */

START_TEST(bf16_should_round_to_nearest_even_and_keep_nan)
{
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x3f800000u)), 0x3f80);
	ck_assert_uint_eq(ck_f32_to_bf16(1.00390625f), 0x3f80);	/* tie, even */
	ck_assert_uint_eq(f32_bits(1.00390625f), 0x3f808000u);
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x3f818000u)), 0x3f82); /* tie, up */
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x3f808001u)), 0x3f81);
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x3f807fffu)), 0x3f80);
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0xbf818000u)), 0xbf82);
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x7f800000u)), 0x7f80);
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0xff800000u)), 0xff80);
	/* The largest finite float32 rounds up to inf. */
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x7f7fffffu)), 0x7f80);
	/* NaNs whose payload is only in the low bits must stay NaN. */
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x7f800001u)) & 0x7fff, 0x7fc0);
	ck_assert_uint_eq(ck_f32_to_bf16(bits_f32(0x7fffffffu)) & 0x7f80, 0x7f80);
	ck_assert_uint_ne(ck_f32_to_bf16(bits_f32(0x7fffffffu)) & 0x7f, 0);
	ck_assert_uint_eq(f32_bits(ck_bf16_to_f32(0x3f80)), 0x3f800000u);
	ck_assert_uint_eq(f32_bits(ck_bf16_to_f32(0xc049)), 0xc0490000u);
}
END_TEST

START_TEST(f16_should_convert_both_ways_with_rne)
{
	ck_assert_uint_eq(ck_f32_to_f16(1.0f), 0x3c00);
	ck_assert_uint_eq(ck_f32_to_f16(-2.0f), 0xc000);
	ck_assert_uint_eq(ck_f32_to_f16(65504.0f), 0x7bff);
	ck_assert_uint_eq(ck_f32_to_f16(65520.0f), 0x7c00);	/* tie to inf */
	ck_assert_uint_eq(ck_f32_to_f16(65519.0f), 0x7bff);
	ck_assert_uint_eq(ck_f32_to_f16(bits_f32(0x7f800000u)), 0x7c00);
	ck_assert_uint_eq(ck_f32_to_f16(0.0f), 0x0000);
	ck_assert_uint_eq(ck_f32_to_f16(-0.0f), 0x8000);
	/* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1). */
	ck_assert_uint_eq(ck_f32_to_f16(1.00048828125f), 0x3c00);
	/* 1 + 3*2^-11 ties up to 1 + 2^-9. */
	ck_assert_uint_eq(ck_f32_to_f16(1.00146484375f), 0x3c02);
	/* Subnormals: 2^-24 is the smallest, 2^-25 ties to 0, 1.5*2^-24 to 2. */
	ck_assert_uint_eq(ck_f32_to_f16(5.9604644775390625e-08f), 0x0001);
	ck_assert_uint_eq(ck_f32_to_f16(2.98023223876953125e-08f), 0x0000);
	ck_assert_uint_eq(ck_f32_to_f16(8.94069671630859375e-08f), 0x0002);
	ck_assert_uint_eq(ck_f32_to_f16(6.103515625e-05f), 0x0400);
	ck_assert_uint_eq(ck_f32_to_f16(bits_f32(0x7f800001u)) & 0x7e00, 0x7e00);
	ck_assert(ck_f16_to_f32(0x3c00) == 1.0f);
	ck_assert(ck_f16_to_f32(0xc000) == -2.0f);
	ck_assert(ck_f16_to_f32(0x7bff) == 65504.0f);
	ck_assert(ck_f16_to_f32(0x0001) == 5.9604644775390625e-08f);
	ck_assert(ck_f16_to_f32(0x03ff) == 6.0975551605224609375e-05f);
	ck_assert_uint_eq(f32_bits(ck_f16_to_f32(0x7c00)), 0x7f800000u);
	ck_assert_uint_eq(f32_bits(ck_f16_to_f32(0x8000)), 0x80000000u);
	ck_assert(ck_f16_to_f32(0x7e00) != ck_f16_to_f32(0x7e00));	/* NaN */
}
END_TEST

START_TEST(dtype_tables_should_name_v2_and_v3_types)
{
	int big = -1;

	ck_assert_int_eq(ck_dtype_from_v3("bfloat16"), CK_DT_BF16);
	ck_assert_int_eq(ck_dtype_from_v3("complex128"), CK_DT_C128);
	ck_assert_int_eq(ck_dtype_from_v3("int4"), CK_DT_INVALID);
	ck_assert_int_eq(ck_dtype_from_v2("<f4", &big), CK_DT_F32);
	ck_assert_int_eq(big, 0);
	ck_assert_int_eq(ck_dtype_from_v2(">i8", &big), CK_DT_I64);
	ck_assert_int_eq(big, 1);
	ck_assert_int_eq(ck_dtype_from_v2("|b1", &big), CK_DT_BOOL);
	ck_assert_int_eq(ck_dtype_from_v2("bfloat16", &big), CK_DT_BF16);
	ck_assert_int_eq(ck_dtype_from_v2("|i4", &big), CK_DT_INVALID);
	ck_assert_int_eq(ck_dtype_from_v2("<U8", &big), CK_DT_INVALID);
	ck_assert_uint_eq(ck_dtype_size(CK_DT_C128), 16);
	ck_assert_uint_eq(ck_dtype_size(CK_DT_INVALID), 0);
	ck_assert_str_eq(ck_dtype_safetensors(CK_DT_BF16), "BF16");
	ck_assert_ptr_null(ck_dtype_numpy(CK_DT_BF16));
	ck_assert_str_eq(ck_dtype_numpy(CK_DT_I32), "<i4");
	ck_assert_int_eq(ck_dtype_is_float(CK_DT_BF16), 1);
	ck_assert_int_eq(ck_dtype_is_float(CK_DT_I8), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Metadata */

static int parse3(const char *text, struct zarr_meta **m)
{
	return zarr_meta_parse(text, strlen(text), 3, m);
}

#define V3_HEAD(dtype, shape, chunk)                                          \
	"{\"zarr_format\":3,\"node_type\":\"array\",\"data_type\":\"" dtype     \
	"\",\"shape\":" shape ",\"chunk_grid\":{\"name\":\"regular\","          \
	"\"configuration\":{\"chunk_shape\":" chunk "}},"                       \
	"\"chunk_key_encoding\":{\"name\":\"default\"},"

START_TEST(meta_should_parse_the_orbax_zarr3_layout)
{
	static const char *t =
		V3_HEAD("int32", "[8]", "[8]")
		"\"codecs\":[{\"configuration\":{\"chunk_shape\":[8],"
		"\"codecs\":[{\"configuration\":{\"endian\":\"little\"},\"name\":\"bytes\"},"
		"{\"configuration\":{\"checksum\":false,\"level\":3},\"name\":\"zstd\"}],"
		"\"index_codecs\":[{\"configuration\":{\"endian\":\"little\"},\"name\":\"bytes\"},"
		"{\"name\":\"crc32c\"}]},\"name\":\"sharding_indexed\"}],"
		"\"fill_value\":0}";
	struct zarr_meta *m = NULL;
	char key[64];
	uint64_t idx[1] = { 0 };

	ck_assert_msg(parse3(t, &m) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(m->dtype, CK_DT_I32);
	ck_assert_uint_eq(m->rank, 1);
	ck_assert_uint_eq(m->nbytes, 32);
	ck_assert_ptr_nonnull(m->codecs->shard);
	ck_assert_uint_eq(m->codecs->shard->k, 1);
	ck_assert_uint_eq(m->codecs->shard->index_bytes, 20);
	ck_assert_int_eq(m->codecs->shard->index_at_start, 0);
	ck_assert_uint_eq(m->codecs->shard->inner->nb2b, 1);
	ck_assert_str_eq(m->codecs->shard->inner->b2b[0].codec->name, "zstd");
	ck_assert_int_eq(zarr_meta_chunk_key(m, idx, key, sizeof(key)), 3);
	ck_assert_str_eq(key, "c/0");
	ck_assert_int_eq(zarr_meta_parse_chunk_key(m, "c/0", 3, idx), 0);
	ck_assert_int_eq(zarr_meta_parse_chunk_key(m, "c/1", 3, idx), -ENOENT);
	ck_assert_int_eq(zarr_meta_parse_chunk_key(m, "zarr.json", 9, idx), -ENOENT);
	ck_assert_int_eq(zarr_meta_parse_chunk_key(m, "c/00", 4, idx), -ENOENT);
	zarr_meta_free(m);
}
END_TEST

START_TEST(meta_should_parse_fill_values)
{
	struct {
		const char *dtype, *fill;
		uint8_t want[8];
		size_t n;
	} cases[] = {
		{ "float32", "\"NaN\"", { 0x00, 0x00, 0xc0, 0x7f }, 4 },
		{ "float32", "\"-Infinity\"", { 0x00, 0x00, 0x80, 0xff }, 4 },
		{ "float32", "\"0x7fc00001\"", { 0x01, 0x00, 0xc0, 0x7f }, 4 },
		{ "float32", "1.5", { 0x00, 0x00, 0xc0, 0x3f }, 4 },
		{ "bfloat16", "1.0", { 0x80, 0x3f }, 2 },
		{ "bfloat16", "\"Infinity\"", { 0x80, 0x7f }, 2 },
		{ "float16", "-2.0", { 0x00, 0xc0 }, 2 },
		{ "int16", "-2", { 0xfe, 0xff }, 2 },
		{ "uint64", "18446744073709549568",
		  { 0x00, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8 },
		{ "bool", "true", { 1 }, 1 },
		{ "complex64", "[1.0, \"NaN\"]",
		  { 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x7f }, 8 },
	};
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zarr_meta *m = NULL;

		snprintf(text, sizeof(text),
			 "{\"zarr_format\":3,\"node_type\":\"array\",\"data_type\":\"%s\","
			 "\"shape\":[2],\"chunk_grid\":{\"name\":\"regular\","
			 "\"configuration\":{\"chunk_shape\":[2]}},"
			 "\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":%s}",
			 cases[i].dtype, cases[i].fill);
		ck_assert_msg(parse3(text, &m) == 0, "%s: %s", cases[i].fill, ck_err_msg());
		ck_assert_msg(memcmp(m->fill, cases[i].want, cases[i].n) == 0,
			      "fill %s of %s", cases[i].fill, cases[i].dtype);
		ck_assert_int_eq(m->has_fill, 1);
		zarr_meta_free(m);
	}
}
END_TEST

START_TEST(meta_should_reject_an_unknown_codec_naming_it)
{
	static const char *t = V3_HEAD("int32", "[8]", "[8]")
		"\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"foo\"}],\"fill_value\":0}";
	struct zarr_meta *m = NULL;

	ck_assert_int_eq(parse3(t, &m), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "unknown codec 'foo'"));
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(meta_should_reject_bad_shapes)
{
	static const char *over = V3_HEAD("int64", "[4294967296, 4294967296, 16]",
					   "[1, 1, 16]")
		"\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}";
	static const char *zero = V3_HEAD("int64", "[4, 4]", "[2, 0]")
		"\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}";
	static const char *big_chunk = V3_HEAD("int64", "[65536, 65536]",
					       "[65536, 65536]")
		"\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}";
	static const char *mismatch = V3_HEAD("int64", "[4, 4]", "[2]")
		"\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}";
	struct zarr_meta *m = NULL;
	char text[2048], dims[512] = "";
	int i;

	ck_assert_int_eq(parse3(over, &m), -EOVERFLOW);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "shape"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "overflows"));
	ck_assert_int_eq(parse3(zero, &m), -EINVAL);
	ck_assert_int_eq(parse3(big_chunk, &m), -EOVERFLOW);
	ck_assert_int_eq(parse3(mismatch, &m), -EINVAL);
	for (i = 0; i < 33; i++)
		strcat(dims, i ? ",1" : "1");
	snprintf(text, sizeof(text),
		 "{\"zarr_format\":3,\"node_type\":\"array\",\"data_type\":\"int8\","
		 "\"shape\":[%s],\"chunk_grid\":{\"name\":\"regular\","
		 "\"configuration\":{\"chunk_shape\":[%s]}},"
		 "\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}", dims, dims);
	ck_assert_int_lt(parse3(text, &m), 0);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "32"));
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(meta_should_reject_malformed_documents)
{
	static const char *bad[] = {
		"{\"zarr_format\":3,\"node_type\":\"group\"}",
		V3_HEAD("int4", "[8]", "[8]") "\"codecs\":[{\"name\":\"bytes\"}]}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[]}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[{\"name\":\"zstd\"},{\"name\":\"bytes\"}]}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"transpose\",\"configuration\":{\"order\":[0]}}]}",
		V3_HEAD("int32", "[8,8]", "[8,8]") "\"codecs\":[{\"name\":\"transpose\",\"configuration\":{\"order\":[0,0]}},{\"name\":\"bytes\"}]}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[{\"name\":\"sharding_indexed\",\"configuration\":{\"chunk_shape\":[3],\"codecs\":[{\"name\":\"bytes\"}],\"index_codecs\":[{\"name\":\"bytes\"}]}}]}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"middle\"}}]}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":2147483648}",
		V3_HEAD("int32", "[8]", "[8]") "\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":\"NaN\"}",
		"[1,2,3]",
		"{\"zarr_format\":3,",
	};
	struct zarr_meta *m = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = parse3(bad[i], &m);

		ck_assert_msg(err == -EINVAL || err == -ENOTSUP || (i == 0 && err == -EISDIR),
			      "case %zu: %d", i, err);
		ck_assert_ptr_null(m);
	}
}
END_TEST

START_TEST(meta_should_cap_nested_sharding_depth)
{
	char text[8192], inner[8000] = "[{\"name\":\"bytes\"}]";
	struct zarr_meta *m = NULL;
	int i;

	for (i = 0; i < 6; i++) {
		char tmp[8000];

		snprintf(tmp, sizeof(tmp),
			 "[{\"name\":\"sharding_indexed\",\"configuration\":{\"chunk_shape\":[8],"
			 "\"codecs\":%s,\"index_codecs\":[{\"name\":\"bytes\"}]}}]", inner);
		strcpy(inner, tmp);
	}
	snprintf(text, sizeof(text), V3_HEAD("int32", "[8]", "[8]") "\"codecs\":%s}", inner);
	ck_assert_int_eq(parse3(text, &m), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "nested"));
}
END_TEST

START_TEST(meta_should_parse_v2_zarray)
{
	static const char *t =
		"{\"chunks\":[8],\"compressor\":{\"id\":\"zstd\",\"level\":1},"
		"\"dimension_separator\":\".\",\"dtype\":\"<i4\",\"fill_value\":null,"
		"\"filters\":null,\"order\":\"C\",\"shape\":[8],\"zarr_format\":2}";
	static const char *filt =
		"{\"chunks\":[8],\"compressor\":null,\"dtype\":\"<i4\",\"fill_value\":0,"
		"\"filters\":[{\"id\":\"delta\"}],\"order\":\"C\",\"shape\":[8],\"zarr_format\":2}";
	static const char *unk =
		"{\"chunks\":[8],\"compressor\":{\"id\":\"bz2\"},\"dtype\":\"<i4\","
		"\"fill_value\":0,\"filters\":null,\"order\":\"C\",\"shape\":[8],\"zarr_format\":2}";
	struct zarr_meta *m = NULL;

	ck_assert_msg(zarr_meta_parse(t, strlen(t), 2, &m) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(m->has_fill, 0);
	ck_assert_int_eq(m->key_c_prefix, 0);
	ck_assert_int_eq(m->key_sep, '.');
	ck_assert_uint_eq(m->codecs->nb2b, 1);
	zarr_meta_free(m);
	m = NULL;
	ck_assert_int_eq(zarr_meta_parse(filt, strlen(filt), 2, &m), -ENOTSUP);
	ck_assert_int_eq(zarr_meta_parse(unk, strlen(unk), 2, &m), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "unknown codec 'bz2'"));
	ck_assert_int_eq(zarr_meta_parse(t, strlen(t), 3, &m), -ENOTSUP);
	ck_assert_ptr_null(m);
}
END_TEST

/* Regression (found by fuzz_zarr_meta): an unsigned 64-bit fill value read
 * past the end of the per-dtype range table. */
START_TEST(meta_should_parse_a_uint64_fill_value)
{
	static const char *t =
		"{\"chunks\":[2,3],\"compressor\":null,\"dtype\":\">u8\",\"fill_value\":3,"
		"\"filters\":null,\"order\":\"F\",\"shape\":[0,7],\"zarr_format\":2}";
	struct zarr_meta *m = NULL;

	ck_assert_msg(zarr_meta_parse(t, strlen(t), 2, &m) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(m->has_fill, 1);
	ck_assert_uint_eq(m->fill[0], 3);
	for (int i = 1; i < 8; i++)
		ck_assert_uint_eq(m->fill[i], 0);
	zarr_meta_free(m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Shard index */

static struct zarr_shard test_shard(uint64_t k, int crc)
{
	struct zarr_shard s;

	memset(&s, 0, sizeof(s));
	s.rank = 1;
	s.k = k;
	s.index_crc = crc;
	s.index_bytes = 16 * k + (crc ? 4 : 0);
	return s;
}

START_TEST(shard_index_should_decode_and_validate_entries)
{
	struct zarr_shard s = test_shard(2, 1);
	struct ck_buf b = CK_BUF_INIT;
	uint64_t e[4], ioff, lo, hi;
	uint32_t crc;
	uint8_t t[4];
	int i;

	put_u64le(&b, 10);
	put_u64le(&b, 5);
	put_u64le(&b, UINT64_MAX);
	put_u64le(&b, UINT64_MAX);
	crc = crc32c(0, b.data, b.len);
	for (i = 0; i < 4; i++)
		t[i] = (uint8_t)(crc >> (8 * i));
	ck_buf_append(&b, t, 4);
	ck_assert_int_eq(zarr_shard_index_locate(&s, 51, &ioff, &lo, &hi), 0);
	ck_assert_uint_eq(ioff, 15);
	ck_assert_uint_eq(lo, 0);
	ck_assert_uint_eq(hi, 15);
	ck_assert_int_eq(zarr_shard_index_decode(&s, b.data, b.len, lo, hi, e), 0);
	ck_assert_uint_eq(e[0], 10);
	ck_assert_uint_eq(e[1], 5);
	ck_assert_uint_eq(e[2], UINT64_MAX);
	/* One byte short of data: the first entry no longer fits. */
	ck_assert_int_eq(zarr_shard_index_decode(&s, b.data, b.len, 0, 14, e), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "entry 0"));
	ck_assert_int_eq(zarr_shard_index_locate(&s, 35, &ioff, &lo, &hi), -EIO);
	b.data[3] ^= 1;
	ck_assert_int_eq(zarr_shard_index_decode(&s, b.data, b.len, 0, 15, e), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "crc32c"));
	s.index_at_start = 1;
	ck_assert_int_eq(zarr_shard_index_locate(&s, 51, &ioff, &lo, &hi), 0);
	ck_assert_uint_eq(ioff, 0);
	ck_assert_uint_eq(lo, 36);
	ck_assert_uint_eq(hi, 51);
	ck_buf_release(&b);
}
END_TEST

START_TEST(shard_index_should_reject_half_missing_and_overflowing_entries)
{
	struct zarr_shard s = test_shard(1, 0);
	struct ck_buf b = CK_BUF_INIT;
	uint64_t e[2];

	put_u64le(&b, UINT64_MAX);
	put_u64le(&b, 3);
	ck_assert_int_eq(zarr_shard_index_decode(&s, b.data, 16, 0, 100, e), -EIO);
	b.len = 0;
	put_u64le(&b, UINT64_MAX - 1);
	put_u64le(&b, 3);
	ck_assert_int_eq(zarr_shard_index_decode(&s, b.data, 16, 0, 100, e), -EIO);
	ck_assert_int_eq(zarr_shard_index_decode(&s, b.data, 15, 0, 100, e), -EIO);
	ck_buf_release(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Real fixtures */

START_TEST(zarrs_sharded_should_read_whole_and_partial_boxes)
{
	char *p = ck_test_fixture(ZARRS);
	struct kvstore *kv = open_dir(p);
	struct zarr_array *a = open_array(kv, "group/array");
	uint64_t shape[2] = { 8, 8 }, start[2] = { 3, 2 }, count[2] = { 3, 5 };
	uint64_t s1[2] = { 5, 1 }, c1[2] = { 2, 3 }, before;
	uint16_t v[64];
	struct zarr_info info;
	int r, c;

	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0, 0 }, shape, v), 0);
	for (r = 0; r < 64; r++)
		ck_assert_uint_eq(v[r], r);
	ck_assert_int_eq(zarr_array_read(a, start, count, v), 0);
	for (r = 0; r < 3; r++)
		for (c = 0; c < 5; c++)
			ck_assert_uint_eq(v[r * 5 + c], (3 + r) * 8 + (2 + c));
	/* A box inside inner chunk (1, 0) decodes only that inner chunk. */
	before = zarr_array_decode_count(a);
	ck_assert_int_eq(zarr_array_read(a, s1, c1, v), 0);
	ck_assert_uint_eq(zarr_array_decode_count(a) - before, 1);
	for (r = 0; r < 2; r++)
		for (c = 0; c < 3; c++)
			ck_assert_uint_eq(v[r * 3 + c], (5 + r) * 8 + (1 + c));
	ck_assert_int_eq(zarr_array_info(a, &info), 0);
	ck_assert_int_eq(info.zarr_format, 3);
	ck_assert_int_eq(info.dtype, CK_DT_U16);
	ck_assert_uint_eq(info.rank, 2);
	ck_assert_uint_eq(info.chunk[0], 4);
	ck_assert_uint_eq(info.chunk[1], 8);
	ck_assert_uint_eq(info.nchunks, 2);
	ck_assert_uint_eq(info.nbytes, 128);
	ck_assert_uint_eq(info.stored_chunks, 2);
	/* Each shard: two 52-byte inner chunks, 32 bytes of index, 4 of crc. */
	ck_assert_uint_eq(info.stored_bytes, 2 * (52 + 52 + 32 + 4));
	zarr_array_free(a);
	kvstore_free(kv);
	free(p);
}
END_TEST

START_TEST(box_out_of_bounds_should_be_einval)
{
	char *p = ck_test_fixture(ZARRS);
	struct kvstore *kv = open_dir(p);
	struct zarr_array *a = open_array(kv, "group/array");
	uint16_t v[64];

	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 7, 0 }, (uint64_t[]){ 2, 1 }, v),
			 -EINVAL);
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ UINT64_MAX, 0 },
					 (uint64_t[]){ 2, 1 }, v), -EINVAL);
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 8, 8 }, (uint64_t[]){ 0, 0 }, v), 0);
	zarr_array_free(a);
	kvstore_free(kv);
	free(p);
}
END_TEST

static void check_orbax_ab(const char *rel, int fmt)
{
	struct kvstore *kv = open_ocdbt(rel);
	struct zarr_array *a = open_array(kv, "a"), *bc = open_array(kv, "b.c");
	struct zarr_array *none = NULL;
	struct zarr_info info;
	uint64_t start = 0, count = 8;
	int32_t v[8];
	int i;

	ck_assert_int_eq(zarr_array_read(a, &start, &count, v), 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(v[i], i);
	start = 2;
	count = 5;
	ck_assert_int_eq(zarr_array_read(a, &start, &count, v), 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(v[i], 2 + i);
	start = 0;
	count = 3;
	ck_assert_int_eq(zarr_array_read(bc, &start, &count, v), 0);
	ck_assert_int_eq(v[0], 1);
	ck_assert_int_eq(v[1], 2);
	ck_assert_int_eq(v[2], 3);
	ck_assert_int_eq(zarr_array_info(a, &info), 0);
	ck_assert_int_eq(info.zarr_format, fmt);
	ck_assert_int_eq(info.dtype, CK_DT_I32);
	ck_assert_uint_eq(info.stored_chunks, 1);
	if (fmt == 3)
		ck_assert_uint_eq(info.stored_bytes, 61);	/* README: a/c/0 */
	ck_assert_int_eq(zarr_array_open(kv, "nope", &none), -ENOENT);
	ck_assert_ptr_null(none);
	zarr_array_free(a);
	zarr_array_free(bc);
	kvstore_free(kv);
}

START_TEST(orbax_v1_zarr3_in_ocdbt_should_read)
{
	check_orbax_ab(V1_STATE, 3);
}
END_TEST

START_TEST(orbax_v0_zarr2_in_ocdbt_should_read)
{
	check_orbax_ab(V0_ITEM, 2);
}
END_TEST

START_TEST(ome_zarr_scale0_should_read)
{
	struct kvstore *kv = open_ocdbt(OME);
	struct zarr_array *a = open_array(kv, "scale0/image");
	uint64_t shape[2] = { 10, 10 };
	struct zarr_info info;
	uint16_t v[100];
	int i;

	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0, 0 }, shape, v), 0);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(v[i], i);
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 9, 3 }, (uint64_t[]){ 1, 4 }, v), 0);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(v[i], 93 + i);
	ck_assert_int_eq(zarr_array_info(a, &info), 0);
	ck_assert_uint_eq(info.stored_chunks, 1);
	ck_assert_uint_eq(info.stored_bytes, 200);
	zarr_array_free(a);
	kvstore_free(kv);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Synthetic arrays */

START_TEST(v2_f_order_zstd_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t shape[2] = { 5, 7 }, chunk[2] = { 2, 3 }, cell[2];
	struct kvstore *kv;
	struct zarr_array *a;
	char key[64];

	put_str(d, "x/.zarray",
		"{\"chunks\":[2,3],\"compressor\":{\"id\":\"zstd\",\"level\":1},"
		"\"dtype\":\"<i4\",\"fill_value\":0,\"filters\":null,\"order\":\"F\","
		"\"shape\":[5,7],\"zarr_format\":2}");
	for (cell[0] = 0; cell[0] < 3; cell[0]++)
		for (cell[1] = 0; cell[1] < 3; cell[1]++) {
			struct ck_buf b = CK_BUF_INIT;
			size_t n;
			uint8_t *c = make_chunk(2, shape, chunk, cell, 4, EK_INT, &n);
			uint8_t *f = transpose2(c, 2, 3, 4);

			encode("zstd", f, n, 4, &b);
			snprintf(key, sizeof(key), "x/%llu.%llu",
				 (unsigned long long)cell[0], (unsigned long long)cell[1]);
			put_buf(d, key, &b);
			ck_buf_release(&b);
			free(c);
			free(f);
		}
	kv = open_dir(d);
	a = open_array(kv, "x");
	check_all(a, 2, shape, 4, EK_INT);
	check_box(a, 2, shape, (uint64_t[]){ 1, 2 }, (uint64_t[]){ 3, 4 }, 4, EK_INT);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(v2_big_endian_slash_separator_and_fill_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t shape[2] = { 4, 4 }, chunk[2] = { 2, 2 }, cell[2];
	struct kvstore *kv;
	struct zarr_array *a;
	int32_t v[16];
	char key[64];
	int r, c;

	put_str(d, "y/.zarray",
		"{\"chunks\":[2,2],\"compressor\":null,\"dimension_separator\":\"/\","
		"\"dtype\":\">i4\",\"fill_value\":42,\"filters\":[],\"order\":\"C\","
		"\"shape\":[4,4],\"zarr_format\":2}");
	for (cell[0] = 0; cell[0] < 2; cell[0]++)
		for (cell[1] = 0; cell[1] < 2; cell[1]++) {
			size_t n;
			uint8_t *b;

			if (cell[0] == 1 && cell[1] == 1)
				continue;	/* missing: reads as 42 */
			b = make_chunk(2, shape, chunk, cell, 4, EK_INT, &n);
			swap_elems(b, n, 4);
			snprintf(key, sizeof(key), "y/%llu/%llu",
				 (unsigned long long)cell[0], (unsigned long long)cell[1]);
			put(d, key, b, n);
			free(b);
		}
	kv = open_dir(d);
	a = open_array(kv, "y");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0, 0 }, shape, v), 0);
	for (r = 0; r < 4; r++)
		for (c = 0; c < 4; c++)
			ck_assert_int_eq(v[r * 4 + c], r >= 2 && c >= 2 ? 42 : r * 4 + c);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(v2_dot_separator_blosc_and_lz4_should_read)
{
	static const char *comp[] = { "blosc", "lz4", "zlib", "gzip" };
	char *d = ck_test_tmpdir();
	uint64_t shape[1] = { 10 }, chunk[1] = { 4 }, cell[1];
	struct kvstore *kv;
	struct zarr_array *a;
	char key[64], meta[512];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(meta, sizeof(meta),
			 "{\"chunks\":[4],\"compressor\":{\"id\":\"%s\"},"
			 "\"dimension_separator\":\".\",\"dtype\":\"<u2\",\"fill_value\":0,"
			 "\"filters\":null,\"order\":\"C\",\"shape\":[10],\"zarr_format\":2}",
			 comp[i]);
		snprintf(key, sizeof(key), "%s/.zarray", comp[i]);
		put_str(d, key, meta);
		for (cell[0] = 0; cell[0] < 3; cell[0]++) {
			struct ck_buf b = CK_BUF_INIT;
			size_t n;
			uint8_t *c = make_chunk(1, shape, chunk, cell, 2, EK_INT, &n);

			encode(comp[i], c, n, 2, &b);
			snprintf(key, sizeof(key), "%s/%llu", comp[i],
				 (unsigned long long)cell[0]);
			put_buf(d, key, &b);
			ck_buf_release(&b);
			free(c);
		}
	}
	kv = open_dir(d);
	for (i = 0; i < 4; i++) {
		a = open_array(kv, comp[i]);
		check_all(a, 1, shape, 2, EK_INT);
		check_box(a, 1, shape, (uint64_t[]){ 3 }, (uint64_t[]){ 6 }, 2, EK_INT);
		zarr_array_free(a);
	}
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(v3_transpose_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t shape[2] = { 6, 5 }, chunk[2] = { 4, 3 }, cell[2];
	struct kvstore *kv;
	struct zarr_array *a;
	char key[64];

	put_str(d, "t/zarr.json",
		V3_HEAD("int32", "[6,5]", "[4,3]")
		"\"codecs\":[{\"name\":\"transpose\",\"configuration\":{\"order\":[1,0]}},"
		"{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}},"
		"{\"name\":\"zstd\",\"configuration\":{\"level\":1}}],\"fill_value\":0}");
	for (cell[0] = 0; cell[0] < 2; cell[0]++)
		for (cell[1] = 0; cell[1] < 2; cell[1]++) {
			struct ck_buf b = CK_BUF_INIT;
			size_t n;
			uint8_t *c = make_chunk(2, shape, chunk, cell, 4, EK_INT, &n);
			uint8_t *t = transpose2(c, 4, 3, 4);

			encode("zstd", t, n, 4, &b);
			snprintf(key, sizeof(key), "t/c/%llu/%llu",
				 (unsigned long long)cell[0], (unsigned long long)cell[1]);
			put_buf(d, key, &b);
			ck_buf_release(&b);
			free(c);
			free(t);
		}
	kv = open_dir(d);
	a = open_array(kv, "t");
	check_all(a, 2, shape, 4, EK_INT);
	check_box(a, 2, shape, (uint64_t[]){ 3, 2 }, (uint64_t[]){ 2, 2 }, 4, EK_INT);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(v3_big_endian_bytes_with_crc32c_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t shape[1] = { 10 }, chunk[1] = { 4 }, cell[1];
	struct kvstore *kv;
	struct zarr_array *a;
	char key[64];

	put_str(d, "be/zarr.json",
		V3_HEAD("int64", "[10]", "[4]")
		"\"codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"big\"}},"
		"{\"name\":\"crc32c\"}],\"fill_value\":0}");
	for (cell[0] = 0; cell[0] < 3; cell[0]++) {
		struct ck_buf b = CK_BUF_INIT;
		size_t n;
		uint8_t *c = make_chunk(1, shape, chunk, cell, 8, EK_INT, &n);

		swap_elems(c, n, 8);
		encode("crc32c", c, n, 8, &b);
		snprintf(key, sizeof(key), "be/c/%llu", (unsigned long long)cell[0]);
		put_buf(d, key, &b);
		ck_buf_release(&b);
		free(c);
	}
	kv = open_dir(d);
	a = open_array(kv, "be");
	check_all(a, 1, shape, 8, EK_INT);
	check_box(a, 1, shape, (uint64_t[]){ 9 }, (uint64_t[]){ 1 }, 8, EK_INT);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

/* uint16 [8,8], shards [4,8] of two [4,4] blosc inner chunks, index at start;
 * inner chunk 1 of shard 1 is missing and reads as the fill value 7. */
static void write_sharded_start(const char *d)
{
	uint64_t shape[2] = { 8, 8 }, ichunk[2] = { 4, 4 }, s, cell[2];
	char key[64];

	put_str(d, "s/zarr.json",
		V3_HEAD("uint16", "[8,8]", "[4,8]")
		"\"codecs\":[{\"name\":\"sharding_indexed\",\"configuration\":{"
		"\"chunk_shape\":[4,4],\"codecs\":[{\"name\":\"bytes\","
		"\"configuration\":{\"endian\":\"little\"}},{\"name\":\"blosc\","
		"\"configuration\":{\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":\"shuffle\","
		"\"typesize\":2,\"blocksize\":0}}],\"index_codecs\":[{\"name\":\"bytes\","
		"\"configuration\":{\"endian\":\"little\"}},{\"name\":\"crc32c\"}],"
		"\"index_location\":\"start\"}}],\"fill_value\":7}");
	for (s = 0; s < 2; s++) {
		struct ck_buf inner[2] = { CK_BUF_INIT, CK_BUF_INIT }, out = CK_BUF_INIT;
		int present[2] = { 1, s == 0 };
		int i;

		for (i = 0; i < 2; i++) {
			size_t n;
			uint8_t *c;

			cell[0] = s;
			cell[1] = (uint64_t)i;
			c = make_chunk(2, shape, ichunk, cell, 2, EK_INT, &n);
			encode("blosc", c, n, 2, &inner[i]);
			free(c);
		}
		build_shard(inner, present, 2, 1, &out);
		snprintf(key, sizeof(key), "s/c/%llu/0", (unsigned long long)s);
		put_buf(d, key, &out);
		ck_buf_release(&inner[0]);
		ck_buf_release(&inner[1]);
		ck_buf_release(&out);
	}
}

START_TEST(v3_sharding_index_at_start_with_empty_inner_chunk_should_read)
{
	char *d = ck_test_tmpdir();
	struct kvstore *kv;
	struct zarr_array *a;
	uint16_t v[64];
	uint64_t before;
	int r, c;

	write_sharded_start(d);
	kv = open_dir(d);
	a = open_array(kv, "s");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0, 0 }, (uint64_t[]){ 8, 8 }, v), 0);
	for (r = 0; r < 8; r++)
		for (c = 0; c < 8; c++)
			ck_assert_uint_eq(v[r * 8 + c], r >= 4 && c >= 4 ? 7 : r * 8 + c);
	before = zarr_array_decode_count(a);
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 5, 5 }, (uint64_t[]){ 2, 2 }, v), 0);
	ck_assert_uint_eq(zarr_array_decode_count(a), before);
	for (r = 0; r < 4; r++)
		ck_assert_uint_eq(v[r], 7);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(v3_nested_sharding_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t shape[2] = { 8, 8 }, small[2] = { 2, 2 }, cell[2];
	struct ck_buf mid[4], out = CK_BUF_INIT;
	int present[4] = { 1, 1, 1, 1 };
	struct kvstore *kv;
	struct zarr_array *a;
	uint64_t before, bytes_before;
	int m, i;

	put_str(d, "n/zarr.json",
		V3_HEAD("int32", "[8,8]", "[8,8]")
		"\"codecs\":[{\"name\":\"sharding_indexed\",\"configuration\":{"
		"\"chunk_shape\":[4,4],\"codecs\":[{\"name\":\"sharding_indexed\","
		"\"configuration\":{\"chunk_shape\":[2,2],\"codecs\":[{\"name\":\"bytes\"},"
		"{\"name\":\"gzip\",\"configuration\":{\"level\":1}}],"
		"\"index_codecs\":[{\"name\":\"bytes\"},{\"name\":\"crc32c\"}]}}],"
		"\"index_codecs\":[{\"name\":\"bytes\"},{\"name\":\"crc32c\"}]}}],"
		"\"fill_value\":0}");
	/* Middle shard m = (mr, mc) of [4,4] holds a 2x2 grid of [2,2] chunks. */
	for (m = 0; m < 4; m++) {
		struct ck_buf inner[4];
		int ipresent[4] = { 1, 1, 1, 1 };

		for (i = 0; i < 4; i++) {
			size_t n;
			uint8_t *c;

			inner[i] = (struct ck_buf)CK_BUF_INIT;
			cell[0] = (uint64_t)(m / 2 * 2 + i / 2);
			cell[1] = (uint64_t)(m % 2 * 2 + i % 2);
			c = make_chunk(2, shape, small, cell, 4, EK_INT, &n);
			encode("gzip", c, n, 4, &inner[i]);
			free(c);
		}
		mid[m] = (struct ck_buf)CK_BUF_INIT;
		build_shard(inner, ipresent, 4, 0, &mid[m]);
		for (i = 0; i < 4; i++)
			ck_buf_release(&inner[i]);
	}
	build_shard(mid, present, 4, 0, &out);
	put_buf(d, "n/c/0/0", &out);
	kv = open_dir(d);
	a = open_array(kv, "n");
	check_all(a, 2, shape, 4, EK_INT);
	before = zarr_array_decode_count(a);
	bytes_before = zarr_array_decoded_bytes(a);
	check_box(a, 2, shape, (uint64_t[]){ 3, 3 }, (uint64_t[]){ 2, 2 }, 4, EK_INT);
	ck_assert_uint_eq(zarr_array_decode_count(a) - before, 4);
	/* Four whole [2,2] int32 inner chunks, though 4 values were wanted. */
	ck_assert_uint_eq(zarr_array_decoded_bytes(a) - bytes_before, 4 * 2 * 2 * 4);
	zarr_array_free(a);
	kvstore_free(kv);
	for (m = 0; m < 4; m++)
		ck_buf_release(&mid[m]);
	ck_buf_release(&out);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(v3_bfloat16_and_float16_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t bshape[2] = { 3, 5 }, bchunk[2] = { 2, 2 }, fshape[1] = { 5 };
	uint64_t fchunk[1] = { 2 }, cell[2];
	struct kvstore *kv;
	struct zarr_array *a;
	char key[64];

	/* bfloat16 with the "v2" chunk key encoding ("0.1"). */
	put_str(d, "bf/zarr.json",
		"{\"zarr_format\":3,\"node_type\":\"array\",\"data_type\":\"bfloat16\","
		"\"shape\":[3,5],\"chunk_grid\":{\"name\":\"regular\",\"configuration\":"
		"{\"chunk_shape\":[2,2]}},\"chunk_key_encoding\":{\"name\":\"v2\"},"
		"\"codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}},"
		"{\"name\":\"zstd\"}],\"fill_value\":\"NaN\"}");
	for (cell[0] = 0; cell[0] < 2; cell[0]++)
		for (cell[1] = 0; cell[1] < 3; cell[1]++) {
			struct ck_buf b = CK_BUF_INIT;
			size_t n;
			uint8_t *c = make_chunk(2, bshape, bchunk, cell, 2, EK_BF16, &n);

			encode("zstd", c, n, 2, &b);
			snprintf(key, sizeof(key), "bf/%llu.%llu",
				 (unsigned long long)cell[0], (unsigned long long)cell[1]);
			put_buf(d, key, &b);
			ck_buf_release(&b);
			free(c);
		}
	/* float16 with the default encoding and a "." separator ("c.1"). */
	put_str(d, "h/zarr.json",
		"{\"zarr_format\":3,\"node_type\":\"array\",\"data_type\":\"float16\","
		"\"shape\":[5],\"chunk_grid\":{\"name\":\"regular\",\"configuration\":"
		"{\"chunk_shape\":[2]}},\"chunk_key_encoding\":{\"name\":\"default\","
		"\"configuration\":{\"separator\":\".\"}},"
		"\"codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}}],"
		"\"fill_value\":\"0x7e00\"}");
	for (cell[0] = 0; cell[0] < 3; cell[0]++) {
		size_t n;
		uint8_t *c = make_chunk(1, fshape, fchunk, cell, 2, EK_F16, &n);

		snprintf(key, sizeof(key), "h/c.%llu", (unsigned long long)cell[0]);
		put(d, key, c, n);
		free(c);
	}
	kv = open_dir(d);
	a = open_array(kv, "bf");
	check_all(a, 2, bshape, 2, EK_BF16);
	check_box(a, 2, bshape, (uint64_t[]){ 1, 1 }, (uint64_t[]){ 2, 3 }, 2, EK_BF16);
	zarr_array_free(a);
	a = open_array(kv, "h");
	check_all(a, 1, fshape, 2, EK_F16);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

/* int32 [5,4,3], chunks [2,3,2] (edge chunks on every axis), transpose
 * [2,0,1]: the stored chunk is enc[k][i][j] = dec[i][j][k]. */
START_TEST(v3_3d_edge_chunks_with_transpose_should_read)
{
	char *d = ck_test_tmpdir();
	uint64_t shape[3] = { 5, 4, 3 }, chunk[3] = { 2, 3, 2 }, cell[3];
	struct kvstore *kv;
	struct zarr_array *a;
	char key[64];

	put_str(d, "e/zarr.json",
		V3_HEAD("int32", "[5,4,3]", "[2,3,2]")
		"\"codecs\":[{\"name\":\"transpose\",\"configuration\":{\"order\":[2,0,1]}},"
		"{\"name\":\"bytes\"},{\"name\":\"zstd\"}],\"fill_value\":0}");
	for (cell[0] = 0; cell[0] < 3; cell[0]++)
		for (cell[1] = 0; cell[1] < 2; cell[1]++)
			for (cell[2] = 0; cell[2] < 2; cell[2]++) {
				struct ck_buf b = CK_BUF_INIT;
				size_t n, i, j, k;
				uint8_t *c = make_chunk(3, shape, chunk, cell, 4, EK_INT, &n);
				uint8_t *t = malloc(n);

				for (i = 0; i < 2; i++)
					for (j = 0; j < 3; j++)
						for (k = 0; k < 2; k++)
							memcpy(t + ((k * 2 + i) * 3 + j) * 4,
							       c + ((i * 3 + j) * 2 + k) * 4, 4);
				encode("zstd", t, n, 4, &b);
				snprintf(key, sizeof(key), "e/c/%llu/%llu/%llu",
					 (unsigned long long)cell[0],
					 (unsigned long long)cell[1],
					 (unsigned long long)cell[2]);
				put_buf(d, key, &b);
				ck_buf_release(&b);
				free(c);
				free(t);
			}
	kv = open_dir(d);
	a = open_array(kv, "e");
	check_all(a, 3, shape, 4, EK_INT);
	check_box(a, 3, shape, (uint64_t[]){ 1, 2, 1 }, (uint64_t[]){ 4, 2, 2 }, 4, EK_INT);
	check_box(a, 3, shape, (uint64_t[]){ 4, 3, 2 }, (uint64_t[]){ 1, 1, 1 }, 4, EK_INT);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(rank0_array_should_read)
{
	char *d = ck_test_tmpdir();
	struct kvstore *kv;
	struct zarr_array *a;
	int32_t v = 0, want = 1234567;

	put_str(d, "r/zarr.json",
		"{\"zarr_format\":3,\"node_type\":\"array\",\"data_type\":\"int32\","
		"\"shape\":[],\"chunk_grid\":{\"name\":\"regular\",\"configuration\":"
		"{\"chunk_shape\":[]}},\"chunk_key_encoding\":{\"name\":\"default\"},"
		"\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}");
	put(d, "r/c", &want, 4);
	kv = open_dir(d);
	a = open_array(kv, "r");
	ck_assert_int_eq(zarr_array_read(a, NULL, NULL, &v), 0);
	ck_assert_int_eq(v, want);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Corruption */

START_TEST(flipped_shard_index_byte_should_be_eio_naming_crc32c_and_key)
{
	char *src = ck_test_fixture(ZARRS), *d = ck_test_tmpdir(), path[4096];
	struct kvstore *kv;
	struct zarr_array *a;
	uint16_t v[64];
	size_t n;
	uint8_t *b;

	ck_test_copy_tree(src, d);
	snprintf(path, sizeof(path), "%s/group/array/c/1/0", d);
	b = ck_test_read_file(path, &n);
	free(b);
	ck_test_flip_byte(path, n - 10, 0x01);	/* inside the 32-byte index */
	kv = open_dir(d);
	a = open_array(kv, "group/array");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0, 0 }, (uint64_t[]){ 4, 8 }, v), 0);
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 4, 0 }, (uint64_t[]){ 1, 1 }, v), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "crc32c"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "key 'group/array/c/1/0'"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), path));
	zarr_array_free(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
	free(src);
}
END_TEST

START_TEST(truncated_zstd_chunk_should_be_eio_naming_the_key)
{
	char *d = ck_test_tmpdir(), path[4096];
	uint64_t shape[1] = { 64 }, chunk[1] = { 64 }, cell[1] = { 0 };
	struct ck_buf b = CK_BUF_INIT;
	struct kvstore *kv;
	struct zarr_array *a;
	int32_t v[64];
	size_t n;
	uint8_t *c;

	put_str(d, "z/zarr.json", V3_HEAD("int32", "[64]", "[64]")
		"\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"zstd\"}],\"fill_value\":0}");
	c = make_chunk(1, shape, chunk, cell, 4, EK_INT, &n);
	encode("zstd", c, n, 4, &b);
	put(d, "z/c/0", b.data, b.len - 5);
	snprintf(path, sizeof(path), "%s/z/c/0", d);
	kv = open_dir(d);
	a = open_array(kv, "z");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0 }, shape, v), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "key 'z/c/0'"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), path));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "zstd"));
	zarr_array_free(a);
	kvstore_free(kv);
	ck_buf_release(&b);
	free(c);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(wrong_decoded_size_should_be_eio)
{
	char *d = ck_test_tmpdir();
	struct ck_buf b = CK_BUF_INIT;
	struct kvstore *kv;
	struct zarr_array *a;
	uint8_t raw[12] = { 0 };
	int32_t v[4];

	put_str(d, "w/zarr.json", V3_HEAD("int32", "[4]", "[4]")
		"\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"zstd\"}],\"fill_value\":0}");
	encode("zstd", raw, sizeof(raw), 4, &b);	/* 12 bytes, not 16 */
	put_buf(d, "w/c/0", &b);
	put_str(d, "u/zarr.json", V3_HEAD("int32", "[4]", "[4]")
		"\"codecs\":[{\"name\":\"bytes\"}],\"fill_value\":0}");
	put(d, "u/c/0", raw, 12);
	kv = open_dir(d);
	a = open_array(kv, "w");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0 }, (uint64_t[]){ 4 }, v), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "key 'w/c/0'"));
	zarr_array_free(a);
	a = open_array(kv, "u");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0 }, (uint64_t[]){ 4 }, v), -EIO);
	zarr_array_free(a);
	kvstore_free(kv);
	ck_buf_release(&b);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(inner_chunk_past_the_shard_should_be_eio)
{
	char *d = ck_test_tmpdir();
	struct ck_buf b = CK_BUF_INIT;
	struct kvstore *kv;
	struct zarr_array *a;
	uint8_t data[16] = { 0 }, t[4];
	int32_t v[4];
	uint32_t crc;
	int i;

	put_str(d, "p/zarr.json", V3_HEAD("int32", "[4]", "[4]")
		"\"codecs\":[{\"name\":\"sharding_indexed\",\"configuration\":{"
		"\"chunk_shape\":[4],\"codecs\":[{\"name\":\"bytes\"}],"
		"\"index_codecs\":[{\"name\":\"bytes\"},{\"name\":\"crc32c\"}]}}],"
		"\"fill_value\":0}");
	ck_buf_append(&b, data, 16);
	put_u64le(&b, 8);	/* offset 8 + 16 bytes > 16 data bytes */
	put_u64le(&b, 16);
	crc = crc32c(0, b.data + 16, 16);
	for (i = 0; i < 4; i++)
		t[i] = (uint8_t)(crc >> (8 * i));
	ck_buf_append(&b, t, 4);
	put_buf(d, "p/c/0", &b);
	kv = open_dir(d);
	a = open_array(kv, "p");
	ck_assert_int_eq(zarr_array_read(a, (uint64_t[]){ 0 }, (uint64_t[]){ 4 }, v), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "key 'p/c/0'"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "outside"));
	zarr_array_free(a);
	kvstore_free(kv);
	ck_buf_release(&b);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

START_TEST(open_should_report_bad_metadata_with_its_key)
{
	char *d = ck_test_tmpdir();
	struct kvstore *kv;
	struct zarr_array *a = NULL;

	put_str(d, "bad/zarr.json", V3_HEAD("int32", "[8]", "[8]")
		"\"codecs\":[{\"name\":\"bytes\"},{\"name\":\"foo\"}],\"fill_value\":0}");
	put_str(d, "grp/zarr.json", "{\"zarr_format\":3,\"node_type\":\"group\"}");
	kv = open_dir(d);
	ck_assert_int_eq(zarr_array_open(kv, "bad", &a), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "key 'bad/zarr.json'"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "unknown codec 'foo'"));
	ck_assert_int_eq(zarr_array_open(kv, "grp", &a), -EISDIR);
	ck_assert_int_eq(zarr_array_open(kv, "none", &a), -ENOENT);
	ck_assert_ptr_null(a);
	kvstore_free(kv);
	ck_test_rmtree(d);
	free(d);
}
END_TEST

static Suite *zarr_suite(void)
{
	Suite *s = suite_create("zarr");
	TCase *t = tcase_create("dtype");

	tcase_add_test(t, bf16_should_round_to_nearest_even_and_keep_nan);
	tcase_add_test(t, f16_should_convert_both_ways_with_rne);
	tcase_add_test(t, dtype_tables_should_name_v2_and_v3_types);
	suite_add_tcase(s, t);

	t = tcase_create("meta");
	tcase_add_test(t, meta_should_parse_the_orbax_zarr3_layout);
	tcase_add_test(t, meta_should_parse_fill_values);
	tcase_add_test(t, meta_should_reject_an_unknown_codec_naming_it);
	tcase_add_test(t, meta_should_reject_bad_shapes);
	tcase_add_test(t, meta_should_reject_malformed_documents);
	tcase_add_test(t, meta_should_cap_nested_sharding_depth);
	tcase_add_test(t, meta_should_parse_v2_zarray);
	tcase_add_test(t, meta_should_parse_a_uint64_fill_value);
	tcase_add_test(t, shard_index_should_decode_and_validate_entries);
	tcase_add_test(t, shard_index_should_reject_half_missing_and_overflowing_entries);
	suite_add_tcase(s, t);

	t = tcase_create("fixtures");
	tcase_add_test(t, zarrs_sharded_should_read_whole_and_partial_boxes);
	tcase_add_test(t, box_out_of_bounds_should_be_einval);
	tcase_add_test(t, orbax_v1_zarr3_in_ocdbt_should_read);
	tcase_add_test(t, orbax_v0_zarr2_in_ocdbt_should_read);
	tcase_add_test(t, ome_zarr_scale0_should_read);
	tcase_add_test(t, flipped_shard_index_byte_should_be_eio_naming_crc32c_and_key);
	suite_add_tcase(s, t);

	t = tcase_create("synthetic");
	tcase_add_test(t, v2_f_order_zstd_should_read);
	tcase_add_test(t, v2_big_endian_slash_separator_and_fill_should_read);
	tcase_add_test(t, v2_dot_separator_blosc_and_lz4_should_read);
	tcase_add_test(t, v3_transpose_should_read);
	tcase_add_test(t, v3_big_endian_bytes_with_crc32c_should_read);
	tcase_add_test(t, v3_sharding_index_at_start_with_empty_inner_chunk_should_read);
	tcase_add_test(t, v3_nested_sharding_should_read);
	tcase_add_test(t, v3_bfloat16_and_float16_should_read);
	tcase_add_test(t, v3_3d_edge_chunks_with_transpose_should_read);
	tcase_add_test(t, rank0_array_should_read);
	tcase_add_test(t, truncated_zstd_chunk_should_be_eio_naming_the_key);
	tcase_add_test(t, wrong_decoded_size_should_be_eio);
	tcase_add_test(t, inner_chunk_past_the_shard_should_be_eio);
	tcase_add_test(t, open_should_report_bad_metadata_with_its_key);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	ck_test_require_fixtures();
	return ck_test_run(zarr_suite());
}
