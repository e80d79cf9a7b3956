/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_version.h - the OCDBT version tree: one B+tree root per generation.
 *
 * Format note (orbax-format.md §2.5): the manifest keeps the newest
 * generations inline as *leaf entries* (a B+tree root reference each) and
 * older ones behind *interior entries* pointing to version-tree nodes (magic
 * 0x0CDB1234) stored in data files.  An interior entry names the latest
 * generation of its subtree, so a generation g lives under the first entry
 * whose generation number is >= g.  Both entry lists are columnar.
 *
 * Decoders are pure (no I/O) and thread-safe; the walk that reads nodes is
 * in ocdbt.c.
 */
#ifndef OCDBT_VERSION_H
#define OCDBT_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "kvstore/ocdbt_filetable.h"

struct ck_rd;

/* The "missing" root offset/length of an empty database version. */
#define OCDBT_MISSING UINT64_MAX

/* A leaf entry: the B+tree root of one generation. */
struct ocdbt_version {
	uint64_t generation;	 /* generation number, >= 1 */
	uint8_t root_height;	 /* B+tree height of the root (0 = leaf) */
	uint32_t file_id;	 /* root's data file (index in the table) */
	uint64_t offset;	 /* root node offset (OCDBT_MISSING: empty) */
	uint64_t length;	 /* root node length (OCDBT_MISSING: empty) */
	uint64_t num_keys;	 /* statistics of the tree */
	uint64_t num_tree_bytes; /* encoded node bytes of the tree */
	uint64_t num_indirect_value_bytes; /* out-of-line value bytes */
	uint64_t commit_time;		   /* ns since the Unix epoch */
};

/* An interior entry: a reference to a version-tree node. */
struct ocdbt_version_ref {
	uint64_t generation;	  /* latest generation in the subtree */
	uint32_t file_id;	  /* node's data file (index in the table) */
	uint64_t offset;	  /* node offset */
	uint64_t length;	  /* node length */
	uint64_t num_generations; /* generations in the subtree */
	uint64_t commit_time;	  /* earliest commit time in the subtree */
	uint8_t height;		  /* height of the referenced node */
};

/* A decoded version-tree node. */
struct ocdbt_version_node {
	uint8_t arity_log2; /* version_tree_arity_log2 */
	uint8_t height;	    /* 0: versions; > 0: refs (height - 1 each) */
	struct ocdbt_filetable files;	/* the node's data file table */
	struct ocdbt_version *versions; /* owned (height 0) */
	size_t nversions;		/* entries in versions */
	struct ocdbt_version_ref *refs; /* owned (height > 0) */
	size_t nrefs;			/* entries in refs */
};

/*
 * Decode leaf entries at the cursor into a new array (caller frees *v).
 * Generations must be >= 1 and strictly increasing, file ids < nfiles, and
 * an empty version (OCDBT_MISSING) must have height 0.  -EIO, -ENOMEM.
 */
int ocdbt_version_leaves_decode(struct ck_rd *r, size_t nfiles,
				struct ocdbt_version **v, size_t *n);

/*
 * Decode interior entries at the cursor into a new array (caller frees
 * *v).  with_height: the manifest's list, which has a height column (heights
 * must be >= 1 and strictly decreasing); otherwise every height is
 * child_height.  Generations strictly increasing, file ids < nfiles.
 * -EIO, -ENOMEM.
 */
int ocdbt_version_refs_decode(struct ck_rd *r, size_t nfiles, int with_height,
			      uint8_t child_height,
			      struct ocdbt_version_ref **v, size_t *n);

/*
 * Decode a whole version-tree node object p[0..n) (envelope included; body
 * at most max_body bytes) into *node (release with
 * ocdbt_version_node_release()).  -EIO, -ENOTSUP, -EOVERFLOW, -ENOMEM.
 */
int ocdbt_version_node_decode(const uint8_t *p, size_t n, size_t max_body,
			      struct ocdbt_version_node *node);

void ocdbt_version_node_release(struct ocdbt_version_node *node);

/* Index of the leaf entry of generation gen in v[0..n), or -ENOENT. */
int ocdbt_version_find(const struct ocdbt_version *v, size_t n, uint64_t gen,
		       size_t *idx);

/* Index of the first ref in r[0..n) whose subtree can hold gen (its
 * generation >= gen), or -ENOENT. */
int ocdbt_version_ref_find(const struct ocdbt_version_ref *r, size_t n,
			   uint64_t gen, size_t *idx);

#endif
