/* SPDX-License-Identifier: MIT */
/* Unit tests for the plain-directory kvstore backend (kvstore_dir.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck_test.h"
#include "kvstore/kvstore.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define SHARDED "zarrs-sharded/sharded_array_write_read.zarr"

static int count_cb(void *ctx, const char *key, size_t keylen,
		    const struct kv_value *v)
{
	(void)key;
	(void)keylen;
	(void)v;
	(*(int *)ctx)++;
	return 0;
}

START_TEST(dir_should_list_every_regular_file_by_relative_path)
{
	char *root = ck_test_fixture(SHARDED);
	struct kvstore *kv = NULL;
	struct kv_value v;
	int n = 0;

	ck_assert_int_eq(kvstore_open_dir(root, &kv), 0);
	ck_assert_int_eq(kvstore_kind(kv), KVSTORE_DIR);
	ck_assert_uint_eq(kvstore_generation(kv), 0);
	ck_assert_int_eq(kvstore_get(kv, "group/array/zarr.json", 21, &v), 0);
	ck_assert_ptr_null(v.inline_data);
	ck_assert_int_eq(kvstore_get(kv, "group/array/c/0/0", 17, &v), 0);
	ck_assert_int_eq(kvstore_get(kv, "group/array/c/1/0", 17, &v), 0);
	ck_assert_int_eq(kvstore_get(kv, "group/array/c/2/0", 17, &v), -ENOENT);
	ck_assert_int_eq(kvstore_list(kv, "group/array/c/", 14, count_cb, &n),
			 0);
	ck_assert_int_eq(n, 2);
	n = 0;
	ck_assert_int_eq(kvstore_list(kv, "", 0, count_cb, &n), 0);
	ck_assert_int_eq((size_t)n, kvstore_count(kv));
	kvstore_free(kv);
	free(root);
}
END_TEST

START_TEST(dir_read_should_return_file_bytes_and_refuse_out_of_range)
{
	char *root = ck_test_fixture(SHARDED);
	char *file = ck_test_fixture(SHARDED "/group/array/c/1/0");
	struct kvstore *kv = NULL;
	struct kv_value v;
	uint8_t *want, buf[16];
	size_t n;

	want = ck_test_read_file(file, &n);
	ck_assert_int_eq(kvstore_open_dir(root, &kv), 0);
	ck_assert_int_eq(kvstore_get(kv, "group/array/c/1/0", 17, &v), 0);
	ck_assert_uint_eq(v.length, n);
	ck_assert_str_eq(v.file, file);
	ck_assert_uint_ge(n, 20);
	ck_assert_int_eq(kvstore_read(kv, &v, 4, buf, 16), 0);
	ck_assert_mem_eq(buf, want + 4, 16);
	ck_assert_int_eq(kvstore_read(kv, &v, n - 16, buf, 16), 0);
	ck_assert_mem_eq(buf, want + n - 16, 16);
	ck_assert_int_eq(kvstore_read(kv, &v, n - 15, buf, 16), -EIO);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "past the end"));
	ck_assert_int_eq(kvstore_read(kv, &v, UINT64_MAX, buf, 1), -EIO);
	kvstore_free(kv);
	free(want);
	free(file);
	free(root);
}
END_TEST

START_TEST(dir_should_skip_symlinks_and_orbax_tmp_dirs)
{
	char *t = ck_test_tmpdir();
	char *a = ck_path_join(t, "a"),
	     *tmp = ck_path_join(t, "x.orbax-checkpoint-tmp-12");
	char *in_tmp = ck_path_join(tmp, "f"), *sub = ck_path_join(t, "sub");
	char *b = ck_path_join(sub, "b"), *link = ck_path_join(t, "link");
	struct kvstore *kv = NULL;
	struct kv_value v;

	ck_test_write_file(a, "xyz", 3);
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	ck_test_write_file(in_tmp, "no", 2);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_test_write_file(b, "", 0);
	ck_assert_int_eq(symlink(a, link), 0);
	ck_assert_int_eq(kvstore_open_dir(t, &kv), 0);
	ck_assert_uint_eq(kvstore_count(kv), 2);
	ck_assert_int_eq(kvstore_get(kv, "a", 1, &v), 0);
	ck_assert_uint_eq(v.length, 3);
	ck_assert_int_eq(kvstore_get(kv, "sub/b", 5, &v), 0);
	ck_assert_uint_eq(v.length, 0);
	ck_assert_int_eq(kvstore_get(kv, "link", 4, &v), -ENOENT);
	kvstore_free(kv);
	ck_assert_int_eq(kvstore_open_dir(a, &kv), -ENOENT);
	ck_test_rmtree(t);
	free(a);
	free(tmp);
	free(in_tmp);
	free(sub);
	free(b);
	free(link);
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvstore_dir");
	TCase *tc = tcase_create("kvstore_dir");

	ck_test_require_fixtures();
	tcase_add_test(tc, dir_should_list_every_regular_file_by_relative_path);
	tcase_add_test(
		tc, dir_read_should_return_file_bytes_and_refuse_out_of_range);
	tcase_add_test(tc, dir_should_skip_symlinks_and_orbax_tmp_dirs);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
