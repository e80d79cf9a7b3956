/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the qkvz_to_qkv and qkvz_to_z hooks (H18, Qwen3.5's
 * gated-delta-net input projection).  Every expected value comes from index
 * arithmetic written here: output row r of each half names the MaxText
 * column it must hold, and element [r][d] must be x[d][that column].
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

static struct hook_args args3(double g, double dk, double vg)
{
	struct hook_args a;

	memset(&a, 0, sizeof(a));
	a.n = 3;
	a.v[0] = g;
	a.v[1] = dk;
	a.v[2] = vg;
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

/* The MaxText column of output row r of the qkv half. */
static size_t qkv_col(size_t r, size_t g, size_t dk, size_t vg)
{
	size_t p = 2 * dk + 2 * vg;

	if (r < g * dk) /* q of group r / dk */
		return (r / dk) * p + r % dk;
	r -= g * dk;
	if (r < g * dk) /* k */
		return (r / dk) * p + dk + r % dk;
	r -= g * dk; /* v */
	return (r / vg) * p + 2 * dk + r % vg;
}

/* The MaxText column of output row r of the z half. */
static size_t z_col(size_t r, size_t dk, size_t vg)
{
	return (r / vg) * (2 * dk + 2 * vg) + 2 * dk + vg + r % vg;
}

/* Run hook `name` on x [d, w] with (g, dk, vg); returns the output (caller
 * frees), its shape in *outs. */
static float *run(const char *name, size_t d, size_t g, size_t dk, size_t vg,
		  const float *x, const struct hook_shape *tgt,
		  struct hook_shape *outs)
{
	const struct hook *h = find(name);
	struct hook_args a = args3((double)g, (double)dk, (double)vg);
	struct hook_shape in = shape2(d, g * (2 * dk + 2 * vg));
	const float *inp[1] = {x};
	float *y;

	ck_assert_int_eq(h->shape(&a, &in, 1, tgt, outs), 0);
	y = malloc((size_t)hook_shape_numel(outs) * sizeof(float) + 1);
	ck_assert_ptr_nonnull(y);
	ck_assert_int_eq(h->forward(&a, &in, inp, 1, outs, y), 0);
	return y;
}

/* Both halves, checked element by element against the index formulas, and
 * together they hold every input element exactly once. */
static void check_split(size_t d, size_t g, size_t dk, size_t vg)
{
	size_t w = g * (2 * dk + 2 * vg), nq = g * (2 * dk + vg), nz = g * vg;
	float *x = make_input(d, w), *q, *z;
	unsigned char *seen = calloc(w, 1);
	struct hook_shape sq, sz;
	size_t r, i;

	ck_assert_ptr_nonnull(seen);
	q = run("qkvz_to_qkv", d, g, dk, vg, x, NULL, &sq);
	z = run("qkvz_to_z", d, g, dk, vg, x, NULL, &sz);
	ck_assert_uint_eq(sq.rank, 2);
	ck_assert_uint_eq(sq.d[0], nq);
	ck_assert_uint_eq(sq.d[1], d);
	ck_assert_uint_eq(sz.rank, 2);
	ck_assert_uint_eq(sz.d[0], nz);
	ck_assert_uint_eq(sz.d[1], d);
	for (r = 0; r < nq; r++) {
		size_t c = qkv_col(r, g, dk, vg);

		seen[c]++;
		for (i = 0; i < d; i++)
			ck_assert_msg(q[r * d + i] == x[i * w + c],
				      "qkv[%zu][%zu] = %g, want x[%zu][%zu] (G "
				      "%zu Dk %zu Vg %zu)",
				      r, i, (double)q[r * d + i], i, c, g, dk,
				      vg);
	}
	for (r = 0; r < nz; r++) {
		size_t c = z_col(r, dk, vg);

		seen[c]++;
		for (i = 0; i < d; i++)
			ck_assert_msg(z[r * d + i] == x[i * w + c],
				      "z[%zu][%zu] = %g, want x[%zu][%zu]", r,
				      i, (double)z[r * d + i], i, c);
	}
	for (i = 0; i < w; i++)
		ck_assert_msg(seen[i] == 1, "column %zu taken %u times", i,
			      (unsigned)seen[i]);
	free(seen);
	free(q);
	free(z);
	free(x);
}

START_TEST(qkvz_hooks_should_be_registered_without_inverse)
{
	const char *names[] = {"qkvz_to_qkv", "qkvz_to_z"};

	for (size_t i = 0; i < 2; i++) {
		const struct hook *h = find(names[i]);

		ck_assert_uint_eq(h->nin, 1);
		ck_assert_uint_eq(h->nargs, 3);
		ck_assert_ptr_null(h->inverse);
	}
}
END_TEST

START_TEST(qkvz_should_regroup_a_tiny_kernel)
{
	/* G = 2 key heads, Dk = 2, Vg = 3 (e.g. 3 value heads of dim 1). */
	check_split(3, 2, 2, 3);
	/* One group: q, k, v, z are consecutive column blocks. */
	check_split(4, 1, 3, 5);
}
END_TEST

START_TEST(qkvz_should_regroup_sizes_off_the_tile)
{
	/* Larger than the transpose tiles, with ragged edges. */
	check_split(70, 3, 9, 20);
	check_split(130, 4, 16, 32);
}
END_TEST

START_TEST(qkvz_should_match_a_hand_written_case)
{
	/* D = 1, G = 2, Dk = 1, Vg = 1: columns q0 k0 v0 z0 q1 k1 v1 z1. */
	const float x[8] = {10, 11, 12, 13, 20, 21, 22, 23};
	const float want_qkv[6] = {10, 20, 11, 21, 12, 22};
	const float want_z[2] = {13, 23};
	struct hook_shape s;
	float *y;

	y = run("qkvz_to_qkv", 1, 2, 1, 1, x, NULL, &s);
	ck_assert_int_eq(memcmp(y, want_qkv, sizeof(want_qkv)), 0);
	free(y);
	y = run("qkvz_to_z", 1, 2, 1, 1, x, NULL, &s);
	ck_assert_int_eq(memcmp(y, want_z, sizeof(want_z)), 0);
	free(y);
}
END_TEST

START_TEST(qkvz_should_take_the_target_shape)
{
	struct hook_shape t = shape2(2 * (2 * 2 + 3), 5), s;
	float *x = make_input(5, 2 * 10), *y;

	y = run("qkvz_to_qkv", 5, 2, 2, 3, x, &t, &s);
	ck_assert_uint_eq(s.d[0], 14);
	ck_assert_uint_eq(s.d[1], 5);
	free(y);
	/* A flat target of the same element count is a reshape. */
	t.rank = 1;
	t.d[0] = 6 * 5;
	t.d[1] = 0;
	y = run("qkvz_to_z", 5, 2, 2, 3, x, &t, &s);
	ck_assert_uint_eq(s.rank, 1);
	ck_assert_uint_eq(s.d[0], 30);
	free(y);
	free(x);
}
END_TEST

/* shape() must fail with err and a message naming the hook. */
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

START_TEST(qkvz_shape_should_reject_bad_inputs)
{
	const char *names[] = {"qkvz_to_qkv", "qkvz_to_z"};
	struct hook_shape ok = shape2(4, 2 * (2 * 2 + 2 * 3));
	struct hook_shape two[2] = {ok, ok}, r3 = ok, r1 = ok;
	struct hook_args good = args3(2, 2, 3), two_args = good;

	two_args.n = 2;
	r3.rank = 3;
	r3.d[2] = 1;
	r1.rank = 1;
	for (size_t i = 0; i < 2; i++) {
		const char *n = names[i];

		expect_error(n, &two_args, &ok, 1, NULL, -EINVAL);
		expect_error(n, NULL, &ok, 1, NULL, -EINVAL);
		expect_error(n, &good, two, 2, NULL, -EINVAL);
		expect_error(n, &good, &r3, 1, NULL, -EINVAL);
		expect_error(n, &good, &r1, 1, NULL, -EINVAL);
		/* Arguments that are not positive integers. */
		expect_error(n, &(struct hook_args){3, {0, 2, 3}}, &ok, 1, NULL,
			     -EINVAL);
		expect_error(n, &(struct hook_args){3, {2, 2.5, 3}}, &ok, 1,
			     NULL, -EINVAL);
		expect_error(n, &(struct hook_args){3, {2, 2, NAN}}, &ok, 1,
			     NULL, -EINVAL);
		expect_error(n, &(struct hook_args){3, {-2, 2, 3}}, &ok, 1,
			     NULL, -EINVAL);
		expect_error(n, &(struct hook_args){3, {1e30, 2, 3}}, &ok, 1,
			     NULL, -EINVAL);
		/* Width not G * (2 Dk + 2 Vg). */
		expect_error(n, &(struct hook_args){3, {2, 2, 2}}, &ok, 1, NULL,
			     -EINVAL);
		ck_assert_ptr_nonnull(strstr(ck_err_msg(), "[4,20]"));
		expect_error(n, &(struct hook_args){3, {3, 2, 3}}, &ok, 1, NULL,
			     -EINVAL);
		/* A target of another element count. */
		expect_error(n, &good, &ok, 1, &(struct hook_shape){2, {5, 4}},
			     -EINVAL);
	}
}
END_TEST

START_TEST(qkvz_should_pass_an_empty_hidden_axis)
{
	struct hook_shape s;
	float x[1] = {0}, *y;

	y = run("qkvz_to_qkv", 0, 2, 2, 3, x, NULL, &s);
	ck_assert_uint_eq(s.d[0], 14);
	ck_assert_uint_eq(s.d[1], 0);
	free(y);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hook_qkvz_regroup");
	TCase *tc = tcase_create("qkvz_regroup");

	tcase_add_test(tc, qkvz_hooks_should_be_registered_without_inverse);
	tcase_add_test(tc, qkvz_should_regroup_a_tiny_kernel);
	tcase_add_test(tc, qkvz_should_regroup_sizes_off_the_tile);
	tcase_add_test(tc, qkvz_should_match_a_hand_written_case);
	tcase_add_test(tc, qkvz_should_take_the_target_shape);
	tcase_add_test(tc, qkvz_shape_should_reject_bad_inputs);
	tcase_add_test(tc, qkvz_should_pass_an_empty_hidden_axis);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
