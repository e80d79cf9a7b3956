/* SPDX-License-Identifier: MIT */
/*
 * This file implements the direct read path (rd_direct.h): composing the
 * element moves of a hook chain into per-axis offset tables, and scattering
 * each decoded source chunk through them into the outputs.
 *
 * Composition.  The source slice is tracked as a list of "fine" axes, in
 * the current tensor's C order: each is a factor of one slice axis (its
 * coordinate contributes digit * mult to that axis' coordinate).  A hook's
 * reshape to its view splits fine axes where a view dimension ends inside
 * one; its permutation reorders the groups of fine axes that make up the
 * view's dimensions.  After the last hook the fine list is in output C
 * order, which gives each fine axis its output stride.  A hook that crops
 * (keeps the leading part of an axis) cuts the top digit of a slice axis:
 * less of that axis is read.  Pointwise hooks (x * c, x / c, x + c) commute
 * with the moves; they are applied in chain order as each element is
 * converted, in float32, as the hook chain would.
 */
#include "read/rd_direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util/ck_err.h"

/* Fine axes at most; a chain that needs more is read through its hooks. */
#define MAX_FINE 64

struct fine {
	uint64_t size, mult;
	unsigned ax;			/* slice axis */
};

struct fines {
	unsigned n, ng;
	struct fine f[MAX_FINE];
	unsigned g[MAX_FINE + 1];	/* group k is f[g[k] .. g[k+1]) */
};

/* Drop size-1 axes and merge neighbours that are adjacent parts of one
 * slice axis (the merged index times the lower mult is their sum). */
static void fines_normalize(struct fines *s)
{
	unsigned k = 0;

	for (unsigned i = 0; i < s->n; i++) {
		struct fine f = s->f[i];

		if (f.size == 1)
			continue;
		if (k && s->f[k - 1].ax == f.ax && s->f[k - 1].mult == f.size * f.mult) {
			s->f[k - 1].size *= f.size;
			s->f[k - 1].mult = f.mult;
		} else {
			s->f[k++] = f;
		}
	}
	s->n = k;
}

/* Regroup the fine axes into the dimensions of view (C order), splitting
 * an axis where a dimension ends inside it.  RD_NOT_DIRECT when a dimension
 * does not line up with the axes (a copy would be needed). */
static int fines_regroup(struct fines *s, const struct hook_shape *view)
{
	struct fines o;
	unsigned i = 0;

	fines_normalize(s);
	o.n = 0;
	for (unsigned d = 0; d < view->rank; d++) {
		uint64_t rem = view->d[d];

		o.g[d] = o.n;
		while (rem > 1) {
			struct fine *f = &s->f[i];

			if (i >= s->n || o.n >= MAX_FINE)
				return RD_NOT_DIRECT;
			if (f->size <= rem) {
				if (rem % f->size)
					return RD_NOT_DIRECT;
				o.f[o.n++] = *f;
				rem /= f->size;
				i++;
			} else {
				if (f->size % rem)
					return RD_NOT_DIRECT;
				o.f[o.n++] = (struct fine){ rem, f->mult * (f->size / rem), f->ax };
				f->size /= rem;
				rem = 1;
			}
		}
	}
	if (i != s->n)
		return RD_NOT_DIRECT;
	o.ng = view->rank;
	o.g[o.ng] = o.n;
	*s = o;
	return 0;
}

/* Output group k is group perm[k]. */
static int fines_permute(struct fines *s, const unsigned *perm)
{
	struct fines o;
	unsigned seen = 0;

	o.n = 0;
	for (unsigned k = 0; k < s->ng; k++) {
		if (perm[k] >= s->ng || perm[k] >= 32 || (seen & (1u << perm[k])))
			return RD_NOT_DIRECT;
		seen |= 1u << perm[k];
		o.g[k] = o.n;
		for (unsigned i = s->g[perm[k]]; i < s->g[perm[k] + 1]; i++)
			o.f[o.n++] = s->f[i];
	}
	o.ng = s->ng;
	o.g[o.ng] = o.n;
	*s = o;
	return 0;
}

void rd_src_box(const struct plan_src *s, uint64_t *start, uint64_t *count)
{
	unsigned j = 0;

	for (unsigned ax = 0; ax < s->rank; ax++) {
		if (j < s->nfixed && s->fixed_axis[j] == ax) {
			start[ax] = s->fixed_idx[j++];
			count[ax] = 1;
		} else {
			start[ax] = 0;
			count[ax] = s->shape[ax];
		}
	}
}

/* After a hook's permutation: when its output is a crop of the permuted
 * view (same rank, no longer axes, fewer elements), cut the top digit of
 * the slice axis each cropped dimension is. */
static int fines_crop(struct fines *s, const struct hook_shape *out,
		      struct rd_moves *m)
{
	uint64_t gsize[ZARR_MAX_RANK + 1], numel = 1;

	for (unsigned k = 0; k < s->ng; k++) {
		gsize[k] = 1;
		for (unsigned i = s->g[k]; i < s->g[k + 1]; i++)
			gsize[k] *= s->f[i].size;
		numel *= gsize[k];
	}
	if (numel == hook_shape_numel(out))
		return 0;
	if (out->rank != s->ng)
		return RD_NOT_DIRECT;
	for (unsigned k = 0; k < s->ng; k++) {
		struct fine *f = &s->f[s->g[k]];

		if (out->d[k] == gsize[k])
			continue;
		if (out->d[k] == 0 || out->d[k] > gsize[k] || s->g[k + 1] - s->g[k] != 1 ||
		    f->mult * f->size != m->len[f->ax])
			return RD_NOT_DIRECT;
		f->size = out->d[k];
		m->len[f->ax] = f->mult * f->size;
	}
	return 0;
}

/* Fill m's tables from the fine axes in output order. */
static int moves_tabulate(const struct fines *s, struct rd_moves *m,
			  uint64_t numel)
{
	uint64_t ostride[MAX_FINE], total = 0, stride = 1, maxsum = 0;

	for (unsigned i = s->n; i-- > 0;) {
		ostride[i] = stride;
		stride *= s->f[i].size;
	}
	for (unsigned j = 0; j < m->nax; j++)
		total += m->len[j];
	m->mem = malloc((size_t)total * sizeof(uint64_t) + 1);
	if (!m->mem)
		return ck_err(-ENOMEM, "out of memory");
	total = 0;
	for (unsigned j = 0; j < m->nax; j++) {
		uint64_t *off = m->mem + total, covered = 1;

		m->off[j] = off;
		total += m->len[j];
		for (unsigned i = 0; i < s->n; i++)
			if (s->f[i].ax == j)
				covered *= s->f[i].size;
		if (covered != m->len[j])
			return RD_NOT_DIRECT;
		for (uint64_t x = 0; x < m->len[j]; x++) {
			off[x] = 0;
			for (unsigned i = 0; i < s->n; i++)
				if (s->f[i].ax == j)
					off[x] += (x / s->f[i].mult % s->f[i].size) * ostride[i];
		}
		m->step[j] = m->len[j] > 1 ? off[1] - off[0] : 1;
		for (uint64_t x = 0; x < m->len[j] && m->step[j]; x++)
			if (off[x] != off[0] + x * m->step[j])
				m->step[j] = 0;
		maxsum += off[m->len[j] - 1] > off[0] ? off[m->len[j] - 1] : off[0];
	}
	/* A one-to-one map puts the last element last. */
	return stride == numel && maxsum == numel - 1 ? 0 : RD_NOT_DIRECT;
}

static int direct_off;

void rd_direct_disable(int off)
{
	direct_off = off;
}

int rd_moves_build(const struct plan_tensor *t, struct rd_moves *m)
{
	const struct plan_src *s = &t->src[0];
	const struct map_rule *r = t->rule;
	struct hook_shape cur, view;
	unsigned perm[ZARR_MAX_RANK], j = 0;
	struct fines f;
	int err;

	memset(m, 0, sizeof(*m));
	if (direct_off || t->nsrc != 1 || hook_shape_numel(&s->slice) == 0 ||
	    hook_shape_numel(&t->shape) == 0 || r->nhooks > MAP_MAX_HOOKS)
		return RD_NOT_DIRECT;
	for (unsigned h = 0; h < r->nhooks; h++)
		if (!r->hooks[h].hook->moves)
			return RD_NOT_DIRECT;
	for (unsigned ax = 0, k = 0; ax < s->rank; ax++) {
		if (k < s->nfixed && s->fixed_axis[k] == ax) {
			k++;
			continue;
		}
		m->axis[j] = ax;
		m->len[j++] = s->shape[ax];
	}
	m->nax = j;
	if (j == 0 || j != s->slice.rank || j > MAX_FINE)
		return RD_NOT_DIRECT;
	f.n = f.ng = j;
	for (unsigned k = 0; k < j; k++) {
		f.f[k] = (struct fine){ m->len[k], 1, k };
		f.g[k] = k;
	}
	f.g[j] = j;
	cur = s->slice;
	for (unsigned h = 0; h < r->nhooks; h++) {
		err = r->hooks[h].hook->moves(&t->args[h], &cur, &t->out[h], &view, perm);
		if (err || hook_shape_numel(&view) != hook_shape_numel(&cur))
			return RD_NOT_DIRECT;
		err = fines_regroup(&f, &view);
		if (!err)
			err = fines_permute(&f, perm);
		if (!err)
			err = fines_crop(&f, &t->out[h], m);
		if (err)
			return err;
		if (r->hooks[h].hook->pointwise) {
			r->hooks[h].hook->pointwise(&t->args[h], &m->op[m->nops],
						    &m->c[m->nops]);
			m->nops++;
		}
		cur = t->out[h];
	}
	fines_normalize(&f);
	err = moves_tabulate(&f, m, hook_shape_numel(&t->shape));
	if (err)
		rd_moves_release(m);
	return err;
}

void rd_moves_release(struct rd_moves *m)
{
	free(m->mem);
	memset(m, 0, sizeof(*m));
}

/* --- scattering decoded pieces --- */

struct dctx;

/* The copy loops of one (stored, served) dtype pair:
 *   run:  o[oi + x] = s[si + x], x < n;
 *   tile: o[oi + tab[x] + p] = s[si + p * ps + x], p < np, x < n, in blocks;
 *   elem: o[oi + tab[x]] = s[si + x * ps], x < n. */
struct kern {
	void (*run)(const struct dctx *c, uint8_t *o, uint64_t oi, const uint8_t *s,
		    uint64_t si, uint64_t n);
	void (*tile)(const struct dctx *c, uint8_t *o, uint64_t oi, const uint64_t *tab,
		     const uint8_t *s, uint64_t si, uint64_t ps, uint64_t np, uint64_t n);
	void (*elem)(const struct dctx *c, uint8_t *o, uint64_t oi, const uint64_t *tab,
		     const uint8_t *s, uint64_t si, uint64_t ps, uint64_t n);
};

struct dctx {
	const struct rd_moves *m;
	const uint64_t *start;		/* the box */
	unsigned rank;
	uint64_t selstride[ZARR_MAX_RANK];	/* per stacked axis: its weight
					   in the output's index (0 on the
					   others) */
	int stacked;			/* some axis chooses the output */
	uint8_t *const *outs;		/* by index over the stacked axes from
					   the box start (one output when
					   none is stacked) */
	struct rd_spill *record;	/* record every piece here, or NULL */
	enum ck_dtype sdt, odt;
	const struct kern *k;
};

#define TILE 64

#define DEF_KERN(name, MOVE)							\
	static void name##_run(const struct dctx *c, uint8_t *o, uint64_t oi,	\
			       const uint8_t *s, uint64_t si, uint64_t n)	\
	{									\
		(void)c;							\
		for (uint64_t x = 0; x < n; x++)				\
			MOVE(o, oi + x, s, si + x);				\
	}									\
	static void name##_tile(const struct dctx *c, uint8_t *o, uint64_t oi,	\
				const uint64_t *tab, const uint8_t *s,		\
				uint64_t si, uint64_t ps, uint64_t np,		\
				uint64_t n)					\
	{									\
		(void)c;							\
		for (uint64_t p0 = 0; p0 < np; p0 += TILE)			\
			for (uint64_t x0 = 0; x0 < n; x0 += TILE) {		\
				uint64_t p1 = p0 + TILE < np ? p0 + TILE : np;	\
				uint64_t x1 = x0 + TILE < n ? x0 + TILE : n;	\
				for (uint64_t x = x0; x < x1; x++)		\
					for (uint64_t p = p0; p < p1; p++)	\
						MOVE(o, oi + tab[x] + p, s,	\
						     si + p * ps + x);		\
			}							\
	}									\
	static void name##_elem(const struct dctx *c, uint8_t *o, uint64_t oi,	\
				const uint64_t *tab, const uint8_t *s,		\
				uint64_t si, uint64_t ps, uint64_t n)		\
	{									\
		(void)c;							\
		for (uint64_t x = 0; x < n; x++)				\
			MOVE(o, oi + tab[x], s, si + x * ps);			\
	}									\
	static const struct kern name = { name##_run, name##_tile, name##_elem }

#define MOVE_U16(o, oi, s, si) (((uint16_t *)(o))[oi] = ((const uint16_t *)(s))[si])
#define MOVE_U32(o, oi, s, si) (((uint32_t *)(o))[oi] = ((const uint32_t *)(s))[si])
#define MOVE_BF16_F32(o, oi, s, si)						\
	(((uint32_t *)(o))[oi] = (uint32_t)((const uint16_t *)(s))[si] << 16)
#define MOVE_F32_BF16(o, oi, s, si)						\
	(((uint16_t *)(o))[oi] = ck_f32_to_bf16(((const float *)(s))[si]))

/* The pointwise operations of m on f, in chain order. */
static inline float apply_ops(const struct rd_moves *m, float f)
{
	for (unsigned i = 0; i < m->nops; i++) {
		float k = m->c[i];

		f = m->op[i] == HOOK_OP_MUL ? f * k : m->op[i] == HOOK_OP_DIV ? f / k : f + k;
	}
	return f;
}

#define MOVE_BF16_OPS(o, oi, s, si)						\
	(((uint16_t *)(o))[oi] = ck_f32_to_bf16(apply_ops(c->m,			\
		ck_bf16_to_f32(((const uint16_t *)(s))[si]))))

/* Any other pair, through float32 as the hook path does. */
static void move_any(const struct dctx *c, uint8_t *o, uint64_t oi,
		     const uint8_t *s, uint64_t si)
{
	float f;
	double d;
	uint16_t h;

	switch (c->sdt) {
	case CK_DT_BF16:
		f = ck_bf16_to_f32(((const uint16_t *)s)[si]);
		break;
	case CK_DT_F16:
		f = ck_f16_to_f32(((const uint16_t *)s)[si]);
		break;
	case CK_DT_F32:
		f = ((const float *)s)[si];
		break;
	default:	/* CK_DT_F64 */
		memcpy(&d, s + si * 8, 8);
		f = (float)d;
		break;
	}
	f = apply_ops(c->m, f);
	switch (c->odt) {
	case CK_DT_BF16:
		h = ck_f32_to_bf16(f);
		memcpy(o + oi * 2, &h, 2);
		break;
	case CK_DT_F16:
		h = ck_f32_to_f16(f);
		memcpy(o + oi * 2, &h, 2);
		break;
	case CK_DT_F32:
		memcpy(o + oi * 4, &f, 4);
		break;
	default:	/* CK_DT_F64 */
		d = f;
		memcpy(o + oi * 8, &d, 8);
		break;
	}
}

#define MOVE_ANY(o, oi, s, si) move_any(c, o, oi, s, si)

DEF_KERN(kern_u16, MOVE_U16);
DEF_KERN(kern_u32, MOVE_U32);
DEF_KERN(kern_bf16_f32, MOVE_BF16_F32);
DEF_KERN(kern_f32_bf16, MOVE_F32_BF16);
DEF_KERN(kern_any, MOVE_ANY);
DEF_KERN(kern_bf16_ops, MOVE_BF16_OPS);

/*
 * The transpose of 2-byte elements, the hot loop of most tensors (kernels
 * are stored [in, out] and served [out, in]): o[x * os + p] = s[p * ss + x]
 * for p < np, x < nx, in 64 x 64 tiles of 8 x 8 blocks.
 */
#ifdef __SSE2__
/* Rows x of the output: o[x] + p, for the 8 x of a block. */
static void block8_u16_rows(uint16_t *const *o, const uint16_t *s, uint64_t ss)
{
	__m128i a[8], t[8], u[8];

	for (int i = 0; i < 8; i++)
		a[i] = _mm_loadu_si128((const __m128i *)(const void *)(s + i * ss));
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm_unpacklo_epi16(a[2 * i], a[2 * i + 1]);
		t[2 * i + 1] = _mm_unpackhi_epi16(a[2 * i], a[2 * i + 1]);
	}
	for (int h = 0; h < 2; h++) {
		u[4 * h] = _mm_unpacklo_epi32(t[4 * h], t[4 * h + 2]);
		u[4 * h + 1] = _mm_unpackhi_epi32(t[4 * h], t[4 * h + 2]);
		u[4 * h + 2] = _mm_unpacklo_epi32(t[4 * h + 1], t[4 * h + 3]);
		u[4 * h + 3] = _mm_unpackhi_epi32(t[4 * h + 1], t[4 * h + 3]);
	}
	for (int i = 0; i < 4; i++) {
		_mm_storeu_si128((__m128i *)(void *)o[2 * i], _mm_unpacklo_epi64(u[i], u[4 + i]));
		_mm_storeu_si128((__m128i *)(void *)o[2 * i + 1],
				 _mm_unpackhi_epi64(u[i], u[4 + i]));
	}
}

#else
static void block8_u16_rows(uint16_t *const *o, const uint16_t *s, uint64_t ss)
{
	for (uint64_t x = 0; x < 8; x++)
		for (uint64_t p = 0; p < 8; p++)
			o[x][p] = s[p * ss + x];
}
#endif

static void block8_u16(uint16_t *o, uint64_t os, const uint16_t *s, uint64_t ss)
{
	uint16_t *rows[8];

	for (int i = 0; i < 8; i++)
		rows[i] = o + i * os;
	block8_u16_rows(rows, s, ss);
}

static void transpose_u16(uint16_t *o, uint64_t os, const uint16_t *s, uint64_t ss,
			  uint64_t np, uint64_t nx)
{
	for (uint64_t p0 = 0; p0 < np; p0 += TILE) {
		uint64_t p1 = p0 + TILE < np ? p0 + TILE : np, pv = p0 + ((p1 - p0) & ~7ull);

		for (uint64_t x0 = 0; x0 < nx; x0 += TILE) {
			uint64_t x1 = x0 + TILE < nx ? x0 + TILE : nx;
			uint64_t xv = x0 + ((x1 - x0) & ~7ull);

			for (uint64_t p = p0; p < pv; p += 8)
				for (uint64_t x = x0; x < xv; x += 8)
					block8_u16(o + x * os + p, os, s + p * ss + x, ss);
			for (uint64_t x = xv; x < x1; x++)
				for (uint64_t p = p0; p < p1; p++)
					o[x * os + p] = s[p * ss + x];
			for (uint64_t x = x0; x < xv; x++)
				for (uint64_t p = pv; p < p1; p++)
					o[x * os + p] = s[p * ss + x];
		}
	}
}

/*
 * The transpose through a table: o[tab[x] + p] = s[p * ss + x] for p < np,
 * x < nx (an output axis whose offsets are not a fixed step, as after a
 * permutation of heads or of RoPE halves), in 64 x 64 tiles of 8 x 8
 * blocks; with ops, their operations on each tile's rows after it.
 */
static void transpose_u16_tab(const struct rd_moves *ops, uint16_t *o, const uint64_t *tab,
			      const uint16_t *s, uint64_t ss, uint64_t np, uint64_t nx)
{
	for (uint64_t p0 = 0; p0 < np; p0 += TILE) {
		uint64_t p1 = p0 + TILE < np ? p0 + TILE : np, pv = p0 + ((p1 - p0) & ~7ull);

		for (uint64_t x0 = 0; x0 < nx; x0 += TILE) {
			uint64_t x1 = x0 + TILE < nx ? x0 + TILE : nx;
			uint64_t xv = x0 + ((x1 - x0) & ~7ull);

			for (uint64_t x = x0; x < xv; x += 8) {
				uint16_t *rows[8];

				for (uint64_t p = p0; p < pv; p += 8) {
					for (int i = 0; i < 8; i++)
						rows[i] = o + tab[x + i] + p;
					block8_u16_rows(rows, s + p * ss + x, ss);
				}
			}
			for (uint64_t x = xv; x < x1; x++)
				for (uint64_t p = p0; p < p1; p++)
					o[tab[x] + p] = s[p * ss + x];
			for (uint64_t x = x0; x < xv; x++)
				for (uint64_t p = pv; p < p1; p++)
					o[tab[x] + p] = s[p * ss + x];
			for (uint64_t x = x0; ops && x < x1; x++)
				rd_ops_bf16(ops, o + tab[x] + p0, p1 - p0);
		}
	}
}

/*
 * bfloat16 through pointwise operations, 8 at a time: widened to float32,
 * the operations applied in chain order (the same IEEE single-precision
 * operations as apply_ops()), rounded back as ck_f32_to_bf16() does, NaNs
 * made quiet.  Applied in place to runs of the output after a transpose.
 */
void rd_ops_bf16(const struct rd_moves *m, uint16_t *o, uint64_t n)
{
	uint64_t x = 0;
#ifdef __SSE2__
	const __m128i zero = _mm_setzero_si128(), lsb = _mm_set1_epi32(1);
	const __m128i half = _mm_set1_epi32(0x7fff), abs = _mm_set1_epi32(0x7fffffff);
	const __m128i inf = _mm_set1_epi32(0x7f800000), quiet = _mm_set1_epi32(0x00400000);

	for (; x + 8 <= n; x += 8) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(o + x)), w[2];

		w[0] = _mm_unpacklo_epi16(zero, v);
		w[1] = _mm_unpackhi_epi16(zero, v);
		for (int h = 0; h < 2; h++) {
			__m128 f = _mm_castsi128_ps(w[h]);
			__m128i u, nan, r;

			for (unsigned i = 0; i < m->nops; i++) {
				__m128 k = _mm_set1_ps(m->c[i]);

				f = m->op[i] == HOOK_OP_MUL ? _mm_mul_ps(f, k) :
				    m->op[i] == HOOK_OP_DIV ? _mm_div_ps(f, k) : _mm_add_ps(f, k);
			}
			u = _mm_castps_si128(f);
			nan = _mm_cmpgt_epi32(_mm_and_si128(u, abs), inf);
			r = _mm_add_epi32(_mm_add_epi32(u, half),
					  _mm_and_si128(_mm_srli_epi32(u, 16), lsb));
			r = _mm_or_si128(_mm_and_si128(nan, _mm_or_si128(u, quiet)),
					 _mm_andnot_si128(nan, r));
			w[h] = _mm_srai_epi32(r, 16);
		}
		_mm_storeu_si128((__m128i *)(void *)(o + x), _mm_packs_epi32(w[0], w[1]));
	}
#endif
	for (; x < n; x++)
		o[x] = ck_f32_to_bf16(apply_ops(m, ck_bf16_to_f32(o[x])));
}

/* transpose_u16(), then the operations of m on each tile's rows while they
 * are in the cache. */
static void transpose_u16_ops(const struct rd_moves *m, uint16_t *o, uint64_t os,
			      const uint16_t *s, uint64_t ss, uint64_t np, uint64_t nx)
{
	for (uint64_t p0 = 0; p0 < np; p0 += TILE) {
		uint64_t pn = np - p0 < TILE ? np - p0 : TILE;

		for (uint64_t x0 = 0; x0 < nx; x0 += TILE) {
			uint64_t xn = nx - x0 < TILE ? nx - x0 : TILE;

			transpose_u16(o + x0 * os + p0, os, s + p0 * ss + x0, ss, pn, xn);
			for (uint64_t x = x0; x < x0 + xn; x++)
				rd_ops_bf16(m, o + x * os + p0, pn);
		}
	}
}

static const struct kern *kern_for(enum ck_dtype sdt, enum ck_dtype odt,
				      unsigned nops)
{
	if (nops)
		return sdt == CK_DT_BF16 && odt == CK_DT_BF16 ? &kern_bf16_ops : &kern_any;
	if (sdt == odt && (sdt == CK_DT_BF16 || sdt == CK_DT_F16))
		return &kern_u16;
	if (sdt == odt && sdt == CK_DT_F32)
		return &kern_u32;
	if (sdt == CK_DT_BF16 && odt == CK_DT_F32)
		return &kern_bf16_f32;
	if (sdt == CK_DT_F32 && odt == CK_DT_BF16)
		return &kern_f32_bf16;
	return &kern_any;
}

/* An axis the outer loop of scatter() walks. */
struct loop_ax {
	uint64_t n, ps;
	const uint64_t *tab;		/* a slice axis' offsets, or NULL */
	unsigned a;			/* the array axis */
	int sel;			/* a stacked axis */
};

/* zarr_visit_fn: copy one decoded piece into the outputs. */
static int scatter(void *ctx, const uint64_t *pos, const uint64_t *n,
		   const void *data, const uint64_t *ps)
{
	const struct dctx *c = ctx;
	const struct rd_moves *m = c->m;
	uint64_t idx[ZARR_MAX_RANK] = { 0 };
	const uint64_t *tab[ZARR_MAX_RANK] = { NULL };
	struct loop_ax ax[ZARR_MAX_RANK];
	unsigned aL = m->axis[m->nax - 1], aP = UINT32_MAX, nl = 0;
	const uint64_t *tabL = NULL, *tabP = NULL;
	uint64_t stepL;
	int mode;			/* 0 run, 1 tile, 2 elem */

	if (c->record) {
		int err = rd_spill_record(c->record, c->rank, ck_dtype_size(c->sdt),
					    c->stacked ? c->selstride : NULL,
					    pos, n, data, ps);

		if (err)
			return err;
	}
	for (unsigned j = 0; j < m->nax; j++) {
		unsigned a = m->axis[j];

		tab[a] = m->off[j] + c->start[a] + pos[a];
		if (m->step[j] == 1 && j + 1 < m->nax && n[a] > 1 && aP == UINT32_MAX)
			aP = a;
	}
	tabL = tab[aL];
	stepL = m->step[m->nax - 1];
	mode = m->step[m->nax - 1] == 1 && ps[aL] == 1 ? 0 : aP != UINT32_MAX && ps[aL] == 1 ? 1 : 2;
	if (mode == 1)
		tabP = tab[aP];
	for (unsigned a = 0; a < c->rank; a++) {
		int is_slice = 0;

		for (unsigned j = 0; j < m->nax; j++)
			is_slice |= m->axis[j] == a;
		if (a == aL || (mode == 1 && a == aP))
			continue;
		if (c->selstride[a])
			ax[nl++] = (struct loop_ax){ n[a], ps[a], NULL, a, 1 };
		else if (is_slice)
			ax[nl++] = (struct loop_ax){ n[a], ps[a], tab[a], a, 0 };
	}
	for (;;) {
		uint64_t si = 0, oi = 0, sidx = 0;
		uint8_t *o;
		int k;

		for (unsigned i = 0; i < nl; i++) {
			si += idx[i] * ax[i].ps;
			if (ax[i].sel)
				sidx += (pos[ax[i].a] + idx[i]) * c->selstride[ax[i].a];
			else
				oi += ax[i].tab[idx[i]];
		}
		o = c->outs[c->stacked ? sidx : 0];
		if (o) {
			if (mode == 0)
				c->k->run(c, o, oi + tabL[0], data, si, n[aL]);
			else if (mode == 1 && c->k == &kern_u16 && stepL)
				transpose_u16((uint16_t *)(void *)o + oi + tabP[0] + tabL[0],
					      stepL, (const uint16_t *)data + si, ps[aP], n[aP],
					      n[aL]);
			else if (mode == 1 && c->k == &kern_bf16_ops && stepL)
				transpose_u16_ops(m, (uint16_t *)(void *)o + oi + tabP[0] +
						  tabL[0], stepL, (const uint16_t *)data + si,
						  ps[aP], n[aP], n[aL]);
			else if (mode == 1 && (c->k == &kern_u16 || c->k == &kern_bf16_ops))
				transpose_u16_tab(c->k == &kern_bf16_ops ? m : NULL,
						  (uint16_t *)(void *)o + oi + tabP[0], tabL,
						  (const uint16_t *)data + si, ps[aP], n[aP], n[aL]);
			else if (mode == 1)
				c->k->tile(c, o, oi + tabP[0], tabL, data, si, ps[aP], n[aP],
					   n[aL]);
			else
				c->k->elem(c, o, oi, tabL, data, si, ps[aL], n[aL]);
		}
		for (k = (int)nl - 1; k >= 0; k--) {
			if (++idx[k] < ax[k].n)
				break;
			idx[k] = 0;
		}
		if (k < 0)
			return 0;
	}
}

int rd_direct_read(const struct plan_tensor *t0, const struct rd_moves *m,
		     uint32_t axes, const struct plan_tensor *const *ts, size_t n,
		     void **outs, const uint64_t *box_start, const uint64_t *box_count,
		     struct rd_spill *spill)
{
	const struct plan_src *s = &t0->src[0];
	uint64_t start[ZARR_MAX_RANK], count[ZARR_MAX_RANK], nby = 1;
	uint8_t **by = (uint8_t **)outs;
	struct dctx c = { m, start, s->rank, { 0 }, 0, NULL, NULL, s->dtype, t0->dtype,
			  kern_for(s->dtype, t0->dtype, m->nops) };
	int err, nsel = 0;

	if (box_start) {
		memcpy(start, box_start, s->rank * sizeof(*start));
		memcpy(count, box_count, s->rank * sizeof(*count));
	} else {
		rd_src_box(s, start, count);
	}
	for (unsigned j = 0; j < m->nax; j++)
		count[m->axis[j]] = m->len[j];
	/* The outputs, by their index over the stacked axes of the box. */
	for (unsigned a = s->rank; axes && a-- > 0;) {
		if (!(axes >> a & 1))
			continue;
		if (start[a] >= s->shape[a] || count[a] > s->shape[a] - start[a] ||
		    __builtin_mul_overflow(nby, count[a], &nby))
			return ck_err(-EINVAL, "tensor '%s': bad sibling box", t0->name);
		c.selstride[a] = nby / count[a];
		nsel++;
	}
	if (nsel) {
		c.stacked = 1;
		by = nby <= SIZE_MAX / sizeof(*by) ? calloc((size_t)nby, sizeof(*by)) : NULL;
		if (!by)
			return ck_err(-ENOMEM, "out of memory");
		for (size_t k = 0; k < n; k++) {
			const struct plan_src *sk = &ts[k]->src[0];
			uint64_t at = 0;

			for (unsigned j = 0; j < sk->nfixed; j++) {
				unsigned a = sk->fixed_axis[j];

				if (!(axes >> a & 1))
					continue;
				if (sk->fixed_idx[j] < start[a] ||
				    sk->fixed_idx[j] - start[a] >= count[a]) {
					free(by);
					return ck_err(-EINVAL, "tensor '%s': bad sibling index",
						      ts[k]->name);
				}
				at += (sk->fixed_idx[j] - start[a]) * c.selstride[a];
			}
			by[at] = outs[k];
		}
	}
	c.outs = by;
	if (spill && rd_spill_recorded(spill)) {
		err = rd_spill_replay(spill, c.stacked ? c.selstride : NULL,
					(const void *const *)by, scatter, &c);
	} else {
		c.record = spill;
		err = orbax_array_visit(s->array, start, count, scatter, &c);
		if (spill)
			rd_spill_mark(spill, !err);
	}
	if (by != (uint8_t **)outs)
		free(by);
	if (err)
		return ck_err_ctx(err, "tensor '%s': array '%s'", t0->name, orbax_array_path(s->array));
	return 0;
}
