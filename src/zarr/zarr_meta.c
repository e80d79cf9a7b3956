/* SPDX-License-Identifier: MIT */
/* This file implements the zarr.json / .zarray parser of zarr_meta.h. */
#include "zarr/zarr_meta.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"
#include "util/ck_json.h"

/*
 * Design note.  The text is parsed once into a cJSON tree, every member is
 * checked and copied into struct zarr_meta, and the tree is freed before
 * returning; nothing downstream sees JSON.  Codec names are resolved with
 * codec_find() here, so an unknown codec fails the open, not the first read.
 * Transposes are folded into one permutation; sharding configurations are
 * parsed against the shape of the chunk they split, which lets every size
 * (inner grid, index bytes, inner chunk bytes) be checked up front.
 */

void zarr_pipeline_free(struct zarr_pipeline *p)
{
	if (!p)
		return;
	if (p->shard) {
		zarr_pipeline_free(p->shard->inner);
		free(p->shard);
	}
	free(p);
}

void zarr_meta_free(struct zarr_meta *m)
{
	if (!m)
		return;
	zarr_pipeline_free(m->codecs);
	free(m);
}

/* prod(shape) * itemsize, or -EOVERFLOW. */
static int shape_bytes(unsigned rank, const uint64_t *shape, size_t itemsize,
		       uint64_t *out)
{
	uint64_t b = itemsize;
	unsigned i;

	for (i = 0; i < rank; i++)
		if (__builtin_mul_overflow(b, shape[i], &b))
			return -EOVERFLOW;
	*out = b;
	return 0;
}

static int check_chunk_bytes(unsigned rank, const uint64_t *chunk,
			     size_t itemsize, const char *what)
{
	uint64_t b;

	if (shape_bytes(rank, chunk, itemsize, &b) || b > ZARR_MAX_CHUNK_BYTES)
		return ck_err(-EOVERFLOW, "%s is larger than %llu bytes", what,
			      (unsigned long long)ZARR_MAX_CHUNK_BYTES);
	return 0;
}

/* A codec entry is {"name": ..., "configuration": {...}} or a bare name. */
static int codec_entry(const cJSON *c, const char **name, const cJSON **cfg)
{
	const cJSON *conf;
	int err;

	if (cJSON_IsString(c) && c->valuestring) {
		*name = c->valuestring;
		*cfg = NULL;
		return 0;
	}
	if (!cJSON_IsObject(c))
		return ck_err(-EINVAL, "codec entry is not an object");
	err = ck_json_get_str(c, "name", name);
	if (err)
		return ck_err_ctx(err, "codec entry");
	conf = ck_json_get(c, "configuration");
	if (conf && !cJSON_IsObject(conf))
		return ck_err(-EINVAL, "configuration of codec '%s' is not an object",
			      *name);
	*cfg = conf;
	return 0;
}

static int parse_endian(const cJSON *cfg, int *big)
{
	const char *e;
	int err = ck_json_get_str(cfg, "endian", &e);

	if (err == -ENOENT) {	/* optional for 1-byte types; little otherwise */
		*big = 0;
		return 0;
	}
	if (err)
		return err;
	if (strcmp(e, "little") == 0)
		*big = 0;
	else if (strcmp(e, "big") == 0)
		*big = 1;
	else
		return ck_err(-EINVAL, "bad endian '%s'", e);
	return 0;
}

/* order: a permutation of 0..rank-1, or "C" (identity) / "F" (reversed). */
static int parse_order(const cJSON *cfg, unsigned rank, unsigned *t)
{
	const cJSON *o = ck_json_get(cfg, "order"), *e;
	uint32_t seen = 0;
	unsigned i = 0;

	if (cJSON_IsString(o) && o->valuestring &&
	    (strcmp(o->valuestring, "C") == 0 || strcmp(o->valuestring, "F") == 0)) {
		int f = o->valuestring[0] == 'F';

		for (i = 0; i < rank; i++)
			t[i] = f ? rank - 1 - i : i;
		return 0;
	}
	if (!cJSON_IsArray(o))
		return ck_err(-EINVAL, "transpose order is missing or not an array");
	cJSON_ArrayForEach(e, o) {
		int64_t v;
		int err;

		if (i >= rank)
			return ck_err(-EINVAL, "transpose order has more than %u entries",
				      rank);
		err = ck_json_num_i64(e, 0, (int64_t)rank - 1, &v, "order");
		if (err)
			return err;
		if (seen & (UINT32_C(1) << v))
			return ck_err(-EINVAL, "transpose order repeats %lld", (long long)v);
		seen |= UINT32_C(1) << v;
		t[i++] = (unsigned)v;
	}
	if (i != rank)
		return ck_err(-EINVAL, "transpose order has %u entries, expected %u", i,
			      rank);
	return 0;
}

static int opt_int(const cJSON *cfg, const char *key, int *v)
{
	int64_t x;
	int err = ck_json_get_i64(cfg, key, -1000, 1000, &x);

	if (err == -ENOENT || !cfg)
		return 0;
	if (err)
		return err;
	*v = (int)x;
	return 0;
}

static int parse_b2b(const char *name, const cJSON *cfg, size_t itemsize,
		     struct zarr_b2b *b)
{
	int typesize = (int)itemsize, err;

	b->codec = codec_find(name);
	if (!b->codec)
		return ck_err(-ENOTSUP, "unknown codec '%s'", name);
	b->params.level = 0;
	err = opt_int(cfg, "level", &b->params.level);
	if (!err)
		err = opt_int(cfg, "clevel", &b->params.level);
	if (!err)
		err = opt_int(cfg, "typesize", &typesize);
	if (err)
		return ck_err_ctx(err, "codec '%s'", name);
	b->params.typesize = typesize > 0 ? (unsigned)typesize : (unsigned)itemsize;
	return 0;
}

static int pipeline_parse(const cJSON *codecs, unsigned rank,
			  const uint64_t *shape, size_t itemsize, int depth,
			  struct zarr_pipeline **out);

/* index_codecs: "bytes" then an optional "crc32c", nothing else. */
static int parse_index_codecs(const cJSON *codecs, struct zarr_shard *s)
{
	const cJSON *c;
	int n = 0, err;

	if (!cJSON_IsArray(codecs))
		return ck_err(-EINVAL, "sharding 'index_codecs' is missing or not an array");
	cJSON_ArrayForEach(c, codecs) {
		const char *name;
		const cJSON *cfg;

		err = codec_entry(c, &name, &cfg);
		if (err)
			return err;
		if (n == 0 && strcmp(name, "bytes") == 0)
			err = parse_endian(cfg, &s->index_big_endian);
		else if (n == 1 && strcmp(name, "crc32c") == 0)
			s->index_crc = 1;
		else
			return ck_err(-ENOTSUP, "unsupported shard index codec '%s'", name);
		if (err)
			return err;
		n++;
	}
	if (n == 0)
		return ck_err(-EINVAL, "sharding 'index_codecs' is empty");
	return 0;
}

static int parse_shard(const cJSON *cfg, unsigned rank, const uint64_t *outer,
		       size_t itemsize, int depth, struct zarr_shard **out)
{
	struct zarr_shard *s = NULL;
	const char *loc;
	size_t n = 0;
	unsigned i;
	int err;

	if (depth >= ZARR_MAX_SHARD_DEPTH)
		return ck_err(-ENOTSUP, "sharding nested deeper than %d levels",
			      ZARR_MAX_SHARD_DEPTH);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->rank = rank;
	err = ck_json_get_u64_array(cfg, "chunk_shape", INT64_MAX, s->chunk,
				    ZARR_MAX_RANK, &n);
	if (err)
		goto out_free;
	if (n != rank) {
		err = ck_err(-EINVAL, "sharding chunk_shape has rank %zu, expected %u", n,
			     rank);
		goto out_free;
	}
	s->k = 1;
	for (i = 0; i < rank; i++) {
		if (s->chunk[i] == 0 || outer[i] % s->chunk[i] != 0) {
			err = ck_err(-EINVAL,
				     "sharding chunk_shape[%u] = %llu does not divide the shard shape %llu",
				     i, (unsigned long long)s->chunk[i],
				     (unsigned long long)outer[i]);
			goto out_free;
		}
		s->grid[i] = outer[i] / s->chunk[i];
		if (__builtin_mul_overflow(s->k, s->grid[i], &s->k) ||
		    s->k > ZARR_SHARD_MAX_INDEX_BYTES / 16) {
			err = ck_err(-EOVERFLOW, "shard has too many inner chunks");
			goto out_free;
		}
	}
	err = parse_index_codecs(ck_json_get(cfg, "index_codecs"), s);
	if (err)
		goto out_free;
	s->index_bytes = 16 * s->k + (s->index_crc ? 4 : 0);
	err = ck_json_get_str(cfg, "index_location", &loc);
	if (err == -ENOENT) {
		err = 0;
	} else if (err) {
		goto out_free;
	} else if (strcmp(loc, "start") == 0) {
		s->index_at_start = 1;
	} else if (strcmp(loc, "end") != 0) {
		err = ck_err(-EINVAL, "bad index_location '%s'", loc);
		goto out_free;
	}
	err = pipeline_parse(ck_json_get(cfg, "codecs"), rank, s->chunk, itemsize,
			     depth + 1, &s->inner);
	if (err) {
		err = ck_err_ctx(err, "sharding_indexed");
		goto out_free;
	}
	*out = s;
	return 0;
out_free:
	free(s);
	return err;
}

/* One entry of a pipeline; *stage: 0 array->array, 1 after array->bytes. */
static int pipeline_entry(const cJSON *c, unsigned rank, uint64_t *enc,
			  size_t itemsize, int depth, int *stage,
			  struct zarr_pipeline *p)
{
	const char *name;
	const cJSON *cfg;
	int err = codec_entry(c, &name, &cfg);

	if (err)
		return err;
	if (strcmp(name, "transpose") == 0 || strcmp(name, "bytes") == 0 ||
	    strcmp(name, "sharding_indexed") == 0) {
		if (*stage != 0)
			return ck_err(-EINVAL, "codec '%s' after the array->bytes codec",
				      name);
	} else if (*stage != 1) {
		return ck_err(-EINVAL, "codec '%s' before the array->bytes codec", name);
	}
	if (strcmp(name, "transpose") == 0) {
		unsigned t[ZARR_MAX_RANK], perm[ZARR_MAX_RANK], i;
		uint64_t shp[ZARR_MAX_RANK];

		err = parse_order(cfg, rank, t);
		if (err)
			return err;
		for (i = 0; i < rank; i++) {
			perm[i] = p->perm[t[i]];
			shp[i] = enc[t[i]];
		}
		memcpy(p->perm, perm, sizeof(perm[0]) * rank);
		memcpy(enc, shp, sizeof(shp[0]) * rank);
		return 0;
	}
	if (strcmp(name, "bytes") == 0) {
		*stage = 1;
		return parse_endian(cfg, &p->big_endian);
	}
	if (strcmp(name, "sharding_indexed") == 0) {
		*stage = 1;
		return parse_shard(cfg, rank, enc, itemsize, depth, &p->shard);
	}
	if (p->nb2b >= ZARR_MAX_B2B)
		return ck_err(-ENOTSUP, "more than %d bytes->bytes codecs", ZARR_MAX_B2B);
	err = parse_b2b(name, cfg, itemsize, &p->b2b[p->nb2b]);
	if (err)
		return err;
	p->nb2b++;
	return 0;
}

static int pipeline_parse(const cJSON *codecs, unsigned rank,
			  const uint64_t *shape, size_t itemsize, int depth,
			  struct zarr_pipeline **out)
{
	struct zarr_pipeline *p = NULL;
	uint64_t enc[ZARR_MAX_RANK];
	const cJSON *c;
	int stage = 0, err;
	unsigned i;

	if (!cJSON_IsArray(codecs))
		return ck_err(-EINVAL, "member 'codecs' is missing or not an array");
	err = check_chunk_bytes(rank, shape, itemsize, "chunk");
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < rank; i++) {
		p->perm[i] = i;
		enc[i] = shape[i];
	}
	cJSON_ArrayForEach(c, codecs) {
		err = pipeline_entry(c, rank, enc, itemsize, depth, &stage, p);
		if (err)
			goto out_free;
	}
	if (stage == 0) {
		err = ck_err(-EINVAL, "no array->bytes codec ('bytes' or 'sharding_indexed')");
		goto out_free;
	}
	for (i = 0; i < rank; i++)
		p->transposed |= p->perm[i] != i;
	*out = p;
	return 0;
out_free:
	zarr_pipeline_free(p);
	return err;
}

/* ------------------------------------------------------------------ */
/* Fill values */

static int fill_hex(const char *s, size_t size, uint8_t *out)
{
	size_t n = strlen(s + 2), i;
	uint64_t v = 0;

	if (n == 0 || n > 2 * size || size > 8)
		return ck_err(-EINVAL, "fill_value '%s' has the wrong length", s);
	for (i = 0; i < n; i++) {
		char ch = s[2 + i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return ck_err(-EINVAL, "fill_value '%s' is not hex", s);
		v = v << 4 | d;
	}
	for (i = 0; i < size; i++)
		out[i] = (uint8_t)(v >> (8 * i));
	return 0;
}

static void fill_float(double d, enum ck_dtype t, uint8_t *out)
{
	float f = (float)d;
	uint16_t h;

	switch (t) {
	case CK_DT_F64:
		memcpy(out, &d, 8);
		break;
	case CK_DT_F32:
		memcpy(out, &f, 4);
		break;
	case CK_DT_F16:
		h = ck_f32_to_f16(f);
		memcpy(out, &h, 2);
		break;
	default:	/* CK_DT_BF16 */
		h = ck_f32_to_bf16(f);
		memcpy(out, &h, 2);
		break;
	}
}

static int fill_int(const cJSON *v, enum ck_dtype t, size_t size, uint8_t *out)
{
	static const int64_t lo[CK_DT_COUNT] = { [CK_DT_I8] = INT8_MIN, [CK_DT_I16] = INT16_MIN,
				      [CK_DT_I32] = INT32_MIN, [CK_DT_I64] = INT64_MIN };
	static const int64_t hi[CK_DT_COUNT] = { [CK_DT_I8] = INT8_MAX, [CK_DT_U8] = UINT8_MAX,
				      [CK_DT_I16] = INT16_MAX, [CK_DT_U16] = UINT16_MAX,
				      [CK_DT_I32] = INT32_MAX, [CK_DT_U32] = UINT32_MAX,
				      [CK_DT_I64] = INT64_MAX, [CK_DT_U64] = INT64_MAX };
	uint64_t u;
	int64_t x;
	size_t i;
	int err;

	if (t == CK_DT_U64 && cJSON_IsNumber(v) && v->valuedouble >= 9223372036854775808.0 &&
	    v->valuedouble < 18446744073709551616.0 &&
	    (double)(uint64_t)v->valuedouble == v->valuedouble) {
		u = (uint64_t)v->valuedouble;
	} else {
		err = ck_json_num_i64(v, lo[t], hi[t], &x, "fill_value");
		if (err)
			return err;
		u = (uint64_t)x;
	}
	for (i = 0; i < size; i++)
		out[i] = (uint8_t)(u >> (8 * i));
	return 0;
}

/* One scalar (or complex component) fill value of type t into out. */
static int fill_scalar(const cJSON *v, enum ck_dtype t, uint8_t *out)
{
	size_t size = ck_dtype_size(t);
	const char *s;

	if (cJSON_IsString(v) && v->valuestring) {
		s = v->valuestring;
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			return fill_hex(s, size, out);
		if (!ck_dtype_is_float(t))
			return ck_err(-EINVAL, "fill_value '%s' for %s", s, ck_dtype_name(t));
		if (strcmp(s, "NaN") == 0)
			fill_float(NAN, t, out);
		else if (strcmp(s, "Infinity") == 0)
			fill_float(INFINITY, t, out);
		else if (strcmp(s, "-Infinity") == 0)
			fill_float(-INFINITY, t, out);
		else
			return ck_err(-EINVAL, "bad fill_value '%s'", s);
		return 0;
	}
	if (t == CK_DT_BOOL) {
		if (cJSON_IsBool(v)) {
			out[0] = cJSON_IsTrue(v) ? 1 : 0;
			return 0;
		}
		if (!cJSON_IsNumber(v) || (v->valuedouble != 0 && v->valuedouble != 1))
			return ck_err(-EINVAL, "fill_value is not a boolean");
		out[0] = v->valuedouble != 0;
		return 0;
	}
	if (ck_dtype_is_float(t)) {
		if (!cJSON_IsNumber(v))
			return ck_err(-EINVAL, "fill_value is not a number");
		fill_float(v->valuedouble, t, out);
		return 0;
	}
	return fill_int(v, t, size, out);
}

static int parse_fill(const cJSON *doc, const struct zarr_meta *m,
		      uint8_t *fill, int *has_fill)
{
	const cJSON *v = ck_json_get(doc, "fill_value");
	enum ck_dtype comp;
	int err;

	memset(fill, 0, 16);
	if (!v || cJSON_IsNull(v)) {
		*has_fill = 0;
		return 0;
	}
	*has_fill = 1;
	if (m->dtype == CK_DT_C64 || m->dtype == CK_DT_C128) {
		comp = m->dtype == CK_DT_C64 ? CK_DT_F32 : CK_DT_F64;
		if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
			err = fill_scalar(cJSON_GetArrayItem(v, 0), comp, fill);
			if (!err)
				err = fill_scalar(cJSON_GetArrayItem(v, 1), comp,
						  fill + m->itemsize / 2);
			return err;
		}
		if (cJSON_IsString(v) && v->valuestring &&
		    strncmp(v->valuestring, "0x", 2) == 0 && m->itemsize <= 8)
			return fill_hex(v->valuestring, m->itemsize, fill);
		if (cJSON_IsNumber(v)) /* a real number: imaginary part 0 */
			return fill_scalar(v, comp, fill);
		return ck_err(-EINVAL, "complex fill_value is not [re, im]");
	}
	return fill_scalar(v, m->dtype, fill);
}

/* ------------------------------------------------------------------ */
/* Shapes, common to v2 and v3 */

static int parse_shapes(const cJSON *doc, const char *chunk_member,
			const cJSON *chunk_obj, struct zarr_meta *m)
{
	size_t n = 0;
	unsigned i;
	int err;

	err = ck_json_get_u64_array(doc, "shape", INT64_MAX, m->shape, ZARR_MAX_RANK, &n);
	if (err)
		return err;
	m->rank = (unsigned)n;
	err = ck_json_get_u64_array(chunk_obj, chunk_member, INT64_MAX, m->chunk,
				    ZARR_MAX_RANK, &n);
	if (err)
		return err;
	if (n != m->rank)
		return ck_err(-EINVAL, "'%s' has rank %zu but 'shape' has rank %u",
			      chunk_member, n, m->rank);
	if (shape_bytes(m->rank, m->shape, m->itemsize, &m->nbytes)) {
		char txt[64 * 4] = "";
		size_t o = 0;

		for (i = 0; i < m->rank && o < sizeof(txt) - 24; i++)
			o += (size_t)snprintf(txt + o, sizeof(txt) - o, "%s%llu",
					      i ? "," : "", (unsigned long long)m->shape[i]);
		return ck_err(-EOVERFLOW, "shape [%s] of %s overflows 64-bit byte size",
			      txt, ck_dtype_name(m->dtype));
	}
	m->nchunks = 1;
	for (i = 0; i < m->rank; i++) {
		if (m->chunk[i] == 0)
			return ck_err(-EINVAL, "'%s'[%u] is 0", chunk_member, i);
		m->grid[i] = m->shape[i] / m->chunk[i] + (m->shape[i] % m->chunk[i] != 0);
		if (__builtin_mul_overflow(m->nchunks, m->grid[i], &m->nchunks))
			return ck_err(-EOVERFLOW, "chunk grid overflows");
	}
	err = check_chunk_bytes(m->rank, m->chunk, m->itemsize, "chunk");
	if (err)
		return err;
	m->chunk_bytes = m->itemsize;
	for (i = 0; i < m->rank; i++)
		m->chunk_bytes *= m->chunk[i];
	return 0;
}

static int check_format(const cJSON *doc, int want)
{
	int64_t f;
	int err = ck_json_get_i64(doc, "zarr_format", 0, 1000, &f);

	if (err)
		return err;
	if (f != want)
		return ck_err(-ENOTSUP, "zarr_format %lld, expected %d", (long long)f, want);
	return 0;
}

/* ------------------------------------------------------------------ */
/* zarr v3 */

static int parse_key_encoding(const cJSON *doc, struct zarr_meta *m)
{
	const cJSON *kenc = ck_json_get(doc, "chunk_key_encoding");
	const char *name, *sep;
	int err;

	m->key_c_prefix = 1;
	m->key_sep = '/';
	if (!kenc)
		return 0;
	err = ck_json_get_str(kenc, "name", &name);
	if (err)
		return ck_err_ctx(err, "chunk_key_encoding");
	if (strcmp(name, "v2") == 0) {
		m->key_c_prefix = 0;
		m->key_sep = '.';
	} else if (strcmp(name, "default") != 0) {
		return ck_err(-ENOTSUP, "unknown chunk_key_encoding '%s'", name);
	}
	err = ck_json_get_str(ck_json_get(kenc, "configuration"), "separator", &sep);
	if (err == -ENOENT)
		return 0;
	if (err)
		return ck_err_ctx(err, "chunk_key_encoding");
	if (strcmp(sep, "/") != 0 && strcmp(sep, ".") != 0)
		return ck_err(-EINVAL, "bad chunk key separator '%s'", sep);
	m->key_sep = sep[0];
	return 0;
}

static int parse_v3(const cJSON *doc, struct zarr_meta *m)
{
	const cJSON *grid, *st;
	const char *s;
	int err;

	err = check_format(doc, 3);
	if (err)
		return err;
	err = ck_json_get_str(doc, "node_type", &s);
	if (err)
		return err;
	if (strcmp(s, "group") == 0)	/* callers listing a hierarchy skip these */
		return ck_err(-EISDIR, "node_type is 'group', not 'array'");
	if (strcmp(s, "array") != 0)
		return ck_err(-EINVAL, "node_type is '%s', not 'array'", s);
	if (!cJSON_IsString(ck_json_get(doc, "data_type")))
		return ck_err(-ENOTSUP, "data_type is missing or not a string");
	s = ck_json_get(doc, "data_type")->valuestring;
	m->dtype = ck_dtype_from_v3(s);
	if (m->dtype == CK_DT_INVALID)
		return ck_err(-ENOTSUP, "unsupported data_type '%s'", s);
	m->itemsize = ck_dtype_size(m->dtype);
	grid = ck_json_get(doc, "chunk_grid");
	err = ck_json_get_str(grid, "name", &s);
	if (err)
		return ck_err_ctx(err, "chunk_grid");
	if (strcmp(s, "regular") != 0)
		return ck_err(-ENOTSUP, "unsupported chunk_grid '%s'", s);
	err = parse_shapes(doc, "chunk_shape", ck_json_get(grid, "configuration"), m);
	if (err)
		return err;
	err = parse_key_encoding(doc, m);
	if (err)
		return err;
	st = ck_json_get(doc, "storage_transformers");
	if (st && !(cJSON_IsArray(st) && cJSON_GetArraySize(st) == 0))
		return ck_err(-ENOTSUP, "storage_transformers are not supported");
	err = pipeline_parse(ck_json_get(doc, "codecs"), m->rank, m->chunk,
			     m->itemsize, 0, &m->codecs);
	if (err)
		return err;
	return parse_fill(doc, m, m->fill, &m->has_fill);
}

/* ------------------------------------------------------------------ */
/* zarr v2 */

static int parse_v2_compressor(const cJSON *doc, struct zarr_pipeline *p,
			       size_t itemsize)
{
	const cJSON *c = ck_json_get(doc, "compressor");
	const char *id;
	int err;

	if (!c || cJSON_IsNull(c))
		return 0;
	err = ck_json_get_str(c, "id", &id);
	if (err)
		return ck_err_ctx(err, "compressor");
	err = parse_b2b(id, c, itemsize, &p->b2b[0]);
	if (err)
		return err;
	p->nb2b = 1;
	return 0;
}

static int parse_v2(const cJSON *doc, struct zarr_meta *m)
{
	const cJSON *f, *sep, *order;
	struct zarr_pipeline *p;
	const char *s;
	int big = 0, err;
	unsigned i;

	err = check_format(doc, 2);
	if (err)
		return err;
	if (!cJSON_IsString(ck_json_get(doc, "dtype")))
		return ck_err(-ENOTSUP, "dtype is missing or not a string (structured dtypes are not supported)");
	s = ck_json_get(doc, "dtype")->valuestring;
	m->dtype = ck_dtype_from_v2(s, &big);
	if (m->dtype == CK_DT_INVALID)
		return ck_err(-ENOTSUP, "unsupported dtype '%s'", s);
	m->itemsize = ck_dtype_size(m->dtype);
	err = parse_shapes(doc, "chunks", doc, m);
	if (err)
		return err;
	m->key_c_prefix = 0;
	m->key_sep = '.';
	sep = ck_json_get(doc, "dimension_separator");
	if (sep && !cJSON_IsNull(sep)) {
		if (!cJSON_IsString(sep) || (strcmp(sep->valuestring, ".") != 0 &&
					     strcmp(sep->valuestring, "/") != 0))
			return ck_err(-EINVAL, "bad dimension_separator");
		m->key_sep = sep->valuestring[0];
	}
	f = ck_json_get(doc, "filters");
	if (f && !cJSON_IsNull(f) && !(cJSON_IsArray(f) && cJSON_GetArraySize(f) == 0))
		return ck_err(-ENOTSUP, "v2 filters are not supported");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	m->codecs = p;
	p->big_endian = big;
	order = ck_json_get(doc, "order");
	if (order && !(cJSON_IsString(order) && (strcmp(order->valuestring, "C") == 0 ||
						 strcmp(order->valuestring, "F") == 0)))
		return ck_err(-EINVAL, "bad order (neither \"C\" nor \"F\")");
	for (i = 0; i < m->rank; i++) {
		p->perm[i] = order && order->valuestring[0] == 'F' ? m->rank - 1 - i : i;
		p->transposed |= p->perm[i] != i;
	}
	err = parse_v2_compressor(doc, p, m->itemsize);
	if (err)
		return err;
	return parse_fill(doc, m, m->fill, &m->has_fill);
}

int zarr_meta_parse(const char *text, size_t n, int zarr_format,
		    struct zarr_meta **out)
{
	struct zarr_meta *m = NULL;
	cJSON *doc = NULL;
	int err;

	if (zarr_format != 2 && zarr_format != 3)
		return ck_err(-EINVAL, "bad zarr_format %d", zarr_format);
	if (n > ZARR_MAX_META_BYTES)
		return ck_err(-EOVERFLOW, "metadata larger than %zu bytes",
			      ZARR_MAX_META_BYTES);
	err = ck_json_parse(text, n, &doc);
	if (err)
		return err;
	if (!cJSON_IsObject(doc)) {
		err = ck_err(-EINVAL, "metadata is not a JSON object");
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	m->zarr_format = zarr_format;
	err = zarr_format == 3 ? parse_v3(doc, m) : parse_v2(doc, m);
	if (err)
		goto out;
	*out = m;
	m = NULL;
out:
	zarr_meta_free(m);
	cJSON_Delete(doc);
	return err;
}

/* ------------------------------------------------------------------ */
/* Chunk keys */

int zarr_meta_chunk_key(const struct zarr_meta *m, const uint64_t *idx,
			char *buf, size_t cap)
{
	size_t o = 0;
	unsigned i;
	int r;

	if (m->rank == 0)
		r = snprintf(buf, cap, "%s", m->key_c_prefix ? "c" : "0");
	else
		r = snprintf(buf, cap, "%s", m->key_c_prefix ? "c" : "");
	if (r < 0 || (size_t)r >= cap)
		return -EOVERFLOW;
	o = (size_t)r;
	for (i = 0; i < m->rank; i++) {
		int first = i == 0 && !m->key_c_prefix;

		r = snprintf(buf + o, cap - o, "%s%llu", first ? "" : (m->key_sep == '/' ? "/" : "."),
			     (unsigned long long)idx[i]);
		if (r < 0 || (size_t)r >= cap - o)
			return -EOVERFLOW;
		o += (size_t)r;
	}
	return (int)o;
}

int zarr_meta_parse_chunk_key(const struct zarr_meta *m, const char *key,
			      size_t len, uint64_t *idx)
{
	uint64_t tmp[ZARR_MAX_RANK];
	size_t p = 0;
	unsigned i;

	if (m->rank == 0) {
		const char *want = m->key_c_prefix ? "c" : "0";

		return len == 1 && key[0] == want[0] ? 0 : -ENOENT;
	}
	if (m->key_c_prefix) {
		if (len < 2 || key[0] != 'c' || key[1] != m->key_sep)
			return -ENOENT;
		p = 2;
	}
	for (i = 0; i < m->rank; i++) {
		uint64_t v = 0;
		size_t start = p;

		if (i > 0) {
			if (p >= len || key[p] != m->key_sep)
				return -ENOENT;
			start = ++p;
		}
		while (p < len && key[p] >= '0' && key[p] <= '9') {
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(key[p] - '0'), &v))
				return -ENOENT;
			p++;
		}
		if (p == start || (p - start > 1 && key[start] == '0') || v >= m->grid[i])
			return -ENOENT;
		tmp[i] = v;
	}
	if (p != len)
		return -ENOENT;
	memcpy(idx, tmp, sizeof(tmp[0]) * m->rank);
	return 0;
}
