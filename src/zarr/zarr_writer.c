/* SPDX-License-Identifier: MIT */
/*
 * This file implements zarr_write_array(): zarr v3 (sharded, as Orbax) and
 * zarr v2 arrays written chunk by chunk into a key sink.
 *
 * The metadata text is printed by hand, not through cJSON, because the exact
 * bytes matter: TensorStore writes zarr.json compactly with its keys sorted,
 * and tests compare against that.  Chunks are gathered one at a time into a
 * zeroed full-size buffer (zarr stores edge chunks at full shape), so memory
 * beyond the caller's array is one chunk plus its compressed form.
 */
#include "zarr/zarr_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"
#include "zarr/zarr_meta.h"

/* The geometry of one array being written. */
struct zw {
	const struct zarr_write_spec *s; /* the spec */
	const uint8_t *data;		 /* the caller's elements */
	size_t isz;			 /* bytes per element */
	uint64_t grid[ZARR_MAX_RANK];	 /* chunks per dimension */
	uint64_t stride[ZARR_MAX_RANK];	 /* array strides, in elements */
	uint64_t cstride[ZARR_MAX_RANK]; /* chunk strides, in elements */
	size_t chunk_bytes;		 /* bytes of a full chunk */
};

int zarr_writer_check(const struct zarr_write_spec *s, uint64_t *nbytes)
{
	uint64_t n = 1, c = 1;
	size_t isz;

	if (s->zarr_format != 2 && s->zarr_format != 3)
		return ck_err(-EINVAL, "zarr writer: zarr_format %d is not 2 or 3",
			      s->zarr_format);
	isz = ck_dtype_size(s->dtype);
	if (!isz)
		return ck_err(-ENOTSUP, "zarr writer: invalid data type");
	if (s->rank > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "zarr writer: rank %u exceeds %d",
			      s->rank, ZARR_MAX_RANK);
	for (unsigned i = 0; i < s->rank; i++) {
		if (!s->chunk[i])
			return ck_err(-EINVAL,
				      "zarr writer: chunk dimension %u is 0", i);
		if (__builtin_mul_overflow(n, s->shape[i], &n) ||
		    __builtin_mul_overflow(c, s->chunk[i], &c))
			return ck_err(-EOVERFLOW,
				      "zarr writer: shape or chunk element "
				      "count overflows");
	}
	if (__builtin_mul_overflow(n, (uint64_t)isz, &n) || n > SIZE_MAX ||
	    __builtin_mul_overflow(c, (uint64_t)isz, &c))
		return ck_err(-EOVERFLOW,
			      "zarr writer: array byte size overflows");
	if (c > ZARR_MAX_CHUNK_BYTES || c > SIZE_MAX)
		return ck_err(-EOVERFLOW,
			      "zarr writer: chunk of %llu bytes exceeds %llu",
			      (unsigned long long)c,
			      (unsigned long long)ZARR_MAX_CHUNK_BYTES);
	*nbytes = n;
	return 0;
}

static int print_dims(struct ck_buf *b, const uint64_t *v, unsigned rank)
{
	int err = ck_buf_append(b, "[", 1);

	for (unsigned i = 0; i < rank && !err; i++)
		err = ck_buf_printf(b, "%s%llu", i ? "," : "",
				    (unsigned long long)v[i]);
	return err ? err : ck_buf_append(b, "]", 1);
}

static const char *fill_text(enum ck_dtype t)
{
	if (t == CK_DT_BOOL)
		return "false";
	if (t == CK_DT_C64 || t == CK_DT_C128)
		return "[0.0,0.0]";
	return ck_dtype_is_float(t) ? "0.0" : "0";
}

/* zarr.json exactly as TensorStore writes it for Orbax. */
static int meta_v3(const struct zarr_write_spec *s, struct ck_buf *b)
{
	const char *bytes = ck_dtype_size(s->dtype) > 1
		? "{\"configuration\":{\"endian\":\"little\"},\"name\":\"bytes\"}"
		: "{\"name\":\"bytes\"}";
	int err;

	err = ck_buf_printf(b, "{\"chunk_grid\":{\"configuration\":"
			    "{\"chunk_shape\":");
	if (!err)
		err = print_dims(b, s->chunk, s->rank);
	if (!err)
		err = ck_buf_printf(b, "},\"name\":\"regular\"},"
				    "\"chunk_key_encoding\":{\"name\":"
				    "\"default\"},\"codecs\":[{"
				    "\"configuration\":{\"chunk_shape\":");
	if (!err)
		err = print_dims(b, s->chunk, s->rank);
	if (!err)
		err = ck_buf_printf(
			b,
			",\"codecs\":[%s,{\"configuration\":{\"checksum\":"
			"false,\"level\":%d},\"name\":\"zstd\"}],"
			"\"index_codecs\":[{\"configuration\":{\"endian\":"
			"\"little\"},\"name\":\"bytes\"},{\"name\":"
			"\"crc32c\"}]},\"name\":\"sharding_indexed\"}],"
			"\"data_type\":\"%s\",\"fill_value\":%s,"
			"\"node_type\":\"array\",\"shape\":",
			bytes, s->zstd_level, ck_dtype_name(s->dtype),
			fill_text(s->dtype));
	if (!err)
		err = print_dims(b, s->shape, s->rank);
	if (!err)
		err = ck_buf_printf(b, ",\"zarr_format\":3}");
	return err;
}

/* .zarray as TensorStore writes it for Orbax. */
static int meta_v2(const struct zarr_write_spec *s, struct ck_buf *b)
{
	const char *dt = s->dtype == CK_DT_BF16 ? "bfloat16"
						 : ck_dtype_numpy(s->dtype);
	int err;

	if (!dt)
		return ck_err(-ENOTSUP, "zarr writer: no zarr v2 name for %s",
			      ck_dtype_name(s->dtype));
	err = ck_buf_printf(b, "{\"chunks\":");
	if (!err)
		err = print_dims(b, s->chunk, s->rank);
	if (!err)
		err = ck_buf_printf(b,
				    ",\"compressor\":{\"id\":\"zstd\",\"level\":"
				    "%d},\"dimension_separator\":\".\","
				    "\"dtype\":\"%s\",\"fill_value\":null,"
				    "\"filters\":null,\"order\":\"C\","
				    "\"shape\":",
				    s->zstd_level, dt);
	if (!err)
		err = print_dims(b, s->shape, s->rank);
	if (!err)
		err = ck_buf_printf(b, ",\"zarr_format\":2}");
	return err;
}

/* Key "<name>/<rel>" (no '/' for a root array) into b. */
static int key_start(struct ck_buf *b, const char *name)
{
	b->len = 0;
	return *name ? ck_buf_printf(b, "%s/", name) : ck_buf_printf(b, "%s", "");
}

static int chunk_key(const struct zw *z, const char *name, const uint64_t *idx,
		     struct ck_buf *b)
{
	int v3 = z->s->zarr_format == 3;
	int err = key_start(b, name);

	if (!err && z->s->rank == 0)
		return ck_buf_printf(b, "%s", v3 ? "c" : "0");
	if (!err && v3)
		err = ck_buf_printf(b, "c");
	for (unsigned i = 0; i < z->s->rank && !err; i++)
		err = ck_buf_printf(b, "%s%llu", v3 ? "/" : (i ? "." : ""),
				    (unsigned long long)idx[i]);
	return err;
}

/* Copy chunk idx out of the array into buf (zeroed, full chunk shape). */
static void chunk_gather(const struct zw *z, const uint64_t *idx, uint8_t *buf)
{
	const struct zarr_write_spec *s = z->s;
	uint64_t org[ZARR_MAX_RANK] = {0}, ext[ZARR_MAX_RANK] = {0};
	uint64_t j[ZARR_MAX_RANK] = {0};
	unsigned r = s->rank;
	size_t row;

	memset(buf, 0, z->chunk_bytes);
	if (r == 0) {
		memcpy(buf, z->data, z->isz);
		return;
	}
	for (unsigned i = 0; i < r; i++) {
		org[i] = idx[i] * s->chunk[i];
		ext[i] = s->shape[i] - org[i];
		if (ext[i] > s->chunk[i])
			ext[i] = s->chunk[i];
	}
	row = (size_t)ext[r - 1] * z->isz;
	for (;;) {
		uint64_t so = org[r - 1], d = 0;
		int ax;

		for (unsigned i = 0; i + 1 < r; i++) {
			so += (org[i] + j[i]) * z->stride[i];
			d += j[i] * z->cstride[i];
		}
		memcpy(buf + d * z->isz, z->data + so * z->isz, row);
		/* Next row: odometer over axes 0..r-2. */
		for (ax = (int)r - 2; ax >= 0 && ++j[ax] == ext[ax]; ax--)
			j[ax] = 0;
		if (ax < 0)
			return;
	}
}

/* Encode one gathered chunk into out (v3: with its one-entry shard index). */
static int chunk_encode(const struct zw *z, const uint8_t *buf,
			struct ck_buf *out)
{
	uint8_t idx[20];
	int err;

	out->len = 0;
	err = codec_zstd_encode_level(buf, z->chunk_bytes, z->s->zstd_level,
				      out);
	if (err || z->s->zarr_format == 2)
		return err;
	ck_store_u64le(idx, 0);
	ck_store_u64le(idx + 8, (uint64_t)out->len);
	ck_store_u32le(idx + 16, crc32c(0, idx, 16));
	return ck_buf_append(out, idx, sizeof(idx));
}

static int write_chunks(const struct zw *z, const struct kv_sink *sink,
			const char *name, uint64_t nchunks)
{
	uint64_t idx[ZARR_MAX_RANK] = {0};
	struct ck_buf key = CK_BUF_INIT, val = CK_BUF_INIT;
	uint8_t *buf = malloc(z->chunk_bytes ? z->chunk_bytes : 1);
	int err = buf ? 0 : ck_err(-ENOMEM, "zarr writer: out of memory");

	for (uint64_t c = 0; c < nchunks && !err; c++) {
		chunk_gather(z, idx, buf);
		err = chunk_encode(z, buf, &val);
		if (!err)
			err = chunk_key(z, name, idx, &key);
		if (!err)
			err = sink->put(sink->ctx, key.data, key.len, val.data,
					val.len);
		/* Next chunk: odometer over the grid, C order. */
		for (int ax = (int)z->s->rank - 1; ax >= 0; ax--) {
			if (++idx[ax] < z->grid[ax])
				break;
			idx[ax] = 0;
		}
	}
	free(buf);
	ck_buf_release(&key);
	ck_buf_release(&val);
	return err;
}

static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (!n)
		return 0;
	if (name[n - 1] == '/' || ck_path_check_relative(name, n))
		return ck_err(-EINVAL, "zarr writer: bad array name '%s'", name);
	return 0;
}

int zarr_write_array(const struct kv_sink *sink, const char *name,
		     const struct zarr_write_spec *s, const void *data)
{
	struct ck_buf meta = CK_BUF_INIT, key = CK_BUF_INIT;
	struct zw z;
	uint64_t nbytes, nchunks = 1;
	int err;

	memset(&z, 0, sizeof(z));
	err = zarr_writer_check(s, &nbytes);
	if (!err)
		err = check_name(name);
	if (!err && nbytes && !data)
		err = ck_err(-EINVAL, "zarr writer: no data for '%s'", name);
	if (err)
		return err;
	z.s = s;
	z.data = data;
	z.isz = ck_dtype_size(s->dtype);
	z.chunk_bytes = z.isz;
	for (int i = (int)s->rank - 1; i >= 0; i--) {
		z.stride[i] = i + 1 < (int)s->rank
				      ? z.stride[i + 1] * s->shape[i + 1]
				      : 1;
		z.cstride[i] = i + 1 < (int)s->rank
				       ? z.cstride[i + 1] * s->chunk[i + 1]
				       : 1;
		z.grid[i] = s->shape[i] / s->chunk[i] +
			    (s->shape[i] % s->chunk[i] != 0);
		z.chunk_bytes *= (size_t)s->chunk[i];
		nchunks *= z.grid[i]; /* <= prod(shape): no overflow */
	}
	err = s->zarr_format == 3 ? meta_v3(s, &meta) : meta_v2(s, &meta);
	if (!err)
		err = key_start(&key, name);
	if (!err)
		err = ck_buf_printf(&key, "%s", s->zarr_format == 3
							? "zarr.json"
							: ".zarray");
	if (!err)
		err = sink->put(sink->ctx, key.data, key.len, meta.data,
				meta.len);
	if (!err)
		err = write_chunks(&z, sink, name, nchunks);
	if (err)
		err = ck_err_ctx(err, "array '%s'", name);
	ck_buf_release(&meta);
	ck_buf_release(&key);
	return err;
}
