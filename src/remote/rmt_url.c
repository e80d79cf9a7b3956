/* SPDX-License-Identifier: MIT */
/*
 * This file implements rmt_url_parse() of rmt_backend.h: remote URLs split
 * into scheme, bucket (or http origin) and key.
 *
 * The key is taken literally (an http path is not percent-decoded: each
 * backend escapes it when it builds a request), so "a%20b" names the key
 * "a%20b".  Keys are checked here once so that no backend ever builds a
 * request for "..", an empty segment or a control character.  An http URL
 * with a query, a fragment or user:password@ is refused, and its message
 * names only what http_url_for_msg() keeps: a query may be a signature.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "remote/rmt_backend.h"
#include "util/ck_err.h"

static const struct {
	const char *prefix;
	enum rmt_scheme scheme;
} schemes[] = {
	{ "gs://", RMT_GS },
	{ "s3://", RMT_S3 },
	{ "http://", RMT_HTTP },
	{ "https://", RMT_HTTP },
};

/* "a/b/c" of a path: no empty, "." or ".." segment, no control byte. */
static int key_check(const char *k, size_t n)
{
	size_t seg = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && k[i] != '/') {
			if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
				return -EINVAL;
			continue;
		}
		if (i == seg || (i - seg == 1 && k[seg] == '.') ||
		    (i - seg == 2 && k[seg] == '.' && k[seg + 1] == '.'))
			return -EINVAL;
		seg = i + 1;
	}
	return 0;
}

/* The bucket of gs:// or s3://: letters, digits, '-', '_', '.'. */
static int bucket_check(const char *b, size_t n)
{
	if (!n || n > 255)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", b[i]))
			return -EINVAL;
	return 0;
}

/* host, host:port or [v6]:port. */
static int host_check(const char *h, size_t n)
{
	size_t i = 0;

	if (!n)
		return -EINVAL;
	if (h[0] == '[') {
		while (i < n && h[i] != ']')
			i++;
		if (i == n)
			return -EINVAL;
		i++;
	} else {
		while (i < n && h[i] != ':') {
			if (!strchr("abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.",
				    h[i]))
				return -EINVAL;
			i++;
		}
		if (!i)
			return -EINVAL;
	}
	if (i == n)
		return 0;
	if (h[i] != ':' || i + 1 == n || n - i > 6)
		return -EINVAL;
	for (i++; i < n; i++)
		if (h[i] < '0' || h[i] > '9')
			return -EINVAL;
	return 0;
}

int rmt_url_parse(const char *s, struct rmt_url *u)
{
	char shown[256];
	const char *rest = NULL, *path;
	size_t bn, kn, pre = 0;

	memset(u, 0, sizeof(*u));
	u->text = s;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		pre = strlen(schemes[i].prefix);
		if (!strncasecmp(s, schemes[i].prefix, pre)) {
			u->scheme = schemes[i].scheme;
			rest = s + pre;
			break;
		}
	}
	http_url_for_msg(s, shown, sizeof(shown));
	if (!rest)
		return ck_err(-EINVAL, "'%s': not a gs://, s3://, http:// or "
			      "https:// URL", shown);
	if (u->scheme == RMT_HTTP && strpbrk(s, "?#"))
		return ck_err(-EINVAL, "'%s': a URL with a query or fragment "
			      "is not supported", shown);
	bn = strcspn(rest, "/");
	if (u->scheme == RMT_HTTP) {
		if (memchr(rest, '@', bn))
			return ck_err(-EINVAL, "'%s': credentials in a URL are "
				      "not supported (use a token file)", shown);
		if (host_check(rest, bn))
			return ck_err(-EINVAL, "'%s': bad host", shown);
	} else if (bucket_check(rest, bn)) {
		return ck_err(-EINVAL, "'%s': bad bucket name", shown);
	}
	path = rest[bn] ? rest + bn + 1 : rest + bn;
	kn = strlen(path);
	if (kn && path[kn - 1] == '/') {
		kn--; /* one trailing '/' names the same directory */
		if (!kn || path[kn - 1] == '/')
			return ck_err(-EINVAL, "'%s': empty path segment", shown);
	}
	if (kn && key_check(path, kn))
		return ck_err(-EINVAL, "'%s': empty, '.' or '..' path segment, "
			      "or a control character", shown);
	if (u->scheme == RMT_HTTP) {
		/* "http[s]://host", the scheme in lower case */
		size_t sn = pre - 3;

		u->bucket = malloc(pre + bn + 1);
		if (u->bucket) {
			for (size_t i = 0; i < sn; i++)
				u->bucket[i] = (char)(s[i] | 0x20);
			memcpy(u->bucket + sn, "://", 3);
			memcpy(u->bucket + pre, rest, bn);
			u->bucket[pre + bn] = '\0';
		}
	} else {
		u->bucket = strndup(rest, bn);
	}
	u->key = strndup(path, kn);
	if (!u->bucket || !u->key) {
		rmt_url_release(u);
		u->text = s;
		return ck_err(-ENOMEM, "out of memory parsing a URL");
	}
	return 0;
}

void rmt_url_release(struct rmt_url *u)
{
	if (!u)
		return;
	free(u->bucket);
	free(u->key);
	memset(u, 0, sizeof(*u));
}
