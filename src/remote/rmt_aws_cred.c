/* SPDX-License-Identifier: MIT */
/*
 * This file implements the lookup of S3 credentials, region and endpoint
 * (rmt_aws_cred.h).
 *
 * The shared files are INI text as botocore reads them: "[section]" lines,
 * "key = value" lines, whole-line '#' and ';' comments.  An indented line
 * after a key continues that key (botocore's nested "s3 =" blocks): it is
 * skipped, so a nested "region" is not taken for the profile's.
 */
#include "remote/rmt_aws_cred.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "util/ck_err.h"
#include "util/ck_file.h"

#define AWS_FILE_MAX (1u << 20)	/* a shared file larger is refused */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int ini_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim [*b, *e) of white space. */
static void trim(const char **b, const char **e)
{
	while (*b < *e && ini_space(**b))
		(*b)++;
	while (*e > *b && ini_space((*e)[-1]))
		(*e)--;
}

static int span_eq(const char *b, const char *e, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(e - b) == n && !memcmp(b, s, n);
}

/*
 * Walk the lines of text; in section `section`, find key.  Returns 1 with
 * [*vb, *ve) the value, or 0; `seen` is set when the section exists.
 */
static int ini_find(const char *text, size_t len, const char *section,
		    const char *key, const char **vb, const char **ve, int *seen)
{
	const char *p = text, *end = text + len;
	int in = 0, have_key = 0;

	*seen = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *b = p, *e = le, *eq;
		int indented = p < le && ini_space(*p);

		p = nl ? nl + 1 : end;
		trim(&b, &e);
		if (b == e || *b == '#' || *b == ';')
			continue;
		if (*b == '[') {
			const char *sb = b + 1, *se = e;

			if (se > sb && se[-1] == ']')
				se--;
			trim(&sb, &se);
			in = span_eq(sb, se, section);
			*seen |= in;
			have_key = 0;
			continue;
		}
		if (indented && have_key)
			continue;	/* a continuation or a nested block */
		eq = memchr(b, '=', (size_t)(e - b));
		if (!eq)
			continue;
		have_key = 1;
		if (!in)
			continue;
		{
			const char *kb = b, *ke = eq, *xb = eq + 1, *xe = e;

			trim(&kb, &ke);
			trim(&xb, &xe);
			if (span_eq(kb, ke, key)) {
				*vb = xb;
				*ve = xe;
				return 1;
			}
		}
	}
	return 0;
}

int aws_ini_get(const char *text, size_t len, const char *section,
		const char *key, char **value)
{
	const char *b, *e;
	int seen;

	*value = NULL;
	if (!text || !ini_find(text, len, section, key, &b, &e, &seen))
		return 0;
	*value = strndup(b, (size_t)(e - b));
	if (!*value)
		return ck_err(-ENOMEM, "out of memory reading an AWS file");
	return 1;
}

int aws_ini_has_section(const char *text, size_t len, const char *section)
{
	const char *b, *e;
	int seen = 0;

	if (text)
		ini_find(text, len, section, "", &b, &e, &seen);
	return seen;
}

/* ---- the files ---- */

struct aws_file {
	char *path;	/* owned; NULL: no home to find it in */
	char *text;	/* owned; NULL: absent */
	size_t len;
};

static int file_load(struct aws_file *f, const char *var, const char *name)
{
	const char *home = env("HOME");
	uint8_t *data = NULL;
	int err;

	if (env(var))
		f->path = strdup(env(var));
	else if (home && asprintf(&f->path, "%s/.aws/%s", home, name) < 0)
		f->path = NULL;
	else if (!home)
		return 0;
	if (!f->path)
		return ck_err(-ENOMEM, "out of memory finding the AWS %s file", name);
	err = ck_read_file(f->path, AWS_FILE_MAX, &data, &f->len);
	if (err == -ENOENT || err == -ENOTDIR) {
		ck_err_clear();
		return 0;
	}
	if (err)
		return ck_err_ctx(-EIO, "AWS %s file", name);
	f->text = (char *)data;
	return 0;
}

static void file_release(struct aws_file *f)
{
	if (f->text)
		OPENSSL_cleanse(f->text, f->len);
	free(f->text);
	free(f->path);
	f->text = NULL;
	f->path = NULL;
}

static int dup_env(char **dst, const char *name)
{
	if (!env(name))
		return 0;
	*dst = strdup(env(name));
	return *dst ? 0 : ck_err(-ENOMEM, "out of memory reading %s", name);
}

/* The key pair of section sec of file f, if it has one.  1 found, 0 not. */
static int keys_from(struct aws_cred *c, const struct aws_file *f,
		     const char *sec)
{
	int r = aws_ini_get(f->text, f->len, sec, "aws_access_key_id", &c->key_id);

	if (r <= 0)
		return r;
	r = aws_ini_get(f->text, f->len, sec, "aws_secret_access_key", &c->secret);
	if (r == 0)
		r = ck_err(-EINVAL, "%s: [%s] has aws_access_key_id %s but no "
			   "aws_secret_access_key", f->path, sec, c->key_id);
	if (r > 0)
		r = aws_ini_get(f->text, f->len, sec, "aws_session_token", &c->token);
	return r < 0 ? r : 1;
}

static int load_keys(struct aws_cred *c, const struct aws_file *cr,
		     const struct aws_file *cf, const char *profile,
		     const char *cfsec)
{
	int r, err;

	if (env("AWS_ACCESS_KEY_ID")) {
		if (!env("AWS_SECRET_ACCESS_KEY"))
			return ck_err(-EINVAL, "AWS_ACCESS_KEY_ID is set (%s) but "
				      "AWS_SECRET_ACCESS_KEY is not",
				      env("AWS_ACCESS_KEY_ID"));
		err = dup_env(&c->key_id, "AWS_ACCESS_KEY_ID");
		if (!err)
			err = dup_env(&c->secret, "AWS_SECRET_ACCESS_KEY");
		if (!err)
			err = dup_env(&c->token, "AWS_SESSION_TOKEN");
		c->from = "environment";
		return err;
	}
	r = keys_from(c, cr, profile);
	if (r > 0)
		c->from = "credentials file";
	if (r == 0) {
		r = keys_from(c, cf, cfsec);
		if (r > 0)
			c->from = "config file";
	}
	if (r == 0 && env("AWS_PROFILE") &&
	    !aws_ini_has_section(cr->text, cr->len, profile) &&
	    !aws_ini_has_section(cf->text, cf->len, cfsec))
		return ck_err(-EINVAL, "AWS_PROFILE '%s': no such profile in %s "
			      "or %s", profile, cr->path ? cr->path : "~/.aws/credentials",
			      cf->path ? cf->path : "~/.aws/config");
	return r < 0 ? r : 0;
}

static int load_endpoint(struct aws_cred *c)
{
	const char *var = env("AWS_ENDPOINT_URL_S3") ? "AWS_ENDPOINT_URL_S3" :
			  "AWS_ENDPOINT_URL";
	const char *v = env(var);
	size_t n;

	if (!v)
		return 0;
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
		return ck_err(-EINVAL, "%s '%s': not an http:// or https:// URL", var, v);
	if (strchr(v, '?') || strchr(v, '#'))
		return ck_err(-EINVAL, "%s '%s': a query or fragment is not allowed", var, v);
	n = strlen(v);
	while (n && v[n - 1] == '/')
		n--;
	c->endpoint = strndup(v, n);
	return c->endpoint ? 0 : ck_err(-ENOMEM, "out of memory reading %s", var);
}

int aws_cred_load(struct aws_cred *c)
{
	struct aws_file cr = { NULL, NULL, 0 }, cf = { NULL, NULL, 0 };
	const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
	char *cfsec = NULL;
	int err;

	*c = (struct aws_cred)AWS_CRED_INIT;
	err = file_load(&cr, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
	if (!err)
		err = file_load(&cf, "AWS_CONFIG_FILE", "config");
	if (err)
		goto out;
	/* The config file names a profile "[profile NAME]", except default. */
	if (!strcmp(profile, "default") && aws_ini_has_section(cf.text, cf.len, "default"))
		cfsec = strdup("default");
	else if (asprintf(&cfsec, "profile %s", profile) < 0)
		cfsec = NULL;
	if (!cfsec) {
		err = ck_err(-ENOMEM, "out of memory reading the AWS files");
		goto out;
	}
	err = load_keys(c, &cr, &cf, profile, cfsec);
	if (!err)
		err = dup_env(&c->region, "AWS_REGION");
	if (!err && !c->region)
		err = dup_env(&c->region, "AWS_DEFAULT_REGION");
	if (!err && !c->region)
		err = aws_ini_get(cf.text, cf.len, cfsec, "region", &c->region);
	if (err > 0)
		err = 0;
	if (!err && (!c->region || !c->region[0])) {
		free(c->region);
		c->region = strdup("us-east-1");
		if (!c->region)
			err = ck_err(-ENOMEM, "out of memory reading the AWS files");
	}
	if (!err)
		err = load_endpoint(c);
out:
	free(cfsec);
	file_release(&cr);
	file_release(&cf);
	if (err)
		aws_cred_release(c);
	return err;
}

static void free_secret(char **s)
{
	if (*s)
		OPENSSL_cleanse(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

void aws_cred_release(struct aws_cred *c)
{
	if (!c)
		return;
	free(c->key_id);
	free_secret(&c->secret);
	free_secret(&c->token);
	free(c->region);
	free(c->endpoint);
	*c = (struct aws_cred)AWS_CRED_INIT;
}
