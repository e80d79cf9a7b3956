/* SPDX-License-Identifier: MIT */
/*
 * This file implements the http:// and https:// backend of rmt_backend.h:
 * objects are files under an HTTP server's base URL, read with range GETs.
 *
 * HTTP has no listing and no way to tell a directory: a HEAD that finds no
 * object (404, 410, a redirect, 405) says RMT_MAYBE_DIR and leaves it to the
 * caller, who can only name files below it.  Reads are pinned with If-Match
 * on the ETag the HEAD gave (nginx, S3-style and most CDN servers honour
 * it); a weak ETag (W/"...") never matches If-Match, so then only the size
 * is checked (by remote.c).
 *
 * The bearer token is read from a file once by rmt_https_set_token_file();
 * it goes only into the Authorization header, never into a message (those
 * name the file it came from).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rmt_backend.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

#define TOKEN_MAX (16 * 1024)

static pthread_mutex_t tok_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tok;		/* tok_lock: the bearer token, or NULL */
static char *tok_path;		/* tok_lock: the file it came from */

int rmt_https_set_token_file(const char *path)
{
	char *t = NULL, *p = NULL;
	size_t n = 0;
	FILE *f;
	int err = 0;

	if (path) {
		f = fopen(path, "re");
		if (!f)
			return ck_err(-EIO, "bearer token file '%s': %s", path,
				      strerror(errno));
		t = malloc(TOKEN_MAX + 1);
		if (t)
			n = fread(t, 1, TOKEN_MAX + 1, f);
		if (t && ferror(f))
			err = ck_err(-EIO, "bearer token file '%s': read error",
				     path);
		fclose(f);
		if (!t)
			return ck_err(-ENOMEM, "out of memory for a token");
		while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' ||
			     t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
		t[n] = '\0';
		if (!err && (n == 0 || n > TOKEN_MAX))
			err = ck_err(-EIO, "bearer token file '%s': empty or "
				     "larger than %d bytes", path, TOKEN_MAX);
		for (size_t i = 0; !err && i < n; i++)
			if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
				err = ck_err(-EIO, "bearer token file '%s': "
					     "not one line of printable "
					     "characters", path);
		p = err ? NULL : strdup(path);
		if (!err && !p)
			err = ck_err(-ENOMEM, "out of memory for a token");
		if (err) {
			free(t);
			return err;
		}
	}
	pthread_mutex_lock(&tok_lock);
	free(tok);
	free(tok_path);
	tok = t;
	tok_path = p;
	pthread_mutex_unlock(&tok_lock);
	return 0;
}

/* Add the Authorization header, if a token is set. */
static int add_auth(struct http_req *r)
{
	int err = 0;

	pthread_mutex_lock(&tok_lock);
	if (tok)
		err = http_req_header(r, "Authorization: Bearer %s", tok);
	pthread_mutex_unlock(&tok_lock);
	return err;
}

/* "(with the bearer token from FILE)" or "(anonymous)" into buf. */
static const char *identity(char *buf, size_t cap)
{
	pthread_mutex_lock(&tok_lock);
	if (tok_path)
		snprintf(buf, cap, "with the bearer token from %s", tok_path);
	else
		snprintf(buf, cap, "anonymous");
	pthread_mutex_unlock(&tok_lock);
	return buf;
}

/* r->url = base + "/" + escaped key. */
static int object_url(const struct rmt_url *u, struct http_req *r)
{
	struct ck_buf b = CK_BUF_INIT;
	int err;

	err = ck_buf_printf(&b, "%s/", u->bucket);
	if (!err)
		err = http_escape(&b, u->key, strlen(u->key), 1);
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	free(r->url);
	r->url = (char *)ck_buf_detach(&b, NULL);
	return 0;
}

static int https_get(const struct rmt_url *u, const char *version,
		     struct http_req *r)
{
	int err = object_url(u, r);

	if (!err && version && *version && strncmp(version, "W/", 2))
		err = http_req_header(r, "If-Match: %s", version);
	if (!err)
		err = add_auth(r);
	return err;
}

static int https_check_get(const struct rmt_url *u, const struct http_req *r)
{
	char who[300];

	switch (r->status) {
	case 200:
		if (r->range_len)
			return ck_err(-EIO, "%s: the server ignores Range "
				      "requests", u->text);
		return 0;
	case 206:
		return 0;
	case 404:
	case 410:
		return ck_err(-ENOENT, "%s: no such object (%ld)", u->text,
			      r->status);
	case 412:
		return ck_err(-ESTALE, "%s: changed since it was opened "
			      "(412 Precondition Failed)", u->text);
	case 401:
	case 403:
		return ck_err(-EACCES, "%s: %ld %s (%s)", u->text, r->status,
			      r->status == 401 ? "Unauthorized" : "Forbidden",
			      identity(who, sizeof(who)));
	default:
		return ck_err(-EIO, "%s: HTTP %ld", u->text, r->status);
	}
}

static int https_stat(const struct rmt_url *u, struct rmt_stat *st)
{
	struct http_req r = { 0 };
	char who[300];
	int err;

	memset(st, 0, sizeof(*st));
	if (!*u->key) {
		st->type = RMT_MAYBE_DIR; /* the server's root */
		return 0;
	}
	r.method = "HEAD";
	err = object_url(u, &r);
	if (!err)
		err = add_auth(&r);
	if (!err)
		err = http_run1(&r);
	if (err)
		goto out;
	if (r.status == 200) {
		if (r.total == UINT64_MAX) {
			err = ck_err(-EIO, "%s: the server gave no "
				     "Content-Length", u->text);
			goto out;
		}
		st->type = RMT_FILE;
		st->size = r.total;
		snprintf(st->version, sizeof(st->version), "%s", r.etag);
	} else if (r.status == 404 || r.status == 410 || r.status == 405 ||
		   (r.status >= 300 && r.status < 400)) {
		st->type = RMT_MAYBE_DIR;
	} else if (r.status == 401 || r.status == 403) {
		err = ck_err(-EACCES, "%s: %ld %s (%s)", u->text, r.status,
			     r.status == 401 ? "Unauthorized" : "Forbidden",
			     identity(who, sizeof(who)));
	} else {
		err = ck_err(-EIO, "%s: HTTP %ld", u->text, r.status);
	}
out:
	http_req_release(&r);
	return err;
}

static int https_list(const struct rmt_url *u, rmt_list_cb cb, void *ctx)
{
	(void)cb;
	(void)ctx;
	return ck_err(-ENOTSUP, "%s: HTTP has no directory listing; name the "
		      "step or the item directory (.../checkpoints/STEP or "
		      ".../STEP/items)", u->text);
}

const struct rmt_backend rmt_https_backend = {
	.name = "http",
	.get = https_get,
	.check_get = https_check_get,
	.stat = https_stat,
	.list = https_list,
};
