/* SPDX-License-Identifier: MIT */
/*
 * orbax_writer.h - write one Orbax checkpoint step the way MaxText saves it
 * (orbax-format.md §1.1, §4): <root>/<step>/_CHECKPOINT_METADATA and
 * <root>/<step>/items/ with _METADATA and the arrays (or other items, named
 * by the options and orbax_writer_next_item()).
 *
 * Layouts:
 *   ORBAX_LAYOUT_OCDBT            one OCDBT database in items/ (zarr v3 by
 *                                 default), plus array_metadatas/process_0;
 *   ORBAX_LAYOUT_OCDBT_MULTIHOST  as a merged multi-host save: the values in
 *                                 items/ocdbt.process_<i>/d/ (i below
 *                                 ocdbt.processes, at least 1), referenced
 *                                 from the top-level database through
 *                                 base_path, and each items/ocdbt.process_<i>/
 *                                 a complete database of the keys it got;
 *   ORBAX_LAYOUT_DIR              legacy plain directories (zarr v2 by
 *                                 default): items/<name>/.zarray, 0.0, ...
 *
 * Leaves: arrays (orbax_writer_add() from memory, orbax_writer_add_cb()
 * chunk by chunk from a callback, on worker threads), scalars
 * (orbax_writer_add_scalar(), Orbax's ScalarHandler) and empty containers
 * (orbax_writer_add_empty()).
 *
 * The parameter-only checkpoint MaxText's to_maxtext.py (and
 * generate_param_only_checkpoint.py) write, TrainState(step=0,
 * params={"params": weights}, opt_state={}) at step 0 (orbax-format.md
 * §1.3): orbax_writer_open(root, 0, o) with o.scan_layers set, the weights
 * added as "params.params.<module path>" (bf16), then
 * orbax_writer_add_param_only_leaves(w, 3) for `step` and `opt_state`, and
 * orbax_writer_commit().
 *
 * The metadata files' texts come from orbax_leaves.h, which the in-memory
 * checkpoint image (orbax_image.h) prints too.
 *
 * Like Orbax, the step is written into "<step>.orbax-checkpoint-tmp-<n>"
 * and renamed to "<step>" at commit, so an interrupted save leaves only a
 * temporary directory, which readers ignore.  A writer is used by one
 * thread at a time (orbax_writer_add_cb() runs its own workers inside the
 * call).
 */
#ifndef ORBAX_WRITER_H
#define ORBAX_WRITER_H

#include <stdint.h>

#include "kvstore/ocdbt_writer.h"
#include "zarr/zarr_writer.h"

struct orbax_writer;

enum orbax_layout {
	ORBAX_LAYOUT_OCDBT = 0,		/* merged top-level database */
	ORBAX_LAYOUT_OCDBT_MULTIHOST,	/* values in ocdbt.process_0/ */
	ORBAX_LAYOUT_DIR,		/* legacy plain directories */
};

/*
 * Progress of the array `name` being added: called on the adding thread
 * after each of its chunks is put, with the bytes of its elements written
 * so far and in all (see zarr_progress_fn).  Returns 0, or -errno to stop
 * the add with that error (the writer is then failed: see
 * orbax_writer_add_cb()).
 */
typedef int (*orbax_progress_fn)(void *ctx, const char *name, uint64_t done,
				 uint64_t total);

struct orbax_writer_opts {
	int zarr_format;		/* 3 or 2; 0 = the layout's default
					   (3 for OCDBT, 2 for DIR); overrides
					   the spec's zarr_format */
	int layout;			/* enum orbax_layout */
	struct ocdbt_writer_opts ocdbt;	/* OCDBT layouts (data_base and
					   data_base_db are set by the layout;
					   processes only for multi-host) */
	int scan_layers;		/* -1: not recorded; 0/1: written to
					   _CHECKPOINT_METADATA custom_metadata */
	const char *item;		/* the first item's directory name;
					   NULL = "items" (borrowed) */
	orbax_progress_fn progress;	/* NULL, or called after each chunk
					   of an array is put */
	void *progress_ctx;		/* progress's first argument
					   (borrowed) */
	const char *sharding_device;	/* NULL: no _sharding file; else each
					   item's _sharding gives every array
					   leaf a SingleDeviceSharding on this
					   device ("cpu:0"), orbax-format.md
					   §4.2 (copied) */
};

#define ORBAX_WRITER_OPTS_INIT \
	{ 0, ORBAX_LAYOUT_OCDBT, OCDBT_WRITER_OPTS_INIT, -1, NULL, NULL, NULL, \
	  NULL }

/*
 * Start writing step (>= 0) under root (the run's checkpoints directory,
 * created if absent).  o NULL means ORBAX_WRITER_OPTS_INIT.
 * Errors: -EEXIST <root>/<step> exists; -EINVAL bad step or options; -EIO;
 * -ENOMEM.  Caller frees *out with orbax_writer_free().
 */
int orbax_writer_open(const char *root, int64_t step,
		      const struct orbax_writer_opts *o,
		      struct orbax_writer **out);

/*
 * Add array name (a PyTree path joined with '.', e.g.
 * "params.params.decoder.layers.mlp.wi_0.kernel"; components non-empty,
 * without '/', quotes, backslashes or control characters) with the elements
 * data (see zarr_write_array(); borrowed for the call), as value_type
 * "jax.Array".  The writer's zarr format replaces the spec's.  Its
 * _METADATA write_shape is the chunk shape.  Errors: -EINVAL bad or
 * duplicate name, a name that is another leaf's subtree or holds one
 * ("a" beside "a.b"), bad spec, writer committed or failed;
 * zarr_write_array()'s errors.
 */
int orbax_writer_add(struct orbax_writer *w, const char *name,
		     const struct zarr_write_spec *s, const void *data);

/*
 * Add array name as orbax_writer_add() does, its chunks made by fill
 * (see zarr_fill_fn: called from `threads` worker threads at once, ctx
 * borrowed for the call) and put in row-major order from the calling
 * thread; see zarr_write_array_stream() for threads and memory.  The
 * options' progress callback, if any, is told after each chunk.
 * Errors: orbax_writer_add()'s; fill's and progress's errors.  After a
 * failure past the checks of the name and spec (fill, progress, the store)
 * the array is partly written: the writer is failed, orbax_writer_commit()
 * refuses with -EINVAL, and freeing it leaves only the temporary directory.
 * orbax_writer_add() fails the writer the same way.
 */
int orbax_writer_add_cb(struct orbax_writer *w, const char *name,
			const struct zarr_write_spec *s, zarr_fill_fn fill,
			void *ctx, unsigned threads);

/*
 * Add a scalar leaf as Orbax's ScalarHandler saves a Python int: a rank-0
 * int64 zarr array holding value (chunk key "<name>/c", or "<name>/0" for
 * zarr v2), compressed at zstd_level (< 0: uncompressed), listed in
 * _METADATA with value_type "scalar" and no write_shape, and not in
 * array_metadatas nor _sharding.  Errors: as orbax_writer_add().
 */
int orbax_writer_add_scalar(struct orbax_writer *w, const char *name,
			    int64_t value, int zstd_level);

/*
 * Add an empty container leaf: only a _METADATA entry with value_type
 * value_type ("Dict", "List", "Tuple", "NamedTuple" or "None", Orbax's
 * names) and skip_deserialize true; no keys in the store.
 * Errors: -EINVAL bad or duplicate name, unknown value_type, writer
 * committed or failed; -ENOMEM.
 */
int orbax_writer_add_empty(struct orbax_writer *w, const char *name,
			   const char *value_type);

/*
 * Add what a parameter-only TrainState holds beside its params, as
 * to_maxtext.py saves it: `step`, the scalar 0 (orbax_writer_add_scalar()
 * at zstd_level, Orbax's 3 for zarr3 unless use_compression is off), and
 * `opt_state`, an empty dict (orbax_writer_add_empty(w, "opt_state",
 * "Dict")).  Errors: theirs.
 */
int orbax_writer_add_param_only_leaves(struct orbax_writer *w,
				       int zstd_level);

/*
 * Finish the current item (as orbax_writer_commit() does, without renaming
 * the step) and start another one, <step>/<item>, in the same layout: a step
 * with several items, as Tunix saves model_params/ beside optimizer_state/.
 * Errors: -EINVAL bad or repeated item name, writer committed; -EIO;
 * -ENOMEM.
 */
int orbax_writer_next_item(struct orbax_writer *w, const char *item);

/*
 * Write _METADATA (and array_metadatas/process_0 for OCDBT layouts, and
 * _sharding when the options name a device), commit the database, write
 * _CHECKPOINT_METADATA and rename the temporary directory to <root>/<step>.
 * Errors: -EINVAL already committed, or failed by an add; -EEXIST the step
 * appeared meanwhile; -EIO; -ENOMEM.
 */
int orbax_writer_commit(struct orbax_writer *w);

/* Free the writer; without a commit the temporary directory stays (readers
 * ignore it).  NULL is allowed. */
void orbax_writer_free(struct orbax_writer *w);

#endif
