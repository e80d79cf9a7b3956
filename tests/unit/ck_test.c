/* SPDX-License-Identifier: MIT */
/* This file implements the unit-test helpers of ck_test.h. */
#include "ck_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ck_file.h"

const char *ck_test_fixtures(void)
{
	const char *r = getenv("CKPTFS_REAL_FIXTURES");

	if (!r || !*r)
		r = "../shared/fixtures/real";
	return ck_is_dir(r) ? r : NULL;
}

void ck_test_require_fixtures(void)
{
	if (!ck_test_fixtures()) {
		printf("skipped: real fixtures not found (set CKPTFS_REAL_FIXTURES "
		       "or provide ../shared/fixtures/real)\n");
		exit(77);
	}
}

char *ck_test_fixture(const char *rel)
{
	const char *root = ck_test_fixtures();
	char *p;

	ck_assert_msg(root != NULL, "real fixtures not found");
	p = ck_path_join(root, rel);
	ck_assert_ptr_nonnull(p);
	return p;
}

char *ck_test_tmpdir(void)
{
	char tmpl[] = "/tmp/ckptfs-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	return strdup(d);
}

static int run(const char *fmt, const char *a, const char *b)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

void ck_test_copy_tree(const char *src, const char *dst)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp -R '%s'/. '%s'/ && chmod -R u+w '%s'",
		 dst, src, dst, dst);
	ck_assert_int_eq(system(cmd), 0);
}

void ck_test_rmtree(const char *path)
{
	if (path && strncmp(path, "/tmp/ckptfs-test-", 17) == 0)
		run("rm -rf '%s'%s", path, "");
}

void ck_test_flip_byte(const char *path, uint64_t off, uint8_t mask)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	ck_assert_msg(fd >= 0, "open %s", path);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= mask;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

void ck_test_truncate(const char *path, uint64_t len)
{
	ck_assert_int_eq(truncate(path, (off_t)len), 0);
}

void ck_test_write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

uint8_t *ck_test_read_file(const char *path, size_t *n)
{
	uint8_t *d = NULL;

	ck_assert_msg(ck_read_file(path, (size_t)1 << 30, &d, n) == 0, "read %s", path);
	return d;
}

int ck_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
