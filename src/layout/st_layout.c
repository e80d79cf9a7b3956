/* SPDX-License-Identifier: MIT */
/* This file implements the safetensors shard layout of st_layout.h: shard
 * assignment, header bytes, offsets and the index JSON. */
#include "layout/st_layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout/json_out.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

/*
 * Design notes.
 *
 * The header JSON mirrors what the safetensors reference writer
 * (serde_json, compact) would print for the same tensors, except that the
 * entries follow the data order rather than a hash order:
 *   {"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,3],
 *    "data_offsets":[0,12]},...}
 * followed by spaces until 8 + N is a multiple of 8, so the data area (and
 * every tensor in it whose offset is a multiple of its item size) is
 * aligned.  The safetensors reader refuses headers over 100,000,000 bytes;
 * so do we (-EOVERFLOW), since such a file could not be loaded anyway.
 *
 * The index mirrors json.dumps(index, indent=2) in MaxText: names escaped
 * with ensure_ascii, weight_map in bytewise (= code point) name order.
 */

#define ST_HEADER_MAX 100000000ull	/* safetensors' MAX_HEADER_SIZE */

/* The dtypes every safetensors reader knows (C64 is recent; left out). */
static const char *st_dtype(enum ck_dtype t)
{
	switch (t) {
	case CK_DT_BOOL:
	case CK_DT_I8:
	case CK_DT_U8:
	case CK_DT_I16:
	case CK_DT_U16:
	case CK_DT_I32:
	case CK_DT_U32:
	case CK_DT_I64:
	case CK_DT_U64:
	case CK_DT_F16:
	case CK_DT_BF16:
	case CK_DT_F32:
	case CK_DT_F64:
		return ck_dtype_safetensors(t);
	case CK_DT_INVALID:
	case CK_DT_C64:
	case CK_DT_C128:
	case CK_DT_COUNT:
		break;
	}
	return NULL;
}

static int tensor_nbytes(const struct st_tensor_desc *t, uint64_t *out)
{
	uint64_t v;
	unsigned i;

	if (!st_dtype(t->dtype))
		return ck_err(-EINVAL, "tensor '%s': dtype '%s' has no safetensors name",
			      t->name, ck_dtype_name(t->dtype));
	if (t->rank > ZARR_MAX_RANK)
		return ck_err(-EINVAL, "tensor '%s': rank %u is too large", t->name,
			      t->rank);
	v = ck_dtype_size(t->dtype);
	for (i = 0; i < t->rank; i++)
		if (__builtin_mul_overflow(v, t->shape[i], &v))
			return ck_err(-EOVERFLOW, "tensor '%s': size overflows",
				      t->name);
	*out = v;
	return 0;
}

/* A name and the tensor it belongs to, for sorting by name. */
struct st_name {
	const char *name;	/* borrowed from the caller's desc */
	size_t idx;		/* index into the caller's desc */
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct st_name *)a)->name,
		      ((const struct st_name *)b)->name);
}

/*
 * Check every name and return the tensor indices in name order (the index's
 * weight_map order: bytewise, which for UTF-8 is code point order).
 */
static int check_names(const struct st_tensor_desc *t, size_t n, size_t **out)
{
	struct st_name *v;
	size_t *ord = NULL, i;
	int err = 0;

	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return ck_err(-ENOMEM, "out of memory");
	for (i = 0; !err && i < n; i++) {
		if (!t[i].name || !t[i].name[0])
			err = ck_err(-EINVAL, "tensor %zu has no name", i);
		else if (strcmp(t[i].name, "__metadata__") == 0 ||
			 !json_out_utf8_valid(t[i].name, strlen(t[i].name)))
			err = ck_err(-EINVAL, "tensor name '%s' is not allowed",
				     t[i].name);
		else
			v[i] = (struct st_name){ t[i].name, i };
	}
	if (!err)
		qsort(v, n, sizeof(*v), cmp_name);
	for (i = 1; !err && i < n; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0)
			err = ck_err(-EINVAL, "duplicate tensor name '%s'", v[i].name);
	if (!err) {
		ord = calloc(n ? n : 1, sizeof(*ord));
		if (!ord)
			err = ck_err(-ENOMEM, "out of memory");
	}
	for (i = 0; !err && i < n; i++)
		ord[i] = v[i].idx;
	free(v);
	if (!err)
		*out = ord;
	return err;
}

/* The JSON of one file's header, padded, with its 8-byte length in front. */
static int build_header(const struct st_tensor_desc *t, const uint64_t *nbytes,
			struct st_file *f)
{
	struct ck_buf b = CK_BUF_INIT;
	uint64_t pos = 0, jlen;
	uint32_t i;
	unsigned d;
	int err;

	err = ck_buf_append(&b, "\0\0\0\0\0\0\0\0", 8);
	if (!err)
		err = ck_buf_printf(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (i = f->first; !err && i < f->first + f->count; i++) {
		err = ck_buf_printf(&b, ",");
		if (!err)
			err = json_out_str(&b, t[i].name, strlen(t[i].name),
					   JSON_OUT_RAW);
		if (!err)
			err = ck_buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[",
					    st_dtype(t[i].dtype));
		for (d = 0; !err && d < t[i].rank; d++)
			err = ck_buf_printf(&b, "%s%llu", d ? "," : "",
					    (unsigned long long)t[i].shape[d]);
		if (!err)
			err = ck_buf_printf(&b, "],\"data_offsets\":[%llu,%llu]}",
					    (unsigned long long)pos,
					    (unsigned long long)(pos + nbytes[i]));
		pos += nbytes[i];	/* checked by the caller */
	}
	if (!err)
		err = ck_buf_append(&b, "}", 1);
	while (!err && b.len % 8)
		err = ck_buf_append(&b, " ", 1);
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	jlen = b.len - 8;
	if (jlen > ST_HEADER_MAX) {
		ck_buf_release(&b);
		return ck_err(-EOVERFLOW, "%s: header of %llu bytes exceeds the "
			      "safetensors limit", f->name, (unsigned long long)jlen);
	}
	for (d = 0; d < 8; d++)
		b.data[d] = (uint8_t)(jlen >> (8 * d));
	f->header_len = b.len;
	f->header = ck_buf_detach(&b, NULL);
	if (__builtin_add_overflow(f->header_len, pos, &f->size))
		return ck_err(-EOVERFLOW, "%s: file size overflows", f->name);
	return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	uint64_t s;

	return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

/*
 * Assign tensors to shards: returns the shard count and fills
 * files[k].first/count (files has room for n entries, at least 1).  A shard
 * is cut before the first tensor of the group it would otherwise split
 * (st_layout.h).
 */
static size_t assign_shards(const struct st_tensor_desc *t, const uint64_t *nbytes,
			    size_t n, uint64_t shard_size, struct st_file *files)
{
	size_t nf = 1, i, gstart = 0;
	uint64_t cur = 0, gbytes = 0; /* the shard's bytes, the group's in it */

	files[0].first = 0;
	files[0].count = 0;
	for (i = 0; i < n; i++) {
		struct st_file *f = &files[nf - 1];

		if (!i || !t[i].group || t[i].group != t[i - 1].group) {
			gstart = i;
			gbytes = 0;
		}
		if (f->count && add_sat(cur, nbytes[i]) > shard_size &&
		    gstart > f->first && gstart < i) {
			/* move the group's head to a new shard */
			f->count = (uint32_t)(gstart - f->first);
			f = &files[nf++];
			f->first = (uint32_t)gstart;
			f->count = (uint32_t)(i - gstart);
			cur = gbytes;
		}
		if (f->count && add_sat(cur, nbytes[i]) > shard_size) {
			f = &files[nf++];
			f->first = (uint32_t)i;
			f->count = 0;
			cur = 0;
			gbytes = 0;
		}
		f->count++;
		cur = add_sat(cur, nbytes[i]);
		gbytes = add_sat(gbytes, nbytes[i]);
	}
	return nf;
}

static int name_files(struct st_file *files, size_t nf)
{
	size_t k;

	for (k = 0; k < nf; k++) {
		if (nf == 1)
			files[k].name = strdup("model.safetensors");
		else if (asprintf(&files[k].name, "model-%05zu-of-%05zu.safetensors",
				  k + 1, nf) < 0)
			files[k].name = NULL;
		if (!files[k].name)
			return ck_err(-ENOMEM, "out of memory");
	}
	return 0;
}

static int build_index(struct st_layout *l, const struct st_tensor_desc *t,
		       const size_t *ord)
{
	struct ck_buf b = CK_BUF_INIT;
	size_t i, k;
	int err;

	err = ck_buf_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %llu\n"
			    "  },\n  \"weight_map\": {",
			    (unsigned long long)l->total_size);
	for (i = 0; !err && i < l->ntensors; i++) {
		k = ord[i];
		err = ck_buf_printf(&b, "%s\n    ", i ? "," : "");
		if (!err)
			err = json_out_str(&b, t[k].name, strlen(t[k].name),
					   JSON_OUT_ASCII);
		if (!err)
			err = ck_buf_printf(&b, ": ");
		if (!err)
			err = json_out_str(&b, l->files[l->place[k].file].name,
					   strlen(l->files[l->place[k].file].name),
					   JSON_OUT_ASCII);
	}
	/* json.dumps prints an empty dict as "{}" even with indent. */
	if (!err)
		err = ck_buf_printf(&b, "%s}\n}\n", l->ntensors ? "\n  " : "");
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	l->index_json = (char *)ck_buf_detach(&b, &l->index_len);
	return 0;
}

static void place_tensors(struct st_layout *l, const uint64_t *nbytes)
{
	uint64_t off;
	size_t k, i;

	for (k = 0; k < l->nfiles; k++) {
		off = l->files[k].header_len;
		for (i = l->files[k].first;
		     i < (size_t)l->files[k].first + l->files[k].count; i++) {
			l->place[i].file = (uint32_t)k;
			l->place[i].offset = off;
			l->place[i].nbytes = nbytes[i];
			off += nbytes[i];	/* <= size, checked */
		}
	}
}

int st_layout_build(const struct st_tensor_desc *t, size_t n, uint64_t shard_size,
		    struct st_layout **out)
{
	struct st_layout *l = NULL;
	uint64_t *nbytes = NULL;
	size_t *ord = NULL, i, k;
	int err;

	if (!shard_size)
		return ck_err(-EINVAL, "safetensors shard size is zero");
	if (n > UINT32_MAX)
		return ck_err(-EOVERFLOW, "too many tensors (%zu)", n);
	err = check_names(t, n, &ord);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	nbytes = calloc(n ? n : 1, sizeof(*nbytes));
	if (l) {
		l->place = calloc(n ? n : 1, sizeof(*l->place));
		l->files = calloc(n ? n : 1, sizeof(*l->files));
	}
	if (!l || !nbytes || !l->place || !l->files) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	l->ntensors = n;
	for (i = 0; !err && i < n; i++) {
		err = tensor_nbytes(&t[i], &nbytes[i]);
		if (!err && __builtin_add_overflow(l->total_size, nbytes[i],
						   &l->total_size))
			err = ck_err(-EOVERFLOW, "total tensor size overflows");
	}
	if (err)
		goto out;
	l->nfiles = assign_shards(t, nbytes, n, shard_size, l->files);
	err = name_files(l->files, l->nfiles);
	for (k = 0; !err && k < l->nfiles; k++)
		err = build_header(t, nbytes, &l->files[k]);
	if (!err) {
		place_tensors(l, nbytes);
		err = build_index(l, t, ord);
	}
out:
	free(nbytes);
	free(ord);
	if (err) {
		st_layout_free(l);
		return err;
	}
	*out = l;
	return 0;
}

int st_layout_locate(const struct st_layout *l, uint32_t f, uint64_t off,
		     size_t *tensor, uint64_t *tensor_off)
{
	const struct st_file *file;
	size_t lo, hi, mid;

	if (f >= l->nfiles)
		return ck_err(-EINVAL, "no safetensors file %u", f);
	file = &l->files[f];
	if (off >= file->size)
		return ck_err(-EINVAL, "%s: offset %llu is past the end", file->name,
			      (unsigned long long)off);
	if (off < file->header_len)
		return 0;
	/*
	 * The last tensor starting at or before off.  Zero-size tensors share
	 * their offset with the next tensor and sort before it, and a trailing
	 * one starts at the file size, so the one found always holds off.
	 */
	lo = file->first;
	hi = (size_t)file->first + file->count;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (l->place[mid].offset <= off)
			lo = mid;
		else
			hi = mid;
	}
	*tensor = lo;
	*tensor_off = off - l->place[lo].offset;
	return 1;
}

void st_layout_free(struct st_layout *l)
{
	size_t k;

	if (!l)
		return;
	for (k = 0; l->files && k < l->nfiles; k++) {
		free(l->files[k].name);
		free(l->files[k].header);
	}
	free(l->files);
	free(l->place);
	free(l->index_json);
	free(l);
}
