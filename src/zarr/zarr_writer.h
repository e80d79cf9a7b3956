/* SPDX-License-Identifier: MIT */
/*
 * zarr_writer.h - write one whole array as zarr v3 (the way Orbax/MaxText
 * write it through TensorStore) or zarr v2 into a key sink.
 *
 * zarr v3 (orbax-format.md §3.1): "<name>/zarr.json" with the keys sorted as
 * TensorStore writes them; every chunk is a sharding_indexed shard holding
 * exactly one inner chunk of the same shape: zstd frame of the full-size
 * chunk (edge chunks zero-padded) || u64 LE offset 0 || u64 LE nbytes ||
 * u32 LE CRC-32C of those 16 bytes, under "<name>/c/<i0>/<i1>/..." ("c"
 * for rank 0).
 * zarr v2 (§3.2): "<name>/.zarray" (compressor zstd, fill_value null, order
 * C) and chunks "<name>/<i0>.<i1>..." ("0" for rank 0), each one zstd frame.
 *
 * Every chunk is written, also when it equals the fill value, as Orbax does
 * (store_array_data_equal_to_fill_value).  Stateless; thread-safe as far as
 * the sink is.
 */
#ifndef ZARR_WRITER_H
#define ZARR_WRITER_H

#include <stdint.h>

#include "kvstore/kv_sink.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_dtype.h"

struct zarr_write_spec {
	int zarr_format;		/* 3 (Orbax/MaxText default) or 2 */
	enum ck_dtype dtype;		/* element type */
	unsigned rank;			/* dimensions, <= ZARR_MAX_RANK */
	uint64_t shape[ZARR_MAX_RANK];	/* array shape */
	uint64_t chunk[ZARR_MAX_RANK];	/* chunk (shard) shape, all >= 1 */
	int zstd_level;			/* chunk compression level (Orbax: 3
					   for v3; TensorStore's v2 default
					   is 1) */
};

/*
 * Write array `name` ("" for a root array; no leading or trailing '/') with
 * the whole array's elements data (C order, little-endian,
 * prod(shape) * itemsize bytes, borrowed for the call) into sink.
 * Errors: -EINVAL bad spec or name; -ENOTSUP dtype; -EOVERFLOW shape or
 * chunk size does not fit (prod(shape) * itemsize overflows, a chunk above
 * ZARR_MAX_CHUNK_BYTES); the sink's errors (-EINVAL duplicate key, -EEXIST,
 * -EIO); -ENOMEM.
 */
int zarr_write_array(const struct kv_sink *sink, const char *name,
		     const struct zarr_write_spec *s, const void *data);

/*
 * Check a spec and compute the array's byte size into *nbytes.  Same
 * -EINVAL / -ENOTSUP / -EOVERFLOW as zarr_write_array().
 */
int zarr_writer_check(const struct zarr_write_spec *s, uint64_t *nbytes);

#endif
