/* SPDX-License-Identifier: MIT */
/* This file implements the growable byte buffer of ck_buf.h. */
#include "util/ck_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"

void ck_buf_init(struct ck_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int ck_buf_grow(struct ck_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (__builtin_add_overflow(b->len, extra, &need))
		return ck_err(-EOVERFLOW, "buffer size overflows");
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return ck_err(-ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int ck_buf_append(struct ck_buf *b, const void *p, size_t n)
{
	int err = ck_buf_grow(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int ck_buf_printf(struct ck_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return ck_err(-EINVAL, "bad format string");
	err = ck_buf_grow(b, (size_t)n + 1);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void ck_buf_release(struct ck_buf *b)
{
	free(b->data);
	ck_buf_init(b);
}

uint8_t *ck_buf_detach(struct ck_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len)
		*len = b->len;
	ck_buf_init(b);
	return p;
}
