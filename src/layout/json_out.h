/* SPDX-License-Identifier: MIT */
/*
 * json_out.h - deterministic JSON text for the files ckptfs synthesizes
 * (safetensors headers, the shard index, config.json).
 *
 * Two string styles exist because two writers are mirrored byte for byte:
 *   JSON_OUT_RAW    serde_json (the safetensors reference writer): escapes
 *                   '"', '\\' and bytes below 0x20 (\b \t \n \f \r short,
 *                   others \u00XX); every other byte is copied, so UTF-8
 *                   stays UTF-8.
 *   JSON_OUT_ASCII  Python's json.dumps with ensure_ascii (MaxText's index,
 *                   transformers' config.json): the same short escapes, and
 *                   everything outside 0x20..0x7e as \uXXXX (surrogate pairs
 *                   above U+FFFF).
 * Strings must be valid UTF-8 (checked; -EINVAL otherwise).  Pure functions
 * over the caller's buffer; thread-safe.
 */
#ifndef JSON_OUT_H
#define JSON_OUT_H

#include <stddef.h>

#include "util/ck_buf.h"

enum json_out_style {
	JSON_OUT_RAW,		/* serde_json: UTF-8 copied */
	JSON_OUT_ASCII,		/* json.dumps(ensure_ascii=True) */
};

/* 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int json_out_utf8_valid(const char *s, size_t n);

/* Append s[0..n) as a quoted JSON string.  -EINVAL (invalid UTF-8),
 * -ENOMEM, -EOVERFLOW. */
int json_out_str(struct ck_buf *b, const char *s, size_t n,
		 enum json_out_style style);

/*
 * Append a finite double the way Python's json.dumps prints a number parsed
 * from JSON: integral values of magnitude below 2^53 as integers ("128256",
 * "500000": cJSON cannot tell 500000.0 from 500000, so both print as the
 * integer), everything else as the shortest "%.{1..17}g" text that
 * strtod() reads back exactly ("1e-05", "0.02", "5e-324"), which is
 * Python's repr() except that %g keeps positional notation up to 17 digits
 * where repr() switches to an exponent at 1e16.  -EINVAL for NaN or
 * infinity, -ENOMEM.
 */
int json_out_num(struct ck_buf *b, double d);

#endif
