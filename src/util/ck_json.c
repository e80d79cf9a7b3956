/* SPDX-License-Identifier: MIT */
/* This file implements the cJSON wrappers of ck_json.h. */
#include "util/ck_json.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "util/ck_err.h"

static pthread_once_t json_hooks_once = PTHREAD_ONCE_INIT;
static _Thread_local int json_alloc_failed;

static void *json_malloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		json_alloc_failed = 1;
	return p;
}

static void json_hooks_init(void)
{
	cJSON_Hooks h = { json_malloc, free };

	cJSON_InitHooks(&h);
}

void ck_json_alloc_reset(void)
{
	pthread_once(&json_hooks_once, json_hooks_init);
	json_alloc_failed = 0;
}

int ck_json_alloc_failed(void)
{
	return json_alloc_failed;
}

int ck_json_parse(const void *text, size_t n, cJSON **out)
{
	const char *end = NULL;
	cJSON *doc;

	ck_json_alloc_reset();
	doc = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (!doc && ck_json_alloc_failed())
		return ck_err(-ENOMEM, "out of memory parsing JSON");
	if (!doc) {
		size_t at = end ? (size_t)(end - (const char *)text) : 0;

		return ck_err(-EINVAL, "invalid JSON near byte %zu", at);
	}
	*out = doc;
	return 0;
}

const cJSON *ck_json_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int ck_json_get_str(const cJSON *obj, const char *key, const char **s)
{
	const cJSON *v = ck_json_get(obj, key);

	if (!v)
		return ck_err(-ENOENT, "missing member '%s'", key);
	if (!cJSON_IsString(v) || !v->valuestring)
		return ck_err(-EINVAL, "member '%s' is not a string", key);
	*s = v->valuestring;
	return 0;
}

int ck_json_num_i64(const cJSON *num, int64_t min, int64_t max, int64_t *v,
		    const char *what)
{
	double d;

	if (!cJSON_IsNumber(num))
		return ck_err(-EINVAL, "'%s' is not a number", what);
	d = num->valuedouble;
	/* 2^63 is exactly representable; anything at or past it does not fit. */
	if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 ||
	    d >= 9223372036854775808.0)
		return ck_err(-EINVAL, "'%s' is not a 64-bit integer", what);
	if ((int64_t)d < min || (int64_t)d > max)
		return ck_err(-EINVAL, "'%s' = %.0f is out of range [%lld, %lld]", what,
			      d, (long long)min, (long long)max);
	*v = (int64_t)d;
	return 0;
}

int ck_json_get_i64(const cJSON *obj, const char *key, int64_t min, int64_t max,
		    int64_t *v)
{
	const cJSON *n = ck_json_get(obj, key);

	if (!n)
		return ck_err(-ENOENT, "missing member '%s'", key);
	return ck_json_num_i64(n, min, max, v, key);
}

int ck_json_get_bool(const cJSON *obj, const char *key, int *v)
{
	const cJSON *b = ck_json_get(obj, key);

	if (!b)
		return ck_err(-ENOENT, "missing member '%s'", key);
	if (!cJSON_IsBool(b))
		return ck_err(-EINVAL, "member '%s' is not a boolean", key);
	*v = cJSON_IsTrue(b);
	return 0;
}

int ck_json_get_u64_array(const cJSON *obj, const char *key, uint64_t max,
			  uint64_t *vals, size_t cap, size_t *n)
{
	const cJSON *a = ck_json_get(obj, key), *e;
	size_t i = 0;

	if (!a)
		return ck_err(-ENOENT, "missing member '%s'", key);
	if (!cJSON_IsArray(a))
		return ck_err(-EINVAL, "member '%s' is not an array", key);
	cJSON_ArrayForEach(e, a) {
		int64_t v = 0;
		int err;

		if (i >= cap)
			return ck_err(-EOVERFLOW, "'%s' has more than %zu elements", key, cap);
		err = ck_json_num_i64(e, 0, max > INT64_MAX ? INT64_MAX : (int64_t)max,
				      &v, key);
		if (err)
			return err;
		vals[i++] = (uint64_t)v;
	}
	*n = i;
	return 0;
}
