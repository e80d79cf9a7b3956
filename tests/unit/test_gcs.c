/* SPDX-License-Identifier: MIT */
/*
 * The Cloud Storage backend and its credentials: base64url and the JWT on
 * their own, then every path against tests/remote/gcs_server.py started by
 * each test (service-account, metadata-server, emulator and anonymous
 * access; ranged reads, paged listings, generation pinning, token refresh,
 * a refused key, injected faults).  Skips (77) without /usr/bin/python3
 * with the cryptography module, or without the openssl command.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ck_test.h"
#include "remote/remote.h"
#include "remote/rmt_gcs_auth.h"
#include "remote/rmt_http.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"

#define PY "/usr/bin/python3"
#define EMAIL "reader@ckptfs-test.iam.gserviceaccount.com"
#define BIG 300000

static char server_py[4096];

/* A running gcs_server.py over a fresh root with bucket "bkt". */
struct srv {
	pid_t pid;
	int in;		/* its stdin: closing it stops the server */
	int port;
	char *tmp;	/* the test's directory */
	char *root;	/* tmp/root: the buckets */
	char *keys;	/* RSA key pairs (sa_setup), or NULL */
	char base[64];	/* "http://127.0.0.1:PORT" */
};

static uint8_t big_byte(size_t k)
{
	return (uint8_t)(k * 7u + (k >> 9) * 13u);
}

static void put_file(const struct srv *s, const char *rel, const void *p,
		     size_t n)
{
	char path[4096], *slash;

	snprintf(path, sizeof(path), "%s/bkt/%s", s->root, rel);
	for (slash = strchr(path + strlen(s->root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(path, 0755);
		*slash = '/';
	}
	ck_test_write_file(path, p, n);
}

/* Start the server with the extra arguments (NULL-terminated). */
static void srv_start(struct srv *s, const char *const *extra)
{
	const char *argv[32] = { PY, server_py, "--root", NULL, "--watch-stdin" };
	int in[2], out[2];
	size_t n = 5;
	char line[32];
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->tmp = ck_test_tmpdir();
	s->root = ck_path_join(s->tmp, "root");
	ck_assert_int_eq(mkdir(s->root, 0755), 0);
	argv[3] = s->root;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	uint8_t *big = malloc(BIG);
	ck_assert_ptr_nonnull(big);
	for (size_t k = 0; k < BIG; k++)
		big[k] = big_byte(k);
	put_file(s, "ckpt/a.bin", big, BIG);
	put_file(s, "ckpt/small.json", "{\"step\": 7}", 11);
	put_file(s, "ckpt/sub/x", "x", 1);
	free(big);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(PY, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->in = in[1];
	f = fdopen(out[0], "r");
	ck_assert_msg(f && fgets(line, sizeof(line), f), "gcs_server.py did not start");
	fclose(f);
	s->port = atoi(line);
	ck_assert_int_gt(s->port, 0);
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
}

static void srv_stop(struct srv *s)
{
	close(s->in);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	ck_test_rmtree(s->tmp);
	if (s->keys)
		ck_test_rmtree(s->keys);
	free(s->keys);
	free(s->root);
	free(s->tmp);
}

/* No credentials from the environment; no metadata server (a closed port). */
static void env_clean(const struct srv *s)
{
	struct rmt_opts o = RMT_OPTS_INIT;

	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("STORAGE_EMULATOR_HOST");
	unsetenv("CKPTFS_GCS_ENDPOINT");
	setenv("CLOUDSDK_CONFIG", s->tmp, 1);
	setenv("HOME", s->tmp, 1);
	setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);
	o.timeout_s = 5;
	o.connect_timeout_s = 2;
	ck_assert_int_eq(rmt_configure(&o), 0);
	gcs_auth_reset();
}

/* POST or GET path on the server; the JSON answer (caller deletes). */
static cJSON *srv_call(const struct srv *s, const char *path, const char *post)
{
	struct http_req r = { 0 };
	cJSON *j = NULL;

	ck_assert_int_ne(asprintf(&r.url, "%s%s", s->base, path), -1);
	if (post) {
		r.method = "POST";
		r.post = post;
		r.post_len = strlen(post);
	}
	r.max_body = 1 << 20;
	ck_assert_msg(http_run1(&r) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(ck_json_parse(r.body, r.body_len, &j), 0);
	http_req_release(&r);
	return j;
}

static int64_t srv_stat(const struct srv *s, const char *what)
{
	cJSON *j = srv_call(s, "/_stats", NULL);
	int64_t v = -1;

	ck_assert_int_eq(ck_json_get_i64(j, what, 0, INT64_MAX, &v), 0);
	cJSON_Delete(j);
	return v;
}

static void srv_fault(const struct srv *s, const char *json)
{
	cJSON_Delete(srv_call(s, "/_control", json));
}

/* An RSA key pair: dir/NAME.pem and dir/NAME.pub. */
static void make_key(const char *dir, const char *name)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd),
		 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
		 "-out '%s/%s.pem' 2>/dev/null && openssl pkey -in '%s/%s.pem' "
		 "-pubout -out '%s/%s.pub' 2>/dev/null", dir, name, dir, name,
		 dir, name);
	ck_assert_int_eq(system(cmd), 0);
}

/* A service-account key file at s->tmp/key.json with s->keys/NAME.pem. */
static char *make_key_json(const struct srv *s, const char *name)
{
	char path[4096];
	uint8_t *pem;
	size_t n;
	cJSON *j = cJSON_CreateObject();
	char *text, *out;

	snprintf(path, sizeof(path), "%s/%s.pem", s->keys, name);
	pem = ck_test_read_file(path, &n);
	snprintf(path, sizeof(path), "%s/token", s->base);
	cJSON_AddStringToObject(j, "type", "service_account");
	cJSON_AddStringToObject(j, "client_email", EMAIL);
	cJSON_AddStringToObject(j, "private_key", (char *)pem);
	cJSON_AddStringToObject(j, "token_uri", path);
	text = cJSON_Print(j);
	out = ck_path_join(s->tmp, "key.json");
	ck_test_write_file(out, text, strlen(text));
	cJSON_free(text);
	cJSON_Delete(j);
	free(pem);
	return out;
}

/* Server and client for service-account access: the server trusts key
 * "a", the client signs with "a" (same_key) or "b". */
static void sa_setup(struct srv *s, const char *ttl, int same_key)
{
	char pub[4096], *tmp = ck_test_tmpdir(), *key;
	const char *args[] = { "--require-token", "--sa-email", EMAIL,
			       "--sa-public-key", pub, "--token-ttl", ttl, NULL };

	make_key(tmp, "a");
	if (!same_key)
		make_key(tmp, "b");
	snprintf(pub, sizeof(pub), "%s/a.pub", tmp);
	srv_start(s, args);
	s->keys = tmp;
	env_clean(s);
	key = make_key_json(s, same_key ? "a" : "b");
	setenv("GOOGLE_APPLICATION_CREDENTIALS", key, 1);
	setenv("CKPTFS_GCS_ENDPOINT", s->base, 1);
	free(key);
}

/* Open gs://bkt/ckpt/a.bin and check a range of it. */
static void check_read(void)
{
	struct rmt_obj *o = NULL;
	uint8_t *buf = malloc(BIG);

	ck_assert_msg(rmt_obj_open("gs://bkt/ckpt/a.bin", &o) == 0, "%s",
		      ck_err_msg());
	ck_assert_uint_eq(rmt_obj_size(o), BIG);
	ck_assert_str_ne(rmt_obj_version(o), "");
	ck_assert_msg(rmt_obj_pread(o, buf, BIG - 12345 - 7, 12345) == 0, "%s",
		      ck_err_msg());
	for (size_t k = 0; k < BIG - 12345 - 7; k++)
		ck_assert_uint_eq(buf[k], big_byte(12345 + k));
	rmt_obj_close(o);
	free(buf);
}

START_TEST(base64url_should_match_the_rfc4648_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba",
					   "foobar", "\xfb\xff" };
	static const char *const want[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
					     "Zm9vYmE", "Zm9vYmFy", "-_8" };

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct ck_buf b = CK_BUF_INIT;

		ck_assert_int_eq(gcs_b64url(&b, in[i], strlen(in[i])), 0);
		ck_assert_str_eq(b.len ? (char *)b.data : "", want[i]);
		ck_buf_release(&b);
	}
}
END_TEST

/* Decode one base64url part of a JWT (the test's own decoder). */
static uint8_t *b64url_dec(const char *s, size_t n, size_t *len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t *out = calloc(n + 1, 1);
	uint32_t acc = 0;
	int bits = 0;

	*len = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(abc, s[i]);

		ck_assert_msg(p && s[i], "not base64url: %c", s[i]);
		acc = acc << 6 | (uint32_t)(p - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[(*len)++] = (uint8_t)(acc >> bits);
		}
	}
	return out;
}

START_TEST(jwt_should_be_rs256_with_the_service_account_claims)
{
	char *tmp = ck_test_tmpdir(), path[4096], *jwt = NULL, *d1, *d2;
	uint8_t *pem, *part, *sig;
	size_t n, sl;
	cJSON *h, *c;
	int64_t v;

	make_key(tmp, "k");
	snprintf(path, sizeof(path), "%s/k.pem", tmp);
	pem = ck_test_read_file(path, &n);
	ck_assert_int_eq(gcs_jwt_make(EMAIL, "http://x/token", (char *)pem,
				      1700000000, &jwt), 0);
	d1 = strchr(jwt, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	ck_assert_ptr_nonnull(d2);
	part = b64url_dec(jwt, (size_t)(d1 - jwt), &n);
	ck_assert_int_eq(ck_json_parse(part, n, &h), 0);
	free(part);
	ck_assert_str_eq(cJSON_GetStringValue(ck_json_get(h, "alg")), "RS256");
	ck_assert_str_eq(cJSON_GetStringValue(ck_json_get(h, "typ")), "JWT");
	part = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), &n);
	ck_assert_int_eq(ck_json_parse(part, n, &c), 0);
	free(part);
	ck_assert_str_eq(cJSON_GetStringValue(ck_json_get(c, "iss")), EMAIL);
	ck_assert_str_eq(cJSON_GetStringValue(ck_json_get(c, "aud")), "http://x/token");
	ck_assert_str_eq(cJSON_GetStringValue(ck_json_get(c, "scope")),
			 "https://www.googleapis.com/auth/devstorage.read_only");
	ck_assert_int_eq(ck_json_get_i64(c, "iat", 0, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, 1700000000);
	ck_assert_int_eq(ck_json_get_i64(c, "exp", 0, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, 1700000000 + 3600);
	cJSON_Delete(h);
	cJSON_Delete(c);

	/* the signature verifies with the public key */
	snprintf(path, sizeof(path), "%s/k.pub", tmp);
	FILE *f = fopen(path, "r");
	EVP_PKEY *pub = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	ck_assert_ptr_nonnull(pub);
	sig = b64url_dec(d2 + 1, strlen(d2 + 1), &sl);
	ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
	ck_assert_int_eq(EVP_DigestVerify(md, sig, sl, (uint8_t *)jwt,
					  (size_t)(d2 - jwt)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	fclose(f);
	free(sig);
	free(jwt);

	/* a key OpenSSL cannot read: -EINVAL naming the email, not the key */
	ck_assert_int_eq(gcs_jwt_make(EMAIL, "a", "not-a-pem-xyzzy", 1, &jwt),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), EMAIL));
	ck_assert_ptr_null(strstr(ck_err_msg(), "xyzzy"));
	free(pem);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(service_account_should_read_stat_and_list_end_to_end)
{
	struct rmt_stat st;
	struct srv s;
	uint8_t *data = NULL;
	size_t n = 0;

	sa_setup(&s, "3600", 1);
	check_read();
	ck_assert_msg(rmt_read_all("gs://bkt/ckpt/small.json", 1000, &data, &n) == 0,
		      "%s", ck_err_msg());
	ck_assert_uint_eq(n, 11);
	ck_assert_int_eq(memcmp(data, "{\"step\": 7}", 11), 0);
	free(data);
	ck_assert_int_eq(rmt_stat("gs://bkt/ckpt", &st), 0);
	ck_assert_int_eq(st.type, RMT_DIR);
	ck_assert_int_eq(rmt_stat("gs://bkt", &st), 0);
	ck_assert_int_eq(st.type, RMT_DIR);
	ck_assert_int_eq(rmt_stat("gs://bkt/ckpt/small.json", &st), 0);
	ck_assert_int_eq(st.type, RMT_FILE);
	ck_assert_uint_eq(st.size, 11);
	ck_assert_int_eq(rmt_stat("gs://bkt/ckpt/nothing", &st), 0);
	ck_assert_int_eq(st.type, RMT_NONE);
	ck_assert_int_eq(rmt_stat("gs://nobkt/x", &st), -ENOENT);
	ck_assert_msg(strstr(ck_err_msg(), "no such bucket"), "%s", ck_err_msg());
	ck_assert_int_eq(rmt_stat("gs://nobkt", &st), -ENOENT);
	ck_assert_int_eq(rmt_read_all("gs://bkt/ckpt/gone", 1000, &data, &n), -ENOENT);
	ck_assert_msg(strstr(ck_err_msg(), "no such object"), "%s", ck_err_msg());
	ck_assert_int_eq(rmt_read_all("gs://nobkt/ckpt/gone", 1000, &data, &n), -ENOENT);
	ck_assert_msg(strstr(ck_err_msg(), "no such bucket"), "%s", ck_err_msg());
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 1);
	ck_assert_int_eq(srv_stat(&s, "unauthorized"), 0);
	srv_stop(&s);
}
END_TEST

struct seen {
	int count[64];
	int dirs, other;
};

static int list_cb(void *ctx, const char *name, int is_dir, uint64_t size)
{
	struct seen *sn = ctx;
	int i;

	if (!strcmp(name, "sub") && is_dir)
		sn->dirs++;
	else if (sscanf(name, "f%d", &i) == 1 && i >= 0 && i < 64 && !is_dir &&
		 size == (uint64_t)i + 1)
		sn->count[i]++;
	else if (sscanf(name, "d%d", &i) == 1 && i >= 0 && i < 8 && is_dir)
		sn->count[40 + i]++;
	else if (strcmp(name, "a.bin") && strcmp(name, "small.json"))
		sn->other++;
	return 0;
}

START_TEST(listing_with_small_pages_should_return_every_entry_once)
{
	static const char *const args[] = { "--page-size", "3", NULL };
	struct seen sn = { { 0 }, 0, 0 };
	char name[64], data[64] = { 0 };
	struct srv s;

	srv_start(&s, args);
	env_clean(&s);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "ckpt/f%02d", i);
		put_file(&s, name, data, (size_t)i + 1);
	}
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "ckpt/d%d/inner", i);
		put_file(&s, name, data, 1);
	}
	setenv("STORAGE_EMULATOR_HOST", s.base, 1);
	ck_assert_msg(rmt_list("gs://bkt/ckpt", list_cb, &sn) == 0, "%s",
		      ck_err_msg());
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(sn.count[i], 1);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(sn.count[40 + i], 1);
	ck_assert_int_eq(sn.dirs, 1);
	ck_assert_int_eq(sn.other, 0);
	ck_assert_int_eq(rmt_list("gs://nobkt/ckpt", list_cb, &sn), -ENOENT);
	srv_stop(&s);
}
END_TEST

START_TEST(a_rewritten_object_should_fail_the_next_read_estale)
{
	struct rmt_obj *o = NULL;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char path[4096], buf[16];
	struct srv s;

	srv_start(&s, NULL);
	env_clean(&s);
	setenv("STORAGE_EMULATOR_HOST", s.base + 7, 1); /* "host:port" */
	ck_assert_msg(rmt_obj_open("gs://bkt/ckpt/a.bin", &o) == 0, "%s",
		      ck_err_msg());
	ck_assert_int_eq(rmt_obj_pread(o, buf, sizeof(buf), 100), 0);
	snprintf(path, sizeof(path), "%s/bkt/ckpt/a.bin", s.root);
	ck_test_flip_byte(path, 100, 0xff);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	ck_assert_int_eq(rmt_obj_pread(o, buf, sizeof(buf), 100), -ESTALE);
	ck_assert_msg(strstr(ck_err_msg(), "changed since it was opened"), "%s",
		      ck_err_msg());
	rmt_obj_close(o);
	srv_stop(&s);
}
END_TEST

/* A thread's read of a range of a.bin: 0, or 1 on any failure. */
static void *read_thread(void *arg)
{
	struct rmt_obj *o = NULL;
	uint8_t buf[4096];
	size_t off = (size_t)(uintptr_t)arg * 10000;
	int bad = rmt_obj_open("gs://bkt/ckpt/a.bin", &o) != 0 ||
		  rmt_obj_pread(o, buf, sizeof(buf), off) != 0;

	for (size_t k = 0; !bad && k < sizeof(buf); k++)
		bad = buf[k] != big_byte(off + k);
	rmt_obj_close(o);
	return (void *)(uintptr_t)bad;
}

START_TEST(a_token_should_be_cached_then_refreshed_after_it_expires)
{
	struct srv s;

	/* 12 s: refreshed after 6 s (half its life), so that the first two
	 * reads share it even under valgrind */
	sa_setup(&s, "12", 1);
	check_read();
	check_read();
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 1);
	sleep(13);
	check_read();
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 2);
	ck_assert_int_eq(srv_stat(&s, "unauthorized"), 0);
	srv_stop(&s);
}
END_TEST

START_TEST(eight_first_readers_at_once_should_fetch_one_token)
{
	pthread_t t[8];
	struct srv s;

	sa_setup(&s, "3600", 1);
	for (uintptr_t i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, read_thread,
						(void *)i), 0);
	for (int i = 0; i < 8; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		ck_assert_ptr_null(bad);
	}
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 1);
	srv_stop(&s);
}
END_TEST

START_TEST(the_metadata_server_should_supply_the_token)
{
	static const char *const args[] = { "--require-token", NULL };
	char id[400];
	struct srv s;

	srv_start(&s, args);
	env_clean(&s);
	setenv("GCE_METADATA_HOST", s.base + 7, 1);
	setenv("CKPTFS_GCS_ENDPOINT", s.base, 1);
	check_read();
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 1);
	ck_assert_ptr_nonnull(strstr(gcs_auth_identity(id, sizeof(id)), "metadata server"));
	srv_stop(&s);
}
END_TEST

START_TEST(gcloud_user_credentials_should_be_refreshed_with_their_token)
{
	static const char *const args[] = { "--require-token", "--refresh-token",
					    "1//refresh-secret", NULL };
	char path[4096], text[1024], id[400];
	struct rmt_stat st;
	struct srv s;

	srv_start(&s, args);
	env_clean(&s);	/* CLOUDSDK_CONFIG=s.tmp */
	setenv("CKPTFS_GCS_ENDPOINT", s.base, 1);
	snprintf(path, sizeof(path), "%s/application_default_credentials.json",
		 s.tmp);
	snprintf(text, sizeof(text),
		 "{\"type\": \"authorized_user\", \"client_id\": \"id.apps\", "
		 "\"client_secret\": \"client-secret-x\", \"refresh_token\": "
		 "\"%s\", \"token_uri\": \"%s/token\"}", "1//refresh-secret",
		 s.base);
	ck_test_write_file(path, text, strlen(text));
	check_read();
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 1);
	ck_assert_ptr_nonnull(strstr(gcs_auth_identity(id, sizeof(id)),
				     "authorized user"));

	/* a revoked refresh token: -EACCES, no secret in the message */
	snprintf(text, sizeof(text),
		 "{\"type\": \"authorized_user\", \"client_id\": \"id.apps\", "
		 "\"client_secret\": \"client-secret-x\", \"refresh_token\": "
		 "\"1//revoked\", \"token_uri\": \"%s/token\"}", s.base);
	ck_test_write_file(path, text, strlen(text));
	gcs_auth_reset();
	ck_assert_int_eq(rmt_stat("gs://bkt/ckpt/a.bin", &st), -EACCES);
	ck_assert_msg(strstr(ck_err_msg(), "authorized user") &&
		      !strstr(ck_err_msg(), "revoked") &&
		      !strstr(ck_err_msg(), "client-secret"), "%s", ck_err_msg());
	srv_stop(&s);
}
END_TEST

START_TEST(the_emulator_should_be_used_without_credentials)
{
	struct srv s;

	srv_start(&s, NULL);
	env_clean(&s);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json", 1);
	setenv("CKPTFS_GCS_ENDPOINT", "http://127.0.0.1:1", 1);
	setenv("STORAGE_EMULATOR_HOST", s.base, 1);
	check_read();
	ck_assert_int_eq(srv_stat(&s, "authorized_requests"), 0);
	srv_stop(&s);
}
END_TEST

START_TEST(a_refused_key_should_be_eacces_naming_the_account_not_a_secret)
{
	struct rmt_obj *o = NULL;
	const char *m;
	struct srv s;

	sa_setup(&s, "3600", 0);
	ck_assert_int_eq(rmt_obj_open("gs://bkt/ckpt/a.bin", &o), -EACCES);
	m = ck_err_msg();
	ck_assert_msg(strstr(m, EMAIL), "%s", m);
	ck_assert_msg(!strstr(m, "ya29") && !strstr(m, "eyJ") &&
		      !strstr(m, "PRIVATE") && !strstr(m, "assertion"), "%s", m);
	ck_assert_int_eq(srv_stat(&s, "tokens_issued"), 0);
	srv_stop(&s);
}
END_TEST

START_TEST(no_credentials_should_be_anonymous_and_refused_as_such)
{
	static const char *const args[] = { "--require-token", NULL };
	struct rmt_stat st;
	struct srv s;

	srv_start(&s, args);
	env_clean(&s);	/* the metadata server: a closed port */
	setenv("CKPTFS_GCS_ENDPOINT", s.base, 1);
	ck_assert_int_eq(rmt_stat("gs://bkt/ckpt/a.bin", &st), -EACCES);
	ck_assert_msg(strstr(ck_err_msg(), "anonymous"), "%s", ck_err_msg());
	srv_stop(&s);
}
END_TEST

START_TEST(dropped_refused_and_stalled_media_gets_should_be_retried)
{
	struct rmt_opts o = RMT_OPTS_INIT;
	struct srv s;

	srv_start(&s, NULL);
	env_clean(&s);
	setenv("STORAGE_EMULATOR_HOST", s.base, 1);
	srv_fault(&s, "{\"mode\": \"drop\", \"count\": 2}");
	check_read();
	srv_fault(&s, "{\"mode\": \"status\", \"status\": 503, \"count\": 2}");
	check_read();
	srv_fault(&s, "{\"mode\": \"status\", \"status\": 429, \"count\": 1}");
	check_read();
	/* a transfer stalled for 8 s is tried again (curl's low-speed check
	 * averages over a few seconds: a 1 s timeout fires after ~6 s) */
	o.timeout_s = 1;
	o.connect_timeout_s = 2;
	ck_assert_int_eq(rmt_configure(&o), 0);
	srv_fault(&s, "{\"mode\": \"stall\", \"seconds\": 8, \"count\": 1}");
	check_read();
	ck_assert_int_eq(srv_stat(&s, "faults_left"), 0);
	ck_assert_int_ge(srv_stat(&s, "media_gets"), 10);
	srv_stop(&s);
}
END_TEST

/* Exit 77 unless the server can run. */
static void require_tools(void)
{
	const char *p = getenv("CKPTFS_GCS_SERVER");
	char *slash;

	/* else next to this file: .../tests/unit/../remote/gcs_server.py */
	snprintf(server_py, sizeof(server_py), "%s", p && *p ? p : __FILE__);
	slash = strrchr(server_py, '/');
	if (!(p && *p) && slash)
		snprintf(slash, sizeof(server_py) - (size_t)(slash - server_py),
			 "/../remote/gcs_server.py");
	if (access(server_py, R_OK) ||
	    system(PY " -c 'import cryptography' 2>/dev/null") ||
	    system("openssl version >/dev/null 2>&1")) {
		printf("skipped: needs %s, " PY " with cryptography, openssl\n",
		       server_py);
		exit(77);
	}
}

int main(void)
{
	Suite *s = suite_create("gcs");
	TCase *tc = tcase_create("gcs");

	require_tools();
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, base64url_should_match_the_rfc4648_vectors);
	tcase_add_test(tc, jwt_should_be_rs256_with_the_service_account_claims);
	tcase_add_test(tc, service_account_should_read_stat_and_list_end_to_end);
	tcase_add_test(tc, listing_with_small_pages_should_return_every_entry_once);
	tcase_add_test(tc, a_rewritten_object_should_fail_the_next_read_estale);
	tcase_add_test(tc, a_token_should_be_cached_then_refreshed_after_it_expires);
	tcase_add_test(tc, eight_first_readers_at_once_should_fetch_one_token);
	tcase_add_test(tc, the_metadata_server_should_supply_the_token);
	tcase_add_test(tc, gcloud_user_credentials_should_be_refreshed_with_their_token);
	tcase_add_test(tc, the_emulator_should_be_used_without_credentials);
	tcase_add_test(tc, a_refused_key_should_be_eacces_naming_the_account_not_a_secret);
	tcase_add_test(tc, no_credentials_should_be_anonymous_and_refused_as_such);
	tcase_add_test(tc, dropped_refused_and_stalled_media_gets_should_be_retried);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
