/* SPDX-License-Identifier: MIT */
/*
 * This file implements orbax_virtual(): a checkpoint made of array
 * descriptions only.  The reverse conversion describes the MaxText arrays it
 * is about to write (or to serve) this way, and resolves the family's
 * mapping against them with the same plan_build() a mount uses, so both
 * directions share one reading of the mapping files.
 */
#include "orbax/orbax.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"

#define VIRT_MAX_ARRAYS (1u << 22)

static int cmp_name(const void *pa, const void *pb)
{
	const struct orbax_array *a = pa, *b = pb;

	return strcmp(a->name, b->name);
}

static int fill_info(const struct orbax_vdesc *d, struct zarr_info *z)
{
	uint64_t n = ck_dtype_size(d->dtype);

	if (!n)
		return ck_err(-EINVAL, "'%s': no dtype", d->name);
	if (d->rank > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "'%s': rank %u is above %u", d->name, d->rank,
			      ZARR_MAX_RANK);
	memset(z, 0, sizeof(*z));
	z->zarr_format = 3;
	z->dtype = d->dtype;
	z->rank = d->rank;
	for (unsigned i = 0; i < d->rank; i++) {
		if (__builtin_mul_overflow(n, d->shape[i], &n))
			return ck_err(-EOVERFLOW, "'%s': its size overflows", d->name);
		z->shape[i] = d->shape[i];
		z->chunk[i] = d->shape[i] ? d->shape[i] : 1;
	}
	z->nbytes = n;
	z->nchunks = 1;
	return 0;
}

int orbax_virtual(const char *label, const struct orbax_vdesc *d, size_t n,
		  struct orbax_ckpt **out)
{
	struct orbax_ckpt *c;
	int err = 0;

	*out = NULL;
	if (n > VIRT_MAX_ARRAYS)
		return ck_err(-EINVAL, "%zu arrays is too many", n);
	c = calloc(1, sizeof(*c));
	if (!c)
		return ck_err(-ENOMEM, "out of memory");
	c->step = -1;
	c->scan_layers = -1;
	c->format = "virtual";
	c->item_dir = strdup(label ? label : "(virtual)");
	c->root = strdup(c->item_dir ? c->item_dir : "");
	c->arrays = calloc(n + 1, sizeof(*c->arrays));
	if (!c->item_dir || !c->root || !c->arrays) {
		orbax_close(c);
		return ck_err(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct orbax_array *a = &c->arrays[i];

		if (!d[i].name || !*d[i].name) {
			err = ck_err(-EINVAL, "array %zu has no name", i);
			break;
		}
		a->name = strdup(d[i].name);
		a->virt = malloc(sizeof(*a->virt));
		c->narrays++;
		if (!a->name || !a->virt)
			err = ck_err(-ENOMEM, "out of memory");
		else
			err = fill_info(&d[i], a->virt);
	}
	if (!err) {
		qsort(c->arrays, c->narrays, sizeof(*c->arrays), cmp_name);
		for (size_t i = 1; i < c->narrays && !err; i++)
			if (!strcmp(c->arrays[i - 1].name, c->arrays[i].name))
				err = ck_err(-EINVAL, "array '%s' is described twice",
					     c->arrays[i].name);
	}
	if (err) {
		orbax_close(c);
		return err;
	}
	*out = c;
	return 0;
}
