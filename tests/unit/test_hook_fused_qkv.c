/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the "fused_qkv" hook (hooks/hook_fused_qkv.c): every
 * expected value comes from an index formula written here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "hook_impl.h"
#include "tensor/hook.h"
#include "util/ck_err.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define SHAPE(...)                                                         \
	((struct hook_shape){                                              \
		.rank = (unsigned)NELEM(((const uint64_t[]){ __VA_ARGS__ })), \
		.d = { __VA_ARGS__ } })

static const struct hook *fused(void)
{
	const struct hook *h = hook_find("fused_qkv");

	ck_assert_ptr_nonnull(h);
	return h;
}

static float *falloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));

	ck_assert_ptr_nonnull(p);
	return p;
}

/* Input k of shape [c, h, d]: x[i][g][j] = 10000 k + 100 i + 10 g + j
 * (exact in float for the sizes used). */
static float *kernel_input(unsigned k, size_t c, size_t h, size_t d)
{
	float *x = falloc(c * h * d);

	for (size_t i = 0; i < c; i++)
		for (size_t g = 0; g < h; g++)
			for (size_t j = 0; j < d; j++)
				x[(i * h + g) * d + j] =
					(float)(10000 * k + 100 * i + 10 * g + j);
	return x;
}

/* Run the hook on three inputs; returns the output (caller frees). */
static float *run3(const struct hook_shape *ins, float *const *in,
		   const struct hook_shape *tgt, struct hook_shape *outs)
{
	const struct hook *h = fused();
	const float *inp[3] = { in[0], in[1], in[2] };
	struct hook_args a0;
	float *o;

	memset(&a0, 0, sizeof(a0));
	ck_assert_int_eq(h->shape(&a0, ins, 3, tgt, outs), 0);
	ck_assert_uint_eq(outs->rank, tgt->rank);
	for (unsigned i = 0; i < tgt->rank; i++)
		ck_assert_uint_eq(outs->d[i], tgt->d[i]);
	o = falloc((size_t)hook_shape_numel(outs));
	ck_assert_int_eq(h->forward(&a0, ins, inp, 3, outs, o), 0);
	return o;
}

START_TEST(fused_qkv_should_be_registered_as_a_three_input_hook)
{
	const struct hook *h = fused();

	ck_assert_str_eq(h->name, "fused_qkv");
	ck_assert_uint_eq(h->nin, 3);
	ck_assert_uint_eq(h->nargs, 0);
	ck_assert_ptr_null(h->inverse);
}
END_TEST

/*
 * q, k, v kernels [C, H, hd]: output row r = k * H * hd + g * hd + j, column
 * i holds input k's [i][g][j] (reshape to [C, C] then transpose, stacked).
 */
START_TEST(fused_qkv_should_stack_transposed_kernels)
{
	const size_t c = 6, h = 2, d = 3, per = h * d;
	struct hook_shape ins[3] = { SHAPE(6, 2, 3), SHAPE(6, 2, 3), SHAPE(6, 2, 3) };
	struct hook_shape outs;
	float *in[3], *o;

	for (unsigned k = 0; k < 3; k++)
		in[k] = kernel_input(k, c, h, d);
	o = run3(ins, in, &SHAPE(3 * per, c), &outs);
	for (unsigned k = 0; k < 3; k++)
		for (size_t g = 0; g < h; g++)
			for (size_t j = 0; j < d; j++)
				for (size_t i = 0; i < c; i++) {
					size_t r = k * per + g * d + j;

					ck_assert_float_eq(o[r * c + i],
							   (float)(10000 * k + 100 * i +
								   10 * g + j));
				}
	for (unsigned k = 0; k < 3; k++)
		free(in[k]);
	free(o);
}
END_TEST

/* Grouped-query sizes: q has more heads than k and v. */
START_TEST(fused_qkv_should_take_inputs_of_different_sizes)
{
	const size_t c = 5, d = 4, heads[3] = { 3, 1, 1 };
	struct hook_shape ins[3] = { SHAPE(5, 3, 4), SHAPE(5, 1, 4), SHAPE(5, 1, 4) };
	struct hook_shape outs;
	float *in[3], *o;
	size_t off = 0;

	for (unsigned k = 0; k < 3; k++)
		in[k] = kernel_input(k, c, heads[k], d);
	o = run3(ins, in, &SHAPE(20, 5), &outs);
	for (unsigned k = 0; k < 3; k++) {
		for (size_t g = 0; g < heads[k]; g++)
			for (size_t j = 0; j < d; j++)
				for (size_t i = 0; i < c; i++)
					ck_assert_float_eq(o[(off + g * d + j) * c + i],
							   (float)(10000 * k + 100 * i +
								   10 * g + j));
		off += heads[k] * d;
	}
	for (unsigned k = 0; k < 3; k++)
		free(in[k]);
	free(o);
}
END_TEST

/* Sizes past the transpose's tiles and micro blocks, ragged edges. */
START_TEST(fused_qkv_should_handle_sizes_off_the_tile)
{
	const size_t c = 70, r[3] = { 67, 9, 130 };
	struct hook_shape ins[3] = { SHAPE(70, 67), SHAPE(70, 9), SHAPE(70, 13, 10) };
	struct hook_shape outs;
	float *in[3], *o;
	size_t off = 0;

	for (unsigned k = 0; k < 3; k++) {
		in[k] = falloc(c * r[k]);
		for (size_t i = 0; i < c * r[k]; i++)
			in[k][i] = (float)(k * 100000 + i);
	}
	o = run3(ins, in, &SHAPE(206, 70), &outs);
	for (unsigned k = 0; k < 3; k++) {
		for (size_t row = 0; row < r[k]; row++)
			for (size_t i = 0; i < c; i++)
				ck_assert_float_eq(o[(off + row) * c + i],
						   (float)(k * 100000 + i * r[k] + row));
		off += r[k];
	}
	for (unsigned k = 0; k < 3; k++)
		free(in[k]);
	free(o);
}
END_TEST

/* Biases [H, hd] flattened and concatenated (attn.qkv.bias). */
START_TEST(fused_qkv_should_concatenate_biases_for_a_1d_target)
{
	struct hook_shape ins[3] = { SHAPE(2, 3), SHAPE(2, 3), SHAPE(6) };
	struct hook_shape outs;
	float *in[3], *o;

	for (unsigned k = 0; k < 3; k++) {
		in[k] = falloc(6);
		for (unsigned m = 0; m < 6; m++)
			in[k][m] = (float)(10 * k + m);
	}
	o = run3(ins, in, &SHAPE(18), &outs);
	for (unsigned k = 0; k < 3; k++)
		for (unsigned m = 0; m < 6; m++)
			ck_assert_float_eq(o[k * 6 + m], (float)(10 * k + m));
	/* A 2-D target with one column is the same concatenation. */
	free(o);
	o = run3(ins, in, &SHAPE(18, 1), &outs);
	for (unsigned k = 0; k < 3; k++)
		for (unsigned m = 0; m < 6; m++)
			ck_assert_float_eq(o[k * 6 + m], (float)(10 * k + m));
	for (unsigned k = 0; k < 3; k++)
		free(in[k]);
	free(o);
}
END_TEST

static void expect_error(const struct hook_args *a, const struct hook_shape *in,
			 unsigned nin, const struct hook_shape *tgt, int err,
			 const char *msg)
{
	struct hook_shape out;

	ck_err_clear();
	ck_assert_int_eq(fused()->shape(a, in, nin, tgt, &out), err);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "fused_qkv"));
	if (msg)
		ck_assert_msg(strstr(ck_err_msg(), msg), "'%s' lacks '%s'",
			      ck_err_msg(), msg);
}

START_TEST(fused_qkv_should_reject_bad_shapes)
{
	struct hook_args a0, a1;
	struct hook_shape three[3] = { SHAPE(4, 2, 2), SHAPE(4, 2, 2), SHAPE(4, 2, 2) };
	struct hook_shape odd[3] = { SHAPE(4, 2, 2), SHAPE(4, 2, 2), SHAPE(3, 3) };
	struct hook_shape deep, zero;

	memset(&a0, 0, sizeof(a0));
	memset(&a1, 0, sizeof(a1));
	a1.n = 1;
	a1.v[0] = 2.0;
	memset(&deep, 0, sizeof(deep));
	deep.rank = 3;
	zero = SHAPE(12, 0);
	/* the right call works */
	{
		struct hook_shape out;

		ck_assert_int_eq(fused()->shape(&a0, three, 3, &SHAPE(12, 4), &out), 0);
	}
	expect_error(&a0, three, 2, &SHAPE(12, 4), -EINVAL, "3 input");
	expect_error(&a1, three, 3, &SHAPE(12, 4), -EINVAL, "argument");
	expect_error(&a0, three, 3, NULL, -EINVAL, "target");
	expect_error(&a0, three, 3, &deep, -EINVAL, "not 1-D or 2-D");
	expect_error(&a0, three, 3, &zero, -EINVAL, "no columns");
	/* rows must add up */
	expect_error(&a0, three, 3, &SHAPE(13, 4), -EINVAL, "give 12 rows");
	expect_error(&a0, three, 3, &SHAPE(47), -EINVAL, "give 48 rows");
	/* every input must split into whole rows */
	expect_error(&a0, odd, 3, &SHAPE(8, 4), -EINVAL, "[3,3]");
	expect_error(&a0, three, 3, &SHAPE(16, 3), -EINVAL, "rows of 3");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hook_fused_qkv");
	TCase *tc = tcase_create("fused_qkv");

	tcase_add_test(tc, fused_qkv_should_be_registered_as_a_three_input_hook);
	tcase_add_test(tc, fused_qkv_should_stack_transposed_kernels);
	tcase_add_test(tc, fused_qkv_should_take_inputs_of_different_sizes);
	tcase_add_test(tc, fused_qkv_should_handle_sizes_off_the_tile);
	tcase_add_test(tc, fused_qkv_should_concatenate_biases_for_a_1d_target);
	tcase_add_test(tc, fused_qkv_should_reject_bad_shapes);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
