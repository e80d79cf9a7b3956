/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: Cloud Storage JSON, an object's metadata and a listing
 * page (rmt_gcs.c), an OAuth token response and a service_account or
 * authorized_user key file (rmt_gcs_auth.c).
 *
 * The first input byte picks: bits 0-1 the parser (0: metadata, 1: a
 * listing page, 2: a token response, 3: a key file); for a listing, bits
 * 2-3 the prefix listed under ("", "dir/", "a/b/", "ckpt/step_100/") and
 * bit 4 a callback that stops the listing at the third entry.  The rest is
 * the body, as the HTTP engine hands it over (NUL-terminated past its
 * length).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rmt_parse.h"

#define STOP 7	/* what the stopping callback returns */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	int stop;
	unsigned n;
};

static int entry(void *ctx, const char *name, int is_dir, uint64_t size)
{
	struct seen *s = ctx;

	/* A name directly under the prefix: never "" nor a path. */
	if (!name || !name[0] || strchr(name, '/') ||
	    (is_dir != 0 && is_dir != 1) || (is_dir && size))
		__builtin_trap();
	return s->stop && ++s->n == 3 ? STOP : 0;
}

static void meta(const struct rmt_url *u, const struct http_req *r)
{
	struct rmt_stat st;

	memset(&st, 0, sizeof(st));
	if (gcs_parse_meta(u, r, &st))
		return;
	/* The version is the generation, a decimal string that fits. */
	if (st.type != RMT_FILE || !st.version[0] ||
	    strnlen(st.version, sizeof(st.version)) >= sizeof(st.version) ||
	    strspn(st.version, "0123456789") != strlen(st.version))
		__builtin_trap();
}

static void listing(const struct rmt_url *u, const struct http_req *r,
		    unsigned sel)
{
	static const size_t plens[] = { 0, 4, 4, 14 };
	struct seen s = { (sel >> 4) & 1, 0 };
	const char *next;
	char *token = NULL;
	cJSON *doc = NULL;
	int rc;

	/* As gcs_list_page() reads a page. */
	if (ck_json_parse(r->body, r->body_len, &doc))
		return;
	if (!ck_json_get_str(doc, "nextPageToken", &next) && *next)
		token = strdup(next);
	rc = gcs_list_emit(u, doc, plens[(sel >> 2) & 3], entry, &s);
	if (rc > 0 && rc != STOP)
		__builtin_trap();
	if (rc == STOP && (!s.stop || s.n != 3))
		__builtin_trap();
	free(token);
	cJSON_Delete(doc);
}

static void token(const struct http_req *r)
{
	char *tok = NULL;
	int64_t ttl = 0;

	if (token_parse(r, "service account 'fuzz@example.iam'", &tok, &ttl))
		return;
	/* It goes into an Authorization header: one line, not too long. */
	if (!tok || !tok[0] || strlen(tok) >= 4096 || strpbrk(tok, "\r\n") ||
	    ttl < 1 || ttl > 7 * 86400)
		__builtin_trap();
	free(tok);
}

static void key_file(const struct http_req *r)
{
	struct gcs_cred c;
	cJSON *j = NULL;
	int err;

	/* As cred_from_file() reads a file. */
	if (ck_json_parse(r->body, r->body_len, &j))
		return;
	memset(&c, 0, sizeof(c));
	err = cred_from_doc(j, "/fuzz/key.json", &c);
	if (!err) {
		int ok = c.token_uri && memchr(c.identity, 0, sizeof(c.identity));

		if (c.kind == GCS_SA)
			ok = ok && c.email && c.pem;
		else if (c.kind == GCS_USER)
			ok = ok && c.client_id && c.client_secret && c.refresh_token;
		else
			ok = 0;
		if (!ok)
			__builtin_trap();
	}
	cred_release(&c);
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "", "dir", "a/b", "ckpt/step_100" };
	struct http_req r;
	char bucket[] = "bkt", key[32], text[64];
	struct rmt_url u = { RMT_GS, bucket, key, NULL };
	uint8_t *body;
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0];
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	memset(&r, 0, sizeof(r));
	r.status = 200;
	r.body = body;
	r.body_len = size - 1;
	r.total = UINT64_MAX;
	snprintf(key, sizeof(key), "%s", keys[(sel >> 2) & 3]);
	snprintf(text, sizeof(text), "gs://bkt/%s", key);
	u.text = text;

	switch (sel & 3) {
	case 0:
		meta(&u, &r);
		break;
	case 1:
		listing(&u, &r, sel);
		break;
	case 2:
		token(&r);
		break;
	default:
		key_file(&r);
		break;
	}
	free(body);
	return 0;
}
