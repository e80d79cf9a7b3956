/* SPDX-License-Identifier: MIT */
/*
 * This file implements plan_skeleton(): the MaxText arrays a mapping makes
 * from an HF config, for the reverse conversion.  It walks the rules as
 * plan_build() does (the same layers, experts, placements and stacking
 * axes, plan_impl.h), but instead of finding each source in a checkpoint it
 * describes it: its name, and its shape, which is the rule's MaxText slice
 * shape ("mt") with the stacked axes put back, each as long as the largest
 * index any layer or expert puts on it, plus one.
 */
#include "mapping/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/plan_impl.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_json.h"

#define SKEL_MAX_ARRAYS (1u << 20)

struct skel_array {
	char *name;
	unsigned rank;
	uint64_t shape[ZARR_MAX_RANK];
	uint32_t fixed;			/* bit a: axis a is a stacked axis */
};

struct skel {
	struct skel_array *a;
	size_t n, cap;
};

static struct skel_array *skel_find(struct skel *s, const char *name)
{
	for (size_t i = s->n; i-- > 0;)	/* the last one added is the likeliest */
		if (!strcmp(s->a[i].name, name))
			return &s->a[i];
	return NULL;
}

static void shape_text(char *buf, size_t cap, unsigned rank, const uint64_t *d)
{
	size_t n = (size_t)snprintf(buf, cap, "[");

	for (unsigned i = 0; i < rank && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "",
				      (unsigned long long)d[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

/* Describe (or widen) array name from one use: slice mt, stacked axes s. */
static int skel_add(struct skel *sk, const char *name, const struct hook_shape *mt,
		    const struct plan_src *s, const char *hfname)
{
	struct skel_array n = { 0 }, *old;
	unsigned rank = mt->rank + s->nfixed, j = 0, f = 0;
	char a[256], b[256];

	if (rank > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "%s: '%s' would have rank %u", hfname, name, rank);
	for (unsigned ax = 0; ax < rank; ax++) {
		if (f < s->nfixed && s->fixed_axis[f] == ax) {
			if (s->fixed_idx[f] >= UINT32_MAX)
				return ck_err(-EINVAL, "%s: stack index %llu is absurd",
					      hfname, (unsigned long long)s->fixed_idx[f]);
			n.shape[ax] = s->fixed_idx[f++] + 1;
			n.fixed |= 1u << ax;
		} else {
			n.shape[ax] = mt->d[j++];
		}
	}
	if (f != s->nfixed || j != mt->rank)
		return ck_err(-EINVAL, "%s: the stacked axes of '%s' do not fit its "
			      "MaxText shape", hfname, name);
	n.rank = rank;
	old = skel_find(sk, name);
	if (old) {
		int same = old->rank == n.rank && old->fixed == n.fixed;

		for (unsigned ax = 0; same && ax < rank; ax++) {
			if (n.fixed & (1u << ax)) {
				if (n.shape[ax] > old->shape[ax])
					old->shape[ax] = n.shape[ax];
			} else if (old->shape[ax] != n.shape[ax]) {
				same = 0;
			}
		}
		if (!same) {
			shape_text(a, sizeof(a), old->rank, old->shape);
			shape_text(b, sizeof(b), n.rank, n.shape);
			return ck_err(-EINVAL, "'%s' gets shape %s from one tensor and %s "
				      "from %s", name, a, b, hfname);
		}
		return 0;
	}
	if (sk->n >= SKEL_MAX_ARRAYS)
		return ck_err(-EOVERFLOW, "more than %u arrays", SKEL_MAX_ARRAYS);
	if (sk->n == sk->cap) {
		size_t cap = sk->cap ? 2 * sk->cap : 64;
		struct skel_array *na = realloc(sk->a, cap * sizeof(*na));

		if (!na)
			return ck_err(-ENOMEM, "out of memory");
		sk->a = na;
		sk->cap = cap;
	}
	n.name = strdup(name);
	if (!n.name)
		return ck_err(-ENOMEM, "out of memory");
	sk->a[sk->n++] = n;
	return 0;
}

/* One tensor of rule r (layer, expert): its sources, when the tensor is
 * wanted. */
static int skel_tensor(struct plan_ctx *x, struct skel *sk, const struct map_rule *r,
		       int64_t layer, int64_t expert, plan_have_fn have, void *hctx)
{
	struct ck_buf hf = CK_BUF_INIT, src = CK_BUF_INIT, full = CK_BUF_INIT;
	int err;

	err = plan_expand(x, r->hf, layer, expert, &hf);
	if (err)
		goto out;
	if (r->optional && !have(hctx, (const char *)hf.data))
		goto out;	/* a tied head, a tower the model lacks, ... */
	for (unsigned k = 0; k < r->nsrc && !err; k++) {
		struct plan_src s = { 0 };
		struct hook_shape mt;

		err = plan_rule_mt(x, r, k, layer, expert, &mt);
		if (err == -ENOENT)
			err = ck_err(-EINVAL, "mapping '%s': the rule for %s gives no "
				     "MaxText shape (\"mt\"), so it cannot be "
				     "converted backwards", x->map->family, r->hf);
		if (!err)
			err = plan_expand(x, r->src[k], layer, expert, &src);
		if (!err)
			err = plan_fix_axes(x, r, k, layer, expert, &s);
		full.len = 0;
		if (!err)
			err = ck_buf_printf(&full, "%s%s", x->map->prefix,
					    (const char *)src.data);
		if (!err)
			err = skel_add(sk, (const char *)full.data, &mt, &s,
				       (const char *)hf.data);
	}
out:
	if (err && err != -ENOMEM)
		err = ck_err_ctx(err, "%s", hf.data ? (const char *)hf.data : r->hf);
	ck_buf_release(&hf);
	ck_buf_release(&src);
	ck_buf_release(&full);
	return err;
}

static int skel_rule(struct plan_ctx *x, struct skel *sk, const struct map_rule *r,
		     uint64_t layers, plan_have_fn have, void *hctx)
{
	uint64_t nl = r->per_layer ? layers : 1, ne = 1;
	int err = 0;

	if (r->count) {
		err = plan_eval_u64(x, r->count, &nl);
		if (!err && nl > SKEL_MAX_ARRAYS)
			err = ck_err(-EINVAL, "%llu is too many", (unsigned long long)nl);
		if (err)
			return ck_err_ctx(err, "count of '%s'", r->hf);
	}
	if (r->experts) {
		err = plan_eval_u64(x, r->experts, &ne);
		if (!err && ne > SKEL_MAX_ARRAYS)
			err = ck_err(-EINVAL, "%llu experts is too many",
				     (unsigned long long)ne);
		if (err)
			return ck_err_ctx(err, "expert count of '%s'", r->hf);
	}
	for (uint64_t l = 0; l < nl && !err; l++) {
		int yes = 1;

		if (r->per_layer)
			err = plan_holds(x, r->when, (int64_t)l, &yes);
		for (uint64_t e = 0; e < ne && !err && yes; e++)
			err = skel_tensor(x, sk, r, r->per_layer ? (int64_t)l : -1,
					  r->experts ? (int64_t)e : -1, have, hctx);
	}
	return err;
}

int plan_skeleton(const struct mapping *map, const char *config, size_t config_len,
		  int scanned, enum ck_dtype dtype, plan_have_fn have, void *hctx,
		  struct plan_skel *out)
{
	struct plan_ctx x;
	struct skel sk = { 0 };
	uint64_t layers = 0;
	int err;

	memset(out, 0, sizeof(*out));
	plan_ctx_init(&x, map, NULL);
	err = ck_json_parse(config, config_len, &x.config);
	if (err) {
		err = ck_err_ctx(err, "HF config");
		goto out;
	}
	x.scanned = scanned && map->nscanned ? 1 : 0;
	if (map->layer_count) {
		err = plan_eval_u64(&x, map->layer_count, &layers);
		if (!err && layers > SKEL_MAX_ARRAYS)
			err = ck_err(-EINVAL, "%llu layers is too many",
				     (unsigned long long)layers);
		if (err) {
			err = ck_err_ctx(err, "layer count");
			goto out;
		}
	}
	for (size_t i = 0; i < map->nrules && !err; i++)
		err = skel_rule(&x, &sk, &map->rules[i], layers, have, hctx);
	if (err)
		goto out;
	out->arrays = calloc(sk.n + 1, sizeof(*out->arrays));
	if (!out->arrays) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sk.n; i++) {
		struct orbax_vdesc *d = &out->arrays[i];

		d->name = sk.a[i].name;
		sk.a[i].name = NULL;
		d->dtype = dtype;
		d->rank = sk.a[i].rank;
		memcpy(d->shape, sk.a[i].shape, sizeof(d->shape));
	}
	out->narrays = sk.n;
	out->scanned = x.scanned;
out:
	for (size_t i = 0; i < sk.n; i++)
		free(sk.a[i].name);
	free(sk.a);
	cJSON_Delete(x.config);
	return err;
}

void plan_skel_release(struct plan_skel *s)
{
	for (size_t i = 0; s->arrays && i < s->narrays; i++)
		free((char *)s->arrays[i].name);
	free(s->arrays);
	memset(s, 0, sizeof(*s));
}
