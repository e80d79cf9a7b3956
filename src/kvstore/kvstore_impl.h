/* SPDX-License-Identifier: MIT */
/*
 * kvstore_impl.h - the builder side of struct kvstore, shared by the OCDBT
 * and directory backends (private to src/kvstore/).
 *
 * A backend creates an empty store with kvstore_new(), registers the files
 * values live in with kvfiles_add_checked() or kvfiles_add_unchecked() on
 * kv->files, adds one entry per key with kvstore_add_inline() /
 * kvstore_add_ref(), and calls kvstore_finalize(),
 * which sorts the entries and rejects duplicate keys.  Building is
 * single-threaded; after finalize the store is immutable (kvstore.h).
 */
#ifndef KVSTORE_IMPL_H
#define KVSTORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kvstore/kvstore.h"
#include "kvstore/kvstore_files.h"

/* Caps on what one store may hold (hostile databases cannot exhaust memory
 * through them). */
#define KVSTORE_MAX_ENTRIES ((size_t)1 << 26)
#define KVSTORE_MAX_INLINE_BYTES ((uint64_t)4 << 30)

struct kvstore_entry {
	uint8_t *key;  /* owned: key bytes, then the inline value */
	size_t keylen; /* key length */
	const uint8_t *inline_data; /* into key's allocation, or NULL */
	uint64_t offset;	    /* value offset in its file (out-of-line) */
	uint64_t length;	    /* value length */
	uint32_t file_id;	    /* index in kvstore.files */
};

struct kvstore {
	enum kvstore_kind kind;	    /* backend */
	uint64_t generation;	    /* generation opened (OCDBT) */
	struct kvstore_entry *ents; /* owned; sorted after finalize */
	size_t nents, ents_cap;	    /* entries used / allocated */
	struct kvstore_files *files; /* owned: the data files and their
					descriptors (kvstore_files.h) */
	uint64_t inline_bytes;	    /* total inline value bytes (capped) */
};

/* A new empty store of the given kind (caller frees with kvstore_free()).
 * -ENOMEM. */
int kvstore_new(enum kvstore_kind kind, struct kvstore **out);

/* The store's files: register them with kvfiles_add_checked() (opened
 * now, identity kept) or kvfiles_add_unchecked() (opened per read) on
 * kv->files; a file's id is its index there. */

/* Add key -> copy of val[0..vlen) (inline); file_id names the file the value
 * came from (kv_value.file).  -ENOMEM, -EOVERFLOW (caps). */
int kvstore_add_inline(struct kvstore *kv, const uint8_t *key, size_t keylen,
		       const uint8_t *val, size_t vlen, uint32_t file_id);

/* Add key -> (file_id, offset, length).  -ENOMEM, -EOVERFLOW. */
int kvstore_add_ref(struct kvstore *kv, const uint8_t *key, size_t keylen,
		    uint32_t file_id, uint64_t offset, uint64_t length);

/* Sort the entries; a key present twice is -EIO naming the key. */
int kvstore_finalize(struct kvstore *kv);

#endif
