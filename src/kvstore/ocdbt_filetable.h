/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_filetable.h - the data file table of OCDBT manifests and nodes.
 *
 * Each entry is a (base_path, relative_path) pair, stored prefix-compressed
 * (orbax-format.md §2.4).  Entry i is kept as its full path base+relative
 * with the length of the base part.  Decoding does not judge the paths:
 * path safety is checked where a path is resolved (ocdbt.c).
 */
#ifndef OCDBT_FILETABLE_H
#define OCDBT_FILETABLE_H

#include <stddef.h>
#include <stdint.h>

struct ck_rd;

/* Cap on the bytes of all reconstructed paths of one table. */
#define OCDBT_FILETABLE_MAX_BYTES ((size_t)64 << 20)

struct ocdbt_file {
	const char *path; /* base_path + relative_path, NUL-terminated
			     (into the table's arena; may hold NULs) */
	size_t len;	  /* length of path */
	size_t base_len;  /* length of base_path (a prefix of path) */
};

struct ocdbt_filetable {
	struct ocdbt_file *files; /* owned; n entries */
	size_t n;		  /* number of entries */
	char *arena;		  /* owned: the path bytes */
};

/*
 * Decode a table at the cursor into *t (released with
 * ocdbt_filetable_release()).  -EIO malformed, -EOVERFLOW paths too large,
 * -ENOMEM.
 */
int ocdbt_filetable_decode(struct ck_rd *r, struct ocdbt_filetable *t);

/* Free the table's memory; t becomes empty.  Safe on a zeroed table. */
void ocdbt_filetable_release(struct ocdbt_filetable *t);

#endif
