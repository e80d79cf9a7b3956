/* SPDX-License-Identifier: MIT */
/*
 * ck_rd.h - a bounded little-endian cursor over untrusted bytes.
 *
 * Every decoder reads on-disk bytes through a struct ck_rd: each getter checks
 * that the bytes are there and returns -EIO (with a ck_err message naming
 * what was being read) instead of reading past the end.  Out-parameters are
 * written only on success.  The cursor never owns the bytes.
 */
#ifndef CK_RD_H
#define CK_RD_H

#include <stddef.h>
#include <stdint.h>

struct ck_rd {
	const uint8_t *p;	/* first byte (borrowed) */
	size_t len;		/* number of bytes at p */
	size_t pos;		/* next byte to read, 0 <= pos <= len */
};

void ck_rd_init(struct ck_rd *r, const void *p, size_t len);

/* Bytes left to read. */
static inline size_t ck_rd_left(const struct ck_rd *r)
{
	return r->len - r->pos;
}

/* Fixed-width integers.  `what` names the field in the error message. */
int ck_rd_u8(struct ck_rd *r, uint8_t *v, const char *what);
int ck_rd_u32le(struct ck_rd *r, uint32_t *v, const char *what);
int ck_rd_u64le(struct ck_rd *r, uint64_t *v, const char *what);
int ck_rd_u32be(struct ck_rd *r, uint32_t *v, const char *what);

/*
 * Unsigned LEB128 varint of at most 10 bytes, rejected with -EIO when it
 * encodes a value above max (pass UINT64_MAX for a full 64-bit field).
 */
int ck_rd_varint(struct ck_rd *r, uint64_t max, uint64_t *v, const char *what);

/* Borrow n bytes: *p points into the cursor's buffer. */
int ck_rd_bytes(struct ck_rd *r, size_t n, const uint8_t **p, const char *what);

/* Skip n bytes. */
int ck_rd_skip(struct ck_rd *r, size_t n, const char *what);

/* Little-endian loads and stores on raw memory (no bounds checks). */
static inline uint32_t ck_load_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t ck_load_u64le(const uint8_t *p)
{
	return (uint64_t)ck_load_u32le(p) | (uint64_t)ck_load_u32le(p + 4) << 32;
}

static inline void ck_store_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void ck_store_u64le(uint8_t *p, uint64_t v)
{
	ck_store_u32le(p, (uint32_t)v);
	ck_store_u32le(p + 4, (uint32_t)(v >> 32));
}

#endif
