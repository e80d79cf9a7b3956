/* SPDX-License-Identifier: MIT */
/*
 * ocdbt_envelope.h - the envelope shared by every encoded OCDBT object.
 *
 * Manifest, version-tree node and B+tree node are each stored as
 *   magic u32 BE | total length u64 LE | version varint (0) |
 *   compression varint (0 none, 1 zstd) | body | CRC-32C u32 LE
 * where the CRC covers every byte before it (orbax-format.md §2.2).
 * Pure functions; thread-safe.
 */
#ifndef OCDBT_ENVELOPE_H
#define OCDBT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct ck_buf;

#define OCDBT_MAGIC_MANIFEST 0x0CDB3A2Au
#define OCDBT_MAGIC_VERSION 0x0CDB1234u
#define OCDBT_MAGIC_BTREE 0x0CDB20DEu

/* Decoded-body cap for a manifest (its config is not known yet). */
#define OCDBT_MANIFEST_MAX_BODY ((size_t)100 * 1000 * 1000)

/*
 * Check the envelope of p[0..n) (the whole object: its length field must
 * equal n) against magic, and append the decoded body (at most max_body
 * bytes) to body, which the caller initialised and releases.
 * -EIO bad magic, length, CRC or zstd frame; -ENOTSUP unknown version or
 * compression; -EOVERFLOW body larger than max_body; -ENOMEM.
 */
int ocdbt_envelope_decode(const uint8_t *p, size_t n, uint32_t magic,
			  size_t max_body, struct ck_buf *body);

#endif
