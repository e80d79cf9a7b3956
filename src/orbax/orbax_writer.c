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
 *
 * _sharding is what TensorStore's json driver leaves: one compact object,
 * its keys (base64url of each array's name) sorted, each value the JSON
 * text of the leaf's sharding as Python prints it (orbax-format.md §4.2).
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
#include "util/ck_rd.h"

#define HANDLER "orbax.checkpoint._src.handlers.pytree_checkpoint_handler." \
		"PyTreeCheckpointHandler"

/* What a leaf is. */
enum ow_kind {
	OW_ARRAY,			/* jax.Array: zarr keys,
					   array_metadatas, _sharding */
	OW_SCALAR,			/* scalar: zarr keys only */
	OW_EMPTY,			/* empty container: _METADATA only */
};

/* One leaf added, as _METADATA records it. */
struct ow_array {
	char *name;			/* PyTree path joined with '.' (owned) */
	enum ow_kind kind;		/* what it is */
	const char *value_type;		/* OW_EMPTY: "Dict", ... (static) */
	unsigned rank;			/* dimensions */
	uint64_t chunk[ZARR_MAX_RANK];	/* write shape = chunk shape */
};

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

static int check_name(const struct orbax_writer *w, const char *name)
{
	size_t n = strlen(name);

	if (!n || name[0] == '.' || name[n - 1] == '.' || strstr(name, ".."))
		goto bad;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' ||
		    *p == '\'' || *p == '"' || *p == '\\')
			goto bad;
	for (size_t i = 0; i < w->n; i++) {
		const char *o = w->a[i].name;
		size_t on = strlen(o), k = on < n ? on : n;

		if (!strcmp(o, name))
			return ck_err(-EINVAL, "orbax writer: leaf '%s' added "
				      "twice", name);
		/* one a subtree of the other: "a" and "a.b" */
		if (!strncmp(o, name, k) && (on < n ? name[k] : o[k]) == '.')
			return ck_err(-EINVAL, "orbax writer: leaf '%s' and "
				      "leaf '%s' overlap", name, o);
	}
	return 0;
bad:
	return ck_err(-EINVAL, "orbax writer: bad array name '%s'", name);
}

/* Check that w takes leaf name, and make room for it. */
static int add_begin(struct orbax_writer *w, const char *name)
{
	int err;

	if (w->state)
		return ck_err(-EINVAL, "orbax writer: %s already committed or "
			      "failed", w->tmp);
	err = check_name(w, name);
	if (err)
		return err;
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		struct ow_array *na = realloc(w->a, nc * sizeof(*na));

		if (!na)
			return ck_err(-ENOMEM, "orbax writer: out of memory");
		w->a = na;
		w->cap = nc;
	}
	return 0;
}

/* Record leaf name (room made by add_begin()). */
static int add_end(struct orbax_writer *w, const char *name,
		   enum ow_kind kind, const struct zarr_write_spec *s)
{
	struct ow_array *a = &w->a[w->n];

	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	if (!a->name) {
		if (kind != OW_EMPTY)
			w->state = -1;	/* its keys are in the store */
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	}
	a->kind = kind;
	if (s) {
		a->rank = s->rank;
		memcpy(a->chunk, s->chunk, sizeof(a->chunk));
	}
	w->n++;
	return 0;
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
		      enum ow_kind kind, const struct zarr_write_spec *s,
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
	return add_end(w, name, kind, &spec);
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
	return add_stream(w, name, OW_ARRAY, &spec, &st);
}

int orbax_writer_add_cb(struct orbax_writer *w, const char *name,
			const struct zarr_write_spec *s, zarr_fill_fn fill,
			void *ctx, unsigned threads)
{
	struct zarr_stream st = {fill, ctx, threads, NULL, NULL};

	if (!fill)
		return ck_err(-EINVAL, "orbax writer: no fill callback for "
			      "'%s'", name);
	return add_stream(w, name, OW_ARRAY, s, &st);
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
	return add_stream(w, name, OW_SCALAR, &s, &st);
}

int orbax_writer_add_empty(struct orbax_writer *w, const char *name,
			   const char *value_type)
{
	static const char *const types[] = {"Dict", "List", "Tuple",
					    "NamedTuple", "None"};
	const char *vt = NULL;
	int err;

	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
		if (value_type && !strcmp(value_type, types[i]))
			vt = types[i];
	if (!vt)
		return ck_err(-EINVAL, "orbax writer: '%s' is not an empty "
			      "container type", value_type ? value_type : "");
	err = add_begin(w, name);
	if (!err)
		err = add_end(w, name, OW_EMPTY, NULL);
	if (!err)
		w->a[w->n - 1].value_type = vt;
	return err;
}

int orbax_writer_add_param_only_leaves(struct orbax_writer *w,
				       int zstd_level)
{
	int err = orbax_writer_add_scalar(w, "step", 0, zstd_level);

	return err ? err : orbax_writer_add_empty(w, "opt_state", "Dict");
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
		err = ck_buf_printf(b, "], \"value_metadata\": "
				    "{\"value_type\": ");
	if (err)
		return err;
	switch (a->kind) {
	case OW_ARRAY:
		err = ck_buf_printf(b, "\"jax.Array\", \"skip_deserialize\": "
				    "false, \"write_shape\": ");
		if (!err)
			err = print_dims(b, a);
		break;
	case OW_SCALAR:
		err = ck_buf_printf(b, "\"scalar\", \"skip_deserialize\": "
				    "false");
		break;
	case OW_EMPTY:
		err = ck_buf_printf(b, "\"%s\", \"skip_deserialize\": true",
				    a->value_type);
		break;
	}
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
	size_t listed = 0;
	int err = dir ? kv_sink_mkdirs(dir)
		      : ck_err(-ENOMEM, "orbax writer: out of memory");

	if (!err)
		err = ck_buf_printf(&b, "{\"array_metadatas\": [");
	for (size_t i = 0; i < w->n && !err; i++) {
		if (w->a[i].kind != OW_ARRAY)
			continue;
		err = ck_buf_printf(&b, "%s{\"array_metadata\": {\"param_name\": "
				    "\"%s\", \"write_shape\": ",
				    listed++ ? ", " : "", w->a[i].name);
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

/* base64url (with '=' padding, as Python's urlsafe_b64encode) of s. */
static char *b64url(const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), o = 0;
	char *out = malloc((n + 2) / 3 * 4 + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* _sharding: every array leaf on the options' device. */
static int write_sharding(struct orbax_writer *w)
{
	struct ck_buf b = CK_BUF_INIT;
	char **keys = calloc(w->n + 1, sizeof(*keys));
	size_t nk = 0;
	int err = keys ? 0 : ck_err(-ENOMEM, "orbax writer: out of memory");

	for (size_t i = 0; i < w->n && !err; i++) {
		if (w->a[i].kind != OW_ARRAY)
			continue;
		keys[nk] = b64url(w->a[i].name);
		if (!keys[nk++])
			err = ck_err(-ENOMEM, "orbax writer: out of memory");
	}
	if (!err)
		qsort(keys, nk, sizeof(*keys), cmp_str);
	if (!err)
		err = ck_buf_printf(&b, "{");
	for (size_t i = 0; i < nk && !err; i++)
		err = ck_buf_printf(&b, "%s\"%s\":\"{\\\"sharding_type\\\": "
				    "\\\"SingleDeviceSharding\\\", "
				    "\\\"device_str\\\": \\\"%s\\\"}\"",
				    i ? "," : "", keys[i], w->sharding_device);
	if (!err)
		err = ck_buf_printf(&b, "}");
	if (!err)
		err = write_json(w->items, "_sharding", &b);
	for (size_t i = 0; keys && i < nk; i++)
		free(keys[i]);
	free(keys);
	ck_buf_release(&b);
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
	if (!err && w->sharding_device)
		err = write_sharding(w);
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
	free(w->sharding_device);
	free(w->tmp);
	free(w->final);
	free(w);
}
