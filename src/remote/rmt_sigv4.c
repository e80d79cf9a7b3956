/* SPDX-License-Identifier: MIT */
/*
 * This file implements AWS Signature Version 4 (rmt_sigv4.h).
 *
 * The signature is four steps (AWS "Create a signed AWS API request"):
 *   1. the canonical request: method, path, sorted query, the signed
 *      headers (lower-case names, sorted, trimmed values), their names
 *      joined by ';', and the payload hash, one per line;
 *   2. the string to sign: "AWS4-HMAC-SHA256", the date, the scope
 *      DATE/REGION/SERVICE/aws4_request and the canonical request's hash;
 *   3. the signing key: HMAC-SHA256 chained from "AWS4" + secret over the
 *      date, the region, the service and "aws4_request";
 *   4. the signature: hex HMAC-SHA256 of the string to sign with that key.
 */
#include "remote/rmt_sigv4.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"

static const char hexdig[] = "0123456789abcdef";
static const char hexup[] = "0123456789ABCDEF";

static void to_hex(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Keep b NUL-terminated past its length. */
static int buf_nul(struct ck_buf *b)
{
	int err = ck_buf_grow(b, 1);

	if (err)
		return err;
	b->data[b->len] = '\0';
	return 0;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int sigv4_encode(struct ck_buf *out, const char *s, size_t n, int keep_slash)
{
	size_t i;
	int err;

	/* At most three bytes per input byte, and the NUL. */
	if (n > (SIZE_MAX - 1) / 3)
		return ck_err(-ENOMEM, "string too long to encode");
	err = ck_buf_grow(out, 3 * n + 1);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			out->data[out->len++] = c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = (uint8_t)hexup[c >> 4];
			out->data[out->len++] = (uint8_t)hexup[c & 15];
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

int sigv4_query_add(struct ck_buf *q, const char *name, const char *value)
{
	int err = 0;

	if (q->len)
		err = ck_buf_append(q, "&", 1);
	if (!err)
		err = sigv4_encode(q, name, strlen(name), 0);
	if (!err)
		err = ck_buf_append(q, "=", 1);
	if (!err)
		err = sigv4_encode(q, value, strlen(value), 0);
	if (!err)
		err = buf_nul(q);
	return err;
}

/* ---- canonical query ---- */

struct qpair {
	const char *s;	/* "name" or "name=value", not NUL-terminated */
	size_t len;	/* bytes of s */
	size_t nlen;	/* bytes of the name */
};

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int qpair_cmp(const void *pa, const void *pb)
{
	const struct qpair *a = pa, *b = pb;
	size_t av = a->len - a->nlen, bv = b->len - b->nlen;
	int c = bytes_cmp(a->s, a->nlen, b->s, b->nlen);

	if (c)
		return c;
	/* The values, without their '=' (a missing one is empty). */
	return bytes_cmp(a->s + a->nlen + (av > 0), av ? av - 1 : 0,
			 b->s + b->nlen + (bv > 0), bv ? bv - 1 : 0);
}

int sigv4_canonical_query(const char *query, struct ck_buf *out)
{
	struct qpair *v = NULL;
	size_t n = 0, cap = 0, i;
	const char *p = query ? query : "";
	int err = 0;

	while (*p) {
		size_t len = strcspn(p, "&");

		if (len) {
			if (n == cap) {
				struct qpair *nv;

				cap = cap ? 2 * cap : 8;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					err = ck_err(-ENOMEM, "out of memory sorting a query");
					goto out;
				}
				v = nv;
			}
			v[n].s = p;
			v[n].len = len;
			v[n].nlen = strcspn(p, "=&");
			n++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	if (n > 1)	/* v is NULL for an empty query */
		qsort(v, n, sizeof(*v), qpair_cmp);
	for (i = 0; i < n && !err; i++) {
		if (i)
			err = ck_buf_append(out, "&", 1);
		if (!err)
			err = ck_buf_append(out, v[i].s, v[i].len);
		if (!err && v[i].len == v[i].nlen)
			err = ck_buf_append(out, "=", 1);
	}
	if (!err)
		err = buf_nul(out);
out:
	free(v);
	return err;
}

/* ---- canonical headers ---- */

struct chdr {
	char *name;	/* owned: lower case */
	char *value;	/* owned: trimmed, runs of white space squeezed */
	size_t idx;	/* position given: keeps sorting stable */
};

static int chdr_cmp(const void *pa, const void *pb)
{
	const struct chdr *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *squeeze_dup(const char *s)
{
	char *d = malloc(strlen(s) + 1), *w = d;

	if (!d)
		return NULL;
	while (is_space(*s))
		s++;
	while (*s) {
		if (is_space(*s)) {
			while (is_space(*s))
				s++;
			if (*s)
				*w++ = ' ';
			continue;
		}
		*w++ = *s++;
	}
	*w = '\0';
	return d;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s), *w;

	for (w = d; w && *w; w++)
		if (*w >= 'A' && *w <= 'Z')
			*w = (char)(*w - 'A' + 'a');
	return d;
}

static void chdrs_free(struct chdr *h, size_t n)
{
	size_t i;

	for (i = 0; h && i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

static int check_req(const struct sigv4_req *q)
{
	const char *d = q->amz_date;

	if (!q->method || !q->path || !q->payload_hash || !q->region ||
	    !q->service || !d)
		return ck_err(-EINVAL, "sigv4: a request field is missing");
	if (strlen(d) != SIGV4_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
		return ck_err(-EINVAL, "sigv4: x-amz-date '%s' is not YYYYMMDDTHHMMSSZ", d);
	if (!q->n_hdrs)
		return ck_err(-EINVAL, "sigv4: no header to sign");
	return 0;
}

/*
 * Append the canonical request of q to creq and the SignedHeaders list to
 * signed_hdrs (both NUL-terminated).
 */
static int canonical(const struct sigv4_req *q, struct ck_buf *creq,
		     struct ck_buf *signed_hdrs)
{
	struct chdr *h;
	size_t i;
	int err;

	err = check_req(q);
	if (err)
		return err;
	h = calloc(q->n_hdrs, sizeof(*h));
	if (!h)
		return ck_err(-ENOMEM, "out of memory signing a request");
	for (i = 0; i < q->n_hdrs; i++) {
		h[i].name = lower_dup(q->hdrs[i].name);
		h[i].value = squeeze_dup(q->hdrs[i].value ? q->hdrs[i].value : "");
		h[i].idx = i;
		if (!h[i].name || !h[i].value) {
			err = ck_err(-ENOMEM, "out of memory signing a request");
			goto out;
		}
		if (!h[i].name[0]) {
			err = ck_err(-EINVAL, "sigv4: a header name is empty");
			goto out;
		}
	}
	if (q->n_hdrs > 1)
		qsort(h, q->n_hdrs, sizeof(*h), chdr_cmp);

	err = ck_buf_printf(creq, "%s\n%s\n", q->method, q->path[0] ? q->path : "/");
	if (!err)
		err = sigv4_canonical_query(q->query, creq);
	if (!err)
		err = ck_buf_append(creq, "\n", 1);
	for (i = 0; i < q->n_hdrs && !err; i++) {
		int same = i && !strcmp(h[i].name, h[i - 1].name);

		if (same) {
			/* Joined to the line above: take back its '\n'. */
			creq->len--;
			err = ck_buf_printf(creq, ",%s\n", h[i].value);
			continue;
		}
		err = ck_buf_printf(creq, "%s:%s\n", h[i].name, h[i].value);
		if (!err)
			err = ck_buf_printf(signed_hdrs, "%s%s",
					    signed_hdrs->len ? ";" : "", h[i].name);
	}
	if (!err)
		err = ck_buf_printf(creq, "\n%s\n%s", (char *)signed_hdrs->data,
				    q->payload_hash);
out:
	chdrs_free(h, q->n_hdrs);
	return err;
}

int sigv4_canonical_request(const struct sigv4_req *q, struct ck_buf *out)
{
	struct ck_buf sh = CK_BUF_INIT;
	int err = canonical(q, out, &sh);

	ck_buf_release(&sh);
	return err;
}

/* ---- signature ---- */

static int hmac(const void *key, size_t klen, const char *msg, uint8_t *md)
{
	unsigned int mdlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
		  strlen(msg), md, &mdlen) || mdlen != 32)
		return ck_err(-EIO, "sigv4: HMAC-SHA256 failed");
	return 0;
}

/* The hex signature of sts under the key derived from secret. */
static int signature(const char *secret, const char *date8,
		     const struct sigv4_req *q, const char *sts, char *hex)
{
	size_t slen = strlen(secret);
	char *k0 = malloc(slen + 5);
	uint8_t k[32], sig[32];
	int err;

	if (!k0)
		return ck_err(-ENOMEM, "out of memory signing a request");
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen + 1);
	err = hmac(k0, slen + 4, date8, k);
	if (!err)
		err = hmac(k, sizeof(k), q->region, k);
	if (!err)
		err = hmac(k, sizeof(k), q->service, k);
	if (!err)
		err = hmac(k, sizeof(k), "aws4_request", k);
	if (!err)
		err = hmac(k, sizeof(k), sts, sig);
	if (!err)
		to_hex(sig, sizeof(sig), hex);
	OPENSSL_cleanse(k0, slen + 4);
	OPENSSL_cleanse(k, sizeof(k));
	free(k0);
	return err;
}

int sigv4_authorization(const struct sigv4_req *q, const char *key_id,
			const char *secret, struct ck_buf *out)
{
	struct ck_buf creq = CK_BUF_INIT, sh = CK_BUF_INIT, sts = CK_BUF_INIT;
	char date8[9], hash[65], sig[65];
	int err;

	if (!key_id || !secret)
		return ck_err(-EINVAL, "sigv4: no credentials to sign with");
	err = canonical(q, &creq, &sh);
	if (err)
		goto out;
	memcpy(date8, q->amz_date, 8);
	date8[8] = '\0';
	sigv4_sha256_hex(creq.data, creq.len, hash);
	err = ck_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
			    q->amz_date, date8, q->region, q->service, hash);
	if (!err)
		err = signature(secret, date8, q, (char *)sts.data, sig);
	if (!err)
		err = ck_buf_printf(out, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
				    "SignedHeaders=%s, Signature=%s", key_id, date8,
				    q->region, q->service, (char *)sh.data, sig);
out:
	ck_buf_release(&creq);
	ck_buf_release(&sh);
	ck_buf_release(&sts);
	return err;
}

void sigv4_amz_date(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

void sigv4_sha256_hex(const void *p, size_t n, char *out)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != 32) {
		/* Cannot happen with a working libcrypto; sign garbage-free. */
		memset(md, 0, sizeof(md));
		len = 32;
	}
	to_hex(md, 32, out);
}
