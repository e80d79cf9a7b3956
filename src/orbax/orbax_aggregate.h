/* SPDX-License-Identifier: MIT */
/*
 * orbax_aggregate.h - the legacy msgpack `checkpoint` aggregate file written
 * by Orbax before 0.5.16 (and by Flax before it).
 *
 * The file is a msgpack map mirroring the PyTree.  Array leaves are msgpack
 * ext type 1 (ndarray) or 3 (numpy scalar) whose payload is itself msgpack:
 * [shape (array of ints), dtype name (str), raw C-order little-endian bytes
 * (bin)].  Nested maps (and Orbax's tuple ext type 4, a msgpack array) give
 * the leaf names, joined with '.'.  Other leaves (ints, strings such as
 * "PLACEHOLDER://a" for arrays stored elsewhere, complex scalars) are not
 * arrays and are left out.
 */
#ifndef ORBAX_AGGREGATE_H
#define ORBAX_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "zarr/zarr_dtype.h"
#include "zarr/zarr_array.h"

struct orbax_agg_leaf {
	char *name;			/* PyTree path joined with '.' (owned) */
	enum ck_dtype dtype;
	unsigned rank;
	uint64_t shape[ZARR_MAX_RANK];
	const uint8_t *data;		/* C-order bytes, borrowed from the
					   parsed buffer */
	uint64_t nbytes;		/* prod(shape) * itemsize */
};

struct orbax_aggregate {
	size_t nleaves;
	struct orbax_agg_leaf *leaves;	/* owned */
};

/*
 * Parse the n bytes at p.  Leaves point into p, which must outlive the
 * result.  -EIO malformed msgpack (with the byte offset), -ENOTSUP an
 * unknown dtype, -EOVERFLOW nesting deeper than 64 or sizes that overflow.
 * Release with orbax_aggregate_release().
 */
int orbax_aggregate_parse(const uint8_t *p, size_t n, struct orbax_aggregate *out);
void orbax_aggregate_release(struct orbax_aggregate *agg);

#endif
