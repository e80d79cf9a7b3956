/* SPDX-License-Identifier: MIT */
/*
 * orbax_image.h - one Orbax checkpoint step held in memory as a read-only
 * image of its files, its array chunks produced only when read: what the
 * view=maxtext mount serves (fs/mtview_image.h).
 *
 * The files, relative to the step directory, in this order:
 *   _CHECKPOINT_METADATA, items/_METADATA, items/_sharding (when a sharding
 *   device is given), items/array_metadatas/process_0, then the files of one
 *   OCDBT database (kvstore/ocdbt_image.h): items/manifest.ocdbt, the data
 *   files items/d/<32 hex>, and the node file items/d/<32 hex>.
 * The metadata texts are orbax_leaves.h's, so they are byte for byte what
 * orbax_writer.h writes for the same leaves and options (the timestamps
 * aside, which are the options').  The store holds the keys the writer puts
 * for the same arrays in zarr v3 without compression (zstd_level < 0,
 * zarr_writer.h): "<name>/zarr.json" inline in the B+tree leaves, and one
 * value per chunk, "<name>/c/<i0>/<i1>/...", in the data files: the raw
 * full-size chunk (prod(chunk) * itemsize bytes, C order, little-endian,
 * edge chunks zero-padded) followed by the 20-byte shard index
 * (zarr_shard_index()).  Only the raw chunk bytes are asked of the caller's
 * fill callback, when a read covers them; the index is computed here.
 * Chunk values are laid out in the order the arrays were added, each
 * array's chunks in row-major order of its chunk grid.
 *
 * The parameter-only checkpoint MaxText's to_maxtext.py writes: the weights
 * added as "params.params.<module path>", then
 * orbax_image_add_param_only_leaves() (`step` 0, uncompressed, and an empty
 * `opt_state`), and scan_layers in the options.
 *
 * Building (new, add, commit) is done by one thread; after a successful
 * commit the image is immutable and every function but orbax_image_free()
 * may be called from any number of threads at once.  Memory: the metadata
 * texts, the keys and the B+tree nodes; no chunk bytes.
 */
#ifndef ORBAX_IMAGE_H
#define ORBAX_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_writer.h"

struct orbax_image;

struct orbax_image_opts {
	int scan_layers;		/* -1: not recorded; 0/1: written to
					   _CHECKPOINT_METADATA */
	const char *sharding_device;	/* NULL: no _sharding; else every
					   array on this device ("cpu:0");
					   copied */
	uint64_t init_ns;		/* _CHECKPOINT_METADATA's timestamps
					   (ns since the epoch); commit_ns is */
	uint64_t commit_ns;		/* also the manifest's commit time */
	uint64_t file_bytes;		/* a data file is closed once it holds
					   this many bytes; 0 = 2 GiB */
};

#define ORBAX_IMAGE_OPTS_INIT { -1, NULL, 0, 0, 0 }

/*
 * Start an image.  o NULL means ORBAX_IMAGE_OPTS_INIT.  Errors: -EINVAL bad
 * scan_layers or sharding device; -ENOMEM.  Caller frees *out with
 * orbax_image_free().
 */
int orbax_image_new(const struct orbax_image_opts *o,
		    struct orbax_image **out);

/*
 * Add array name (a PyTree path joined with '.', as orbax_writer_add())
 * with the dtype, shape and chunk shape of s; s's zarr_format and
 * zstd_level are ignored (zarr v3, uncompressed).  id is the caller's, handed
 * back to the fill callback with the chunk's number.  Errors: -EINVAL bad
 * or duplicate name (orbax_leaves_check()), bad spec, image committed or
 * failed; zarr_writer_check()'s; -EOVERFLOW; -ENOMEM.  A failure past the
 * checks fails the image (only orbax_image_free() is left).
 */
int orbax_image_add_array(struct orbax_image *img, const char *name,
			  const struct zarr_write_spec *s, uint64_t id);

/* A scalar leaf (Orbax's ScalarHandler: a rank-0 int64 array, its one chunk
 * inline) and an empty container leaf, as orbax_writer_add_scalar() (here
 * uncompressed) and orbax_writer_add_empty().  Errors as above. */
int orbax_image_add_scalar(struct orbax_image *img, const char *name,
			   int64_t value);
int orbax_image_add_empty(struct orbax_image *img, const char *name,
			  const char *value_type);

/* `step` (the scalar 0) and `opt_state` (an empty Dict), as
 * orbax_writer_add_param_only_leaves(). */
int orbax_image_add_param_only_leaves(struct orbax_image *img);

/*
 * Print the metadata texts and build the database (nodes and manifest).
 * Errors: -EINVAL already committed or failed; ocdbt_image_commit()'s;
 * -ENOMEM.  After a failure the image can only be freed.
 */
int orbax_image_commit(struct orbax_image *img);

/* Number of files of the committed image (0 before commit). */
size_t orbax_image_nfiles(const struct orbax_image *img);

/* Path of file i relative to the step directory ("items/_METADATA");
 * borrowed until orbax_image_free().  NULL if i is out of range. */
const char *orbax_image_file_name(const struct orbax_image *img, size_t i);

/* Size in bytes of file i (0 if out of range). */
uint64_t orbax_image_file_size(const struct orbax_image *img, size_t i);

enum orbax_image_kind {
	ORBAX_IMAGE_METADATA,		/* a JSON text of the step or item */
	ORBAX_IMAGE_DATABASE,		/* the manifest or the node file */
	ORBAX_IMAGE_DATA,		/* a data file: chunk values */
};

/* What file i is (ORBAX_IMAGE_METADATA if out of range). */
enum orbax_image_kind orbax_image_file_kind(const struct orbax_image *img,
					    size_t i);

/*
 * Produce bytes [off, off + len) of the raw full-size chunk number chunk
 * (row-major in the array's chunk grid) of the array added with id, into
 * buf; 0 or -errno with a ck_err message.  Called only with ranges inside
 * the raw chunk, from any number of threads at once.
 */
typedef int (*orbax_image_fill_fn)(void *ctx, uint64_t id, uint64_t chunk,
				   uint64_t off, void *buf, size_t len);

/*
 * Read bytes [off, off + len) of file i into buf; *got is the number read:
 * len, or fewer at the end of the file (0 at or past it).  The bytes of the
 * raw chunks a range covers come from fill(ctx, ...), one call per chunk.
 * Errors (*got untouched): -EINVAL not committed or i out of range; fill's
 * error (the message gains the file and the chunk's key).  Thread-safe.
 */
int orbax_image_read(const struct orbax_image *img, size_t i, uint64_t off,
		     void *buf, size_t len, size_t *got,
		     orbax_image_fill_fn fill, void *ctx);

/*
 * For data file i: fn(ctx, id, name, first, n) for each array with chunk
 * values in it, in file order: its chunks first .. first + n - 1 are there.
 * Stops at fn's first non-zero return and returns it; 0 after the last (or
 * at once for a file that is not a data file).
 */
typedef int (*orbax_image_chunks_fn)(void *ctx, uint64_t id, const char *name,
				     uint64_t first, uint64_t n);
int orbax_image_file_chunks(const struct orbax_image *img, size_t i,
			    orbax_image_chunks_fn fn, void *ctx);

/* Free the image, committed or not.  NULL is allowed. */
void orbax_image_free(struct orbax_image *img);

#endif
