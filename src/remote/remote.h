/* SPDX-License-Identifier: MIT */
/*
 * remote.h - objects in Cloud Storage, S3 and on HTTP servers, read as
 * files: the remote half of the source layer (source/source.h).
 *
 * A remote path is a URL:
 *   gs://BUCKET/KEY       Cloud Storage, JSON API (rmt_gcs.c)
 *   s3://BUCKET/KEY       S3 and S3-compatible stores, Signature V4 (rmt_s3.c)
 *   http[s]://HOST/PATH   plain range GETs (rmt_https.c)
 * A "directory" is a key prefix ending before a '/'.  Listing a directory is
 * one level (delimiter '/'); HTTP has no listing (-ENOTSUP, with a message
 * saying to name the step or item).
 *
 * Every request goes through one process-wide HTTP engine (rmt_http.h):
 * bounded concurrency, timeouts, retries with backoff and jitter on 429,
 * 5xx, resets and timeouts.  Credentials are looked up once per backend and
 * refreshed before they expire; no secret ever reaches a log or error line.
 *
 * Errors are -errno with a message (util/ck_err.h) naming the URL: -ENOENT
 * (no such object, or no such bucket: the message says which), -EACCES (401
 * or 403: the message names the identity used), -EHOSTUNREACH (DNS or
 * connection refused), -EPROTO (TLS), -ETIMEDOUT, -ESTALE (the object
 * changed since it was opened), -EIO (anything else after retries),
 * -ENOTSUP (no listing), -EFBIG (larger than asked for), -ENOMEM.
 *
 * All functions are thread-safe once rmt_configure() has returned.
 */
#ifndef REMOTE_H
#define REMOTE_H

#include <stddef.h>
#include <stdint.h>

/* Process-wide settings; zero fields take the defaults. */
struct rmt_opts {
	unsigned concurrency;	/* transfers in flight, whole process (0: 32) */
	unsigned timeout_s;	/* a transfer with no progress for this long
				   fails and is retried (0: 30) */
	unsigned connect_timeout_s; /* connection set-up (0: 10) */
	int retries;		/* retries after the first try (-1: default 8) */
	const char *http_token_file; /* bearer token for http(s):// (borrowed
				   for the call: read now); NULL: none */
};

#define RMT_OPTS_INIT { 0, 0, 0, -1, NULL }

/* 1 if path is a URL of a scheme above (gs://, s3://, http://, https://). */
int rmt_is_url(const char *path);

/* Set the process-wide options (call before the first request; calling
 * again replaces them).  -EINVAL (bad value, message), -EIO (token file
 * unreadable), -ENOMEM. */
int rmt_configure(const struct rmt_opts *o);

/* What a URL names. */
enum rmt_type {
	RMT_NONE = 0,	/* nothing there */
	RMT_FILE = 1,	/* an object */
	RMT_DIR = 2,	/* a prefix with objects under it */
	RMT_MAYBE_DIR = 3, /* HTTP: not an object; it may be a directory */
};

#define RMT_VERSION_MAX 160

struct rmt_stat {
	enum rmt_type type;
	uint64_t size;		/* RMT_FILE: bytes */
	char version[RMT_VERSION_MAX]; /* RMT_FILE: the GCS generation or the
				   ETag as the server sent it; "" if none */
};

/* What url names.  Absent is 0 with type RMT_NONE; only a failure to ask
 * (unreachable, unauthorised, no such bucket) is an error. */
int rmt_stat(const char *url, struct rmt_stat *st);

/* The whole object at url, at most max bytes (-EFBIG if larger), into
 * *data (malloc'd, caller frees; NUL-terminated past *len).  -ENOENT. */
int rmt_read_all(const char *url, size_t max, uint8_t **data, size_t *len);

/* Call cb once for each entry directly under the directory url (objects
 * with is_dir 0 and their size, sub-prefixes with is_dir 1), names without
 * the directory and without a trailing '/'.  Pages are followed.  cb
 * returns nonzero to stop (returned).  -ENOTSUP for http(s). */
typedef int (*rmt_list_cb)(void *ctx, const char *name, int is_dir,
			   uint64_t size);
int rmt_list(const char *url, rmt_list_cb cb, void *ctx);

/*
 * An open object: its size and version are fixed when opened, and every
 * read asks the server for that version only (GCS ifGenerationMatch, S3 and
 * HTTP If-Match).  An object replaced since fails the read with -ESTALE and
 * a message; bytes of two versions are never mixed.
 */
struct rmt_obj;

/* Open the object at url (one metadata request).  -ENOENT if absent (for
 * http(s), anything that is not an object), -EISDIR if url names a gs/s3
 * prefix.  Caller closes with rmt_obj_close(). */
int rmt_obj_open(const char *url, struct rmt_obj **out);

/* Size in bytes, and the version pinned ("" if the server gave none). */
uint64_t rmt_obj_size(const struct rmt_obj *o);
const char *rmt_obj_version(const struct rmt_obj *o);

/* Read exactly len bytes at off into buf.  A large read is cut into ranges
 * fetched in parallel.  -EIO if past the end.  Thread-safe. */
int rmt_obj_pread(struct rmt_obj *o, void *buf, size_t len, uint64_t off);

/* A hint that [off, off + len) will be read soon: queued for the
 * readahead workers (rmt_readahead.h), within their memory budget; the next
 * rmt_obj_pread() covering it copies from there.  Never fails.
 * Thread-safe. */
void rmt_obj_prefetch(struct rmt_obj *o, uint64_t off, uint64_t len);

/* NULL is allowed. */
void rmt_obj_close(struct rmt_obj *o);

/* Counters since the process started, for user.ckptfs.stats. */
struct rmt_counters {
	uint64_t requests;	/* HTTP requests sent (each try counts) */
	uint64_t bytes;		/* response body bytes received */
	uint64_t retries;	/* tries after a retryable failure */
	uint64_t failures;	/* requests that failed after every retry */
};
void rmt_get_counters(struct rmt_counters *c);

/* Free the engine's resources (connections, credentials).  Call once at
 * exit, when no request is in flight. */
void rmt_shutdown(void);

#endif
