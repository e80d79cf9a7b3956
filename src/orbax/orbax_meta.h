/* SPDX-License-Identifier: MIT */
/*
 * orbax_meta.h - the JSON metadata of an Orbax item and step: _METADATA
 * (which leaves the PyTree has) and _CHECKPOINT_METADATA (custom metadata
 * such as MaxText's scan_layers).
 */
#ifndef ORBAX_META_H
#define ORBAX_META_H

#include <stddef.h>

/* One leaf of _METADATA's tree_metadata. */
struct orbax_leaf {
	char *name;		/* key path joined with '.' (owned) */
	int is_array;		/* value type jax.Array, np.ndarray or scalar
				   (or not recorded) */
	int skip;		/* skip_deserialize: the value is not in the
				   array store (legacy: in the aggregate) */
};

struct orbax_meta {
	size_t nleaves;
	struct orbax_leaf *leaves;	/* owned */
	int use_zarr3;			/* 1, 0, or -1 if absent */
};

/*
 * Parse the text of a _METADATA file.  -EINVAL with a message naming the
 * member for malformed content.  Caller releases with orbax_meta_release().
 */
int orbax_meta_parse(const char *text, size_t n, struct orbax_meta *out);
void orbax_meta_release(struct orbax_meta *m);

/*
 * Read custom_metadata.scan_layers from a _CHECKPOINT_METADATA text:
 * 1 or 0, or -1 when it is absent (or the file does not parse).
 */
int orbax_step_meta_scan_layers(const char *text, size_t n);

#endif
