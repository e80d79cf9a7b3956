/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the ba_to_b and ba_to_a hooks (H19, Qwen3.5's
 * gated-delta-net beta/decay projection).  Every expected value comes from
 * index arithmetic written here: output row r names the MaxText column it
 * must hold, and element [r][d] must be x[d][that column].
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "hook_impl.h"
#include "tensor/hook.h"
#include "util/ck_err.h"

static struct hook_shape shape2(uint64_t a, uint64_t b)
{
	struct hook_shape s;

	memset(&s, 0, sizeof(s));
	s.rank = 2;
	s.d[0] = a;
	s.d[1] = b;
	return s;
}

static struct hook_args args1(double g)
{
	struct hook_args a;

	memset(&a, 0, sizeof(a));
	a.n = 1;
	a.v[0] = g;
	return a;
}

static const struct hook *find(const char *name)
{
	const struct hook *h = hook_find(name);

	ck_assert_msg(h != NULL, "hook '%s' is not registered", name);
	return h;
}

/* x[d][c] = d * 4096 + c: every element distinct and exact in float. */
static float *make_input(size_t d, size_t w)
{
	float *x = malloc(d * w * sizeof(float) + 1);
	size_t i, j;

	ck_assert_ptr_nonnull(x);
	for (i = 0; i < d; i++)
		for (j = 0; j < w; j++)
			x[i * w + j] = (float)(i * 4096 + j);
	return x;
}

/* The MaxText column of output row r: group r / per, then b (half 0) or a
 * (half 1) of that group, entry r % per. */
static size_t ba_col(size_t r, size_t per, size_t half)
{
	return (r / per) * 2 * per + half * per + r % per;
}

static float *run(const char *name, size_t d, size_t g, size_t w,
		  const float *x, const struct hook_shape *tgt,
		  struct hook_shape *outs)
{
	const struct hook *h = find(name);
	struct hook_args a = args1((double)g);
	struct hook_shape in = shape2(d, w);
	const float *inp[1] = {x};
	float *y;

	ck_assert_int_eq(h->shape(&a, &in, 1, tgt, outs), 0);
	y = malloc((size_t)hook_shape_numel(outs) * sizeof(float) + 1);
	ck_assert_ptr_nonnull(y);
	ck_assert_int_eq(h->forward(&a, &in, inp, 1, outs, y), 0);
	return y;
}

/* b and a against the index formula; together they cover every column
 * exactly once. */
static void check_split(size_t d, size_t g, size_t per)
{
	size_t w = g * 2 * per, n = g * per, r, i, half;
	float *x = make_input(d, w);
	unsigned char *seen = calloc(w, 1);

	ck_assert_ptr_nonnull(seen);
	for (half = 0; half < 2; half++) {
		struct hook_shape s;
		float *y =
			run(half ? "ba_to_a" : "ba_to_b", d, g, w, x, NULL, &s);

		ck_assert_uint_eq(s.rank, 2);
		ck_assert_uint_eq(s.d[0], n);
		ck_assert_uint_eq(s.d[1], d);
		for (r = 0; r < n; r++) {
			size_t c = ba_col(r, per, half);

			seen[c]++;
			for (i = 0; i < d; i++)
				ck_assert_msg(
					y[r * d + i] == x[i * w + c],
					"%s[%zu][%zu] = %g, want x[%zu][%zu]",
					half ? "a" : "b", r, i,
					(double)y[r * d + i], i, c);
		}
		free(y);
	}
	for (i = 0; i < w; i++)
		ck_assert_msg(seen[i] == 1, "column %zu taken %u times", i,
			      (unsigned)seen[i]);
	free(seen);
	free(x);
}

START_TEST(ba_hooks_should_be_registered_without_inverse)
{
	const char *names[] = {"ba_to_b", "ba_to_a"};

	for (size_t i = 0; i < 2; i++) {
		const struct hook *h = find(names[i]);

		ck_assert_uint_eq(h->nin, 1);
		ck_assert_uint_eq(h->nargs, 1);
		ck_assert_ptr_null(h->inverse);
	}
}
END_TEST

START_TEST(ba_should_split_each_group)
{
	check_split(3, 2, 2);	/* 2 key heads, 2 value heads each */
	check_split(5, 1, 3);	/* one group: b then a */
	check_split(4, 3, 1);	/* as many value heads as key heads */
	check_split(70, 16, 2); /* qwen3.5-35b's 16 key / 32 value heads */
}
END_TEST

START_TEST(ba_should_match_a_hand_written_case)
{
	/* D = 2, G = 2, r = 2: columns b0 b1 a0 a1 | b2 b3 a2 a3. */
	const float x[16] = {0,	 1,  2,	 3,  4,	 5,  6,	 7,
			     10, 11, 12, 13, 14, 15, 16, 17};
	const float want_b[8] = {0, 10, 1, 11, 4, 14, 5, 15};
	const float want_a[8] = {2, 12, 3, 13, 6, 16, 7, 17};
	struct hook_shape s;
	float *y;

	y = run("ba_to_b", 2, 2, 8, x, NULL, &s);
	ck_assert_int_eq(memcmp(y, want_b, sizeof(want_b)), 0);
	free(y);
	y = run("ba_to_a", 2, 2, 8, x, NULL, &s);
	ck_assert_int_eq(memcmp(y, want_a, sizeof(want_a)), 0);
	free(y);
}
END_TEST

START_TEST(ba_should_take_the_target_shape)
{
	struct hook_shape t = shape2(4, 3), s;
	float *x = make_input(3, 8), *y;

	y = run("ba_to_a", 3, 2, 8, x, &t, &s);
	ck_assert_uint_eq(s.d[0], 4);
	ck_assert_uint_eq(s.d[1], 3);
	free(y);
	free(x);
}
END_TEST

static void expect_error(const char *name, const struct hook_args *a,
			 const struct hook_shape *in, unsigned nin,
			 const struct hook_shape *tgt, int err)
{
	struct hook_shape out;
	int ret;

	ck_err_clear();
	ret = find(name)->shape(a, in, nin, tgt, &out);
	ck_assert_msg(ret == err, "%s: got %d, want %d (%s)", name, ret, err,
		      ck_err_msg());
	ck_assert_msg(strncmp(ck_err_msg(), name, strlen(name)) == 0,
		      "message '%s' does not name '%s'", ck_err_msg(), name);
}

START_TEST(ba_shape_should_reject_bad_inputs)
{
	const char *names[] = {"ba_to_b", "ba_to_a"};
	struct hook_shape ok = shape2(4, 8), two[2] = {ok, ok}, r3 = ok;
	struct hook_shape odd = shape2(4, 6), empty = shape2(4, 0);
	struct hook_args good = args1(2), none = args1(2);

	none.n = 0;
	r3.rank = 3;
	r3.d[2] = 1;
	for (size_t i = 0; i < 2; i++) {
		const char *n = names[i];

		expect_error(n, &none, &ok, 1, NULL, -EINVAL);
		expect_error(n, &good, two, 2, NULL, -EINVAL);
		expect_error(n, &good, &r3, 1, NULL, -EINVAL);
		expect_error(n, &(struct hook_args){1, {0}}, &ok, 1, NULL,
			     -EINVAL);
		expect_error(n, &(struct hook_args){1, {1.5}}, &ok, 1, NULL,
			     -EINVAL);
		expect_error(n, &(struct hook_args){1, {INFINITY}}, &ok, 1,
			     NULL, -EINVAL);
		/* 6 columns are not G * 2r for G = 2; neither is 0. */
		expect_error(n, &good, &odd, 1, NULL, -EINVAL);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), "[4,6]"));
		expect_error(n, &good, &empty, 1, NULL, -EINVAL);
		expect_error(n, &good, &ok, 1, &(struct hook_shape){2, {4, 5}},
			     -EINVAL);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hook_ba_regroup");
	TCase *tc = tcase_create("ba_regroup");

	tcase_add_test(tc, ba_hooks_should_be_registered_without_inverse);
	tcase_add_test(tc, ba_should_split_each_group);
	tcase_add_test(tc, ba_should_match_a_hand_written_case);
	tcase_add_test(tc, ba_should_take_the_target_shape);
	tcase_add_test(tc, ba_shape_should_reject_bad_inputs);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
