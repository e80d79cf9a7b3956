/* SPDX-License-Identifier: MIT */
/* This file implements the leveled stderr/syslog logging of ck_log.h. */
#include "util/ck_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

static enum ck_log_level log_level = CK_LOG_WARN;
static int log_syslog;

void ck_log_set_level(enum ck_log_level level)
{
	log_level = level;
}

void ck_log_use_syslog(int on)
{
	if (on && !log_syslog)
		openlog("ckptfs", LOG_PID, LOG_DAEMON);
	log_syslog = on;
}

void ck_log_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void ck_log(enum ck_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[2048];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "ckptfs: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	ck_log_sanitize(line);
	if (log_syslog) {
		syslog(prio[level], "%s", line + n);
		return;
	}
	n = 0;
	while (line[n])
		n++;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
