/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: HTTP response headers as the engine reads them
 * (rmt_http.c on_header: ETag, x-goog-generation, Content-Range,
 * Content-Length, Retry-After, and status lines).
 *
 * The input is a header block: each line, up to and with its '\n', is fed
 * to the header callback as libcurl would feed it.  The request starts as
 * one whose status line (200) was read.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "remote/rmt_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	uint64_t cr_start = UINT64_MAX;
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.status = 200;
	r.total = UINT64_MAX;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		int status_line = n >= 5 && !memcmp(p, "HTTP/", 5);

		http_header_line(&r, p, n, &cr_start);
		/* The fixed-size fields stay strings; the delay stays capped. */
		if (!memchr(r.etag, 0, sizeof(r.etag)) ||
		    !memchr(r.generation, 0, sizeof(r.generation)) ||
		    r.retry_after_s > 30)
			__builtin_trap();
		/* A status line starts a new response: nothing of the last. */
		if (status_line && (r.etag[0] || r.generation[0] ||
				    r.total != UINT64_MAX || r.retry_after_s ||
				    cr_start != UINT64_MAX))
			__builtin_trap();
		p += n;
	}
	return 0;
}
