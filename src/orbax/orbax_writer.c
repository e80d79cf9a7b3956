/* SPDX-License-Identifier: MIT */
/*
 * This file implements the Orbax checkpoint writer of orbax_writer.h: the
 * store of each item (a kv_sink), and the metadata files, whose texts
 * orbax_leaves.c prints from the leaves added.
 */
#include "orbax/orbax_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kvstore/kv_sink.h"
#include "orbax/orbax_leaves.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"

struct orbax_writer {
	char *tmp;			/* <root>/<step>.orbax-checkpoint-tmp-<n> */
	char *final;			/* <root>/<step> */
	char *items;			/* <tmp>/<item>: the current item */
	char *item_names;		/* the items so far, each as a JSON
					   member of item_handlers (owned) */
	struct orbax_writer_opts o;	/* options (sharding_device points
					   at sharding_device below) */
	char *sharding_device;		/* copied from the options (owned) */
	struct ocdbt_writer *db;	/* OCDBT layouts; NULL for DIR */
	struct kv_sink sink;		/* where arrays go */
	struct orbax_leaves leaves;	/* the current item's leaves */
	uint64_t init_ns;		/* when the writer was opened */
	int state;			/* 0 open, 1 committed, -1 failed */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Create <root>/<step>.orbax-checkpoint-tmp-<n> with a fresh n. */
static int make_tmp(const char *root, int64_t step, char **out)
{
	struct ck_buf p = CK_BUF_INIT;
	uint64_t n = now_ns() / 1000;
	int err = 0;

	for (int tries = 0; tries < 100; tries++, n++) {
		p.len = 0;
		err = ck_buf_printf(&p, "%s/%lld.orbax-checkpoint-tmp-%llu",
				    root, (long long)step, (unsigned long long)n);
		if (err)
			break;
		if (mkdir((const char *)p.data, 0755) == 0) {
			*out = (char *)ck_buf_detach(&p, NULL);
			return 0;
		}
		if (errno != EEXIST) {
			err = ck_err(-EIO, "%s: cannot create directory: %s",
				     (const char *)p.data, strerror(errno));
			break;
		}
	}
	if (!err)
		err = ck_err(-EIO, "%s: cannot pick a temporary directory", root);
	ck_buf_release(&p);
	return err;
}

static int open_store(struct orbax_writer *w)
{
	struct ocdbt_writer_opts oo = w->o.ocdbt;
	int err;

	if (w->o.layout == ORBAX_LAYOUT_DIR) {
		err = kv_sink_mkdirs(w->items);
		return err ? err : kv_sink_dir(w->items, &w->sink);
	}
	oo.data_base = "";
	oo.data_base_db = 0;
	if (w->o.layout == ORBAX_LAYOUT_OCDBT_MULTIHOST) {
		/* ocdbt.process_0/ .. process_<N-1>/, each a database */
		if (!oo.processes)
			oo.processes = 1;
		oo.data_base_db = 1;
	} else if (oo.processes) {
		return ck_err(-EINVAL, "orbax writer: processes need the "
			      "multi-host layout");
	}
	err = ocdbt_writer_open(w->items, &oo, &w->db);
	return err ? err : kv_sink_ocdbt(w->db, &w->sink);
}

/* Begin item name in the temporary step directory. */
static int start_item(struct orbax_writer *w, const char *name)
{
	struct ck_buf b = CK_BUF_INIT;
	char *q;
	int err;

	if (!*name || strchr(name, '/') || strchr(name, '"') || strchr(name, '\\') ||
	    name[0] == '.')
		return ck_err(-EINVAL, "orbax writer: bad item name '%s'", name);
	err = ck_buf_printf(&b, "\"%s\":", name);
	if (!err && w->item_names && strstr(w->item_names, (const char *)b.data))
		err = ck_err(-EINVAL, "orbax writer: item '%s' written twice", name);
	if (!err)
		err = ck_buf_printf(&b, " \"" ORBAX_PYTREE_HANDLER "\"");
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	if (w->item_names) {
		q = malloc(strlen(w->item_names) + 2 + b.len + 1);
		if (q)
			sprintf(q, "%s, %s", w->item_names, (const char *)b.data);
	} else {
		q = strdup((const char *)b.data);
	}
	ck_buf_release(&b);
	free(w->items);
	w->items = ck_path_join(w->tmp, name);
	if (!q || !w->items) {
		free(q);
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	}
	free(w->item_names);
	w->item_names = q;
	return open_store(w);
}

int orbax_writer_open(const char *root, int64_t step,
		      const struct orbax_writer_opts *o,
		      struct orbax_writer **out)
{
	static const struct orbax_writer_opts def = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *w;
	struct ck_buf p = CK_BUF_INIT;
	int err;

	if (!o)
		o = &def;
	if (step < 0 || !root || !*root)
		return ck_err(-EINVAL, "orbax writer: bad root or step %lld",
			      (long long)step);
	if (o->layout < ORBAX_LAYOUT_OCDBT || o->layout > ORBAX_LAYOUT_DIR ||
	    (o->zarr_format && o->zarr_format != 2 && o->zarr_format != 3) ||
	    o->scan_layers < -1 || o->scan_layers > 1)
		return ck_err(-EINVAL, "orbax writer: bad options");
	if (o->sharding_device) {
		const char *d = o->sharding_device;

		if (!*d)
			return ck_err(-EINVAL, "orbax writer: empty sharding "
				      "device");
		for (; *d; d++)
			if ((unsigned char)*d < 0x20 || *d == 0x7f ||
			    *d == '"' || *d == '\\')
				return ck_err(-EINVAL, "orbax writer: bad "
					      "sharding device");
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	w->o = *o;
	if (o->sharding_device) {
		w->sharding_device = strdup(o->sharding_device);
		if (!w->sharding_device) {
			free(w);
			return ck_err(-ENOMEM, "orbax writer: out of memory");
		}
		w->o.sharding_device = w->sharding_device;
	}
	if (!w->o.zarr_format)
		w->o.zarr_format = o->layout == ORBAX_LAYOUT_DIR ? 2 : 3;
	w->init_ns = now_ns();
	err = kv_sink_mkdirs(root);
	if (!err)
		err = ck_buf_printf(&p, "%s/%lld", root, (long long)step);
	if (err)
		goto out_free;
	w->final = (char *)ck_buf_detach(&p, NULL);
	if (ck_is_dir(w->final) || ck_is_file(w->final)) {
		err = ck_err(-EEXIST, "%s: step exists", w->final);
		goto out_free;
	}
	err = make_tmp(root, step, &w->tmp);
	if (err)
		goto out_free;
	err = start_item(w, o->item ? o->item : "items");
	if (err)
		goto out_free;
	*out = w;
	return 0;
out_free:
	ck_buf_release(&p);
	orbax_writer_free(w);
	return err;
}

/* Check that w takes leaf name. */
static int add_begin(struct orbax_writer *w, const char *name)
{
	if (w->state)
		return ck_err(-EINVAL, "orbax writer: %s already committed or "
			      "failed", w->tmp);
	return orbax_leaves_check(&w->leaves, name);
}

/* Record leaf name (checked by add_begin()). */
static int add_end(struct orbax_writer *w, const char *name,
		   enum orbax_leaf_kind kind, const char *value_type,
		   const struct zarr_write_spec *s)
{
	int err = orbax_leaves_add(&w->leaves, name, kind, value_type,
				   s ? s->rank : 0, s ? s->chunk : NULL);

	if (err && kind != ORBAX_LEAF_EMPTY)
		w->state = -1;	/* its keys are in the store */
	return err;
}

/* The options' progress callback, told which array. */
struct ow_progress {
	const struct orbax_writer *w;
	const char *name;
};

static int progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	const struct ow_progress *p = ctx;

	return p->w->o.progress(p->w->o.progress_ctx, p->name, done, total);
}

/* Add array or scalar name, its chunks from st (st's progress is set
 * here). */
static int add_stream(struct orbax_writer *w, const char *name,
		      enum orbax_leaf_kind kind, const struct zarr_write_spec *s,
		      struct zarr_stream *st)
{
	struct zarr_write_spec spec = *s;
	struct ow_progress pr = {w, name};
	uint64_t nbytes;
	int err;

	err = add_begin(w, name);
	if (err)
		return err;
	spec.zarr_format = w->o.zarr_format;
	err = zarr_writer_check(&spec, &nbytes);
	if (err)
		return ck_err_ctx(err, "array '%s'", name);
	if (w->o.progress) {
		st->progress = progress_cb;
		st->progress_ctx = &pr;
	}
	err = zarr_write_array_stream(&w->sink, name, &spec, st);
	if (err) {
		/* keys of a partial array may be in the store */
		w->state = -1;
		return err;
	}
	return add_end(w, name, kind, NULL, &spec);
}

int orbax_writer_add(struct orbax_writer *w, const char *name,
		     const struct zarr_write_spec *s, const void *data)
{
	struct zarr_write_spec spec = *s;
	struct zarr_whole wh = {&spec, data};
	struct zarr_stream st = {zarr_fill_whole, &wh, 1, NULL, NULL};
	uint64_t nbytes;

	spec.zarr_format = w->o.zarr_format;
	if (!data && zarr_writer_check(&spec, &nbytes) == 0 && nbytes)
		return ck_err(-EINVAL, "orbax writer: no data for '%s'", name);
	return add_stream(w, name, ORBAX_LEAF_ARRAY, &spec, &st);
}

int orbax_writer_add_cb(struct orbax_writer *w, const char *name,
			const struct zarr_write_spec *s, zarr_fill_fn fill,
			void *ctx, unsigned threads)
{
	struct zarr_stream st = {fill, ctx, threads, NULL, NULL};

	if (!fill)
		return ck_err(-EINVAL, "orbax writer: no fill callback for "
			      "'%s'", name);
	return add_stream(w, name, ORBAX_LEAF_ARRAY, s, &st);
}

static int scalar_fill(void *ctx, const uint64_t *idx, const uint64_t *start,
		       const uint64_t *count, void *buf)
{
	(void)idx;
	(void)start;
	(void)count;
	ck_store_u64le(buf, (uint64_t)*(const int64_t *)ctx);
	return 0;
}

int orbax_writer_add_scalar(struct orbax_writer *w, const char *name,
			    int64_t value, int zstd_level)
{
	struct zarr_stream st = {scalar_fill, &value, 1, NULL, NULL};
	struct zarr_write_spec s;

	memset(&s, 0, sizeof(s));
	s.zarr_format = 3;
	s.dtype = CK_DT_I64;
	s.rank = 0;
	s.zstd_level = zstd_level;
	return add_stream(w, name, ORBAX_LEAF_SCALAR, &s, &st);
}

int orbax_writer_add_empty(struct orbax_writer *w, const char *name,
			   const char *value_type)
{
	const char *vt = NULL;
	int err = orbax_leaves_empty_type(value_type, &vt);

	if (!err)
		err = add_begin(w, name);
	return err ? err : add_end(w, name, ORBAX_LEAF_EMPTY, vt, NULL);
}

int orbax_writer_add_param_only_leaves(struct orbax_writer *w,
				       int zstd_level)
{
	int err = orbax_writer_add_scalar(w, "step", 0, zstd_level);

	return err ? err : orbax_writer_add_empty(w, "opt_state", "Dict");
}

/* Write the text in b as the file dir/name; b is emptied for the next. */
static int write_text(const char *dir, const char *name, struct ck_buf *b)
{
	char *p = ck_path_join(dir, name);
	int err;

	if (!p)
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	err = kv_sink_write_file(p, b->data, b->len);
	free(p);
	b->len = 0;
	return err;
}

/* The item's _METADATA, _sharding (when asked for) and
 * array_metadatas/process_0 (OCDBT layouts). */
static int write_metadata(struct orbax_writer *w)
{
	struct ck_buf b = CK_BUF_INIT;
	char *dir = NULL;
	int err;

	err = orbax_leaves_metadata(&w->leaves, w->db != NULL,
				    w->o.zarr_format == 3, &b);
	if (!err)
		err = write_text(w->items, "_METADATA", &b);
	if (!err && w->sharding_device)
		err = orbax_leaves_sharding(&w->leaves, w->sharding_device, &b);
	if (!err && w->sharding_device)
		err = write_text(w->items, "_sharding", &b);
	if (!err && w->db) {
		dir = ck_path_join(w->items, "array_metadatas");
		err = dir ? kv_sink_mkdirs(dir)
			  : ck_err(-ENOMEM, "orbax writer: out of memory");
		if (!err)
			err = orbax_leaves_array_metadatas(&w->leaves, &b);
		if (!err)
			err = write_text(dir, "process_0", &b);
	}
	free(dir);
	ck_buf_release(&b);
	return err;
}

static int write_step_metadata(struct orbax_writer *w)
{
	struct ck_buf b = CK_BUF_INIT;
	int err;

	err = orbax_leaves_step_metadata(w->item_names, w->init_ns, now_ns(),
					 w->o.scan_layers, &b);
	if (!err)
		err = write_text(w->tmp, "_CHECKPOINT_METADATA", &b);
	ck_buf_release(&b);
	return err;
}

/* Write the current item's metadata and commit its database; the writer
 * stays failed unless the caller goes on. */
static int finish_item(struct orbax_writer *w)
{
	int err;

	if (w->state)
		return ck_err(-EINVAL, "orbax writer: %s already committed or "
			      "failed", w->tmp);
	w->state = -1;
	orbax_leaves_sort(&w->leaves);
	err = write_metadata(w);
	if (!err && w->db)
		err = ocdbt_writer_commit(w->db);
	return err;
}

int orbax_writer_next_item(struct orbax_writer *w, const char *item)
{
	int err = finish_item(w);

	if (err)
		return err;
	ocdbt_writer_free(w->db);
	w->db = NULL;
	orbax_leaves_release(&w->leaves);
	err = start_item(w, item);
	if (!err)
		w->state = 0;
	return err;
}

int orbax_writer_commit(struct orbax_writer *w)
{
	int err = finish_item(w);

	if (!err)
		err = write_step_metadata(w);
	if (err)
		return err;
	if (rename(w->tmp, w->final) < 0)
		return ck_err(errno == EEXIST || errno == ENOTEMPTY ? -EEXIST
								    : -EIO,
			      "%s: cannot rename to %s: %s", w->tmp, w->final,
			      strerror(errno));
	w->state = 1;
	return 0;
}

void orbax_writer_free(struct orbax_writer *w)
{
	if (!w)
		return;
	ocdbt_writer_free(w->db);
	orbax_leaves_release(&w->leaves);
	free(w->items);
	free(w->item_names);
	free(w->sharding_device);
	free(w->tmp);
	free(w->final);
	free(w);
}
