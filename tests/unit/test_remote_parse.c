/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the parsers of server answers (rmt_parse.h), no network:
 * GCS listing pages, S3 ListObjectsV2 pages and error bodies, response
 * header lines.  Expected values are written out by hand from the inputs.
 * The cases the fuzz targets found stay here as regressions.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "remote/rmt_parse.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_json.h"

/* Entries a listing reported, as "name/" for a directory, ";"-joined. */
static int collect(void *ctx, const char *name, int is_dir, uint64_t size)
{
	struct ck_buf *b = ctx;

	(void)size;
	return ck_buf_printf(b, "%s%s;", name, is_dir ? "/" : "");
}

static struct http_req body_req(const char *body)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.status = 200;
	r.body = (uint8_t *)strdup(body);
	r.body_len = strlen(body);
	r.total = UINT64_MAX;
	return r;
}

START_TEST(gcs_listing_one_level)
{
	const char *page = "{\"items\":[{\"name\":\"a/b/\",\"size\":\"0\"},"
			   "{\"name\":\"a/b/x\",\"size\":\"3\"},"
			   "{\"name\":\"a/b/y/z\",\"size\":\"4\"}],"
			   "\"prefixes\":[\"a/b/c/d/\",\"a/b/e/\",\"a/b/\"]}";
	struct rmt_url u = { RMT_GS, "bkt", "a/b", "gs://bkt/a/b" };
	struct ck_buf b = CK_BUF_INIT;
	cJSON *doc = NULL;

	ck_assert_int_eq(ck_json_parse(page, strlen(page), &doc), 0);
	ck_assert_int_eq(gcs_list_emit(&u, doc, 4, collect, &b), 0);
	ck_assert_int_eq(ck_buf_append(&b, "", 1), 0);
	/* the folder placeholder, the deeper item and the deeper prefix
	 * (fuzz_gcs_json: "c/d" was reported) are no entries */
	ck_assert_str_eq((char *)b.data, "x;e/;");
	cJSON_Delete(doc);
	ck_buf_release(&b);
}
END_TEST

START_TEST(s3_page_and_doctype)
{
	const char *page =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult><IsTruncated>true</IsTruncated>"
		"<Contents><Key>run/1/_METADATA</Key><Size>5128</Size></Contents>"
		"<Contents><Key>run/1/a&amp;b</Key><Size>7</Size></Contents>"
		"<CommonPrefixes><Prefix>run/1/items/</Prefix></CommonPrefixes>"
		"<NextContinuationToken>tok+1</NextContinuationToken>"
		"</ListBucketResult>";
	const char *bomb =
		"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>"
		"<ListBucketResult><Contents><Key>&a;&a;</Key><Size>1</Size>"
		"</Contents></ListBucketResult>";
	struct rmt_url u = { RMT_S3, "bkt", "run/1", "s3://bkt/run/1" };
	struct ck_buf b = CK_BUF_INIT;
	struct s3_page pg = { 0, NULL };
	struct http_req r = body_req(page);

	ck_assert_int_eq(s3_page_parse(&u, &r, 6, 1, collect, &b, &pg), 0);
	ck_assert_int_eq(ck_buf_append(&b, "", 1), 0);
	ck_assert_str_eq((char *)b.data, "_METADATA;a&b;items/;");
	ck_assert_int_eq(pg.truncated, 1);
	ck_assert_str_eq(pg.next, "tok+1");
	free(pg.next);
	free(r.body);
	ck_buf_release(&b);

	/* a DOCTYPE (entities that expand) is refused: S3 sends none
	 * (fuzz_s3_xml: a 60 KB body read as 300 MB) */
	memset(&pg, 0, sizeof(pg));
	r = body_req(bomb);
	ck_assert_int_lt(s3_page_parse(&u, &r, 6, 1, collect, &b, &pg), 0);
	free(pg.next);
	free(r.body);
	ck_buf_release(&b);
}
END_TEST

START_TEST(s3_error_body)
{
	struct http_req r = body_req(
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
		"PermanentRedirect</Code><Message>m</Message><Endpoint>"
		"bkt.s3.eu-west-3.amazonaws.com</Endpoint></Error>");
	struct s3_error e;

	r.status = 301;
	s3_error_parse(&r, &e);
	ck_assert_str_eq(e.code, "PermanentRedirect");
	ck_assert_str_eq(e.endpoint, "bkt.s3.eu-west-3.amazonaws.com");
	free(r.body);
}
END_TEST

START_TEST(header_lines)
{
	static const char *lines[] = {
		"HTTP/1.1 206 Partial Content\r\n",
		"Content-Range: bytes 100-199/130722783\r\n",
		"ETag: \"5f1c-abc\"\r\n",
		"x-goog-generation: 1733612345678901\r\n",
		"Retry-After: 120\r\n",
	};
	struct http_req r;
	uint64_t cr_start = UINT64_MAX;

	memset(&r, 0, sizeof(r));
	r.total = UINT64_MAX;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		http_header_line(&r, lines[i], strlen(lines[i]), &cr_start);
	ck_assert_uint_eq(r.total, 130722783);
	ck_assert_uint_eq(cr_start, 100);
	ck_assert_str_eq(r.etag, "\"5f1c-abc\"");
	ck_assert_str_eq(r.generation, "1733612345678901");
	ck_assert_uint_eq(r.retry_after_s, 30);	/* capped */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("remote_parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, gcs_listing_one_level);
	tcase_add_test(tc, s3_page_and_doctype);
	tcase_add_test(tc, s3_error_body);
	tcase_add_test(tc, header_lines);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
