/* SPDX-License-Identifier: MIT */
/* This file implements the parsing of ckptfs's -o options. */
#include "cli/cli_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapping/detect.h"
#include "mapping/plan.h"
#include "util/ck_err.h"

static const char *const dropped[] = {
	"_netdev", "nofail", "auto", "noauto", "user", "users", "nouser",
	"defaults", "rw",
};

int cli_parse_size(const char *s, uint64_t *v)
{
	static const struct { const char *suf; uint64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1000 }, { "KB", 1000 }, { "KiB", 1024 },
		{ "M", 1000000 }, { "MB", 1000000 }, { "MiB", 1 << 20 },
		{ "G", 1000000000 }, { "GB", 1000000000 }, { "GiB", 1 << 30 },
		{ "T", 1000000000000ull }, { "TB", 1000000000000ull },
		{ "TiB", 1ull << 40 },
	};
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || d < 0)
		return ck_err(-EINVAL, "bad size '%s'", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suf))
			continue;
		d *= (double)units[i].mul;
		if (d >= 18446744073709551615.0)
			return ck_err(-EINVAL, "size '%s' is too large", s);
		*v = (uint64_t)d;
		return 0;
	}
	return ck_err(-EINVAL, "bad size '%s' (use e.g. 5GB, 512MiB)", s);
}

static int parse_dtype(const char *s, enum ck_dtype *t)
{
	if (!strcmp(s, "auto"))
		*t = CK_DT_INVALID;
	else if (!strcmp(s, "bfloat16") || !strcmp(s, "bf16"))
		*t = CK_DT_BF16;
	else if (!strcmp(s, "float32") || !strcmp(s, "f32"))
		*t = CK_DT_F32;
	else if (!strcmp(s, "float16") || !strcmp(s, "f16"))
		*t = CK_DT_F16;
	else
		return ck_err(-EINVAL, "dtype=%s: use auto, bfloat16, float32 or float16", s);
	return 0;
}

/* config.KEY=VALUE: checked now, applied to the config by ckfs_open(). */
static int config_set(char *opt, char *eq, struct ckfs_opts *o)
{
	const char *key = opt + 7;
	cJSON *v = NULL;
	int err;

	if (!eq)
		return ck_err(-EINVAL, "%s: no value (use config.KEY=VALUE)", opt);
	*eq = '\0';
	err = detect_set_value(key, eq + 1, &v);
	cJSON_Delete(v);
	if (!err && o->nsets == DETECT_MAX_SETS)
		err = ck_err(-EINVAL, "more than %d config.KEY=VALUE options",
			     DETECT_MAX_SETS);
	if (err)
		return err;
	o->sets[o->nsets].key = key;
	o->sets[o->nsets++].value = eq + 1;
	return 0;
}

/*
 * The end of the option at s: the next comma, except inside the JSON value
 * of a config.KEY= option that starts with {, [ or " (an object, a list or
 * a string may hold commas).
 */
static char *opt_end(char *s)
{
	char *eq = strchr(s, '=');
	int depth = 0, str = 0;

	if (strncmp(s, "config.", 7) || !eq || !strchr("{[\"", eq[1]) ||
	    (strchr(s, ',') && strchr(s, ',') < eq))
		return s + strcspn(s, ",");
	for (s = eq + 1; *s; s++) {
		if (str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				str = 0;
		} else if (*s == '"') {
			str = 1;
		} else if (*s == '{' || *s == '[') {
			depth++;
		} else if (*s == '}' || *s == ']') {
			depth -= depth > 0;
		} else if (*s == ',' && !depth) {
			break;
		}
	}
	return s;
}

/* A whole number in [lo, hi] for option name. */
static int parse_uint(const char *val, const char *name, unsigned lo,
		      unsigned hi, unsigned *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(val, &end, 10);
	if (end == val || *end || errno || val[0] == '-' || n < lo || n > hi)
		return ck_err(-EINVAL, "%s=%s: not a whole number from %u to %u",
			      name, val, lo, hi);
	*v = (unsigned)n;
	return 0;
}

static int one(char *opt, struct ckfs_opts *o, struct ck_buf *fuse)
{
	char *eq = strchr(opt, '=');
	const char *val = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
	char *end;

#define KEY(k) (klen == strlen(k) && !strncmp(opt, k, klen) && val)
	if (KEY("hf_config"))
		o->hf_config = val;
	else if (KEY("model"))
		o->model = val;
	else if (KEY("tokenizer"))
		o->tokenizer = val;
	else if (!strcmp(opt, "follow_symlinks"))
		o->follow_symlinks = 1;
	else if (KEY("mappings"))
		o->mappings = val;
	else if (KEY("dtype"))
		return parse_dtype(val, &o->dtype);
	else if (KEY("shard_size"))
		return cli_parse_size(val, &o->shard_size) ? ck_err_ctx(-EINVAL, "shard_size") : 0;
	else if (KEY("cache_size"))
		return cli_parse_size(val, &o->cache_size) ? ck_err_ctx(-EINVAL, "cache_size") : 0;
	else if (KEY("cache_dir") && !strcmp(val, "none"))
		o->no_cache_dir = 1;
	else if (KEY("cache_dir"))
		o->cache_dir = val;
	else if (KEY("cache_dir_size"))
		return cli_parse_size(val, &o->cache_dir_size) ? ck_err_ctx(-EINVAL, "cache_dir_size") : 0;
	else if (!strcmp(opt, "cache_dir_keep"))
		o->cache_dir_keep = 1;
	else if (KEY("read_ahead")) {
		if (cli_parse_size(val, &o->read_ahead))
			return ck_err_ctx(-EINVAL, "read_ahead");
		o->keep_read_ahead = o->read_ahead == 0;
		return 0;
	}
	else if (!strcmp(opt, "uncommitted"))
		o->uncommitted = 1;
	else if (KEY("view")) {
		if (strcmp(val, "maxtext") && strcmp(val, "hf"))
			return ck_err(-EINVAL, "view=%s: use hf or maxtext", val);
		o->view_maxtext = !strcmp(val, "maxtext");
	} else if (KEY("scan_layers")) {
		if (strcmp(val, "true") && strcmp(val, "false"))
			return ck_err(-EINVAL, "scan_layers=%s: use true or false", val);
		o->scan_layers = !strcmp(val, "true");
	} else if (KEY("chunks"))
		return parse_uint(val, "chunks", 1, 65536, &o->chunks);
	else if (KEY("vocab_rows")) {
		unsigned r = 0;
		int err = parse_uint(val, "vocab_rows", 1, 1u << 30, &r);

		o->vocab_rows = r;
		return err;
	}
	else if (!strcmp(opt, "check_mt"))
		plan_check_mt_always(1);	/* not in ckfs_opts: plan.h */
	else if (KEY("http_token_file"))
		o->remote.http_token_file = val;
	else if (KEY("concurrency"))
		return parse_uint(val, "concurrency", 1, 1024, &o->remote.concurrency);
	else if (KEY("timeout"))
		return parse_uint(val, "timeout", 1, 3600, &o->remote.timeout_s);
	else if (KEY("retries")) {
		unsigned r = 0;
		int err = parse_uint(val, "retries", 0, 100, &r);

		o->remote.retries = (int)r;
		o->retries_given = !err;
		return err;
	} else if (KEY("step")) {
		o->step = strtoll(val, &end, 10);
		if (end == val || *end || o->step < 0)
			return ck_err(-EINVAL, "step=%s: not a step number", val);
	} else if (!strncmp(opt, "config.", 7)) {
		return config_set(opt, eq, o);
	} else {
		for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
			if (!strcmp(opt, dropped[i]))
				return 0;
		if (fuse)
			return ck_buf_printf(fuse, "%s%s", fuse->len ? "," : "", opt);
		return ck_err(-EINVAL, "unknown option '%s'", opt);
	}
#undef KEY
	return 0;
}

int cli_opts_parse(const char *arg, struct ckfs_opts *o, struct ck_buf *fuse,
		   char **keep)
{
	char *copy = strdup(arg), *tok, *end;
	int err = 0, last = 0;

	*keep = NULL;
	if (!copy)
		return ck_err(-ENOMEM, "out of memory");
	for (tok = copy; !err && !last; tok = end + 1) {
		end = opt_end(tok);
		last = !*end;
		*end = '\0';
		if (*tok)
			err = one(tok, o, fuse);
	}
	*keep = copy;
	return err;
}

int cli_source_opts(const char *arg, struct orbax_opts *oo)
{
	struct ckfs_opts o = { 0 };
	char *keep = NULL;
	int err;

	o.step = oo->step;
	err = cli_opts_parse(arg, &o, NULL, &keep);
	if (!err) {
		oo->step = o.step;
		oo->uncommitted |= o.uncommitted;
		oo->follow_symlinks |= o.follow_symlinks;
		err = ckfs_remote_configure(&o);
	}
	free(keep);
	return err;
}
