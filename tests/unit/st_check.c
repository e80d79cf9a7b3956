/* SPDX-License-Identifier: MIT */
/* This file implements the strict safetensors parser of st_check.h, used by
 * the tests to judge files they did not write. */
#include "st_check.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define ST_CHECK_HEADER_MAX 100000000ull

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	{ "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "I16", 2 }, { "U16", 2 },
	{ "F16", 2 }, { "BF16", 2 }, { "I32", 4 }, { "U32", 4 }, { "F32", 4 },
	{ "F64", 8 }, { "I64", 8 }, { "U64", 8 },
};

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

/* Strict UTF-8: shortest forms only, no surrogates, at most U+10FFFF. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0, len, k;
	uint32_t c;

	while (i < n) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, c &= 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, c &= 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, c &= 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (s[i + k] & 0x3fu);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* A JSON number that is an exact integer in [0, 2^53]. */
static int get_u64(const cJSON *v, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
		return 0;
	*out = (uint64_t)d;
	return 1;
}

static int check_metadata(const cJSON *m, char *why, size_t whylen)
{
	const cJSON *c, *f = NULL;

	if (!cJSON_IsObject(m))
		return fail(why, whylen, "__metadata__ is not an object");
	for (c = m->child; c; c = c->next) {
		if (!cJSON_IsString(c))
			return fail(why, whylen, "__metadata__.%s is not a string",
				    c->string);
		if (strcmp(c->string, "format") == 0)
			f = c;
	}
	if (!f || strcmp(f->valuestring, "pt") != 0)
		return fail(why, whylen, "__metadata__ lacks \"format\": \"pt\"");
	return 0;
}

/* One tensor entry, checked and copied into t (t->name set by the caller). */
static int check_tensor(const cJSON *e, struct st_check_tensor *t, char *why,
			size_t whylen)
{
	const cJSON *c, *dt = NULL, *sh = NULL, *off = NULL;
	uint64_t numel = 1, nbytes, v;
	size_t i;

	if (!cJSON_IsObject(e))
		return fail(why, whylen, "'%s' is not an object", e->string);
	for (c = e->child; c; c = c->next) {
		if (strcmp(c->string, "dtype") == 0 && !dt)
			dt = c;
		else if (strcmp(c->string, "shape") == 0 && !sh)
			sh = c;
		else if (strcmp(c->string, "data_offsets") == 0 && !off)
			off = c;
		else
			return fail(why, whylen, "'%s': unexpected member '%s'",
				    e->string, c->string);
	}
	if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
		return fail(why, whylen, "'%s': needs dtype, shape, data_offsets",
			    e->string);
	for (i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strcmp(dt->valuestring, dtypes[i].name) == 0)
			break;
	if (i == sizeof(dtypes) / sizeof(dtypes[0]))
		return fail(why, whylen, "'%s': unknown dtype '%s'", e->string,
			    dt->valuestring);
	snprintf(t->dtype, sizeof(t->dtype), "%s", dtypes[i].name);
	t->itemsize = dtypes[i].size;
	t->rank = 0;
	for (c = sh->child; c; c = c->next) {
		if (t->rank == ST_CHECK_MAX_RANK || !get_u64(c, &v))
			return fail(why, whylen, "'%s': bad shape", e->string);
		t->shape[t->rank++] = v;
		if (__builtin_mul_overflow(numel, v, &numel))
			return fail(why, whylen, "'%s': shape overflows", e->string);
	}
	if (cJSON_GetArraySize(off) != 2 || !get_u64(off->child, &t->begin) ||
	    !get_u64(off->child->next, &t->end) || t->end < t->begin)
		return fail(why, whylen, "'%s': bad data_offsets", e->string);
	if (__builtin_mul_overflow(numel, (uint64_t)t->itemsize, &nbytes) ||
	    t->end - t->begin != nbytes)
		return fail(why, whylen, "'%s': data_offsets [%llu, %llu] do not "
			    "hold %llu elements of %s", e->string,
			    (unsigned long long)t->begin, (unsigned long long)t->end,
			    (unsigned long long)numel, t->dtype);
	return 0;
}

static int cmp_offsets(const void *a, const void *b)
{
	const struct st_check_tensor *x = *(const struct st_check_tensor *const *)a;
	const struct st_check_tensor *y = *(const struct st_check_tensor *const *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

/* Sorted by begin, the tensors tile [0, D); D is returned in *data_len. */
static int check_tiling(const struct st_check_result *r, uint64_t *data_len,
			char *why, size_t whylen)
{
	const struct st_check_tensor **v;
	uint64_t cur = 0;
	size_t i;
	int err = 0;

	v = calloc(r->n ? r->n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < r->n; i++)
		v[i] = &r->t[i];
	qsort(v, r->n, sizeof(*v), cmp_offsets);
	for (i = 0; !err && i < r->n; i++) {
		if (v[i]->begin != cur)
			err = fail(why, whylen, "'%s' starts at %llu, expected %llu "
				   "(hole or overlap)", v[i]->name,
				   (unsigned long long)v[i]->begin,
				   (unsigned long long)cur);
		cur = v[i]->end;
	}
	free(v);
	*data_len = cur;
	return err;
}

/* Walk the members of the header object into r. */
static int check_members(const cJSON *doc, struct st_check_result *r, char *why,
			 size_t whylen)
{
	const cJSON *c, *d;
	int err;

	for (c = doc->child; c; c = c->next) {
		for (d = doc->child; d != c; d = d->next)
			if (strcmp(d->string, c->string) == 0)
				return fail(why, whylen, "key '%s' repeats", c->string);
		if (strcmp(c->string, "__metadata__") == 0) {
			err = check_metadata(c, why, whylen);
			if (err)
				return err;
			r->has_metadata = 1;
			continue;
		}
		r->t[r->n].name = strdup(c->string);
		if (!r->t[r->n].name)
			return -ENOMEM;
		err = check_tensor(c, &r->t[r->n++], why, whylen);
		if (err)
			return err;
	}
	return 0;
}

static int parse_header(const uint8_t *h, size_t hn, struct st_check_result *r,
			char *why, size_t whylen)
{
	const char *end = NULL;
	cJSON *doc;
	size_t at;
	int err;

	if (!utf8_ok(h, hn))
		return fail(why, whylen, "header is not UTF-8");
	if (hn == 0 || h[0] != '{')
		return fail(why, whylen, "header does not start with '{'");
	doc = cJSON_ParseWithLengthOpts((const char *)h, hn, &end, 0);
	if (!doc)
		return fail(why, whylen, "header is not JSON (near byte %zu)",
			    end ? (size_t)(end - (const char *)h) : 0);
	for (at = (size_t)(end - (const char *)h); at < hn; at++)
		if (h[at] != ' ')
			break;
	if (at < hn) {
		cJSON_Delete(doc);
		return fail(why, whylen, "header byte %zu after the JSON is 0x%02x, "
			    "not a space", at, h[at]);
	}
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return fail(why, whylen, "header is not a JSON object");
	}
	r->t = calloc((size_t)cJSON_GetArraySize(doc) + 1, sizeof(*r->t));
	err = r->t ? check_members(doc, r, why, whylen) : -ENOMEM;
	cJSON_Delete(doc);
	return err;
}

int st_check_file(const uint8_t *p, size_t n, char *why, size_t whylen,
		  struct st_check_result *res)
{
	struct st_check_result r = { 0 };
	uint64_t hlen = 0, total;
	int i, err;

	if (why && whylen)
		why[0] = '\0';
	if (n < 8)
		return fail(why, whylen, "file of %zu bytes has no header length", n);
	for (i = 7; i >= 0; i--)
		hlen = (hlen << 8) | p[i];
	if (hlen > ST_CHECK_HEADER_MAX || hlen > n - 8)
		return fail(why, whylen, "header length %llu does not fit in %zu bytes",
			    (unsigned long long)hlen, n);
	r.header_len = 8 + hlen;
	if (r.header_len % 8)
		return fail(why, whylen, "8 + N = %llu is not a multiple of 8",
			    (unsigned long long)r.header_len);
	err = parse_header(p + 8, (size_t)hlen, &r, why, whylen);
	if (!err)
		err = check_tiling(&r, &r.data_len, why, whylen);
	if (!err && (__builtin_add_overflow(r.header_len, r.data_len, &total) ||
		     total != n))
		err = fail(why, whylen, "8 + N + data = %llu + %llu, but the file "
			   "has %zu bytes", (unsigned long long)r.header_len,
			   (unsigned long long)r.data_len, n);
	if (err || !res)
		st_check_result_release(&r);
	else
		*res = r;
	return err;
}

const struct st_check_tensor *st_check_find(const struct st_check_result *res,
					    const char *name)
{
	size_t i;

	for (i = 0; i < res->n; i++)
		if (strcmp(res->t[i].name, name) == 0)
			return &res->t[i];
	return NULL;
}

void st_check_result_release(struct st_check_result *res)
{
	size_t i;

	if (!res)
		return;
	for (i = 0; i < res->n; i++)
		free(res->t[i].name);
	free(res->t);
	memset(res, 0, sizeof(*res));
}
