/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ck_access: the owner, group and read bits of something
 * made of several files, from owners, groups and modes written out here
 * (uids and gids that exist on no system, so that no group list applies).
 */
#include <string.h>
#include <sys/stat.h>

#include "ck_test.h"
#include "util/ck_access.h"

#define ALICE 40001
#define BOB 40002
#define TEAM 40010
#define OTHERS 40011

static void add(struct ck_access *a, uid_t u, gid_t g, mode_t m, unsigned want)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_uid = u;
	st.st_gid = g;
	st.st_mode = m;
	ck_assert_int_eq(ck_access_add(a, &st, want), 0);
}

/* The result of the objects added to a, then a released. */
static void expect(struct ck_access *a, uid_t u, gid_t g, mode_t m)
{
	uid_t ru;
	gid_t rg;
	mode_t rm;

	ck_access_result(a, &ru, &rg, &rm);
	ck_assert_uint_eq(ru, u);
	ck_assert_uint_eq(rg, g);
	ck_assert_uint_eq(rm, m);
	ck_access_release(a);
}

START_TEST(result_should_grant_no_more_than_every_object)
{
	struct ck_access a = CK_ACCESS_INIT;

	/* Nothing added: anyone. */
	expect(&a, 0, 0, 0444);
	/* World-readable files under world-searchable directories. */
	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&a, 0, 0, 0755, CK_ACCESS_SEARCH);
	expect(&a, ALICE, TEAM, 0444);
	/* A 0640 file: its owner and group only. */
	add(&a, ALICE, TEAM, 0640, CK_ACCESS_READ);
	add(&a, 0, 0, 0755, CK_ACCESS_SEARCH);
	expect(&a, ALICE, TEAM, 0440);
	/* One 0600 file among world-readable ones: its owner only. */
	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&a, ALICE, TEAM, 0600, CK_ACCESS_READ);
	expect(&a, ALICE, TEAM, 0400);
	/* A 0750 directory on the way: no one outside the group. */
	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&a, ALICE, TEAM, 0750, CK_ACCESS_SEARCH);
	expect(&a, ALICE, TEAM, 0440);
	/* A 0700 directory of root's: only root. */
	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&a, 0, 0, 0700, CK_ACCESS_SEARCH);
	expect(&a, ALICE, TEAM, 0000);
	/* Restricted files of two owners: no owner can read both. */
	add(&a, ALICE, TEAM, 0600, CK_ACCESS_READ);
	add(&a, BOB, TEAM, 0640, CK_ACCESS_READ);
	expect(&a, 0, TEAM, 0000);
	/* The restricted file decides the owner; the world-readable ones of
	 * another owner do not take it away. */
	add(&a, BOB, OTHERS, 0644, CK_ACCESS_READ);
	add(&a, ALICE, TEAM, 0640, CK_ACCESS_READ);
	expect(&a, ALICE, TEAM, 0440);
	/* A file readable by others but not by its group: its group's
	 * members are refused, as at the source. */
	add(&a, ALICE, TEAM, 0604, CK_ACCESS_READ);
	expect(&a, ALICE, TEAM, 0404);
	/* ... but where the view's group is another, anyone might be in the
	 * file's group: others lose it too. */
	add(&a, ALICE, TEAM, 0604, CK_ACCESS_READ);
	add(&a, ALICE, OTHERS, 0604, CK_ACCESS_READ);
	expect(&a, ALICE, 0, 0400);
	/* Search bits count for directories, read bits for files. */
	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&a, 0, 0, 0744, CK_ACCESS_SEARCH);
	expect(&a, ALICE, TEAM, 0000);
	/* The owner's class is the owner's even where others may do more. */
	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&a, ALICE, TEAM, 0075, CK_ACCESS_SEARCH);
	expect(&a, ALICE, TEAM, 0044);
}
END_TEST

START_TEST(merge_should_keep_both_sets)
{
	struct ck_access a = CK_ACCESS_INIT, b = CK_ACCESS_INIT;

	add(&a, ALICE, TEAM, 0644, CK_ACCESS_READ);
	add(&b, ALICE, TEAM, 0640, CK_ACCESS_READ);
	add(&b, ALICE, TEAM, 0640, CK_ACCESS_READ);	/* deduplicated */
	ck_assert_uint_eq(b.n, 1);
	ck_assert_int_eq(ck_access_merge(&a, &b), 0);
	ck_access_release(&b);
	expect(&a, ALICE, TEAM, 0440);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");

	tcase_add_test(tc, result_should_grant_no_more_than_every_object);
	tcase_add_test(tc, merge_should_keep_both_sets);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
