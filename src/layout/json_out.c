/* SPDX-License-Identifier: MIT */
/* This file implements the deterministic JSON string and number writers of
 * json_out.h. */
#include "layout/json_out.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/ck_err.h"

/*
 * Decode one UTF-8 sequence at s[0..n) (n >= 1).  Returns its length and
 * sets *cp, or 0 when the bytes are not a valid, shortest-form encoding of
 * a scalar value.
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int json_out_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_decode(p + i, n - i, &cp);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

static int put_u16(struct ck_buf *b, uint32_t u)
{
	return ck_buf_printf(b, "\\u%04x", (unsigned)u);
}

/* The escapes both serde_json and Python agree on; 0 when c has none. */
static const char *short_escape(uint32_t c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: return NULL;
	}
}

int json_out_str(struct ck_buf *b, const char *s, size_t n,
		 enum json_out_style style)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *esc;
	uint32_t cp;
	size_t i = 0, k, run;
	int err;

	if (!json_out_utf8_valid(s, n))
		return ck_err(-EINVAL, "json: string is not valid UTF-8");
	err = ck_buf_append(b, "\"", 1);
	while (!err && i < n) {
		/* Copy the longest run that needs no escaping in one go. */
		for (run = i; run < n; run++) {
			if (p[run] < 0x20 || p[run] == '"' || p[run] == '\\')
				break;
			if (style == JSON_OUT_ASCII && p[run] >= 0x7f)
				break;
		}
		if (run > i) {
			err = ck_buf_append(b, p + i, run - i);
			i = run;
			continue;
		}
		k = utf8_decode(p + i, n - i, &cp);
		i += k;
		esc = short_escape(cp);
		if (esc) {
			err = ck_buf_printf(b, "%s", esc);
		} else if (cp < 0x10000) {
			err = put_u16(b, cp);
		} else {
			cp -= 0x10000;
			err = put_u16(b, 0xd800 | (cp >> 10));
			if (!err)
				err = put_u16(b, 0xdc00 | (cp & 0x3ff));
		}
	}
	if (!err)
		err = ck_buf_append(b, "\"", 1);
	return err;
}

int json_out_num(struct ck_buf *b, double d)
{
	char tmp[64];
	int prec;

	if (!isfinite(d))
		return ck_err(-EINVAL, "json: number is not finite");
	if (d == 0 && signbit(d))
		return ck_buf_printf(b, "-0.0");
	/* 2^53: past it, not every integer is a double, so print as a float. */
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return ck_buf_printf(b, "%.0f", d);
	/* The fewest digits that read back exactly, like Python's repr(). */
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
	return ck_buf_printf(b, "%s", tmp);
}
