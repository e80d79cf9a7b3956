/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_encode.h - encoding of OCDBT B+tree nodes and manifests, byte for
 * byte as TensorStore writes them for Orbax (orbax-format.md §2), shared by
 * the two makers of OCDBT databases: the writer of files on disk
 * (ocdbt_writer.c) and the in-memory image (ocdbt_image.c).  Private to
 * kvstore/.
 *
 * The caller holds the keys, sorted and distinct, and says where each value
 * is (inline bytes, or a data file id and offset) and what each data file id
 * is called; ocdbt_encode_tree() builds the B+tree bottom-up and hands each
 * encoded node to a callback that stores it in the one node file and says
 * at which offset.  ocdbt_encode_manifest() then encodes manifest.ocdbt
 * (generation 1) over the root.  Nothing here does I/O; all arguments are
 * borrowed for the call; the functions are thread-safe.
 */
#ifndef OCDBT_ENCODE_H
#define OCDBT_ENCODE_H

#include <stddef.h>
#include <stdint.h>

struct ck_buf;

/* Longest key (TensorStore stores key lengths as u16). */
#define OCDBT_ENCODE_KEY_MAX 65535u
/* The manifest's max_decoded_node_bytes (Orbax), which bounds each node. */
#define OCDBT_ENCODE_MAX_DECODED_NODE_BYTES 100000000u

/* One key and where its value is. */
struct ocdbt_encode_entry {
	const uint8_t *key; /* key bytes */
	size_t key_len;	    /* at most OCDBT_ENCODE_KEY_MAX */
	uint64_t len;	    /* value length */
	const uint8_t *val; /* inline: the len value bytes */
	uint64_t offset;    /* indirect: offset in the data file */
	uint32_t file;	    /* indirect: data file id (index in files) */
	uint8_t kind;	    /* OCDBT_VALUE_INLINE or _INDIRECT */
};

/* A data file as the database's directory sees it: base + rel. */
struct ocdbt_encode_file {
	const char *base; /* base path: "" or "<dir>/" */
	const char *rel;  /* relative path "d/<32 hex>" */
};

/*
 * Store the encoded node p[0..n) at the end of the node file and set
 * *offset to where it starts; 0 or -errno (returned as is).
 */
typedef int (*ocdbt_encode_node_fn)(void *ctx, const uint8_t *p, size_t n,
				    uint64_t *offset);

/* What ocdbt_encode_tree() builds. */
struct ocdbt_encode_tree {
	const struct ocdbt_encode_entry *e;    /* entries, sorted, distinct */
	size_t n;			       /* number of entries, >= 1 */
	const struct ocdbt_encode_file *files; /* data files by id */
	uint32_t node_file;		       /* id of the file nodes go to */
	uint32_t max_leaf_entries;	       /* 0: as the node size allows */
	uint32_t max_interior_entries;	       /* 0: as the node size allows */
	int zstd_level;			       /* node compression level */
	const char *what;		       /* the database, for messages */
	ocdbt_encode_node_fn put_node;	       /* stores each node */
	void *ctx;			       /* put_node's context */
};

/* The root of a written tree, as the manifest references it. */
struct ocdbt_encode_root {
	uint64_t offset, length; /* root node in the node file */
	uint64_t num_keys;	 /* keys in the tree */
	uint64_t tree_bytes;	 /* encoded node bytes in the tree */
	uint64_t indirect_bytes; /* out-of-line value bytes in the tree */
	unsigned height;	 /* root height (0: a leaf) */
};

/*
 * Encode and store (through t->put_node) the B+tree of t->e[0..n): leaves
 * cut greedily at max_leaf_entries and a decoded-size budget, then levels
 * of interior nodes up to a single root, every node written exactly once,
 * children before parents.  *root describes the root.  Errors: -EINVAL
 * no entries; -EOVERFLOW a path longer than 65535 bytes or a tree deeper
 * than 60; -ENOMEM; put_node's errors.
 */
int ocdbt_encode_tree(const struct ocdbt_encode_tree *t,
		      struct ocdbt_encode_root *root);

/* What ocdbt_encode_manifest() encodes. */
struct ocdbt_encode_manifest {
	uint8_t uuid[16];		 /* the database uuid */
	uint32_t max_inline_value_bytes; /* the config's threshold */
	int zstd_level;			 /* node and manifest compression */
	uint64_t commit_time_ns;	 /* ns since the epoch */
	/* the root's node file; NULL: an empty database */
	const struct ocdbt_encode_file *node_file;
	const struct ocdbt_encode_root *root; /* ignored when empty */
};

/*
 * Encode manifest.ocdbt (single kind, generation 1, the root as its only
 * version) into out, which is cleared first; the caller initialised it and
 * releases it.  -EOVERFLOW, -ENOMEM.
 */
int ocdbt_encode_manifest(const struct ocdbt_encode_manifest *m,
			  struct ck_buf *out);

#endif
