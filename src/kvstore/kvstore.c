/* SPDX-License-Identifier: MIT */
/* This file implements the shared in-memory key table behind kvstore.h. */
#include "kvstore/kvstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/kvstore_impl.h"
#include "remote/remote.h"
#include "util/ck_err.h"

/* The value bytes of an empty inline value (inline_data must be non-NULL). */
static const uint8_t kvstore_empty[1];

int kvstore_new(enum kvstore_kind kind, struct kvstore **out)
{
	struct kvstore *kv = calloc(1, sizeof(*kv));
	int err;

	if (!kv)
		return ck_err(-ENOMEM, "kvstore: out of memory");
	kv->kind = kind;
	kv->files = malloc(sizeof(*kv->files));
	if (!kv->files) {
		free(kv);
		return ck_err(-ENOMEM, "kvstore: out of memory");
	}
	err = kvfiles_init(kv->files);
	if (err) {
		free(kv->files);
		free(kv);
		return err;
	}
	*out = kv;
	return 0;
}

static int kvstore_add(struct kvstore *kv, const uint8_t *key, size_t keylen,
		       const uint8_t *val, size_t vlen,
		       struct kvstore_entry **out)
{
	struct kvstore_entry *e;
	uint8_t *k;

	if (kv->nents >= KVSTORE_MAX_ENTRIES)
		return ck_err(-EOVERFLOW, "kvstore: more than %zu keys",
			      KVSTORE_MAX_ENTRIES);
	if (val && (vlen > KVSTORE_MAX_INLINE_BYTES - kv->inline_bytes ||
		    keylen > SIZE_MAX - vlen - 1))
		return ck_err(-EOVERFLOW,
			      "kvstore: inline values exceed %llu bytes",
			      (unsigned long long)KVSTORE_MAX_INLINE_BYTES);
	if (kv->nents == kv->ents_cap) {
		size_t cap = kv->ents_cap ? kv->ents_cap * 2 : 64;

		e = realloc(kv->ents, cap * sizeof(*e));
		if (!e)
			return ck_err(-ENOMEM, "kvstore: out of memory");
		kv->ents = e;
		kv->ents_cap = cap;
	}
	k = malloc(keylen + (val ? vlen : 0) + 1);
	if (!k)
		return ck_err(-ENOMEM, "kvstore: out of memory");
	if (keylen)
		memcpy(k, key, keylen);
	e = &kv->ents[kv->nents++];
	memset(e, 0, sizeof(*e));
	e->key = k;
	e->keylen = keylen;
	if (val) {
		if (vlen)
			memcpy(k + keylen, val, vlen);
		e->inline_data = vlen ? k + keylen : kvstore_empty;
		e->length = vlen;
		kv->inline_bytes += vlen;
	}
	*out = e;
	return 0;
}

int kvstore_add_inline(struct kvstore *kv, const uint8_t *key, size_t keylen,
		       const uint8_t *val, size_t vlen, uint32_t file_id)
{
	struct kvstore_entry *e = NULL;
	int err = kvstore_add(kv, key, keylen, val ? val : kvstore_empty, vlen,
			      &e);

	if (err)
		return err;
	e->file_id = file_id;
	return 0;
}

int kvstore_add_ref(struct kvstore *kv, const uint8_t *key, size_t keylen,
		    uint32_t file_id, uint64_t offset, uint64_t length)
{
	struct kvstore_entry *e = NULL;
	int err = kvstore_add(kv, key, keylen, NULL, 0, &e);

	if (err)
		return err;
	e->file_id = file_id;
	e->offset = offset;
	e->length = length;
	return 0;
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static const char *file_path(const struct kvstore *kv, uint32_t id)
{
	return id < kv->files->n ? kv->files->v[id].path : "";
}

static int entry_cmp(const void *a, const void *b)
{
	const struct kvstore_entry *x = a, *y = b;

	return key_cmp(x->key, x->keylen, y->key, y->keylen);
}

int kvstore_finalize(struct kvstore *kv)
{
	if (kv->nents > 1)
		qsort(kv->ents, kv->nents, sizeof(*kv->ents), entry_cmp);
	for (size_t i = 1; i < kv->nents; i++) {
		const struct kvstore_entry *a = &kv->ents[i - 1],
					   *b = &kv->ents[i];

		if (!entry_cmp(a, b))
			return ck_err(-EIO,
				      "duplicate key '%.*s' (in %s and %s)",
				      (int)(b->keylen > 200 ? 200 : b->keylen),
				      (const char *)b->key,
				      file_path(kv, a->file_id),
				      file_path(kv, b->file_id));
	}
	return 0;
}

/* Index of the first entry whose key is >= key[0..keylen). */
static size_t lower_bound(const struct kvstore *kv, const char *key,
			  size_t keylen)
{
	size_t lo = 0, hi = kv->nents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct kvstore_entry *e = &kv->ents[mid];

		if (key_cmp(e->key, e->keylen, (const uint8_t *)key, keylen) <
		    0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void fill_value(const struct kvstore *kv, const struct kvstore_entry *e,
		       struct kv_value *v)
{
	v->file = file_path(kv, e->file_id);
	v->inline_data = e->inline_data;
	v->offset = e->offset;
	v->length = e->length;
	v->file_id = e->file_id;
}

int kvstore_get(const struct kvstore *kv, const char *key, size_t keylen,
		struct kv_value *v)
{
	size_t i = lower_bound(kv, key, keylen);

	if (i == kv->nents || key_cmp(kv->ents[i].key, kv->ents[i].keylen,
				      (const uint8_t *)key, keylen))
		return ck_err(-ENOENT, "no key '%.*s'",
			      (int)(keylen > 200 ? 200 : keylen), key);
	fill_value(kv, &kv->ents[i], v);
	return 0;
}

int kvstore_read(const struct kvstore *kv, const struct kv_value *v,
		 uint64_t off, void *buf, size_t len)
{
	uint64_t pos;

	if (off > v->length || len > v->length - off)
		return ck_err(-EIO,
			      "%s: read of %zu bytes at offset %llu is past "
			      "the end of a %llu-byte value",
			      v->file, len, (unsigned long long)off,
			      (unsigned long long)v->length);
	if (!len)
		return 0;
	if (v->inline_data) {
		memcpy(buf, v->inline_data + off, len);
		return 0;
	}
	if (__builtin_add_overflow(v->offset, off, &pos))
		return ck_err(-EOVERFLOW, "%s: value offset overflows",
			      v->file);
	return kvfiles_pread(kv->files, v->file_id, buf, len, pos);
}

void kvstore_prefetch(const struct kvstore *kv, const struct kv_value *v,
		      uint64_t off, uint64_t len)
{
	uint64_t pos;

	if (v->inline_data || off > v->length || __builtin_add_overflow(v->offset, off, &pos))
		return;
	if (len > v->length - off)
		len = v->length - off;
	kvfiles_prefetch(kv->files, v->file_id, len, pos);
}

int kvstore_list(const struct kvstore *kv, const char *prefix, size_t plen,
		 kvstore_list_cb cb, void *ctx)
{
	for (size_t i = lower_bound(kv, prefix, plen); i < kv->nents; i++) {
		const struct kvstore_entry *e = &kv->ents[i];
		struct kv_value v;
		int ret;

		if (e->keylen < plen || (plen && memcmp(e->key, prefix, plen)))
			break;
		fill_value(kv, e, &v);
		ret = cb(ctx, (const char *)e->key, e->keylen, &v);
		if (ret)
			return ret;
	}
	return 0;
}

size_t kvstore_count(const struct kvstore *kv)
{
	return kv->nents;
}

enum kvstore_kind kvstore_kind(const struct kvstore *kv)
{
	return kv->kind;
}

uint64_t kvstore_generation(const struct kvstore *kv)
{
	return kv->generation;
}

void kvstore_set_max_open(struct kvstore *kv, size_t n)
{
	kvfiles_set_max_open(kv->files, n);
}

void kvstore_file_stats(const struct kvstore *kv, size_t *nfiles,
			size_t *nopen, uint64_t *opens)
{
	*nfiles = kv->files->n;
	kvfiles_stats(kv->files, nopen, opens);
}

/* 64-bit FNV-1a of p[0..n), continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

int kvstore_is_remote(const struct kvstore *kv)
{
	return kv->files->n && kv->files->v[0].remote;
}

uint64_t kvstore_files_digest(const struct kvstore *kv)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < kv->files->n; i++) {
		const struct kvstore_file *f = &kv->files->v[i];
		uint64_t id[4] = { (uint64_t)f->dev, (uint64_t)f->ino, f->size,
				   (uint64_t)f->mtime_ns };

		if (!f->checked)
			continue;
		h = fnv1a(h, f->path, strlen(f->path) + 1);
		if (f->remote) {
			const char *v = rmt_obj_version(f->robj);

			h = fnv1a(h, &f->size, sizeof(f->size));
			h = fnv1a(h, v, strlen(v) + 1);
		} else {
			h = fnv1a(h, id, sizeof(id));
		}
	}
	return h;
}

void kvstore_free(struct kvstore *kv)
{
	if (!kv)
		return;
	for (size_t i = 0; i < kv->nents; i++)
		free(kv->ents[i].key);
	kvfiles_release(kv->files);
	free(kv->files);
	free(kv->ents);
	free(kv);
}
