/* SPDX-License-Identifier: MIT */
/*
 * ck_buf.h - a growable byte buffer (after git's strbuf).
 *
 * Invariants: data is NULL only when cap == 0; len <= cap.  The buffer owns
 * data.  ck_buf_detach() hands it to the caller, who frees it with free().
 * Growth is capped by the caller's explicit limits, never implicit.
 */
#ifndef CK_BUF_H
#define CK_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ck_buf {
	uint8_t *data;	/* owned; NULL when cap == 0 */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated */
};

#define CK_BUF_INIT { NULL, 0, 0 }

void ck_buf_init(struct ck_buf *b);

/* Make room for at least `extra` more bytes.  -ENOMEM, -EOVERFLOW. */
int ck_buf_grow(struct ck_buf *b, size_t extra);

/* Append n bytes.  -ENOMEM, -EOVERFLOW. */
int ck_buf_append(struct ck_buf *b, const void *p, size_t n);

/* Append a formatted string (no NUL counted in len, but one is kept). */
int ck_buf_printf(struct ck_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Free the contents and reset to empty. */
void ck_buf_release(struct ck_buf *b);

/* Return the data (caller frees) and reset b to empty.  May return NULL for an
 * empty buffer. */
uint8_t *ck_buf_detach(struct ck_buf *b, size_t *len);

#endif
