/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_manifest.h - the OCDBT manifest (manifest.ocdbt).
 *
 * Format note (orbax-format.md §2.3): inside the envelope (magic 0x0CDB3A2A)
 * the body is the database config, then - unless the manifest is a
 * config-only "numbered" one - the data file table (transitive path ""),
 * the inline versions (latest last) and the version-node references for
 * older generations.  A config-only manifest (manifest_kind 1 and nothing
 * after the config) defers to the highest-numbered manifest.<16 hex> file.
 * Decoders are pure (no I/O) and thread-safe.
 */
#ifndef OCDBT_MANIFEST_H
#define OCDBT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "kvstore/ocdbt_filetable.h"
#include "kvstore/ocdbt_version.h"

#define OCDBT_MANIFEST_SINGLE 0
#define OCDBT_MANIFEST_NUMBERED 1

struct ocdbt_config {
	uint8_t uuid[16];		 /* database uuid */
	uint8_t manifest_kind;		 /* OCDBT_MANIFEST_* */
	uint32_t max_inline_value_bytes; /* writer's inline threshold */
	uint32_t max_decoded_node_bytes; /* writer's node size target */
	uint8_t version_tree_arity_log2; /* 1..16 */
	uint32_t compression;		 /* 0 none, 1 zstd */
	int32_t zstd_level;		 /* when compression is 1 */
};

struct ocdbt_manifest {
	struct ocdbt_config config;	 /* database config */
	int config_only;		 /* 1: numbered, see manifest.<hex> */
	struct ocdbt_filetable files;	 /* data file table (T = "") */
	struct ocdbt_version *versions;	 /* owned: inline versions, ascending */
	size_t nversions;		 /* entries in versions */
	struct ocdbt_version_ref *nodes; /* owned: version nodes (heights
					    strictly decreasing) */
	size_t nnodes;			 /* entries in nodes */
};

/*
 * Decode a whole manifest object p[0..n) (envelope included) into *out
 * (release with ocdbt_manifest_release()).  -EIO malformed, -ENOTSUP
 * unknown version/compression/manifest kind, -EOVERFLOW, -ENOMEM.
 */
int ocdbt_manifest_decode(const uint8_t *p, size_t n,
			  struct ocdbt_manifest *out);

/* Free a decoded manifest; m becomes empty.  Safe on a zeroed manifest. */
void ocdbt_manifest_release(struct ocdbt_manifest *m);

#endif
