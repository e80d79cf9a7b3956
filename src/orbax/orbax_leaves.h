/* SPDX-License-Identifier: MIT */
/*
 * orbax_leaves.h - the leaves of one Orbax item and the metadata texts that
 * list them, printed into memory: items/_METADATA, items/_sharding,
 * items/array_metadatas/process_0, and the step's _CHECKPOINT_METADATA
 * (orbax-format.md §1.1, §4).  Shared by the checkpoint writer
 * (orbax_writer.h), which stores the texts in files, and the in-memory
 * checkpoint image (orbax_image.h), which serves them, so that both give the
 * same bytes for the same leaves.
 *
 * The texts are printed the way Python's json.dumps prints them (", " and
 * ": " separators, insertion order), matching what Orbax writes; leaf names
 * are restricted to characters that need no escaping, so the tuple keys of
 * _METADATA ("('a', 'b')", Python's repr of the key path) come out exactly
 * as Orbax's.  A path component made of digits gets key_type 1 (sequence
 * index, as optax tuple indices like opt_state.0), others key_type 2 (dict
 * key / attribute).
 *
 * _sharding is what TensorStore's json driver leaves: one compact object,
 * its keys (base64url of each array's name) sorted, each value the JSON text
 * of the leaf's sharding as Python prints it (orbax-format.md §4.2).
 *
 * A struct orbax_leaves is used by one thread at a time.
 */
#ifndef ORBAX_LEAVES_H
#define ORBAX_LEAVES_H

#include <stddef.h>
#include <stdint.h>

#include "util/ck_buf.h"
#include "zarr/zarr_array.h"

/* The item handler of _CHECKPOINT_METADATA's item_handlers. */
#define ORBAX_PYTREE_HANDLER \
	"orbax.checkpoint._src.handlers.pytree_checkpoint_handler." \
	"PyTreeCheckpointHandler"

/* What a leaf is. */
enum orbax_leaf_kind {
	ORBAX_LEAF_ARRAY,		/* jax.Array: zarr keys,
					   array_metadatas, _sharding */
	ORBAX_LEAF_SCALAR,		/* scalar: zarr keys only */
	ORBAX_LEAF_EMPTY,		/* empty container: _METADATA only */
};

/* One leaf, as the metadata texts record it. */
struct orbax_leaf {
	char *name;			/* PyTree path joined with '.' (owned) */
	enum orbax_leaf_kind kind;	/* what it is */
	const char *value_type;		/* ORBAX_LEAF_EMPTY: "Dict", ...
					   (static) */
	unsigned rank;			/* dimensions (arrays) */
	uint64_t chunk[ZARR_MAX_RANK];	/* write shape = chunk shape */
};

/* The leaves of one item, in the order added until orbax_leaves_sort(). */
struct orbax_leaves {
	struct orbax_leaf *v;		/* owned */
	size_t n, cap;			/* used / allocated */
};

#define ORBAX_LEAVES_INIT { NULL, 0, 0 }

/*
 * Check that l takes a leaf called name: a non-empty PyTree path joined
 * with '.' (no empty component, no '/', quotes, backslashes or control
 * characters), not added before, neither a subtree of another leaf nor
 * holding one ("a" beside "a.b").  -EINVAL with a message naming it.
 */
int orbax_leaves_check(const struct orbax_leaves *l, const char *name);

/*
 * The static spelling of an empty container's value_type ("Dict", "List",
 * "Tuple", "NamedTuple" or "None", Orbax's names) in *out.  -EINVAL for
 * anything else (NULL included).
 */
int orbax_leaves_empty_type(const char *value_type, const char **out);

/*
 * Record a leaf (checked first with orbax_leaves_check()): name is copied;
 * chunk (rank values) is read for ORBAX_LEAF_ARRAY only, value_type
 * (orbax_leaves_empty_type()'s spelling) for ORBAX_LEAF_EMPTY only.
 * -ENOMEM; l is unchanged on failure.
 */
int orbax_leaves_add(struct orbax_leaves *l, const char *name,
		     enum orbax_leaf_kind kind, const char *value_type,
		     unsigned rank, const uint64_t *chunk);

/* Sort the leaves in PyTree order (key paths compared component by
 * component), as the texts list them. */
void orbax_leaves_sort(struct orbax_leaves *l);

/*
 * Append to out, for the leaves in l's order (sort first), the text of
 * items/_METADATA (use_ocdbt and use_zarr3 as given), of
 * items/array_metadatas/process_0 (the array leaves), of items/_sharding
 * (every array leaf a SingleDeviceSharding on device, e.g. "cpu:0",
 * without quotes, backslashes or control characters).  -ENOMEM.
 */
int orbax_leaves_metadata(const struct orbax_leaves *l, int use_ocdbt,
			  int use_zarr3, struct ck_buf *out);
int orbax_leaves_array_metadatas(const struct orbax_leaves *l,
				 struct ck_buf *out);
int orbax_leaves_sharding(const struct orbax_leaves *l, const char *device,
			  struct ck_buf *out);

/*
 * Append the text of a step's _CHECKPOINT_METADATA to out: item_handlers
 * are the JSON members of its item_handlers object ("\"items\": \"<handler>\"",
 * ", "-joined), the timestamps in ns since the epoch, and scan_layers (0 or
 * 1) in custom_metadata unless it is -1.  -ENOMEM.
 */
int orbax_leaves_step_metadata(const char *item_handlers, uint64_t init_ns,
			       uint64_t commit_ns, int scan_layers,
			       struct ck_buf *out);

/* Free the leaves and reset l to empty.  Keeps nothing. */
void orbax_leaves_release(struct orbax_leaves *l);

#endif
