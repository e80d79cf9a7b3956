/* SPDX-License-Identifier: MIT */
/*
 * Remote sources: URL parsing, the engine's helpers, and the http(s)
 * backend against a real nginx with tests/remote/fault_proxy.py in front
 * of it, which drops connections mid-body, answers 503 or stalls on demand.
 * Every byte read is compared with the file read directly from disk.  The
 * server tests need /usr/sbin/nginx and /usr/bin/python3; without them
 * the other tests still run and the binary exits 77.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ck_test.h"
#include "remote/remote.h"
#include "remote/rmt_backend.h"
#include "remote/rmt_http.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

#define NGINX "/usr/sbin/nginx"
#define PYTHON "/usr/bin/python3"
#define BIG (20u << 20)

static char *tmp;
static pid_t ngx_pid = -1, proxy_pid = -1;
static char base[64];	/* http://127.0.0.1:PROXY */

/* ---- URLs and helpers: no server ---- */

static void url_ok(const char *s, const char *bucket, const char *key)
{
	struct rmt_url u;

	ck_assert_msg(rmt_url_parse(s, &u) == 0, "%s: %s", s, ck_err_msg());
	ck_assert_str_eq(u.bucket, bucket);
	ck_assert_str_eq(u.key, key);
	ck_assert_ptr_eq(u.text, s);
	rmt_url_release(&u);
}

START_TEST(good_urls_should_parse_into_bucket_and_key)
{
	struct rmt_url u;

	url_ok("gs://b", "b", "");
	url_ok("gs://b/", "b", "");
	url_ok("gs://b/a/c/", "b", "a/c");
	url_ok("s3://my-bucket.x/ckpt/items/d/ab12", "my-bucket.x",
	       "ckpt/items/d/ab12");
	url_ok("https://Host-1.example:8443/p/q", "https://Host-1.example:8443",
	       "p/q");
	url_ok("HTTP://h/a b/..c", "http://h", "a b/..c");
	url_ok("http://[::1]:80/x", "http://[::1]:80", "x");
	ck_assert_int_eq(rmt_url_parse("s3://b/k", &u), 0);
	ck_assert_int_eq(u.scheme, RMT_S3);
	rmt_url_release(&u);
	ck_assert_int_eq(rmt_is_url("gs://b"), 1);
	ck_assert_int_eq(rmt_is_url("https://h/x"), 1);
	ck_assert_int_eq(rmt_is_url("/tmp/gs://x"), 0);
	ck_assert_int_eq(rmt_is_url("ftp://h/x"), 0);
}
END_TEST

START_TEST(bad_urls_should_be_einval_without_their_secrets)
{
	static const char *bad[] = {
		"gs://", "gs:///k", "gs://b//", "gs://b/a//c", "gs://b/./a",
		"gs://b/a/..", "gs://b/a/../c", "ftp://h/x", "gs://b\\x/k",
		"http://h:abc/x", "http://:80/x", "gs://b/a\x01",
		"https://user:SECRET@h/x", "https://h/x?sig=SECRET",
		"https://h/x#SECRET",
	};
	struct rmt_url u;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(rmt_url_parse(bad[i], &u) == -EINVAL, "%s",
			      bad[i]);
		ck_assert_ptr_null(strstr(ck_err_msg(), "SECRET"));
	}
}
END_TEST

START_TEST(url_for_msg_should_drop_query_fragment_and_userinfo)
{
	char b[128];

	ck_assert_str_eq(http_url_for_msg("https://h/p?X-Amz-Signature=ab#f",
					  b, sizeof(b)), "https://h/p");
	ck_assert_str_eq(http_url_for_msg("https://u:pw@h:1/p?q", b,
					  sizeof(b)), "https://h:1/p");
	ck_assert_str_eq(http_url_for_msg("http://h", b, sizeof(b)),
			 "http://h");
	ck_assert_str_eq(http_url_for_msg("https://h/abcdef", b, 12),
			 "https://h/a");
}
END_TEST

START_TEST(escape_should_keep_unreserved_and_optionally_slash)
{
	struct ck_buf b = CK_BUF_INIT;

	ck_assert_int_eq(http_escape(&b, "a b/c~d%_.-\xff", 12, 1), 0);
	ck_assert_str_eq((char *)b.data, "a%20b/c~d%25_.-%FF");
	ck_buf_release(&b);
	ck_assert_int_eq(http_escape(&b, "a/b", 3, 0), 0);
	ck_assert_str_eq((char *)b.data, "a%2Fb");
	ck_buf_release(&b);
}
END_TEST

START_TEST(headers_should_be_replaced_by_name_and_refuse_newlines)
{
	struct http_req r = { 0 };

	ck_assert_int_eq(http_req_header(&r, "Authorization: %s", "a"), 0);
	ck_assert_int_eq(http_req_header(&r, "X-A: 1"), 0);
	ck_assert_int_eq(http_req_set_header(&r, "authorization",
					     "Authorization: %s", "b"), 0);
	ck_assert_str_eq(r.headers->data, "X-A: 1");
	ck_assert_str_eq(r.headers->next->data, "Authorization: b");
	ck_assert_ptr_null(r.headers->next->next);
	ck_assert_int_eq(http_req_header(&r, "X-B: 1\r\nX-C: 2"), -EINVAL);
	http_req_release(&r);
}
END_TEST

START_TEST(configure_should_refuse_bad_values_and_unreadable_tokens)
{
	struct rmt_opts o = RMT_OPTS_INIT;

	o.retries = -2;
	ck_assert_int_eq(rmt_configure(&o), -EINVAL);
	o.retries = -1;
	o.concurrency = 100000;
	ck_assert_int_eq(rmt_configure(&o), -EINVAL);
	o.concurrency = 0;
	o.http_token_file = "/nonexistent/token";
	ck_assert_int_eq(rmt_configure(&o), -EIO);
	o.http_token_file = NULL;
	ck_assert_int_eq(rmt_configure(&o), 0);
}
END_TEST

/* ---- the servers ---- */

static uint8_t big_byte(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15u;

	x ^= x >> 29;
	return (uint8_t)(x * 0xbf58476d1ce4e5b9u >> 56);
}

static char *root_file(const char *name)
{
	char *p = NULL;

	ck_assert_int_gt(asprintf(&p, "%s/root/%s", tmp, name), 0);
	return p;
}

static void write_root(const char *name, const void *p, size_t n)
{
	char *f = root_file(name);

	ck_test_write_file(f, p, n);
	free(f);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static int port_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static void start_nginx(void)
{
	char *conf = NULL, *p = NULL;
	int port = free_port();
	FILE *f;

	ck_assert_int_gt(asprintf(&conf, "%s/nginx.conf", tmp), 0);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "daemon off;\n%spid %s/nginx.pid;\nerror_log %s/error.log;\n"
		"worker_processes 2;\nevents {}\nhttp {\n access_log off;\n"
		" client_body_temp_path %s/t1; proxy_temp_path %s/t2;\n"
		" fastcgi_temp_path %s/t3; uwsgi_temp_path %s/t4;\n"
		" scgi_temp_path %s/t5;\n"
		" server { listen 127.0.0.1:%d; root %s/root; }\n}\n",
		geteuid() == 0 ? "user root;\n" : "", tmp, tmp, tmp, tmp, tmp,
		tmp, tmp, port, tmp);
	fclose(f);
	ck_assert_int_gt(asprintf(&p, "%s/error.log", tmp), 0);
	ngx_pid = fork();
	ck_assert_int_ge(ngx_pid, 0);
	if (ngx_pid == 0) {
		execl(NGINX, NGINX, "-p", tmp, "-c", conf, "-e", p, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !port_open(port); i++)
		usleep(10000);
	ck_assert_msg(port_open(port), "nginx did not start (see %s)", p);
	free(conf);
	free(p);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
}

/* The proxy in front of nginx; base becomes its URL. */
static void start_proxy(void)
{
	char script[4096], line[32] = "", *dir;
	int fd[2];
	FILE *f;

	dir = strdup(__FILE__);
	snprintf(script, sizeof(script), "%s/../remote/fault_proxy.py",
		 strrchr(dir, '/') ? (*strrchr(dir, '/') = '\0', dir) : ".");
	free(dir);
	ck_assert_int_eq(pipe(fd), 0);
	proxy_pid = fork();
	ck_assert_int_ge(proxy_pid, 0);
	if (proxy_pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execl(PYTHON, PYTHON, script, "--upstream", base, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	ck_assert_msg(fgets(line, sizeof(line), f) != NULL,
		      "fault_proxy.py did not start (%s)", script);
	fclose(f);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", atoi(line));
}

static void servers_start(void)
{
	uint8_t *b = malloc(BIG);
	char *d = NULL;

	tmp = ck_test_tmpdir();
	ck_assert_int_gt(asprintf(&d, "%s/root", tmp), 0);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < BIG; i++)
		b[i] = big_byte(i);
	write_root("big.bin", b, BIG);
	free(b);
	start_nginx();
	start_proxy();
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

static void servers_stop(void)
{
	stop(&proxy_pid);
	stop(&ngx_pid);
	if (tmp)
		ck_test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
}

/* Arm a fault in the proxy (its own client: not the code under test). */
static void fault(const char *query)
{
	char url[256];
	long status = 0;
	CURL *c = curl_easy_init();
	FILE *null = fopen("/dev/null", "w");

	snprintf(url, sizeof(url), "%s/__fault?%s", base, query);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ck_assert_int_eq(status, 200);
	curl_easy_cleanup(c);
	fclose(null);
}

static void configure(unsigned timeout_s, int retries, const char *token)
{
	struct rmt_opts o = RMT_OPTS_INIT;

	o.concurrency = 4;
	o.timeout_s = timeout_s;
	o.connect_timeout_s = 2;
	o.retries = retries;
	o.http_token_file = token;
	ck_assert_msg(rmt_configure(&o) == 0, "%s", ck_err_msg());
	fault("mode=none");
}

static char *url_of(const char *name)
{
	char *u = NULL;

	ck_assert_int_gt(asprintf(&u, "%s/%s", base, name), 0);
	return u;
}

/* Read all of big.bin through o and compare it with the file. */
static void read_big_and_compare(struct rmt_obj *o)
{
	char *f = root_file("big.bin");
	size_t n;
	uint8_t *want = ck_test_read_file(f, &n), *got = malloc(BIG);

	ck_assert_uint_eq(n, BIG);
	ck_assert_ptr_nonnull(got);
	memset(got, 0xa5, BIG);
	ck_assert_msg(rmt_obj_pread(o, got, BIG, 0) == 0, "%s", ck_err_msg());
	ck_assert(memcmp(got, want, BIG) == 0);
	ck_assert_msg(rmt_obj_pread(o, got, 1000, 12345) == 0, "%s",
		      ck_err_msg());
	ck_assert(memcmp(got, want + 12345, 1000) == 0);
	free(got);
	free(want);
	free(f);
}

static struct rmt_obj *open_obj(const char *name)
{
	struct rmt_obj *o = NULL;
	char *u = url_of(name);

	ck_assert_msg(rmt_obj_open(u, &o) == 0, "%s", ck_err_msg());
	free(u);
	return o;
}

START_TEST(a_20mib_object_should_read_back_byte_exact)
{
	struct rmt_obj *o;
	uint8_t b[4];

	configure(5, -1, NULL);
	o = open_obj("big.bin");
	ck_assert_uint_eq(rmt_obj_size(o), BIG);
	ck_assert_str_ne(rmt_obj_version(o), "");
	read_big_and_compare(o);
	rmt_obj_prefetch(o, 0, BIG);	/* through the readahead too */
	read_big_and_compare(o);
	ck_assert_int_eq(rmt_obj_pread(o, b, 4, BIG - 3), -EIO);
	rmt_obj_close(o);
}
END_TEST

START_TEST(reads_should_resume_after_connections_dropped_mid_body)
{
	struct rmt_counters c0, c1;
	struct rmt_obj *o;

	configure(5, -1, NULL);
	o = open_obj("big.bin");
	rmt_get_counters(&c0);
	fault("mode=drop&count=2&after=1048576");
	read_big_and_compare(o);
	rmt_get_counters(&c1);
	ck_assert_uint_ge(c1.retries - c0.retries, 2);
	ck_assert_uint_eq(c1.failures, c0.failures);
	rmt_obj_close(o);
}
END_TEST

START_TEST(reads_should_be_retried_after_three_503s)
{
	struct rmt_counters c0, c1;
	struct rmt_obj *o;

	configure(5, -1, NULL);
	o = open_obj("big.bin");
	rmt_get_counters(&c0);
	fault("mode=status&count=3&code=503&retry_after=0");
	read_big_and_compare(o);
	rmt_get_counters(&c1);
	ck_assert_uint_ge(c1.retries - c0.retries, 3);
	rmt_obj_close(o);
}
END_TEST

START_TEST(a_missing_object_should_be_enoent)
{
	struct rmt_obj *o = NULL;
	struct rmt_stat st;
	uint8_t *d = NULL;
	size_t n;
	char *u = url_of("nope/x.bin");

	configure(5, -1, NULL);
	ck_assert_int_eq(rmt_obj_open(u, &o), -ENOENT);
	ck_assert_int_eq(rmt_read_all(u, 100, &d, &n), -ENOENT);
	ck_assert_int_eq(rmt_stat(u, &st), 0);
	ck_assert_int_eq(st.type, RMT_MAYBE_DIR);
	ck_assert_int_eq(rmt_list(u, NULL, NULL), -ENOTSUP);
	free(u);
}
END_TEST

START_TEST(read_all_should_fetch_small_objects_and_refuse_big_ones)
{
	uint8_t *d = NULL;
	size_t n = 0;
	char *u = url_of("small.txt");

	configure(5, -1, NULL);
	write_root("small.txt", "hello remote\n", 13);
	ck_assert_msg(rmt_read_all(u, 100, &d, &n) == 0, "%s", ck_err_msg());
	ck_assert_uint_eq(n, 13);
	ck_assert_str_eq((char *)d, "hello remote\n");
	free(d);
	ck_assert_int_eq(rmt_read_all(u, 12, &d, &n), -EFBIG);
	free(u);
}
END_TEST

START_TEST(an_object_replaced_after_open_should_fail_estale)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
	uint8_t a[65536], b[65536];
	struct rmt_obj *o;
	char *f;

	configure(5, -1, NULL);
	memset(a, 'a', sizeof(a));
	write_root("swap.bin", a, sizeof(a));
	o = open_obj("swap.bin");
	memset(b, 'b', sizeof(b));
	write_root("swap.bin", b, sizeof(b)); /* same size, new ETag: */
	f = root_file("swap.bin");
	ts[1].tv_sec = time(NULL) + 100;
	ck_assert_int_eq(utimensat(AT_FDCWD, f, ts, 0), 0);
	ck_assert_int_eq(rmt_obj_pread(o, a, sizeof(a), 0), -ESTALE);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "changed since"));
	rmt_obj_close(o);
	free(f);
}
END_TEST

START_TEST(a_stall_past_the_timeout_should_fail_etimedout_quickly)
{
	struct timespec t0, t1;
	uint8_t b[4096];
	struct rmt_obj *o;
	double s;

	configure(1, 0, NULL);
	write_root("stall.bin", "0123456789", 10);
	o = open_obj("stall.bin");
	fault("mode=stall&count=1&seconds=6");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(rmt_obj_pread(o, b, 10, 0), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(s < 4.0, "took %.1f s", s);
	rmt_obj_close(o);
}
END_TEST

START_TEST(a_403_should_name_the_token_file_but_never_the_token)
{
	struct rmt_obj *o = NULL;
	char *tok = NULL, *u = url_of("big.bin");

	ck_assert_int_gt(asprintf(&tok, "%s/token", tmp), 0);
	ck_test_write_file(tok, "s3kr1t-token\n", 13);
	configure(5, -1, tok);
	fault("mode=status&count=1&code=403&retry_after=-1");
	ck_assert_int_eq(rmt_obj_open(u, &o), -EACCES);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), tok));
	ck_assert_ptr_null(strstr(ck_err_msg(), "s3kr1t"));
	/* the token does not stop nginx from serving */
	ck_assert_msg(rmt_obj_open(u, &o) == 0, "%s", ck_err_msg());
	rmt_obj_close(o);
	free(tok);
	free(u);
}
END_TEST

START_TEST(a_refused_connection_should_be_ehostunreach)
{
	struct rmt_obj *o = NULL;
	char u[64];

	configure(5, 0, NULL);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", free_port());
	ck_assert_int_eq(rmt_obj_open(u, &o), -EHOSTUNREACH);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "127.0.0.1"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("remote");
	TCase *tc = tcase_create("urls");
	TCase *srv = tcase_create("http");
	int have = access(NGINX, X_OK) == 0 && access(PYTHON, X_OK) == 0;
	int rc;

	tcase_add_test(tc, good_urls_should_parse_into_bucket_and_key);
	tcase_add_test(tc, bad_urls_should_be_einval_without_their_secrets);
	tcase_add_test(tc, url_for_msg_should_drop_query_fragment_and_userinfo);
	tcase_add_test(tc, escape_should_keep_unreserved_and_optionally_slash);
	tcase_add_test(tc,
		       headers_should_be_replaced_by_name_and_refuse_newlines);
	tcase_add_test(tc,
		       configure_should_refuse_bad_values_and_unreadable_tokens);
	suite_add_tcase(s, tc);
	if (have) {
		tcase_set_timeout(srv, 60);
		tcase_add_unchecked_fixture(srv, servers_start, servers_stop);
		tcase_add_test(srv, a_20mib_object_should_read_back_byte_exact);
		tcase_add_test(srv,
			       reads_should_resume_after_connections_dropped_mid_body);
		tcase_add_test(srv, reads_should_be_retried_after_three_503s);
		tcase_add_test(srv, a_missing_object_should_be_enoent);
		tcase_add_test(srv,
			       read_all_should_fetch_small_objects_and_refuse_big_ones);
		tcase_add_test(srv,
			       an_object_replaced_after_open_should_fail_estale);
		tcase_add_test(srv,
			       a_stall_past_the_timeout_should_fail_etimedout_quickly);
		tcase_add_test(srv,
			       a_403_should_name_the_token_file_but_never_the_token);
		tcase_add_test(srv, a_refused_connection_should_be_ehostunreach);
		suite_add_tcase(s, srv);
	}
	rc = ck_test_run(s);
	if (rc == 0 && !have) {
		printf("skipped: the server tests need %s and %s\n", NGINX,
		       PYTHON);
		return 77;
	}
	return rc;
}
