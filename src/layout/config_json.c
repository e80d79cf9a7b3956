/* SPDX-License-Identifier: MIT */
/* This file implements config.json rendering (config_json.h): patch the
 * dtype and print the cJSON tree in json.dumps(indent=2, sort_keys=True)
 * form. */
#include "layout/config_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "layout/json_out.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_json.h"

/* An object member and its position, for a stable sort by key. */
struct cfg_member {
	const cJSON *item;	/* borrowed from the document */
	size_t pos;		/* position in the source object */
};

static int cmp_member(const void *a, const void *b)
{
	const struct cfg_member *x = a, *y = b;
	int c = strcmp(x->item->string, y->item->string);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int print_value(struct ck_buf *b, const cJSON *v, unsigned depth);

static int indent(struct ck_buf *b, unsigned depth)
{
	return ck_buf_printf(b, "\n%*s", (int)(2 * depth), "");
}

static int print_str(struct ck_buf *b, const char *s)
{
	return json_out_str(b, s, strlen(s), JSON_OUT_ASCII);
}

static int print_object(struct ck_buf *b, const cJSON *obj, unsigned depth)
{
	struct cfg_member *m;
	const cJSON *c;
	size_t n = 0, i;
	int err = 0, first = 1;

	for (c = obj->child; c; c = c->next)
		n++;
	if (!n)
		return ck_buf_printf(b, "{}");
	m = calloc(n, sizeof(*m));
	if (!m)
		return ck_err(-ENOMEM, "out of memory");
	for (i = 0, c = obj->child; c; c = c->next, i++)
		m[i] = (struct cfg_member){ c, i };
	qsort(m, n, sizeof(*m), cmp_member);
	err = ck_buf_printf(b, "{");
	for (i = 0; !err && i < n; i++) {
		/* A repeated key: json.loads keeps the last value. */
		if (i + 1 < n && strcmp(m[i].item->string, m[i + 1].item->string) == 0)
			continue;
		if (!first)
			err = ck_buf_printf(b, ",");
		first = 0;
		if (!err)
			err = indent(b, depth + 1);
		if (!err)
			err = print_str(b, m[i].item->string);
		if (!err)
			err = ck_buf_printf(b, ": ");
		if (!err)
			err = print_value(b, m[i].item, depth + 1);
	}
	if (!err)
		err = indent(b, depth);
	if (!err)
		err = ck_buf_printf(b, "}");
	free(m);
	return err;
}

static int print_array(struct ck_buf *b, const cJSON *arr, unsigned depth)
{
	const cJSON *c;
	int err = 0;

	if (!arr->child)
		return ck_buf_printf(b, "[]");
	err = ck_buf_printf(b, "[");
	for (c = arr->child; !err && c; c = c->next) {
		if (c != arr->child)
			err = ck_buf_printf(b, ",");
		if (!err)
			err = indent(b, depth + 1);
		if (!err)
			err = print_value(b, c, depth + 1);
	}
	if (!err)
		err = indent(b, depth);
	if (!err)
		err = ck_buf_printf(b, "]");
	return err;
}

/* Recursion depth is bounded by cJSON's nesting limit (1000). */
static int print_value(struct ck_buf *b, const cJSON *v, unsigned depth)
{
	if (cJSON_IsObject(v))
		return print_object(b, v, depth);
	if (cJSON_IsArray(v))
		return print_array(b, v, depth);
	if (cJSON_IsString(v))
		return print_str(b, v->valuestring);
	if (cJSON_IsNumber(v))
		return json_out_num(b, v->valuedouble);
	if (cJSON_IsTrue(v))
		return ck_buf_printf(b, "true");
	if (cJSON_IsFalse(v))
		return ck_buf_printf(b, "false");
	if (cJSON_IsNull(v))
		return ck_buf_printf(b, "null");
	return ck_err(-EINVAL, "config.json: unexpected JSON value");
}

/* Set member key of obj to the string s, replacing every copy of it. */
static int set_str(cJSON *obj, const char *key, const char *s)
{
	cJSON *v;

	while (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	v = cJSON_AddStringToObject(obj, key, s);
	return v ? 0 : ck_err(-ENOMEM, "out of memory");
}

static int patch_dtype(cJSON *doc, const char *torch_dtype)
{
	const cJSON *d;
	int err;

	if (!torch_dtype)
		return 0;
	if (strcmp(torch_dtype, "bfloat16") && strcmp(torch_dtype, "float32") &&
	    strcmp(torch_dtype, "float16"))
		return ck_err(-EINVAL, "config.json: unsupported torch_dtype '%s'",
			      torch_dtype);
	err = set_str(doc, "torch_dtype", torch_dtype);
	d = cJSON_GetObjectItemCaseSensitive(doc, "dtype");
	if (!err && cJSON_IsString(d))
		err = set_str(doc, "dtype", torch_dtype);
	return err;
}

static int parse_object(const char *text, size_t n, cJSON **out)
{
	const char *end = NULL;
	cJSON *doc;
	size_t at;

	ck_json_alloc_reset();
	doc = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (!doc && ck_json_alloc_failed())
		return ck_err(-ENOMEM, "config.json: out of memory");
	if (!doc) {
		at = end ? (size_t)(end - text) : 0;
		return ck_err(-EINVAL, "config.json: invalid JSON near byte %zu", at);
	}
	/* cJSON stops after the first value; only whitespace may follow. */
	at = (size_t)(end - text);
	while (at < n && strchr(" \t\r\n", text[at]) && text[at])
		at++;
	if (at < n) {
		cJSON_Delete(doc);
		return ck_err(-EINVAL, "config.json: trailing bytes at byte %zu", at);
	}
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return ck_err(-EINVAL, "config.json: not a JSON object");
	}
	*out = doc;
	return 0;
}

int config_json_render(const char *base_json, size_t n, const char *torch_dtype,
		       char **out, size_t *outlen)
{
	struct ck_buf b = CK_BUF_INIT;
	cJSON *doc = NULL;
	size_t len;
	int err;

	err = parse_object(base_json, n, &doc);
	if (!err)
		err = patch_dtype(doc, torch_dtype);
	if (!err)
		err = print_value(&b, doc, 0);
	if (!err)
		err = ck_buf_printf(&b, "\n");
	cJSON_Delete(doc);
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	*out = (char *)ck_buf_detach(&b, &len);
	*outlen = len;
	return 0;
}
