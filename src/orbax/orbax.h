/* SPDX-License-Identifier: MIT */
/*
 * orbax.h - open an Orbax checkpoint (MaxText's, or any PyTree checkpoint, or
 * a bare TensorStore OCDBT/zarr dataset) and list its arrays.
 *
 * What the user points at is resolved to one item directory:
 *   <run>/ -> <run>/checkpoints/ -> <step>/ -> items/ | default/ | state/ |
 *   model_params/ (orbax_path.c says how a step's items are told apart)
 * A run or checkpoints directory picks the latest committed step (numeric
 * name, or a name ending in "_<digits>"; "*.orbax-checkpoint-tmp*" skipped),
 * or the step asked for.  An item directory holds a merged OCDBT database
 * (manifest.ocdbt), or only per-process databases (ocdbt.process_N/, read
 * together), or plain zarr directories (legacy).
 *
 * Arrays are named by their PyTree path joined with '.', as Orbax names them
 * ("params.params.decoder.layers.mlp.wi_0.kernel").  They come from the
 * item's _METADATA when present (skipped and string leaves left out), or from
 * the store's zarr.json/.zarray keys otherwise.  The weights of a Tunix (NNX)
 * tree are renamed to their Linen names, and keep the stored path beside
 * (orbax_tree.h).
 *
 * A struct orbax_ckpt is immutable after orbax_open() and safe to read from
 * many threads.
 */
#ifndef ORBAX_H
#define ORBAX_H

#include <stddef.h>
#include <stdint.h>

#include "util/ck_access.h"
#include "zarr/zarr_array.h"

struct kvstore;
struct orbax_agg_leaf;

struct orbax_opts {
	int64_t step;		/* step to open; -1 = latest committed */
	int follow_symlinks;	/* 1: files may be symlinks leading out of
				   the checkpoint's root (see root below) */
	int uncommitted;	/* 1: a step still being written (no
				   commit_success.txt on Cloud Storage) may
				   be opened (orbax_resolve_opts()) */
};

#define ORBAX_OPTS_INIT { -1, 0, 0 }

/* One array: stored as zarr, or held in the legacy msgpack aggregate. */
struct orbax_array {
	char *name;			/* PyTree path joined with '.', or for a
					   weight of an NNX tree its canonical
					   (Linen) name (orbax_tree.h) (owned) */
	char *stored;			/* the path as saved when name is not
					   it, else NULL (owned) */
	struct zarr_array *za;		/* owned; NULL for an aggregate leaf */
	const struct orbax_agg_leaf *agg; /* borrowed from the checkpoint;
					   NULL for a zarr array */
	struct zarr_info *virt;		/* a virtual array's shape and dtype
					   (orbax_virtual()), without data;
					   else NULL (owned) */
};

struct orbax_ckpt {
	char *item_dir;			/* resolved item directory (owned) */
	char *root;			/* the directory every file of the
					   checkpoint is opened beneath: the
					   step holding the item (or the item
					   itself when it is no step's), with
					   symlinks resolved (owned) */
	int follow_symlinks;		/* from the options */
	struct ck_access access;	/* who may read the item: its files,
					   the directories down to them, the
					   step's metadata (orbax_files.c) */
	int64_t step;			/* step number, -1 if not known */
	const char *format;		/* "OCDBT/zarr3", "OCDBT/zarr2",
					   "directory/zarr2", ... (static) */
	char *note;			/* how the store was opened when it is
					   worth saying (owned, may be NULL) */
	int scan_layers;		/* custom_metadata.scan_layers: 1, 0,
					   or -1 when not recorded */
	const struct orbax_tree *tree;	/* the parameter tree the arrays form,
					   or NULL (static) */
	size_t tree_lists;		/* NNX: arrays saved with nnx.List
					   layer names (decoder.layers.0) */
	char *tree_why;			/* why tree is NULL (owned) */
	char *other_items;		/* the step's other items, ", "-joined,
					   or NULL (owned) */
	struct kvstore *kv;		/* owned */
	struct orbax_agg *agg;		/* the legacy `checkpoint` file, or
					   NULL (owned) */
	size_t narrays;
	struct orbax_array *arrays;	/* sorted by name (owned) */
};

/*
 * Open the checkpoint at path.  Errors: -ENOENT (nothing checkpoint-like
 * there, no such step), -EIO/-ENOTSUP/-EOVERFLOW from the store and array
 * metadata, -ENOMEM.  The ck_err message names the file and the reason.
 * Caller frees *out with orbax_close().
 */
int orbax_open(const char *path, const struct orbax_opts *opts,
	       struct orbax_ckpt **out);

/* The array called name, or NULL. */
const struct orbax_array *orbax_find(const struct orbax_ckpt *c,
				     const char *name);

/* The array saved at the PyTree path path (its stored name), or NULL. */
const struct orbax_array *orbax_find_stored(const struct orbax_ckpt *c,
					    const char *path);

/* The PyTree path an array was saved at: what provenance and messages name. */
static inline const char *orbax_array_path(const struct orbax_array *a)
{
	return a->stored ? a->stored : a->name;
}

/*
 * Shape, dtype and storage of an array (for an aggregate leaf: zarr_format
 * 0, one chunk holding the whole array).
 */
int orbax_array_info(const struct orbax_array *a, struct zarr_info *info);

/*
 * Read the box [start, start+count) of an array into dst (C order,
 * little-endian); see zarr_array_read().  Thread-safe.
 */
int orbax_array_read(const struct orbax_array *a, const uint64_t *start,
		     const uint64_t *count, void *dst);

/* Hand the box to fn chunk by chunk; see zarr_array_visit().  Thread-safe. */
int orbax_array_visit(const struct orbax_array *a, const uint64_t *start,
		      const uint64_t *count, zarr_visit_fn fn, void *ctx);

/* Total decoded bytes of all arrays. */
uint64_t orbax_total_bytes(const struct orbax_ckpt *c);

/*
 * Chunk decodes so far, and the bytes they produced, summed over the zarr
 * arrays (zarr_array_decode_count, zarr_array_decoded_bytes); aggregate
 * leaves are held decoded and count nothing.  Thread-safe.
 */
void orbax_decode_stats(const struct orbax_ckpt *c, uint64_t *decodes,
			uint64_t *bytes);

/* Free everything.  NULL is allowed. */
void orbax_close(struct orbax_ckpt *c);

/* One array of a virtual checkpoint: a name, a dtype and a shape. */
struct orbax_vdesc {
	const char *name;		/* borrowed for the call */
	enum ck_dtype dtype;
	unsigned rank;
	uint64_t shape[ZARR_MAX_RANK];
};

/*
 * A checkpoint that exists only as a list of arrays (orbax_virtual.c): what
 * the reverse conversion builds from a mapping before any byte is written,
 * so that plan_build() can resolve the mapping against it.  Its arrays have
 * a shape and a dtype and no data: reading one fails with -ENOTSUP.  label
 * names it in messages (item_dir).  Errors: -EINVAL duplicate or empty name,
 * bad rank, a size that overflows; -ENOMEM.  Free with orbax_close().
 */
int orbax_virtual(const char *label, const struct orbax_vdesc *d, size_t n,
		  struct orbax_ckpt **out);

/*
 * Resolve path to an item directory (see above).  *item is a new string;
 * *step is the step number or -1.  A step with several items that may hold
 * the model gives -EINVAL naming them.  Exposed for tests.
 */
int orbax_resolve(const char *path, int64_t want_step, char **item,
		  int64_t *step);

/* orbax_resolve(), where uncommitted 1 also takes a step without Orbax's
 * commit_success.txt on a source that needs one (source.h); without it,
 * such a step is passed over when the latest is wanted, and -EBUSY when
 * named. */
int orbax_resolve_opts(const char *path, int64_t want_step, int uncommitted,
		       char **item, int64_t *step);

/*
 * The other items of the step holding item_dir, ", "-joined in *out (NULL
 * when there are none, or item_dir is a step itself; caller frees).
 * Returns 0 or -ENOMEM.
 */
int orbax_step_other_items(const char *item_dir, char **out);

/*
 * Walk the item: refuse a symlink out of c->root (-EXDEV, naming it) unless
 * c->follow_symlinks, and fill c->access.  Called by orbax_open().
 */
int orbax_check_files(struct orbax_ckpt *c);

/*
 * The root of the checkpoint holding item_dir (see orbax_ckpt.root) in *out
 * (caller frees).  Errors: -ENOENT, -ENOMEM.
 */
int orbax_root_of(const char *item_dir, char **out);

#endif
