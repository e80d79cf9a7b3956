/* SPDX-License-Identifier: MIT */
/*
 * zarr_stream.h - decoding one large chunk streaming, for zarr_array_visit():
 * the compressed bytes are read and decoded a window at a time, and each
 * window is handed to the visitor as pieces of the chunk, so that neither the
 * stored nor the decoded chunk is ever held whole.  MaxText allows chunks of
 * up to 2 GiB; this keeps the daemon's memory independent of that.
 *
 * Applies to chunks stored as one zstd stream of the C-order, little-endian
 * elements: the codecs [bytes, zstd], or those inside a sharding_indexed
 * codec whose shard holds a single inner chunk (what Orbax writes).
 *
 * Private to src/zarr.
 */
#ifndef ZARR_STREAM_H
#define ZARR_STREAM_H

#include <stdint.h>

#include "kvstore/kvstore.h"
#include "zarr/zarr_array.h"
#include "zarr/zarr_meta.h"

/* Chunks of at least this many decoded bytes are decoded streaming. */
#define ZARR_STREAM_MIN_BYTES ((uint64_t)4 << 20)

/* About how many decoded bytes a window holds. */
#define ZARR_STREAM_WINDOW ((size_t)1 << 20)

/* 1 if chunks of m can be decoded streaming (see above). */
int zarr_stream_applies(const struct zarr_meta *m);

/*
 * Decode the outer chunk stored in v (of the kvstore kv) streaming, and hand
 * its sub-box [sublo, sublo + subn) to fn, as zarr_array_visit() does, at
 * box position dpos.  0; ZARR_NOT_STREAMED when the chunk is not a single
 * zstd stream after all (a shard whose inner chunk is missing): the caller
 * decodes it the ordinary way; -EIO and friends with a message; fn's
 * errors.  Thread-safe.
 */
#define ZARR_NOT_STREAMED 1

int zarr_stream_chunk(const struct zarr_meta *m, const struct kvstore *kv,
		      const struct kv_value *v, const uint64_t *sublo,
		      const uint64_t *subn, const uint64_t *dpos, zarr_visit_fn fn,
		      void *ctx);

#endif
