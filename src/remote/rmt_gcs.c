/* SPDX-License-Identifier: MIT */
/*
 * This file implements the Cloud Storage backend (gs://) of rmt_backend.h,
 * over the JSON API:
 *   media     GET ENDPOINT/storage/v1/b/BUCKET/o/OBJECT?alt=media
 *             [&ifGenerationMatch=G]
 *   metadata  GET ENDPOINT/storage/v1/b/BUCKET/o/OBJECT  (size, generation
 *             as decimal strings)
 *   listing   GET ENDPOINT/storage/v1/b/BUCKET/o?prefix=P&delimiter=/
 *             [&pageToken=T]  (items, prefixes, nextPageToken)
 *   bucket    GET ENDPOINT/storage/v1/b/BUCKET  (to tell "no such bucket"
 *             from "no such object")
 * OBJECT is one path segment: a '/' in the key is sent as %2F.
 *
 * ENDPOINT is https://storage.googleapis.com; CKPTFS_GCS_ENDPOINT replaces
 * it (still authenticated, like TensorStore's TENSORSTORE_GCS_HTTP_URL);
 * STORAGE_EMULATOR_HOST ("host:port" or a URL) replaces it and, as in
 * Google's client libraries, turns authentication off (rmt_gcs_auth.c).
 *
 * The version of an object is its generation: an open object's reads carry
 * ifGenerationMatch, so a rewritten object fails with 412 (-ESTALE) rather
 * than mixing the bytes of two generations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rmt_backend.h"
#include "remote/rmt_gcs_auth.h"
#include "remote/rmt_parse.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_json.h"

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_META_MAX (1 << 20)		/* an object's or bucket's metadata */
#define GCS_LIST_MAX (32 << 20)		/* one page of a listing */

/* Append the endpoint, without a trailing '/', to b. */
static int gcs_endpoint(struct ck_buf *b)
{
	const char *e = getenv("STORAGE_EMULATOR_HOST");
	const char *scheme = "";
	size_t n;

	if (!e || !*e) {
		e = getenv("CKPTFS_GCS_ENDPOINT");
		if (!e || !*e)
			e = GCS_DEFAULT_ENDPOINT;
	} else if (!strstr(e, "://")) {
		scheme = "http://";
	}
	n = strlen(e);
	while (n && e[n - 1] == '/')
		n--;
	return ck_buf_printf(b, "%s%.*s", scheme, (int)n, e);
}

/* Start r->url as ENDPOINT/storage/v1/b/BUCKET (in b; moved to r later). */
static int gcs_url_bucket(struct ck_buf *b, const struct rmt_url *u)
{
	int err = gcs_endpoint(b);

	if (!err)
		err = ck_buf_printf(b, "/storage/v1/b/");
	if (!err)
		err = http_escape(b, u->bucket, strlen(u->bucket), 0);
	return err;
}

/* ENDPOINT/storage/v1/b/BUCKET/o/OBJECT into b. */
static int gcs_url_object(struct ck_buf *b, const struct rmt_url *u)
{
	int err = gcs_url_bucket(b, u);

	if (!err)
		err = ck_buf_printf(b, "/o/");
	if (!err)
		err = http_escape(b, u->key, strlen(u->key), 0);
	return err;
}

/* Fill r for a GET of the URL in b (taken), authenticated. */
static int gcs_req(struct http_req *r, struct ck_buf *b)
{
	memset(r, 0, sizeof(*r));
	r->url = (char *)ck_buf_detach(b, NULL);
	if (!r->url)
		return ck_err(-ENOMEM, "out of memory");
	r->prepare = gcs_auth_prepare;
	r->max_body = GCS_META_MAX;
	return 0;
}

/* The error for a status that is not the expected one. */
static int gcs_status_err(const struct rmt_url *u, long status)
{
	char id[400];

	if (status == 401)
		gcs_auth_invalidate();
	if (status == 401 || status == 403)
		return ck_err(-EACCES, "%s: access denied (HTTP %ld) for %s", u->text,
			      status, gcs_auth_identity(id, sizeof(id)));
	return ck_err(-EIO, "%s: Cloud Storage answered HTTP %ld", u->text, status);
}

/* Does u's bucket exist?  1, 0, or -errno. */
static int gcs_bucket_exists(const struct rmt_url *u)
{
	struct ck_buf b = CK_BUF_INIT;
	struct http_req r;
	int err = gcs_url_bucket(&b, u);

	if (!err)
		err = gcs_req(&r, &b);
	ck_buf_release(&b);
	if (err)
		return err;
	err = http_run1(&r);
	if (!err && r.status == 200)
		err = 1;
	else if (!err && r.status != 404)
		err = gcs_status_err(u, r.status);
	http_req_release(&r);
	return err;
}

/* -ENOENT naming what is missing, the object or the bucket. */
static int gcs_enoent(const struct rmt_url *u)
{
	int e = gcs_bucket_exists(u);

	if (e < 0)
		return e;
	if (!e)
		return ck_err(-ENOENT, "%s: no such bucket '%s'", u->text, u->bucket);
	return ck_err(-ENOENT, "%s: no such object", u->text);
}

static int gcs_get(const struct rmt_url *u, const char *version,
		   struct http_req *r)
{
	struct ck_buf b = CK_BUF_INIT;
	int err = gcs_auth_ensure();

	if (err)
		return ck_err_ctx(err, "%s", u->text);
	err = gcs_url_object(&b, u);
	if (!err)
		err = ck_buf_printf(&b, "?alt=media");
	if (!err && version && *version)
		err = ck_buf_printf(&b, "&ifGenerationMatch=%s", version);
	if (!err)
		err = gcs_req(r, &b);
	ck_buf_release(&b);
	return err;
}

static int gcs_check_get(const struct rmt_url *u, const struct http_req *r)
{
	const char *g;

	switch (r->status) {
	case 200:
	case 206:
		return 0;
	case 404:
		return gcs_enoent(u);
	case 412:
		g = r->url ? strstr(r->url, "ifGenerationMatch=") : NULL;
		return ck_err(-ESTALE, "%s: changed since it was opened (generation %.40s)",
			      u->text, g ? g + 18 : "?");
	default:
		return gcs_status_err(u, r->status);
	}
}

/* Decimal string member key of j into *v. */
static int gcs_json_u64(const cJSON *j, const char *key, uint64_t *v)
{
	const char *s;
	char *end;

	if (ck_json_get_str(j, key, &s) || !*s || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno ? -EINVAL : 0;
}

/* An object's metadata response into st (not static: fuzzed,
 * rmt_parse.h). */
int gcs_parse_meta(const struct rmt_url *u, const struct http_req *r,
		   struct rmt_stat *st)
{
	cJSON *j = NULL;
	const char *gen;
	uint64_t size = 0, gnum;
	int err = ck_json_parse(r->body, r->body_len, &j);

	if (err)
		return ck_err_ctx(err, "%s: object metadata", u->text);
	if (gcs_json_u64(j, "size", &size) || gcs_json_u64(j, "generation", &gnum) ||
	    ck_json_get_str(j, "generation", &gen) || strlen(gen) >= RMT_VERSION_MAX) {
		err = ck_err(-EIO, "%s: object metadata without a decimal size and generation",
			     u->text);
		goto out;
	}
	st->type = RMT_FILE;
	st->size = size;
	snprintf(st->version, sizeof(st->version), "%s", gen);
out:
	cJSON_Delete(j);
	return err;
}

/* One page of a listing of prefix under u; *token (in/out, malloc'd) the
 * page token; max 0 for the server's page size. */
static int gcs_list_page(const struct rmt_url *u, const char *prefix,
			 unsigned max, char **token, cJSON **doc)
{
	struct ck_buf b = CK_BUF_INIT;
	struct http_req r;
	const char *next;
	int err = gcs_url_bucket(&b, u);

	if (!err)
		err = ck_buf_printf(&b, "/o?delimiter=%%2F&prefix=");
	if (!err)
		err = http_escape(&b, prefix, strlen(prefix), 0);
	if (!err)
		err = ck_buf_printf(&b, "&fields=items%%28name%%2Csize%%29%%2Cprefixes%%2CnextPageToken");
	if (!err && max)
		err = ck_buf_printf(&b, "&maxResults=%u", max);
	if (!err && *token) {
		err = ck_buf_printf(&b, "&pageToken=");
		if (!err)
			err = http_escape(&b, *token, strlen(*token), 0);
	}
	if (!err)
		err = gcs_req(&r, &b);
	ck_buf_release(&b);
	if (err)
		return err;
	r.max_body = GCS_LIST_MAX;
	err = http_run1(&r);
	if (!err && r.status == 404)
		err = gcs_enoent(u);
	else if (!err && r.status != 200)
		err = gcs_status_err(u, r.status);
	if (!err && ck_json_parse(r.body, r.body_len, doc))
		err = ck_err_ctx(-EIO, "%s: listing", u->text);
	if (err)
		goto out;
	free(*token);
	*token = NULL;
	if (!ck_json_get_str(*doc, "nextPageToken", &next) && *next) {
		*token = strdup(next);
		if (!*token)
			err = ck_err(-ENOMEM, "out of memory");
	}
out:
	http_req_release(&r);
	return err;
}

/* Call cb for each entry of one page: 0, cb's nonzero, or -EIO (not
 * static: fuzzed, rmt_parse.h). */
int gcs_list_emit(const struct rmt_url *u, const cJSON *doc,
		  size_t plen, rmt_list_cb cb, void *ctx)
{
	const cJSON *items = ck_json_get(doc, "items");
	const cJSON *pfx = ck_json_get(doc, "prefixes");
	const cJSON *e;
	int ret = 0;

	cJSON_ArrayForEach(e, items) {
		const char *name;
		uint64_t size;

		if (ck_json_get_str(e, "name", &name) || strlen(name) < plen ||
		    gcs_json_u64(e, "size", &size))
			return ck_err(-EIO, "%s: listing: an item without a name or size",
				      u->text);
		/* "dir/" itself: a folder placeholder, not an entry */
		if (name[plen] && !strchr(name + plen, '/'))
			ret = cb(ctx, name + plen, 0, size);
		if (ret)
			return ret;
	}
	cJSON_ArrayForEach(e, pfx) {
		char *p = cJSON_GetStringValue(e);
		size_t n = p ? strlen(p) : 0;

		/* one level only, as the items: "a/b/" is no entry (found by
		 * fuzz_gcs_json; the name went to cb with its '/') */
		if (n <= plen + 1 || p[n - 1] != '/' ||
		    memchr(p + plen, '/', n - plen - 1))
			continue;
		p[n - 1] = 0;	/* ours: the document is freed after */
		ret = cb(ctx, p + plen, 1, 0);
		if (ret)
			return ret;
	}
	return 0;
}

/* The prefix of the entries under u: "KEY/", or "" at the bucket root. */
static char *gcs_prefix(const struct rmt_url *u)
{
	char *p = NULL;

	if (asprintf(&p, "%s%s", u->key, *u->key ? "/" : "") < 0)
		return NULL;
	return p;
}

/* The listing of u, max entries a page (0: the server's). */
static int gcs_list_pages(const struct rmt_url *u, unsigned max,
			  rmt_list_cb cb, void *ctx)
{
	char *prefix = gcs_prefix(u), *token = NULL;
	int ret = 0;

	if (!prefix)
		return ck_err(-ENOMEM, "out of memory");
	ret = gcs_auth_ensure();
	if (ret)
		ret = ck_err_ctx(ret, "%s", u->text);
	while (!ret) {
		cJSON *doc = NULL;

		ret = gcs_list_page(u, prefix, max, &token, &doc);
		if (!ret)
			ret = gcs_list_emit(u, doc, strlen(prefix), cb, ctx);
		cJSON_Delete(doc);
		if (!token)
			break;
	}
	free(token);
	free(prefix);
	return ret;
}

static int gcs_list(const struct rmt_url *u, rmt_list_cb cb, void *ctx)
{
	return gcs_list_pages(u, 0, cb, ctx);
}

static int gcs_any_cb(void *ctx, const char *name, int is_dir, uint64_t size)
{
	(void)ctx;
	(void)name;
	(void)is_dir;
	(void)size;
	return 1;
}

static int gcs_stat(const struct rmt_url *u, struct rmt_stat *st)
{
	struct ck_buf b = CK_BUF_INIT;
	struct http_req r;
	int err = gcs_auth_ensure();

	memset(st, 0, sizeof(*st));
	if (err)
		return ck_err_ctx(err, "%s", u->text);
	if (!*u->key) {
		err = gcs_bucket_exists(u);
		if (err == 0)
			return ck_err(-ENOENT, "%s: no such bucket '%s'", u->text,
				      u->bucket);
		st->type = RMT_DIR;
		return err < 0 ? err : 0;
	}
	err = gcs_url_object(&b, u);
	if (!err)
		err = gcs_req(&r, &b);
	ck_buf_release(&b);
	if (err)
		return err;
	err = http_run1(&r);
	if (!err && r.status == 200)
		err = gcs_parse_meta(u, &r, st);
	else if (!err && r.status != 404)
		err = gcs_status_err(u, r.status);
	else if (!err) {
		/* not an object: a directory if anything lies under "key/"
		 * (2 a page: "key/" itself, a folder placeholder, may come
		 * first); a missing bucket fails the listing with -ENOENT */
		err = gcs_list_pages(u, 2, gcs_any_cb, NULL);
		st->type = err == 1 ? RMT_DIR : RMT_NONE;
		err = err == 1 ? 0 : err;
	}
	http_req_release(&r);
	return err;
}

const struct rmt_backend rmt_gcs_backend = {
	.name = "gs",
	.get = gcs_get,
	.check_get = gcs_check_get,
	.stat = gcs_stat,
	.list = gcs_list,
};
