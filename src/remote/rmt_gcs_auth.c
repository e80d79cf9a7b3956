/* SPDX-License-Identifier: MIT */
/*
 * This file implements the Cloud Storage credentials of rmt_gcs_auth.h.
 *
 * One process-wide state: the credentials found by the first request
 * (immutable afterwards, until gcs_auth_reset) and the cached token.  A
 * lookup or a refresh runs with the lock dropped and `busy` set; the other
 * threads wait on the condition variable and take its result, a failure
 * included (so a refused key costs one token request, not one per thread).
 *
 * Every buffer that held a secret is wiped before it is freed.
 */
#include "remote/rmt_gcs_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "remote/rmt_http.h"
#include "remote/rmt_parse.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"

#define GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_only"
#define GCS_TOKEN_URI "https://oauth2.googleapis.com/token"
#define GCS_MD_HOST "metadata.google.internal"
#define GCS_MD_PATH "/computeMetadata/v1/instance/service-accounts/default/token"
#define GCS_KEY_FILE_MAX (64 * 1024)
#define GCS_TOKEN_MAX 4096
#define GCS_PROBE_MS 1000

/* enum gcs_cred_kind and struct gcs_cred: rmt_parse.h */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int looked_up;		/* cred is valid; protected by lock */
	int busy;		/* a lookup or refresh runs; protected by lock */
	unsigned epoch;		/* bumped when one ends; protected by lock */
	int fail_err;		/* how the last one ended; protected by lock */
	char fail_msg[512];	/* its message (no secret); protected by lock */
	struct gcs_cred cred;	/* written only with busy set */
	char *token;		/* secret; protected by lock */
	int64_t refresh_ms;	/* refresh after this (monotonic) */
	int64_t expire_ms;	/* unusable after this (monotonic) */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* Not static: fuzzed (rmt_parse.h). */
void cred_release(struct gcs_cred *c)
{
	free(c->email);
	free_secret(c->pem);
	free(c->token_uri);
	free(c->client_id);
	free_secret(c->client_secret);
	free_secret(c->refresh_token);
	free(c->md_host);
	memset(c, 0, sizeof(*c));
}

int gcs_b64url(struct ck_buf *out, const void *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const uint8_t *s = p;
	char q[4];
	int err = 0;

	for (size_t i = 0; i < n && !err; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t k = n - i >= 3 ? 4 : n - i + 1;

		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		for (size_t j = 0; j < 4; j++)
			q[j] = abc[(v >> (18 - 6 * j)) & 63];
		err = ck_buf_append(out, q, k);
	}
	if (!err)
		err = ck_buf_grow(out, 1);	/* keep it NUL-terminated */
	if (!err)
		out->data[out->len] = 0;
	return err;
}

/* Append the base64url of cJSON document j, printed compactly. */
static int b64url_json(struct ck_buf *out, const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	int err;

	if (!s)
		return ck_err(-ENOMEM, "out of memory making a JWT");
	err = gcs_b64url(out, s, strlen(s));
	cJSON_free(s);
	return err;
}

/* Sign in[0..n) with pem (RS256) and append the signature's base64url. */
static int jwt_sign(struct ck_buf *out, const char *pem, const void *in,
		    size_t n, const char *email)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int err = -EINVAL;

	if (bio)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!pkey || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		ck_err(-EINVAL, "service account '%s': private_key is not an RSA key in PEM",
		       email);
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, in, n) != 1 ||
	    !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, in, n) != 1) {
		ck_err(-EINVAL, "service account '%s': cannot sign the JWT", email);
		goto out;
	}
	err = gcs_b64url(out, sig, siglen);
out:
	ERR_clear_error();
	free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return err;
}

int gcs_jwt_make(const char *email, const char *aud, const char *pem,
		 int64_t iat, char **out)
{
	struct ck_buf b = CK_BUF_INIT;
	cJSON *hdr = cJSON_CreateObject(), *cl = cJSON_CreateObject();
	int err = -ENOMEM;

	if (!hdr || !cl || !cJSON_AddStringToObject(hdr, "alg", "RS256") ||
	    !cJSON_AddStringToObject(hdr, "typ", "JWT") ||
	    !cJSON_AddStringToObject(cl, "iss", email) ||
	    !cJSON_AddStringToObject(cl, "scope", GCS_SCOPE) ||
	    !cJSON_AddStringToObject(cl, "aud", aud) ||
	    !cJSON_AddNumberToObject(cl, "iat", (double)iat) ||
	    !cJSON_AddNumberToObject(cl, "exp", (double)(iat + 3600))) {
		ck_err(err, "out of memory making a JWT");
		goto out;
	}
	err = b64url_json(&b, hdr);
	if (!err)
		err = ck_buf_append(&b, ".", 1);
	if (!err)
		err = b64url_json(&b, cl);
	if (!err) {
		size_t n = b.len;

		err = ck_buf_append(&b, ".", 1);
		if (!err)
			err = jwt_sign(&b, pem, b.data, n, email);
	}
	if (!err)
		*out = (char *)ck_buf_detach(&b, NULL);
out:
	ck_buf_release(&b);
	cJSON_Delete(hdr);
	cJSON_Delete(cl);
	return err;
}

/* A copy of string member key of j, or NULL (-ENOENT, -ENOMEM). */
static int dup_member(const cJSON *j, const char *key, char **out)
{
	const char *s;
	int err = ck_json_get_str(j, key, &s);

	if (err)
		return err;
	*out = strdup(s);
	return *out ? 0 : ck_err(-ENOMEM, "out of memory");
}

/* The members of a service_account or authorized_user key file (not
 * static: fuzzed, rmt_parse.h). */
int cred_from_doc(const cJSON *j, const char *path, struct gcs_cred *c)
{
	const char *type = "";
	int err;

	ck_json_get_str(j, "type", &type);
	if (!strcmp(type, "service_account")) {
		c->kind = GCS_SA;
		err = dup_member(j, "client_email", &c->email);
		if (!err)
			err = dup_member(j, "private_key", &c->pem);
		if (!err)
			snprintf(c->identity, sizeof(c->identity),
				 "service account '%s'", c->email);
	} else if (!strcmp(type, "authorized_user")) {
		c->kind = GCS_USER;
		err = dup_member(j, "client_id", &c->client_id);
		if (!err)
			err = dup_member(j, "client_secret", &c->client_secret);
		if (!err)
			err = dup_member(j, "refresh_token", &c->refresh_token);
		if (!err)
			snprintf(c->identity, sizeof(c->identity),
				 "authorized user of '%s'", path);
	} else {
		return ck_err(-ENOTSUP, "credentials '%s': type '%s' is not supported (service_account or authorized_user)",
			      path, type);
	}
	if (err == -ENOENT || err == -EINVAL)
		return ck_err(-EINVAL, "credentials '%s': a member of a %s key is missing or not a string",
			      path, type);
	if (err)
		return err;
	err = dup_member(j, "token_uri", &c->token_uri);
	if (err == -ENOENT || err == -EINVAL) {
		c->token_uri = strdup(GCS_TOKEN_URI);
		err = c->token_uri ? 0 : ck_err(-ENOMEM, "out of memory");
	}
	return err;
}

/* Read the JSON key file at path into c. */
static int cred_from_file(const char *path, struct gcs_cred *c)
{
	uint8_t *data = NULL;
	size_t len = 0;
	cJSON *j = NULL;
	int err = ck_read_file(path, GCS_KEY_FILE_MAX, &data, &len);

	if (err)
		return ck_err_ctx(err, "credentials '%s'", path);
	err = ck_json_parse(data, len, &j);
	if (err)
		err = ck_err_ctx(err, "credentials '%s'", path);
	else
		err = cred_from_doc(j, path, c);
	OPENSSL_cleanse(data, len);
	free(data);
	cJSON_Delete(j);
	if (err)
		cred_release(c);
	return err;
}

/* 1 if a TCP connection to "host[:port]" opens within GCS_PROBE_MS. */
static int md_probe(const char *hostport)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char host[256], *colon;
	const char *port = "80";
	int ok = 0;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']')) {
		*colon = 0;
		port = colon + 1;
	}
	if (host[0] == '[' && (colon = strchr(host, ']'))) {
		*colon = 0;
		memmove(host, host + 1, strlen(host));
	}
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res))
		return 0;
	for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
				SOCK_CLOEXEC, a->ai_protocol);
		struct pollfd p = { fd, POLLOUT, 0 };
		int soerr = -1;
		socklen_t sl = sizeof(soerr);

		if (fd < 0)
			continue;
		if (!connect(fd, a->ai_addr, a->ai_addrlen))
			ok = 1;
		else if (errno == EINPROGRESS && poll(&p, 1, GCS_PROBE_MS) == 1 &&
			 !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
			ok = soerr == 0;
		close(fd);
	}
	freeaddrinfo(res);
	return ok;
}

/* The metadata server's "host[:port]" (GCE_METADATA_HOST without any
 * scheme), into c; -ENOMEM. */
static int cred_metadata(const char *host, struct gcs_cred *c)
{
	if (!strncmp(host, "http://", 7))
		host += 7;
	c->kind = GCS_METADATA;
	c->md_host = strndup(host, strcspn(host, "/"));
	if (!c->md_host)
		return ck_err(-ENOMEM, "out of memory");
	snprintf(c->identity, sizeof(c->identity), "metadata server '%s'",
		 c->md_host);
	return 0;
}

/* Find the credentials, in the client libraries' order. */
static int cred_lookup(struct gcs_cred *c)
{
	const char *p = getenv("STORAGE_EMULATOR_HOST"), *md;
	char adc[4096];
	int err;

	memset(c, 0, sizeof(*c));
	c->kind = GCS_ANON;
	if (p && *p) {
		snprintf(c->identity, sizeof(c->identity),
			 "anonymous (STORAGE_EMULATOR_HOST)");
		return 0;
	}
	p = getenv("GOOGLE_APPLICATION_CREDENTIALS");
	if (p && *p)
		return cred_from_file(p, c);
	p = getenv("CLOUDSDK_CONFIG");
	if (p && *p)
		snprintf(adc, sizeof(adc), "%s/application_default_credentials.json", p);
	else
		snprintf(adc, sizeof(adc), "%s/.config/gcloud/application_default_credentials.json",
			 getenv("HOME") ? getenv("HOME") : "");
	if (ck_is_file(adc))
		return cred_from_file(adc, c);
	md = getenv("GCE_METADATA_HOST");
	if (!md || !*md)
		md = GCS_MD_HOST;
	if (md_probe(strncmp(md, "http://", 7) ? md : md + 7)) {
		err = cred_metadata(md, c);
		if (err)
			cred_release(c);
		return err;
	}
	snprintf(c->identity, sizeof(c->identity), "anonymous");
	return 0;
}

/* Build the token request of c into r; the body (secret) into post. */
static int token_req(const struct gcs_cred *c, struct http_req *r,
		     struct ck_buf *post)
{
	char *jwt = NULL;
	int err = 0;

	if (c->kind == GCS_METADATA) {
		if (asprintf(&r->url, "http://%s%s", c->md_host, GCS_MD_PATH) < 0) {
			r->url = NULL;
			return ck_err(-ENOMEM, "out of memory");
		}
		return http_req_header(r, "Metadata-Flavor: Google");
	}
	r->method = "POST";
	r->url = strdup(c->token_uri);
	if (!r->url)
		return ck_err(-ENOMEM, "out of memory");
	err = http_req_header(r, "Content-Type: application/x-www-form-urlencoded");
	if (!err && c->kind == GCS_SA) {
		err = gcs_jwt_make(c->email, c->token_uri, c->pem,
				   (int64_t)time(NULL), &jwt);
		if (!err)
			err = ck_buf_printf(post, "grant_type=%s&assertion=%s",
					    "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
					    jwt);
		free_secret(jwt);
	} else if (!err) {
		err = ck_buf_printf(post, "grant_type=refresh_token&client_id=");
		if (!err)
			err = http_escape(post, c->client_id, strlen(c->client_id), 0);
		if (!err)
			err = ck_buf_printf(post, "&client_secret=");
		if (!err)
			err = http_escape(post, c->client_secret,
					  strlen(c->client_secret), 0);
		if (!err)
			err = ck_buf_printf(post, "&refresh_token=");
		if (!err)
			err = http_escape(post, c->refresh_token,
					  strlen(c->refresh_token), 0);
	}
	r->post = post->data;
	r->post_len = post->len;
	return err;
}

/* The token of a 200 response body: *tok (caller frees, secret), *ttl
 * (not static: fuzzed, rmt_parse.h). */
int token_parse(const struct http_req *r, const char *who,
		char **tok, int64_t *ttl)
{
	cJSON *j = NULL;
	const char *s;
	int err = ck_json_parse(r->body, r->body_len, &j);

	if (err)
		return ck_err_ctx(err, "%s: token response", who);
	if (ck_json_get_str(j, "access_token", &s) || !*s ||
	    strlen(s) >= GCS_TOKEN_MAX || strcspn(s, "\r\n") != strlen(s)) {
		err = ck_err(-EIO, "%s: token response without a usable access_token", who);
		goto out;
	}
	if (ck_json_get_i64(j, "expires_in", 1, 7 * 86400, ttl))
		*ttl = 3600;
	*tok = strdup(s);
	if (!*tok)
		err = ck_err(-ENOMEM, "out of memory");
out:
	cJSON_Delete(j);
	return err;
}

/* Fetch a token for c: *tok (caller frees with free_secret), *ttl. */
static int token_fetch(const struct gcs_cred *c, char **tok, int64_t *ttl)
{
	struct http_req r = { 0 };
	struct ck_buf post = CK_BUF_INIT;
	char u[512], why[160] = "";
	int err = token_req(c, &r, &post);

	r.max_body = 1 << 20;
	if (!err)
		err = http_run1(&r);
	if (err) {
		err = ck_err_ctx(err, "cannot get an access token for %s", c->identity);
		goto out;
	}
	http_url_for_msg(r.url, u, sizeof(u));
	if (r.status == 200) {
		err = token_parse(&r, c->identity, tok, ttl);
		goto out;
	}
	if (r.body && r.status >= 400 && r.status < 500) {
		cJSON *j = NULL;
		const char *e = NULL, *d = NULL;

		/* the server's words: no secret of ours is in them */
		if (!ck_json_parse(r.body, r.body_len, &j) &&
		    !ck_json_get_str(j, "error", &e)) {
			ck_json_get_str(j, "error_description", &d);
			snprintf(why, sizeof(why), ": %.60s%s%.80s", e,
				 d ? ": " : "", d ? d : "");
		}
		cJSON_Delete(j);
		ck_err_clear();
	}
	if (r.status == 400 || r.status == 401 || r.status == 403)
		err = ck_err(-EACCES, "%s: the token endpoint '%s' refused the credentials (HTTP %ld%s)",
			     c->identity, u, r.status, why);
	else
		err = ck_err(-EIO, "%s: the token endpoint '%s' answered HTTP %ld%s",
			     c->identity, u, r.status, why);
out:
	if (r.body)
		OPENSSL_cleanse(r.body, r.body_len);
	if (post.data)
		OPENSSL_cleanse(post.data, post.len);
	ck_buf_release(&post);
	http_req_release(&r);
	return err;
}

/* End a lookup or refresh (lock held): wake the waiters with err. */
static void end_busy(int err)
{
	g.busy = 0;
	g.epoch++;
	g.fail_err = err;
	if (err)
		snprintf(g.fail_msg, sizeof(g.fail_msg), "%s", ck_err_msg());
	pthread_cond_broadcast(&g.cond);
}

/* Wait (lock held) for a running lookup or refresh: its error, if it
 * failed, else 0 to look again. */
static int wait_busy(void)
{
	unsigned epoch = g.epoch;

	while (g.busy)
		pthread_cond_wait(&g.cond, &g.lock);
	if (g.epoch != epoch && g.fail_err)
		return ck_err(g.fail_err, "%s", g.fail_msg);
	return 0;
}

/* Look up the credentials once (lock held, may drop it). */
static int lookup_locked(void)
{
	struct gcs_cred c;
	int err;

	g.busy = 1;
	pthread_mutex_unlock(&g.lock);
	err = cred_lookup(&c);
	pthread_mutex_lock(&g.lock);
	if (!err) {
		g.cred = c;
		g.looked_up = 1;
	}
	end_busy(err);
	return err;
}

/* Refresh the token (lock held, may drop it). */
static int refresh_locked(void)
{
	char *tok = NULL;
	int64_t ttl = 0, life, t0 = now_ms();
	int err;

	g.busy = 1;
	pthread_mutex_unlock(&g.lock);
	err = token_fetch(&g.cred, &tok, &ttl);
	pthread_mutex_lock(&g.lock);
	if (!err) {
		free_secret(g.token);
		g.token = tok;
		life = ttl * 1000;
		g.refresh_ms = t0 + life - (life / 2 < 300000 ? life / 2 : 300000);
		g.expire_ms = t0 + life - (life / 4 < 10000 ? life / 4 : 10000);
	}
	end_busy(err);
	return err;
}

/*
 * A copy of a token good until the refresh time (fresh) or the expiry
 * into tok (GCS_TOKEN_MAX bytes; "" when anonymous).
 */
static int token_get(int fresh, char *tok)
{
	int err = 0;

	tok[0] = 0;
	pthread_mutex_lock(&g.lock);
	for (;;) {
		err = wait_busy();
		if (err)
			break;
		if (!g.looked_up) {
			err = lookup_locked();
			if (err)
				break;
			continue;
		}
		if (g.cred.kind == GCS_ANON)
			break;
		if (g.token && now_ms() < (fresh ? g.refresh_ms : g.expire_ms)) {
			snprintf(tok, GCS_TOKEN_MAX, "%s", g.token);
			break;
		}
		err = refresh_locked();
		if (err)
			break;
	}
	/* an early refresh that failed: the old token still serves */
	if (err && g.looked_up && g.token && now_ms() < g.expire_ms) {
		snprintf(tok, GCS_TOKEN_MAX, "%s", g.token);
		ck_err_clear();
		err = 0;
	}
	pthread_mutex_unlock(&g.lock);
	return err;
}

int gcs_auth_ensure(void)
{
	char tok[GCS_TOKEN_MAX];
	int err = token_get(1, tok);

	OPENSSL_cleanse(tok, sizeof(tok));
	return err;
}

/*
 * The engine calls this with a transfer slot held, so a token fetched here
 * (a nested http_run1) needs a second slot: with every slot held by a
 * thread waiting here, none would be left for the refresher.  Hence the
 * refresh before http_run (gcs_auth_ensure, with a margin of minutes) and
 * only an expired token refreshed here.
 */
int gcs_auth_prepare(struct http_req *r, void *ctx)
{
	char tok[GCS_TOKEN_MAX];
	int err = token_get(0, tok);

	(void)ctx;
	if (!err && tok[0])
		err = http_req_set_header(r, "Authorization", "Authorization: Bearer %s",
					  tok);
	OPENSSL_cleanse(tok, sizeof(tok));
	return err;
}

void gcs_auth_invalidate(void)
{
	pthread_mutex_lock(&g.lock);
	free_secret(g.token);
	g.token = NULL;
	pthread_mutex_unlock(&g.lock);
}

const char *gcs_auth_identity(char *buf, size_t cap)
{
	pthread_mutex_lock(&g.lock);
	snprintf(buf, cap, "%s", g.looked_up ? g.cred.identity :
		 "credentials not yet looked up");
	pthread_mutex_unlock(&g.lock);
	return buf;
}

void gcs_auth_reset(void)
{
	pthread_mutex_lock(&g.lock);
	free_secret(g.token);
	g.token = NULL;
	if (g.looked_up)
		cred_release(&g.cred);
	g.looked_up = 0;
	g.fail_err = 0;
	pthread_mutex_unlock(&g.lock);
}
