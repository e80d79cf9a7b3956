/* SPDX-License-Identifier: MIT */
/*
 * This file implements the parsing of Orbax's _METADATA and
 * _CHECKPOINT_METADATA JSON files.
 *
 * _METADATA: {"tree_metadata": {"('a', 'b')": {"key_metadata": [{"key": "a",
 * "key_type": 2}, ...], "value_metadata": {"value_type": "jax.Array",
 * "skip_deserialize": false, ...}}, ...}, "use_zarr3": true, ...}.  The leaf
 * name is the keys joined with '.'.  Old files without key_metadata are
 * named from the tuple string itself.
 */
#include "orbax/orbax_meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_json.h"

#define ORBAX_MAX_LEAVES (1u << 22)

/* Leaves whose data is not in the array store. */
static int value_type_is_array(const char *t)
{
	return !strcmp(t, "jax.Array") || !strcmp(t, "np.ndarray") ||
	       !strcmp(t, "scalar");
}

static int append_key(struct ck_buf *b, const char *key, size_t n)
{
	int err = 0;

	if (b->len)
		err = ck_buf_append(b, ".", 1);
	if (!err)
		err = ck_buf_append(b, key, n);
	return err;
}

/* Name a leaf from key_metadata: [{"key": "a", "key_type": 2}, ...]. */
static int name_from_keys(const cJSON *keys, struct ck_buf *b)
{
	const cJSON *k;
	int err;

	cJSON_ArrayForEach(k, keys) {
		const char *s;

		err = ck_json_get_str(k, "key", &s);
		if (err)
			return ck_err_ctx(err, "key_metadata");
		err = append_key(b, s, strlen(s));
		if (err)
			return err;
	}
	return 0;
}

/* Name a leaf from its tuple string: "('a', 'b')" or "('a',)". */
static int name_from_tuple(const char *t, struct ck_buf *b)
{
	const char *p = t;
	int err;

	if (*p++ != '(')
		goto bad;
	while (*p && *p != ')') {
		const char *end;
		char q = *p;

		if (q != '\'' && q != '"')
			goto bad;
		end = strchr(p + 1, q);
		if (!end)
			goto bad;
		err = append_key(b, p + 1, (size_t)(end - p - 1));
		if (err)
			return err;
		p = end + 1;
		if (*p == ',')
			p++;
		while (*p == ' ')
			p++;
	}
	if (*p != ')' || !b->len)
		goto bad;
	return 0;
bad:
	return ck_err(-EINVAL, "cannot parse tree path \"%s\"", t);
}

static int parse_leaf(const cJSON *entry, struct orbax_leaf *leaf)
{
	const cJSON *keys = ck_json_get(entry, "key_metadata");
	const cJSON *vm = ck_json_get(entry, "value_metadata");
	struct ck_buf name = CK_BUF_INIT;
	const char *vt = NULL;
	int err, skip = 0, is_array = 1;

	if (cJSON_IsArray(keys) && cJSON_GetArraySize(keys) > 0)
		err = name_from_keys(keys, &name);
	else
		err = name_from_tuple(entry->string, &name);
	if (!err)
		err = ck_buf_append(&name, "", 1);
	if (err)
		goto out;
	if (cJSON_IsObject(vm)) {
		err = ck_json_get_bool(vm, "skip_deserialize", &skip);
		if (err == -ENOENT)
			err = 0;
		if (err)
			goto out;
		if (ck_json_get_str(vm, "value_type", &vt) == 0 &&
		    !value_type_is_array(vt))
			is_array = 0;
	}
	leaf->name = (char *)ck_buf_detach(&name, NULL);
	leaf->skip = skip;
	leaf->is_array = is_array;
	ck_err_clear();
	return 0;
out:
	ck_buf_release(&name);
	return ck_err_ctx(err, "tree_metadata entry \"%s\"", entry->string);
}

int orbax_meta_parse(const char *text, size_t n, struct orbax_meta *out)
{
	const cJSON *tree, *entry;
	struct orbax_meta m = { 0, NULL, -1 };
	cJSON *doc = NULL;
	int err, count, z3;

	err = ck_json_parse(text, n, &doc);
	if (err)
		return err;
	tree = ck_json_get(doc, "tree_metadata");
	if (!cJSON_IsObject(tree)) {
		err = ck_err(-EINVAL, "missing object 'tree_metadata'");
		goto out;
	}
	count = cJSON_GetArraySize(tree);
	if (count < 0 || (unsigned)count > ORBAX_MAX_LEAVES) {
		err = ck_err(-EOVERFLOW, "%d leaves is more than the %u allowed",
			     count, ORBAX_MAX_LEAVES);
		goto out;
	}
	m.leaves = calloc((size_t)count + 1, sizeof(*m.leaves));
	if (!m.leaves) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(entry, tree) {
		err = parse_leaf(entry, &m.leaves[m.nleaves]);
		if (err)
			goto out;
		m.nleaves++;
	}
	if (ck_json_get_bool(doc, "use_zarr3", &z3) == 0)
		m.use_zarr3 = z3;
	ck_err_clear();
	*out = m;
	m.leaves = NULL;
	m.nleaves = 0;
out:
	orbax_meta_release(&m);
	cJSON_Delete(doc);
	return err;
}

void orbax_meta_release(struct orbax_meta *m)
{
	for (size_t i = 0; i < m->nleaves; i++)
		free(m->leaves[i].name);
	free(m->leaves);
	m->leaves = NULL;
	m->nleaves = 0;
}

int orbax_step_meta_scan_layers(const char *text, size_t n)
{
	const cJSON *cm;
	cJSON *doc = NULL;
	int v = -1, b;

	if (ck_json_parse(text, n, &doc))
		return -1;
	cm = ck_json_get(doc, "custom_metadata");
	if (ck_json_get_bool(cm, "scan_layers", &b) == 0)
		v = b;
	cJSON_Delete(doc);
	ck_err_clear();
	return v;
}
