/* SPDX-License-Identifier: MIT */
/*
 * This file implements a reader of the legacy msgpack aggregate file.
 *
 * The reader walks the msgpack bytes in place through a bounded cursor and
 * allocates nothing per msgpack element: a general msgpack library would
 * allocate each container's element table up front from its (untrusted)
 * header count, so five bytes could ask for gigabytes.
 */
#include "orbax/orbax_aggregate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

#define AGG_MAX_DEPTH 64
#define AGG_MAX_LEAVES (1u << 20)

/* One msgpack item's header. */
enum mp_kind { MP_NIL, MP_BOOL, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY,
	       MP_MAP, MP_EXT };

struct mp_item {
	enum mp_kind kind;
	uint64_t n;		/* length (str/bin/ext), count (array/map),
				   or the unsigned value of an int */
	int neg;		/* a negative int */
	int8_t ext_type;
	const uint8_t *p;	/* payload of str/bin/ext */
};

static int rd_be(struct ck_rd *r, unsigned bytes, uint64_t *v)
{
	const uint8_t *p;
	int err = ck_rd_bytes(r, bytes, &p, "msgpack length");

	if (err)
		return err;
	*v = 0;
	for (unsigned i = 0; i < bytes; i++)
		*v = *v << 8 | p[i];
	return 0;
}

static int rd_payload(struct ck_rd *r, struct mp_item *it)
{
	if (it->n > SIZE_MAX)
		return ck_err(-EIO, "msgpack payload too large");
	return ck_rd_bytes(r, (size_t)it->n, &it->p, "msgpack payload");
}

/* Read one item header (and borrow its payload for str/bin/ext). */
static int mp_next(struct ck_rd *r, struct mp_item *it)
{
	uint8_t b, t = 0;
	int err = ck_rd_u8(r, &b, "msgpack item");
	uint64_t v = 0;

	if (err)
		return err;
	memset(it, 0, sizeof(*it));
	if (b <= 0x7f || b >= 0xe0) {
		it->kind = MP_INT;
		it->neg = b >= 0xe0;
		it->n = b;
		return 0;
	}
	if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
		it->kind = (b & 0xf0) == 0x80 ? MP_MAP : MP_ARRAY;
		it->n = b & 0x0f;
		return 0;
	}
	if ((b & 0xe0) == 0xa0) {
		it->kind = MP_STR;
		it->n = b & 0x1f;
		return rd_payload(r, it);
	}
	switch (b) {
	case 0xc0: it->kind = MP_NIL; return 0;
	case 0xc2: case 0xc3: it->kind = MP_BOOL; it->n = b & 1; return 0;
	case 0xc4: case 0xc5: case 0xc6:
		it->kind = MP_BIN;
		err = rd_be(r, 1u << (b - 0xc4), &it->n);
		return err ? err : rd_payload(r, it);
	case 0xc7: case 0xc8: case 0xc9:
		it->kind = MP_EXT;
		err = rd_be(r, 1u << (b - 0xc7), &it->n);
		if (!err)
			err = ck_rd_u8(r, &t, "msgpack ext type");
		it->ext_type = (int8_t)t;
		return err ? err : rd_payload(r, it);
	case 0xca: case 0xcb:
		it->kind = MP_FLOAT;
		return ck_rd_skip(r, b == 0xca ? 4 : 8, "msgpack float");
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		it->kind = MP_INT;
		return rd_be(r, 1u << (b - 0xcc), &it->n);
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		it->kind = MP_INT;
		err = rd_be(r, 1u << (b - 0xd0), &v);
		it->n = v;
		it->neg = 1;	/* treated as a non-index value */
		return err;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		it->kind = MP_EXT;
		it->n = 1u << (b - 0xd4);
		err = ck_rd_u8(r, &t, "msgpack ext type");
		it->ext_type = (int8_t)t;
		return err ? err : rd_payload(r, it);
	case 0xd9: case 0xda: case 0xdb:
		it->kind = MP_STR;
		err = rd_be(r, 1u << (b - 0xd9), &it->n);
		return err ? err : rd_payload(r, it);
	case 0xdc: case 0xdd:
		it->kind = MP_ARRAY;
		return rd_be(r, b == 0xdc ? 2 : 4, &it->n);
	case 0xde: case 0xdf:
		it->kind = MP_MAP;
		return rd_be(r, b == 0xde ? 2 : 4, &it->n);
	default:
		return ck_err(-EIO, "msgpack: invalid type byte 0x%02x at byte %zu", b,
			      r->pos - 1);
	}
}

struct walk {
	struct orbax_aggregate *agg;
	struct ck_buf path;		/* current name, NUL-terminated */
};

/* Decode an ndarray ext payload: [shape, dtype name, bytes]. */
static int add_ndarray(struct walk *w, const struct mp_item *ext)
{
	struct orbax_agg_leaf leaf = { 0 };
	struct mp_item it, dt, bin;
	struct orbax_agg_leaf *nl;
	uint64_t nbytes;
	char dname[32];
	struct ck_rd r;
	int err;

	ck_rd_init(&r, ext->p, (size_t)ext->n);
	err = mp_next(&r, &it);
	if (!err && (it.kind != MP_ARRAY || it.n != 3))
		err = ck_err(-EIO, "ndarray payload is not [shape, dtype, data]");
	if (!err)
		err = mp_next(&r, &it);
	if (!err && (it.kind != MP_ARRAY || it.n > ZARR_MAX_RANK))
		err = ck_err(-EIO, "ndarray shape is not an array of <= %d ints",
			     ZARR_MAX_RANK);
	leaf.rank = err ? 0 : (unsigned)it.n;
	for (unsigned i = 0; !err && i < leaf.rank; i++) {
		struct mp_item d;

		err = mp_next(&r, &d);
		if (!err && (d.kind != MP_INT || d.neg))
			err = ck_err(-EIO, "ndarray dimension %u is not a non-negative int", i);
		leaf.shape[i] = d.n;
	}
	if (!err)
		err = mp_next(&r, &dt);
	if (!err && (dt.kind != MP_STR || dt.n >= sizeof(dname)))
		err = ck_err(-EIO, "ndarray dtype is not a short string");
	if (!err)
		err = mp_next(&r, &bin);
	if (!err && bin.kind != MP_BIN && bin.kind != MP_STR)
		err = ck_err(-EIO, "ndarray data is not bytes");
	if (err)
		return err;
	memcpy(dname, dt.p, (size_t)dt.n);
	dname[dt.n] = '\0';
	leaf.dtype = ck_dtype_from_v3(dname);
	if (leaf.dtype == CK_DT_INVALID)
		return ck_err(-ENOTSUP, "ndarray dtype '%s' is not supported", dname);
	nbytes = ck_dtype_size(leaf.dtype);
	for (unsigned i = 0; i < leaf.rank; i++)
		if (__builtin_mul_overflow(nbytes, leaf.shape[i], &nbytes))
			return ck_err(-EOVERFLOW, "ndarray shape overflows");
	if (nbytes != bin.n)
		return ck_err(-EIO, "ndarray has %llu data bytes, its shape needs %llu",
			      (unsigned long long)bin.n, (unsigned long long)nbytes);
	if (w->agg->nleaves >= AGG_MAX_LEAVES)
		return ck_err(-EOVERFLOW, "more than %u arrays", AGG_MAX_LEAVES);
	leaf.data = bin.p;
	leaf.nbytes = nbytes;
	leaf.name = strdup((const char *)w->path.data);
	nl = realloc(w->agg->leaves, (w->agg->nleaves + 1) * sizeof(*nl));
	if (!leaf.name || !nl) {
		free(leaf.name);
		if (nl)
			w->agg->leaves = nl;
		return ck_err(-ENOMEM, "out of memory");
	}
	w->agg->leaves = nl;
	nl[w->agg->nleaves++] = leaf;
	return 0;
}

static int walk_item(struct walk *w, struct ck_rd *r, unsigned depth);

/* Append ".key" (or "key" at the root) to the path; returns the old length. */
static int push_key(struct walk *w, const uint8_t *k, size_t n, size_t *old)
{
	int err = 0;

	*old = w->path.len;
	if (w->path.len)
		err = ck_buf_append(&w->path, ".", 1);
	if (!err)
		err = ck_buf_append(&w->path, k, n);
	if (!err)
		err = ck_buf_grow(&w->path, 1);
	if (!err)
		w->path.data[w->path.len] = '\0';
	return err;
}

static void pop_key(struct walk *w, size_t old)
{
	w->path.len = old;
	if (w->path.data)
		w->path.data[old] = '\0';
}

static int walk_container(struct walk *w, struct ck_rd *r, const struct mp_item *c,
			  unsigned depth)
{
	for (uint64_t i = 0; i < c->n; i++) {
		char idx[24];
		const uint8_t *k = (const uint8_t *)idx;
		size_t klen, old;
		int err;

		if (c->kind == MP_MAP) {
			struct mp_item key;

			err = mp_next(r, &key);
			if (err)
				return err;
			if (key.kind == MP_STR || key.kind == MP_BIN) {
				k = key.p;
				klen = (size_t)key.n;
			} else if (key.kind == MP_INT && !key.neg) {
				klen = (size_t)snprintf(idx, sizeof(idx), "%llu",
							(unsigned long long)key.n);
			} else {
				return ck_err(-EIO, "msgpack map key at byte %zu is "
					      "not a string", r->pos);
			}
		} else {
			klen = (size_t)snprintf(idx, sizeof(idx), "%llu",
						(unsigned long long)i);
		}
		err = push_key(w, k, klen, &old);
		if (!err)
			err = walk_item(w, r, depth + 1);
		pop_key(w, old);
		if (err)
			return err;
	}
	return 0;
}

static int walk_item(struct walk *w, struct ck_rd *r, unsigned depth)
{
	struct mp_item it;
	size_t at = r->pos;
	int err;

	if (depth > AGG_MAX_DEPTH)
		return ck_err(-EOVERFLOW, "msgpack nesting deeper than %d", AGG_MAX_DEPTH);
	err = mp_next(r, &it);
	if (err)
		return err;
	switch (it.kind) {
	case MP_MAP:
	case MP_ARRAY:
		return walk_container(w, r, &it, depth);
	case MP_EXT:
		if (it.ext_type == 1 || it.ext_type == 3) {
			err = add_ndarray(w, &it);
			return err ? ck_err_ctx(err, "leaf '%s' at byte %zu",
						(const char *)w->path.data, at) : 0;
		}
		if (it.ext_type == 4) {	/* tuple: a msgpack array inside */
			struct ck_rd sub;
			struct mp_item arr;

			ck_rd_init(&sub, it.p, (size_t)it.n);
			err = mp_next(&sub, &arr);
			if (!err && arr.kind != MP_ARRAY)
				err = ck_err(-EIO, "tuple ext at byte %zu holds no array", at);
			return err ? err : walk_container(w, &sub, &arr, depth);
		}
		return 0;
	case MP_NIL:
	case MP_BOOL:
	case MP_INT:
	case MP_FLOAT:
	case MP_STR:
	case MP_BIN:
		return 0;
	}
	return 0;
}

int orbax_aggregate_parse(const uint8_t *p, size_t n, struct orbax_aggregate *out)
{
	struct orbax_aggregate agg = { 0, NULL };
	struct walk w = { &agg, CK_BUF_INIT };
	struct ck_rd r;
	int err;

	ck_rd_init(&r, p, n);
	err = ck_buf_append(&w.path, "", 1);
	w.path.len = 0;
	if (!err)
		err = walk_item(&w, &r, 0);
	if (!err && ck_rd_left(&r))
		err = ck_err(-EIO, "%zu bytes of garbage after the msgpack map",
			     ck_rd_left(&r));
	ck_buf_release(&w.path);
	if (err) {
		orbax_aggregate_release(&agg);
		return ck_err_ctx(err, "msgpack aggregate");
	}
	*out = agg;
	return 0;
}

void orbax_aggregate_release(struct orbax_aggregate *agg)
{
	for (size_t i = 0; i < agg->nleaves; i++)
		free(agg->leaves[i].name);
	free(agg->leaves);
	agg->leaves = NULL;
	agg->nleaves = 0;
}
