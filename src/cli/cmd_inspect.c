/* SPDX-License-Identifier: MIT */
/* This file implements `ckptfs inspect`: a listing of a checkpoint's arrays,
 * the model family its array names fit and the presets it matches, as a
 * table or as JSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_opts.h"
#include "fs/ckfs.h"
#include "mapping/detect.h"
#include "orbax/orbax.h"
#include "orbax/orbax_tree.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "zarr/zarr_array.h"

#define INSPECT_MAX_FAMILIES 64

/* What the checkpoint is: the families its array names fit, the presets it
 * matches, or why that could not be found out. */
struct match {
	char *why;			/* the mappings could not be loaded */
	struct mapping **maps;
	size_t nmaps;
	const struct mapping *fams[INSPECT_MAX_FAMILIES];
	size_t nfams;
	char **presets;
	size_t npresets;
};

static void match_find(struct match *mt, const struct orbax_ckpt *c, const char *mdir)
{
	const char *dir = ckfs_mappings_dir(mdir);
	char *pdir = NULL;
	int err;

	err = mapping_load_dir(dir, &mt->maps, &mt->nmaps);
	if (!err) {
		mt->nfams = detect_matches(mt->maps, mt->nmaps, c, mt->fams,
					   INSPECT_MAX_FAMILIES);
		if (mt->nfams > INSPECT_MAX_FAMILIES)
			mt->nfams = INSPECT_MAX_FAMILIES;
		pdir = ck_path_join(dir, "presets");
		err = pdir ? 0 : ck_err(-ENOMEM, "out of memory");
	}
	if (!err && mt->nfams)
		err = detect_presets(mt->fams, mt->nfams, c, pdir, &mt->presets,
				     &mt->npresets);
	if (err)
		mt->why = strdup(*ck_err_msg() ? ck_err_msg() : strerror(-err));
	ck_err_clear();
	free(pdir);
}

static void match_release(struct match *mt)
{
	for (size_t i = 0; i < mt->nmaps; i++)
		mapping_free(mt->maps[i]);
	free(mt->maps);
	for (size_t i = 0; i < mt->npresets; i++)
		free(mt->presets[i]);
	free(mt->presets);
	free(mt->why);
}

static void print_match(const struct match *mt)
{
	if (mt->why && !mt->nfams) {
		printf("family:     unknown (%s)\n", mt->why);
		return;
	}
	if (mt->nfams == 1) {
		printf("family:     %s\n", mt->fams[0]->family);
	} else if (mt->nfams == 0) {
		printf("family:     none (no mapping recognises the arrays)\n");
	} else {
		printf("family:     ambiguous (");
		for (size_t i = 0; i < mt->nfams; i++)
			printf("%s%s", i ? ", " : "", mt->fams[i]->family);
		printf(")\n");
	}
	if (mt->why) {
		printf("presets:    unknown (%s)\n", mt->why);
		return;
	}
	printf("presets:    ");
	for (size_t i = 0; i < mt->npresets; i++)
		printf("%s%s", i ? ", " : "", mt->presets[i]);
	printf("%s\n", mt->npresets ? "" : "none match");
}

static void format_shape(char *buf, size_t cap, const uint64_t *v, unsigned n)
{
	size_t len = 0;

	len += (size_t)snprintf(buf + len, cap - len, "[");
	for (unsigned i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%" PRIu64,
					i ? "," : "", v[i]);
	if (len < cap)
		snprintf(buf + len, cap - len, "]");
}

static const char *human(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

/* Which item of the step this is, and which parameter tree it holds. */
static void print_item(const struct orbax_ckpt *c)
{
	const char *base = strrchr(c->item_dir, '/');

	if (c->other_items)
		printf("item:       %s (the step also holds %s)\n",
		       base ? base + 1 : c->item_dir, c->other_items);
	if (c->tree)
		printf("tree:       %s (weights '%s*%s'%s)\n", c->tree->name,
		       c->tree->root, c->tree->leaf,
		       c->tree_lists ? ", layers saved as an nnx.List" : "");
	else
		printf("tree:       none: %s\n", c->tree_why);
}

static int print_table(const struct orbax_ckpt *c, const struct match *mt)
{
	char h[32], shape[512], chunk[512];
	uint64_t total = 0, stored = 0;
	int w = 5;

	for (size_t i = 0; i < c->narrays; i++) {
		int n = (int)strlen(orbax_array_path(&c->arrays[i]));

		if (n > w)
			w = n < 72 ? n : 72;
	}
	printf("checkpoint: %s\n", c->item_dir);
	if (c->step >= 0)
		printf("step:       %" PRId64 "\n", c->step);
	else
		printf("step:       (unknown)\n");
	printf("format:     %s\n", c->format);
	if (c->scan_layers >= 0)
		printf("scan_layers: %s\n", c->scan_layers ? "true" : "false");
	if (c->note)
		printf("note:       %s\n", c->note);
	print_item(c);
	print_match(mt);
	printf("\n%-*s  %-8s  %-20s  %-20s  %7s  %12s\n", w, "ARRAY", "DTYPE",
	       "SHAPE", "CHUNK", "CHUNKS", "STORED");
	for (size_t i = 0; i < c->narrays; i++) {
		struct zarr_info info;
		int err = orbax_array_info(&c->arrays[i], &info);

		if (err)
			return ck_err_ctx(err, "array '%s'",
					  orbax_array_path(&c->arrays[i]));
		format_shape(shape, sizeof(shape), info.shape, info.rank);
		format_shape(chunk, sizeof(chunk), info.chunk, info.rank);
		printf("%-*s  %-8s  %-20s  %-20s  %7" PRIu64 "  %12" PRIu64 "\n", w,
		       orbax_array_path(&c->arrays[i]), ck_dtype_name(info.dtype),
		       shape, chunk,
		       info.nchunks, info.stored_bytes);
		total += info.nbytes;
		stored += info.stored_bytes;
	}
	printf("\n%zu arrays, %s decoded", c->narrays, human(total, h, sizeof(h)));
	printf(" (%" PRIu64 " bytes), ", total);
	printf("%s stored\n", human(stored, h, sizeof(h)));
	return 0;
}

static cJSON *json_dims(const uint64_t *v, unsigned n)
{
	cJSON *a = cJSON_CreateArray();

	for (unsigned i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	return a;
}

static int print_json(const struct orbax_ckpt *c, const struct match *mt)
{
	cJSON *root = cJSON_CreateObject(), *arrays, *fams, *presets;
	uint64_t total = 0;
	char *text;
	int err = 0;

	if (!root)
		return ck_err(-ENOMEM, "out of memory");
	cJSON_AddStringToObject(root, "path", c->item_dir);
	if (c->step >= 0)
		cJSON_AddNumberToObject(root, "step", (double)c->step);
	else
		cJSON_AddNullToObject(root, "step");
	cJSON_AddStringToObject(root, "format", c->format);
	if (c->scan_layers >= 0)
		cJSON_AddBoolToObject(root, "scan_layers", c->scan_layers);
	if (c->note)
		cJSON_AddStringToObject(root, "note", c->note);
	if (c->other_items) {
		const char *base = strrchr(c->item_dir, '/');

		cJSON_AddStringToObject(root, "item", base ? base + 1 : c->item_dir);
		cJSON_AddStringToObject(root, "other_items", c->other_items);
	}
	if (c->tree) {
		cJSON_AddStringToObject(root, "tree", c->tree->name);
		cJSON_AddBoolToObject(root, "tree_lists", c->tree_lists > 0);
	} else {
		cJSON_AddNullToObject(root, "tree");
		cJSON_AddStringToObject(root, "tree_error", c->tree_why);
	}
	if (mt->nfams == 1)
		cJSON_AddStringToObject(root, "family", mt->fams[0]->family);
	else
		cJSON_AddNullToObject(root, "family");
	fams = cJSON_AddArrayToObject(root, "families");
	for (size_t i = 0; fams && i < mt->nfams; i++)
		cJSON_AddItemToArray(fams, cJSON_CreateString(mt->fams[i]->family));
	presets = cJSON_AddArrayToObject(root, "presets");
	for (size_t i = 0; presets && i < mt->npresets; i++)
		cJSON_AddItemToArray(presets, cJSON_CreateString(mt->presets[i]));
	if (mt->why)
		cJSON_AddStringToObject(root, "match_error", mt->why);
	arrays = cJSON_AddArrayToObject(root, "arrays");
	for (size_t i = 0; arrays && i < c->narrays; i++) {
		cJSON *a = cJSON_CreateObject();
		struct zarr_info info;

		err = orbax_array_info(&c->arrays[i], &info);
		if (err) {
			err = ck_err_ctx(err, "array '%s'",
					 orbax_array_path(&c->arrays[i]));
			cJSON_Delete(a);
			goto out;
		}
		cJSON_AddStringToObject(a, "name", orbax_array_path(&c->arrays[i]));
		if (c->arrays[i].stored)
			cJSON_AddStringToObject(a, "canonical", c->arrays[i].name);
		cJSON_AddStringToObject(a, "dtype", ck_dtype_name(info.dtype));
		cJSON_AddItemToObject(a, "shape", json_dims(info.shape, info.rank));
		cJSON_AddItemToObject(a, "chunk_shape", json_dims(info.chunk, info.rank));
		cJSON_AddNumberToObject(a, "chunks", (double)info.nchunks);
		cJSON_AddNumberToObject(a, "stored_chunks", (double)info.stored_chunks);
		cJSON_AddNumberToObject(a, "stored_bytes", (double)info.stored_bytes);
		cJSON_AddNumberToObject(a, "nbytes", (double)info.nbytes);
		cJSON_AddNumberToObject(a, "zarr_format", info.zarr_format);
		cJSON_AddItemToArray(arrays, a);
		total += info.nbytes;
	}
	cJSON_AddNumberToObject(root, "total_bytes", (double)total);
	text = cJSON_Print(root);
	if (!text) {
		err = ck_err(-ENOMEM, "out of memory");
		goto out;
	}
	puts(text);
	free(text);
out:
	cJSON_Delete(root);
	return err;
}

int cmd_inspect(int argc, char **argv)
{
	struct orbax_opts opts = ORBAX_OPTS_INIT;
	struct orbax_ckpt *c = NULL;
	struct match mt = { 0 };
	const char *src = NULL, *mdir = NULL;
	int json = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--mappings") && i + 1 < argc) {
			mdir = argv[++i];
		} else if (!strcmp(argv[i], "--step") && i + 1 < argc) {
			if (cli_parse_step(argv[++i], &opts.step))
				return cli_usage_error("bad step '%s'", argv[i]);
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			err = cli_source_opts(argv[++i], &opts);
			if (err)
				return cli_fail(err);
		} else if (argv[i][0] == '-') {
			return cli_usage_error("inspect: unknown option '%s'", argv[i]);
		} else if (!src) {
			src = argv[i];
		} else {
			return cli_usage_error("inspect: unexpected argument '%s'", argv[i]);
		}
	}
	if (!src)
		return cli_usage_error("inspect: missing SRC");
	err = orbax_open(src, &opts, &c);
	if (!err)
		match_find(&mt, c, mdir);
	if (!err)
		err = json ? print_json(c, &mt) : print_table(c, &mt);
	match_release(&mt);
	orbax_close(c);
	if (!err && fflush(stdout))
		err = ck_err(-EIO, "cannot write to stdout");
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
