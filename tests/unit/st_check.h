/* SPDX-License-Identifier: MIT */
/*
 * st_check.h - a strict safetensors parser for the tests, written apart
 * from src/layout/ so that it checks the layout rather than echoing it.
 *
 * A file passes when: it holds at least 8 bytes; the u64 LE header length N
 * satisfies 8 + N <= size, (8 + N) % 8 == 0 and N <= 100,000,000; the header
 * is UTF-8, starts with '{' and is one JSON object followed by spaces only;
 * no key repeats; "__metadata__", if present, is an object of strings with
 * "format": "pt"; every other member is exactly {"dtype", "shape",
 * "data_offsets"} with dtype in BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64
 * I64 U64, shape an array of non-negative integers, data_offsets [b, e] with
 * e - b == numel * itemsize; sorted by b, the tensors tile [0, D) with no
 * hole or overlap; and 8 + N + D == size exactly.
 */
#ifndef ST_CHECK_H
#define ST_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define ST_CHECK_MAX_RANK 64

struct st_check_tensor {
	char *name;			/* owned */
	char dtype[8];			/* "BF16", ... */
	size_t itemsize;		/* bytes per element */
	unsigned rank;
	uint64_t shape[ST_CHECK_MAX_RANK];
	uint64_t begin, end;		/* data_offsets, relative to the data */
};

struct st_check_result {
	uint64_t header_len;		/* 8 + N */
	uint64_t data_len;		/* D */
	int has_metadata;		/* "__metadata__" was present */
	size_t n;			/* tensors */
	struct st_check_tensor *t;	/* in header order (owned) */
};

/*
 * Check the n bytes at p.  0 and *res filled (release with
 * st_check_result_release()) or -EIO with the reason in why (NUL
 * terminated, truncated to whylen) and *res untouched; -ENOMEM.  res may be
 * NULL when only the verdict is wanted.
 */
int st_check_file(const uint8_t *p, size_t n, char *why, size_t whylen,
		  struct st_check_result *res);

/* The tensor called name, or NULL. */
const struct st_check_tensor *st_check_find(const struct st_check_result *res,
					    const char *name);

void st_check_result_release(struct st_check_result *res);

#endif
