/* SPDX-License-Identifier: MIT */
/* Unit tests for the util layer: cursor, errors, buffers, paths, JSON. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"
#include "util/ck_log.h"
#include "util/ck_rd.h"

START_TEST(rd_should_decode_little_and_big_endian_integers)
{
	static const uint8_t b[] = { 0x0c, 0xdb, 0x3a, 0x2a, 0x71, 0, 0, 0, 0, 0, 0, 0, 7 };
	struct ck_rd r;
	uint32_t magic;
	uint64_t len;
	uint8_t v;

	ck_rd_init(&r, b, sizeof(b));
	ck_assert_int_eq(ck_rd_u32be(&r, &magic, "magic"), 0);
	ck_assert_uint_eq(magic, 0x0CDB3A2Au);
	ck_assert_int_eq(ck_rd_u64le(&r, &len, "length"), 0);
	ck_assert_uint_eq(len, 113);
	ck_assert_int_eq(ck_rd_u8(&r, &v, "version"), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_uint_eq(ck_rd_left(&r), 0);
	ck_assert_int_eq(ck_rd_u8(&r, &v, "extra"), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "truncated extra"));
}
END_TEST

START_TEST(rd_varint_should_decode_leb128_and_reject_overflow)
{
	static const uint8_t ok[] = { 0x80, 0xc2, 0xd7, 0x2f };	/* 100000000 */
	static const uint8_t max[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t over[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t cut[] = { 0x80, 0x80 };
	struct ck_rd r;
	uint64_t v = 0;

	ck_rd_init(&r, ok, sizeof(ok));
	ck_assert_int_eq(ck_rd_varint(&r, UINT64_MAX, &v, "n"), 0);
	ck_assert_uint_eq(v, 100000000);
	ck_rd_init(&r, ok, sizeof(ok));
	ck_assert_int_eq(ck_rd_varint(&r, 65535, &v, "n"), -EIO);
	ck_rd_init(&r, max, sizeof(max));
	ck_assert_int_eq(ck_rd_varint(&r, UINT64_MAX, &v, "n"), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_rd_init(&r, over, sizeof(over));
	ck_assert_int_eq(ck_rd_varint(&r, UINT64_MAX, &v, "n"), -EIO);
	ck_rd_init(&r, eleven, sizeof(eleven));
	ck_assert_int_eq(ck_rd_varint(&r, UINT64_MAX, &v, "n"), -EIO);
	ck_rd_init(&r, cut, sizeof(cut));
	ck_assert_int_eq(ck_rd_varint(&r, UINT64_MAX, &v, "n"), -EIO);
}
END_TEST

/* Log lines never echo raw bytes: control characters (an escape sequence,
 * a newline that would split the line) and non-ASCII bytes become '?'. */
START_TEST(log_sanitize_should_leave_printable_ascii_only)
{
	char s[] = "key 'a\x1b[31mb\nc\xff\x7f' ok";

	ck_log_sanitize(s);
	ck_assert_str_eq(s, "key 'a?[31mb?c?" "?' ok");
}
END_TEST

START_TEST(err_ctx_should_prefix_context_on_one_line)
{
	ck_err_clear();
	ck_assert_int_eq(ck_err(-EIO, "zstd: frame cut short"), -EIO);
	ck_assert_int_eq(ck_err_ctx(-EIO, "key '%s'", "a/c/0"), -EIO);
	ck_assert_int_eq(ck_err_ctx(-EIO, "%s", "/x/d/ab"), -EIO);
	ck_assert_str_eq(ck_err_msg(), "/x/d/ab: key 'a/c/0': zstd: frame cut short");
	ck_err(-EIO, "bad name '%s'", "a\nb\x01\xff");
	ck_assert_str_eq(ck_err_msg(), "bad name 'a?b?" "?'");
	ck_err_clear();
	ck_err_ctx(-ENOENT, "file 'x'");
	ck_assert_str_eq(ck_err_msg(), "file 'x': No such file or directory");
}
END_TEST

START_TEST(buf_should_grow_append_and_detach)
{
	struct ck_buf b = CK_BUF_INIT;
	uint8_t *p;
	size_t n;

	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(ck_buf_append(&b, "ab", 2), 0);
	ck_assert_int_eq(ck_buf_printf(&b, "%d", 42), 0);
	ck_assert_uint_eq(b.len, 2002);
	ck_assert_int_eq(memcmp(b.data + 1998, "ab42", 4), 0);
	ck_assert_int_eq(ck_buf_grow(&b, SIZE_MAX), -EOVERFLOW);
	p = ck_buf_detach(&b, &n);
	ck_assert_uint_eq(n, 2002);
	ck_assert_ptr_null(b.data);
	free(p);
}
END_TEST

START_TEST(path_check_should_refuse_escapes)
{
	ck_assert_int_eq(ck_path_check_relative("d/abc", 5), 0);
	ck_assert_int_eq(ck_path_check_relative("ocdbt.process_3/d/abc", 21), 0);
	ck_assert_int_eq(ck_path_check_relative("ocdbt.process_3/", 16), 0);
	ck_assert_int_eq(ck_path_check_relative("/etc/passwd", 11), -EINVAL);
	ck_assert_int_eq(ck_path_check_relative("../x", 4), -EINVAL);
	ck_assert_int_eq(ck_path_check_relative("d/../../x", 9), -EINVAL);
	ck_assert_int_eq(ck_path_check_relative("d/./x", 5), -EINVAL);
	ck_assert_int_eq(ck_path_check_relative("d//x", 4), -EINVAL);
	ck_assert_int_eq(ck_path_check_relative("d/\0x", 4), -EINVAL);
	ck_assert_int_eq(ck_path_check_relative("", 0), -EINVAL);
}
END_TEST

START_TEST(json_should_read_exact_64_bit_integers_only)
{
	static const char t[] = "{\"a\": 9007199254740992, \"b\": 1.5, \"c\": -3,"
				"\"d\": [1, 2, 3], \"e\": \"s\", \"f\": 1e300, \"A\": 1}";
	uint64_t v[4];
	int64_t i;
	size_t n;
	cJSON *doc;

	ck_assert_int_eq(ck_json_parse(t, strlen(t), &doc), 0);
	ck_assert_int_eq(ck_json_get_i64(doc, "a", 0, INT64_MAX, &i), 0);
	ck_assert_int_eq(i, 9007199254740992LL);
	ck_assert_int_eq(ck_json_get_i64(doc, "b", 0, INT64_MAX, &i), -EINVAL);
	ck_assert_int_eq(ck_json_get_i64(doc, "c", 0, INT64_MAX, &i), -EINVAL);
	ck_assert_int_eq(ck_json_get_i64(doc, "f", INT64_MIN, INT64_MAX, &i), -EINVAL);
	ck_assert_int_eq(ck_json_get_i64(doc, "zz", 0, 1, &i), -ENOENT);
	ck_assert_int_eq(ck_json_get_u64_array(doc, "d", 10, v, 4, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(v[2], 3);
	ck_assert_int_eq(ck_json_get_u64_array(doc, "d", 10, v, 2, &n), -EOVERFLOW);
	/* Lookups are case-sensitive. */
	ck_assert_int_eq(ck_json_get_i64(doc, "A", 0, 5, &i), 0);
	ck_assert_int_eq(i, 1);
	ck_assert_ptr_null(ck_json_get(doc, "E"));
	cJSON_Delete(doc);
	ck_assert_int_eq(ck_json_parse("{\"a\": ", 6, &doc), -EINVAL);
}
END_TEST

START_TEST(read_file_should_cap_size_and_report_missing_files)
{
	char *t = ck_test_tmpdir(), *p = ck_path_join(t, "f");
	uint8_t *d;
	size_t n;

	ck_test_write_file(p, "hello", 5);
	ck_assert_int_eq(ck_read_file(p, 5, &d, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq((char *)d, "hello");
	free(d);
	ck_assert_int_eq(ck_read_file(p, 4, &d, &n), -EOVERFLOW);
	free(p);
	p = ck_path_join(t, "missing");
	ck_assert_int_eq(ck_read_file(p, 4, &d, &n), -ENOENT);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "missing"));
	free(p);
	ck_test_rmtree(t);
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, rd_should_decode_little_and_big_endian_integers);
	tcase_add_test(tc, rd_varint_should_decode_leb128_and_reject_overflow);
	tcase_add_test(tc, err_ctx_should_prefix_context_on_one_line);
	tcase_add_test(tc, buf_should_grow_append_and_detach);
	tcase_add_test(tc, path_check_should_refuse_escapes);
	tcase_add_test(tc, json_should_read_exact_64_bit_integers_only);
	tcase_add_test(tc, read_file_should_cap_size_and_report_missing_files);
	tcase_add_test(tc, log_sanitize_should_leave_printable_ascii_only);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
