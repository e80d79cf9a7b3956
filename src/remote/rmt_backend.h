/* SPDX-License-Identifier: MIT */
/*
 * rmt_backend.h - what each remote scheme provides to remote.c (private to
 * src/remote/): URLs parsed, requests built, metadata and listings read.
 *
 * remote.c owns the generic parts (rmt_obj, cutting large reads into
 * parallel ranges, the version check on every response); a backend knows
 * its service's URLs, authentication and response formats.
 */
#ifndef RMT_BACKEND_H
#define RMT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "remote/remote.h"
#include "remote/rmt_http.h"

enum rmt_scheme { RMT_GS = 1, RMT_S3 = 2, RMT_HTTP = 3 };

/* A parsed remote URL. */
struct rmt_url {
	enum rmt_scheme scheme;
	char *bucket;	/* owned: gs/s3 bucket; http: "http[s]://host[:port]" */
	char *key;	/* owned: the object key or prefix, no leading '/',
			   no trailing '/' ("" for the bucket's root) */
	const char *text; /* borrowed: the URL as given (for messages) */
};

/* Parse s into *u (u->text = s).  -EINVAL with a message for a URL that is
 * not gs://BUCKET[/KEY], s3://BUCKET[/KEY] or http[s]://HOST[/PATH], or
 * whose key holds "." or ".." segments or empty segments.  -ENOMEM. */
int rmt_url_parse(const char *s, struct rmt_url *u);
void rmt_url_release(struct rmt_url *u);

struct rmt_backend {
	const char *name;	/* "gs", "s3", "http" */

	/*
	 * Fill r (url, headers, prepare) for a GET of object u->key, only if
	 * its version is still `version` ("" or NULL: any).  The caller sets
	 * the range and the destination, runs it, and checks the status with
	 * check_get.
	 */
	int (*get)(const struct rmt_url *u, const char *version,
		   struct http_req *r);

	/*
	 * Turn a finished GET's status into 0 or -errno with a message naming
	 * u->text: 200/206 is 0; 404 -ENOENT; 412 -ESTALE ("changed since
	 * opened"); 401/403 -EACCES naming the identity used; other -EIO.
	 */
	int (*check_get)(const struct rmt_url *u, const struct http_req *r);

	/* What u names (remote.h rmt_stat). */
	int (*stat)(const struct rmt_url *u, struct rmt_stat *st);

	/* One level of listing under u (remote.h rmt_list). */
	int (*list)(const struct rmt_url *u, rmt_list_cb cb, void *ctx);
};

extern const struct rmt_backend rmt_gcs_backend;   /* rmt_gcs.c */
extern const struct rmt_backend rmt_s3_backend;    /* rmt_s3.c */
extern const struct rmt_backend rmt_https_backend; /* rmt_https.c */

/* Forget the S3 credentials (wiped; loaded again at the next request).
 * At exit, when nothing is in flight (rmt_shutdown()). */
void rmt_s3_reset(void);

/* The bearer token for http(s):// set by rmt_configure() (rmt_https.c);
 * NULL path clears it.  -EIO (unreadable), -ENOMEM. */
int rmt_https_set_token_file(const char *path);

#endif
