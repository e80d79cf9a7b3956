/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_btree.h - OCDBT B+tree nodes (magic 0x0CDB20DE).
 *
 * Format note (orbax-format.md §2.6): a node body is its height (0 = leaf),
 * its own data file table, and 1..1048576 entries stored column by column.
 * Keys are prefix-compressed against the previous key of the same node, and
 * every key is relative to the prefix consumed on the way down from the root:
 * an interior entry's subtree_common_prefix_length bytes of its key are
 * removed from all keys stored below it.  A leaf value is either inline
 * (bytes at the end of the node) or out-of-line: (data file, offset,
 * value_length) raw bytes in a data file, without envelope or checksum.
 * The decoder is pure (no I/O) and thread-safe.
 */
#ifndef OCDBT_BTREE_H
#define OCDBT_BTREE_H

#include <stddef.h>
#include <stdint.h>

#include "kvstore/ocdbt_filetable.h"

#define OCDBT_BTREE_MAX_ENTRIES 1048576
/* Cap on the bytes of all reconstructed keys of one node. */
#define OCDBT_BTREE_MAX_KEY_BYTES ((size_t)128 << 20)

#define OCDBT_VALUE_INLINE 0
#define OCDBT_VALUE_INDIRECT 1

struct ocdbt_leaf_entry {
	size_t key_off;	       /* key bytes at node->keys + key_off */
	size_t key_len;	       /* key length (relative to the node) */
	uint64_t value_length; /* value length */
	uint8_t kind;	       /* OCDBT_VALUE_INLINE or _INDIRECT */
	uint32_t file_id;      /* indirect: data file (index in node->files) */
	uint64_t offset;       /* indirect: offset in that file */
	const uint8_t *inline_data; /* inline: into node->body */
};

struct ocdbt_child {
	size_t key_off;		   /* key bytes at node->keys + key_off */
	size_t key_len;		   /* key length (relative to the node) */
	size_t subtree_prefix_len; /* bytes of the key common to the subtree */
	uint32_t file_id;	   /* child node's data file */
	uint64_t offset;	   /* child node offset */
	uint64_t length;	   /* child node length */
	uint64_t num_keys;	   /* statistics of the subtree */
	uint64_t num_tree_bytes;   /* encoded node bytes in the subtree */
	uint64_t num_indirect_value_bytes; /* out-of-line bytes in it */
};

struct ocdbt_btree_node {
	uint8_t height;			 /* 0: leaf */
	struct ocdbt_filetable files;	 /* the node's data file table */
	size_t n;			 /* number of entries */
	uint8_t *keys;			 /* owned: all keys, back to back */
	struct ocdbt_leaf_entry *leaves; /* owned: n entries (height 0) */
	struct ocdbt_child *children;	 /* owned: n entries (height > 0) */
	uint8_t *body; /* owned: decoded body (inline values) */
};

/*
 * Decode a whole B+tree node object p[0..n) (envelope included; decoded
 * body at most max_body bytes) into *node (release with
 * ocdbt_btree_node_release()).  expected_height >= 0 requires that height
 * (-1 accepts any).  Checks: keys strictly increasing, prefix lengths within
 * the previous key, subtree prefixes within their key, file ids within the
 * table, inline values within the body, no trailing bytes.
 * -EIO malformed, -ENOTSUP, -EOVERFLOW, -ENOMEM.
 */
int ocdbt_btree_node_decode(const uint8_t *p, size_t n, size_t max_body,
			    int expected_height, struct ocdbt_btree_node *node);

/* Free a decoded node; node becomes empty.  Safe on a zeroed node. */
void ocdbt_btree_node_release(struct ocdbt_btree_node *node);

#endif
