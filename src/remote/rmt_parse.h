/* SPDX-License-Identifier: MIT */
/*
 * rmt_parse.h - the readers of server bytes in src/remote/ (private to
 * src/remote/ and its libFuzzer targets, tests/fuzz/fuzz_s3_xml.c,
 * fuzz_gcs_json.c and fuzz_http_header.c).
 *
 * None of them touches the network: each reads a response already in a
 * struct http_req (body, body_len, NUL-terminated past body_len; status
 * and url where said), or a parsed JSON document.  They are the backends'
 * own functions, not wrappers, exposed only so that they can be fuzzed.
 */
#ifndef RMT_PARSE_H
#define RMT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "remote/rmt_backend.h"
#include "util/ck_json.h"

/* ---- rmt_s3.c: ListObjectsV2 pages and <Error> bodies (libxml2) ---- */

struct s3_error {
	char code[64];		/* <Code>, "" if none */
	char region[64];	/* <Region>, "" if none */
	char endpoint[256];	/* <Endpoint>, "" if none */
};

/* The fields of an S3 <Error> body, if r has one (all "" otherwise). */
void s3_error_parse(const struct http_req *r, struct s3_error *e);

/* Called for each entry of a page: name relative to the prefix. */
typedef int (*s3_entry_fn)(void *ctx, const char *name, int is_dir,
			   uint64_t size);

struct s3_page {
	int truncated;		/* <IsTruncated>true */
	char *next;		/* owned: <NextContinuationToken>, or NULL */
};

/*
 * Parse one ListObjectsV2 page (r's body), calling fn for each entry under
 * the prefix (plen bytes): one level when delim, else every key (for
 * counting).  pg starts zeroed; the caller frees pg->next, even on error.
 * 0, fn's nonzero, -EIO (not a ListBucketResult, an entry without a key or
 * a size; the message names u->text), -ENOMEM.
 */
int s3_page_parse(const struct rmt_url *u, const struct http_req *r,
		  size_t plen, int delim, s3_entry_fn fn, void *ctx,
		  struct s3_page *pg);

/* ---- rmt_gcs.c: JSON API metadata and listing pages (cJSON) ---- */

/* An object's metadata response (r's body) into st: RMT_FILE, size, and
 * the generation as version.  -EIO, -EINVAL, -ENOMEM, naming u->text. */
int gcs_parse_meta(const struct rmt_url *u, const struct http_req *r,
		   struct rmt_stat *st);

/* Call cb for each entry (items, prefixes) of one listing page doc, names
 * relative to the prefix (plen bytes); doc's prefix strings are cut in
 * place.  0, cb's nonzero, or -EIO. */
int gcs_list_emit(const struct rmt_url *u, const cJSON *doc, size_t plen,
		  rmt_list_cb cb, void *ctx);

/* ---- rmt_gcs_auth.c: OAuth token responses and JSON key files ---- */

enum gcs_cred_kind { GCS_ANON, GCS_SA, GCS_USER, GCS_METADATA };

struct gcs_cred {
	enum gcs_cred_kind kind;
	char *email;		/* SA: client_email */
	char *pem;		/* SA: private_key (secret) */
	char *token_uri;	/* SA, user: where tokens come from */
	char *client_id;	/* user */
	char *client_secret;	/* user (secret) */
	char *refresh_token;	/* user (secret) */
	char *md_host;		/* metadata: "host[:port]" */
	char identity[320];	/* for messages */
};

/* The access token of a 200 token response (r's body): *tok (caller frees;
 * a secret, no CR or LF, under 4096 bytes), *ttl in seconds ([1, 7 days],
 * 3600 when not given).  who names the identity in messages.  -EIO,
 * -EINVAL, -ENOMEM. */
int token_parse(const struct http_req *r, const char *who, char **tok,
		int64_t *ttl);

/* The members of a service_account or authorized_user key file j into c
 * (zeroed by the caller, who releases it with cred_release() whatever the
 * result).  -EINVAL, -ENOTSUP, -ENOMEM, naming path. */
int cred_from_doc(const cJSON *j, const char *path, struct gcs_cred *c);

/* Free what c owns, wiping the secrets, and zero it. */
void cred_release(struct gcs_cred *c);

/* ---- rmt_http.c: response headers ---- */

/*
 * Feed one raw header line p[0..n) ("Name: value\r\n", or a status line
 * "HTTP/1.1 206 ...") to the engine's header callback for r, outside any
 * transfer: r->status, etag, generation, total and retry_after_s as a
 * transfer would set them.  *cr_start (in and out) is the transfer's
 * Content-Range start (UINT64_MAX: none).
 */
void http_header_line(struct http_req *r, const char *p, size_t n,
		      uint64_t *cr_start);

#endif
