/* SPDX-License-Identifier: MIT */
/* This file implements the thread-local error message of ck_err.h. */
#include "util/ck_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CK_ERR_MAX 1024

static _Thread_local char err_msg[CK_ERR_MAX];

static void sanitize(char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c >= 0x80)
			*s = '?';
	}
}

int ck_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	sanitize(err_msg);
	return err;
}

int ck_err_ctx(int err, const char *fmt, ...)
{
	char ctx[CK_ERR_MAX], old[CK_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	sanitize(ctx);
	if (err_msg[0])
		memcpy(old, err_msg, sizeof(old));
	else
		snprintf(old, sizeof(old), "%s", strerror(err < 0 ? -err : err));
	snprintf(err_msg, sizeof(err_msg), "%s: %s", ctx, old);
	return err;
}

const char *ck_err_msg(void)
{
	return err_msg;
}

void ck_err_clear(void)
{
	err_msg[0] = '\0';
}
