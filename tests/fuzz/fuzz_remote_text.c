/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the text that names or configures a remote source.
 *
 * The first input byte picks (bits 0-1) what the rest is:
 *   0: a URL, for rmt_url_parse() and http_url_for_msg() (rmt_url.c,
 *      rmt_http_req.c); listing entries become URLs too;
 *   1: AWS shared credentials / config INI text, for aws_ini_get() and
 *      aws_ini_has_section() (rmt_aws_cred.c): the first line names the
 *      section, the second the key, the rest is the file;
 *   2: a key to escape, with http_escape() and sigv4_encode() (bit 2:
 *      keep '/'), checked by decoding it back;
 *   3: a query: its SigV4 canonical form (rmt_sigv4.c), and the canonical
 *      form of a query built with sigv4_query_add() from its two halves.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rmt_aws_cred.h"
#include "remote/rmt_backend.h"
#include "remote/rmt_sigv4.h"
#include "util/ck_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "a/b/c": no leading, trailing or doubled '/', no "." or ".." segment,
 * no control byte. */
static int key_ok(const char *k)
{
	size_t n = strlen(k), seg = 0;

	if (!n)
		return 1;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && k[i] != '/') {
			if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
				return 0;
			continue;
		}
		if (i == seg || (i - seg == 1 && k[seg] == '.') ||
		    (i - seg == 2 && k[seg] == '.' && k[seg + 1] == '.'))
			return 0;
		seg = i + 1;
	}
	return 1;
}

static void url(const char *s)
{
	static const size_t caps[] = { 1, 8, 256 };
	struct rmt_url u;
	char buf[256];

	/* What a message shows: no query, fragment or user:password@. */
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		const char *h;

		http_url_for_msg(s, buf, caps[i]);
		if (!memchr(buf, 0, caps[i]) || strpbrk(buf, "?#"))
			__builtin_trap();
		h = strstr(buf, "://");
		if (caps[i] == sizeof(buf) && h && strlen(s) < sizeof(buf) &&
		    memchr(h + 3, '@', strcspn(h + 3, "/")))
			__builtin_trap();
	}
	http_url_for_msg(NULL, buf, sizeof(buf));
	if (rmt_url_parse(s, &u))
		return;
	if (!u.bucket || !u.bucket[0] || !u.key || !key_ok(u.key) ||
	    u.text != s)
		__builtin_trap();
	if (u.scheme == RMT_HTTP ? strncmp(u.bucket, "http://", 7) &&
				   strncmp(u.bucket, "https://", 8) :
	    (u.scheme != RMT_GS && u.scheme != RMT_S3) ||
	    strspn(u.bucket, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789-_.") != strlen(u.bucket))
		__builtin_trap();
	rmt_url_release(&u);
}

static int ini_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void ini1(const char *text, size_t len, const char *sec,
		 const char *key)
{
	char *v = NULL;
	int got = aws_ini_get(text, len, sec, key, &v);
	int has = aws_ini_has_section(text, len, sec);
	size_t n;

	if (got < 0)
		return;
	if (got == 0) {
		if (v)
			__builtin_trap();
		return;
	}
	/* A value is found only in a section that exists, and is one line,
	 * trimmed (its end only when no NUL byte cut it short). */
	if (!v || !has)
		__builtin_trap();
	n = strlen(v);
	if (n > len || memchr(v, '\n', n) || (n && ini_space(v[0])) ||
	    (n && ini_space(v[n - 1]) && !memchr(text, 0, len)))
		__builtin_trap();
	free(v);
}

static void ini(const char *s, size_t len)
{
	const char *nl1 = memchr(s, '\n', len), *nl2, *text;
	char *sec, *key;

	if (!nl1)
		return;
	nl2 = memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - s));
	if (!nl2)
		return;
	sec = strndup(s, (size_t)(nl1 - s));
	key = strndup(nl1 + 1, (size_t)(nl2 - nl1 - 1));
	text = nl2 + 1;
	len -= (size_t)(text - s);
	if (sec && key) {
		ini1(text, len, sec, key);
		ini1(text, len, "default", "aws_access_key_id");
		ini1(text, len, "profile dev", "region");
	}
	free(sec);
	free(key);
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ?
	       c - 'A' + 10 : -1;
}

/* out is s[0..n) escaped: unreserved bytes (and '/' when keep_slash) as
 * they are, every other as %XX. */
static void escaped_ok(const struct ck_buf *out, const char *s, size_t n,
		       int keep_slash)
{
	const char *e = (const char *)out->data;
	size_t j = 0;

	if (!e || e[out->len])
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (j >= out->len)
			__builtin_trap();
		if (e[j] == '%') {
			if (j + 2 >= out->len)
				__builtin_trap();
			if (unhex(e[j + 1]) < 0 || unhex(e[j + 2]) < 0 ||
			    unhex(e[j + 1]) * 16 + unhex(e[j + 2]) != c)
				__builtin_trap();
			j += 3;
		} else {
			if ((unsigned char)e[j] != c ||
			    !(strchr("-._~", c) || (c >= 'A' && c <= 'Z') ||
			      (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      (c == '/' && keep_slash)) || !c)
				__builtin_trap();
			j++;
		}
	}
	if (j != out->len)
		__builtin_trap();
}

static void escape(const char *s, size_t n, int keep_slash)
{
	struct ck_buf a = CK_BUF_INIT, b = CK_BUF_INIT;

	if (!http_escape(&a, s, n, keep_slash))
		escaped_ok(&a, s, n, keep_slash);
	if (!sigv4_encode(&b, s, n, keep_slash))
		escaped_ok(&b, s, n, keep_slash);
	ck_buf_release(&a);
	ck_buf_release(&b);
}

static void query(const char *s, size_t len)
{
	struct ck_buf c1 = CK_BUF_INIT, c2 = CK_BUF_INIT, q = CK_BUF_INIT;
	char *name = strndup(s, len / 2);

	/* The canonical form is a fixed point. */
	if (!sigv4_canonical_query(s, &c1) &&
	    !sigv4_canonical_query((const char *)c1.data, &c2) &&
	    strcmp((const char *)c1.data, (const char *)c2.data))
		__builtin_trap();
	ck_buf_release(&c1);
	ck_buf_release(&c2);
	/* One pair built by sigv4_query_add() is its own canonical form. */
	if (name && !sigv4_query_add(&q, name, s + len / 2) &&
	    !sigv4_canonical_query((const char *)q.data, &c1) &&
	    strcmp((const char *)q.data, (const char *)c1.data))
		__builtin_trap();
	free(name);
	ck_buf_release(&q);
	ck_buf_release(&c1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);
	s[n] = '\0';
	switch (data[0] & 3) {
	case 0:
		url(s);
		break;
	case 1:
		ini(s, n);
		break;
	case 2:
		escape(s, n, (data[0] >> 2) & 1);
		break;
	default:
		query(s, strlen(s));
		break;
	}
	free(s);
	return 0;
}
