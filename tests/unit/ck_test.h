/* SPDX-License-Identifier: MIT */
/*
 * ck_test.h - shared helpers for the Check unit tests.
 *
 * The real Orbax/TensorStore/zarrs fixtures are read in place from
 * $CKPTFS_REAL_FIXTURES (set by ctest to ../shared/fixtures/real); a test
 * binary that needs them and finds them absent prints why and exits 77, which
 * ctest reports as skipped.  Corruption tests work on a private copy made with
 * ck_test_copy_tree() in a fresh temporary directory.
 */
#ifndef CK_TEST_H
#define CK_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* The fixture root, or NULL when absent. */
const char *ck_test_fixtures(void);

/* "<fixture root>/<rel>" (static buffer per call site is not used: caller
 * frees).  Aborts the test if the root is absent. */
char *ck_test_fixture(const char *rel);

/* Exit 77 with a message when the fixtures are absent. */
void ck_test_require_fixtures(void);

/* A new empty temporary directory (caller frees the string; removed by
 * ck_test_rmtree()). */
char *ck_test_tmpdir(void);

/* Copy the tree src into dst (dst is created).  Aborts on failure. */
void ck_test_copy_tree(const char *src, const char *dst);

/* Remove a tree. */
void ck_test_rmtree(const char *path);

/* XOR the byte at off in file path with mask. */
void ck_test_flip_byte(const char *path, uint64_t off, uint8_t mask);

/* Truncate file path to len bytes. */
void ck_test_truncate(const char *path, uint64_t len);

/* Write n bytes to path (created/replaced). */
void ck_test_write_file(const char *path, const void *p, size_t n);

/* Read a whole file (caller frees); aborts on failure. */
uint8_t *ck_test_read_file(const char *path, size_t *n);

/* Run suite s in CK_FORK mode; returns the process exit status. */
int ck_test_run(Suite *s);

#endif
