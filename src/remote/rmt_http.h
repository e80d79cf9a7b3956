/* SPDX-License-Identifier: MIT */
/*
 * rmt_http.h - the process-wide HTTP engine under every remote backend
 * (private to src/remote/).
 *
 * libcurl does the HTTP, TLS and connection reuse: one share handle keeps
 * the DNS cache and TLS sessions for every thread, and each thread keeps
 * its connections in a multi handle of its own, in which http_run() drives
 * its requests, in the calling thread; so there is no engine thread to
 * start or stop (a daemon may fork after the first request).
 *
 * Concurrency: a process-wide count of transfers in flight never exceeds
 * the configured bound; http_run() waits for a slot before adding a
 * request to its multi handle.
 *
 * Retries: a request that fails with a connection error, a reset, a
 * transfer with no progress for timeout_s, 408, 429 or a 5xx is tried
 * again, up to `retries` times, after a delay of min(30 s, 0.1 s * 2^try)
 * with full jitter (a Retry-After header is honoured up to 30 s).  A ranged
 * GET that fails mid-body resumes from the first byte it did not get.
 * Before each retry the request's prepare callback, if any, is called
 * again (a new signature or token).  Any other status (2xx, 3xx, 4xx) is
 * the request's result: the caller reads it from r->status.
 *
 * TLS uses the system CA store; SSL_CERT_FILE and CURL_CA_BUNDLE name
 * another bundle.  URLs and headers are never logged: a message names the
 * URL without its query string (which may carry a signature).
 */
#ifndef RMT_HTTP_H
#define RMT_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct curl_slist;
struct http_req;

/* Called before each try (the first too): set or replace r->headers (an
 * Authorization header, a signature).  0 or -errno with a message, which
 * fails the request without a retry. */
typedef int (*http_prepare_fn)(struct http_req *r, void *ctx);

/*
 * One request and its response.  Fill the request fields, run with
 * http_run(), read the response fields, then http_req_release().
 */
struct http_req {
	/* ---- request ---- */
	const char *method;	/* "GET" (NULL), "HEAD" or "POST" */
	char *url;		/* owned (malloc'd) */
	struct curl_slist *headers; /* owned: "Name: value" lines */
	const void *post;	/* POST body (borrowed), post_len bytes */
	size_t post_len;
	uint64_t range_off;	/* with range_len: ask for bytes */
	uint64_t range_len;	/*   [range_off, range_off + range_len);
				   0: the whole body, no Range header */
	http_prepare_fn prepare; /* optional, see above */
	void *prepare_ctx;

	/* ---- where the body goes ---- */
	uint8_t *out;		/* non-NULL: the body is written here, and
				   must be exactly out_len bytes (a ranged
				   GET: range_len) */
	size_t out_len;
	size_t max_body;	/* out NULL: the body is collected in body,
				   up to max_body bytes (more: -EFBIG) */

	/* ---- response ---- */
	long status;		/* the final HTTP status (0: none) */
	uint8_t *body;		/* owned, NUL-terminated past body_len:
				   out NULL: the body; out set: NULL, or
				   the body of a non-2xx answer.  A non-2xx
				   body is kept up to 64 KiB (cut, never
				   -EFBIG) for the backend's error codes */
	size_t body_len;
	char etag[160];		/* ETag header, as sent ("" if none) */
	char generation[32];	/* x-goog-generation ("" if none) */
	uint64_t total;		/* the object size from Content-Range's
				   "/N", or Content-Length of a 200; or
				   UINT64_MAX when not given */
	unsigned retry_after_s;	/* Retry-After of the last answer (s, at
				   most 30; 0 if none) */
};

/* Engine settings (remote.h's rmt_opts, resolved). */
struct http_conf {
	unsigned concurrency;
	unsigned timeout_s;
	unsigned connect_timeout_s;
	unsigned retries;
};

/* Set the settings (thread-safe; applies to requests started after).
 * -ENOMEM. */
int http_configure(const struct http_conf *c);

/*
 * Run reqs[0..n) concurrently, each retried as above.  Returns 0 when every
 * request got a final status (any status: check r->status), else the first
 * failure after retries, with a message naming the URL: -EHOSTUNREACH (DNS,
 * connection refused), -EPROTO (TLS, certificate), -ETIMEDOUT, -EIO (reset,
 * short body, 5xx or 429 after every retry, a body longer than out_len),
 * -EFBIG (max_body), -ENOMEM.  The other requests still run to their end.
 */
int http_run(struct http_req *reqs, size_t n);

/* http_run() of one request. */
int http_run1(struct http_req *r);

/* Add the header line "name: value" (formatted) to r->headers.  -ENOMEM. */
int http_req_header(struct http_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Replace any header of that name (case-insensitive "name:") by the line
 * (formatted).  -ENOMEM. */
int http_req_set_header(struct http_req *r, const char *name,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Free what r owns (url, headers, body) and zero it. */
void http_req_release(struct http_req *r);

/* "scheme://host/path" of url, without query or fragment, into buf (for
 * messages: a query may carry a secret). */
const char *http_url_for_msg(const char *url, char *buf, size_t cap);

/* Percent-encode s[0..n) into out (RFC 3986 unreserved kept; '/' kept
 * when keep_slash).  -ENOMEM. */
struct ck_buf;
int http_escape(struct ck_buf *out, const char *s, size_t n, int keep_slash);

/* The counters of remote.h. */
struct rmt_counters;
void http_get_counters(struct rmt_counters *c);

/* Free the share handle (at exit, nothing in flight). */
void http_shutdown(void);

#endif
