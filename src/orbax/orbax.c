/* SPDX-License-Identifier: MIT */
/*
 * This file implements orbax_open(): resolve the item directory, open its
 * key-value store (merged OCDBT, per-process OCDBT, or plain directory), and
 * open every array of the PyTree.
 */
#include "orbax/orbax.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/kvstore.h"
#include "orbax/orbax_aggregate.h"
#include "orbax/orbax_meta.h"
#include "orbax/orbax_tree.h"
#include "source/source.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "zarr/zarr_array.h"

#define ORBAX_MAX_META_BYTES ((size_t)256 << 20)
#define ORBAX_MAX_PROCESS_DBS 65536
#define ORBAX_MAX_AGGREGATE_BYTES ((size_t)1 << 30)

/* The legacy msgpack `checkpoint` file: its bytes and the leaves in them. */
struct orbax_agg {
	uint8_t *bytes;
	size_t len;
	struct orbax_aggregate parsed;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ocdbt.process_N/ databases of an item, as listed. */
struct dbs {
	const char *item;
	char **v;
	size_t n;
	int err;
};

static int db_one(void *ctx, const char *name, int is_dir)
{
	struct dbs *d = ctx;
	char *p, **nv;

	if (strncmp(name, "ocdbt.process_", 14) || !is_dir)
		return 0;
	if (d->n >= ORBAX_MAX_PROCESS_DBS)
		return d->err = ck_err(-EOVERFLOW, "%s: too many ocdbt.process_* "
				       "databases", d->item);
	p = ck_path_join(d->item, name);
	nv = p ? realloc(d->v, (d->n + 1) * sizeof(*nv)) : NULL;
	if (!nv) {
		free(p);
		return d->err = ck_err(-ENOMEM, "out of memory");
	}
	d->v = nv;
	d->v[d->n++] = p;
	return 0;
}

/* The ocdbt.process_N/ databases of item c->item_dir, sorted (caller
 * frees). */
static int list_process_dbs(const struct orbax_ckpt *c, char ***dirs, size_t *n)
{
	struct dbs d = { c->item_dir, NULL, 0, 0 };
	int err = src_list(c->root, c->item_dir, c->follow_symlinks, db_one, &d);

	if (!err)
		err = d.err;
	if (!err && d.n)
		qsort(d.v, d.n, sizeof(*d.v), cmp_str);
	*dirs = d.v;
	*n = d.n;
	return err;
}

static int open_store(struct orbax_ckpt *c)
{
	char *manifest = ck_path_join(c->item_dir, "manifest.ocdbt");
	const struct kvstore_opts ko = { c->root, c->follow_symlinks };
	char **dbs = NULL;
	size_t ndb = 0;
	int err;

	if (!manifest)
		return ck_err(-ENOMEM, "out of memory");
	if (src_is_file(manifest)) {
		const char *one = c->item_dir;

		free(manifest);
		return kvstore_open_ocdbt_opts(&one, 1, 0, &ko, &c->kv);
	}
	free(manifest);
	if (!src_can_list(c->item_dir))
		return ck_err(-ENOTSUP, "%s: no manifest.ocdbt; the per-process "
			      "databases or zarr directories of this item can only "
			      "be found by listing, which HTTP has not: read it "
			      "from gs://, s3:// or a local copy", c->item_dir);
	err = list_process_dbs(c, &dbs, &ndb);
	if (!err && ndb) {
		err = kvstore_open_ocdbt_opts((const char *const *)dbs, ndb, 0, &ko,
					      &c->kv);
		if (!err) {
			struct ck_buf b = CK_BUF_INIT;

			ck_buf_printf(&b, "%s has no manifest.ocdbt (an interrupted "
				      "save?); read the %zu per-process database%s "
				      "ocdbt.process_* instead", c->item_dir, ndb,
				      ndb == 1 ? "" : "s");
			c->note = (char *)ck_buf_detach(&b, NULL);
		}
	} else if (!err) {
		err = kvstore_open_dir_opts(c->item_dir, &ko, &c->kv);
	}
	for (size_t i = 0; i < ndb; i++)
		free(dbs[i]);
	free(dbs);
	return err;
}

/* Array names from the store's metadata keys ("<name>/zarr.json" or
 * "<name>/.zarray"; a root-level array is named ""). */
struct names {
	char **v;
	size_t n;
};

static int add_name(struct names *names, const char *s, size_t len)
{
	char **nv = realloc(names->v, (names->n + 1) * sizeof(*nv));
	char *p;

	if (!nv)
		return ck_err(-ENOMEM, "out of memory");
	names->v = nv;
	p = strndup(s, len);
	if (!p)
		return ck_err(-ENOMEM, "out of memory");
	names->v[names->n++] = p;
	return 0;
}

static int ends_with(const char *key, size_t len, const char *suffix, size_t *stem)
{
	size_t sl = strlen(suffix);

	if (len == sl && !memcmp(key, suffix, sl)) {
		*stem = 0;
		return 1;
	}
	if (len > sl && key[len - sl - 1] == '/' && !memcmp(key + len - sl, suffix, sl)) {
		*stem = len - sl - 1;
		return 1;
	}
	return 0;
}

static int discover_cb(void *ctx, const char *key, size_t len,
		       const struct kv_value *v)
{
	size_t stem;

	(void)v;
	if (ends_with(key, len, "zarr.json", &stem) ||
	    ends_with(key, len, ".zarray", &stem))
		return add_name(ctx, key, stem);
	return 0;
}

static int cmp_array(const void *a, const void *b)
{
	return strcmp(((const struct orbax_array *)a)->name,
		      ((const struct orbax_array *)b)->name);
}

static int open_arrays(struct orbax_ckpt *c, struct names *names, int discovered)
{
	c->arrays = calloc(names->n + 1, sizeof(*c->arrays));
	if (!c->arrays)
		return ck_err(-ENOMEM, "out of memory");
	if (names->n)
		qsort(names->v, names->n, sizeof(*names->v), cmp_str);
	for (size_t i = 0; i < names->n; i++) {
		struct orbax_array *a = &c->arrays[c->narrays];
		int err;

		if (c->narrays && !strcmp(names->v[i], c->arrays[c->narrays - 1].name))
			continue;
		err = zarr_array_open(c->kv, names->v[i], &a->za);
		/* Zarr groups also have a zarr.json: skip them when listing. */
		if (discovered && err == -EISDIR)
			continue;
		if (err == -ENOENT && !discovered)
			return ck_err_ctx(err, "%s: array '%s' is listed in _METADATA "
					  "but missing from the store", c->item_dir,
					  names->v[i]);
		if (err)
			return ck_err_ctx(err, "%s: array '%s'", c->item_dir,
					  names->v[i]);
		a->name = names->v[i];
		names->v[i] = NULL;
		c->narrays++;
	}
	return 0;
}

/* Binary search of the sorted arrays [0, n). */
static const struct orbax_array *find_in(const struct orbax_ckpt *c, size_t n,
					 const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->arrays[mid].name, name);

		if (!r)
			return &c->arrays[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* 1 if the leaf is wanted from the aggregate: with _METADATA, an array leaf
 * marked skip_deserialize; without, every leaf none of the zarr arrays
 * [0, nzarr) shadows (the leaves appended after them are not sorted yet). */
static int agg_leaf_wanted(const struct orbax_ckpt *c, size_t nzarr,
			   const struct orbax_meta *m, int have_meta, const char *name)
{
	if (find_in(c, nzarr, name))
		return 0;
	if (!have_meta)
		return 1;
	for (size_t i = 0; i < m->nleaves; i++)
		if (!strcmp(m->leaves[i].name, name))
			return m->leaves[i].is_array && m->leaves[i].skip;
	return 0;
}

/* Read the legacy `checkpoint` aggregate, if there is one, and add its array
 * leaves. */
static int add_aggregate(struct orbax_ckpt *c, const struct orbax_meta *m,
			 int have_meta)
{
	char *path = ck_path_join(c->item_dir, "checkpoint");
	struct orbax_array *arrays;
	size_t n0 = c->narrays;
	int err;

	if (!path)
		return ck_err(-ENOMEM, "out of memory");
	if (!src_is_file(path)) {
		free(path);
		return 0;
	}
	c->agg = calloc(1, sizeof(*c->agg));
	err = c->agg ? src_read_file(c->root, path, c->follow_symlinks,
					    ORBAX_MAX_AGGREGATE_BYTES, &c->agg->bytes,
					    &c->agg->len) :
		       ck_err(-ENOMEM, "out of memory");
	if (!err)
		err = orbax_aggregate_parse(c->agg->bytes, c->agg->len, &c->agg->parsed);
	if (err)
		goto out;
	arrays = realloc(c->arrays, (n0 + c->agg->parsed.nleaves + 1) * sizeof(*arrays));
	if (!arrays) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	c->arrays = arrays;
	for (size_t i = 0; i < c->agg->parsed.nleaves; i++) {
		const struct orbax_agg_leaf *l = &c->agg->parsed.leaves[i];
		struct orbax_array *a = &c->arrays[c->narrays];

		if (!agg_leaf_wanted(c, n0, m, have_meta, l->name))
			continue;
		memset(a, 0, sizeof(*a));
		a->name = strdup(l->name);
		if (!a->name) {
			err = ck_err(-ENOMEM, "out of memory");
			goto out;
		}
		a->agg = l;
		c->narrays++;
	}
	qsort(c->arrays, c->narrays, sizeof(*c->arrays), cmp_array);
out:
	if (err)
		err = ck_err_ctx(err, "%s", path);
	free(path);
	return err;
}

static int read_meta(struct orbax_ckpt *c, struct orbax_meta *m, int *have)
{
	char *path = ck_path_join(c->item_dir, "_METADATA");
	uint8_t *text = NULL;
	size_t len;
	int err;

	if (!path)
		return ck_err(-ENOMEM, "out of memory");
	*have = 0;
	err = src_read_file(c->root, path, c->follow_symlinks,
				   ORBAX_MAX_META_BYTES, &text, &len);
	if (err == -ENOENT) {
		err = 0;
		goto out;
	}
	if (!err)
		err = orbax_meta_parse((const char *)text, len, m);
	if (err) {
		err = ck_err_ctx(err, "%s", path);
		goto out;
	}
	*have = 1;
out:
	free(text);
	free(path);
	return err;
}

/* custom_metadata.scan_layers from the step's _CHECKPOINT_METADATA (in the
 * root, the step holding the item, else in the item) into *v: 1, 0, or -1
 * when not recorded.  Only a file leading out of the root, or -ENOMEM, is
 * an error. */
static int read_scan_layers(const struct orbax_ckpt *c, int *v)
{
	const char *dirs[] = { c->root, c->item_dir };

	*v = -1;
	for (size_t i = 0; i < 2 && *v < 0; i++) {
		char *p = ck_path_join(dirs[i], "_CHECKPOINT_METADATA");
		uint8_t *text = NULL;
		size_t len;
		int err;

		if (!p)
			return ck_err(-ENOMEM, "out of memory");
		err = src_read_file(c->root, p, c->follow_symlinks,
					   ORBAX_MAX_META_BYTES, &text, &len);
		if (!err)
			*v = orbax_step_meta_scan_layers((const char *)text, len);
		free(text);
		free(p);
		if (err == -EXDEV || err == -ELOOP || err == -ENOMEM)
			return err;
	}
	ck_err_clear();
	return 0;
}

static const char *format_name(const struct orbax_ckpt *c)
{
	int v2 = 0, v3 = 0;
	int ocdbt = kvstore_kind(c->kv) == KVSTORE_OCDBT;

	for (size_t i = 0; i < c->narrays; i++) {
		struct zarr_info info;

		if (c->arrays[i].za && zarr_array_info(c->arrays[i].za, &info) == 0) {
			v2 |= info.zarr_format == 2;
			v3 |= info.zarr_format == 3;
		}
	}
	ck_err_clear();
	if (c->agg)
		return v3 ? "msgpack aggregate + zarr3" : "msgpack aggregate + zarr2";
	if (v2 && v3)
		return ocdbt ? "OCDBT/zarr2+zarr3" : "directory/zarr2+zarr3";
	if (v3)
		return ocdbt ? "OCDBT/zarr3" : "directory/zarr3";
	return ocdbt ? "OCDBT/zarr2" : "directory/zarr2";
}

int orbax_open(const char *path, const struct orbax_opts *opts,
	       struct orbax_ckpt **out)
{
	struct orbax_opts def = ORBAX_OPTS_INIT;
	struct orbax_meta meta = { 0, NULL, -1 };
	struct names names = { NULL, 0 };
	struct orbax_ckpt *c;
	int err, have_meta = 0;

	if (!opts)
		opts = &def;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ck_err(-ENOMEM, "out of memory");
	err = orbax_resolve_opts(path, opts->step, opts->uncommitted, &c->item_dir,
				 &c->step);
	if (!err)
		err = orbax_root_of(c->item_dir, &c->root);
	if (err)
		goto out;
	c->follow_symlinks = opts->follow_symlinks;
	err = orbax_check_files(c);
	if (err)
		goto out;
	err = read_meta(c, &meta, &have_meta);
	if (err)
		goto out;
	err = open_store(c);
	if (err)
		goto out;
	if (have_meta) {
		for (size_t i = 0; i < meta.nleaves && !err; i++)
			if (meta.leaves[i].is_array && !meta.leaves[i].skip)
				err = add_name(&names, meta.leaves[i].name,
					       strlen(meta.leaves[i].name));
	} else {
		err = kvstore_list(c->kv, "", 0, discover_cb, &names);
	}
	if (!err)
		err = open_arrays(c, &names, !have_meta);
	if (!err)
		err = add_aggregate(c, &meta, have_meta);
	if (err)
		goto out;
	err = read_scan_layers(c, &c->scan_layers);
	if (err)
		goto out;
	c->format = format_name(c);
	err = orbax_tree_apply(c);
	if (!err)
		err = orbax_step_other_items(c->item_dir, &c->other_items);
	if (err)
		goto out;
	*out = c;
	c = NULL;
out:
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	orbax_meta_release(&meta);
	orbax_close(c);
	return err;
}

const struct orbax_array *orbax_find(const struct orbax_ckpt *c, const char *name)
{
	return find_in(c, c->narrays, name);
}

const struct orbax_array *orbax_find_stored(const struct orbax_ckpt *c,
					    const char *path)
{
	const struct orbax_array *a = find_in(c, c->narrays, path);

	if (a && !a->stored)
		return a;
	for (size_t i = 0; i < c->narrays; i++)
		if (c->arrays[i].stored && !strcmp(c->arrays[i].stored, path))
			return &c->arrays[i];
	return NULL;
}

int orbax_array_info(const struct orbax_array *a, struct zarr_info *info)
{
	const struct orbax_agg_leaf *l = a->agg;

	if (a->za)
		return zarr_array_info(a->za, info);
	if (a->virt) {
		*info = *a->virt;
		return 0;
	}
	memset(info, 0, sizeof(*info));
	info->dtype = l->dtype;
	info->rank = l->rank;
	memcpy(info->shape, l->shape, l->rank * sizeof(*l->shape));
	memcpy(info->chunk, l->shape, l->rank * sizeof(*l->shape));
	info->nchunks = 1;
	info->stored_chunks = 1;
	info->nbytes = l->nbytes;
	info->stored_bytes = l->nbytes;
	return 0;
}

/* Copy a box out of a dense C-order array held in memory. */
static int read_dense(const struct orbax_agg_leaf *l, const uint64_t *start,
		      const uint64_t *count, uint8_t *dst)
{
	uint64_t idx[ZARR_MAX_RANK] = { 0 }, row, off;
	size_t isz = ck_dtype_size(l->dtype);
	unsigned r = l->rank;

	for (unsigned i = 0; i < r; i++) {
		if (start[i] > l->shape[i] || count[i] > l->shape[i] - start[i])
			return ck_err(-EINVAL, "box out of bounds on axis %u", i);
		if (!count[i])
			return 0;
	}
	if (r == 0) {
		memcpy(dst, l->data, isz);
		return 0;
	}
	row = count[r - 1] * isz;
	for (;;) {
		off = 0;
		for (unsigned i = 0; i < r; i++)
			off = off * l->shape[i] + start[i] + (i + 1 < r ? idx[i] : 0);
		memcpy(dst, l->data + off * isz, (size_t)row);
		dst += row;
		/* Next row: odometer over axes 0..r-2. */
		int ax = (int)r - 2;

		while (ax >= 0 && ++idx[ax] == count[ax])
			idx[ax--] = 0;
		if (ax < 0)
			return 0;
	}
}

int orbax_array_read(const struct orbax_array *a, const uint64_t *start,
		     const uint64_t *count, void *dst)
{
	if (a->za)
		return zarr_array_read(a->za, start, count, dst);
	if (a->virt)
		return ck_err(-ENOTSUP, "'%s' is virtual: it has no data", a->name);
	return read_dense(a->agg, start, count, dst);
}

int orbax_array_visit(const struct orbax_array *a, const uint64_t *start,
		      const uint64_t *count, zarr_visit_fn fn, void *ctx)
{
	uint64_t pos[ZARR_MAX_RANK] = { 0 }, stride[ZARR_MAX_RANK], bytes;
	uint8_t *box;
	int err;

	if (a->za)
		return zarr_array_visit(a->za, start, count, fn, ctx);
	if (a->virt)
		return ck_err(-ENOTSUP, "'%s' is virtual: it has no data", a->name);
	/* An aggregate leaf is small and held decoded: one piece. */
	bytes = ck_dtype_size(a->agg->dtype);
	for (unsigned i = 0; i < a->agg->rank; i++)
		bytes *= count[i] <= a->agg->shape[i] ? count[i] : 0;
	box = malloc((size_t)bytes + 1);
	if (!box)
		return ck_err(-ENOMEM, "out of memory");
	err = read_dense(a->agg, start, count, box);
	for (unsigned i = a->agg->rank; i-- > 0;)
		stride[i] = i + 1 < a->agg->rank ? stride[i + 1] * count[i + 1] : 1;
	if (!err && bytes)
		err = fn(ctx, pos, count, box, stride);
	free(box);
	return err;
}

uint64_t orbax_total_bytes(const struct orbax_ckpt *c)
{
	uint64_t total = 0;

	for (size_t i = 0; i < c->narrays; i++) {
		struct zarr_info info;

		if (orbax_array_info(&c->arrays[i], &info) == 0 &&
		    __builtin_add_overflow(total, info.nbytes, &total))
			return UINT64_MAX;
	}
	ck_err_clear();
	return total;
}

void orbax_decode_stats(const struct orbax_ckpt *c, uint64_t *decodes,
			uint64_t *bytes)
{
	*decodes = 0;
	*bytes = 0;
	for (size_t i = 0; i < c->narrays; i++) {
		if (!c->arrays[i].za)
			continue;
		*decodes += zarr_array_decode_count(c->arrays[i].za);
		*bytes += zarr_array_decoded_bytes(c->arrays[i].za);
	}
}

void orbax_close(struct orbax_ckpt *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->narrays; i++) {
		free(c->arrays[i].name);
		free(c->arrays[i].stored);
		free(c->arrays[i].virt);
		zarr_array_free(c->arrays[i].za);
	}
	free(c->arrays);
	if (c->agg) {
		orbax_aggregate_release(&c->agg->parsed);
		free(c->agg->bytes);
		free(c->agg);
	}
	kvstore_free(c->kv);
	free(c->note);
	free(c->tree_why);
	free(c->other_items);
	free(c->item_dir);
	free(c->root);
	ck_access_release(&c->access);
	free(c);
}
