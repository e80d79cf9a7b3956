/* SPDX-License-Identifier: MIT */
/*
 * This file implements the helpers shared by the hook functions: argument
 * and shape checks, shape formatting, the cache-blocked 2-D transpose, the
 * N-D axis permutation and the 2-D pad/truncate copy.
 *
 * Transposes are the hot loop of a conversion (every kernel goes through
 * one), so they work tile by tile: a TILE x TILE block of the source and its
 * image in the destination both stay in L1 while it is copied, instead of
 * striding through memory a whole row apart on every element.  Inside a
 * tile, 8 x 8 blocks go through registers (SSE 4 x 4 shuffles on x86-64,
 * plain C elsewhere).
 */
#include "hook_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util/ck_err.h"

/* 64 x 64 floats: 16 KiB read and 16 KiB written per tile, moved in
 * MICRO x MICRO blocks so that only 8 source and 8 destination lines are
 * live at once (strides that are multiples of 4 KiB alias in L1). */
#define TILE 64
#define MICRO 8

const char *hook_util_shape_str(const struct hook_shape *s,
				char buf[HOOK_SHAPE_STR_LEN])
{
	size_t len = 0;
	unsigned i, rank;

	rank = s->rank > ZARR_MAX_RANK ? ZARR_MAX_RANK : s->rank;
	buf[len++] = '[';
	for (i = 0; i < rank; i++)
		len += (size_t)snprintf(buf + len, HOOK_SHAPE_STR_LEN - len,
					i ? ",%llu" : "%llu",
					(unsigned long long)s->d[i]);
	buf[len++] = ']';
	buf[len] = '\0';
	return buf;
}

int hook_util_check_args(const char *name, const struct hook_args *a,
			 unsigned nargs)
{
	unsigned got = a ? a->n : 0;

	if (got != nargs)
		return ck_err(-EINVAL, "%s: takes %u numeric argument(s), got %u",
			      name, nargs, got);
	return 0;
}

/* Element count of s, -EOVERFLOW if it (as bytes of float) exceeds size_t. */
static int util_numel(const char *name, const struct hook_shape *s,
		      uint64_t *n)
{
	char sb[HOOK_SHAPE_STR_LEN];
	uint64_t p = 1;
	unsigned i;

	if (s->rank > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "%s: rank %u exceeds the maximum of %u",
			      name, s->rank, ZARR_MAX_RANK);
	if (hook_shape_numel(s) == 0) {
		*n = 0;
		return 0;
	}
	for (i = 0; i < s->rank; i++)
		if (__builtin_mul_overflow(p, s->d[i], &p))
			goto out_overflow;
	if (p > SIZE_MAX / sizeof(float))
		goto out_overflow;
	*n = p;
	return 0;

out_overflow:
	return ck_err(-EOVERFLOW, "%s: shape %s has too many elements", name,
		      hook_util_shape_str(s, sb));
}

int hook_util_check_inputs(const char *name, const struct hook_shape *in,
			   unsigned nin, unsigned want)
{
	uint64_t n;
	unsigned k;
	int ret;

	if (nin != want || (want && !in))
		return ck_err(-EINVAL, "%s: takes %u input tensor(s), got %u",
			      name, want, nin);
	for (k = 0; k < nin; k++) {
		ret = util_numel(name, &in[k], &n);
		if (ret)
			return ret;
	}
	return 0;
}

int hook_util_reshape_shape(const char *name, const struct hook_shape *in,
			    const struct hook_shape *tgt,
			    struct hook_shape *out)
{
	char ib[HOOK_SHAPE_STR_LEN], tb[HOOK_SHAPE_STR_LEN];
	uint64_t ni = 0, nt = 0;
	int ret;

	if (!tgt)
		return ck_err(-EINVAL, "%s: needs a target shape", name);
	ret = util_numel(name, in, &ni);
	if (ret)
		return ret;
	ret = util_numel(name, tgt, &nt);
	if (ret)
		return ret;
	if (ni != nt)
		return ck_err(-EINVAL,
			      "%s: input %s (%llu elements) cannot become %s (%llu elements)",
			      name, hook_util_shape_str(in, ib),
			      (unsigned long long)ni,
			      hook_util_shape_str(tgt, tb),
			      (unsigned long long)nt);
	*out = *tgt;
	return 0;
}

int hook_util_check_same_numel(const char *name, const struct hook_shape *hf,
			       const struct hook_shape *mt)
{
	char hb[HOOK_SHAPE_STR_LEN], mb[HOOK_SHAPE_STR_LEN];
	uint64_t nh = 0, nm = 0;
	int ret;

	ret = util_numel(name, hf, &nh);
	if (ret)
		return ret;
	ret = util_numel(name, mt, &nm);
	if (ret)
		return ret;
	if (nh != nm)
		return ck_err(-EINVAL,
			      "%s: inverse of %s (%llu elements) cannot become %s (%llu elements)",
			      name, hook_util_shape_str(hf, hb),
			      (unsigned long long)nh,
			      hook_util_shape_str(mt, mb),
			      (unsigned long long)nm);
	return 0;
}

void hook_util_copy(const float *in, size_t n, float *out)
{
	if (n)
		memcpy(out, in, n * sizeof(*out));
}

/* Element by element, for the ragged edges of a tile. */
static void util_transpose_edge(const float *in, size_t in_stride, float *out,
				size_t out_stride, size_t i0, size_t imax,
				size_t j0, size_t jmax)
{
	size_t i, j;

	for (j = j0; j < jmax; j++) {
		float *o = out + j * out_stride;
		const float *p = in + j;

		for (i = i0; i < imax; i++)
			o[i] = p[i * in_stride];
	}
}

/* One MICRO x MICRO block: in rows are read and out rows written whole. */
static inline void util_transpose_micro(const float *in, size_t in_stride,
					float *out, size_t out_stride)
{
#ifdef __SSE2__
	size_t a, b;

	for (a = 0; a < MICRO; a += 4)
		for (b = 0; b < MICRO; b += 4) {
			const float *p = in + a * in_stride + b;
			float *o = out + b * out_stride + a;
			__m128 r0 = _mm_loadu_ps(p);
			__m128 r1 = _mm_loadu_ps(p + in_stride);
			__m128 r2 = _mm_loadu_ps(p + 2 * in_stride);
			__m128 r3 = _mm_loadu_ps(p + 3 * in_stride);

			_MM_TRANSPOSE4_PS(r0, r1, r2, r3);
			_mm_storeu_ps(o, r0);
			_mm_storeu_ps(o + out_stride, r1);
			_mm_storeu_ps(o + 2 * out_stride, r2);
			_mm_storeu_ps(o + 3 * out_stride, r3);
		}
#else
	float t[MICRO][MICRO];
	size_t i, j;

	for (i = 0; i < MICRO; i++)
		for (j = 0; j < MICRO; j++)
			t[j][i] = in[i * in_stride + j];
	for (j = 0; j < MICRO; j++)
		for (i = 0; i < MICRO; i++)
			out[j * out_stride + i] = t[j][i];
#endif
}

void hook_util_transpose2d(const float *in, size_t in_stride, float *out,
			   size_t out_stride, size_t rows, size_t cols)
{
	size_t i0, j0, i, j, imax, jmax, ib, jb;

	for (i0 = 0; i0 < rows; i0 += TILE) {
		imax = rows - i0 < TILE ? rows : i0 + TILE;
		ib = i0 + (imax - i0) / MICRO * MICRO;
		for (j0 = 0; j0 < cols; j0 += TILE) {
			jmax = cols - j0 < TILE ? cols : j0 + TILE;
			jb = j0 + (jmax - j0) / MICRO * MICRO;
			for (i = i0; i < ib; i += MICRO)
				for (j = j0; j < jb; j += MICRO)
					util_transpose_micro(in + i * in_stride + j,
							     in_stride,
							     out + j * out_stride + i,
							     out_stride);
			util_transpose_edge(in, in_stride, out, out_stride,
					    i0, imax, jb, jmax);
			util_transpose_edge(in, in_stride, out, out_stride,
					    ib, imax, j0, jb);
		}
	}
}

/*
 * The permutation after dropping size-1 axes and merging neighbours:
 * output axis k has n[k] elements and input stride is[k]; the output is
 * contiguous in this axis order.
 */
struct util_perm {
	unsigned rank;			/* merged output axes */
	size_t n[ZARR_MAX_RANK];	/* size of each */
	size_t is[ZARR_MAX_RANK];	/* input stride of each */
	size_t os[ZARR_MAX_RANK];	/* output stride of each */
};

static void util_perm_plan(const struct hook_shape *ins, const unsigned *perm,
			   struct util_perm *p)
{
	size_t stride[ZARR_MAX_RANK] = { 0 };
	size_t s = 1;
	unsigned k, ax, r = 0;

	for (k = ins->rank; k-- > 0;) {
		stride[k] = s;
		s *= (size_t)ins->d[k];
	}
	for (k = 0; k < ins->rank; k++) {
		ax = perm[k];
		if (ins->d[ax] == 1)
			continue;
		if (r && p->is[r - 1] == (size_t)ins->d[ax] * stride[ax]) {
			p->n[r - 1] *= (size_t)ins->d[ax];
			p->is[r - 1] = stride[ax];
			continue;
		}
		p->n[r] = (size_t)ins->d[ax];
		p->is[r] = stride[ax];
		r++;
	}
	p->rank = r;
	s = 1;
	for (k = r; k-- > 0;) {
		p->os[k] = s;
		s *= p->n[k];
	}
}

void hook_util_permute(const struct hook_shape *ins, const float *in,
		       const unsigned *perm, float *out)
{
	struct util_perm p;
	size_t cnt[ZARR_MAX_RANK] = { 0 };
	size_t outer[ZARR_MAX_RANK] = { 0 };	/* axes walked one by one */
	size_t ioff = 0, ooff = 0, run;
	unsigned k, q = 0, m = 0, last;
	int a;

	if (hook_shape_numel(ins) == 0)
		return;
	util_perm_plan(ins, perm, &p);
	if (p.rank <= 1) {
		hook_util_copy(in, p.rank ? p.n[0] : 1, out);
		return;
	}
	last = p.rank - 1;
	if (p.is[last] != 1)
		while (p.is[q] != 1)
			q++;
	for (k = 0; k < last; k++)
		if (p.is[last] == 1 || k != q)
			outer[m++] = k;
	run = p.n[last];
	for (;;) {
		if (p.is[last] == 1)
			memcpy(out + ooff, in + ioff, run * sizeof(*out));
		else
			hook_util_transpose2d(in + ioff, p.is[last], out + ooff,
					      p.os[q], run, p.n[q]);
		for (a = (int)m - 1; a >= 0; a--) {
			k = (unsigned)outer[a];
			if (++cnt[a] < p.n[k]) {
				ioff += p.is[k];
				ooff += p.os[k];
				break;
			}
			ioff -= (p.n[k] - 1) * p.is[k];
			ooff -= (p.n[k] - 1) * p.os[k];
			cnt[a] = 0;
		}
		if (a < 0)
			break;
	}
}

void hook_util_pad2d(const float *in, size_t in_rows, size_t in_cols,
		     float *out, size_t out_rows, size_t out_cols)
{
	size_t rows = in_rows < out_rows ? in_rows : out_rows;
	size_t cols = in_cols < out_cols ? in_cols : out_cols;
	size_t r;

	for (r = 0; r < rows; r++) {
		hook_util_copy(in + r * in_cols, cols, out + r * out_cols);
		if (out_cols > cols)
			memset(out + r * out_cols + cols, 0,
			       (out_cols - cols) * sizeof(*out));
	}
	if (out_rows > rows)
		memset(out + rows * out_cols, 0,
		       (out_rows - rows) * out_cols * sizeof(*out));
}

int hook_util_copy_forward(const struct hook_args *a, const struct hook_shape *ins,
			   const float *const *in, unsigned nin,
			   const struct hook_shape *outs, float *out)
{
	(void)a;
	(void)nin;
	(void)outs;
	hook_util_copy(in[0], (size_t)hook_shape_numel(&ins[0]), out);
	return 0;
}

int hook_util_copy_moves(const struct hook_args *a, const struct hook_shape *in,
			 const struct hook_shape *out, struct hook_shape *view,
			 unsigned *perm)
{
	(void)a;
	(void)out;
	*view = *in;
	for (unsigned k = 0; k < in->rank; k++)
		perm[k] = k;
	return 0;
}

void hook_util_perm_swap_last(unsigned rank, unsigned *perm)
{
	for (unsigned k = 0; k < rank; k++)
		perm[k] = k;
	perm[rank - 2] = rank - 1;
	perm[rank - 1] = rank - 2;
}

int hook_util_copy_inverse(const char *name, const struct hook_shape *hf,
			   const float *in, const struct hook_shape *mt, float *out)
{
	int ret = hook_util_check_same_numel(name, hf, mt);

	if (ret)
		return ret;
	hook_util_copy(in, (size_t)hook_shape_numel(hf), out);
	return 0;
}

int hook_util_check_rank(const char *name, const struct hook_shape *s,
			 unsigned rank)
{
	char sb[HOOK_SHAPE_STR_LEN];

	if (s->rank != rank)
		return ck_err(-EINVAL, "%s: input %s is not %u-D", name,
			      hook_util_shape_str(s, sb), rank);
	return 0;
}

void hook_util_permute_shape(const struct hook_shape *in, const unsigned *perm,
			     struct hook_shape *out)
{
	struct hook_shape s = { .rank = in->rank };
	unsigned k;

	for (k = 0; k < in->rank; k++)
		s.d[k] = in->d[perm[k]];
	*out = s;
}

int hook_util_perm_hook_shape(const char *name, const struct hook_args *a,
			      const struct hook_shape *in, unsigned nin,
			      unsigned rank, const unsigned *perm,
			      struct hook_shape *out)
{
	int ret;

	ret = hook_util_check_args(name, a, 0);
	if (!ret)
		ret = hook_util_check_inputs(name, in, nin, 1);
	if (!ret)
		ret = hook_util_check_rank(name, &in[0], rank);
	if (ret)
		return ret;
	hook_util_permute_shape(&in[0], perm, out);
	return 0;
}

int hook_util_perm_hook_inverse(const char *name, const struct hook_shape *hf,
				const float *in, const struct hook_shape *mt,
				unsigned rank, const unsigned *perm, float *out)
{
	char hb[HOOK_SHAPE_STR_LEN], mb[HOOK_SHAPE_STR_LEN];
	char wb[HOOK_SHAPE_STR_LEN];
	unsigned iperm[ZARR_MAX_RANK] = { 0 };
	struct hook_shape want;
	unsigned k;
	int ret;

	ret = hook_util_check_same_numel(name, hf, mt);
	if (ret)
		return ret;
	if (rank > ZARR_MAX_RANK || hf->rank != rank || mt->rank != rank)
		return ck_err(-EINVAL, "%s: inverse of %s cannot become %s (not %u-D)",
			      name, hook_util_shape_str(hf, hb),
			      hook_util_shape_str(mt, mb), rank);
	for (k = 0; k < rank; k++)
		iperm[perm[k]] = k;
	hook_util_permute_shape(hf, iperm, &want);
	for (k = 0; k < rank; k++)
		if (want.d[k] != mt->d[k])
			return ck_err(-EINVAL,
				      "%s: inverse of %s gives %s, not %s", name,
				      hook_util_shape_str(hf, hb),
				      hook_util_shape_str(&want, wb),
				      hook_util_shape_str(mt, mb));
	hook_util_permute(hf, in, iperm, out);
	return 0;
}

int hook_util_check_pair(const char *name, const struct hook_shape *in,
			 unsigned nin, unsigned min_rank)
{
	char ab[HOOK_SHAPE_STR_LEN], bb[HOOK_SHAPE_STR_LEN];
	unsigned k;
	int ret;

	ret = hook_util_check_inputs(name, in, nin, 2);
	if (ret)
		return ret;
	if (in[0].rank < min_rank)
		return ck_err(-EINVAL, "%s: input %s has rank below %u", name,
			      hook_util_shape_str(&in[0], ab), min_rank);
	for (k = 0; k < in[0].rank; k++)
		if (in[0].d[k] != in[1].d[k])
			break;
	if (in[0].rank != in[1].rank || k < in[0].rank)
		return ck_err(-EINVAL, "%s: inputs %s and %s differ in shape",
			      name, hook_util_shape_str(&in[0], ab),
			      hook_util_shape_str(&in[1], bb));
	return 0;
}

int hook_util_double_axis(const char *name, const struct hook_shape *s,
			  unsigned axis, struct hook_shape *out)
{
	char sb[HOOK_SHAPE_STR_LEN];
	struct hook_shape d = *s;
	int ret;

	if (axis >= s->rank)
		return ck_err(-EINVAL, "%s: input %s has no axis %u", name,
			      hook_util_shape_str(s, sb), axis);
	if (__builtin_mul_overflow(s->d[axis], (uint64_t)2, &d.d[axis]))
		return ck_err(-EOVERFLOW, "%s: shape %s has too many elements",
			      name, hook_util_shape_str(s, sb));
	/* The doubled count must still fit in memory. */
	ret = hook_util_check_inputs(name, &d, 1, 1);
	if (ret)
		return ret;
	*out = d;
	return 0;
}
