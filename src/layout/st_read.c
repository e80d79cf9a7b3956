/* SPDX-License-Identifier: MIT */
/* This file implements the safetensors header reader of st_read.h. */
#include "layout/st_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "layout/json_out.h"
#include "util/ck_err.h"
#include "util/ck_json.h"
#include "util/ck_rd.h"

/*
 * Design notes.
 *
 * The header is hostile: every number is checked before it is added or
 * multiplied, and an entry's absolute range is computed once, here, so that
 * no caller does offset arithmetic on file contents.  Memory is bounded by
 * the header length cap: the cJSON tree and the entries are a small
 * multiple of N.
 *
 * JSON forbids raw control bytes inside strings and allows only tab, CR and
 * LF among them between tokens; cJSON is laxer, and a raw NUL in a name
 * would cut the name short as a C string.  So the header is refused when it
 * holds any other byte below 0x20, as serde_json (the reference) refuses
 * it.  Errors from the ck_json getters (-ENOENT, -EINVAL) become -EIO: here
 * a missing or mistyped member is a corrupt file, not a bad option.
 */

#define ST_NDTYPES 13

/* The dtypes a safetensors header may name that ckptfs reads. */
static const enum ck_dtype st_dtypes[ST_NDTYPES] = {
	CK_DT_BOOL, CK_DT_U8,  CK_DT_I8,  CK_DT_U16, CK_DT_I16,
	CK_DT_U32,  CK_DT_I32, CK_DT_U64, CK_DT_I64, CK_DT_F16,
	CK_DT_BF16, CK_DT_F32, CK_DT_F64,
};

static enum ck_dtype dtype_from_name(const char *s)
{
	size_t i;

	for (i = 0; i < ST_NDTYPES; i++)
		if (strcmp(ck_dtype_safetensors(st_dtypes[i]), s) == 0)
			return st_dtypes[i];
	return CK_DT_INVALID;
}

int st_header_size(const void *p, size_t n, uint64_t file_size,
		   const char *path, uint64_t *size)
{
	uint64_t len;

	if (file_size < 8)
		return ck_err(-EIO, "%s: the file has %llu bytes, too few for a "
			      "safetensors header", path,
			      (unsigned long long)file_size);
	if (n < 8)
		return ck_err(-EINVAL, "%s: only %zu bytes of the header given",
			      path, n);
	len = ck_load_u64le(p);
	if (len > ST_READ_HEADER_MAX)
		return ck_err(-EOVERFLOW, "%s: header length %llu is over the "
			      "safetensors limit of %llu bytes", path,
			      (unsigned long long)len, ST_READ_HEADER_MAX);
	if (len > file_size - 8)
		return ck_err(-EIO, "%s: the header ends at byte %llu, the file "
			      "has %llu bytes", path,
			      (unsigned long long)(len + 8),
			      (unsigned long long)file_size);
	*size = 8 + len;
	return 0;
}

/* Parse the n JSON bytes at text into an object (caller deletes). */
static int parse_object(const char *text, size_t n, const char *path,
			cJSON **out)
{
	const char *end = NULL;
	cJSON *doc;
	size_t at;

	for (at = 0; at < n; at++) {
		unsigned char c = (unsigned char)text[at];

		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return ck_err(-EIO, "%s: the header holds control byte "
				      "0x%02x at byte %zu", path, c, 8 + at);
	}
	if (!json_out_utf8_valid(text, n))
		return ck_err(-EIO, "%s: the header is not valid UTF-8", path);
	ck_json_alloc_reset();
	doc = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (!doc && ck_json_alloc_failed())
		return ck_err(-ENOMEM, "%s: out of memory parsing the header",
			      path);
	if (!doc) {
		at = end ? (size_t)(end - text) : 0;
		return ck_err(-EIO, "%s: the header is not valid JSON (near "
			      "byte %zu)", path, 8 + at);
	}
	/* cJSON stops after the first value; only whitespace may follow
	 * (the reference pads with spaces). */
	at = (size_t)(end - text);
	while (at < n && strchr(" \t\r\n", text[at]) && text[at])
		at++;
	if (at < n) {
		cJSON_Delete(doc);
		return ck_err(-EIO, "%s: the header has trailing bytes at byte "
			      "%zu", path, 8 + at);
	}
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return ck_err(-EIO, "%s: the header is not a JSON object", path);
	}
	*out = doc;
	return 0;
}

/* "__metadata__" must be an object of strings, or null as serde's Option
 * allows (its contents are unused). */
static int check_metadata(const cJSON *m, const char *path)
{
	const cJSON *v;

	if (cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsObject(m))
		return ck_err(-EIO, "%s: '__metadata__' is not an object", path);
	cJSON_ArrayForEach(v, m)
		if (!cJSON_IsString(v))
			return ck_err(-EIO, "%s: '__metadata__' member '%s' is "
				      "not a string", path,
				      v->string ? v->string : "");
	return 0;
}

/* dtype and shape of entry j into *e. */
static int read_type(const cJSON *j, const char *path, const char *name,
		     struct st_entry *e)
{
	const char *dt = NULL;
	size_t rank = 0;
	int err;

	err = ck_json_get_str(j, "dtype", &dt);
	if (err)
		return ck_err_ctx(-EIO, "%s: tensor '%s'", path, name);
	e->dtype = dtype_from_name(dt);
	if (e->dtype == CK_DT_INVALID)
		return ck_err(-ENOTSUP, "%s: tensor '%s': dtype '%s' is not "
			      "supported", path, name, dt);
	err = ck_json_get_u64_array(j, "shape", INT64_MAX, e->shape,
				    ZARR_MAX_RANK, &rank);
	if (err == -EOVERFLOW)
		return ck_err(-EOVERFLOW, "%s: tensor '%s': rank over %d", path,
			      name, ZARR_MAX_RANK);
	if (err)
		return ck_err_ctx(-EIO, "%s: tensor '%s'", path, name);
	e->rank = (unsigned)rank;
	return 0;
}

/* data_offsets of entry j, checked against the shape, into *e. */
static int read_range(const cJSON *j, const char *path, const char *name,
		      uint64_t data_start, uint64_t file_size,
		      struct st_entry *e)
{
	uint64_t off[2], nbytes = ck_dtype_size(e->dtype);
	size_t k = 0;
	unsigned d;
	int err;

	err = ck_json_get_u64_array(j, "data_offsets", INT64_MAX, off, 2, &k);
	if (err == -EOVERFLOW || (!err && k != 2))
		return ck_err(-EIO, "%s: tensor '%s': data_offsets must hold "
			      "two numbers", path, name);
	if (err)
		return ck_err_ctx(-EIO, "%s: tensor '%s'", path, name);
	if (off[0] > off[1])
		return ck_err(-EIO, "%s: tensor '%s': data_offsets [%llu, %llu] "
			      "end before they begin", path, name,
			      (unsigned long long)off[0],
			      (unsigned long long)off[1]);
	for (d = 0; d < e->rank; d++)
		if (__builtin_mul_overflow(nbytes, e->shape[d], &nbytes))
			return ck_err(-EOVERFLOW, "%s: tensor '%s': its size "
				      "overflows 64 bits", path, name);
	if (nbytes != off[1] - off[0])
		return ck_err(-EIO, "%s: tensor '%s': its shape and dtype make "
			      "%llu bytes, data_offsets [%llu, %llu] hold %llu",
			      path, name, (unsigned long long)nbytes,
			      (unsigned long long)off[0],
			      (unsigned long long)off[1],
			      (unsigned long long)(off[1] - off[0]));
	if (__builtin_add_overflow(data_start, off[0], &e->begin) ||
	    __builtin_add_overflow(data_start, off[1], &e->end) ||
	    e->end > file_size)
		return ck_err(-EIO, "%s: tensor '%s': data ends at byte %llu, "
			      "the file has %llu bytes", path, name,
			      (unsigned long long)(data_start + off[1]),
			      (unsigned long long)file_size);
	return 0;
}

/* One tensor entry: member j of the header object. */
static int read_entry(const cJSON *j, const char *path, uint64_t data_start,
		      uint64_t file_size, struct st_entry *e)
{
	const char *name = j->string;
	int err;

	if (!name || !name[0])
		return ck_err(-EIO, "%s: a tensor has an empty name", path);
	if (!cJSON_IsObject(j))
		return ck_err(-EIO, "%s: tensor '%s': its entry is not an object",
			      path, name);
	err = read_type(j, path, name, e);
	if (!err)
		err = read_range(j, path, name, data_start, file_size, e);
	if (err)
		return err;
	e->name = strdup(name);
	if (!e->name)
		return ck_err(-ENOMEM, "%s: out of memory", path);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct st_entry *)a)->name,
		      ((const struct st_entry *)b)->name);
}

static int cmp_range(const void *a, const void *b)
{
	const struct st_entry *x = *(const struct st_entry *const *)a;
	const struct st_entry *y = *(const struct st_entry *const *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/*
 * Refuse two non-empty ranges sharing a byte.  Sorted by begin, a range
 * overlaps an earlier one exactly when it starts before the furthest end
 * seen so far.  Empty ranges hold no byte and never overlap.
 */
static int check_overlaps(const struct st_header *h, const char *path)
{
	const struct st_entry **v, *far = NULL;
	size_t i;
	int err = 0;

	if (h->n < 2)
		return 0;
	v = calloc(h->n, sizeof(*v));
	if (!v)
		return ck_err(-ENOMEM, "%s: out of memory", path);
	for (i = 0; i < h->n; i++)
		v[i] = &h->e[i];
	qsort(v, h->n, sizeof(*v), cmp_range);
	for (i = 0; !err && i < h->n; i++) {
		if (v[i]->begin == v[i]->end)
			continue;
		if (far && v[i]->begin < far->end)
			err = ck_err(-EIO, "%s: tensors '%s' and '%s' overlap "
				     "(bytes [%llu, %llu) and [%llu, %llu))",
				     path, far->name, v[i]->name,
				     (unsigned long long)far->begin,
				     (unsigned long long)far->end,
				     (unsigned long long)v[i]->begin,
				     (unsigned long long)v[i]->end);
		else if (!far || v[i]->end > far->end)
			far = v[i];
	}
	free(v);
	return err;
}

/* Every member of doc into h->e, then sorted and cross-checked. */
static int read_entries(const cJSON *doc, const char *path, uint64_t file_size,
			struct st_header *h)
{
	const cJSON *j;
	size_t cap = 0, i;
	int err = 0;

	cJSON_ArrayForEach(j, doc)
		cap++;
	if (cap) {
		h->e = calloc(cap, sizeof(*h->e));
		if (!h->e)
			return ck_err(-ENOMEM, "%s: out of memory for %zu tensors",
				      path, cap);
	}
	cJSON_ArrayForEach(j, doc) {
		if (j->string && strcmp(j->string, "__metadata__") == 0) {
			err = check_metadata(j, path);
			if (err)
				return err;
			continue;
		}
		err = read_entry(j, path, h->data_start, file_size,
				 &h->e[h->n]);
		if (err)
			return err;
		h->n++;
	}
	if (h->n)
		qsort(h->e, h->n, sizeof(*h->e), cmp_name);
	for (i = 1; i < h->n; i++)
		if (strcmp(h->e[i - 1].name, h->e[i].name) == 0)
			return ck_err(-EIO, "%s: tensor '%s' appears twice", path,
				      h->e[i].name);
	return check_overlaps(h, path);
}

int st_header_parse(const void *p, size_t n, uint64_t file_size,
		    const char *path, struct st_header *out)
{
	struct st_header h = { 0 };
	cJSON *doc = NULL;
	uint64_t hsize = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = st_header_size(p, n, file_size, path, &hsize);
	if (err)
		return err;
	if (n < hsize)
		return ck_err(-EINVAL, "%s: only %zu of the header's %llu bytes "
			      "given", path, n, (unsigned long long)hsize);
	h.data_start = hsize;
	err = parse_object((const char *)p + 8, (size_t)(hsize - 8), path,
			   &doc);
	if (!err)
		err = read_entries(doc, path, file_size, &h);
	cJSON_Delete(doc);
	if (err) {
		st_header_release(&h);
		return err;
	}
	*out = h;
	return 0;
}

void st_header_release(struct st_header *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n; i++)
		free(h->e[i].name);
	free(h->e);
	memset(h, 0, sizeof(*h));
}
