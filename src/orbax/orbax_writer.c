/* SPDX-License-Identifier: MIT */
/*
 * This file implements the Orbax checkpoint writer of orbax_writer.h.
 *
 * The JSON files are printed the way Python's json.dumps prints them (", "
 * and ": " separators, insertion order), matching what Orbax writes; array
 * names are restricted to characters that need no escaping, so the tuple
 * keys of _METADATA ("('a', 'b')", Python's repr of the key path) come out
 * exactly as Orbax's.  Leaves are listed in PyTree order: key paths
 * compared component by component.  A path component made of digits gets
 * key_type 1 (sequence index, as optax tuple indices like opt_state.0),
 * others key_type 2 (dict key / attribute).
 */
#include "orbax/orbax_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kvstore/kv_sink.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define HANDLER "orbax.checkpoint._src.handlers.pytree_checkpoint_handler." \
		"PyTreeCheckpointHandler"

/* One array added, as _METADATA records it. */
struct ow_array {
	char *name;			/* PyTree path joined with '.' (owned) */
	unsigned rank;			/* dimensions */
	uint64_t chunk[ZARR_MAX_RANK];	/* write shape = chunk shape */
};

struct orbax_writer {
	char *tmp;			/* <root>/<step>.orbax-checkpoint-tmp-<n> */
	char *final;			/* <root>/<step> */
	char *items;			/* <tmp>/<item>: the current item */
	char *item_names;		/* the items so far, each as a JSON
					   member of item_handlers (owned) */
	struct orbax_writer_opts o;	/* options */
	struct ocdbt_writer *db;	/* OCDBT layouts; NULL for DIR */
	struct kv_sink sink;		/* where arrays go */
	struct ow_array *a;		/* arrays added (owned) */
	size_t n, cap;			/* used / allocated */
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
		err = ck_buf_printf(&b, " \"" HANDLER "\"");
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
	w = calloc(1, sizeof(*w));
	if (!w)
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	w->o = *o;
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

static int check_name(const struct orbax_writer *w, const char *name)
{
	size_t n = strlen(name);

	if (!n || name[0] == '.' || name[n - 1] == '.' || strstr(name, ".."))
		goto bad;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' ||
		    *p == '\'' || *p == '"' || *p == '\\')
			goto bad;
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->a[i].name, name))
			return ck_err(-EINVAL, "orbax writer: array '%s' added "
				      "twice", name);
	return 0;
bad:
	return ck_err(-EINVAL, "orbax writer: bad array name '%s'", name);
}

int orbax_writer_add(struct orbax_writer *w, const char *name,
		     const struct zarr_write_spec *s, const void *data)
{
	struct zarr_write_spec spec = *s;
	struct ow_array *a;
	int err;

	if (w->state)
		return ck_err(-EINVAL, "orbax writer: %s already committed or "
			      "failed", w->tmp);
	err = check_name(w, name);
	if (err)
		return err;
	spec.zarr_format = w->o.zarr_format;
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		struct ow_array *na = realloc(w->a, nc * sizeof(*na));

		if (!na)
			return ck_err(-ENOMEM, "orbax writer: out of memory");
		w->a = na;
		w->cap = nc;
	}
	err = zarr_write_array(&w->sink, name, &spec, data);
	if (err)
		return err;
	a = &w->a[w->n];
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	if (!a->name)
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	a->rank = spec.rank;
	memcpy(a->chunk, spec.chunk, sizeof(a->chunk));
	w->n++;
	return 0;
}

/* Key paths in PyTree order: component by component ('.' ends one). */
static int path_cmp(const void *pa, const void *pb)
{
	const char *a = ((const struct ow_array *)pa)->name;
	const char *b = ((const struct ow_array *)pb)->name;

	for (;; a++, b++) {
		int ca = *a == '.' ? 1 : *a ? (unsigned char)*a + 1 : 0;
		int cb = *b == '.' ? 1 : *b ? (unsigned char)*b + 1 : 0;

		if (ca != cb)
			return ca - cb;
		if (!ca)
			return 0;
	}
}

static int print_dims(struct ck_buf *b, const struct ow_array *a)
{
	int err = ck_buf_printf(b, "[");

	for (unsigned i = 0; i < a->rank && !err; i++)
		err = ck_buf_printf(b, "%s%llu", i ? ", " : "",
				    (unsigned long long)a->chunk[i]);
	return err ? err : ck_buf_printf(b, "]");
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/* One tree_metadata entry: "('a', 'b')": {"key_metadata": [...], ...}. */
static int meta_leaf(struct ck_buf *b, const struct ow_array *a)
{
	const char *s = a->name;
	int err;

	err = ck_buf_printf(b, "\"(");
	for (const char *p = s; !err; p++) {
		size_t len = strcspn(p, ".");

		err = ck_buf_printf(b, "%s'%.*s'", p == s ? "" : ", ", (int)len,
				    p);
		p += len;
		if (!*p)
			break;
	}
	/* Python writes a 1-tuple as "('a',)" */
	if (!err)
		err = ck_buf_printf(b, "%s)\": {\"key_metadata\": [",
				    strchr(s, '.') ? "" : ",");
	for (const char *p = s; !err; p++) {
		size_t len = strcspn(p, ".");

		err = ck_buf_printf(b, "%s{\"key\": \"%.*s\", \"key_type\": %d}",
				    p == s ? "" : ", ", (int)len, p,
				    all_digits(p, len) ? 1 : 2);
		p += len;
		if (!*p)
			break;
	}
	if (!err)
		err = ck_buf_printf(b, "], \"value_metadata\": {\"value_type\": "
				    "\"jax.Array\", \"skip_deserialize\": "
				    "false, \"write_shape\": ");
	if (!err)
		err = print_dims(b, a);
	return err ? err : ck_buf_printf(b, "}}");
}

static int write_json(const char *dir, const char *name, struct ck_buf *b)
{
	char *p = ck_path_join(dir, name);
	int err;

	if (!p)
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	err = kv_sink_write_file(p, b->data, b->len);
	free(p);
	return err;
}

static int write_metadata(struct orbax_writer *w)
{
	struct ck_buf b = CK_BUF_INIT;
	int err = ck_buf_printf(&b, "{\"tree_metadata\": {");

	for (size_t i = 0; i < w->n && !err; i++) {
		if (i)
			err = ck_buf_printf(&b, ", ");
		if (!err)
			err = meta_leaf(&b, &w->a[i]);
	}
	if (!err)
		err = ck_buf_printf(
			&b,
			"}, \"use_ocdbt\": %s, \"use_zarr3\": %s, "
			"\"store_array_data_equal_to_fill_value\": true, "
			"\"custom_metadata\": null}",
			w->db ? "true" : "false",
			w->o.zarr_format == 3 ? "true" : "false");
	if (!err)
		err = write_json(w->items, "_METADATA", &b);
	ck_buf_release(&b);
	return err;
}

static int write_array_metadatas(struct orbax_writer *w)
{
	struct ck_buf b = CK_BUF_INIT;
	char *dir = ck_path_join(w->items, "array_metadatas");
	int err = dir ? kv_sink_mkdirs(dir)
		      : ck_err(-ENOMEM, "orbax writer: out of memory");

	if (!err)
		err = ck_buf_printf(&b, "{\"array_metadatas\": [");
	for (size_t i = 0; i < w->n && !err; i++) {
		err = ck_buf_printf(&b, "%s{\"array_metadata\": {\"param_name\": "
				    "\"%s\", \"write_shape\": ", i ? ", " : "",
				    w->a[i].name);
		if (!err)
			err = print_dims(&b, &w->a[i]);
		if (!err)
			err = ck_buf_printf(&b, ", \"chunk_shape\": ");
		if (!err)
			err = print_dims(&b, &w->a[i]);
		if (!err)
			err = ck_buf_printf(&b, ", \"ext_metadata\": null}}");
	}
	if (!err)
		err = ck_buf_printf(&b, "]}");
	if (!err)
		err = write_json(dir, "process_0", &b);
	ck_buf_release(&b);
	free(dir);
	return err;
}

static int write_step_metadata(struct orbax_writer *w)
{
	struct ck_buf b = CK_BUF_INIT;
	int err;

	err = ck_buf_printf(&b,
			    "{\"item_handlers\": {%s}, "
			    "\"metrics\": {}, \"performance_metrics\": {}, "
			    "\"init_timestamp_nsecs\": %llu, "
			    "\"commit_timestamp_nsecs\": %llu, "
			    "\"custom_metadata\": {", w->item_names,
			    (unsigned long long)w->init_ns,
			    (unsigned long long)now_ns());
	if (!err && w->o.scan_layers >= 0)
		err = ck_buf_printf(&b, "\"scan_layers\": %s",
				    w->o.scan_layers ? "true" : "false");
	if (!err)
		err = ck_buf_printf(&b, "}}");
	if (!err)
		err = write_json(w->tmp, "_CHECKPOINT_METADATA", &b);
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
	if (w->n)
		qsort(w->a, w->n, sizeof(*w->a), path_cmp);
	err = write_metadata(w);
	if (!err && w->db)
		err = write_array_metadatas(w);
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
	for (size_t i = 0; i < w->n; i++)
		free(w->a[i].name);
	w->n = 0;
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
	for (size_t i = 0; i < w->n; i++)
		free(w->a[i].name);
	free(w->a);
	free(w->items);
	free(w->item_names);
	free(w->tmp);
	free(w->final);
	free(w);
}
