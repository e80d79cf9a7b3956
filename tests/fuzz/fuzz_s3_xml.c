/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: S3 XML, a ListObjectsV2 page and an <Error> body
 * (rmt_s3.c, libxml2).
 *
 * The first input byte picks: bit 0 the parser (0: a listing page, 1: an
 * error body); bits 1-2 the prefix listed under ("", "dir/", "a/b/",
 * "ckpt/step_100/"); bit 3 one level (delimiter '/') or every key; bit 4 a
 * callback that stops the listing at the third entry.  The rest is the
 * body, as the HTTP engine hands it over (NUL-terminated past its length).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rmt_parse.h"

#define STOP 7	/* what the stopping callback returns */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t body_len;
	int delim;
	int stop;
	unsigned n;
};

static int entry(void *ctx, const char *name, int is_dir, uint64_t size)
{
	struct seen *s = ctx;

	if (!name || (is_dir != 0 && is_dir != 1) || (is_dir && size))
		__builtin_trap();
	/* One level: a name directly under the prefix, never "" nor a path. */
	if (s->delim && (!name[0] || strchr(name, '/')))
		__builtin_trap();
	/* Nothing read from the body is longer than the body: no entity
	 * expansion. */
	if (strlen(name) > s->body_len)
		__builtin_trap();
	return s->stop && ++s->n == 3 ? STOP : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "", "dir", "a/b", "ckpt/step_100" };
	static const size_t plens[] = { 0, 4, 4, 14 };
	struct http_req r;
	char bucket[] = "bkt", key[32];
	struct rmt_url u = { RMT_S3, bucket, key, NULL };
	char text[64];
	uint8_t *body;
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0];
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	memset(&r, 0, sizeof(r));
	r.status = sel & 1 ? 403 : 200;
	r.body = body;
	r.body_len = size - 1;
	r.total = UINT64_MAX;
	snprintf(key, sizeof(key), "%s", keys[(sel >> 1) & 3]);
	snprintf(text, sizeof(text), "s3://bkt/%s", key);
	u.text = text;

	if (sel & 1) {
		struct s3_error e;

		s3_error_parse(&r, &e);
		if (strlen(e.code) >= sizeof(e.code) ||
		    strlen(e.region) >= sizeof(e.region) ||
		    strlen(e.endpoint) >= sizeof(e.endpoint))
			__builtin_trap();
	} else {
		struct seen s = { r.body_len, (sel >> 3) & 1, (sel >> 4) & 1, 0 };
		struct s3_page pg = { 0, NULL };
		int rc = s3_page_parse(&u, &r, plens[(sel >> 1) & 3], s.delim,
				       entry, &s, &pg);

		if (rc > 0 && rc != STOP)
			__builtin_trap();
		if (rc == STOP && (!s.stop || s.n != 3))
			__builtin_trap();
		if (pg.truncated != 0 && pg.truncated != 1)
			__builtin_trap();
		if (pg.next && strlen(pg.next) > r.body_len)
			__builtin_trap();
		free(pg.next);
	}
	free(body);
	return 0;
}
