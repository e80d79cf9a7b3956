/* SPDX-License-Identifier: MIT */
/*
 * ck_log.h - leveled logging to stderr or syslog.
 *
 * The core library never prints except through here.  Front ends choose the
 * sink (stderr in the foreground, syslog when daemonized) and the level.
 * Thread-safe: each call writes one line with a single write.
 */
#ifndef CK_LOG_H
#define CK_LOG_H

enum ck_log_level {
	CK_LOG_ERROR = 0,
	CK_LOG_WARN = 1,
	CK_LOG_INFO = 2,
	CK_LOG_DEBUG = 3,
};

/* Set the most verbose level that is printed (default CK_LOG_WARN). */
void ck_log_set_level(enum ck_log_level level);

/* Send lines to syslog (ident "ckptfs") instead of stderr when on != 0. */
void ck_log_use_syslog(int on);

/* Replace every byte of s that is not printable ASCII by '?' (names and
 * keys from a checkpoint may hold anything; no log line echoes them raw). */
void ck_log_sanitize(char *s);

/* Log one line ("ckptfs: <message>"); non-printable bytes become '?'. */
void ck_log(enum ck_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
