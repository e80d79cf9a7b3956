/* SPDX-License-Identifier: MIT */
/*
 * ck_json.h - the cJSON traps handled once.
 *
 * Lookups are case-sensitive; 64-bit integers come from valuedouble with an
 * exactness check (cJSON's valueint is an int); documents are parsed with an
 * explicit length because file contents are not NUL-terminated.  Each getter
 * returns -ENOENT when the member is absent and -EINVAL (with a message naming
 * the member) when it has the wrong type.  cJSON nodes are borrowed from the
 * caller's document.
 */
#ifndef CK_JSON_H
#define CK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Parse n bytes of JSON.  The caller frees *out with cJSON_Delete().
 * -EINVAL with a message giving the byte offset of the syntax error,
 * -ENOMEM. */
int ck_json_parse(const void *text, size_t n, cJSON **out);

/*
 * cJSON reports an allocation failure in a parse as a syntax error (NULL).
 * Its allocations go through hooks that note a failure per thread:
 * ck_json_alloc_reset() installs them (once) and clears the calling thread's
 * note, to be called before a cJSON_Parse*(); ck_json_alloc_failed() is 1
 * when an allocation of this thread failed since.
 */
void ck_json_alloc_reset(void);
int ck_json_alloc_failed(void);

/* Member `key` of object obj, or NULL (also when obj is not an object). */
const cJSON *ck_json_get(const cJSON *obj, const char *key);

/* String member: *s is borrowed from the document. */
int ck_json_get_str(const cJSON *obj, const char *key, const char **s);

/* Integer-valued number in [min, max], exactly representable. */
int ck_json_get_i64(const cJSON *obj, const char *key, int64_t min, int64_t max,
		    int64_t *v);
int ck_json_num_i64(const cJSON *num, int64_t min, int64_t max, int64_t *v,
		    const char *what);

/* Boolean member. */
int ck_json_get_bool(const cJSON *obj, const char *key, int *v);

/* Array of non-negative integers (each <= max), at most cap elements. */
int ck_json_get_u64_array(const cJSON *obj, const char *key, uint64_t max,
			  uint64_t *vals, size_t cap, size_t *n);

#endif
