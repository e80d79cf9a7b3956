/* SPDX-License-Identifier: MIT */
/*
 * rmt_sigv4.h - AWS Signature Version 4 (private to src/remote/): the
 * canonical request, the string to sign and the Authorization header, with
 * OpenSSL's SHA-256 and HMAC.
 *
 * The signer is pure: the caller names the date, the headers to sign and
 * the payload hash, so a test can replay AWS's published examples and the
 * S3 backend can sign each try of a request afresh (rmt_s3.c).
 *
 * Encoding follows SigV4 for S3: every byte but the RFC 3986 unreserved
 * ones (A-Z a-z 0-9 - . _ ~) is %XX with upper-case hex digits; '/' is kept
 * in a path and encoded in a query.  A path is encoded once (S3 does not
 * double-encode, unlike the other AWS services) and never normalised.
 *
 * No function here writes a secret into a message; the derived keys are
 * wiped from the stack after use.  All functions are thread-safe.
 */
#ifndef RMT_SIGV4_H
#define RMT_SIGV4_H

#include <stddef.h>
#include <time.h>

struct ck_buf;

/* "YYYYMMDDTHHMMSSZ" */
#define SIGV4_DATE_LEN 16
/* The payload hash of a request whose body is not signed. */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, hex. */
#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A header to sign: any case, any order; the value is trimmed and its runs
 * of spaces squeezed.  Two headers of one name are signed as one, their
 * values joined by ',' in the order given. */
struct sigv4_hdr {
	const char *name;	/* borrowed */
	const char *value;	/* borrowed */
};

/* One request to sign (every field borrowed for the call). */
struct sigv4_req {
	const char *method;	/* "GET", "HEAD" */
	const char *path;	/* the URI path as sent, already encoded with
				   sigv4_encode(keep_slash 1); "" is "/" */
	const char *query;	/* the query as sent, without '?': pairs
				   encoded with sigv4_encode(), in any order
				   (sorted here; "name" alone is "name=");
				   NULL or "": none */
	const struct sigv4_hdr *hdrs; /* the headers to sign; host among */
	size_t n_hdrs;
	const char *payload_hash; /* hex SHA-256 of the body, or
				   SIGV4_UNSIGNED_PAYLOAD */
	const char *amz_date;	/* x-amz-date, "YYYYMMDDTHHMMSSZ" */
	const char *region;	/* "us-east-1" */
	const char *service;	/* "s3" */
};

/*
 * Append the SigV4 encoding of s[0..n) to out ('/' kept when keep_slash).
 * -ENOMEM.
 */
int sigv4_encode(struct ck_buf *out, const char *s, size_t n, int keep_slash);

/*
 * Append "name=value" to the query in q, both encoded, with a '&' before it
 * when q is not empty; q stays NUL-terminated.  -ENOMEM.
 */
int sigv4_query_add(struct ck_buf *q, const char *name, const char *value);

/*
 * The canonical query string of query (see sigv4_req.query): its pairs
 * sorted by name then value, byte order, each with its '='.  Appended to
 * out, NUL-terminated.  -ENOMEM.
 */
int sigv4_canonical_query(const char *query, struct ck_buf *out);

/*
 * The canonical request of q, appended to out, NUL-terminated.  -EINVAL (a
 * field missing or a header name empty, with a message), -ENOMEM.
 */
int sigv4_canonical_request(const struct sigv4_req *q, struct ck_buf *out);

/*
 * The value of the Authorization header for q signed with the key pair
 * (key_id, secret):
 *   "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
 *    SignedHeaders=a;b;c, Signature=HEX"
 * appended to out, NUL-terminated.  -EINVAL, -ENOMEM.
 */
int sigv4_authorization(const struct sigv4_req *q, const char *key_id,
			const char *secret, struct ck_buf *out);

/* t as an x-amz-date, UTC, into out (SIGV4_DATE_LEN + 1 bytes). */
void sigv4_amz_date(time_t t, char *out);

/* Hex SHA-256 of p[0..n) into out (65 bytes). */
void sigv4_sha256_hex(const void *p, size_t n, char *out);

#endif
