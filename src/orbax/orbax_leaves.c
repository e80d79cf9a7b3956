/* SPDX-License-Identifier: MIT */
/*
 * This file implements the leaf list of an Orbax item and its metadata texts
 * (orbax_leaves.h), printed by hand rather than through cJSON because the
 * exact bytes matter: tests compare them with what Orbax writes.
 */
#include "orbax/orbax_leaves.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"

int orbax_leaves_check(const struct orbax_leaves *l, const char *name)
{
	size_t n = strlen(name);

	if (!n || name[0] == '.' || name[n - 1] == '.' || strstr(name, ".."))
		goto bad;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' ||
		    *p == '\'' || *p == '"' || *p == '\\')
			goto bad;
	for (size_t i = 0; i < l->n; i++) {
		const char *o = l->v[i].name;
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

int orbax_leaves_empty_type(const char *value_type, const char **out)
{
	static const char *const types[] = {"Dict", "List", "Tuple",
					    "NamedTuple", "None"};

	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
		if (value_type && !strcmp(value_type, types[i])) {
			*out = types[i];
			return 0;
		}
	return ck_err(-EINVAL, "orbax writer: '%s' is not an empty "
		      "container type", value_type ? value_type : "");
}

int orbax_leaves_add(struct orbax_leaves *l, const char *name,
		     enum orbax_leaf_kind kind, const char *value_type,
		     unsigned rank, const uint64_t *chunk)
{
	struct orbax_leaf *a;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct orbax_leaf *nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv)
			return ck_err(-ENOMEM, "orbax writer: out of memory");
		l->v = nv;
		l->cap = nc;
	}
	a = &l->v[l->n];
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	if (!a->name)
		return ck_err(-ENOMEM, "orbax writer: out of memory");
	a->kind = kind;
	if (kind == ORBAX_LEAF_EMPTY)
		a->value_type = value_type;
	if (kind == ORBAX_LEAF_ARRAY) {
		a->rank = rank < ZARR_MAX_RANK ? rank : ZARR_MAX_RANK;
		memcpy(a->chunk, chunk, a->rank * sizeof(*chunk));
	}
	l->n++;
	return 0;
}

/* Key paths in PyTree order: component by component ('.' ends one). */
static int path_cmp(const void *pa, const void *pb)
{
	const char *a = ((const struct orbax_leaf *)pa)->name;
	const char *b = ((const struct orbax_leaf *)pb)->name;

	for (;; a++, b++) {
		int ca = *a == '.' ? 1 : *a ? (unsigned char)*a + 1 : 0;
		int cb = *b == '.' ? 1 : *b ? (unsigned char)*b + 1 : 0;

		if (ca != cb)
			return ca - cb;
		if (!ca)
			return 0;
	}
}

void orbax_leaves_sort(struct orbax_leaves *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), path_cmp);
}

static int print_dims(struct ck_buf *b, const struct orbax_leaf *a)
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
static int meta_leaf(struct ck_buf *b, const struct orbax_leaf *a)
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
	case ORBAX_LEAF_ARRAY:
		err = ck_buf_printf(b, "\"jax.Array\", \"skip_deserialize\": "
				    "false, \"write_shape\": ");
		if (!err)
			err = print_dims(b, a);
		break;
	case ORBAX_LEAF_SCALAR:
		err = ck_buf_printf(b, "\"scalar\", \"skip_deserialize\": "
				    "false");
		break;
	case ORBAX_LEAF_EMPTY:
		err = ck_buf_printf(b, "\"%s\", \"skip_deserialize\": true",
				    a->value_type);
		break;
	}
	return err ? err : ck_buf_printf(b, "}}");
}

int orbax_leaves_metadata(const struct orbax_leaves *l, int use_ocdbt,
			  int use_zarr3, struct ck_buf *out)
{
	int err = ck_buf_printf(out, "{\"tree_metadata\": {");

	for (size_t i = 0; i < l->n && !err; i++) {
		if (i)
			err = ck_buf_printf(out, ", ");
		if (!err)
			err = meta_leaf(out, &l->v[i]);
	}
	if (!err)
		err = ck_buf_printf(
			out,
			"}, \"use_ocdbt\": %s, \"use_zarr3\": %s, "
			"\"store_array_data_equal_to_fill_value\": true, "
			"\"custom_metadata\": null}",
			use_ocdbt ? "true" : "false",
			use_zarr3 ? "true" : "false");
	return err;
}

int orbax_leaves_array_metadatas(const struct orbax_leaves *l,
				 struct ck_buf *out)
{
	size_t listed = 0;
	int err = ck_buf_printf(out, "{\"array_metadatas\": [");

	for (size_t i = 0; i < l->n && !err; i++) {
		if (l->v[i].kind != ORBAX_LEAF_ARRAY)
			continue;
		err = ck_buf_printf(out, "%s{\"array_metadata\": {\"param_name\": "
				    "\"%s\", \"write_shape\": ",
				    listed++ ? ", " : "", l->v[i].name);
		if (!err)
			err = print_dims(out, &l->v[i]);
		if (!err)
			err = ck_buf_printf(out, ", \"chunk_shape\": ");
		if (!err)
			err = print_dims(out, &l->v[i]);
		if (!err)
			err = ck_buf_printf(out, ", \"ext_metadata\": null}}");
	}
	return err ? err : ck_buf_printf(out, "]}");
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

int orbax_leaves_sharding(const struct orbax_leaves *l, const char *device,
			  struct ck_buf *out)
{
	char **keys = calloc(l->n + 1, sizeof(*keys));
	size_t nk = 0;
	int err = keys ? 0 : ck_err(-ENOMEM, "orbax writer: out of memory");

	for (size_t i = 0; i < l->n && !err; i++) {
		if (l->v[i].kind != ORBAX_LEAF_ARRAY)
			continue;
		keys[nk] = b64url(l->v[i].name);
		if (!keys[nk++])
			err = ck_err(-ENOMEM, "orbax writer: out of memory");
	}
	if (!err)
		qsort(keys, nk, sizeof(*keys), cmp_str);
	if (!err)
		err = ck_buf_printf(out, "{");
	for (size_t i = 0; i < nk && !err; i++)
		err = ck_buf_printf(out, "%s\"%s\":\"{\\\"sharding_type\\\": "
				    "\\\"SingleDeviceSharding\\\", "
				    "\\\"device_str\\\": \\\"%s\\\"}\"",
				    i ? "," : "", keys[i], device);
	if (!err)
		err = ck_buf_printf(out, "}");
	for (size_t i = 0; keys && i < nk; i++)
		free(keys[i]);
	free(keys);
	return err;
}

int orbax_leaves_step_metadata(const char *item_handlers, uint64_t init_ns,
			       uint64_t commit_ns, int scan_layers,
			       struct ck_buf *out)
{
	int err = ck_buf_printf(out,
				"{\"item_handlers\": {%s}, "
				"\"metrics\": {}, \"performance_metrics\": {}, "
				"\"init_timestamp_nsecs\": %llu, "
				"\"commit_timestamp_nsecs\": %llu, "
				"\"custom_metadata\": {", item_handlers,
				(unsigned long long)init_ns,
				(unsigned long long)commit_ns);

	if (!err && scan_layers >= 0)
		err = ck_buf_printf(out, "\"scan_layers\": %s",
				    scan_layers ? "true" : "false");
	return err ? err : ck_buf_printf(out, "}}");
}

void orbax_leaves_release(struct orbax_leaves *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
