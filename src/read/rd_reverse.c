/* SPDX-License-Identifier: MIT */
/*
 * This file implements the reverse conversion's arithmetic (rd_reverse.h):
 * which tensors write into which array, and the gather of a box.
 */
#include "read/rd_reverse.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "read/rd_direct.h"
#include "util/ck_err.h"

#define RV_CACHE_DEFAULT ((uint64_t)64 << 20)
#define RV_TRACE_BITS 24		/* integers a float holds exactly */
#define RV_MAX_ELEMS ((uint64_t)1 << 40)

enum rv_kind { RV_DIRECT, RV_INVERSE, RV_TRACE };

/* Tensor t writes source k's slice. */
struct rv_contrib {
	uint32_t t;
	unsigned k;
	enum rv_kind kind;
	struct rd_moves m;		/* RV_DIRECT */
	unsigned nops;			/* inverse pointwise operations, in
					   the order they apply */
	enum hook_op op[MAP_MAX_HOOKS];
	float c[MAP_MAX_HOOKS];
};

/* A computed slice (RV_INVERSE, RV_TRACE), float32 in the slice's C order. */
struct rv_slice {
	uint32_t t;
	unsigned k;
	float *v;
	uint8_t *covered;		/* RV_TRACE: elements the tensor holds */
	uint64_t bytes;
	unsigned refs;
	uint64_t tick;
};

struct rv_plan {
	const struct plan *p;
	const struct orbax_ckpt *c;
	size_t narrays;
	size_t *first;			/* per array, into by[] (narrays + 1) */
	struct rv_contrib *by;		/* grouped by array */
	pthread_mutex_t lock;		/* the slice cache */
	struct rv_slice *cache;
	size_t ncache, capcache;
	uint64_t cached, budget, tick;
};

/* --- element access --- */

static inline float load(const void *p, enum ck_dtype dt, uint64_t i)
{
	switch (dt) {
	case CK_DT_BF16:
		return ck_bf16_to_f32(((const uint16_t *)p)[i]);
	case CK_DT_F16:
		return ck_f16_to_f32(((const uint16_t *)p)[i]);
	default:
		return ((const float *)p)[i];
	}
}

static inline void store(void *p, enum ck_dtype dt, uint64_t i, float v)
{
	switch (dt) {
	case CK_DT_BF16:
		((uint16_t *)p)[i] = ck_f32_to_bf16(v);
		break;
	case CK_DT_F16:
		((uint16_t *)p)[i] = ck_f32_to_f16(v);
		break;
	default:
		((float *)p)[i] = v;
		break;
	}
}

static inline float apply_ops(const struct rv_contrib *cb, float v)
{
	for (unsigned o = 0; o < cb->nops; o++) {
		switch (cb->op[o]) {
		case HOOK_OP_MUL:
			v = v * cb->c[o];
			break;
		case HOOK_OP_DIV:
			v = v / cb->c[o];
			break;
		case HOOK_OP_ADD:
			v = v + cb->c[o];
			break;
		}
	}
	return v;
}

static int float_type(enum ck_dtype dt)
{
	return dt == CK_DT_BF16 || dt == CK_DT_F16 || dt == CK_DT_F32;
}

/* --- building --- */

/* The inverse pointwise operations of t's chain, last hook first. */
static int inverse_ops(const struct plan_tensor *t, struct rv_contrib *cb)
{
	const struct map_rule *r = t->rule;

	cb->nops = 0;
	for (unsigned h = r->nhooks; h-- > 0;) {
		const struct hook *hk = r->hooks[h].hook;

		if (!hk->pointwise)
			continue;
		if (!hk->pointwise_inv)
			return ck_err(-ENOTSUP, "%s: hook '%s' has no inverse",
				      t->name, hk->name);
		hk->pointwise_inv(&t->args[h], &cb->op[cb->nops], &cb->c[cb->nops]);
		cb->nops++;
	}
	return 0;
}

/* How t's sources are computed backwards. */
static int classify(const struct plan_tensor *t, struct rv_contrib *cb)
{
	const struct map_rule *r = t->rule;
	int err, inv = t->nsrc == 1;

	if (t->nsrc == 1) {
		err = rd_moves_build(t, &cb->m);
		if (err < 0)
			return err;
		if (err == 0) {
			cb->kind = RV_DIRECT;
			return inverse_ops(t, cb);
		}
		rd_moves_release(&cb->m);
	}
	for (unsigned h = 0; h < r->nhooks; h++)
		if (!r->hooks[h].hook->inverse)
			inv = 0;
	if (inv) {
		cb->kind = RV_INVERSE;
		return 0;
	}
	for (unsigned h = 0; h < r->nhooks; h++)
		if (r->hooks[h].hook->pointwise)
			return ck_err(-ENOTSUP, "%s: the chain of '%s' mixes a hook "
				      "without an inverse with arithmetic; it cannot "
				      "be inverted", t->name, r->hf);
	cb->kind = RV_TRACE;
	return 0;
}

int rv_plan_build(const struct plan *p, const struct orbax_ckpt *c,
		  uint64_t slice_cache, struct rv_plan **out)
{
	struct rv_plan *rv = calloc(1, sizeof(*rv));
	size_t total = 0, *fill = NULL;
	int err = 0;

	*out = NULL;
	if (!rv)
		return ck_err(-ENOMEM, "out of memory");
	rv->p = p;
	rv->c = c;
	rv->narrays = c->narrays;
	rv->budget = slice_cache ? slice_cache : RV_CACHE_DEFAULT;
	pthread_mutex_init(&rv->lock, NULL);
	rv->first = calloc(c->narrays + 1, sizeof(*rv->first));
	fill = calloc(c->narrays + 1, sizeof(*fill));
	if (!rv->first || !fill) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->ntensors; i++)
		for (unsigned k = 0; k < p->tensors[i].nsrc; k++) {
			const struct orbax_array *a = p->tensors[i].src[k].array;

			if (a < c->arrays || a >= c->arrays + c->narrays) {
				err = ck_err(-EINVAL, "%s: its source is not an array "
					     "being written", p->tensors[i].name);
				goto out;
			}
			rv->first[a - c->arrays + 1]++;
			total++;
		}
	for (size_t a = 0; a < c->narrays; a++)
		rv->first[a + 1] += rv->first[a];
	rv->by = calloc(total + 1, sizeof(*rv->by));
	if (!rv->by) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->ntensors && !err; i++)
		for (unsigned k = 0; k < p->tensors[i].nsrc && !err; k++) {
			size_t a = (size_t)(p->tensors[i].src[k].array - c->arrays);
			struct rv_contrib *cb = &rv->by[rv->first[a] + fill[a]++];

			cb->t = (uint32_t)i;
			cb->k = k;
			err = classify(&p->tensors[i], cb);
		}
out:
	free(fill);
	if (err) {
		rv_plan_free(rv);
		return err;
	}
	*out = rv;
	return 0;
}

size_t rv_writers(const struct rv_plan *rv, size_t array)
{
	return array < rv->narrays ? rv->first[array + 1] - rv->first[array] : 0;
}

void rv_plan_free(struct rv_plan *rv)
{
	if (!rv)
		return;
	for (size_t i = 0; rv->first && i < rv->first[rv->narrays]; i++)
		rd_moves_release(&rv->by[i].m);
	for (size_t i = 0; i < rv->ncache; i++) {
		free(rv->cache[i].v);
		free(rv->cache[i].covered);
	}
	free(rv->cache);
	free(rv->by);
	free(rv->first);
	pthread_mutex_destroy(&rv->lock);
	free(rv);
}

/* --- the gather --- */

/* Where each element of a slice is in what it is gathered from: per slice
 * axis j (array axis axis[j]), only coordinates below len[j] exist there,
 * at offset sum_j (off[j] ? off[j][x_j] : x_j * step[j]). */
struct gmap {
	unsigned nax;
	const unsigned *axis;
	const uint64_t *len;
	const uint64_t *const *off;
	const uint64_t *step;
};

struct gsrc {
	const void *data;
	enum ck_dtype dt;
	const uint8_t *covered;		/* NULL: every element */
	const struct rv_contrib *ops;	/* NULL: none */
};

static inline uint64_t goff(const struct gmap *g, unsigned j, uint64_t x)
{
	return g->off[j] ? g->off[j][x] : x * g->step[j];
}

/* One run of the innermost axis, copying element bits (same dtype, no
 * arithmetic): a memcpy where both sides are contiguous. */
static void gather_raw(const struct gmap *g, unsigned last, uint64_t so, uint64_t bo,
		       uint64_t bs, uint64_t lo, uint64_t hi, size_t isz,
		       const void *in, void *out)
{
	if (!g->off[last] && g->step[last] == 1 && bs == 1) {
		memcpy((uint8_t *)out + (bo + lo) * isz,
		       (const uint8_t *)in + (so + lo) * isz, (size_t)((hi - lo) * isz));
	} else if (isz == 2) {
		const uint16_t *i = in;
		uint16_t *o = out;

		for (uint64_t v = lo; v < hi; v++)
			o[bo + v * bs] = i[so + goff(g, last, v)];
	} else if (isz == 4) {
		const uint32_t *i = in;
		uint32_t *o = out;

		for (uint64_t v = lo; v < hi; v++)
			o[bo + v * bs] = i[so + goff(g, last, v)];
	} else {
		for (uint64_t v = lo; v < hi; v++)
			memcpy((uint8_t *)out + (bo + v * bs) * isz,
			       (const uint8_t *)in + (so + goff(g, last, v)) * isz, isz);
	}
}

/*
 * Gather slice s (of an array of rank rank) into the box
 * [start, start+count) held in out (dense, dtype dt).
 */
static void gather(const struct plan_src *s, const struct gmap *g,
		   const struct gsrc *src, unsigned rank, const uint64_t *start,
		   const uint64_t *count, void *out, enum ck_dtype dt)
{
	uint64_t bstride[ZARR_MAX_RANK], lo[ZARR_MAX_RANK], hi[ZARR_MAX_RANK];
	uint64_t x[ZARR_MAX_RANK], base = 0;
	unsigned last = g->nax - 1, la = g->axis[last];
	int raw = !src->ops && !src->covered && src->dt == dt;
	size_t isz = ck_dtype_size(dt);

	for (unsigned a = rank; a-- > 0;)
		bstride[a] = a + 1 < rank ? bstride[a + 1] * count[a + 1] : 1;
	for (unsigned f = 0; f < s->nfixed; f++) {
		unsigned a = s->fixed_axis[f];
		uint64_t i = s->fixed_idx[f];

		if (i < start[a] || i - start[a] >= count[a])
			return;
		base += (i - start[a]) * bstride[a];
	}
	for (unsigned j = 0; j < g->nax; j++) {
		unsigned a = g->axis[j];
		uint64_t end = start[a] + count[a];

		lo[j] = start[a];
		hi[j] = end < g->len[j] ? end : g->len[j];
		if (lo[j] >= hi[j])
			return;
		x[j] = lo[j];
	}
	for (;;) {
		uint64_t so = 0, bo = base;

		for (unsigned j = 0; j < last; j++) {
			so += goff(g, j, x[j]);
			bo += (x[j] - start[g->axis[j]]) * bstride[g->axis[j]];
		}
		bo -= start[la] * bstride[la];
		if (raw) {
			gather_raw(g, last, so, bo, bstride[la], lo[last], hi[last], isz,
				   src->data, out);
		} else {
			for (uint64_t v = lo[last]; v < hi[last]; v++) {
				uint64_t si = so + goff(g, last, v);
				float f;

				if (src->covered && !src->covered[si])
					continue;
				f = load(src->data, src->dt, si);
				if (src->ops)
					f = apply_ops(src->ops, f);
				store(out, dt, bo + v * bstride[la], f);
			}
		}
		/* Odometer over the other slice axes. */
		unsigned j = last;

		while (j-- > 0) {
			if (++x[j] < hi[j])
				break;
			x[j] = lo[j];
		}
		if (j == (unsigned)-1)
			return;
	}
}

/* --- computed slices --- */

static int widen(const struct plan_tensor *t, const void *data, enum ck_dtype dt,
		 float **out)
{
	uint64_t n = hook_shape_numel(&t->shape);
	float *f;

	if (n > RV_MAX_ELEMS)
		return ck_err(-EOVERFLOW, "%s: too large", t->name);
	f = malloc((size_t)n * sizeof(*f) + 1);
	if (!f)
		return ck_err(-ENOMEM, "out of memory for %s", t->name);
	for (uint64_t i = 0; i < n; i++)
		f[i] = load(data, dt, i);
	*out = f;
	return 0;
}

/* The hooks' inverse() from the HF tensor down to the slice. */
static int slice_inverse(const struct plan_tensor *t, float *hf, float **out)
{
	const struct map_rule *r = t->rule;
	struct hook_shape cur = r->nhooks ? t->out[r->nhooks - 1] : t->shape;
	float *v = hf;
	int err = 0;

	for (unsigned h = r->nhooks; h-- > 0 && !err;) {
		const struct hook_shape *mt = h ? &t->out[h - 1] : &t->src[0].slice;
		float *next = malloc((size_t)hook_shape_numel(mt) * sizeof(*next) + 1);

		if (!next) {
			err = ck_err(-ENOMEM, "out of memory for %s", t->name);
			break;
		}
		err = r->hooks[h].hook->inverse(&t->args[h], &cur, v, mt, next);
		if (err)
			err = ck_err_ctx(err, "%s", t->name);
		free(v);
		v = next;
		cur = *mt;
	}
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	return 0;
}

/* Run t's hooks forward on floats (what tracing needs). */
static int run_forward(const struct plan_tensor *t, float **ins, float **out)
{
	const struct map_rule *r = t->rule;
	struct hook_shape shp[HOOK_MAX_INPUTS];
	const float *in[HOOK_MAX_INPUTS];
	float *prev = NULL;
	unsigned nin = t->nsrc;
	int err = 0;

	for (unsigned q = 0; q < nin; q++) {
		shp[q] = t->src[q].slice;
		in[q] = ins[q];
	}
	for (unsigned h = 0; h < r->nhooks && !err; h++) {
		float *o = malloc((size_t)hook_shape_numel(&t->out[h]) * sizeof(*o) + 1);

		if (!o) {
			err = ck_err(-ENOMEM, "out of memory for %s", t->name);
			break;
		}
		err = r->hooks[h].hook->forward(&t->args[h], shp, in, nin, &t->out[h], o);
		free(prev);
		prev = o;
		shp[0] = t->out[h];
		in[0] = o;
		nin = 1;
	}
	if (err) {
		free(prev);
		return err;
	}
	*out = prev;
	return 0;
}

/*
 * Trace where each element of source k goes: the forward chain runs on the
 * element indices (in two passes of 24 bits when the slice is larger than
 * a float counts exactly), the others' elements being -1.
 */
static int slice_trace(const struct plan_tensor *t, unsigned k, const float *hf,
		       float **vout, uint8_t **cout)
{
	uint64_t n = hook_shape_numel(&t->src[k].slice), nout = hook_shape_numel(&t->shape);
	unsigned passes = n > ((uint64_t)1 << RV_TRACE_BITS) ? 2 : 1;
	float *ins[HOOK_MAX_INPUTS] = { 0 }, *res[2] = { 0 }, *v = NULL;
	uint8_t *cov = NULL;
	int err = 0;

	if (!t->rule->nhooks)
		return ck_err(-EINVAL, "%s: nothing to trace", t->name);
	for (unsigned pass = 0; pass < passes && !err; pass++) {
		for (unsigned q = 0; q < t->nsrc && !err; q++) {
			uint64_t m = hook_shape_numel(&t->src[q].slice);

			ins[q] = malloc((size_t)m * sizeof(float) + 1);
			if (!ins[q]) {
				err = ck_err(-ENOMEM, "out of memory for %s", t->name);
				break;
			}
			for (uint64_t i = 0; i < m; i++)
				ins[q][i] = q != k ? -1.0f : pass ?
					(float)(i >> RV_TRACE_BITS) :
					(float)(i & (((uint64_t)1 << RV_TRACE_BITS) - 1));
		}
		if (!err)
			err = run_forward(t, ins, &res[pass]);
		for (unsigned q = 0; q < t->nsrc; q++) {
			free(ins[q]);
			ins[q] = NULL;
		}
	}
	if (!err) {
		v = calloc((size_t)n + 1, sizeof(*v));
		cov = calloc((size_t)n + 1, 1);
		if (!v || !cov)
			err = ck_err(-ENOMEM, "out of memory for %s", t->name);
	}
	for (uint64_t q = 0; !err && q < nout; q++) {
		uint64_t i;

		if (!(res[0][q] >= 0.0f))
			continue;
		i = (uint64_t)res[0][q];
		if (passes == 2)
			i += (uint64_t)res[1][q] << RV_TRACE_BITS;
		if (i >= n) {
			err = ck_err(-EINVAL, "%s: tracing its hooks went wrong", t->name);
			break;
		}
		v[i] = hf[q];
		cov[i] = 1;
	}
	free(res[0]);
	free(res[1]);
	if (err) {
		free(v);
		free(cov);
		return err;
	}
	*vout = v;
	*cout = cov;
	return 0;
}

/* Drop unreferenced entries, least recently used first, while over budget.
 * Called locked. */
static void cache_trim(struct rv_plan *rv)
{
	while (rv->cached > rv->budget) {
		size_t victim = SIZE_MAX;

		for (size_t i = 0; i < rv->ncache; i++)
			if (!rv->cache[i].refs &&
			    (victim == SIZE_MAX || rv->cache[i].tick < rv->cache[victim].tick))
				victim = i;
		if (victim == SIZE_MAX)
			return;
		rv->cached -= rv->cache[victim].bytes;
		free(rv->cache[victim].v);
		free(rv->cache[victim].covered);
		rv->cache[victim] = rv->cache[--rv->ncache];
	}
}

/* The computed slice of contribution cb, from the cache or made now;
 * referenced until cache_release().  Entries are addressed by index, which
 * cache_trim() may move: the caller gets a copy of the pointers. */
static int slice_get(struct rv_plan *rv, const struct rv_contrib *cb,
		     const struct rv_source *src, struct rv_slice *got)
{
	const struct plan_tensor *t = &rv->p->tensors[cb->t];
	struct rv_slice e = { cb->t, cb->k, NULL, NULL, 0, 1, 0 };
	const void *data;
	enum ck_dtype dt;
	float *hf = NULL;
	int err;

	pthread_mutex_lock(&rv->lock);
	for (size_t i = 0; i < rv->ncache; i++)
		if (rv->cache[i].t == cb->t && rv->cache[i].k == cb->k) {
			rv->cache[i].refs++;
			rv->cache[i].tick = ++rv->tick;
			*got = rv->cache[i];
			pthread_mutex_unlock(&rv->lock);
			return 0;
		}
	pthread_mutex_unlock(&rv->lock);
	err = src->get(src->ctx, t, &data, &dt);
	if (err)
		return err;
	if (!float_type(dt))
		err = ck_err(-EINVAL, "%s is %s, not a float tensor", t->name,
			     ck_dtype_name(dt));
	if (!err)
		err = widen(t, data, dt, &hf);
	src->put(src->ctx, t, data);
	if (err)
		return err;
	if (cb->kind == RV_INVERSE) {
		err = slice_inverse(t, hf, &e.v);	/* consumes hf */
		hf = NULL;
	} else {
		err = slice_trace(t, cb->k, hf, &e.v, &e.covered);
	}
	free(hf);
	if (err)
		return err;
	e.bytes = hook_shape_numel(&t->src[cb->k].slice) * (sizeof(float) +
							     (e.covered ? 1 : 0));
	pthread_mutex_lock(&rv->lock);
	for (size_t i = 0; i < rv->ncache; i++)
		if (rv->cache[i].t == cb->t && rv->cache[i].k == cb->k) {
			/* made meanwhile by another thread: use that one */
			rv->cache[i].refs++;
			*got = rv->cache[i];
			pthread_mutex_unlock(&rv->lock);
			free(e.v);
			free(e.covered);
			return 0;
		}
	if (rv->ncache == rv->capcache) {
		size_t cap = rv->capcache ? 2 * rv->capcache : 8;
		struct rv_slice *nc = realloc(rv->cache, cap * sizeof(*nc));

		if (!nc) {
			pthread_mutex_unlock(&rv->lock);
			free(e.v);
			free(e.covered);
			return ck_err(-ENOMEM, "out of memory");
		}
		rv->cache = nc;
		rv->capcache = cap;
	}
	e.tick = ++rv->tick;
	rv->cache[rv->ncache++] = e;
	rv->cached += e.bytes;
	*got = e;
	pthread_mutex_unlock(&rv->lock);
	return 0;
}

/* Release a slice got from slice_get(), trimming the cache. */
static void slice_put(struct rv_plan *rv, const struct rv_slice *got)
{
	pthread_mutex_lock(&rv->lock);
	for (size_t i = 0; i < rv->ncache; i++)
		if (rv->cache[i].v == got->v) {
			rv->cache[i].refs--;
			break;
		}
	cache_trim(rv);
	pthread_mutex_unlock(&rv->lock);
}

/* --- filling a box --- */

static int fill_direct(struct rv_plan *rv, const struct rv_contrib *cb,
		       unsigned rank, const uint64_t *start, const uint64_t *count,
		       enum ck_dtype dt, void *buf, const struct rv_source *src)
{
	const struct plan_tensor *t = &rv->p->tensors[cb->t];
	const uint64_t *off[ZARR_MAX_RANK];
	struct gmap g = { cb->m.nax, cb->m.axis, cb->m.len, off, cb->m.step };
	struct gsrc s = { NULL, CK_DT_INVALID, NULL, cb->nops ? cb : NULL };
	const void *base;
	int err;

	for (unsigned j = 0; j < cb->m.nax; j++)
		off[j] = cb->m.step[j] ? NULL : cb->m.off[j];
	/* step is relative to off[j][0] */
	err = src->get(src->ctx, t, &s.data, &s.dt);
	if (err)
		return err;
	if (!float_type(s.dt)) {
		src->put(src->ctx, t, s.data);
		return ck_err(-EINVAL, "%s is %s, not a float tensor", t->name,
			      ck_dtype_name(s.dt));
	}
	{
		/* Fold off[j][0] of the affine axes into the data pointer. */
		uint64_t o0 = 0;

		for (unsigned j = 0; j < cb->m.nax; j++)
			if (!off[j])
				o0 += cb->m.off[j][0];
		base = s.data;
		s.data = (const uint8_t *)s.data + o0 * ck_dtype_size(s.dt);
	}
	gather(&t->src[cb->k], &g, &s, rank, start, count, buf, dt);
	src->put(src->ctx, t, base);
	return 0;
}

static int fill_computed(struct rv_plan *rv, const struct rv_contrib *cb,
			 unsigned rank, const uint64_t *start, const uint64_t *count,
			 enum ck_dtype dt, void *buf, const struct rv_source *src)
{
	const struct plan_src *ps = &rv->p->tensors[cb->t].src[cb->k];
	uint64_t step[ZARR_MAX_RANK];
	const uint64_t *off[ZARR_MAX_RANK] = { 0 };
	unsigned axis[ZARR_MAX_RANK], j = 0;
	uint64_t len[ZARR_MAX_RANK];
	struct rv_slice sl = { 0 };
	struct gmap g;
	struct gsrc s;
	int err;

	for (unsigned a = 0, f = 0; a < ps->rank; a++) {
		if (f < ps->nfixed && ps->fixed_axis[f] == a) {
			f++;
			continue;
		}
		axis[j] = a;
		len[j++] = ps->shape[a];
	}
	if (!j)
		return 0;
	for (unsigned q = j; q-- > 0;)
		step[q] = q + 1 < j ? step[q + 1] * len[q + 1] : 1;
	err = slice_get(rv, cb, src, &sl);
	if (err)
		return err;
	g = (struct gmap){ j, axis, len, off, step };
	s = (struct gsrc){ sl.v, CK_DT_F32, sl.covered, NULL };
	gather(ps, &g, &s, rank, start, count, buf, dt);
	slice_put(rv, &sl);
	return 0;
}

int rv_fill(struct rv_plan *rv, size_t array, const uint64_t *start,
	    const uint64_t *count, enum ck_dtype dt, void *buf,
	    const struct rv_source *src)
{
	const struct orbax_array *a;
	struct zarr_info info;
	uint64_t n = ck_dtype_size(dt);
	int err;

	if (array >= rv->narrays || !float_type(dt))
		return ck_err(-EINVAL, "no such array or dtype");
	a = &rv->c->arrays[array];
	err = orbax_array_info(a, &info);
	if (err)
		return err;
	for (unsigned i = 0; i < info.rank; i++) {
		if (start[i] > info.shape[i] || count[i] > info.shape[i] - start[i])
			return ck_err(-EINVAL, "'%s': box outside the array", a->name);
		n *= count[i];
	}
	memset(buf, 0, (size_t)n);
	if (!n)
		return 0;
	for (size_t i = rv->first[array]; i < rv->first[array + 1]; i++) {
		const struct rv_contrib *cb = &rv->by[i];

		if (cb->kind == RV_DIRECT)
			err = fill_direct(rv, cb, info.rank, start, count, dt, buf, src);
		else
			err = fill_computed(rv, cb, info.rank, start, count, dt, buf, src);
		if (err)
			return err;
	}
	return 0;
}
