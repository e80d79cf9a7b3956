/* SPDX-License-Identifier: MIT */
/* This file implements the parsing of ckptfs's -o options. */
#include "cli/cli_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	else if (KEY("mappings"))
		o->mappings = val;
	else if (KEY("dtype"))
		return parse_dtype(val, &o->dtype);
	else if (KEY("shard_size"))
		return cli_parse_size(val, &o->shard_size) ? ck_err_ctx(-EINVAL, "shard_size") : 0;
	else if (KEY("cache_size"))
		return cli_parse_size(val, &o->cache_size) ? ck_err_ctx(-EINVAL, "cache_size") : 0;
	else if (KEY("step")) {
		o->step = strtoll(val, &end, 10);
		if (end == val || *end || o->step < 0)
			return ck_err(-EINVAL, "step=%s: not a step number", val);
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
	char *copy = strdup(arg), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return ck_err(-ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		if (*tok)
			err = one(tok, o, fuse);
	*keep = copy;
	return err;
}
