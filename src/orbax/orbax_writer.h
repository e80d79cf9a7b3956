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
 * Like Orbax, the step is written into "<step>.orbax-checkpoint-tmp-<n>"
 * and renamed to "<step>" at commit, so an interrupted save leaves only a
 * temporary directory, which readers ignore.  Not thread-safe.
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
};

#define ORBAX_WRITER_OPTS_INIT \
	{ 0, ORBAX_LAYOUT_OCDBT, OCDBT_WRITER_OPTS_INIT, -1, NULL }

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
 * data (see zarr_write_array(); borrowed for the call).  Its _METADATA
 * write_shape is the chunk shape.  Errors: -EINVAL bad or duplicate name or
 * spec, writer committed; zarr_write_array()'s errors.
 */
int orbax_writer_add(struct orbax_writer *w, const char *name,
		     const struct zarr_write_spec *s, const void *data);

/*
 * Finish the current item (as orbax_writer_commit() does, without renaming
 * the step) and start another one, <step>/<item>, in the same layout: a step
 * with several items, as Tunix saves model_params/ beside optimizer_state/.
 * Errors: -EINVAL bad or repeated item name, writer committed; -EIO;
 * -ENOMEM.
 */
int orbax_writer_next_item(struct orbax_writer *w, const char *item);

/*
 * Write _METADATA (and array_metadatas/process_0 for OCDBT layouts), commit
 * the database, write _CHECKPOINT_METADATA and rename the temporary
 * directory to <root>/<step>.  Errors: -EINVAL already committed; -EEXIST
 * the step appeared meanwhile; -EIO; -ENOMEM.
 */
int orbax_writer_commit(struct orbax_writer *w);

/* Free the writer; without a commit the temporary directory stays (readers
 * ignore it).  NULL is allowed. */
void orbax_writer_free(struct orbax_writer *w);

#endif
