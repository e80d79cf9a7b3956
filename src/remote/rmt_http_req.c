/* SPDX-License-Identifier: MIT */
/* This file implements the request helpers of rmt_http.h: header lines,
 * URLs for messages, percent-encoding, releasing a request. */
#include "remote/rmt_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

static int header_line(struct http_req *r, const char *fmt, va_list ap)
{
	struct curl_slist *l;
	char line[8192];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0 || (size_t)n >= sizeof(line) || strpbrk(line, "\r\n"))
		return ck_err(-EINVAL, "http: a bad or too long header line");
	l = curl_slist_append(r->headers, line);
	if (!l)
		return ck_err(-ENOMEM, "out of memory for a header");
	r->headers = l;
	return 0;
}

int http_req_header(struct http_req *r, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = header_line(r, fmt, ap);
	va_end(ap);
	return err;
}

int http_req_set_header(struct http_req *r, const char *name,
			const char *fmt, ...)
{
	struct curl_slist *keep = NULL, *l, *t;
	size_t nl = strlen(name);
	va_list ap;
	int err;

	for (l = r->headers; l; l = l->next) {
		if (!strncasecmp(l->data, name, nl) && l->data[nl] == ':')
			continue;
		t = curl_slist_append(keep, l->data);
		if (!t) {
			curl_slist_free_all(keep);
			return ck_err(-ENOMEM, "out of memory for a header");
		}
		keep = t;
	}
	curl_slist_free_all(r->headers);
	r->headers = keep;
	va_start(ap, fmt);
	err = header_line(r, fmt, ap);
	va_end(ap);
	return err;
}

void http_req_release(struct http_req *r)
{
	if (!r)
		return;
	free(r->url);
	curl_slist_free_all(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *http_url_for_msg(const char *url, char *buf, size_t cap)
{
	const char *s = url ? url : "", *h = strstr(s, "://"), *end, *at;
	size_t pre = 0;

	if (!cap)
		return buf;
	end = s + strcspn(s, "?#");
	if (h && h < end) {
		h += 3;
		pre = (size_t)(h - s);
		/* user:password@ is a secret too */
		at = h + strcspn(h, "/?#");
		while (at > h && at[-1] != '@')
			at--;
		s = at > h ? at : h;
	}
	snprintf(buf, cap, "%.*s%.*s", (int)pre, url ? url : "",
		 (int)(end - s), s);
	return buf;
}

int http_escape(struct ck_buf *out, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int err;

	if (n > (SIZE_MAX - 1) / 3)
		return ck_err(-ENOMEM, "http: a name too long to escape");
	err = ck_buf_grow(out, n * 3 + 1);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || (c == '/' && keep_slash)) {
			out->data[out->len++] = c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = (uint8_t)hex[c >> 4];
			out->data[out->len++] = (uint8_t)hex[c & 15];
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

