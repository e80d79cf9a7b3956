/* SPDX-License-Identifier: MIT */
/*
 * This file implements the s3:// backend (rmt_backend.h): S3 and
 * S3-compatible stores over their REST API, signed with SigV4
 * (rmt_sigv4.h), with the credentials, region and endpoint of
 * rmt_aws_cred.h, looked up once, on the first request.
 *
 * Addressing: AWS is virtual-hosted, https://BUCKET.s3.REGION.amazonaws.com/
 * KEY, except a bucket with a '.' in its name (it would not match the TLS
 * certificate), which goes path-style to https://s3.REGION.amazonaws.com/
 * BUCKET/KEY.  An endpoint (AWS_ENDPOINT_URL[_S3]) is always path-style,
 * ENDPOINT/BUCKET/KEY, as MinIO, Ceph and s3rver expect.
 *
 * Signing: every try of a request is signed afresh in the engine's prepare
 * callback (a retry after a long backoff must carry a current x-amz-date).
 * The URL is built already in canonical form (each key segment encoded
 * once, the query encoded), so the callback signs the URL as sent.  Signed
 * are host, x-amz-content-sha256 (UNSIGNED-PAYLOAD: nothing is uploaded),
 * x-amz-date and x-amz-security-token; not Range, which the engine changes
 * when it resumes a body, nor If-Match.  Without credentials requests go
 * unsigned.
 *
 * Metadata: stat is a HEAD of the key; a 404 there lists "KEY/" to tell a
 * directory (a prefix) from nothing.  A listing is ListObjectsV2 with
 * delimiter '/', its XML read with libxml2 (no network, no entity
 * expansion, 16 MiB a page at most), pages followed by continuation token.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "remote/rmt_aws_cred.h"
#include "remote/rmt_backend.h"
#include "remote/rmt_parse.h"
#include "remote/rmt_sigv4.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

#define S3_LIST_MAX (16u << 20)	/* one ListObjectsV2 page, at most */
#define S3_ERR_MAX (64u << 10)	/* an error body, at most */

/* The process's credentials, loaded on first use and kept until exit. */
static pthread_mutex_t s3_lock = PTHREAD_MUTEX_INITIALIZER;
static struct aws_cred s3_cred = AWS_CRED_INIT;	/* protected by s3_lock
						   until s3_loaded */
static int s3_loaded;				/* protected by s3_lock */

static int s3_conf(const struct aws_cred **out)
{
	int err = 0;

	pthread_mutex_lock(&s3_lock);
	if (!s3_loaded) {
		xmlInitParser();
		err = aws_cred_load(&s3_cred);
		s3_loaded = !err;
	}
	pthread_mutex_unlock(&s3_lock);
	if (err)
		return ck_err_ctx(err, "s3");
	*out = &s3_cred;
	return 0;
}

void rmt_s3_reset(void)
{
	pthread_mutex_lock(&s3_lock);
	aws_cred_release(&s3_cred);
	s3_loaded = 0;
	pthread_mutex_unlock(&s3_lock);
}

/* ---- URLs and signing ---- */

/*
 * The URL of key in u's bucket (the bucket itself when bucket_op), with
 * query (NULL: none) into *url (caller frees).
 */
static int s3_url(const struct aws_cred *c, const struct rmt_url *u,
		  const char *key, int bucket_op, const char *query, char **url)
{
	struct ck_buf b = CK_BUF_INIT;
	int err;

	if (c->endpoint)
		err = ck_buf_printf(&b, "%s/", c->endpoint);
	else if (strchr(u->bucket, '.'))
		err = ck_buf_printf(&b, "https://s3.%s.amazonaws.com/", c->region);
	else
		err = ck_buf_printf(&b, "https://%s.s3.%s.amazonaws.com/",
				    u->bucket, c->region);
	if (!err && (c->endpoint || strchr(u->bucket, '.'))) {
		err = sigv4_encode(&b, u->bucket, strlen(u->bucket), 0);
		if (!err && !bucket_op)
			err = ck_buf_append(&b, "/", 1);
	}
	if (!err && !bucket_op)
		err = sigv4_encode(&b, key, strlen(key), 1);
	if (!err && query && *query)
		err = ck_buf_printf(&b, "?%s", query);
	else if (!err)
		err = ck_buf_printf(&b, "%s", "");
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	*url = (char *)ck_buf_detach(&b, NULL);
	return 0;
}

/* The engine's prepare callback: sign this try of r (ctx: the aws_cred). */
static int s3_prepare(struct http_req *r, void *ctx)
{
	const struct aws_cred *c = ctx;
	struct ck_buf auth = CK_BUF_INIT;
	char date[SIGV4_DATE_LEN + 1], *host = NULL, *path = NULL;
	const char *p = strstr(r->url, "://"), *q;
	struct sigv4_hdr h[4];
	struct sigv4_req sr;
	int err;

	if (!c->key_id)
		return 0;
	p = p ? p + 3 : r->url;
	q = p + strcspn(p, "/?");
	host = strndup(p, (size_t)(q - p));
	path = strndup(q, strcspn(q, "?"));
	if (!host || !path) {
		err = ck_err(-ENOMEM, "out of memory signing a request");
		goto out;
	}
	q += strlen(path);
	sigv4_amz_date(time(NULL), date);
	h[0] = (struct sigv4_hdr){ "host", host };
	h[1] = (struct sigv4_hdr){ "x-amz-content-sha256", SIGV4_UNSIGNED_PAYLOAD };
	h[2] = (struct sigv4_hdr){ "x-amz-date", date };
	h[3] = (struct sigv4_hdr){ "x-amz-security-token", c->token };
	sr = (struct sigv4_req){
		.method = r->method ? r->method : "GET",
		.path = path,
		.query = *q == '?' ? q + 1 : NULL,
		.hdrs = h,
		.n_hdrs = c->token ? 4 : 3,
		.payload_hash = SIGV4_UNSIGNED_PAYLOAD,
		.amz_date = date,
		.region = c->region,
		.service = "s3",
	};
	err = sigv4_authorization(&sr, c->key_id, c->secret, &auth);
	if (!err)
		err = http_req_set_header(r, "Host", "Host: %s", host);
	if (!err)
		err = http_req_set_header(r, "x-amz-content-sha256",
					  "x-amz-content-sha256: %s",
					  SIGV4_UNSIGNED_PAYLOAD);
	if (!err)
		err = http_req_set_header(r, "x-amz-date", "x-amz-date: %s", date);
	if (!err && c->token)
		err = http_req_set_header(r, "x-amz-security-token",
					  "x-amz-security-token: %s", c->token);
	if (!err)
		err = http_req_set_header(r, "Authorization", "Authorization: %s",
					  (char *)auth.data);
out:
	ck_buf_release(&auth);
	free(host);
	free(path);
	return err;
}

/* Fill r for method on key (or the bucket), unsigned when anonymous. */
static int s3_req(const struct aws_cred *c, const struct rmt_url *u,
		  const char *method, const char *key, int bucket_op,
		  const char *query, struct http_req *r)
{
	int err = s3_url(c, u, key, bucket_op, query, &r->url);

	if (err)
		return err;
	r->method = method;
	r->prepare = c->key_id ? s3_prepare : NULL;
	r->prepare_ctx = (void *)c;
	return 0;
}

/* ---- errors ---- */

/* struct s3_error: rmt_parse.h */

static int xml_is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlDoc *xml_read(const uint8_t *body, size_t len)
{
	xmlDoc *doc;

	if (!body || !len || len > S3_LIST_MAX)
		return NULL;
	doc = xmlReadMemory((const char *)body, (int)len, "s3.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
			    XML_PARSE_NOWARNING);
	/* S3 sends no DTD.  One could declare entities that
	 * xmlNodeGetContent() expands: a 30 KB one referenced 10000 times
	 * makes a 60 KB error body 300 MB of <Code> (found by fuzz_s3_xml). */
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	return doc;
}

static void xml_copy(const xmlNode *n, char *dst, size_t cap)
{
	xmlChar *t = xmlNodeGetContent(n);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
	xmlFree(t);
}

/* The fields of an S3 <Error> body, if r has one (not static: fuzzed,
 * rmt_parse.h). */
void s3_error_parse(const struct http_req *r, struct s3_error *e)
{
	xmlDoc *doc = xml_read(r->body, r->body_len);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *n;

	memset(e, 0, sizeof(*e));
	for (n = root && xml_is(root, "Error") ? root->children : NULL; n; n = n->next) {
		if (xml_is(n, "Code"))
			xml_copy(n, e->code, sizeof(e->code));
		else if (xml_is(n, "Region"))
			xml_copy(n, e->region, sizeof(e->region));
		else if (xml_is(n, "Endpoint"))
			xml_copy(n, e->endpoint, sizeof(e->endpoint));
	}
	xmlFreeDoc(doc);
}

static const char *denied_hint(const char *code)
{
	if (!strcmp(code, "SignatureDoesNotMatch"))
		return ": check the secret access key";
	if (!strcmp(code, "InvalidAccessKeyId"))
		return ": the server does not know this access key ID";
	if (!strcmp(code, "ExpiredToken") || !strcmp(code, "TokenRefreshRequired"))
		return ": the session token has expired";
	if (!strcmp(code, "InvalidToken"))
		return ": the session token is not valid";
	return "";
}

/*
 * The error of a request on u that ended with r->status (not a success).
 * bucket_404: a 404 means the bucket is missing (a listing).
 */
static int s3_fail(const struct rmt_url *u, const struct http_req *r,
		   int bucket_404)
{
	const struct aws_cred *c = &s3_cred;
	struct s3_error e;
	long st = r->status;

	s3_error_parse(r, &e);
	if (st == 404 && (bucket_404 || !strcmp(e.code, "NoSuchBucket")))
		return ck_err(-ENOENT, "%s: no such bucket %s", u->text, u->bucket);
	if (st == 404)
		return ck_err(-ENOENT, "%s: no such object", u->text);
	if (st == 412)
		return ck_err(-ESTALE, "%s: changed since it was opened", u->text);
	if (st == 401 || st == 403) {
		if (!c->key_id)
			return ck_err(-EACCES, "%s: access denied (HTTP %ld%s%s) to "
				      "anonymous requests (no AWS credentials found)",
				      u->text, st, e.code[0] ? " " : "", e.code);
		return ck_err(-EACCES, "%s: access denied (HTTP %ld%s%s) to access "
			      "key ID %s (from the %s)%s", u->text, st,
			      e.code[0] ? " " : "", e.code, c->key_id, c->from,
			      denied_hint(e.code));
	}
	if (e.region[0])
		return ck_err(-EIO, "%s: the bucket is in region %s, not %s (HTTP %ld%s%s): "
			      "set AWS_REGION=%s", u->text, e.region, c->region, st,
			      e.code[0] ? " " : "", e.code, e.region);
	if (st == 301 && e.endpoint[0])
		return ck_err(-EIO, "%s: the bucket is not in region %s (HTTP 301%s%s; "
			      "its endpoint is %s): set AWS_REGION", u->text, c->region,
			      e.code[0] ? " " : "", e.code, e.endpoint);
	if (st == 301)
		return ck_err(-EIO, "%s: the bucket is not in region %s (HTTP 301): "
			      "set AWS_REGION", u->text, c->region);
	return ck_err(-EIO, "%s: HTTP %ld%s%s", u->text, st, e.code[0] ? " " : "",
		      e.code);
}

/* ---- objects ---- */

static int s3_get(const struct rmt_url *u, const char *version,
		  struct http_req *r)
{
	const struct aws_cred *c;
	int err = s3_conf(&c);

	if (!err)
		err = s3_req(c, u, NULL, u->key, 0, NULL, r);
	if (!err && version && *version)
		err = http_req_header(r, "If-Match: %s", version);
	return err;
}

static int s3_check_get(const struct rmt_url *u, const struct http_req *r)
{
	if (r->status == 200 || r->status == 206)
		return 0;
	return s3_fail(u, r, 0);
}

/* ---- listings ---- */

/* s3_entry_fn and struct s3_page: rmt_parse.h */

static int s3_contents(const xmlNode *n, size_t plen, int delim,
		       s3_entry_fn fn, void *ctx, const struct rmt_url *u)
{
	xmlChar *key = NULL, *size = NULL;
	unsigned long long sz = 0;
	char *end = NULL;
	int rc = 0;

	for (n = n->children; n; n = n->next) {
		if (xml_is(n, "Key") && !key)
			key = xmlNodeGetContent(n);
		else if (xml_is(n, "Size") && !size)
			size = xmlNodeGetContent(n);
	}
	if (!key || strlen((char *)key) < plen) {
		rc = ck_err(-EIO, "%s: a listing entry has no key under the prefix", u->text);
		goto out;
	}
	errno = 0;
	if (size)
		sz = strtoull((char *)size, &end, 10);
	if (!size || end == (char *)size || *end || errno) {
		rc = ck_err(-EIO, "%s: listing entry '%s' has no valid size", u->text,
			    (char *)key);
		goto out;
	}
	/* Listing one level, the prefix's own marker object (a "folder" made
	 * by the console) and a deeper key are not entries; counting, all
	 * are. */
	if (!delim || (key[plen] && !strchr((char *)key + plen, '/')))
		rc = fn(ctx, (char *)key + plen, 0, sz);
out:
	xmlFree(key);
	xmlFree(size);
	return rc;
}

static int s3_common_prefix(const xmlNode *n, size_t plen, s3_entry_fn fn,
			    void *ctx)
{
	xmlChar *p = NULL;
	size_t len;
	int rc = 0;

	for (n = n->children; n && !p; n = n->next)
		if (xml_is(n, "Prefix"))
			p = xmlNodeGetContent(n);
	len = p ? strlen((char *)p) : 0;
	if (len > plen + 1 && p[len - 1] == '/') {
		p[len - 1] = '\0';
		if (!strchr((char *)p + plen, '/'))
			rc = fn(ctx, (char *)p + plen, 1, 0);
	}
	xmlFree(p);
	return rc;
}

/*
 * Parse one ListObjectsV2 page, calling fn for each entry under the prefix
 * (plen bytes): one level when delim, else every key (for counting).  Not
 * static: fuzzed (rmt_parse.h).
 */
int s3_page_parse(const struct rmt_url *u, const struct http_req *r,
		  size_t plen, int delim, s3_entry_fn fn, void *ctx,
		  struct s3_page *pg)
{
	xmlDoc *doc = xml_read(r->body, r->body_len);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *n;
	int rc = 0;

	if (!root || !xml_is(root, "ListBucketResult")) {
		xmlFreeDoc(doc);
		return ck_err(-EIO, "%s: the listing is not a ListBucketResult", u->text);
	}
	for (n = root->children; n && !rc; n = n->next) {
		if (xml_is(n, "Contents")) {
			rc = s3_contents(n, plen, delim, fn, ctx, u);
		} else if (xml_is(n, "CommonPrefixes")) {
			rc = s3_common_prefix(n, plen, fn, ctx);
		} else if (xml_is(n, "IsTruncated")) {
			xmlChar *t = xmlNodeGetContent(n);

			pg->truncated = t && !strcmp((char *)t, "true");
			xmlFree(t);
		} else if (xml_is(n, "NextContinuationToken") && !pg->next) {
			xmlChar *t = xmlNodeGetContent(n);

			pg->next = t ? strdup((char *)t) : NULL;
			xmlFree(t);
			if (!pg->next)
				rc = ck_err(-ENOMEM, "out of memory reading a listing");
		}
	}
	xmlFreeDoc(doc);
	return rc;
}

/*
 * List u's bucket under prefix (with delimiter '/' when delim), every page
 * (or only the first, max_keys of them, when max_keys), calling fn.
 */
static int s3_list_under(const struct rmt_url *u, const char *prefix,
			 int delim, unsigned max_keys, s3_entry_fn fn, void *ctx)
{
	const struct aws_cred *c;
	char *token = NULL;
	int rc = s3_conf(&c);

	while (!rc) {
		struct http_req r = { 0 };
		struct ck_buf q = CK_BUF_INIT;
		struct s3_page pg = { 0, NULL };
		char n[24];

		snprintf(n, sizeof(n), "%u", max_keys);
		rc = sigv4_query_add(&q, "list-type", "2");
		if (!rc && *prefix)
			rc = sigv4_query_add(&q, "prefix", prefix);
		if (!rc && delim)
			rc = sigv4_query_add(&q, "delimiter", "/");
		if (!rc && max_keys)
			rc = sigv4_query_add(&q, "max-keys", n);
		if (!rc && token)
			rc = sigv4_query_add(&q, "continuation-token", token);
		if (!rc)
			rc = s3_req(c, u, "GET", "", 1, (char *)q.data, &r);
		ck_buf_release(&q);
		r.max_body = S3_LIST_MAX;
		if (!rc)
			rc = http_run1(&r);
		if (rc == -EFBIG)
			rc = ck_err(-EIO, "%s: a listing page is larger than %u MiB",
				    u->text, S3_LIST_MAX >> 20);
		if (!rc && r.status != 200)
			rc = s3_fail(u, &r, 1);
		if (!rc)
			rc = s3_page_parse(u, &r, strlen(prefix), delim, fn, ctx, &pg);
		http_req_release(&r);
		if (!rc && pg.truncated && !max_keys) {
			if (!pg.next || (token && !strcmp(pg.next, token)))
				rc = ck_err(-EIO, "%s: a truncated listing gave no new "
					    "continuation token", u->text);
			free(token);
			token = pg.next;
			pg.next = NULL;
		} else if (!rc) {
			free(pg.next);
			break;
		}
		free(pg.next);
	}
	free(token);
	return rc;
}

struct s3_list_ctx {
	rmt_list_cb cb;	/* the caller's */
	void *ctx;
};

static int s3_list_fwd(void *ctx, const char *name, int is_dir, uint64_t size)
{
	struct s3_list_ctx *l = ctx;

	return l->cb(l->ctx, name, is_dir, size);
}

static int s3_list(const struct rmt_url *u, rmt_list_cb cb, void *ctx)
{
	struct s3_list_ctx l = { cb, ctx };
	char *prefix = NULL;
	int rc;

	if (u->key[0] && asprintf(&prefix, "%s/", u->key) < 0)
		return ck_err(-ENOMEM, "out of memory listing %s", u->text);
	rc = s3_list_under(u, prefix ? prefix : "", 1, 0, s3_list_fwd, &l);
	free(prefix);
	return rc;
}

/* ---- stat ---- */

static int s3_count(void *ctx, const char *name, int is_dir, uint64_t size)
{
	(void)name;
	(void)is_dir;
	(void)size;
	(*(unsigned *)ctx)++;
	return 0;
}

/* A HEAD has no body to say why it failed: ask again with a 1-byte GET. */
static int s3_explain(const struct aws_cred *c, const struct rmt_url *u,
		      const struct http_req *head)
{
	struct http_req r = { 0 };
	int rc = s3_req(c, u, NULL, u->key, 0, NULL, &r);

	r.range_off = 0;
	r.range_len = 1;
	r.max_body = S3_ERR_MAX;
	if (!rc)
		rc = http_run1(&r);
	if (!rc && r.status != 200 && r.status != 206 && r.status != 416)
		rc = s3_fail(u, &r, 0);
	else if (!rc)
		rc = s3_fail(u, head, 0);
	http_req_release(&r);
	return rc;
}

static int s3_stat(const struct rmt_url *u, struct rmt_stat *st)
{
	const struct aws_cred *c;
	struct http_req r = { 0 };
	unsigned n = 0;
	char *prefix = NULL;
	int rc = s3_conf(&c);

	memset(st, 0, sizeof(*st));
	if (!rc && !u->key[0]) {
		/* The bucket's root: a directory if the bucket exists. */
		rc = s3_list_under(u, "", 0, 1, s3_count, &n);
		if (!rc)
			st->type = RMT_DIR;
		return rc;
	}
	if (!rc)
		rc = s3_req(c, u, "HEAD", u->key, 0, NULL, &r);
	if (!rc)
		rc = http_run1(&r);
	if (!rc && r.status == 200) {
		if (r.total == UINT64_MAX)
			rc = ck_err(-EIO, "%s: HEAD gave no Content-Length", u->text);
		st->type = RMT_FILE;
		st->size = r.total;
		snprintf(st->version, sizeof(st->version), "%s", r.etag);
	} else if (!rc && r.status == 404) {
		if (asprintf(&prefix, "%s/", u->key) < 0)
			rc = ck_err(-ENOMEM, "out of memory looking at %s", u->text);
		else
			rc = s3_list_under(u, prefix, 0, 1, s3_count, &n);
		st->type = n ? RMT_DIR : RMT_NONE;
	} else if (!rc) {
		rc = s3_explain(c, u, &r);
	}
	http_req_release(&r);
	free(prefix);
	if (rc)
		memset(st, 0, sizeof(*st));
	return rc;
}

const struct rmt_backend rmt_s3_backend = {
	.name = "s3",
	.get = s3_get,
	.check_get = s3_check_get,
	.stat = s3_stat,
	.list = s3_list,
};
