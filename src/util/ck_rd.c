/* SPDX-License-Identifier: MIT */
/* This file implements the bounded cursor of ck_rd.h. */
#include "util/ck_rd.h"

#include <errno.h>

#include "util/ck_err.h"

void ck_rd_init(struct ck_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
}

static int short_read(const struct ck_rd *r, size_t want, const char *what)
{
	return ck_err(-EIO, "truncated %s at byte %zu (need %zu bytes, %zu left)",
		      what, r->pos, want, ck_rd_left(r));
}

int ck_rd_u8(struct ck_rd *r, uint8_t *v, const char *what)
{
	if (ck_rd_left(r) < 1)
		return short_read(r, 1, what);
	*v = r->p[r->pos++];
	return 0;
}

int ck_rd_u32le(struct ck_rd *r, uint32_t *v, const char *what)
{
	if (ck_rd_left(r) < 4)
		return short_read(r, 4, what);
	*v = ck_load_u32le(r->p + r->pos);
	r->pos += 4;
	return 0;
}

int ck_rd_u64le(struct ck_rd *r, uint64_t *v, const char *what)
{
	if (ck_rd_left(r) < 8)
		return short_read(r, 8, what);
	*v = ck_load_u64le(r->p + r->pos);
	r->pos += 8;
	return 0;
}

int ck_rd_u32be(struct ck_rd *r, uint32_t *v, const char *what)
{
	const uint8_t *p;

	if (ck_rd_left(r) < 4)
		return short_read(r, 4, what);
	p = r->p + r->pos;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	     (uint32_t)p[3];
	r->pos += 4;
	return 0;
}

int ck_rd_varint(struct ck_rd *r, uint64_t max, uint64_t *v, const char *what)
{
	uint64_t val = 0;
	size_t start = r->pos;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t b;

		if (r->pos >= r->len)
			return short_read(r, 1, what);
		b = r->p[r->pos++];
		if (i == 9 && b > 1)
			break;
		val |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (val > max)
				return ck_err(-EIO, "%s %llu at byte %zu exceeds %llu",
					      what, (unsigned long long)val, start,
					      (unsigned long long)max);
			*v = val;
			return 0;
		}
	}
	return ck_err(-EIO, "varint %s at byte %zu overflows 64 bits", what, start);
}

int ck_rd_bytes(struct ck_rd *r, size_t n, const uint8_t **p, const char *what)
{
	if (ck_rd_left(r) < n)
		return short_read(r, n, what);
	*p = r->p + r->pos;
	r->pos += n;
	return 0;
}

int ck_rd_skip(struct ck_rd *r, size_t n, const char *what)
{
	if (ck_rd_left(r) < n)
		return short_read(r, n, what);
	r->pos += n;
	return 0;
}
