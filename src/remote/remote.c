/* SPDX-License-Identifier: MIT */
/*
 * This file implements remote.h: each call parses the URL, picks the
 * backend of its scheme (rmt_backend.h) and runs its requests through the
 * HTTP engine (rmt_http.h).
 *
 * An open object pins the size and version its metadata request gave.  A
 * read is cut into ranges of at least PART_MIN bytes, at most `concurrency`
 * of them, run together in one http_run() so that they come in parallel
 * straight into the caller's buffer.  Every range is asked for with the
 * pinned version (the backend adds If-Match or ifGenerationMatch), and the
 * object size each response reports is compared with the pinned one, which
 * also catches a replaced object on a server that gave no version.
 *
 * Reads and hints go through the readahead (rmt_readahead.h): a read takes
 * what a hint already fetched, and fetches the rest itself.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "remote/remote.h"
#include "remote/rmt_backend.h"
#include "remote/rmt_gcs_auth.h"
#include "remote/rmt_http.h"
#include "remote/rmt_readahead.h"
#include "util/ck_err.h"

#define PART_MIN (8u << 20)
#define CONCURRENCY_MAX 1024
#define RETRIES_MAX 100

static atomic_uint parts_max = 32; /* rmt_opts.concurrency */

struct rmt_obj {
	char *text;		/* owned: the URL (u.text points here) */
	struct rmt_url u;	/* parsed */
	const struct rmt_backend *be;
	uint64_t size;		/* pinned at open */
	char version[RMT_VERSION_MAX]; /* pinned at open ("" if none) */
};

static const struct rmt_backend *backend_of(enum rmt_scheme s)
{
	switch (s) {
	case RMT_GS:
		return &rmt_gcs_backend;
	case RMT_S3:
		return &rmt_s3_backend;
	case RMT_HTTP:
		return &rmt_https_backend;
	}
	return NULL;
}

int rmt_is_url(const char *path)
{
	return path && (!strncasecmp(path, "gs://", 5) ||
			!strncasecmp(path, "s3://", 5) ||
			!strncasecmp(path, "http://", 7) ||
			!strncasecmp(path, "https://", 8));
}

int rmt_configure(const struct rmt_opts *o)
{
	struct http_conf c = { 32, 30, 10, 8 };
	int err;

	if (o->concurrency)
		c.concurrency = o->concurrency;
	if (o->timeout_s)
		c.timeout_s = o->timeout_s;
	if (o->connect_timeout_s)
		c.connect_timeout_s = o->connect_timeout_s;
	if (o->retries >= 0)
		c.retries = (unsigned)o->retries;
	if (c.concurrency > CONCURRENCY_MAX)
		return ck_err(-EINVAL, "remote concurrency %u is above %d",
			      c.concurrency, CONCURRENCY_MAX);
	if (o->retries < -1 || o->retries > RETRIES_MAX)
		return ck_err(-EINVAL, "remote retries %d is not in -1..%d",
			      o->retries, RETRIES_MAX);
	err = rmt_https_set_token_file(o->http_token_file);
	if (err)
		return err;
	err = http_configure(&c);
	if (err)
		return err;
	atomic_store(&parts_max, c.concurrency);
	/* Ranges fetched ahead: a part per transfer, workers to fetch them. */
	ra_configure((uint64_t)c.concurrency * RA_PART,
		     c.concurrency < 32 ? c.concurrency : 32);
	return 0;
}

/* Parse url into u and find its backend. */
static int open_url(const char *url, struct rmt_url *u,
		    const struct rmt_backend **be)
{
	int err = rmt_url_parse(url, u);

	if (err)
		return err;
	*be = backend_of(u->scheme);
	if (!*be) {
		rmt_url_release(u);
		return ck_err(-EINVAL, "%s: unknown scheme", url);
	}
	return 0;
}

int rmt_stat(const char *url, struct rmt_stat *st)
{
	const struct rmt_backend *be;
	struct rmt_stat s;
	struct rmt_url u;
	int err = open_url(url, &u, &be);

	if (err)
		return err;
	err = be->stat(&u, &s);
	if (!err)
		*st = s;
	rmt_url_release(&u);
	return err;
}

int rmt_read_all(const char *url, size_t max, uint8_t **data, size_t *len)
{
	const struct rmt_backend *be;
	struct http_req r = { 0 };
	struct rmt_url u;
	int err = open_url(url, &u, &be);

	if (err)
		return err;
	err = be->get(&u, NULL, &r);
	r.max_body = max;
	if (!err)
		err = http_run1(&r);
	if (!err)
		err = be->check_get(&u, &r);
	if (!err) {
		*data = r.body;
		*len = r.body_len;
		r.body = NULL;
	}
	http_req_release(&r);
	rmt_url_release(&u);
	return err;
}

int rmt_list(const char *url, rmt_list_cb cb, void *ctx)
{
	const struct rmt_backend *be;
	struct rmt_url u;
	int err = open_url(url, &u, &be);

	if (err)
		return err;
	err = be->list(&u, cb, ctx);
	rmt_url_release(&u);
	return err;
}

int rmt_obj_open(const char *url, struct rmt_obj **out)
{
	struct rmt_obj *o = calloc(1, sizeof(*o));
	struct rmt_stat st;
	int err;

	if (!o || !(o->text = strdup(url))) {
		free(o);
		return ck_err(-ENOMEM, "out of memory opening %s", url);
	}
	err = open_url(o->text, &o->u, &o->be);
	if (err) {
		free(o->text);
		free(o);
		return err;
	}
	err = o->be->stat(&o->u, &st);
	if (!err && st.type == RMT_DIR)
		err = ck_err(-EISDIR, "%s: a directory, not an object", url);
	else if (!err && st.type != RMT_FILE)
		err = ck_err(-ENOENT, "%s: no such object", url);
	if (err) {
		rmt_obj_close(o);
		return err;
	}
	o->size = st.size;
	memcpy(o->version, st.version, sizeof(o->version));
	o->version[sizeof(o->version) - 1] = '\0';
	*out = o;
	return 0;
}

uint64_t rmt_obj_size(const struct rmt_obj *o)
{
	return o->size;
}

const char *rmt_obj_version(const struct rmt_obj *o)
{
	return o->version;
}

/* How many ranges a read of len bytes is cut into. */
static size_t part_count(size_t len)
{
	size_t n = len / PART_MIN, max = atomic_load(&parts_max);

	if (n > max)
		n = max;
	return n ? n : 1;
}

/*
 * The version a response says it is (GCS: x-goog-generation; else its
 * ETag), or "" when it says none.
 */
static const char *answer_version(const struct rmt_obj *o,
				  const struct http_req *r)
{
	return o->u.scheme == RMT_GS ? r->generation : r->etag;
}

/* Every part answered with the pinned version and size.  The version is
 * asked for with each request, but a server may ignore If-Match (s3rver
 * does): what the answer says it is is checked too. */
static int parts_check(const struct rmt_obj *o, const struct http_req *rs,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = answer_version(o, &rs[i]);
		int err = o->be->check_get(&o->u, &rs[i]);

		if (err)
			return err;
		if (o->version[0] && v[0] && strcmp(v, o->version))
			return ck_err(-ESTALE, "%s: changed since it was opened "
				      "(version %s, now %s)", o->text,
				      o->version, v);
		if (rs[i].total != UINT64_MAX && rs[i].total != o->size)
			return ck_err(-ESTALE, "%s: changed since it was opened "
				      "(%llu bytes, now %llu)", o->text,
				      (unsigned long long)o->size,
				      (unsigned long long)rs[i].total);
	}
	return 0;
}

/* Fetch [off, off + len) of o into buf, as parallel ranges (the
 * readahead's fetch function too). */
static int obj_fetch(void *obj, void *buf, size_t len, uint64_t off)
{
	struct rmt_obj *o = obj;
	struct http_req *rs = NULL;
	size_t n, part, done = 0, i;
	int err = 0;

	if (!len)
		return 0;
	n = part_count(len);
	part = len / n + (len % n != 0);
	n = (len + part - 1) / part;
	rs = calloc(n, sizeof(*rs));
	if (!rs)
		return ck_err(-ENOMEM, "out of memory for %zu ranges", n);
	for (i = 0; i < n && !err; i++) {
		size_t l = len - done < part ? len - done : part;

		err = o->be->get(&o->u, o->version, &rs[i]);
		rs[i].range_off = off + done;
		rs[i].range_len = l;
		rs[i].out = (uint8_t *)buf + done;
		rs[i].out_len = l;
		done += l;
	}
	if (!err)
		err = http_run(rs, n);
	if (!err)
		err = parts_check(o, rs, n);
	for (i = 0; i < n; i++)
		http_req_release(&rs[i]);
	free(rs);
	return err;
}

int rmt_obj_pread(struct rmt_obj *o, void *buf, size_t len, uint64_t off)
{
	uint64_t end;

	if (__builtin_add_overflow(off, (uint64_t)len, &end) || end > o->size)
		return ck_err(-EIO, "%s: read of %zu bytes at %llu is past the "
			      "end (%llu bytes)", o->text, len,
			      (unsigned long long)off,
			      (unsigned long long)o->size);
	if (!len)
		return 0;
	return ra_read(o, obj_fetch, buf, len, off);
}

/* The hinted range, cut to the object, is queued for the readahead
 * workers (rmt_readahead.h), which fetch it within their memory budget. */
void rmt_obj_prefetch(struct rmt_obj *o, uint64_t off, uint64_t len)
{
	if (off >= o->size || !len)
		return;
	if (len > o->size - off)
		len = o->size - off;
	ra_prefetch(o, obj_fetch, o->size, off, len);
}

void rmt_obj_close(struct rmt_obj *o)
{
	if (!o)
		return;
	ra_forget(o);
	rmt_url_release(&o->u);
	free(o->text);
	free(o);
}

void rmt_get_counters(struct rmt_counters *c)
{
	http_get_counters(c);
}

void rmt_shutdown(void)
{
	http_shutdown();
	rmt_https_set_token_file(NULL);
	gcs_auth_reset();
	rmt_s3_reset();
}
