/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the hook functions (hooks/): every expected value comes from
 * an index formula written here, never from another hook.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "hook_impl.h"
#include "tensor/hook.h"
#include "util/ck_err.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A shape (an lvalue) from a list of dimensions: SHAPE(2, 3, 4). */
#define SHAPE(...)                                                         \
	((struct hook_shape){                                              \
		.rank = (unsigned)NELEM(((const uint64_t[]){ __VA_ARGS__ })), \
		.d = { __VA_ARGS__ } })

/* One numeric argument (an lvalue). */
#define ARGS1(x) ((struct hook_args){ .n = 1, .v = { (x) } })

static struct hook_shape mk_shape(unsigned rank, const uint64_t *d)
{
	struct hook_shape s;

	memset(&s, 0, sizeof(s));
	s.rank = rank;
	memcpy(s.d, d, rank * sizeof(d[0]));
	return s;
}

static struct hook_args mk_args0(void)
{
	struct hook_args a;

	memset(&a, 0, sizeof(a));
	return a;
}

static struct hook_args mk_args1(double v)
{
	struct hook_args a = mk_args0();

	a.n = 1;
	a.v[0] = v;
	return a;
}

static float *falloc(size_t n)
{
	float *p = calloc(n ? n : 1, sizeof(float));

	ck_assert_ptr_nonnull(p);
	return p;
}

/* Reproducible floats; exact=1 gives multiples of 1/1024 in [-8, 8), for
 * which x - 1 + 1 == x and scaling by powers of two is exact. */
static float *rand_floats(size_t n, uint32_t seed, int exact)
{
	float *p = falloc(n);
	uint32_t x = seed * 2654435761u + 12345;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (exact)
			p[i] = (float)((int32_t)(x % 16384) - 8192) / 1024.0f;
		else
			p[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 7.0f;
	}
	return p;
}

/* Bitwise float equality (so -0 != +0 and a stray NaN never matches). */
static int same_bits(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static const struct hook *find(const char *name)
{
	const struct hook *h = hook_find(name);

	ck_assert_msg(h != NULL, "hook '%s' is not registered", name);
	return h;
}

/* One step of a chain: hook name plus its arguments. */
struct step {
	const char *name;
	struct hook_args args;
};

/*
 * Run a chain forward as the engine does: each hook's shape() feeds the next,
 * then forward().  Returns the result (caller frees) and its shape.
 */
static float *run_chain(const struct step *st, unsigned n,
			const struct hook_shape *ins, const float *x,
			const struct hook_shape *tgt, struct hook_shape *outs)
{
	struct hook_shape cur = *ins, next;
	float *buf = falloc((size_t)hook_shape_numel(ins));
	unsigned k;

	memcpy(buf, x, (size_t)hook_shape_numel(ins) * sizeof(float));
	for (k = 0; k < n; k++) {
		const struct hook *h = find(st[k].name);
		const float *inp[1] = { buf };
		float *o;

		ck_assert_int_eq(h->shape(&st[k].args, &cur, 1, tgt, &next), 0);
		o = falloc((size_t)hook_shape_numel(&next));
		ck_assert_int_eq(h->forward(&st[k].args, &cur, inp, 1, &next, o),
				 0);
		free(buf);
		buf = o;
		cur = next;
	}
	*outs = cur;
	return buf;
}

/*
 * Run the inverse of a chain (the reversed list of inverses) from its HF
 * output y back to the MaxText shape ins.  Intermediate shapes come from the
 * forward shape() calls.  Returns the result (caller frees).
 */
static float *run_inverse_chain(const struct step *st, unsigned n,
				const struct hook_shape *ins, const float *y,
				const struct hook_shape *tgt)
{
	struct hook_shape sh[8];
	float *buf;
	unsigned k;

	ck_assert_uint_lt(n, NELEM(sh));
	sh[0] = *ins;
	for (k = 0; k < n; k++)
		ck_assert_int_eq(find(st[k].name)->shape(&st[k].args, &sh[k], 1,
							 tgt, &sh[k + 1]), 0);
	buf = falloc((size_t)hook_shape_numel(&sh[n]));
	memcpy(buf, y, (size_t)hook_shape_numel(&sh[n]) * sizeof(float));
	for (k = n; k-- > 0;) {
		const struct hook *h = find(st[k].name);
		float *o = falloc((size_t)hook_shape_numel(&sh[k]));

		ck_assert_ptr_nonnull(h->inverse);
		ck_assert_int_eq(h->inverse(&st[k].args, &sh[k + 1], buf, &sh[k],
					    o), 0);
		free(buf);
		buf = o;
	}
	return buf;
}

static void assert_shape(const struct hook_shape *s, const struct hook_shape *e)
{
	unsigned i;

	ck_assert_uint_eq(s->rank, e->rank);
	for (i = 0; i < e->rank; i++)
		ck_assert_uint_eq(s->d[i], e->d[i]);
}

START_TEST(hook_table_should_have_unique_complete_entries)
{
	static const char *const want[] = {
		"identity", "reshape_kernel", "transpose", "reshape_bias",
		"scale_query", "norm_offset", "rope_to_halves", "embed_pad",
		"expert_transpose", "embed_scale",
	};
	static const char *const want_inv[] = {
		"conv2d_hwio", "conv3d", "conv1d_dw", "squeeze0", "flatten",
		"perm102", "scale_div",
	};
	static const char *const want_pair[] = {
		"interleave2", "concat2_swap", "concat2",
	};
	const struct hook *h, *g;
	size_t i, j;

	for (i = 0; (h = hooks_at(i)) != NULL; i++) {
		ck_assert_ptr_nonnull(h->name);
		ck_assert_msg(h->shape && h->forward, "'%s' lacks shape/forward",
			      h->name);
		ck_assert_uint_ge(h->nin, 1);
		ck_assert_uint_le(h->nin, HOOK_MAX_INPUTS);
		ck_assert_uint_le(h->nargs, HOOK_MAX_ARGS);
		ck_assert_ptr_eq(hook_find(h->name), h);
		for (j = 0; j < i; j++) {
			g = hooks_at(j);
			ck_assert_msg(strcmp(g->name, h->name) != 0,
				      "'%s' registered twice", h->name);
		}
	}
	ck_assert_uint_ge(i, NELEM(want) + NELEM(want_inv) + NELEM(want_pair));
	for (i = 0; i < NELEM(want); i++)
		ck_assert_ptr_nonnull(find(want[i])->inverse);
	for (i = 0; i < NELEM(want_inv); i++) {
		ck_assert_uint_eq(find(want_inv[i])->nin, 1);
		ck_assert_ptr_nonnull(find(want_inv[i])->inverse);
	}
	/* Composite hooks: two inputs, no single-tensor inverse. */
	for (i = 0; i < NELEM(want_pair); i++) {
		ck_assert_uint_eq(find(want_pair[i])->nin, 2);
		ck_assert_ptr_null(find(want_pair[i])->inverse);
	}
	ck_assert_ptr_null(hook_find("no_such_hook"));
	ck_assert_ptr_null(hook_find(""));
	ck_assert_ptr_null(hook_find(NULL));
}
END_TEST

START_TEST(hook_shape_numel_should_multiply_and_saturate)
{
	struct hook_shape s = SHAPE(2, 3, 4), z = SHAPE(5, 0, 7);
	struct hook_shape big = SHAPE(1ull << 40, 1ull << 40);
	struct hook_shape zbig = SHAPE(1ull << 40, 1ull << 40, 0);
	struct hook_shape r0;

	memset(&r0, 0, sizeof(r0));
	ck_assert_uint_eq(hook_shape_numel(&s), 24);
	ck_assert_uint_eq(hook_shape_numel(&z), 0);
	ck_assert_uint_eq(hook_shape_numel(&r0), 1);
	ck_assert_uint_eq(hook_shape_numel(&big), UINT64_MAX);
	ck_assert_uint_eq(hook_shape_numel(&zbig), 0);
}
END_TEST

/* x[d][h][j] = d*100 + h*10 + j for the Llama 3.1 tests. */
#define LD 6
#define LH 2
#define LHD 4

static float *llama_query(void)
{
	float *x = falloc(LD * LH * LHD);
	int d, h, j;

	for (d = 0; d < LD; d++)
		for (h = 0; h < LH; h++)
			for (j = 0; j < LHD; j++)
				x[(d * LH + h) * LHD + j] =
					(float)(d * 100 + h * 10 + j);
	return x;
}

/* The pair->half permutation, written out independently of the hook. */
static int rope_perm(int jp, int hd)
{
	return jp < hd / 2 ? 2 * jp : 2 * (jp - hd / 2) + 1;
}

START_TEST(llama31_query_chain_should_scale_permute_and_flatten)
{
	const double c = sqrt(128.0);
	const struct step st[] = {
		{ "scale_query", mk_args1(c) },
		{ "rope_to_halves", mk_args0() },
		{ "reshape_kernel", mk_args0() },
	};
	struct hook_shape ins = SHAPE(LD, LH, LHD), tgt = SHAPE(LH * LHD, LD);
	struct hook_shape outs;
	volatile float cf = (float)c;
	float *x = llama_query(), *y;
	int d, h, jp;

	y = run_chain(st, NELEM(st), &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (h = 0; h < LH; h++)
		for (jp = 0; jp < LHD; jp++)
			for (d = 0; d < LD; d++) {
				float src = (float)(d * 100 + h * 10 +
						    rope_perm(jp, LHD));
				float e = src * cf;

				ck_assert_msg(same_bits(y[(h * LHD + jp) * LD + d], e),
					      "q[%d][%d] = %g, want %g",
					      h * LHD + jp, d,
					      (double)y[(h * LHD + jp) * LD + d],
					      (double)e);
			}
	free(y);
	free(x);
}
END_TEST

START_TEST(llama31_query_chain_inverse_should_restore_maxtext)
{
	const struct step st[] = {
		{ "scale_query", mk_args1(2.0) },
		{ "rope_to_halves", mk_args0() },
		{ "reshape_kernel", mk_args0() },
	};
	struct hook_shape ins = SHAPE(LD, LH, LHD), tgt = SHAPE(LH * LHD, LD);
	struct hook_shape outs;
	float *x = llama_query(), *y, *back;
	size_t i;

	y = run_chain(st, NELEM(st), &ins, x, &tgt, &outs);
	back = run_inverse_chain(st, NELEM(st), &ins, y, &tgt);
	for (i = 0; i < LD * LH * LHD; i++)
		ck_assert(same_bits(back[i], x[i]));
	free(back);
	free(y);
	free(x);
}
END_TEST

START_TEST(llama31_key_chain_should_permute_then_flatten)
{
	const struct step st[] = {
		{ "rope_to_halves", mk_args0() },
		{ "reshape_kernel", mk_args0() },
	};
	struct hook_shape ins = SHAPE(LD, LH, LHD), tgt = SHAPE(LH * LHD, LD);
	struct hook_shape outs;
	float *x = llama_query(), *y;
	int d, h, jp;

	y = run_chain(st, NELEM(st), &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (h = 0; h < LH; h++)
		for (jp = 0; jp < LHD; jp++)
			for (d = 0; d < LD; d++)
				ck_assert(same_bits(y[(h * LHD + jp) * LD + d],
						    (float)(d * 100 + h * 10 +
							    rope_perm(jp, LHD))));
	free(y);
	free(x);
}
END_TEST

START_TEST(reshape_kernel_should_flatten_q_then_transpose)
{
	const int D = 37, H = 3, hd = 20;
	struct hook_shape ins = SHAPE(37, 3, 20), tgt = SHAPE(60, 37), outs;
	const struct step st[] = { { "reshape_kernel", mk_args0() } };
	float *x = rand_floats(37 * 3 * 20, 1, 0), *y;
	int d, h, j;

	y = run_chain(st, 1, &ins, x, &tgt, &outs);
	for (d = 0; d < D; d++)
		for (h = 0; h < H; h++)
			for (j = 0; j < hd; j++)
				ck_assert(same_bits(y[(h * hd + j) * D + d],
						    x[(d * H + h) * hd + j]));
	free(y);
	free(x);
}
END_TEST

START_TEST(reshape_kernel_should_map_o_proj_to_d_by_h_hd)
{
	const int H = 3, hd = 5, D = 7;
	struct hook_shape ins = SHAPE(3, 5, 7), tgt = SHAPE(7, 15), outs;
	const struct step st[] = { { "reshape_kernel", mk_args0() } };
	float *x = rand_floats(3 * 5 * 7, 2, 0), *y;
	int d, h, j;

	y = run_chain(st, 1, &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (d = 0; d < D; d++)
		for (h = 0; h < H; h++)
			for (j = 0; j < hd; j++)
				ck_assert(same_bits(y[d * (H * hd) + h * hd + j],
						    x[(h * hd + j) * D + d]));
	free(y);
	free(x);
}
END_TEST

START_TEST(reshape_kernel_should_reverse_all_axes_of_a_3d_target)
{
	/* tgt [4,3,2]: x viewed as [2,3,4], out[i][j][k] = xv[k][j][i]. */
	struct hook_shape ins = SHAPE(6, 4), tgt = SHAPE(4, 3, 2), outs;
	const struct step st[] = { { "reshape_kernel", mk_args0() } };
	float *x = rand_floats(24, 3, 0), *y;
	int i, j, k;

	y = run_chain(st, 1, &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (i = 0; i < 4; i++)
		for (j = 0; j < 3; j++)
			for (k = 0; k < 2; k++)
				ck_assert(same_bits(y[(i * 3 + j) * 2 + k],
						    x[(k * 3 + j) * 4 + i]));
	free(y);
	free(x);
}
END_TEST

START_TEST(transpose_should_handle_sizes_off_the_tile)
{
	static const size_t sizes[][2] = { { 1000, 777 }, { 777, 1000 },
					   { 67, 3 } };
	const struct step st[] = { { "transpose", mk_args0() } };
	size_t k, i, j;

	for (k = 0; k < NELEM(sizes); k++) {
		const size_t R = sizes[k][0], C = sizes[k][1];
		struct hook_shape ins = SHAPE(R, C), outs;
		float *x = falloc(R * C), *y;

		for (i = 0; i < R; i++)
			for (j = 0; j < C; j++)
				x[i * C + j] = (float)(i * C + j);
		y = run_chain(st, 1, &ins, x, NULL, &outs);
		assert_shape(&outs, &SHAPE(C, R));
		for (j = 0; j < C; j++)
			for (i = 0; i < R; i++)
				ck_assert(same_bits(y[j * R + i],
						    (float)(i * C + j)));
		free(y);
		free(x);
	}
}
END_TEST

START_TEST(transpose_should_leave_1d_and_0d_unchanged)
{
	struct hook_shape ins = SHAPE(9), outs, r0;
	const struct step st[] = { { "transpose", mk_args0() } };
	float *x = rand_floats(9, 4, 0), *y;
	float one = 3.5f;
	size_t i;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &ins);
	for (i = 0; i < 9; i++)
		ck_assert(same_bits(y[i], x[i]));
	free(y);
	memset(&r0, 0, sizeof(r0));
	y = run_chain(st, 1, &r0, &one, NULL, &outs);
	ck_assert_uint_eq(outs.rank, 0);
	ck_assert(same_bits(y[0], one));
	free(y);
	free(x);
}
END_TEST

START_TEST(expert_transpose_should_transpose_each_expert)
{
	const int E = 3, A = 70, B = 45;
	struct hook_shape ins = SHAPE(3, 70, 45), outs;
	struct hook_shape slice = SHAPE(70, 45);
	const struct step st[] = { { "expert_transpose", mk_args0() } };
	float *x = rand_floats(3 * 70 * 45, 5, 0), *y;
	int e, a, b;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(3, 45, 70));
	for (e = 0; e < E; e++)
		for (a = 0; a < A; a++)
			for (b = 0; b < B; b++)
				ck_assert(same_bits(y[(e * B + b) * A + a],
						    x[(e * A + a) * B + b]));
	free(y);
	/* One expert's 2-D slice (expert 1), as the engine passes it. */
	y = run_chain(st, 1, &slice, x + A * B, NULL, &outs);
	assert_shape(&outs, &SHAPE(45, 70));
	for (a = 0; a < A; a++)
		for (b = 0; b < B; b++)
			ck_assert(same_bits(y[b * A + a], x[(A + a) * B + b]));
	free(y);
	free(x);
}
END_TEST

START_TEST(embed_pad_should_truncate_and_zero_pad_rows)
{
	struct hook_shape big = SHAPE(10, 3), small = SHAPE(8, 3), outs;
	const struct step st[] = { { "embed_pad", mk_args0() } };
	float *x = rand_floats(30, 6, 0), *y;
	int r, c;

	/* 10 rows -> 8: the first 8. */
	y = run_chain(st, 1, &big, x, &small, &outs);
	assert_shape(&outs, &small);
	for (r = 0; r < 8; r++)
		for (c = 0; c < 3; c++)
			ck_assert(same_bits(y[r * 3 + c], x[r * 3 + c]));
	free(y);
	/* 8 rows -> 10: two rows of +0.0f. */
	y = run_chain(st, 1, &small, x, &big, &outs);
	assert_shape(&outs, &big);
	for (r = 0; r < 10; r++)
		for (c = 0; c < 3; c++)
			ck_assert(same_bits(y[r * 3 + c],
					    r < 8 ? x[r * 3 + c] : 0.0f));
	free(y);
	/* Inverse: HF 8 rows back to MaxText 10 (padding) and 10 -> 8. */
	y = falloc(30);
	ck_assert_int_eq(find("embed_pad")->inverse(NULL, &small, x, &big, y),
			 0);
	for (r = 0; r < 10; r++)
		for (c = 0; c < 3; c++)
			ck_assert(same_bits(y[r * 3 + c],
					    r < 8 ? x[r * 3 + c] : 0.0f));
	ck_assert_int_eq(find("embed_pad")->inverse(NULL, &big, x, &small, y),
			 0);
	for (r = 0; r < 8; r++)
		for (c = 0; c < 3; c++)
			ck_assert(same_bits(y[r * 3 + c], x[r * 3 + c]));
	free(y);
	free(x);
}
END_TEST

START_TEST(embed_scale_should_divide_and_pad_rows_and_columns)
{
	const double n = sqrt(2304.0) + 0.1;	/* not a power of two */
	struct hook_shape ins = SHAPE(10, 6), tgt = SHAPE(8, 5), outs;
	struct hook_shape pad = SHAPE(12, 7);
	const struct step st[] = { { "embed_scale", mk_args1(n) } };
	volatile float nf = (float)n;
	float *x = rand_floats(60, 7, 0), *y;
	int r, c;

	y = run_chain(st, 1, &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (r = 0; r < 8; r++)
		for (c = 0; c < 5; c++)
			ck_assert(same_bits(y[r * 5 + c], x[r * 6 + c] / nf));
	free(y);
	y = run_chain(st, 1, &ins, x, &pad, &outs);
	for (r = 0; r < 12; r++)
		for (c = 0; c < 7; c++)
			ck_assert(same_bits(y[r * 7 + c],
					    r < 10 && c < 6 ?
					    x[r * 6 + c] / nf : 0.0f));
	free(y);
	/* Inverse: [8,5] HF -> [10,6] MaxText, times n, zero padded. */
	y = falloc(60);
	ck_assert_int_eq(find("embed_scale")->inverse(&st[0].args, &tgt, x,
						      &ins, y), 0);
	for (r = 0; r < 10; r++)
		for (c = 0; c < 6; c++)
			ck_assert(same_bits(y[r * 6 + c],
					    r < 8 && c < 5 ?
					    x[r * 5 + c] * nf : 0.0f));
	free(y);
	free(x);
}
END_TEST

START_TEST(scale_query_should_match_float_arithmetic_exactly)
{
	const double c = sqrt(128.0);
	const size_t n = 4099;
	struct hook_shape ins = SHAPE(4099), outs;
	const struct step st[] = { { "scale_query", mk_args1(c) } };
	volatile float cf = (float)sqrt(128.0);
	volatile float rf = (float)(1.0 / sqrt(128.0));
	float *x = rand_floats(n, 8, 0), *y;
	size_t i;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &ins);
	for (i = 0; i < n; i++) {
		float e = x[i] * cf;

		ck_assert(same_bits(y[i], e));
		/* The float product rounded once: exact in double first. */
		ck_assert(same_bits(y[i], (float)((double)x[i] * (double)cf)));
	}
	ck_assert_int_eq(find("scale_query")->inverse(&st[0].args, &ins, x,
						      &ins, y), 0);
	for (i = 0; i < n; i++)
		ck_assert(same_bits(y[i], x[i] * rf));
	free(y);
	free(x);
}
END_TEST

START_TEST(norm_offset_should_subtract_one_and_reshape)
{
	struct hook_shape ins = SHAPE(2, 3), tgt = SHAPE(6), outs;
	const struct step st[] = { { "norm_offset", mk_args0() } };
	float *x = rand_floats(6, 9, 0), *y;
	int i;

	y = run_chain(st, 1, &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (i = 0; i < 6; i++)
		ck_assert(same_bits(y[i], x[i] - 1.0f));
	ck_assert_int_eq(find("norm_offset")->inverse(NULL, &tgt, x, &ins, y),
			 0);
	for (i = 0; i < 6; i++)
		ck_assert(same_bits(y[i], x[i] + 1.0f));
	free(y);
	free(x);
}
END_TEST

START_TEST(reshape_bias_should_keep_row_major_order)
{
	struct hook_shape ins = SHAPE(4, 16), tgt = SHAPE(64), outs;
	const struct step st[] = { { "reshape_bias", mk_args0() } };
	float *x = rand_floats(64, 10, 0), *y;
	int h, j;

	y = run_chain(st, 1, &ins, x, &tgt, &outs);
	assert_shape(&outs, &tgt);
	for (h = 0; h < 4; h++)
		for (j = 0; j < 16; j++)
			ck_assert(same_bits(y[h * 16 + j], x[h * 16 + j]));
	free(y);
	free(x);
}
END_TEST

START_TEST(rope_to_halves_should_move_evens_first)
{
	const int R = 6, hd = 8;
	struct hook_shape ins = SHAPE(3, 2, 8), outs;
	const struct step st[] = { { "rope_to_halves", mk_args0() } };
	float *x = rand_floats(48, 11, 0), *y;
	int r, j;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &ins);
	for (r = 0; r < R; r++)
		for (j = 0; j < hd / 2; j++) {
			ck_assert(same_bits(y[r * hd + j], x[r * hd + 2 * j]));
			ck_assert(same_bits(y[r * hd + hd / 2 + j],
					    x[r * hd + 2 * j + 1]));
		}
	ck_assert_int_eq(find("rope_to_halves")->inverse(NULL, &ins, x, &ins,
							 y), 0);
	for (r = 0; r < R; r++)
		for (j = 0; j < hd / 2; j++) {
			ck_assert(same_bits(y[r * hd + 2 * j], x[r * hd + j]));
			ck_assert(same_bits(y[r * hd + 2 * j + 1],
					    x[r * hd + hd / 2 + j]));
		}
	free(y);
	free(x);
}
END_TEST

START_TEST(permute_should_match_the_index_formula)
{
	/* out axis k = in axis perm[k]; includes size-1 axes and merges. */
	static const unsigned perms[][4] = {
		{ 3, 2, 0, 1 }, { 0, 1, 3, 2 }, { 2, 3, 0, 1 }, { 1, 0, 2, 3 },
		{ 0, 1, 2, 3 }, { 3, 0, 1, 2 }, { 1, 3, 0, 2 },
	};
	static const uint64_t dims[][4] = {
		{ 5, 7, 3, 33 }, { 1, 40, 1, 9 }, { 6, 1, 35, 4 }, { 2, 3, 4, 5 },
	};
	size_t di, pi;

	for (di = 0; di < NELEM(dims); di++)
		for (pi = 0; pi < NELEM(perms); pi++) {
			struct hook_shape s = mk_shape(4, dims[di]);
			const unsigned *p = perms[pi];
			size_t n = (size_t)hook_shape_numel(&s);
			float *x = rand_floats(n, 12, 0), *y = falloc(n);
			uint64_t i[4], od[4];
			size_t o = 0, src;

			for (size_t k = 0; k < 4; k++)
				od[k] = s.d[p[k]];
			hook_util_permute(&s, x, p, y);
			for (i[0] = 0; i[0] < od[0]; i[0]++)
			for (i[1] = 0; i[1] < od[1]; i[1]++)
			for (i[2] = 0; i[2] < od[2]; i[2]++)
			for (i[3] = 0; i[3] < od[3]; i[3]++) {
				uint64_t ii[4] = { 0 };

				ii[p[0]] = i[0];
				ii[p[1]] = i[1];
				ii[p[2]] = i[2];
				ii[p[3]] = i[3];
				src = (size_t)(((ii[0] * s.d[1] + ii[1]) * s.d[2] +
						ii[2]) * s.d[3] + ii[3]);
				ck_assert_msg(same_bits(y[o], x[src]),
					      "dims %zu perm %zu at %zu", di, pi,
					      o);
				o++;
			}
			free(y);
			free(x);
		}
}
END_TEST

/*
 * Run a two-input hook as the engine does: shape() then forward().  Returns
 * the result (caller frees) and its shape.
 */
static float *run_pair(const char *name, const struct hook_shape *s,
		       const float *a, const float *b,
		       const struct hook_shape *tgt, struct hook_shape *outs)
{
	const struct hook *h = find(name);
	const struct hook_shape ins[2] = { *s, *s };
	const float *inp[2] = { a, b };
	struct hook_args a0 = mk_args0();
	float *o;

	ck_assert_uint_eq(h->nin, 2);
	ck_assert_int_eq(h->shape(&a0, ins, 2, tgt, outs), 0);
	o = falloc((size_t)hook_shape_numel(outs));
	ck_assert_int_eq(h->forward(&a0, ins, inp, 2, outs, o), 0);
	return o;
}

START_TEST(interleave2_should_alternate_gate_and_up)
{
	struct hook_shape s = SHAPE(3, 5), outs;
	struct hook_shape e3 = SHAPE(2, 3, 7);
	float *a = rand_floats(2 * 3 * 7, 20, 0), *b = rand_floats(42, 21, 0);
	float *y;
	int r, j, e, f;

	/* [3,5] gate and up -> [3,10]. */
	y = run_pair("interleave2", &s, a, b, &SHAPE(3, 10), &outs);
	assert_shape(&outs, &SHAPE(3, 10));
	for (r = 0; r < 3; r++)
		for (j = 0; j < 5; j++) {
			ck_assert(same_bits(y[r * 10 + 2 * j], a[r * 5 + j]));
			ck_assert(same_bits(y[r * 10 + 2 * j + 1],
					    b[r * 5 + j]));
		}
	free(y);
	/* The output takes the target's shape; without one, [..., 2n]. */
	y = run_pair("interleave2", &s, a, b, &SHAPE(30), &outs);
	assert_shape(&outs, &SHAPE(30));
	for (r = 0; r < 3; r++)
		for (j = 0; j < 10; j++)
			ck_assert(same_bits(y[r * 10 + j], j % 2 ?
					    b[r * 5 + j / 2] :
					    a[r * 5 + j / 2]));
	free(y);
	y = run_pair("interleave2", &s, a, b, NULL, &outs);
	assert_shape(&outs, &SHAPE(3, 10));
	free(y);
	/* GPT-OSS experts [E, D, F] -> [E, D, 2F]. */
	y = run_pair("interleave2", &e3, a, b, &SHAPE(2, 3, 14), &outs);
	assert_shape(&outs, &SHAPE(2, 3, 14));
	for (e = 0; e < 2; e++)
		for (r = 0; r < 3; r++)
			for (f = 0; f < 14; f++)
				ck_assert(same_bits(
					y[(e * 3 + r) * 14 + f],
					(f % 2 ? b : a)[(e * 3 + r) * 7 + f / 2]));
	free(y);
	free(b);
	free(a);
}
END_TEST

START_TEST(concat2_swap_should_stack_transposed_halves)
{
	static const uint64_t dims[][3] = { { 2, 3, 4 }, { 3, 70, 33 },
					    { 1, 9, 1 } };
	size_t k;

	for (k = 0; k < NELEM(dims); k++) {
		const size_t E = dims[k][0], D = dims[k][1], F = dims[k][2];
		struct hook_shape s = mk_shape(3, dims[k]), outs;
		float *a = rand_floats(E * D * F, 22, 0);
		float *b = rand_floats(E * D * F, 23, 0), *y;
		size_t e, j, d;

		y = run_pair("concat2_swap", &s, a, b, NULL, &outs);
		assert_shape(&outs, &SHAPE(E, 2 * F, D));
		for (e = 0; e < E; e++)
			for (j = 0; j < 2 * F; j++)
				for (d = 0; d < D; d++) {
					float want = j < F ?
						a[(e * D + d) * F + j] :
						b[(e * D + d) * F + j - F];

					ck_assert_msg(same_bits(y[(e * 2 * F + j) *
								  D + d],
								want),
						      "dims %zu at [%zu][%zu][%zu]",
						      k, e, j, d);
				}
		free(y);
		free(b);
		free(a);
	}
}
END_TEST

START_TEST(concat2_swap_should_handle_one_2d_slice)
{
	struct hook_shape s = SHAPE(3, 5), outs;
	float *a = rand_floats(15, 24, 0), *b = rand_floats(15, 25, 0), *y;
	int j, d;

	/* [D, F] -> [2F, D], as for one expert's slice. */
	y = run_pair("concat2_swap", &s, a, b, &SHAPE(10, 3), &outs);
	assert_shape(&outs, &SHAPE(10, 3));
	for (j = 0; j < 10; j++)
		for (d = 0; d < 3; d++)
			ck_assert(same_bits(y[j * 3 + d], j < 5 ?
					    a[d * 5 + j] : b[d * 5 + j - 5]));
	free(y);
	free(b);
	free(a);
}
END_TEST

START_TEST(concat2_should_join_rows)
{
	struct hook_shape s = SHAPE(2, 3, 4), v = SHAPE(5), outs;
	float *a = rand_floats(24, 26, 0), *b = rand_floats(24, 27, 0), *y;
	int e, d, j;

	y = run_pair("concat2", &s, a, b, NULL, &outs);
	assert_shape(&outs, &SHAPE(2, 3, 8));
	for (e = 0; e < 2; e++)
		for (d = 0; d < 3; d++)
			for (j = 0; j < 8; j++)
				ck_assert(same_bits(y[(e * 3 + d) * 8 + j],
						    j < 4 ?
						    a[(e * 3 + d) * 4 + j] :
						    b[(e * 3 + d) * 4 + j - 4]));
	free(y);
	y = run_pair("concat2", &v, a, b, NULL, &outs);
	assert_shape(&outs, &SHAPE(10));
	for (j = 0; j < 10; j++)
		ck_assert(same_bits(y[j], j < 5 ? a[j] : b[j - 5]));
	free(y);
	free(b);
	free(a);
}
END_TEST

START_TEST(conv2d_hwio_should_give_oihw)
{
	const int H = 2, W = 3, CI = 4, CO = 5;
	struct hook_shape ins = SHAPE(2, 3, 4, 5), outs;
	const struct step st[] = { { "conv2d_hwio", mk_args0() } };
	float *x = rand_floats(120, 30, 0), *y;
	int h, w, ci, co;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(5, 4, 2, 3));
	for (co = 0; co < CO; co++)
		for (ci = 0; ci < CI; ci++)
			for (h = 0; h < H; h++)
				for (w = 0; w < W; w++)
					ck_assert(same_bits(
						y[((co * CI + ci) * H + h) * W + w],
						x[((h * W + w) * CI + ci) * CO + co]));
	free(y);
	free(x);
}
END_TEST

START_TEST(conv3d_should_give_oithw)
{
	const int T = 2, H = 2, W = 3, CI = 4, CO = 5;
	struct hook_shape ins = SHAPE(2, 2, 3, 4, 5), outs;
	const struct step st[] = { { "conv3d", mk_args0() } };
	float *x = rand_floats(240, 31, 0), *y;
	int t, h, w, ci, co;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(5, 4, 2, 2, 3));
	for (co = 0; co < CO; co++)
		for (ci = 0; ci < CI; ci++)
			for (t = 0; t < T; t++)
				for (h = 0; h < H; h++)
					for (w = 0; w < W; w++)
						ck_assert(same_bits(
							y[(((co * CI + ci) * T + t) * H +
							   h) * W + w],
							x[(((t * H + h) * W + w) * CI +
							   ci) * CO + co]));
	free(y);
	free(x);
}
END_TEST

START_TEST(conv1d_dw_should_reverse_axes)
{
	const int K = 4, C = 6;
	struct hook_shape ins = SHAPE(4, 1, 6), outs;
	const struct step st[] = { { "conv1d_dw", mk_args0() } };
	float *x = rand_floats(24, 32, 0), *y;
	int k, c;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(6, 1, 4));
	for (c = 0; c < C; c++)
		for (k = 0; k < K; k++)
			ck_assert(same_bits(y[c * K + k], x[k * C + c]));
	free(y);
	free(x);
}
END_TEST

START_TEST(perm102_should_swap_leading_axes)
{
	const int A = 3, B = 2, C = 5;
	struct hook_shape ins = SHAPE(3, 2, 5), outs;
	const struct step st[] = { { "perm102", mk_args0() } };
	float *x = rand_floats(30, 33, 0), *y;
	int i, j, k;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(2, 3, 5));
	for (j = 0; j < B; j++)
		for (i = 0; i < A; i++)
			for (k = 0; k < C; k++)
				ck_assert(same_bits(y[(j * A + i) * C + k],
						    x[(i * B + j) * C + k]));
	free(y);
	free(x);
}
END_TEST

START_TEST(squeeze0_should_drop_the_leading_axis)
{
	struct hook_shape ins = SHAPE(1, 3, 5), outs;
	const struct step st[] = { { "squeeze0", mk_args0() } };
	float *x = rand_floats(15, 34, 0), *y;
	int i;

	y = run_chain(st, 1, &ins, x, &SHAPE(3, 5), &outs);
	assert_shape(&outs, &SHAPE(3, 5));
	for (i = 0; i < 15; i++)
		ck_assert(same_bits(y[i], x[i]));
	free(y);
	/* A target with as many elements is accepted; the shape is x[0]'s. */
	y = run_chain(st, 1, &ins, x, &SHAPE(15), &outs);
	assert_shape(&outs, &SHAPE(3, 5));
	free(y);
	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(3, 5));
	free(y);
	/* [1] -> a scalar. */
	y = run_chain(st, 1, &SHAPE(1), x, NULL, &outs);
	ck_assert_uint_eq(outs.rank, 0);
	ck_assert(same_bits(y[0], x[0]));
	free(y);
	free(x);
}
END_TEST

START_TEST(flatten_should_keep_row_major_order)
{
	struct hook_shape ins = SHAPE(3, 5), outs;
	const struct step st[] = { { "flatten", mk_args0() } };
	float *x = rand_floats(15, 35, 0), *y;
	int h, j;

	y = run_chain(st, 1, &ins, x, &SHAPE(15), &outs);
	assert_shape(&outs, &SHAPE(15));
	for (h = 0; h < 3; h++)
		for (j = 0; j < 5; j++)
			ck_assert(same_bits(y[h * 5 + j], x[h * 5 + j]));
	free(y);
	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &SHAPE(15));
	free(y);
	free(x);
}
END_TEST

START_TEST(scale_div_should_divide_exactly)
{
	const double n = sqrt(2304.0) + 0.1;	/* not a power of two */
	struct hook_shape ins = SHAPE(7, 9), outs;
	const struct step st[] = { { "scale_div", mk_args1(n) } };
	volatile float nf = (float)n;
	float *x = rand_floats(63, 36, 0), *y;
	int i;

	y = run_chain(st, 1, &ins, x, NULL, &outs);
	assert_shape(&outs, &ins);
	for (i = 0; i < 63; i++) {
		ck_assert(same_bits(y[i], x[i] / nf));
		/* A division, not a multiply by a rounded reciprocal. */
		ck_assert(same_bits(y[i], (float)((double)x[i] / (double)nf)));
	}
	ck_assert_int_eq(find("scale_div")->inverse(&st[0].args, &ins, x, &ins,
						    y), 0);
	for (i = 0; i < 63; i++)
		ck_assert(same_bits(y[i], x[i] * nf));
	free(y);
	free(x);
}
END_TEST

START_TEST(zero_sized_tensors_should_pass_through)
{
	struct hook_shape ins = SHAPE(0, 4), tgt = SHAPE(4, 0), outs;
	const struct step st[] = { { "reshape_kernel", mk_args0() } };
	float dummy = 0.0f;
	float *y;

	y = run_chain(st, 1, &ins, &dummy, &tgt, &outs);
	assert_shape(&outs, &tgt);
	free(y);
}
END_TEST

/* One round-trip case: hook, args, MaxText shape, target. */
struct rt_case {
	const char *name;
	double arg;		/* NAN: no argument */
	struct hook_shape mt;
	struct hook_shape tgt;
};

START_TEST(every_inverse_should_undo_forward)
{
	const struct rt_case cases[] = {
		{ "identity", NAN, SHAPE(3, 5, 2), SHAPE(3, 5, 2) },
		{ "identity", NAN, SHAPE(17), SHAPE(17) },
		{ "reshape_kernel", NAN, SHAPE(37, 3, 20), SHAPE(60, 37) },
		{ "reshape_kernel", NAN, SHAPE(3, 20, 37), SHAPE(37, 60) },
		{ "reshape_kernel", NAN, SHAPE(64, 100), SHAPE(100, 64) },
		{ "reshape_kernel", NAN, SHAPE(6, 4), SHAPE(4, 3, 2) },
		{ "transpose", NAN, SHAPE(65, 33), SHAPE(33, 65) },
		{ "transpose", NAN, SHAPE(1, 40), SHAPE(40, 1) },
		{ "transpose", NAN, SHAPE(12), SHAPE(12) },
		{ "reshape_bias", NAN, SHAPE(4, 16), SHAPE(64) },
		{ "reshape_bias", NAN, SHAPE(64), SHAPE(4, 16) },
		{ "scale_query", 4.0, SHAPE(8, 2, 16), SHAPE(8, 2, 16) },
		{ "scale_query", 0.125, SHAPE(31), SHAPE(31) },
		{ "norm_offset", NAN, SHAPE(48), SHAPE(48) },
		{ "norm_offset", NAN, SHAPE(4, 12), SHAPE(48) },
		{ "rope_to_halves", NAN, SHAPE(5, 3, 8), SHAPE(5, 3, 8) },
		{ "rope_to_halves", NAN, SHAPE(2), SHAPE(2) },
		{ "embed_pad", NAN, SHAPE(8, 5), SHAPE(10, 5) },
		{ "embed_pad", NAN, SHAPE(10, 5), SHAPE(10, 5) },
		{ "expert_transpose", NAN, SHAPE(4, 33, 70), SHAPE(4, 70, 33) },
		{ "expert_transpose", NAN, SHAPE(33, 70), SHAPE(70, 33) },
		{ "embed_scale", 8.0, SHAPE(10, 6), SHAPE(10, 6) },
		{ "embed_scale", 16.0, SHAPE(8, 5), SHAPE(12, 7) },
		{ "conv2d_hwio", NAN, SHAPE(2, 3, 4, 5), SHAPE(5, 4, 2, 3) },
		{ "conv2d_hwio", NAN, SHAPE(14, 14, 3, 67), SHAPE(67, 3, 14, 14) },
		{ "conv3d", NAN, SHAPE(2, 2, 3, 4, 5), SHAPE(5, 4, 2, 2, 3) },
		{ "conv3d", NAN, SHAPE(2, 7, 7, 3, 33), SHAPE(33, 3, 2, 7, 7) },
		{ "conv1d_dw", NAN, SHAPE(4, 1, 6), SHAPE(6, 1, 4) },
		{ "conv1d_dw", NAN, SHAPE(5, 3, 70), SHAPE(70, 3, 5) },
		{ "squeeze0", NAN, SHAPE(1, 7, 5), SHAPE(7, 5) },
		{ "squeeze0", NAN, SHAPE(1, 9), SHAPE(9) },
		{ "flatten", NAN, SHAPE(3, 5), SHAPE(15) },
		{ "flatten", NAN, SHAPE(2, 3, 4), SHAPE(24) },
		{ "perm102", NAN, SHAPE(3, 2, 5), SHAPE(2, 3, 5) },
		{ "perm102", NAN, SHAPE(67, 9, 1), SHAPE(9, 67, 1) },
		{ "scale_div", 8.0, SHAPE(4, 7), SHAPE(4, 7) },
		{ "scale_div", 0.5, SHAPE(13), SHAPE(13) },
	};
	const struct hook *h;
	size_t c, i, k;

	/* Every registered hook with an inverse is covered here. */
	for (k = 0; (h = hooks_at(k)) != NULL; k++) {
		int seen = 0;

		for (c = 0; c < NELEM(cases); c++)
			seen |= strcmp(cases[c].name, h->name) == 0;
		ck_assert_msg(!h->inverse || seen, "no round trip for '%s'",
			      h->name);
	}
	for (c = 0; c < NELEM(cases); c++) {
		const struct rt_case *rc = &cases[c];
		struct step st;
		struct hook_shape outs;
		size_t n = (size_t)hook_shape_numel(&rc->mt);
		float *x = rand_floats(n, 100 + (uint32_t)c, 1), *y, *back;

		st.name = rc->name;
		st.args = isnan(rc->arg) ? mk_args0() : mk_args1(rc->arg);
		y = run_chain(&st, 1, &rc->mt, x, &rc->tgt, &outs);
		back = run_inverse_chain(&st, 1, &rc->mt, y, &rc->tgt);
		for (i = 0; i < n; i++)
			ck_assert_msg(same_bits(back[i], x[i]),
				      "case %zu (%s) differs at %zu", c,
				      rc->name, i);
		free(back);
		free(y);
		free(x);
	}
}
END_TEST

/* shape() of `name` must fail with err and a message naming the hook. */
static void expect_shape_error(const char *name, const struct hook_args *a,
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

START_TEST(shape_should_reject_bad_inputs)
{
	struct hook_args a0 = mk_args0(), a1 = mk_args1(2.0);
	struct hook_shape two[2] = { SHAPE(4, 4), SHAPE(4, 4) };
	struct hook_shape m2 = SHAPE(4, 4), v = SHAPE(16), r0;
	struct hook_shape odd = SHAPE(4, 3, 5), r3 = SHAPE(2, 3, 4);
	struct hook_shape r4 = SHAPE(2, 3, 4, 5);
	struct hook_shape huge = SHAPE(1ull << 40, 1ull << 40);
	struct hook_shape deep;
	static const char *const all[] = {
		"identity", "reshape_kernel", "transpose", "reshape_bias",
		"scale_query", "norm_offset", "rope_to_halves", "embed_pad",
		"expert_transpose", "embed_scale", "conv2d_hwio", "conv3d",
		"conv1d_dw", "squeeze0", "flatten", "perm102", "scale_div",
	};
	size_t i;

	memset(&r0, 0, sizeof(r0));
	memset(&deep, 0, sizeof(deep));
	deep.rank = ZARR_MAX_RANK + 1;
	for (i = 0; i < NELEM(all); i++) {
		const struct hook *h = find(all[i]);
		const struct hook_args *ok = h->nargs ? &a1 : &a0;
		const struct hook_args *bad = h->nargs ? &a0 : &a1;

		/* Wrong number of inputs or arguments, rank, overflow. */
		expect_shape_error(all[i], ok, two, 2, &m2, -EINVAL);
		expect_shape_error(all[i], ok, two, 0, &m2, -EINVAL);
		expect_shape_error(all[i], bad, &m2, 1, &m2, -EINVAL);
		expect_shape_error(all[i], ok, &deep, 1, &m2, -EINVAL);
		expect_shape_error(all[i], ok, &huge, 1, &huge, -EOVERFLOW);
	}

	/* reshape_kernel: element counts, the message shows both shapes. */
	expect_shape_error("reshape_kernel", &a0, &SHAPE(64, 4, 16), 1,
			   &SHAPE(64, 63), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "[64,4,16] (4096 elements)"));
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "[64,63] (4032 elements)"));
	expect_shape_error("reshape_kernel", &a0, &m2, 1, NULL, -EINVAL);
	expect_shape_error("reshape_kernel", &a0, &m2, 1, &deep, -EINVAL);

	expect_shape_error("reshape_bias", &a0, &r3, 1, &v, -EINVAL);
	expect_shape_error("reshape_bias", &a0, &r3, 1, NULL, -EINVAL);
	expect_shape_error("norm_offset", &a0, &v, 1, &SHAPE(15), -EINVAL);
	expect_shape_error("norm_offset", &a0, &v, 1, NULL, -EINVAL);

	expect_shape_error("transpose", &a0, &r3, 1, NULL, -EINVAL);
	expect_shape_error("expert_transpose", &a0, &v, 1, NULL, -EINVAL);
	expect_shape_error("expert_transpose", &a0, &r4, 1, NULL, -EINVAL);
	expect_shape_error("expert_transpose", &a0, &r0, 1, NULL, -EINVAL);

	expect_shape_error("rope_to_halves", &a0, &odd, 1, NULL, -EINVAL);
	expect_shape_error("rope_to_halves", &a0, &r0, 1, NULL, -EINVAL);

	expect_shape_error("scale_query", &ARGS1(0.0), &v, 1, NULL, -EINVAL);
	expect_shape_error("scale_query", &ARGS1(INFINITY), &v, 1, NULL,
			   -EINVAL);
	expect_shape_error("scale_query", &ARGS1(NAN), &v, 1, NULL, -EINVAL);
	expect_shape_error("scale_query", &ARGS1(1e300), &v, 1, NULL,
			   -EINVAL);
	expect_shape_error("scale_query", &ARGS1(1e-300), &v, 1, NULL,
			   -EINVAL);
	expect_shape_error("scale_query", NULL, &v, 1, NULL, -EINVAL);

	expect_shape_error("embed_pad", &a0, &v, 1, &m2, -EINVAL);
	expect_shape_error("embed_pad", &a0, &m2, 1, &SHAPE(4, 5), -EINVAL);
	expect_shape_error("embed_pad", &a0, &m2, 1, &r3, -EINVAL);
	expect_shape_error("embed_pad", &a0, &m2, 1, NULL, -EINVAL);
	expect_shape_error("embed_pad", &a0, &m2, 1, &deep, -EINVAL);

	expect_shape_error("embed_scale", &ARGS1(0.0), &m2, 1, &m2, -EINVAL);
	expect_shape_error("embed_scale", &ARGS1(NAN), &m2, 1, &m2, -EINVAL);
	expect_shape_error("embed_scale", &a1, &v, 1, &m2, -EINVAL);
	expect_shape_error("embed_scale", &a1, &m2, 1, &v, -EINVAL);
	expect_shape_error("embed_scale", &a1, &m2, 1, NULL, -EINVAL);

	expect_shape_error("conv2d_hwio", &a0, &r3, 1, NULL, -EINVAL);
	expect_shape_error("conv2d_hwio", &a0, &SHAPE(1, 2, 3, 4, 5), 1, NULL,
			   -EINVAL);
	expect_shape_error("conv3d", &a0, &r4, 1, NULL, -EINVAL);
	expect_shape_error("conv3d", &a0, &SHAPE(1, 1, 2, 3, 4, 5), 1, NULL,
			   -EINVAL);
	expect_shape_error("conv1d_dw", &a0, &m2, 1, NULL, -EINVAL);
	expect_shape_error("conv1d_dw", &a0, &r4, 1, NULL, -EINVAL);
	expect_shape_error("perm102", &a0, &m2, 1, NULL, -EINVAL);
	expect_shape_error("perm102", &a0, &r4, 1, NULL, -EINVAL);
	expect_shape_error("perm102", &a0, &r0, 1, NULL, -EINVAL);

	expect_shape_error("squeeze0", &a0, &m2, 1, NULL, -EINVAL);
	expect_shape_error("squeeze0", &a0, &r0, 1, NULL, -EINVAL);
	expect_shape_error("squeeze0", &a0, &SHAPE(1, 4, 4), 1, &SHAPE(15),
			   -EINVAL);
	expect_shape_error("squeeze0", &a0, &SHAPE(1, 4, 4), 1, &deep,
			   -EINVAL);

	expect_shape_error("flatten", &a0, &m2, 1, &m2, -EINVAL);
	expect_shape_error("flatten", &a0, &m2, 1, &SHAPE(15), -EINVAL);
	expect_shape_error("flatten", &a0, &m2, 1, &r0, -EINVAL);

	expect_shape_error("scale_div", &ARGS1(0.0), &v, 1, NULL, -EINVAL);
	expect_shape_error("scale_div", &ARGS1(1e-300), &v, 1, NULL, -EINVAL);
	expect_shape_error("scale_div", &ARGS1(1e300), &v, 1, NULL, -EINVAL);
	expect_shape_error("scale_div", &ARGS1(INFINITY), &v, 1, NULL,
			   -EINVAL);
	expect_shape_error("scale_div", &ARGS1(NAN), &v, 1, NULL, -EINVAL);
	expect_shape_error("scale_div", NULL, &v, 1, NULL, -EINVAL);
}
END_TEST

START_TEST(pair_shape_should_reject_bad_inputs)
{
	static const char *const pairs[] = {
		"interleave2", "concat2_swap", "concat2",
	};
	struct hook_args a0 = mk_args0(), a1 = mk_args1(2.0);
	struct hook_shape two[3] = { SHAPE(4, 4), SHAPE(4, 4), SHAPE(4, 4) };
	struct hook_shape diff[2] = { SHAPE(4, 4), SHAPE(4, 5) };
	struct hook_shape rdiff[2] = { SHAPE(4, 4), SHAPE(4, 4, 1) };
	struct hook_shape huge[2] = { SHAPE(1ull << 40, 1ull << 40),
				      SHAPE(1ull << 40, 1ull << 40) };
	/* Each input fits, the doubled output does not. */
	struct hook_shape big[2] = { SHAPE(1, 1ull << 61), SHAPE(1, 1ull << 61) };
	/* Zero elements, but 2 * d overflows uint64. */
	struct hook_shape zbig[2] = { SHAPE(0, 1ull << 63),
				      SHAPE(0, 1ull << 63) };
	struct hook_shape r0[2], deep[2];
	size_t i;

	memset(r0, 0, sizeof(r0));
	memset(deep, 0, sizeof(deep));
	deep[0].rank = deep[1].rank = ZARR_MAX_RANK + 1;
	for (i = 0; i < NELEM(pairs); i++) {
		expect_shape_error(pairs[i], &a0, two, 1, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, two, 3, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, NULL, 2, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a1, two, 2, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, diff, 2, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, rdiff, 2, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, r0, 2, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, deep, 2, NULL, -EINVAL);
		expect_shape_error(pairs[i], &a0, huge, 2, NULL, -EOVERFLOW);
		expect_shape_error(pairs[i], &a0, big, 2, NULL, -EOVERFLOW);
		expect_shape_error(pairs[i], &a0, zbig, 2, NULL, -EOVERFLOW);
	}
	/* concat2_swap needs two axes to swap. */
	expect_shape_error("concat2_swap", &a0,
			   ((struct hook_shape[]){ SHAPE(5), SHAPE(5) }), 2,
			   NULL, -EINVAL);
	/* interleave2 takes the target shape: same element count only. */
	expect_shape_error("interleave2", &a0, two, 2, &SHAPE(4, 4), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), "[4,8] (32 elements)"));
	expect_shape_error("interleave2", &a0, two, 2, &SHAPE(33), -EINVAL);
	expect_shape_error("interleave2", &a0, two, 2, &deep[0], -EINVAL);
}
END_TEST

/* inverse() of `name` must fail with -EINVAL. */
static void expect_inverse_error(const char *name, const struct hook_args *a,
				 const struct hook_shape *hf,
				 const struct hook_shape *mt)
{
	float buf[64] = { 0 }, out[64];

	ck_err_clear();
	ck_assert_int_eq(find(name)->inverse(a, hf, buf, mt, out), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ck_err_msg(), name));
}

START_TEST(inverse_should_reject_mismatched_shapes)
{
	struct hook_args a0 = mk_args0(), a1 = mk_args1(2.0);
	struct hook_shape m = SHAPE(4, 4), v = SHAPE(15), r3 = SHAPE(2, 2, 3);

	expect_inverse_error("identity", &a0, &m, &v);
	expect_inverse_error("reshape_kernel", &a0, &m, &v);
	expect_inverse_error("transpose", &a0, &m, &v);
	expect_inverse_error("transpose", &a0, &r3, &SHAPE(12));
	expect_inverse_error("reshape_bias", &a0, &m, &v);
	expect_inverse_error("scale_query", &a1, &m, &v);
	expect_inverse_error("scale_query", &a0, &m, &m);
	expect_inverse_error("norm_offset", &a0, &m, &v);
	expect_inverse_error("rope_to_halves", &a0, &SHAPE(2, 3), &SHAPE(3, 2));
	expect_inverse_error("rope_to_halves", &a0, &SHAPE(3, 4), &SHAPE(4, 3));
	expect_inverse_error("embed_pad", &a0, &m, &SHAPE(4, 5));
	expect_inverse_error("embed_pad", &a0, &v, &m);
	expect_inverse_error("expert_transpose", &a0, &v, &v);
	expect_inverse_error("expert_transpose", &a0, &m, &v);
	expect_inverse_error("embed_scale", &a1, &v, &m);
	expect_inverse_error("embed_scale", &ARGS1(0.0), &m, &m);
	expect_inverse_error("conv2d_hwio", &a0, &r3, &r3);
	expect_inverse_error("conv2d_hwio", &a0, &SHAPE(5, 4, 2, 3),
			     &SHAPE(2, 3, 5, 4));
	expect_inverse_error("conv2d_hwio", &a0, &SHAPE(5, 4, 2, 3), &v);
	expect_inverse_error("conv3d", &a0, &SHAPE(1, 2, 2, 3),
			     &SHAPE(2, 3, 1, 2));
	expect_inverse_error("conv3d", &a0, &SHAPE(5, 4, 1, 2, 1),
			     &SHAPE(1, 2, 1, 5, 4));
	expect_inverse_error("conv1d_dw", &a0, &r3, &SHAPE(2, 3, 2));
	expect_inverse_error("conv1d_dw", &a0, &m, &m);
	expect_inverse_error("perm102", &a0, &SHAPE(2, 3, 2),
			     &SHAPE(2, 3, 2));
	expect_inverse_error("perm102", &a0, &r3, &SHAPE(12));
	expect_inverse_error("squeeze0", &a0, &m, &v);
	expect_inverse_error("squeeze0", &a0, &m, &SHAPE(2, 2, 4));
	expect_inverse_error("squeeze0", &a0, &m, &SHAPE(1, 2, 8));
	expect_inverse_error("squeeze0", &a0, &m, &m);
	expect_inverse_error("flatten", &a0, &SHAPE(16), &v);
	expect_inverse_error("scale_div", &a1, &m, &v);
	expect_inverse_error("scale_div", &ARGS1(0.0), &m, &m);
	expect_inverse_error("scale_div", &a0, &m, &m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("hooks");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hook_table_should_have_unique_complete_entries);
	tcase_add_test(tc, hook_shape_numel_should_multiply_and_saturate);
	tcase_add_test(tc, llama31_query_chain_should_scale_permute_and_flatten);
	tcase_add_test(tc, llama31_query_chain_inverse_should_restore_maxtext);
	tcase_add_test(tc, llama31_key_chain_should_permute_then_flatten);
	tcase_add_test(tc, reshape_kernel_should_flatten_q_then_transpose);
	tcase_add_test(tc, reshape_kernel_should_map_o_proj_to_d_by_h_hd);
	tcase_add_test(tc, reshape_kernel_should_reverse_all_axes_of_a_3d_target);
	tcase_add_test(tc, transpose_should_handle_sizes_off_the_tile);
	tcase_add_test(tc, transpose_should_leave_1d_and_0d_unchanged);
	tcase_add_test(tc, expert_transpose_should_transpose_each_expert);
	tcase_add_test(tc, embed_pad_should_truncate_and_zero_pad_rows);
	tcase_add_test(tc, embed_scale_should_divide_and_pad_rows_and_columns);
	tcase_add_test(tc, scale_query_should_match_float_arithmetic_exactly);
	tcase_add_test(tc, norm_offset_should_subtract_one_and_reshape);
	tcase_add_test(tc, reshape_bias_should_keep_row_major_order);
	tcase_add_test(tc, rope_to_halves_should_move_evens_first);
	tcase_add_test(tc, permute_should_match_the_index_formula);
	tcase_add_test(tc, zero_sized_tensors_should_pass_through);
	tcase_add_test(tc, every_inverse_should_undo_forward);
	tcase_add_test(tc, interleave2_should_alternate_gate_and_up);
	tcase_add_test(tc, concat2_swap_should_stack_transposed_halves);
	tcase_add_test(tc, concat2_swap_should_handle_one_2d_slice);
	tcase_add_test(tc, concat2_should_join_rows);
	tcase_add_test(tc, conv2d_hwio_should_give_oihw);
	tcase_add_test(tc, conv3d_should_give_oithw);
	tcase_add_test(tc, conv1d_dw_should_reverse_axes);
	tcase_add_test(tc, perm102_should_swap_leading_axes);
	tcase_add_test(tc, squeeze0_should_drop_the_leading_axis);
	tcase_add_test(tc, flatten_should_keep_row_major_order);
	tcase_add_test(tc, scale_div_should_divide_exactly);
	tcase_add_test(tc, shape_should_reject_bad_inputs);
	tcase_add_test(tc, pair_shape_should_reject_bad_inputs);
	tcase_add_test(tc, inverse_should_reject_mismatched_shapes);
	suite_add_tcase(s, tc);
	return ck_test_run(s);
}
