/* SPDX-License-Identifier: MIT */
/*
 * This file implements computing plan tensors (rd_tensor.h): a tensor's
 * source slices are read, widened to float32, run through the hook chain and
 * rounded to the served dtype, or, when the chain only moves elements,
 * scattered straight from the decoded chunks (rd_direct.c).  Siblings (see
 * plan.h) are computed together: the box covering all of them is decoded
 * once and each sibling is cut out of it.
 */
#include "read/rd_tensor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "read/rd_direct.h"
#include "util/ck_err.h"

/* Threads that cut siblings out of one box, at most. */
#define RD_MAX_THREADS 16

/* Widen n source elements of dtype dt to float32 (raw may alias f when dt is
 * float32). */
static void widen(const uint8_t *raw, enum ck_dtype dt, uint64_t n, float *f)
{
	uint16_t h;
	double d;

	/* One loop per dtype: these run over every served byte. */
	switch (dt) {
	case CK_DT_F32:
		if ((const void *)raw != (const void *)f)
			memmove(f, raw, (size_t)n * sizeof(float));
		break;
	case CK_DT_BF16:
		for (uint64_t i = 0; i < n; i++) {
			memcpy(&h, raw + 2 * i, 2);
			f[i] = ck_bf16_to_f32(h);
		}
		break;
	case CK_DT_F16:
		for (uint64_t i = 0; i < n; i++) {
			memcpy(&h, raw + 2 * i, 2);
			f[i] = ck_f16_to_f32(h);
		}
		break;
	default:	/* CK_DT_F64 */
		for (uint64_t i = 0; i < n; i++) {
			memcpy(&d, raw + 8 * i, 8);
			f[i] = (float)d;
		}
		break;
	}
}

/* Read the box [start, start + count) of s's array as float32 (malloc'd). */
static float *read_box(const struct plan_src *s, const uint64_t *start,
		       const uint64_t *count, int *err)
{
	size_t isz = ck_dtype_size(s->dtype);
	uint64_t n = 1;
	uint8_t *raw;
	float *f;

	for (unsigned ax = 0; ax < s->rank; ax++)
		n *= count[ax];
	f = malloc((size_t)n * sizeof(float) + 1);
	raw = s->dtype == CK_DT_F32 ? (uint8_t *)f : malloc((size_t)n * isz + 1);
	if (!f || !raw) {
		*err = ck_err(-ENOMEM, "out of memory");
		goto fail;
	}
	*err = orbax_array_read(s->array, start, count, raw);
	if (*err) {
		*err = ck_err_ctx(*err, "array '%s'", orbax_array_path(s->array));
		goto fail;
	}
	widen(raw, s->dtype, n, f);
	if (raw != (uint8_t *)f)
		free(raw);
	return f;
fail:
	if (raw != (uint8_t *)f)
		free(raw);
	free(f);
	return NULL;
}

static void narrow(const float *f, uint64_t n, enum ck_dtype t, uint8_t *out)
{
	uint16_t h;
	double d;

	switch (t) {
	case CK_DT_BF16:
		for (uint64_t i = 0; i < n; i++) {
			h = ck_f32_to_bf16(f[i]);
			memcpy(out + 2 * i, &h, 2);
		}
		break;
	case CK_DT_F16:
		for (uint64_t i = 0; i < n; i++) {
			h = ck_f32_to_f16(f[i]);
			memcpy(out + 2 * i, &h, 2);
		}
		break;
	case CK_DT_F64:
		for (uint64_t i = 0; i < n; i++) {
			d = f[i];
			memcpy(out + 8 * i, &d, 8);
		}
		break;
	default:	/* CK_DT_F32 */
		memcpy(out, f, (size_t)n * sizeof(float));
		break;
	}
}

/* Two float buffers the hooks of a chain write in turn, kept across the
 * tensors one thread computes so that their pages are not faulted in again
 * for every tensor. */
struct chain_buf {
	float *p[2];
	size_t cap[2];			/* in floats */
};

static float *chain_slot(struct chain_buf *cb, unsigned k, uint64_t n)
{
	if (cb->cap[k] < n) {
		free(cb->p[k]);
		cb->p[k] = malloc((size_t)n * sizeof(float) + 1);
		cb->cap[k] = cb->p[k] ? (size_t)n : 0;
	}
	return cb->p[k];
}

static void chain_release(struct chain_buf *cb)
{
	free(cb->p[0]);
	free(cb->p[1]);
	memset(cb, 0, sizeof(*cb));
}

/*
 * Run t's hook chain on its source slices in[] (float32, borrowed) and write
 * the served bytes to out.  The hooks write into cb's buffers, alternately.
 */
static int run_chain(const struct plan_tensor *t, float *const *in, void *out,
		     struct chain_buf *cb)
{
	const struct map_rule *r = t->rule;
	struct hook_shape ins[HOOK_MAX_INPUTS];
	const float *cur[HOOK_MAX_INPUTS];
	unsigned nin = t->nsrc;
	int err = 0;

	for (unsigned k = 0; k < nin; k++) {
		ins[k] = t->src[k].slice;
		cur[k] = in[k];
	}
	for (unsigned h = 0; h < r->nhooks && !err; h++) {
		float *o = chain_slot(cb, h & 1, hook_shape_numel(&t->out[h]));

		if (!o)
			return ck_err(-ENOMEM, "out of memory");
		err = r->hooks[h].hook->forward(&t->args[h], ins, cur, nin, &t->out[h], o);
		cur[0] = o;
		ins[0] = t->out[h];
		nin = 1;
	}
	if (!err)
		narrow(cur[0], hook_shape_numel(&t->shape), t->dtype, out);
	return err;
}

int rd_tensor_hooks(const struct plan_tensor *t, void *out)
{
	uint64_t start[ZARR_MAX_RANK], count[ZARR_MAX_RANK];
	float *in[HOOK_MAX_INPUTS] = { NULL };
	struct chain_buf cb = { { NULL, NULL }, { 0, 0 } };
	int err = 0;

	for (unsigned k = 0; k < t->nsrc && !err; k++) {
		rd_src_box(&t->src[k], start, count);
		in[k] = read_box(&t->src[k], start, count, &err);
	}
	if (!err)
		err = run_chain(t, in, out, &cb);
	for (unsigned k = 0; k < t->nsrc; k++)
		free(in[k]);
	chain_release(&cb);
	return err ? ck_err_ctx(err, "tensor '%s'", t->name) : 0;
}

int rd_tensor(const struct plan_tensor *t, void *out)
{
	struct rd_moves m;
	int err;

	/* A chain that only moves elements: straight from the chunks. */
	err = rd_moves_build(t, &m);
	if (err == RD_NOT_DIRECT)
		return rd_tensor_hooks(t, out);
	if (!err)
		err = rd_direct_read(t, &m, 0, &t, 1, &out, NULL, NULL, NULL);
	rd_moves_release(&m);
	return err;
}

/* One source's decoded box, for cutting siblings out of it. */
struct cut_box {
	const uint8_t *data;
	enum ck_dtype dtype;
	size_t isz;
	unsigned rank;
	uint64_t start[ZARR_MAX_RANK];	/* the box in the array */
	uint64_t count[ZARR_MAX_RANK];
	uint64_t stride[ZARR_MAX_RANK];	/* elements between box neighbours */
	unsigned last;			/* the last stacked axis: the axes after
					   it are one contiguous run */
	uint64_t inner;			/* that run's length */
	uint64_t slice;			/* elements of one sibling's slice */
};

/* Cutting siblings out of decoded boxes (one per source), on several
 * threads. */
struct cut {
	const struct plan *p;
	const uint32_t *ids;
	size_t n;
	void **outs;
	unsigned nsrc;
	struct cut_box b[HOOK_MAX_INPUTS];
	uint32_t axes;			/* the stacked axes (bit per axis) */
	pthread_mutex_t lock;
	size_t next;			/* the next sibling to take */
	int err;			/* the first error */
	char msg[1024];			/* its message */
};

/* Widen source s's slice out of box b into in (C order over the axes that
 * are not stacked). */
static void cut_slice(const struct cut_box *b, uint32_t axes, const struct plan_src *s,
		      float *in)
{
	uint64_t base = 0, idx[ZARR_MAX_RANK] = { 0 };
	float *dst = in;

	for (unsigned j = 0; j < s->nfixed; j++) {
		unsigned a = s->fixed_axis[j];

		if (axes >> a & 1)
			base += (s->fixed_idx[j] - b->start[a]) * b->stride[a];
	}
	for (;;) {
		uint64_t off = base;
		int a;

		for (unsigned k = 0; k <= b->last; k++)
			off += idx[k] * b->stride[k];
		widen(b->data + off * b->isz, b->dtype, b->inner, dst);
		dst += b->inner;
		/* Next position over the unstacked axes up to the last stacked. */
		for (a = (int)b->last; a >= 0; a--) {
			if (axes >> a & 1)
				continue;
			if (++idx[a] < b->count[a])
				break;
			idx[a] = 0;
		}
		if (a < 0)
			return;
	}
}

/* Compute siblings until none is left (or one failed).  The slice and
 * chain buffers are the same size for every sibling: allocated once. */
static void *cut_worker(void *arg)
{
	struct cut *c = arg;
	struct chain_buf cb = { { NULL, NULL }, { 0, 0 } };
	float *in[HOOK_MAX_INPUTS] = { NULL };
	int oom = 0;

	for (unsigned k = 0; k < c->nsrc; k++) {
		in[k] = malloc((size_t)c->b[k].slice * sizeof(float) + 1);
		oom |= !in[k];
	}
	for (;;) {
		const struct plan_tensor *t;
		size_t k;
		int err;

		pthread_mutex_lock(&c->lock);
		k = c->err ? c->n : c->next++;
		pthread_mutex_unlock(&c->lock);
		if (k >= c->n)
			break;
		t = &c->p->tensors[c->ids[k]];
		if (oom) {
			err = ck_err(-ENOMEM, "out of memory");
		} else {
			for (unsigned j = 0; j < c->nsrc; j++)
				cut_slice(&c->b[j], c->axes, &t->src[j], in[j]);
			err = run_chain(t, in, c->outs[k], &cb);
			if (err)
				err = ck_err_ctx(err, "tensor '%s'", t->name);
		}
		if (err) {
			pthread_mutex_lock(&c->lock);
			if (!c->err) {
				c->err = err;
				snprintf(c->msg, sizeof(c->msg), "%s", ck_err_msg());
			}
			pthread_mutex_unlock(&c->lock);
		}
	}
	for (unsigned k = 0; k < c->nsrc; k++)
		free(in[k]);
	chain_release(&cb);
	return NULL;
}

/* Run cut_worker on up to one thread per core (this one included). */
static int cut_all(struct cut *c)
{
	pthread_t th[RD_MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus < 1 ? 1 : cpus > RD_MAX_THREADS ? RD_MAX_THREADS :
		(unsigned)cpus, started = 0;

	if (want > c->n)
		want = (unsigned)c->n;
	while (started + 1 < want && !pthread_create(&th[started], NULL, cut_worker, c))
		started++;
	cut_worker(c);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&c->lock);
	return c->err ? ck_err(c->err, "%s", c->msg) : 0;
}

int rd_spillable(const struct plan *p, uint32_t id)
{
	struct rd_moves m;
	int ok = rd_moves_build(&p->tensors[id], &m) == 0;

	rd_moves_release(&m);
	ck_err_clear();
	return ok;
}

/* The box over the stacked axes that covers ids[] (or the whole group, for
 * a spill) in source k's array: start/count on those axes; the others as
 * rd_src_box(). */
static void group_box(const struct plan *p, const struct plan_groups *g,
		      const uint32_t *ids, size_t n, int whole, unsigned k,
		      uint64_t *start, uint64_t *count)
{
	const struct plan_src *s0 = &p->tensors[ids[0]].src[k];
	uint32_t grp = g->of[ids[0]], axes = g->axes[grp];
	uint64_t hi[ZARR_MAX_RANK] = { 0 };

	rd_src_box(s0, start, count);
	for (unsigned j = 0; j < s0->nfixed; j++)
		if (axes >> s0->fixed_axis[j] & 1)
			start[s0->fixed_axis[j]] = UINT64_MAX;
	for (size_t m = 0; m < (whole ? g->first[grp + 1] - g->first[grp] : n); m++) {
		const struct plan_src *s = &p->tensors[whole ? g->members[g->first[grp] + m] :
						       ids[m]].src[k];

		for (unsigned j = 0; j < s->nfixed; j++) {
			unsigned a = s->fixed_axis[j];

			if (!(axes >> a & 1))
				continue;
			start[a] = s->fixed_idx[j] < start[a] ? s->fixed_idx[j] : start[a];
			hi[a] = s->fixed_idx[j] > hi[a] ? s->fixed_idx[j] : hi[a];
		}
	}
	for (unsigned a = 0; a < s0->rank; a++)
		if (axes >> a & 1)
			count[a] = hi[a] - start[a] + 1;
}

/* Decode source k's box of the siblings ids[] into b (b->data: caller
 * frees). */
static int read_cut_box(const struct plan *p, const struct plan_groups *g,
			const uint32_t *ids, size_t n, unsigned k, uint32_t axes,
			struct cut_box *b)
{
	const struct plan_src *s = &p->tensors[ids[0]].src[k];
	uint64_t boxn = 1;
	uint8_t *data;
	int err;

	memset(b, 0, sizeof(*b));
	b->dtype = s->dtype;
	b->isz = ck_dtype_size(s->dtype);
	b->rank = s->rank;
	group_box(p, g, ids, n, 0, k, b->start, b->count);
	b->slice = 1;
	for (unsigned a = 0; a < s->rank; a++) {
		boxn *= b->count[a];
		if (!(axes >> a & 1))
			b->slice *= b->count[a];
	}
	for (unsigned a = s->rank; a-- > 0;)
		b->stride[a] = a + 1 < s->rank ? b->stride[a + 1] * b->count[a + 1] : 1;
	for (unsigned a = 0; a < s->rank; a++)
		if (axes >> a & 1)
			b->last = a;
	b->inner = 1;
	for (unsigned a = b->last + 1; a < s->rank; a++)
		b->inner *= b->count[a];
	/* The box stays in the stored dtype; each slice is widened as it is
	 * cut out. */
	data = malloc((size_t)(boxn * b->isz) + 1);
	if (!data)
		return ck_err(-ENOMEM, "out of memory");
	err = orbax_array_read(s->array, b->start, b->count, data);
	if (err) {
		free(data);
		return ck_err_ctx(err, "tensor '%s': array '%s'", p->tensors[ids[0]].name,
				  orbax_array_path(s->array));
	}
	b->data = data;
	return 0;
}

int rd_tensors(const struct plan *p, const struct plan_groups *g,
		      const uint32_t *ids, size_t n, void **outs,
		      struct rd_spill *spill)
{
	uint64_t start[ZARR_MAX_RANK], count[ZARR_MAX_RANK];
	const struct plan_tensor *t0 = &p->tensors[ids[0]];
	uint32_t grp = g->of[ids[0]], axes;
	struct rd_moves m;
	int err;

	if (grp == UINT32_MAX)
		return ck_err(-EINVAL, "tensor '%s' is not stacked", t0->name);
	axes = g->axes[grp];
	err = rd_moves_build(t0, &m);
	if (err == RD_NOT_DIRECT && spill)
		return ck_err(-EINVAL, "tensor '%s': its hooks cannot be spilled",
			      t0->name);
	if (err != RD_NOT_DIRECT) {
		const struct plan_tensor **ts = malloc(n * sizeof(*ts) + 1);

		if (!err && !ts)
			err = ck_err(-ENOMEM, "out of memory");
		for (size_t k = 0; !err && k < n; k++)
			ts[k] = &p->tensors[ids[k]];
		/* A spill records the whole group's box. */
		if (!err) {
			group_box(p, g, ids, n, spill != NULL, 0, start, count);
			err = rd_direct_read(t0, &m, axes, ts, n, outs, start, count, spill);
		}
		free(ts);
		rd_moves_release(&m);
		return err;
	}
	{
		struct cut c = { p, ids, n, outs, t0->nsrc, { { 0 } }, axes,
				 PTHREAD_MUTEX_INITIALIZER, 0, 0, "" };

		err = 0;
		for (unsigned k = 0; !err && k < t0->nsrc; k++)
			err = read_cut_box(p, g, ids, n, k, axes, &c.b[k]);
		if (!err)
			err = cut_all(&c);
		else
			pthread_mutex_destroy(&c.lock);
		for (unsigned k = 0; k < t0->nsrc; k++)
			free((void *)c.b[k].data);
	}
	return err;
}
