/* SPDX-License-Identifier: MIT */
/* Unit tests for reading Hugging Face model directories: the safetensors
 * header parser (st_read) and the directory reader (hf_dir).  The files are
 * built here by hand (header JSON written out literally, offsets counted by
 * hand), independently of the writer; one test reads back what ckptfs's own
 * layout writer (st_layout) produces. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck_test.h"
#include "layout/hf_dir.h"
#include "layout/st_layout.h"
#include "layout/st_read.h"
#include "util/ck_err.h"

#define PATH "x/model.safetensors"

/* Byte i of the data area of a file written with seed s. */
static uint8_t data_byte(uint64_t i, unsigned s)
{
	return (uint8_t)(i * 13 + s);
}

/* A safetensors file: u64 LE strlen(json), json, nd data bytes.  Caller
 * frees. */
static uint8_t *st_bytes(const char *json, size_t nd, unsigned seed, size_t *n)
{
	size_t jl = strlen(json), i;
	uint8_t *p = malloc(8 + jl + nd + 1);

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)((uint64_t)jl >> (8 * i));
	memcpy(p + 8, json, jl);
	for (i = 0; i < nd; i++)
		p[8 + jl + i] = data_byte(i, seed);
	*n = 8 + jl + nd;
	return p;
}

static int parse(const char *json, size_t nd, struct st_header *h)
{
	size_t n;
	uint8_t *p = st_bytes(json, nd, 1, &n);
	int err;

	ck_err_clear();
	err = st_header_parse(p, n, n, PATH, h);
	free(p);
	return err;
}

/* The message holds every non-NULL string of a, b, c. */
static void msg_has(const char *a, const char *b, const char *c)
{
	const char *m = ck_err_msg();

	ck_assert_msg(!a || strstr(m, a), "'%s' lacks '%s'", m, a);
	ck_assert_msg(!b || strstr(m, b), "'%s' lacks '%s'", m, b);
	ck_assert_msg(!c || strstr(m, c), "'%s' lacks '%s'", m, c);
}

static void parse_fails(const char *json, size_t nd, int want,
			const char *sub1, const char *sub2)
{
	struct st_header h;
	int err = parse(json, nd, &h);

	ck_assert_msg(err == want, "%s: got %d (%s), want %d", json, err,
		      ck_err_msg(), want);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_ptr_null(h.e);
	msg_has(PATH, sub1, sub2);
}

START_TEST(header_should_list_tensors_by_name_with_absolute_offsets)
{
	const char *json =
		"{\"__metadata__\":{\"format\":\"pt\"},"
		"\"z.w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
		"\"a.b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
		"\"m\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[20,28]},"
		"\"e\":{\"dtype\":\"U8\",\"shape\":[0,5],\"data_offsets\":[28,28]}}";
	uint64_t ds = 8 + strlen(json);
	struct st_header h;

	ck_assert_int_eq(parse(json, 28, &h), 0);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_uint_eq(h.data_start, ds);
	ck_assert_str_eq(h.e[0].name, "a.b");
	ck_assert_str_eq(h.e[1].name, "e");
	ck_assert_str_eq(h.e[2].name, "m");
	ck_assert_str_eq(h.e[3].name, "z.w");
	ck_assert_int_eq(h.e[0].dtype, CK_DT_F32);
	ck_assert_uint_eq(h.e[0].rank, 1);
	ck_assert_uint_eq(h.e[0].shape[0], 2);
	ck_assert_uint_eq(h.e[0].begin, ds + 12);
	ck_assert_uint_eq(h.e[0].end, ds + 20);
	ck_assert_int_eq(h.e[1].dtype, CK_DT_U8);
	ck_assert_uint_eq(h.e[1].rank, 2);
	ck_assert_uint_eq(h.e[1].shape[0], 0);
	ck_assert_uint_eq(h.e[1].shape[1], 5);
	ck_assert_uint_eq(h.e[1].begin, ds + 28);
	ck_assert_uint_eq(h.e[1].end, ds + 28);
	ck_assert_int_eq(h.e[2].dtype, CK_DT_I64);
	ck_assert_uint_eq(h.e[2].rank, 0);
	ck_assert_uint_eq(h.e[2].begin, ds + 20);
	ck_assert_uint_eq(h.e[2].end, ds + 28);
	ck_assert_int_eq(h.e[3].dtype, CK_DT_BF16);
	ck_assert_uint_eq(h.e[3].rank, 2);
	ck_assert_uint_eq(h.e[3].shape[0], 2);
	ck_assert_uint_eq(h.e[3].shape[1], 3);
	ck_assert_uint_eq(h.e[3].begin, ds);
	ck_assert_uint_eq(h.e[3].end, ds + 12);
	st_header_release(&h);
	ck_assert_uint_eq(h.n, 0);
	st_header_release(&h);
	st_header_release(NULL);
}
END_TEST

START_TEST(header_should_map_every_safetensors_dtype)
{
	static const struct {
		const char *name;
		enum ck_dtype dt;
		unsigned size;
	} v[] = {
		{ "BOOL", CK_DT_BOOL, 1 }, { "U8", CK_DT_U8, 1 },
		{ "I8", CK_DT_I8, 1 },	   { "U16", CK_DT_U16, 2 },
		{ "I16", CK_DT_I16, 2 },   { "U32", CK_DT_U32, 4 },
		{ "I32", CK_DT_I32, 4 },   { "U64", CK_DT_U64, 8 },
		{ "I64", CK_DT_I64, 8 },   { "F16", CK_DT_F16, 2 },
		{ "BF16", CK_DT_BF16, 2 }, { "F32", CK_DT_F32, 4 },
		{ "F64", CK_DT_F64, 8 },
	};
	char json[256];
	struct st_header h;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"t\":{\"dtype\":\"%s\",\"shape\":[3],"
			 "\"data_offsets\":[0,%u]}}",
			 v[i].name, 3 * v[i].size);
		ck_assert_int_eq(parse(json, 3 * v[i].size, &h), 0);
		ck_assert_uint_eq(h.n, 1);
		ck_assert_int_eq(h.e[0].dtype, v[i].dt);
		ck_assert_uint_eq(h.e[0].end - h.e[0].begin, 3 * v[i].size);
		st_header_release(&h);
	}
}
END_TEST

START_TEST(header_should_accept_padding_holes_and_an_empty_object)
{
	struct st_header h;
	size_t n;
	uint8_t *p;

	/* Padded with spaces as the reference writer pads. */
	ck_assert_int_eq(parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
			       "\"data_offsets\":[0,1]}}      ", 8, &h), 0);
	ck_assert_uint_eq(h.n, 1);
	st_header_release(&h);
	/* A hole between tensors, bytes after the last, an empty tensor
	 * inside another's range: no byte is shared. */
	ck_assert_int_eq(parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],"
			       "\"data_offsets\":[0,2]},"
			       "\"b\":{\"dtype\":\"U8\",\"shape\":[2],"
			       "\"data_offsets\":[4,6]},"
			       "\"c\":{\"dtype\":\"U8\",\"shape\":[0],"
			       "\"data_offsets\":[1,1]},"
			       "\"d\":{\"dtype\":\"U8\",\"shape\":[1],"
			       "\"data_offsets\":[2,3],\"extra\":[1]}}", 10, &h), 0);
	ck_assert_uint_eq(h.n, 4);
	st_header_release(&h);
	ck_assert_int_eq(parse("{}", 0, &h), 0);
	ck_assert_uint_eq(h.n, 0);
	st_header_release(&h);
	ck_assert_int_eq(parse("{\"__metadata__\":null}", 0, &h), 0);
	ck_assert_uint_eq(h.n, 0);
	st_header_release(&h);
	ck_assert_int_eq(parse("{\"__metadata__\":{}}", 0, &h), 0);
	ck_assert_uint_eq(h.n, 0);
	st_header_release(&h);
	/* st_header_size() sees only the first 8 bytes. */
	p = st_bytes("{}", 4, 0, &n);
	ck_assert_int_eq(st_header_size(p, 8, n, PATH, &n), 0);
	ck_assert_uint_eq(n, 10);
	free(p);
}
END_TEST

START_TEST(header_should_refuse_bad_entries_naming_the_tensor)
{
	char json[512], want[256];
	size_t jl;

	parse_fails("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],"
		    "\"data_offsets\":[0,2]}}", 2, -ENOTSUP, "'w'", "F8_E4M3");
	parse_fails("{\"w\":{\"dtype\":\"C64\",\"shape\":[1],"
		    "\"data_offsets\":[0,8]}}", 8, -ENOTSUP, "'w'", "C64");
	parse_fails("{\"w\":{\"dtype\":\"bf16\",\"shape\":[1],"
		    "\"data_offsets\":[0,2]}}", 2, -ENOTSUP, "'w'", "bf16");
	parse_fails("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],"
		    "\"data_offsets\":[0,10]}}", 12, -EIO, "'w'", "12 bytes");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4],"
		    "\"data_offsets\":[0,0]}}", 0, -EOVERFLOW, "'w'", NULL);
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,"
		    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
		    "\"data_offsets\":[0,1]}}", 1, -EOVERFLOW, "'w'", "rank");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],"
		    "\"data_offsets\":[0,1]}}", 1, -EIO, "'w'", "shape");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		    "\"data_offsets\":[0,1.5]}}", 2, -EIO, "'w'", "data_offsets");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],"
		    "\"data_offsets\":[0,1,2]}}", 2, -EIO, "'w'", "data_offsets");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],"
		    "\"data_offsets\":[1,0]}}", 2, -EIO, "'w'", "data_offsets");
	parse_fails("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -EIO,
		    "'w'", "dtype");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, -EIO,
		    "'w'", "shape");
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, -EIO, "'w'",
		    "data_offsets");
	parse_fails("{\"w\":[1,2]}", 0, -EIO, "'w'", "not an object");
	parse_fails("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}",
		    1, -EIO, "'w'", "dtype");
	parse_fails("{\"\":{\"dtype\":\"U8\",\"shape\":[1],"
		    "\"data_offsets\":[0,1]}}", 1, -EIO, "empty name", NULL);
	parse_fails("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		    "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
		    2, -EIO, "'w'", "twice");
	parse_fails("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
		    "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}",
		    12, -EIO, "'a' and 'b' overlap", NULL);
	parse_fails("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
		    "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}",
		    8, -EIO, "overlap", NULL);
	/* A long tensor hides a later overlap behind a short one. */
	parse_fails("{\"a\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[0,10]},"
		    "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
		    "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[5,7]}}",
		    10, -EIO, "'a' and 'b' overlap", NULL);
	/* The furthest end so far moves on to a later tensor. */
	parse_fails("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
		    "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[2,10]},"
		    "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[5,7]}}",
		    10, -EIO, "'b' and 'c' overlap", NULL);
	parse_fails("{\"__metadata__\":{\"format\":1}}", 0, -EIO, "__metadata__",
		    "'format'");
	parse_fails("{\"__metadata__\":[]}", 0, -EIO, "__metadata__", NULL);

	/* Data past the end of a truncated file: the exact message. */
	snprintf(json, sizeof(json), "%s",
		 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
	jl = strlen(json);
	snprintf(want, sizeof(want),
		 PATH ": tensor 'w': data ends at byte %zu, the file has %zu bytes",
		 8 + jl + 16, 8 + jl + 10);
	parse_fails(json, 10, -EIO, NULL, NULL);
	ck_assert_str_eq(ck_err_msg(), want);
}
END_TEST

START_TEST(header_should_refuse_bad_framing_and_json)
{
	uint8_t b[16] = { 0 };
	struct st_header h;
	size_t n;
	uint8_t *p;
	uint64_t sz;

	parse_fails("{\"a\":1", 0, -EIO, "not valid JSON", NULL);
	parse_fails("", 0, -EIO, "JSON", NULL);
	parse_fails("[]", 0, -EIO, "not a JSON object", NULL);
	parse_fails("{} x", 0, -EIO, "trailing", NULL);
	ck_assert_int_eq(parse("{}\n\t\r ", 0, &h), 0);
	parse_fails("{\"a\x01\":{}}", 0, -EIO, "control byte", NULL);
	parse_fails("{\"a\xff\":{}}", 0, -EIO, "UTF-8", NULL);

	/* A NUL after the object (padding must be spaces). */
	memcpy(b, "\4\0\0\0\0\0\0\0{} \0", 12);
	ck_err_clear();
	ck_assert_int_eq(st_header_parse(b, 12, 12, PATH, &h), -EIO);
	msg_has(PATH, "control byte 0x00 at byte 11", NULL);

	/* Header length past the limit, past the file; a tiny file. */
	memset(b, 0, sizeof(b));
	b[0] = 0x01;
	b[1] = 0xe1;
	b[2] = 0xf5;
	b[3] = 0x05;	/* 100,000,001 */
	ck_err_clear();
	ck_assert_int_eq(st_header_parse(b, 16, 1u << 30, PATH, &h), -EOVERFLOW);
	msg_has(PATH, "100000001", NULL);
	memset(b, 0, sizeof(b));
	b[0] = 9;
	ck_assert_int_eq(st_header_parse(b, 16, 16, PATH, &h), -EIO);
	msg_has(PATH, "header ends at byte 17, the file has 16 bytes", NULL);
	ck_assert_int_eq(st_header_parse(b, 7, 7, PATH, &h), -EIO);
	msg_has(PATH, "7 bytes", NULL);
	ck_assert_int_eq(st_header_size(b, 4, 100, PATH, &sz), -EINVAL);
	/* The caller gave fewer bytes than the header, the file has them. */
	p = st_bytes("{}", 0, 0, &n);
	ck_assert_int_eq(st_header_parse(p, n - 1, n, PATH, &h), -EINVAL);
	ck_assert_uint_eq(h.n, 0);
	free(p);
}
END_TEST

/* --- directories ------------------------------------------------------ */

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_test_write_file(path, p, n);
}

static void put_str(const char *dir, const char *name, const char *s)
{
	put(dir, name, s, strlen(s));
}

static void put_st(const char *dir, const char *name, const char *json,
		   size_t nd, unsigned seed)
{
	size_t n;
	uint8_t *p = st_bytes(json, nd, seed, &n);

	put(dir, name, p, n);
	free(p);
}

static void rm(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(unlink(path), 0);
}

/* The tensor's bytes are data bytes [b, b + nbytes) of a file of seed s. */
static void data_is(const struct hf_dir *d, const struct hf_tensor *t,
		    uint64_t b, unsigned s)
{
	const uint8_t *p = hf_dir_data(d, t);
	uint64_t i;

	for (i = 0; i < t->nbytes; i++)
		ck_assert_msg(p[i] == data_byte(b + i, s), "%s byte %llu",
			      t->name, (unsigned long long)i);
}

static int open_dir(const char *dir, struct hf_dir **d)
{
	ck_err_clear();
	*d = NULL;
	return hf_dir_open(dir, d);
}

#define CONFIG "{\"model_type\": \"llama\"}\n"

/* Shard A: "a.w" BF16 [4,4] (32 bytes), "a.b" F32 [3] (12 bytes). */
#define SHARD_A                                                               \
	"{\"__metadata__\":{\"format\":\"pt\"},"                             \
	"\"a.w\":{\"dtype\":\"BF16\",\"shape\":[4,4],\"data_offsets\":[0,32]}," \
	"\"a.b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[32,44]}}"
/* Shard B: "b.w" I32 [2,2] (16 bytes). */
#define SHARD_B                                                               \
	"{\"b.w\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
#define FA "model-00001-of-00002.safetensors"
#define FB "model-00002-of-00002.safetensors"
#define INDEX_OK                                                              \
	"{\"metadata\": {\"total_size\": 60}, \"weight_map\": {"             \
	"\"a.b\": \"" FA "\", \"a.w\": \"" FA "\", \"b.w\": \"" FB "\"}}"

START_TEST(single_file_dir_should_open)
{
	char *dir = ck_test_tmpdir();
	const struct hf_tensor *t;
	struct hf_dir *d;
	size_t ds = 8 + strlen(SHARD_A);

	put_str(dir, "config.json", CONFIG);
	put_st(dir, "model.safetensors", SHARD_A, 44, 3);
	ck_assert_int_eq(open_dir(dir, &d), 0);
	ck_assert_str_eq(d->path, dir);
	ck_assert_str_eq(d->config, CONFIG);
	ck_assert_uint_eq(d->config_len, strlen(CONFIG));
	ck_assert_int_eq(d->sharded, 0);
	ck_assert_uint_eq(d->nfiles, 1);
	ck_assert_str_eq(d->files[0].name, "model.safetensors");
	ck_assert_uint_eq(d->files[0].size, ds + 44);
	ck_assert_uint_eq(d->ntensors, 2);
	ck_assert_str_eq(d->tensors[0].name, "a.b");
	ck_assert_str_eq(d->tensors[1].name, "a.w");
	t = hf_dir_find(d, "a.w");
	ck_assert_ptr_eq(t, &d->tensors[1]);
	ck_assert_int_eq(t->dtype, CK_DT_BF16);
	ck_assert_uint_eq(t->rank, 2);
	ck_assert_uint_eq(t->shape[0], 4);
	ck_assert_uint_eq(t->shape[1], 4);
	ck_assert_uint_eq(t->nbytes, 32);
	ck_assert_uint_eq(t->file, 0);
	ck_assert_uint_eq(t->offset, ds);
	data_is(d, t, 0, 3);
	t = hf_dir_find(d, "a.b");
	ck_assert_uint_eq(t->offset, ds + 32);
	ck_assert_uint_eq(t->nbytes, 12);
	data_is(d, t, 32, 3);
	/* Dropped pages come back from the file. */
	hf_dir_drop(d, t);
	data_is(d, t, 32, 3);
	ck_assert_ptr_null(hf_dir_find(d, "a"));
	ck_assert_ptr_null(hf_dir_find(d, "zz"));
	hf_dir_close(d);
	hf_dir_close(NULL);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(sharded_dir_should_open_through_symlinks)
{
	char *root = ck_test_tmpdir(), snap[4096], blobs[4096], link[4096];
	const struct hf_tensor *t;
	struct hf_dir *d;

	/* The layout of a Hugging Face cache: snapshots/<rev>/F -> blobs/<h>. */
	snprintf(snap, sizeof(snap), "%s/snapshots", root);
	ck_assert_int_eq(mkdir(snap, 0755), 0);
	snprintf(snap, sizeof(snap), "%s/snapshots/rev", root);
	ck_assert_int_eq(mkdir(snap, 0755), 0);
	snprintf(blobs, sizeof(blobs), "%s/blobs", root);
	ck_assert_int_eq(mkdir(blobs, 0755), 0);
	put_st(blobs, "b1", SHARD_B, 16, 7);
	snprintf(link, sizeof(link), "%s/" FB, snap);
	ck_assert_int_eq(symlink("../../blobs/b1", link), 0);
	put_st(snap, FA, SHARD_A, 44, 5);
	put_str(snap, "config.json", CONFIG);
	put_str(snap, "model.safetensors.index.json", INDEX_OK);
	/* A stray model.safetensors is ignored when the index exists. */
	put_str(snap, "model.safetensors", "junk");

	ck_assert_int_eq(open_dir(snap, &d), 0);
	ck_assert_int_eq(d->sharded, 1);
	ck_assert_uint_eq(d->nfiles, 2);
	ck_assert_str_eq(d->files[0].name, FA);
	ck_assert_str_eq(d->files[1].name, FB);
	ck_assert_uint_eq(d->ntensors, 3);
	ck_assert_str_eq(d->tensors[0].name, "a.b");
	ck_assert_str_eq(d->tensors[1].name, "a.w");
	ck_assert_str_eq(d->tensors[2].name, "b.w");
	t = hf_dir_find(d, "b.w");
	ck_assert_uint_eq(t->file, 1);
	ck_assert_int_eq(t->dtype, CK_DT_I32);
	ck_assert_uint_eq(t->offset, 8 + strlen(SHARD_B));
	ck_assert_uint_eq(t->nbytes, 16);
	data_is(d, t, 0, 7);
	t = hf_dir_find(d, "a.b");
	ck_assert_uint_eq(t->file, 0);
	data_is(d, t, 32, 5);
	hf_dir_drop(d, t);
	hf_dir_close(d);
	ck_test_rmtree(root);
	free(root);
}
END_TEST

/* Open dir, expect want and a message holding a, b and c. */
static void open_fails(const char *dir, int want, const char *a, const char *b,
		       const char *c)
{
	struct hf_dir *d;
	int err = open_dir(dir, &d);

	ck_assert_msg(err == want, "got %d (%s), want %d", err, ck_err_msg(),
		      want);
	ck_assert_ptr_null(d);
	msg_has(a, b, c);
}

START_TEST(dir_should_refuse_missing_files)
{
	char *dir = ck_test_tmpdir(), path[4096], want[4096];

	snprintf(path, sizeof(path), "%s/nope", dir);
	open_fails(path, -ENOENT, path, NULL, NULL);
	open_fails(dir, -ENOENT, dir, "config.json", NULL);
	put_str(dir, "config.json", CONFIG);
	open_fails(dir, -ENOENT, dir,
		   "no model.safetensors or model.safetensors.index.json", NULL);
	/* The index names a shard that is not there. */
	put_st(dir, FA, SHARD_A, 44, 1);
	put_str(dir, "model.safetensors.index.json", INDEX_OK);
	snprintf(want, sizeof(want),
		 "%s/model.safetensors.index.json: tensor 'b.w': shard '" FB
		 "' is missing", dir);
	open_fails(dir, -ENOENT, NULL, NULL, NULL);
	ck_assert_str_eq(ck_err_msg(), want);
	/* config.json that is a directory. */
	rm(dir, "config.json");
	snprintf(path, sizeof(path), "%s/config.json", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	open_fails(dir, -EINVAL, path, "not a regular file", NULL);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(dir_should_refuse_an_index_that_disagrees_with_its_shards)
{
	char *dir = ck_test_tmpdir(), idx[4096], fb[4096];
	const char *ix = "model.safetensors.index.json";

	snprintf(idx, sizeof(idx), "%s/%s", dir, ix);
	snprintf(fb, sizeof(fb), "%s/" FB, dir);
	put_str(dir, "config.json", CONFIG);
	put_st(dir, FA, SHARD_A, 44, 1);
	put_st(dir, FB, SHARD_B, 16, 2);

	/* Shard names that are not plain file names. */
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": \"../" FA "\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", "not a plain file name");
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": \"sub/x\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", "'sub/x'");
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": \"..\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", "plain");
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": \"\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", "plain");
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": 3}}");
	open_fails(dir, -EIO, idx, "'a.w'", "not a string");
	/* Not JSON, no weight_map, a tensor listed twice. */
	put_str(dir, ix, "{\"weight_map\": ");
	open_fails(dir, -EIO, idx, "JSON", NULL);
	put_str(dir, ix, "{\"metadata\": {}}");
	open_fails(dir, -EIO, idx, "weight_map", NULL);
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": \"" FA "\", \"a.w\": \""
		FA "\", \"a.b\": \"" FA "\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", "twice");
	/* The index names a tensor its shard lacks. */
	put_str(dir, ix, "{\"weight_map\": {\"a.b\": \"" FA "\", \"a.w\": \"" FA
		"\", \"a.x\": \"" FA "\", \"b.w\": \"" FB "\"}}");
	open_fails(dir, -EINVAL, idx, "'a.x'", "not in shard '" FA "'");
	/* A shard holds a tensor the index does not name. */
	put_str(dir, ix, "{\"weight_map\": {\"a.b\": \"" FA "\", \"b.w\": \"" FB
		"\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", FA);
	msg_has("is not in", NULL, NULL);
	/* The index puts a tensor in the wrong shard. */
	put_str(dir, ix, "{\"weight_map\": {\"a.b\": \"" FA "\", \"a.w\": \"" FB
		"\", \"b.w\": \"" FB "\"}}");
	open_fails(dir, -EINVAL, idx, "'a.w'", "says shard '" FB "'");
	/* A tensor in two shards. */
	put_st(dir, FB, "{\"b.w\":{\"dtype\":\"I32\",\"shape\":[2,2],"
	       "\"data_offsets\":[0,16]},\"a.b\":{\"dtype\":\"F32\","
	       "\"shape\":[3],\"data_offsets\":[16,28]}}", 28, 2);
	put_str(dir, ix, INDEX_OK);
	open_fails(dir, -EINVAL, "'a.b'", FA, FB);
	msg_has(dir, "both", NULL);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(dir_should_refuse_bad_shards_naming_file_and_tensor)
{
	char *dir = ck_test_tmpdir(), path[4096], fa[4096];
	const char *ix = "model.safetensors.index.json";
	size_t ds = 8 + strlen(SHARD_A);
	char want[4096];

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	snprintf(fa, sizeof(fa), "%s/" FA, dir);
	put_str(dir, "config.json", CONFIG);
	/* Truncated: the last tensor's data is cut short. */
	put_st(dir, "model.safetensors", SHARD_A, 40, 1);
	snprintf(want, sizeof(want),
		 "%s: tensor 'a.b': data ends at byte %zu, the file has %zu bytes",
		 path, ds + 44, ds + 40);
	open_fails(dir, -EIO, NULL, NULL, NULL);
	ck_assert_str_eq(ck_err_msg(), want);
	/* Shorter than its header, shorter than 8 bytes. */
	ck_test_truncate(path, 20);
	open_fails(dir, -EIO, path, "header ends", NULL);
	ck_test_truncate(path, 3);
	open_fails(dir, -EIO, path, "3 bytes", NULL);
	/* An unknown dtype. */
	put_st(dir, "model.safetensors", "{\"q\":{\"dtype\":\"F8_E5M2\","
	       "\"shape\":[2],\"data_offsets\":[0,2]}}", 2, 1);
	open_fails(dir, -ENOTSUP, path, "'q'", "F8_E5M2");
	/* model.safetensors that is a directory. */
	rm(dir, "model.safetensors");
	ck_assert_int_eq(mkdir(path, 0755), 0);
	open_fails(dir, -EINVAL, path, "not a regular file", NULL);
	/* Through the index: a bad shard header names the shard. */
	put_st(dir, FA, "{\"a.w\":{\"dtype\":\"BF16\",\"shape\":[4,4],"
	       "\"data_offsets\":[0,30]}}", 30, 1);
	put_str(dir, ix, "{\"weight_map\": {\"a.w\": \"" FA "\"}}");
	open_fails(dir, -EIO, fa, "'a.w'", NULL);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

/* What ckptfs's own writer (st_layout) produces reads back exactly. */
START_TEST(dir_written_by_st_layout_should_read_back)
{
	static const struct st_tensor_desc t[] = {
		{ "model.layers.0.mlp.down_proj.weight", CK_DT_BF16, 2, { 8, 6 }, 0 },
		{ "model.embed_tokens.weight", CK_DT_F32, 2, { 5, 4 }, 0 },
		{ "lm_head.weight", CK_DT_F16, 2, { 5, 4 }, 0 },
		{ "model.norm.weight", CK_DT_F32, 1, { 4 }, 0 },
		{ "step", CK_DT_I64, 0, { 0 }, 0 },
		{ "mask", CK_DT_BOOL, 1, { 7 }, 0 },
	};
	const size_t n = sizeof(t) / sizeof(t[0]);
	char *dir = ck_test_tmpdir();
	struct st_layout *l = NULL;
	struct hf_dir *d;
	size_t i;
	uint32_t f;

	ck_assert_int_eq(st_layout_build(t, n, 100, &l), 0);
	ck_assert_uint_gt(l->nfiles, 1);
	for (f = 0; f < l->nfiles; f++) {
		const struct st_file *sf = &l->files[f];
		uint8_t *p = calloc(1, sf->size);
		uint64_t k;

		ck_assert_ptr_nonnull(p);
		memcpy(p, sf->header, sf->header_len);
		for (k = sf->header_len; k < sf->size; k++)
			p[k] = data_byte(k, f);
		put(dir, sf->name, p, sf->size);
		free(p);
	}
	put(dir, "model.safetensors.index.json", l->index_json, l->index_len);
	put_str(dir, "config.json", CONFIG);

	ck_assert_int_eq(open_dir(dir, &d), 0);
	ck_assert_uint_eq(d->ntensors, n);
	ck_assert_uint_eq(d->nfiles, l->nfiles);
	for (i = 1; i < n; i++)
		ck_assert_int_lt(strcmp(d->tensors[i - 1].name, d->tensors[i].name), 0);
	for (i = 0; i < n; i++) {
		const struct hf_tensor *h = hf_dir_find(d, t[i].name);
		const struct st_placement *pl = &l->place[i];
		const uint8_t *p;
		unsigned k;

		ck_assert_ptr_nonnull(h);
		ck_assert_int_eq(h->dtype, t[i].dtype);
		ck_assert_uint_eq(h->rank, t[i].rank);
		for (k = 0; k < t[i].rank; k++)
			ck_assert_uint_eq(h->shape[k], t[i].shape[k]);
		ck_assert_uint_eq(h->nbytes, pl->nbytes);
		ck_assert_uint_eq(h->offset, pl->offset);
		ck_assert_str_eq(d->files[h->file].name, l->files[pl->file].name);
		p = hf_dir_data(d, h);
		for (k = 0; k < h->nbytes; k++)
			ck_assert_uint_eq(p[k], data_byte(pl->offset + k, pl->file));
		hf_dir_drop(d, h);
	}
	hf_dir_close(d);
	st_layout_free(l);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

/* A tensor spanning several pages: dropping it keeps its bytes readable. */
START_TEST(drop_should_keep_large_tensors_readable)
{
	char *dir = ck_test_tmpdir(), json[256];
	const size_t nd = 5 * 4096 + 100;
	const struct hf_tensor *t;
	struct hf_dir *d;

	snprintf(json, sizeof(json), "{\"a\":{\"dtype\":\"U8\",\"shape\":[100],"
		 "\"data_offsets\":[0,100]},\"big\":{\"dtype\":\"U8\",\"shape\":"
		 "[%zu],\"data_offsets\":[100,%zu]}}", nd - 100, nd);
	put_str(dir, "config.json", CONFIG);
	put_st(dir, "model.safetensors", json, nd, 9);
	ck_assert_int_eq(open_dir(dir, &d), 0);
	t = hf_dir_find(d, "big");
	ck_assert_ptr_nonnull(t);
	data_is(d, t, 100, 9);
	hf_dir_drop(d, t);
	data_is(d, t, 100, 9);
	data_is(d, hf_dir_find(d, "a"), 0, 9);
	hf_dir_close(d);
	ck_test_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *hf_dir_suite(void)
{
	Suite *s = suite_create("hf_dir");
	TCase *t = tcase_create("st_read");

	tcase_add_test(t, header_should_list_tensors_by_name_with_absolute_offsets);
	tcase_add_test(t, header_should_map_every_safetensors_dtype);
	tcase_add_test(t, header_should_accept_padding_holes_and_an_empty_object);
	tcase_add_test(t, header_should_refuse_bad_entries_naming_the_tensor);
	tcase_add_test(t, header_should_refuse_bad_framing_and_json);
	suite_add_tcase(s, t);
	t = tcase_create("hf_dir");
	tcase_add_test(t, single_file_dir_should_open);
	tcase_add_test(t, sharded_dir_should_open_through_symlinks);
	tcase_add_test(t, dir_should_refuse_missing_files);
	tcase_add_test(t, dir_should_refuse_an_index_that_disagrees_with_its_shards);
	tcase_add_test(t, dir_should_refuse_bad_shards_naming_file_and_tensor);
	tcase_add_test(t, dir_written_by_st_layout_should_read_back);
	tcase_add_test(t, drop_should_keep_large_tensors_readable);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return ck_test_run(hf_dir_suite());
}
