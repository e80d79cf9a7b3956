/* SPDX-License-Identifier: MIT */
/* Unit tests for the layout layer: safetensors shards, headers, offsets, the
 * index and config.json.  Expected values come from hand arithmetic and from
 * the independent strict parser in st_check.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ck_test.h"
#include "layout/config_json.h"
#include "layout/st_layout.h"
#include "st_check.h"

#define T1(n, dt, a) { (n), (dt), 1, { (a) }, 0 }
#define T2(n, dt, a, b) { (n), (dt), 2, { (a), (b) }, 0 }
/* tensor n of u8[a] in group g */
#define TG(n, a, g) { (n), CK_DT_U8, 1, { (a) }, (g) }

/* The whole of file f: its header followed by data (fill or zeros). */
static uint8_t *assemble(const struct st_layout *l, uint32_t f, int fill)
{
	const struct st_file *sf = &l->files[f];
	uint8_t *p = calloc(1, sf->size ? sf->size : 1);
	uint64_t i;

	ck_assert_ptr_nonnull(p);
	memcpy(p, sf->header, sf->header_len);
	for (i = sf->header_len; fill && i < sf->size; i++)
		p[i] = (uint8_t)(i * 7 + f * 31);
	return p;
}

/* Run the strict parser over file f; fails the test with its reason. */
static void check_file(const struct st_layout *l, uint32_t f,
		       struct st_check_result *r)
{
	uint8_t *p = assemble(l, f, 0);
	char why[256];
	int err = st_check_file(p, l->files[f].size, why, sizeof(why), r);

	ck_assert_msg(err == 0, "%s: %s", l->files[f].name, why);
	free(p);
}

static struct st_layout *build(const struct st_tensor_desc *t, size_t n,
			       uint64_t shard)
{
	struct st_layout *l = NULL;

	ck_assert_int_eq(st_layout_build(t, n, shard, &l), 0);
	ck_assert_ptr_nonnull(l);
	return l;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

START_TEST(single_shard_should_hold_mixed_dtypes_contiguously)
{
	static const struct st_tensor_desc t[] = {
		T2("w", CK_DT_BF16, 4, 3),	/* 24 bytes: [0, 24) */
		T1("b", CK_DT_F32, 5),		/* 20 bytes: [24, 44) */
		T2("i", CK_DT_I64, 2, 2),	/* 32 bytes: [44, 76) */
	};
	static const uint64_t begin[] = { 0, 24, 44 }, end[] = { 24, 44, 76 };
	struct st_check_result r;
	struct st_layout *l = build(t, 3, 1000);
	size_t i;

	ck_assert_uint_eq(l->nfiles, 1);
	ck_assert_str_eq(l->files[0].name, "model.safetensors");
	ck_assert_uint_eq(l->total_size, 76);
	ck_assert_uint_eq(l->files[0].header_len % 8, 0);
	ck_assert_uint_eq(le64(l->files[0].header), l->files[0].header_len - 8);
	ck_assert_uint_eq(l->files[0].size, l->files[0].header_len + 76);
	ck_assert_uint_eq(l->files[0].first, 0);
	ck_assert_uint_eq(l->files[0].count, 3);
	check_file(l, 0, &r);
	ck_assert_int_eq(r.has_metadata, 1);
	ck_assert_uint_eq(r.header_len, l->files[0].header_len);
	ck_assert_uint_eq(r.data_len, 76);
	ck_assert_uint_eq(r.n, 3);
	for (i = 0; i < 3; i++) {
		/* header order is data order */
		ck_assert_str_eq(r.t[i].name, t[i].name);
		ck_assert_uint_eq(r.t[i].begin, begin[i]);
		ck_assert_uint_eq(r.t[i].end, end[i]);
		ck_assert_uint_eq(r.t[i].rank, t[i].rank);
		ck_assert_uint_eq(l->place[i].file, 0);
		ck_assert_uint_eq(l->place[i].offset, r.header_len + begin[i]);
		ck_assert_uint_eq(l->place[i].nbytes, end[i] - begin[i]);
	}
	ck_assert_str_eq(r.t[0].dtype, "BF16");
	ck_assert_str_eq(r.t[1].dtype, "F32");
	ck_assert_str_eq(r.t[2].dtype, "I64");
	ck_assert_uint_eq(r.t[0].shape[0], 4);
	ck_assert_uint_eq(r.t[0].shape[1], 3);
	ck_assert_uint_eq(r.t[1].shape[0], 5);
	st_check_result_release(&r);
	st_layout_free(l);
}
END_TEST

START_TEST(header_should_be_compact_json_padded_with_spaces)
{
	static const struct st_tensor_desc t[] = { T1("a", CK_DT_F32, 2) };
	static const char json[] = "{\"__metadata__\":{\"format\":\"pt\"},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
	size_t jl = strlen(json), padded = (8 + jl + 7) / 8 * 8 - 8, i;
	struct st_layout *l = build(t, 1, 1u << 30);
	const uint8_t *h = l->files[0].header;

	ck_assert_uint_eq(l->files[0].header_len, 8 + padded);
	ck_assert_uint_eq(le64(h), padded);
	ck_assert_int_eq(memcmp(h + 8, json, jl), 0);
	for (i = 8 + jl; i < 8 + padded; i++)
		ck_assert_uint_eq(h[i], ' ');
	ck_assert_uint_eq(l->files[0].size, 8 + padded + 8);
	st_layout_free(l);
}
END_TEST

START_TEST(layout_should_be_deterministic)
{
	static const struct st_tensor_desc t[] = {
		T1("x", CK_DT_F16, 9), T1("y", CK_DT_U8, 3), T1("z", CK_DT_F64, 1),
	};
	struct st_layout *a = build(t, 3, 20), *b = build(t, 3, 20);
	size_t k;

	ck_assert_uint_eq(a->nfiles, b->nfiles);
	for (k = 0; k < a->nfiles; k++) {
		ck_assert_uint_eq(a->files[k].header_len, b->files[k].header_len);
		ck_assert_int_eq(memcmp(a->files[k].header, b->files[k].header,
					a->files[k].header_len), 0);
	}
	ck_assert_uint_eq(a->index_len, b->index_len);
	ck_assert_int_eq(memcmp(a->index_json, b->index_json, a->index_len), 0);
	st_layout_free(a);
	st_layout_free(b);
}
END_TEST

START_TEST(shards_should_split_five_100_byte_tensors_at_250)
{
	static const struct st_tensor_desc t[] = {
		T1("t0", CK_DT_U8, 100), T1("t1", CK_DT_U8, 100),
		T1("t2", CK_DT_U8, 100), T1("t3", CK_DT_U8, 100),
		T1("t4", CK_DT_U8, 100),
	};
	static const char *names[] = { "model-00001-of-00003.safetensors",
				       "model-00002-of-00003.safetensors",
				       "model-00003-of-00003.safetensors" };
	static const uint32_t count[] = { 2, 2, 1 }, file_of[] = { 0, 0, 1, 1, 2 };
	struct st_check_result r;
	struct st_layout *l = build(t, 5, 250);
	uint32_t k;
	size_t i;

	ck_assert_uint_eq(l->nfiles, 3);
	for (k = 0; k < 3; k++) {
		ck_assert_str_eq(l->files[k].name, names[k]);
		ck_assert_uint_eq(l->files[k].count, count[k]);
		check_file(l, k, &r);
		ck_assert_uint_eq(r.n, count[k]);
		ck_assert_uint_eq(r.data_len, 100 * count[k]);
		for (i = 0; i < r.n; i++) {
			ck_assert_str_eq(r.t[i].name, t[l->files[k].first + i].name);
			ck_assert_uint_eq(r.t[i].begin, 100 * i);
		}
		st_check_result_release(&r);
	}
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(l->place[i].file, file_of[i]);
		ck_assert_uint_eq(l->place[i].offset,
				  l->files[file_of[i]].header_len + 100 * (i % 2));
	}
	st_layout_free(l);
}
END_TEST

START_TEST(oversized_tensor_should_sit_alone_in_its_shard)
{
	static const struct st_tensor_desc t[] = {
		T1("a", CK_DT_U8, 100), T1("big", CK_DT_U8, 300),
		T1("c", CK_DT_U8, 100), T1("d", CK_DT_U8, 150),
	};
	static const struct st_tensor_desc first[] = {
		T1("big", CK_DT_U8, 300), T1("a", CK_DT_U8, 100),
	};
	struct st_layout *l = build(t, 4, 250);

	/* a | big | c+d: 100 + 150 == 250 is not past the limit */
	ck_assert_uint_eq(l->nfiles, 3);
	ck_assert_uint_eq(l->files[0].count, 1);
	ck_assert_uint_eq(l->files[1].count, 1);
	ck_assert_uint_eq(l->files[1].first, 1);
	ck_assert_uint_eq(l->files[2].count, 2);
	ck_assert_str_eq(l->files[2].name, "model-00003-of-00003.safetensors");
	ck_assert_uint_eq(l->files[1].size, l->files[1].header_len + 300);
	st_layout_free(l);
	l = build(first, 2, 250);
	ck_assert_uint_eq(l->nfiles, 2);
	ck_assert_uint_eq(l->place[0].file, 0);
	ck_assert_uint_eq(l->place[1].file, 1);
	st_layout_free(l);
}
END_TEST

/* Shards are cut before a group rather than inside it; a group larger than
 * the shard size alone is cut by size. */
START_TEST(shards_should_be_cut_at_group_boundaries)
{
	static const struct st_tensor_desc t[] = {
		T1("e", CK_DT_U8, 100),				 /* 0 */
		TG("q0", 60, 1), TG("q1", 60, 1), TG("q2", 60, 1), /* 1-3 */
		TG("k0", 50, 2), TG("k1", 50, 2),		 /* 4-5 */
		T1("n", CK_DT_U8, 10),				 /* 6 */
		TG("w0", 150, 3), TG("w1", 150, 3), TG("w2", 150, 3), /* 7-9 */
		TG("v0", 40, 4), TG("v1", 40, 4),		 /* 10-11 */
	};
	/* At 250 bytes a shard:
	 *   e (100) + q0 q1 (220): q2 would pass 250 and split q, so q
	 *     starts a new shard: [e]
	 *   q0 q1 q2 (180) + k0 (230): k1 would split k, which moves:
	 *     [q0 q1 q2]
	 *   k0 k1 n (110): w0 would pass 250 and starts the next shard:
	 *     [k0 k1 n]
	 *   w alone is 450: cut by size [w0] [w1] [w2 ...]
	 *   w2 v0 v1 (230) fit: [w2 v0 v1] */
	static const uint32_t first[] = { 0, 1, 4, 7, 8, 9 };
	static const uint32_t count[] = { 1, 3, 3, 1, 1, 3 };
	struct st_layout *l = build(t, 12, 250);

	ck_assert_uint_eq(l->nfiles, 6);
	for (size_t k = 0; k < 6; k++) {
		ck_assert_uint_eq(l->files[k].first, first[k]);
		ck_assert_uint_eq(l->files[k].count, count[k]);
	}
	st_layout_free(l);
}
END_TEST

START_TEST(zero_size_and_scalar_tensors_should_be_allowed)
{
	static const struct st_tensor_desc t[] = {
		{ "s", CK_DT_F32, 0, { 0 }, 0 },	/* 4 bytes: [0, 4) */
		T2("z", CK_DT_BF16, 0, 7),	/* [4, 4) */
		T1("v", CK_DT_I16, 3),		/* [4, 10) */
		T1("e", CK_DT_BOOL, 0),		/* [10, 10) */
	};
	struct st_check_result r;
	struct st_layout *l = build(t, 4, 1000);
	const struct st_check_tensor *x;

	check_file(l, 0, &r);
	ck_assert_uint_eq(r.data_len, 10);
	x = st_check_find(&r, "s");
	ck_assert_uint_eq(x->rank, 0);
	ck_assert_uint_eq(x->end, 4);
	x = st_check_find(&r, "z");
	ck_assert_uint_eq(x->rank, 2);
	ck_assert_uint_eq(x->shape[0], 0);
	ck_assert_uint_eq(x->shape[1], 7);
	ck_assert_uint_eq(x->begin, 4);
	ck_assert_uint_eq(x->end, 4);
	x = st_check_find(&r, "e");
	ck_assert_uint_eq(x->begin, 10);
	ck_assert_uint_eq(x->end, 10);
	ck_assert_ptr_nonnull(strstr((const char *)l->files[0].header + 8,
				     "\"s\":{\"dtype\":\"F32\",\"shape\":[],"));
	st_check_result_release(&r);
	st_layout_free(l);
}
END_TEST

/* locate() must agree with the byte ranges the strict parser reports. */
static void locate_all(const struct st_layout *l)
{
	struct st_check_result r;
	const struct st_check_tensor *x;
	uint64_t toff, start;
	size_t tensor, i;
	uint32_t f;

	for (f = 0; f < l->nfiles; f++) {
		const struct st_file *sf = &l->files[f];

		check_file(l, f, &r);
		ck_assert_int_eq(st_layout_locate(l, f, 0, &tensor, &toff), 0);
		ck_assert_int_eq(st_layout_locate(l, f, r.header_len - 1, &tensor,
						  &toff), 0);
		for (i = sf->first; i < (size_t)sf->first + sf->count; i++) {
			x = &r.t[i - sf->first];	/* header order: data order */
			if (x->end == x->begin)
				continue;
			start = r.header_len + x->begin;
			ck_assert_int_eq(st_layout_locate(l, f, start, &tensor, &toff), 1);
			ck_assert_uint_eq(tensor, i);
			ck_assert_uint_eq(toff, 0);
			ck_assert_int_eq(st_layout_locate(l, f, r.header_len + x->end - 1,
							  &tensor, &toff), 1);
			ck_assert_uint_eq(tensor, i);
			ck_assert_uint_eq(toff, x->end - x->begin - 1);
		}
		if (sf->size > sf->header_len) {
			ck_assert_int_eq(st_layout_locate(l, f, sf->size - 1, &tensor,
							  &toff), 1);
			ck_assert_uint_eq(r.header_len + r.t[tensor - sf->first].begin +
					  toff, sf->size - 1);
		}
		ck_assert_int_eq(st_layout_locate(l, f, sf->size, &tensor, &toff),
				 -EINVAL);
		ck_assert_int_eq(st_layout_locate(l, f, UINT64_MAX, &tensor, &toff),
				 -EINVAL);
		st_check_result_release(&r);
	}
	ck_assert_int_eq(st_layout_locate(l, (uint32_t)l->nfiles, 0, &tensor, &toff),
			 -EINVAL);
}

START_TEST(locate_should_find_every_boundary)
{
	static const struct st_tensor_desc t[] = {
		T1("z0", CK_DT_F32, 0), T2("a", CK_DT_BF16, 3, 5),
		T1("z1", CK_DT_U8, 0), T1("b", CK_DT_U8, 1),
		{ "s", CK_DT_F64, 0, { 0 }, 0 }, T1("c", CK_DT_I32, 77),
		T1("z2", CK_DT_F16, 0),
	};
	struct st_layout *l = build(t, 7, 1 << 20);

	locate_all(l);
	st_layout_free(l);
	l = build(t, 7, 20);	/* several shards */
	ck_assert_uint_gt(l->nfiles, 1);
	locate_all(l);
	st_layout_free(l);
}
END_TEST

START_TEST(build_should_reject_bad_input)
{
	struct st_tensor_desc dup[] = { T1("a", CK_DT_F32, 1), T1("b", CK_DT_F32, 1),
					T1("a", CK_DT_F32, 2) };
	struct st_tensor_desc meta[] = { T1("__metadata__", CK_DT_F32, 1) };
	struct st_tensor_desc cplx[] = { T1("c", CK_DT_C128, 1) };
	struct st_tensor_desc inval[] = { T1("c", CK_DT_INVALID, 1) };
	struct st_tensor_desc noname[] = { T1(NULL, CK_DT_F32, 1) };
	struct st_tensor_desc empty[] = { T1("", CK_DT_F32, 1) };
	struct st_tensor_desc badutf[] = { T1("a\xff", CK_DT_F32, 1) };
	struct st_tensor_desc huge[] = { T2("h", CK_DT_F32, UINT64_MAX / 2, 3) };
	struct st_tensor_desc sum[] = { T1("p", CK_DT_U8, UINT64_MAX - 10),
					T1("q", CK_DT_U8, 11) };
	struct st_tensor_desc rank[] = { { "r", CK_DT_F32, ZARR_MAX_RANK + 1, { 1 }, 0 } };
	struct st_layout *l = NULL;

	ck_assert_int_eq(st_layout_build(dup, 3, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(meta, 1, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(cplx, 1, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(inval, 1, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(noname, 1, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(empty, 1, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(badutf, 1, 100, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(dup, 2, 0, &l), -EINVAL);
	ck_assert_int_eq(st_layout_build(huge, 1, 100, &l), -EOVERFLOW);
	ck_assert_int_eq(st_layout_build(sum, 2, 100, &l), -EOVERFLOW);
	ck_assert_int_eq(st_layout_build(rank, 1, 100, &l), -EINVAL);
	ck_assert_ptr_null(l);
}
END_TEST

START_TEST(names_needing_escapes_should_round_trip)
{
	static const char *names[] = {
		"q\"uote", "back\\slash", "new\nline\ttab\r\b\f", "ctl\x01\x1f\x7f",
		"caf\xc3\xa9", "smile\xf0\x9f\x98\x80", "a/b.c[0]",
	};
	struct st_tensor_desc t[7];
	struct st_check_result r;
	struct st_layout *l;
	cJSON *doc, *wm;
	size_t i;

	for (i = 0; i < 7; i++)
		t[i] = (struct st_tensor_desc)T1(names[i], CK_DT_U8, i + 1);
	l = build(t, 7, 1000);
	check_file(l, 0, &r);
	ck_assert_uint_eq(r.n, 7);
	for (i = 0; i < 7; i++)
		ck_assert_str_eq(r.t[i].name, names[i]);
	st_check_result_release(&r);
	/* the index escapes everything outside ASCII, as json.dumps does */
	ck_assert_ptr_nonnull(strstr(l->index_json, "\"caf\\u00e9\""));
	ck_assert_ptr_nonnull(strstr(l->index_json, "\"smile\\ud83d\\ude00\""));
	ck_assert_ptr_nonnull(strstr(l->index_json, "\"ctl\\u0001\\u001f\\u007f\""));
	doc = cJSON_ParseWithLength(l->index_json, l->index_len);
	ck_assert_ptr_nonnull(doc);
	wm = cJSON_GetObjectItemCaseSensitive(doc, "weight_map");
	for (i = 0; i < 7; i++)
		ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(wm, names[i]));
	cJSON_Delete(doc);
	st_layout_free(l);
}
END_TEST

START_TEST(index_should_list_sorted_names_with_their_files)
{
	static const struct st_tensor_desc t[] = {
		T1("m.2", CK_DT_F32, 10), T1("B", CK_DT_F32, 10),
		T1("m.10", CK_DT_BF16, 30), T1("a", CK_DT_U8, 7),
		T1("_x", CK_DT_I64, 2),
	};
	/* bytewise: "B" < "_x" < "a" < "m.10" < "m.2" */
	static const char *sorted[] = { "B", "_x", "a", "m.10", "m.2" };
	static const size_t idx[] = { 1, 4, 3, 2, 0 };
	struct st_layout *l = build(t, 5, 64);
	cJSON *doc, *wm, *ts, *c;
	size_t i = 0;

	ck_assert_uint_gt(l->nfiles, 1);
	ck_assert_uint_eq(strlen(l->index_json), l->index_len);
	doc = cJSON_ParseWithLength(l->index_json, l->index_len);
	ck_assert_ptr_nonnull(doc);
	ts = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "total_size");
	ck_assert(cJSON_IsNumber(ts));
	ck_assert_uint_eq((uint64_t)ts->valuedouble, 40 + 40 + 60 + 7 + 16);
	ck_assert_uint_eq(l->total_size, 163);
	wm = cJSON_GetObjectItemCaseSensitive(doc, "weight_map");
	cJSON_ArrayForEach(c, wm) {
		ck_assert_uint_lt(i, 5);
		ck_assert_str_eq(c->string, sorted[i]);
		ck_assert_str_eq(c->valuestring,
				 l->files[l->place[idx[i]].file].name);
		i++;
	}
	ck_assert_uint_eq(i, 5);
	cJSON_Delete(doc);
	st_layout_free(l);
}
END_TEST

START_TEST(index_should_match_json_dumps_indent_2_bytes)
{
	static const struct st_tensor_desc t[] = {
		T1("b", CK_DT_BF16, 3), T1("a.weight", CK_DT_F32, 2),
	};
	static const char want[] =
		"{\n"
		"  \"metadata\": {\n"
		"    \"total_size\": 14\n"
		"  },\n"
		"  \"weight_map\": {\n"
		"    \"a.weight\": \"model-00002-of-00002.safetensors\",\n"
		"    \"b\": \"model-00001-of-00002.safetensors\"\n"
		"  }\n"
		"}\n";
	static const char want_empty[] =
		"{\n"
		"  \"metadata\": {\n"
		"    \"total_size\": 0\n"
		"  },\n"
		"  \"weight_map\": {}\n"
		"}\n";
	struct st_layout *l = build(t, 2, 8);

	ck_assert_uint_eq(l->index_len, strlen(want));
	ck_assert_str_eq(l->index_json, want);
	st_layout_free(l);
	l = build(t, 1, 100);
	ck_assert_str_eq(l->files[0].name, "model.safetensors");
	ck_assert_ptr_nonnull(strstr(l->index_json,
				     "\"b\": \"model.safetensors\"\n  }\n}\n"));
	st_layout_free(l);
	l = build(NULL, 0, 100);
	ck_assert_uint_eq(l->nfiles, 1);
	ck_assert_str_eq(l->index_json, want_empty);
	locate_all(l);
	st_layout_free(l);
}
END_TEST

static char *render(const char *base, const char *dtype)
{
	char *out = NULL;
	size_t n = 0;

	ck_assert_int_eq(config_json_render(base, strlen(base), dtype, &out, &n), 0);
	ck_assert_uint_eq(strlen(out), n);
	return out;
}

START_TEST(config_should_print_like_transformers)
{
	static const char base[] =
		"{\"vocab_size\": 128256, \"architectures\": [\"LlamaForCausalLM\"],"
		" \"hidden_size\": 4096, \"rope_theta\": 500000.0,"
		" \"rms_norm_eps\": 1e-05, \"initializer_range\": 0.02,"
		" \"torch_dtype\": \"float32\", \"tie_word_embeddings\": false,"
		" \"eos_token_id\": [128001, 128008], \"rope_scaling\":"
		" {\"rope_type\": \"llama3\", \"factor\": 8.0}, \"pad_token_id\": null,"
		" \"empty\": {}, \"emptya\": [], \"name\": \"caf\xc3\xa9\"}\n";
	/* json.dumps(indent=2, sort_keys=True) of the same values, except that
	 * the integral floats 500000.0 and 8.0 print as integers */
	static const char want[] =
		"{\n"
		"  \"architectures\": [\n"
		"    \"LlamaForCausalLM\"\n"
		"  ],\n"
		"  \"empty\": {},\n"
		"  \"emptya\": [],\n"
		"  \"eos_token_id\": [\n"
		"    128001,\n"
		"    128008\n"
		"  ],\n"
		"  \"hidden_size\": 4096,\n"
		"  \"initializer_range\": 0.02,\n"
		"  \"name\": \"caf\\u00e9\",\n"
		"  \"pad_token_id\": null,\n"
		"  \"rms_norm_eps\": 1e-05,\n"
		"  \"rope_scaling\": {\n"
		"    \"factor\": 8,\n"
		"    \"rope_type\": \"llama3\"\n"
		"  },\n"
		"  \"rope_theta\": 500000,\n"
		"  \"tie_word_embeddings\": false,\n"
		"  \"torch_dtype\": \"bfloat16\",\n"
		"  \"vocab_size\": 128256\n"
		"}\n";
	char *out = render(base, "bfloat16");
	cJSON *doc;

	ck_assert_str_eq(out, want);
	doc = cJSON_Parse(out);
	ck_assert_ptr_nonnull(doc);
	ck_assert(cJSON_GetObjectItemCaseSensitive(doc, "rms_norm_eps")->valuedouble
		  == 1e-05);
	ck_assert(cJSON_GetObjectItemCaseSensitive(doc, "vocab_size")->valuedouble
		  == 128256);
	cJSON_Delete(doc);
	free(out);
}
END_TEST

START_TEST(config_should_add_missing_dtype_and_patch_new_name)
{
	char *out = render("{\"b\": 1, \"a\": {\"torch_dtype\": \"float32\"}}", "float16");

	ck_assert_str_eq(out, "{\n  \"a\": {\n    \"torch_dtype\": \"float32\"\n  },\n"
			 "  \"b\": 1,\n  \"torch_dtype\": \"float16\"\n}\n");
	free(out);
	out = render("{\"dtype\": \"float32\", \"torch_dtype\": \"float32\"}", "bfloat16");
	ck_assert_str_eq(out, "{\n  \"dtype\": \"bfloat16\",\n"
			 "  \"torch_dtype\": \"bfloat16\"\n}\n");
	free(out);
	out = render("{\"torch_dtype\": \"float32\"}", NULL);
	ck_assert_str_eq(out, "{\n  \"torch_dtype\": \"float32\"\n}\n");
	free(out);
	/* a repeated key keeps its last value, as json.loads does */
	out = render("{\"k\": 1, \"k\": 2}", "float32");
	ck_assert_str_eq(out, "{\n  \"k\": 2,\n  \"torch_dtype\": \"float32\"\n}\n");
	free(out);
	out = render("{}", "float32");
	ck_assert_str_eq(out, "{\n  \"torch_dtype\": \"float32\"\n}\n");
	free(out);
}
END_TEST

START_TEST(config_numbers_should_round_trip_exactly)
{
	static const double v[] = {
		1e-05, 1e-06, 0.02, 0.1, 1.0 / 3, 6.02214076e23, 1e300, 5e-324,
		-2.5, 2.2250738585072014e-308, 9007199254740993.0, 1e16, 123.456,
		-128256, 0.0, 1e-07, 3.14159,
	};
	static const char *text[] = {
		"1e-05", "1e-06", "0.02", "0.1", "0.3333333333333333",
		"6.02214076e+23", "1e+300", "5e-324", "-2.5", "2.2250738585072014e-308", NULL,
		"1e+16", "123.456", "-128256", "0", "1e-07", "3.14159",
	};
	char base[128], want[160], *out;
	size_t i;
	double back;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(base, sizeof(base), "{\"x\": %.17g}", v[i]);
		out = render(base, NULL);
		ck_assert_uint_eq(strncmp(out, "{\n  \"x\": ", 9), 0);
		back = strtod(out + 9, NULL);
		ck_assert_msg(back == v[i], "%s does not round-trip", out);
		if (text[i]) {
			snprintf(want, sizeof(want), "{\n  \"x\": %s\n}\n", text[i]);
			ck_assert_str_eq(out, want);
		}
		free(out);
	}
}
END_TEST

START_TEST(config_should_reject_invalid_json)
{
	static const char *bad[] = { "", "{", "[1, 2]", "\"s\"", "{\"a\": 1} x",
				     "{\"a\": 1}{}", "{'a': 1}", "{\"a\": NaN}" };
	char *out = NULL;
	size_t n = 0, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_json_render(bad[i], strlen(bad[i]), "float32",
						 &out, &n) == -EINVAL, "%s", bad[i]);
	ck_assert_int_eq(config_json_render("{}", 2, "int8", &out, &n), -EINVAL);
	ck_assert_ptr_null(out);
	/* a length that stops before a NUL-less tail is honoured */
	ck_assert_int_eq(config_json_render("{\"a\": 1}garbage", 8, "float32", &out,
					    &n), 0);
	free(out);
}
END_TEST

START_TEST(st_check_should_reject_broken_files)
{
	static const struct st_tensor_desc t[] = {
		T1("a", CK_DT_F32, 2), T1("b", CK_DT_U8, 3),
	};
	struct st_layout *l = build(t, 2, 1000);
	size_t n = l->files[0].size, hl = l->files[0].header_len;
	uint8_t *p = assemble(l, 0, 1), *q = malloc(n + 8);
	char why[256];

	ck_assert_int_eq(st_check_file(p, n, why, sizeof(why), NULL), 0);
	ck_assert_int_eq(st_check_file(p, n - 1, why, sizeof(why), NULL), -EIO);
	ck_assert_int_eq(st_check_file(p, 7, why, sizeof(why), NULL), -EIO);
	memcpy(q, p, n);
	memset(q + n, 0, 8);
	ck_assert_int_eq(st_check_file(q, n + 8, why, sizeof(why), NULL), -EIO);
	ck_assert_ptr_nonnull(strstr(why, "8 + N + data"));
	memcpy(q, p, n);
	q[0] ^= 8;	/* header length off by 8 */
	ck_assert_int_eq(st_check_file(q, n, why, sizeof(why), NULL), -EIO);
	memcpy(q, p, n);
	q[hl - 1] = 'x';	/* a non-space after the JSON */
	ck_assert_int_eq(st_check_file(q, n, why, sizeof(why), NULL), -EIO);
	st_layout_free(l);
	free(p);
	free(q);
}
END_TEST

/* With CKPT_KEEP_ST=dir, leave a small valid two-shard model (data filled)
 * in dir for tests/tools/st_check.py. */
START_TEST(keep_files_for_the_python_checker)
{
	static const struct st_tensor_desc t[] = {
		T2("model.embed_tokens.weight", CK_DT_BF16, 8, 4),
		T1("model.norm.weight", CK_DT_F32, 4),
		{ "model.scalar", CK_DT_F64, 0, { 0 }, 0 },
		T2("model.empty", CK_DT_F16, 0, 3),
		T2("lm_head.weight", CK_DT_BF16, 8, 4),
		T1("ids", CK_DT_I64, 3), T1("mask", CK_DT_BOOL, 5),
	};
	const char *dir = getenv("CKPT_KEEP_ST");
	struct st_layout *l;
	char path[4096];
	uint64_t i;
	uint8_t *p;
	uint32_t f;

	if (!dir || !dir[0])
		return;
	l = build(t, 7, 80);
	for (f = 0; f < l->nfiles; f++) {
		p = assemble(l, f, 1);
		if (l->place[6].file == f)	/* BOOL bytes must be 0 or 1 */
			for (i = 0; i < l->place[6].nbytes; i++)
				p[l->place[6].offset + i] &= 1;
		snprintf(path, sizeof(path), "%s/%s", dir, l->files[f].name);
		ck_test_write_file(path, p, l->files[f].size);
		free(p);
	}
	snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir);
	ck_test_write_file(path, l->index_json, l->index_len);
	st_layout_free(l);
}
END_TEST

static Suite *layout_suite(void)
{
	Suite *s = suite_create("layout");
	TCase *t = tcase_create("st_layout");

	tcase_add_test(t, single_shard_should_hold_mixed_dtypes_contiguously);
	tcase_add_test(t, header_should_be_compact_json_padded_with_spaces);
	tcase_add_test(t, layout_should_be_deterministic);
	tcase_add_test(t, shards_should_split_five_100_byte_tensors_at_250);
	tcase_add_test(t, oversized_tensor_should_sit_alone_in_its_shard);
	tcase_add_test(t, shards_should_be_cut_at_group_boundaries);
	tcase_add_test(t, zero_size_and_scalar_tensors_should_be_allowed);
	tcase_add_test(t, locate_should_find_every_boundary);
	tcase_add_test(t, build_should_reject_bad_input);
	tcase_add_test(t, names_needing_escapes_should_round_trip);
	tcase_add_test(t, index_should_list_sorted_names_with_their_files);
	tcase_add_test(t, index_should_match_json_dumps_indent_2_bytes);
	tcase_add_test(t, st_check_should_reject_broken_files);
	tcase_add_test(t, keep_files_for_the_python_checker);
	suite_add_tcase(s, t);
	t = tcase_create("config_json");
	tcase_add_test(t, config_should_print_like_transformers);
	tcase_add_test(t, config_should_add_missing_dtype_and_patch_new_name);
	tcase_add_test(t, config_numbers_should_round_trip_exactly);
	tcase_add_test(t, config_should_reject_invalid_json);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ck_test_run(layout_suite());
}
