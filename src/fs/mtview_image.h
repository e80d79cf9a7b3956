/* SPDX-License-Identifier: MIT */
/*
 * mtview_image.h - the MaxText view of a Hugging Face directory
 * (mtview.h) as the files of a checkpoint directory, computed lazily: what
 * the view=maxtext mount serves.  Without FUSE.
 *
 * The files are those of step 0 of an Orbax checkpoint (orbax_image.h),
 * with paths relative to the mount's root:
 *   0/_CHECKPOINT_METADATA, 0/items/_METADATA, 0/items/_sharding,
 *   0/items/array_metadatas/process_0, 0/items/manifest.ocdbt,
 *   0/items/d/<32 hex> (the data files, then the B+tree node file).
 * The arrays, their names, shapes, dtypes and chunk shapes, the step scalar,
 * the empty opt_state and scan_layers are those `ckptfs convert --to
 * maxtext` writes from the same view (mtview_write()); the chunks are stored
 * uncompressed, in one database.  Everything but the chunk bytes is made by
 * mtview_image_new().  Chunks are computed by mtview_fill() in pieces of a
 * few MiB (runs of rows, contiguous in the chunk's bytes), each when a read
 * first covers it, and kept in a byte-budgeted LRU cache (cache/tcache.h):
 * a chunk read in 128 KiB FUSE requests is computed once, readers of the
 * same piece wait for one computation, and a large chunk's first bytes do
 * not wait for all of it.  The 20-byte shard index after each chunk is
 * computed without the data.
 *
 * After mtview_image_new() returns, every function but mtview_image_free()
 * may be called from any number of threads at once.
 */
#ifndef MTVIEW_IMAGE_H
#define MTVIEW_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/tcache.h"
#include "fs/mtview.h"
#include "util/ck_buf.h"

struct mtview_image;

/* Counters (mtview_image_stats()). */
struct mtview_image_stats {
	uint64_t bytes_served;		/* returned by mtview_image_read() */
	uint64_t pieces;		/* the pieces of every chunk */
	uint64_t pieces_computed;	/* pieces computed (mtview_fill()) */
	uint64_t bytes_computed;	/* bytes of the pieces computed */
	struct tcache_stats cache;	/* the chunk cache's */
	uint64_t cache_budget;		/* its budget in bytes */
};

/* The pieces' size: a read computes only the pieces it covers, so the
 * first bytes of a large chunk come soon, and concurrent readers of many
 * chunks share the cache without evicting what they are still reading. */
#define MTVIEW_IMAGE_PIECE_BYTES ((uint64_t)4 << 20)

/*
 * Build the image of v (borrowed: it must stay open until
 * mtview_image_free()).  cache_bytes: the cache's budget, raised to 8 times
 * the largest piece when smaller (so that the pieces the kernel reads ahead
 * stay cached while they are read), with a log line saying so.
 * piece_bytes: the pieces' size where the chunk shape allows (a piece is
 * whole rows of the innermost axes, at least one element), 0 =
 * MTVIEW_IMAGE_PIECE_BYTES.  Errors: orbax_image.h's; -EOVERFLOW more than
 * 2^32 pieces; -ENOMEM.  Caller frees *out with mtview_image_free().
 */
int mtview_image_new(struct mtview *v, uint64_t cache_bytes,
		     uint64_t piece_bytes, struct mtview_image **out);

/* Number of files; the path of file i ("0/items/_METADATA"; NULL out of
 * range; borrowed until mtview_image_free()) and its size. */
size_t mtview_image_nfiles(const struct mtview_image *m);
const char *mtview_image_file_name(const struct mtview_image *m, size_t i);
uint64_t mtview_image_file_size(const struct mtview_image *m, size_t i);

/*
 * Read bytes [off, off + len) of file i into buf; *got is len, or fewer at
 * the end of the file (0 at or past it).  Errors (*got untouched): -EINVAL
 * i out of range; mtview_fill()'s (the message names the data file, the
 * value's offset and the chunk's key); -ENOMEM.  Thread-safe.
 */
int mtview_image_read(struct mtview_image *m, size_t i, uint64_t off,
		      void *buf, size_t len, size_t *got);

/*
 * Append to out where file i comes from: for a data file one line per
 * array with chunks in it, "NAME chunks A-B of N <- HF tensors" (the first
 * few, and how many), for the others what generated them; at most about
 * 60000 bytes.  -ENOMEM.
 */
int mtview_image_describe(const struct mtview_image *m, size_t i,
			  struct ck_buf *out);

void mtview_image_stats(struct mtview_image *m, struct mtview_image_stats *st);

/* Free the image (not the view).  NULL is allowed. */
void mtview_image_free(struct mtview_image *m);

#endif
