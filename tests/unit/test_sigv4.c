/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for AWS Signature Version 4 (remote/rmt_sigv4.c) and the AWS
 * credentials lookup (remote/rmt_aws_cred.c).
 *
 * The requests are those of AWS's Signature Version 4 test suite
 * (aws-sig-v4-test-suite: 20150830T123600Z, us-east-1, service "service")
 * and of the S3 API reference's examples ("Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk"); their
 * published canonical requests and signed-header lists are checked as
 * published.  The signatures are checked against botocore's, an
 * independent implementation (tests/tools/sigv4_ref.py, which gives AWS's
 * published signatures for AWS's example keys), with a secret the test
 * makes when it runs: no key is kept in the tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck_test.h"
#include "remote/rmt_aws_cred.h"
#include "remote/rmt_sigv4.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define SUITE_KEY "ID-SUITE"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "example.amazonaws.com"
#define SUITE_AUTHZ "AWS4-HMAC-SHA256 Credential=ID-SUITE/20150830/us-east-1/service/aws4_request, "

#define S3_KEY "ID-S3"
#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"

/*
 * One case: the request as signed, and the published Authorization up to
 * its signature (for the S3 examples, NULL).  The signatures themselves are
 * checked against botocore's (tests/tools/sigv4_ref.py), with a secret the
 * test makes when it runs: no key is kept in the tree.
 */
struct vec {
	const char *name;
	const char *method;
	const char *path;	/* encoded */
	const char *query;	/* encoded, in the order sent */
	struct sigv4_hdr hdrs[6];
	size_t n_hdrs;
	const char *payload_hash;
	const char *authz;
};

static const struct vec suite[] = {
	{ "get-vanilla", "GET", "/", NULL,
	  { { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 2,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;x-amz-date, " },
	{ "get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1",
	  { { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 2,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;x-amz-date, " },
	{ "get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1",
	  { { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 2,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;x-amz-date, " },
	{ "get-vanilla-query-unreserved", "GET", "/",
	  "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
	  "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	  { { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 2,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;x-amz-date, " },
	{ "get-space", "GET", "/example%20space/", NULL,
	  { { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 2,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;x-amz-date, " },
	{ "get-header-key-duplicate", "GET", "/", NULL,
	  { { "Host", SUITE_HOST }, { "My-Header1", "value2" },
	    { "My-Header1", "value2" }, { "My-Header1", "value1" },
	    { "X-Amz-Date", SUITE_DATE } }, 5,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;my-header1;x-amz-date, " },
	{ "get-header-value-multiline", "GET", "/", NULL,
	  { { "Host", SUITE_HOST }, { "My-Header1", "value1\n  value2\n     value3" },
	    { "X-Amz-Date", SUITE_DATE } }, 3,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;my-header1;x-amz-date, " },
	{ "get-header-value-trim", "GET", "/", NULL,
	  { { "Host", SUITE_HOST }, { "My-Header1", " value1" },
	    { "My-Header2", " \"a   b   c\"" }, { "X-Amz-Date", SUITE_DATE } }, 4,
	  SIGV4_EMPTY_SHA256, SUITE_AUTHZ "SignedHeaders=host;my-header1;my-header2;x-amz-date, " },
	{ "post-x-www-form-urlencoded", "POST", "/", NULL,
	  { { "Content-Type", "application/x-www-form-urlencoded" },
	    { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 3,
	  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	  SUITE_AUTHZ "SignedHeaders=content-type;host;x-amz-date, " },
};

/* The S3 API reference's examples (Range is signed in the GET Object one). */
static const struct vec s3_docs[] = {
	{ "GET Object", "GET", "/test.txt", NULL,
	  { { "Host", S3_HOST }, { "Range", "bytes=0-9" },
	    { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
	    { "x-amz-date", S3_DATE } }, 4, SIGV4_EMPTY_SHA256,
	  NULL },
	{ "GET Bucket Lifecycle", "GET", "/", "lifecycle",
	  { { "Host", S3_HOST }, { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
	    { "x-amz-date", S3_DATE } }, 3, SIGV4_EMPTY_SHA256,
	  NULL },
	{ "GET Bucket (List Objects)", "GET", "/", "prefix=J&max-keys=2",
	  { { "Host", S3_HOST }, { "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
	    { "x-amz-date", S3_DATE } }, 3, SIGV4_EMPTY_SHA256,
	  NULL },
};

static struct sigv4_req vec_req(const struct vec *v, const char *date,
				const char *service)
{
	return (struct sigv4_req){
		.method = v->method, .path = v->path, .query = v->query,
		.hdrs = v->hdrs, .n_hdrs = v->n_hdrs,
		.payload_hash = v->payload_hash, .amz_date = date,
		.region = "us-east-1", .service = service,
	};
}

/* ---- the reference: botocore, with a secret made now ---- */

static char secret[41];		/* hex, made by make_secret() */

static void make_secret(void)
{
	uint8_t b[20];
	FILE *f = fopen("/dev/urandom", "rb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(b, 1, sizeof(b), f), sizeof(b));
	fclose(f);
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(secret + 2 * i, 3, "%02x", b[i]);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* The hex signature botocore computes for q (host, key, the secret), in
 * sig[65] (tests/tools/sigv4_ref.py, an implementation independent of the
 * signer under test). */
static void ref_signature(const struct sigv4_req *q, const char *host,
			  const char *key, char sig[65])
{
	char *dir = strdup(__FILE__), *slash, cmd[2048], in[64], out[64];
	char tmpl[] = "/tmp/ckptfs-sigv4-XXXXXX";
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(in, sizeof(in), "%s/in", tmpl);
	snprintf(out, sizeof(out), "%s/out", tmpl);
	f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"method\":", f);
	json_str(f, q->method);
	fputs(",\"host\":", f);
	json_str(f, host);
	fputs(",\"path\":", f);
	json_str(f, q->path);
	fputs(",\"query\":", f);
	if (q->query)
		json_str(f, q->query);
	else
		fputs("null", f);
	fputs(",\"headers\":[", f);
	for (size_t i = 0; i < q->n_hdrs; i++) {
		fputs(i ? ",[" : "[", f);
		json_str(f, q->hdrs[i].name);
		fputc(',', f);
		json_str(f, q->hdrs[i].value);
		fputc(']', f);
	}
	fputs("],\"payload_hash\":", f);
	json_str(f, q->payload_hash);
	fputs(",\"date\":", f);
	json_str(f, q->amz_date);
	fputs(",\"region\":", f);
	json_str(f, q->region);
	fputs(",\"service\":", f);
	json_str(f, q->service);
	fputs(",\"key\":", f);
	json_str(f, key);
	fputs(",\"secret\":", f);
	json_str(f, secret);
	fputs("}\n", f);
	fclose(f);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/../tools/sigv4_ref.py <%s >%s",
		 slash ? dir : ".", in, out);
	ck_assert_msg(system(cmd) == 0, "%s failed (python3-botocore is needed)", cmd);
	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(sig, 65, f));
	fclose(f);
	ck_assert_uint_eq(strlen(sig), 64);
	unlink(in);
	unlink(out);
	rmdir(tmpl);
	free(dir);
}

/* Sign q with key and the secret: the Authorization starts with prefix
 * (when given) and its signature is botocore's. */
static void check_signed(const char *name, const struct sigv4_req *q,
			 const char *host, const char *key, const char *prefix)
{
	struct ck_buf out = CK_BUF_INIT;
	char want[65];
	const char *sig;

	ck_assert_msg(sigv4_authorization(q, key, secret, &out) == 0, "%s: %s",
		      name, ck_err_msg());
	if (prefix)
		ck_assert_msg(!strncmp((char *)out.data, prefix, strlen(prefix)),
			      "%s:\n got %s\nwant %s...", name, (char *)out.data, prefix);
	sig = strstr((char *)out.data, "Signature=");
	ck_assert_ptr_nonnull(sig);
	ref_signature(q, host, key, want);
	ck_assert_msg(!strcmp(sig + 10, want), "%s: got %s, botocore %s", name,
		      sig + 10, want);
	ck_buf_release(&out);
}

START_TEST(sign_should_match_the_published_test_suite)
{
	const struct vec *v = &suite[_i];
	struct sigv4_req q = vec_req(v, SUITE_DATE, "service");

	make_secret();
	check_signed(v->name, &q, SUITE_HOST, SUITE_KEY, v->authz);
}
END_TEST

START_TEST(sign_should_match_the_s3_reference_examples)
{
	const struct vec *v = &s3_docs[_i];
	struct sigv4_req q = vec_req(v, S3_DATE, "s3");

	make_secret();
	check_signed(v->name, &q, S3_HOST, S3_KEY,
		     "AWS4-HMAC-SHA256 Credential=ID-S3/20130524/"
		     "us-east-1/s3/aws4_request");
}
END_TEST

START_TEST(canonical_request_should_be_the_published_one)
{
	struct sigv4_req q = vec_req(&suite[0], SUITE_DATE, "service");
	struct ck_buf out = CK_BUF_INIT;

	ck_assert_int_eq(sigv4_canonical_request(&q, &out), 0);
	ck_assert_str_eq((char *)out.data,
		"GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
		"\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256);
	ck_buf_release(&out);
	q = vec_req(&s3_docs[0], S3_DATE, "s3");
	ck_assert_int_eq(sigv4_canonical_request(&q, &out), 0);
	ck_assert_str_eq((char *)out.data,
		"GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
		"range:bytes=0-9\nx-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\n"
		"x-amz-date:20130524T000000Z\n\n"
		"host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
	ck_buf_release(&out);
}
END_TEST

/* UTF-8 in a path and a query, encoded by the signer's own encoder. */
START_TEST(encode_should_give_the_suite_utf8_cases)
{
	struct vec v = { "get-utf8", "GET", NULL, NULL,
			 { { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE } }, 2,
			 SIGV4_EMPTY_SHA256, NULL };
	struct ck_buf path = CK_BUF_INIT, query = CK_BUF_INIT;
	struct sigv4_req q;

	ck_assert_int_eq(sigv4_encode(&path, "/\xe1\x88\xb4", 4, 1), 0);
	ck_assert_str_eq((char *)path.data, "/%E1%88%B4");
	v.path = (char *)path.data;
	q = vec_req(&v, SUITE_DATE, "service");
	make_secret();
	check_signed("get-utf8", &q, SUITE_HOST, SUITE_KEY,
		     SUITE_AUTHZ "SignedHeaders=host;x-amz-date, ");

	ck_assert_int_eq(sigv4_query_add(&query, "\xe1\x88\xb4", "bar"), 0);
	ck_assert_str_eq((char *)query.data, "%E1%88%B4=bar");
	v.path = "/";
	v.query = (char *)query.data;
	q = vec_req(&v, SUITE_DATE, "service");
	make_secret();
	check_signed("get-utf8", &q, SUITE_HOST, SUITE_KEY,
		     SUITE_AUTHZ "SignedHeaders=host;x-amz-date, ");
	ck_buf_release(&path);
	ck_buf_release(&query);
}
END_TEST

START_TEST(encode_should_keep_only_unreserved_bytes)
{
	struct ck_buf b = CK_BUF_INIT;

	ck_assert_int_eq(sigv4_encode(&b, "a b+c/\xc3\xa9~*=&%", 13, 0), 0);
	ck_assert_str_eq((char *)b.data, "a%20b%2Bc%2F%C3%A9~%2A%3D%26%25");
	ck_buf_release(&b);
	ck_assert_int_eq(sigv4_encode(&b, "dir/sub dir/x.bin", 17, 1), 0);
	ck_assert_str_eq((char *)b.data, "dir/sub%20dir/x.bin");
	ck_buf_release(&b);
}
END_TEST

START_TEST(canonical_query_should_sort_and_add_missing_equals)
{
	struct ck_buf q = CK_BUF_INIT, c = CK_BUF_INIT;

	ck_assert_int_eq(sigv4_query_add(&q, "list-type", "2"), 0);
	ck_assert_int_eq(sigv4_query_add(&q, "prefix", "a/b c/"), 0);
	ck_assert_int_eq(sigv4_query_add(&q, "delimiter", "/"), 0);
	ck_assert_int_eq(sigv4_query_add(&q, "continuation-token", "1+x=="), 0);
	ck_assert_str_eq((char *)q.data, "list-type=2&prefix=a%2Fb%20c%2F&"
			 "delimiter=%2F&continuation-token=1%2Bx%3D%3D");
	ck_assert_int_eq(sigv4_canonical_query((char *)q.data, &c), 0);
	ck_assert_str_eq((char *)c.data, "continuation-token=1%2Bx%3D%3D&"
			 "delimiter=%2F&list-type=2&prefix=a%2Fb%20c%2F");
	ck_buf_release(&c);
	/* A bare name gets its '='; "a" sorts before "a-b" and "B" before "a". */
	ck_assert_int_eq(sigv4_canonical_query("b&a-b=1&a=2&&B=3&a=1", &c), 0);
	ck_assert_str_eq((char *)c.data, "B=3&a=1&a=2&a-b=1&b=");
	ck_buf_release(&c);
	ck_assert_int_eq(sigv4_canonical_query(NULL, &c), 0);
	ck_assert_str_eq((char *)c.data, "");
	ck_buf_release(&c);
	ck_buf_release(&q);
}
END_TEST

START_TEST(sign_should_refuse_a_bad_date)
{
	struct sigv4_req q = vec_req(&suite[0], "2015-08-30", "service");
	struct ck_buf out = CK_BUF_INIT;
	char d[SIGV4_DATE_LEN + 1];

	make_secret();
	ck_assert_int_eq(sigv4_authorization(&q, SUITE_KEY, secret, &out), -EINVAL);
	ck_assert_ptr_null(strstr(ck_err_msg(), secret));
	ck_buf_release(&out);
	sigv4_amz_date(1440938160, d);	/* 2015-08-30 12:36:00 UTC */
	ck_assert_str_eq(d, SUITE_DATE);
}
END_TEST

/* ---- credentials ---- */

static char *home;

static void cred_setup(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	home = ck_test_tmpdir();
	setenv("HOME", home, 1);
}

static void cred_teardown(void)
{
	ck_test_rmtree(home);
	free(home);
}

static void put(const char *rel, const char *text)
{
	char *p = ck_path_join(home, rel);

	ck_test_write_file(p, text, strlen(text));
	free(p);
}

/* The secrets of the test's credential files, made when it runs. */
static char sec_default[64], sec_dev[64], sec_cfg[64];

static void put_aws_files(void)
{
	char *d = ck_path_join(home, ".aws"), text[1024];

	ck_assert_int_eq(mkdir(d, 0700), 0);
	free(d);
	make_secret();
	snprintf(sec_default, sizeof(sec_default), "%s-default", secret);
	snprintf(sec_dev, sizeof(sec_dev), "%s-dev", secret);
	snprintf(sec_cfg, sizeof(sec_cfg), "%s-cfg", secret);
	snprintf(text, sizeof(text),
		 "# comment\n"
		 "[default]\n"
		 "aws_access_key_id = ID-DEFAULT\n"
		 "aws_secret_access_key = %s\n"
		 "\n"
		 "[dev]\n"
		 "aws_access_key_id=ID-DEV\n"
		 "aws_secret_access_key=%s\n"
		 "aws_session_token = token-dev\n"
		 "[half]\n"
		 "aws_access_key_id = ID-HALF\n", sec_default, sec_dev);
	put(".aws/credentials", text);
	snprintf(text, sizeof(text),
		 "[default]\n"
		 "region = eu-west-1\n"
		 "[profile dev]\n"
		 "s3 =\n"
		 "  region = nested-not-this\n"
		 "region = ap-south-1\n"
		 "[profile cfgonly]\n"
		 "aws_access_key_id = ID-CFG\n"
		 "aws_secret_access_key = %s\n", sec_cfg);
	put(".aws/config", text);
}

START_TEST(cred_should_be_anonymous_without_env_or_files)
{
	struct aws_cred c = AWS_CRED_INIT;

	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_ptr_null(c.key_id);
	ck_assert_ptr_null(c.secret);
	ck_assert_str_eq(c.region, "us-east-1");
	ck_assert_ptr_null(c.endpoint);
	aws_cred_release(&c);
}
END_TEST

START_TEST(cred_should_read_the_default_and_named_profiles)
{
	struct aws_cred c = AWS_CRED_INIT;

	put_aws_files();
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.key_id, "ID-DEFAULT");
	ck_assert_str_eq(c.secret, sec_default);
	ck_assert_ptr_null(c.token);
	ck_assert_str_eq(c.region, "eu-west-1");
	ck_assert_str_eq(c.from, "credentials file");
	aws_cred_release(&c);

	setenv("AWS_PROFILE", "dev", 1);
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.key_id, "ID-DEV");
	ck_assert_str_eq(c.secret, sec_dev);
	ck_assert_str_eq(c.token, "token-dev");
	ck_assert_str_eq(c.region, "ap-south-1");
	aws_cred_release(&c);

	setenv("AWS_PROFILE", "cfgonly", 1);
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.key_id, "ID-CFG");
	ck_assert_str_eq(c.from, "config file");
	ck_assert_str_eq(c.region, "us-east-1");
	aws_cred_release(&c);

	setenv("AWS_PROFILE", "nosuch", 1);
	ck_assert_int_eq(aws_cred_load(&c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "'nosuch'"));

	setenv("AWS_PROFILE", "half", 1);
	ck_assert_int_eq(aws_cred_load(&c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "ID-HALF"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "aws_secret_access_key"));
	ck_assert_ptr_null(c.key_id);
}
END_TEST

START_TEST(cred_env_should_win_over_files)
{
	struct aws_cred c = AWS_CRED_INIT;

	put_aws_files();
	setenv("AWS_ACCESS_KEY_ID", "ID-ENV", 1);
	make_secret();
	setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	setenv("AWS_SESSION_TOKEN", "token-env", 1);
	setenv("AWS_DEFAULT_REGION", "us-west-2", 1);
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.key_id, "ID-ENV");
	ck_assert_str_eq(c.secret, secret);
	ck_assert_str_eq(c.token, "token-env");
	ck_assert_str_eq(c.region, "us-west-2");
	ck_assert_str_eq(c.from, "environment");
	aws_cred_release(&c);

	setenv("AWS_REGION", "ca-central-1", 1);
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.region, "ca-central-1");
	aws_cred_release(&c);

	unsetenv("AWS_SECRET_ACCESS_KEY");
	ck_assert_int_eq(aws_cred_load(&c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "AWS_SECRET_ACCESS_KEY"));
	ck_assert_ptr_null(strstr(ck_err_msg(), "token-env"));
}
END_TEST

START_TEST(cred_should_honour_the_file_variables_and_endpoints)
{
	struct aws_cred c = AWS_CRED_INIT;

	char text[128];

	make_secret();
	snprintf(text, sizeof(text), "[default]\naws_access_key_id = ID-ELSE\n"
		 "aws_secret_access_key = %s\n", secret);
	put("elsewhere", text);
	put("cfg", "[default]\nregion = sa-east-1\n");
	{
		char *p = ck_path_join(home, "elsewhere"), *q = ck_path_join(home, "cfg");

		setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
		setenv("AWS_CONFIG_FILE", q, 1);
		free(p);
		free(q);
	}
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4568//", 1);
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.key_id, "ID-ELSE");
	ck_assert_str_eq(c.region, "sa-east-1");
	ck_assert_str_eq(c.endpoint, "http://127.0.0.1:4568");
	aws_cred_release(&c);

	setenv("AWS_ENDPOINT_URL_S3", "https://minio.local/s3", 1);
	ck_assert_int_eq(aws_cred_load(&c), 0);
	ck_assert_str_eq(c.endpoint, "https://minio.local/s3");
	aws_cred_release(&c);

	setenv("AWS_ENDPOINT_URL_S3", "ftp://x", 1);
	ck_assert_int_eq(aws_cred_load(&c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "AWS_ENDPOINT_URL_S3"));
}
END_TEST

START_TEST(ini_should_find_keys_in_their_section_only)
{
	static const char t[] = "k = top\n[a]\n ; c\nk = 1\n[ b ]\nk=  two words  \n"
				"x =\n  k = nested\n[c]\nk\n";
	char *v = NULL;

	ck_assert_int_eq(aws_ini_get(t, sizeof(t) - 1, "a", "k", &v), 1);
	ck_assert_str_eq(v, "1");
	free(v);
	ck_assert_int_eq(aws_ini_get(t, sizeof(t) - 1, "b", "k", &v), 1);
	ck_assert_str_eq(v, "two words");
	free(v);
	ck_assert_int_eq(aws_ini_get(t, sizeof(t) - 1, "c", "k", &v), 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(aws_ini_get(t, sizeof(t) - 1, "d", "k", &v), 0);
	ck_assert_int_eq(aws_ini_has_section(t, sizeof(t) - 1, "b"), 1);
	ck_assert_int_eq(aws_ini_has_section(t, sizeof(t) - 1, "d"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sigv4");
	TCase *tc = tcase_create("sigv4");
	TCase *tcc = tcase_create("aws_cred");

	tcase_add_loop_test(tc, sign_should_match_the_published_test_suite, 0,
			    (int)(sizeof(suite) / sizeof(suite[0])));
	tcase_add_loop_test(tc, sign_should_match_the_s3_reference_examples, 0,
			    (int)(sizeof(s3_docs) / sizeof(s3_docs[0])));
	tcase_add_test(tc, canonical_request_should_be_the_published_one);
	tcase_add_test(tc, encode_should_give_the_suite_utf8_cases);
	tcase_add_test(tc, encode_should_keep_only_unreserved_bytes);
	tcase_add_test(tc, canonical_query_should_sort_and_add_missing_equals);
	tcase_add_test(tc, sign_should_refuse_a_bad_date);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tcc, cred_setup, cred_teardown);
	tcase_add_test(tcc, cred_should_be_anonymous_without_env_or_files);
	tcase_add_test(tcc, cred_should_read_the_default_and_named_profiles);
	tcase_add_test(tcc, cred_env_should_win_over_files);
	tcase_add_test(tcc, cred_should_honour_the_file_variables_and_endpoints);
	tcase_add_test(tcc, ini_should_find_keys_in_their_section_only);
	suite_add_tcase(s, tcc);
	return ck_test_run(s);
}
