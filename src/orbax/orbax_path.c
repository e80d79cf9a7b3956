/* SPDX-License-Identifier: MIT */
/*
 * This file implements the resolution of a user-given path to one Orbax item
 * directory: run dir -> checkpoints/ -> step -> the item holding the model.
 *
 * A directory is an item when it holds _METADATA, manifest.ocdbt or an
 * ocdbt.process_N/ database.  A directory of steps holds numbered step
 * directories ("1000", or "<prefix>_1000"); in-flight saves
 * ("*.orbax-checkpoint-tmp*") are ignored.
 *
 * A step may hold several items.  The model is in the one named items
 * (MaxText), default or state (Orbax's single-item names) or model_params
 * (Tunix, beside optimizer_state); items known never to hold it are passed
 * over.  A step with two model items, or with several items none of them
 * known, is refused with their names.
 */
#include "orbax/orbax.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

static const char *const item_names[] = {
	"items", "default", "state", "model_params",
};

/* Items a training step saves beside the model (Tunix, Grain, metrics). */
static const char *const other_item_names[] = {
	"optimizer_state", "optimizer", "opt_state", "iter", "dataset",
	"data_iter", "metrics", "metadata",
};

static int in_list(const char *name, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, v[i]))
			return 1;
	return 0;
}

/*
 * The probes below answer yes or no; an allocation failing in one would
 * answer no, and a wrong step or item could be picked.  They note it here
 * instead, and orbax_resolve() reports -ENOMEM.
 */
static _Thread_local int probe_oom;

static char *probe_join(const char *dir, const char *name)
{
	char *p = ck_path_join(dir, name);

	if (!p)
		probe_oom = 1;
	return p;
}

static char *probe_strdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		probe_oom = 1;
	return p;
}

static DIR *probe_opendir(const char *dir)
{
	DIR *d = opendir(dir);

	if (!d && errno == ENOMEM)
		probe_oom = 1;
	return d;
}

static int has_entry(const char *dir, const char *name)
{
	char *p = probe_join(dir, name);
	int ok = p && (ck_is_file(p) || ck_is_dir(p));

	free(p);
	return ok;
}

static int has_process_db(const char *dir)
{
	DIR *d = probe_opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, "ocdbt.process_", 14);
	closedir(d);
	return found;
}

static int is_item_dir(const char *dir)
{
	return has_entry(dir, "_METADATA") || has_entry(dir, "manifest.ocdbt") ||
	       has_process_db(dir);
}

/*
 * 1 if dir holds zarr metadata (zarr.json or .zarray) within a few levels:
 * a plain zarr hierarchy, or a legacy checkpoint without _METADATA.  The
 * search is bounded in depth and in entries visited.
 */
static int has_zarr_below(const char *dir, int depth, unsigned *budget)
{
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (depth < 0 || !(d = probe_opendir(dir)))
		return 0;
	while (!found && (e = readdir(d)) && *budget) {
		char *p;

		(*budget)--;
		if (!strcmp(e->d_name, "zarr.json") || !strcmp(e->d_name, ".zarray")) {
			found = 1;
			break;
		}
		if (e->d_name[0] == '.' ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		p = probe_join(dir, e->d_name);
		found = p && has_zarr_below(p, depth - 1, budget);
		free(p);
	}
	closedir(d);
	return found;
}

/* The step number a directory name encodes, or -1. */
static int64_t step_of(const char *name)
{
	const char *digits = name;
	const char *us = strrchr(name, '_');
	int64_t v = 0;

	if (strstr(name, ".orbax-checkpoint-tmp"))
		return -1;
	if (us && us[1])
		digits = us + 1;
	if (!*digits)
		return -1;
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

#define NAMES_LEN(v) (sizeof(v) / sizeof((v)[0]))

/*
 * The item directories of a step, by name: model items (item_names) and
 * unknown ones go to models / unknown as ", "-joined lists, counted in
 * n[0] / n[1] (caller releases both).  Returns 0 or -ENOMEM.
 */
static int step_items(const char *step_dir, struct ck_buf *models,
		      struct ck_buf *unknown, unsigned n[2])
{
	DIR *d = probe_opendir(step_dir);
	struct dirent *e;
	int err = 0;

	if (!d)
		return 0;
	while (!err && (e = readdir(d))) {
		struct ck_buf *to;
		char *p;
		int known;

		/* Steps and in-flight saves are not items of a step. */
		if (e->d_name[0] == '.' ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) ||
		    in_list(e->d_name, other_item_names, NAMES_LEN(other_item_names)) ||
		    step_of(e->d_name) >= 0 || strstr(e->d_name, ".orbax-checkpoint-tmp"))
			continue;
		known = in_list(e->d_name, item_names, NAMES_LEN(item_names));
		to = known ? models : unknown;
		p = probe_join(step_dir, e->d_name);
		if (p && ck_is_dir(p) && is_item_dir(p)) {
			err = ck_buf_printf(to, "%s%s", to->len ? ", " : "", e->d_name);
			n[known ? 0 : 1]++;
		}
		free(p);
	}
	closedir(d);
	if (err)
		probe_oom = 1;
	return err;
}

/*
 * The item directory holding the model inside a step directory (or the step
 * itself when it is an item): 0 with *item set (caller frees), -ENOENT when
 * there is none, -EINVAL (with a message) when several items could hold it.
 */
static int item_in_step(const char *step_dir, char **item)
{
	struct ck_buf models = CK_BUF_INIT, unknown = CK_BUF_INIT;
	const char *pick = NULL;
	unsigned n[2] = { 0, 0 };
	int err;

	*item = NULL;
	if (is_item_dir(step_dir)) {
		*item = probe_strdup(step_dir);
		return *item ? 0 : -ENOMEM;
	}
	err = step_items(step_dir, &models, &unknown, n);
	if (err)
		goto out;
	if (n[0] == 1)
		pick = (const char *)models.data;
	else if (!n[0] && n[1] == 1)
		pick = (const char *)unknown.data;
	if (pick) {
		*item = probe_join(step_dir, pick);
		err = *item ? 0 : -ENOMEM;
	} else if (models.len || unknown.len) {
		err = ck_err(-EINVAL, "%s: the step has several items that may hold "
			     "the model (%s%s%s); name the item directory", step_dir,
			     models.len ? (char *)models.data : "",
			     models.len && unknown.len ? ", " : "",
			     unknown.len ? (char *)unknown.data : "");
	} else {
		err = -ENOENT;
	}
out:
	ck_buf_release(&models);
	ck_buf_release(&unknown);
	return err;
}

int orbax_step_other_items(const char *item_dir, char **out)
{
	struct ck_buf b = CK_BUF_INIT;
	const char *base = strrchr(item_dir, '/');
	char *step = NULL;
	DIR *d;
	struct dirent *e;
	int err = 0;

	*out = NULL;
	base = base ? base + 1 : item_dir;
	/* A step directory that is itself the item has no siblings to name. */
	if (step_of(base) >= 0 || base == item_dir)
		return 0;
	step = strndup(item_dir, (size_t)(base - 1 - item_dir));
	if (!step)
		return ck_err(-ENOMEM, "out of memory");
	d = opendir(step);
	while (d && !err && (e = readdir(d))) {
		char *p;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, base))
			continue;
		p = ck_path_join(step, e->d_name);
		if (!p)
			err = ck_err(-ENOMEM, "out of memory");
		else if (ck_is_dir(p) && is_item_dir(p))
			err = ck_buf_printf(&b, "%s%s", b.len ? ", " : "", e->d_name);
		free(p);
	}
	if (d)
		closedir(d);
	free(step);
	if (!err && b.len)
		*out = (char *)ck_buf_detach(&b, NULL);
	ck_buf_release(&b);
	return err;
}

/*
 * Pick a step directory under dir: the one numbered want, or the latest one
 * that holds an item.  *name gets the directory name (caller frees).
 */
static int pick_step(const char *dir, int64_t want, char **name, int64_t *step)
{
	int64_t best = -1;
	char *best_name = NULL;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return ck_err(-errno, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		int64_t s = step_of(e->d_name);
		char *full, *item;

		if (s < 0 || (want >= 0 && s != want) || s <= best)
			continue;
		full = probe_join(dir, e->d_name);
		item = NULL;
		/* A step whose items are ambiguous still counts: picking it
		 * gives the error. */
		if (full && ck_is_dir(full) && item_in_step(full, &item) != -ENOENT) {
			free(best_name);
			best_name = probe_strdup(e->d_name);
			best = s;
		}
		free(item);
		free(full);
	}
	closedir(d);
	if (best < 0 || !best_name) {
		free(best_name);
		if (want >= 0)
			return ck_err(-ENOENT, "%s: no committed step %lld", dir,
				      (long long)want);
		return ck_err(-ENOENT, "%s: no Orbax checkpoint found (no item "
			      "directory, no _METADATA, no manifest.ocdbt, no step)",
			      dir);
	}
	*name = best_name;
	*step = best;
	return 0;
}

static int resolve(const char *path, int64_t want_step, char **item,
		   int64_t *step)
{
	char *dir = NULL, *found, *sub;
	char *step_name = NULL;
	int64_t s = -1;
	int err;

	if (!ck_is_dir(path))
		return ck_err(-ENOENT, "%s: not a directory", path);
	/* A run directory holds checkpoints/. */
	sub = ck_path_join(path, "checkpoints");
	if (!sub)
		return ck_err(-ENOMEM, "out of memory");
	if (!is_item_dir(path) && ck_is_dir(sub)) {
		dir = sub;
	} else {
		free(sub);
		dir = strdup(path);
		if (!dir)
			return ck_err(-ENOMEM, "out of memory");
	}
	/* A step directory (or an item directory given directly). */
	err = item_in_step(dir, &found);
	if (err && err != -ENOENT)
		goto out;
	if (!err) {
		const char *base = strrchr(dir, '/');

		s = step_of(base ? base + 1 : dir);
		if (want_step >= 0 && s != want_step) {
			err = ck_err(-EINVAL, "%s: is step %lld, not step %lld", path,
				     (long long)s, (long long)want_step);
			free(found);
			goto out;
		}
		*item = found;
		*step = s;
		err = 0;
		goto out;
	}
	/* A directory of steps. */
	err = pick_step(dir, want_step, &step_name, &s);
	if (err == -ENOENT && want_step < 0) {
		unsigned budget = 4096;

		/* A plain zarr hierarchy (or TensorStore dataset). */
		if (has_zarr_below(dir, 3, &budget)) {
			ck_err_clear();
			*item = dir;
			*step = -1;
			return 0;
		}
	}
	if (err)
		goto out;
	sub = ck_path_join(dir, step_name);
	err = sub ? item_in_step(sub, &found) : ck_err(-ENOMEM, "out of memory");
	free(sub);
	if (err == -ENOENT)	/* gone since the step was picked */
		err = ck_err(-ENOENT, "%s/%s: no item directory", dir, step_name);
	if (err)
		goto out;
	*item = found;
	*step = s;
out:
	free(step_name);
	free(dir);
	return err;
}

int orbax_resolve(const char *path, int64_t want_step, char **item,
		  int64_t *step)
{
	int err;

	probe_oom = 0;
	err = resolve(path, want_step, item, step);
	if (probe_oom) {
		if (!err)
			free(*item);
		return ck_err(-ENOMEM, "%s: out of memory", path);
	}
	return err;
}

int orbax_root_of(const char *item_dir, char **out)
{
	const char *base = strrchr(item_dir, '/');
	char *parent = NULL, *meta = NULL, *pick;
	int step_parent = 0;

	*out = NULL;
	/* An item inside a step: the step, which also holds
	 * _CHECKPOINT_METADATA. */
	if (base && base != item_dir && step_of(base + 1) < 0) {
		const char *pb;

		parent = strndup(item_dir, (size_t)(base - item_dir));
		if (!parent)
			return ck_err(-ENOMEM, "out of memory");
		pb = strrchr(parent, '/');
		meta = ck_path_join(parent, "_CHECKPOINT_METADATA");
		if (!meta) {
			free(parent);
			return ck_err(-ENOMEM, "out of memory");
		}
		step_parent = step_of(pb ? pb + 1 : parent) >= 0 || ck_is_file(meta);
		free(meta);
	}
	pick = realpath(step_parent ? parent : item_dir, NULL);
	free(parent);
	if (!pick)
		return ck_err(errno == ENOMEM ? -ENOMEM : -ENOENT, "%s: %s", item_dir,
			      strerror(errno));
	*out = pick;
	return 0;
}
