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
 * On a source without listings (http[s]://), a step's items are found by
 * trying the known item names, and a directory of steps cannot be searched:
 * the step or item must be named.  On Cloud Storage, where Orbax marks a
 * step committed with commit_success.txt instead of renaming it, a step
 * without that file is still being written (source.h
 * src_needs_commit_file()): the latest step passes it over, and naming it
 * is refused unless `uncommitted` is set.
 *
 * A step may hold several items.  The model is in the one named items
 * (MaxText), default or state (Orbax's single-item names) or model_params
 * (Tunix, beside optimizer_state); items known never to hold it are passed
 * over.  A step with two model items, or with several items none of them
 * known, is refused with their names.
 */
#include "orbax/orbax.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "source/source.h"
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

/* src_list() for a probe: a directory that cannot be listed has nothing
 * in it, except that running out of memory is noted. */
static void probe_list(const char *dir, src_list_cb cb, void *ctx)
{
	if (src_list(NULL, dir, 1, cb, ctx) == -ENOMEM)
		probe_oom = 1;
	ck_err_clear();
}

/* A file (or a directory: want_dir) called name in dir. */
static int has_entry(const char *dir, const char *name, int want_dir)
{
	char *p = probe_join(dir, name);
	enum src_type t = p ? src_type(p) : SRC_NONE;

	free(p);
	ck_err_clear();
	return want_dir ? t == SRC_DIR : t == SRC_FILE;
}

static int process_db_one(void *ctx, const char *name, int is_dir)
{
	(void)is_dir;
	*(int *)ctx = !strncmp(name, "ocdbt.process_", 14);
	return *(int *)ctx;
}

static int has_process_db(const char *dir)
{
	int found = 0;

	if (src_can_list(dir))
		probe_list(dir, process_db_one, &found);
	else		/* the first process's database, by name */
		found = has_entry(dir, "ocdbt.process_0/manifest.ocdbt", 0);
	return found;
}

static int is_item_dir(const char *dir)
{
	return has_entry(dir, "_METADATA", 0) ||
	       has_entry(dir, "manifest.ocdbt", 0) || has_process_db(dir);
}

/*
 * 1 if dir holds zarr metadata (zarr.json or .zarray) within a few levels:
 * a plain zarr hierarchy, or a legacy checkpoint without _METADATA.  The
 * search is bounded in depth and in entries visited.
 */
struct zarr_probe {
	const char *dir;
	int depth;
	unsigned *budget;
	int found;
};

static int has_zarr_below(const char *dir, int depth, unsigned *budget);

static int zarr_one(void *ctx, const char *name, int is_dir)
{
	struct zarr_probe *z = ctx;
	char *p;

	if (!*z->budget)
		return 1;
	(*z->budget)--;
	if (!strcmp(name, "zarr.json") || !strcmp(name, ".zarray")) {
		z->found = 1;
		return 1;
	}
	if (name[0] == '.' || !is_dir)
		return 0;
	p = probe_join(z->dir, name);
	z->found = p && has_zarr_below(p, z->depth - 1, z->budget);
	free(p);
	return z->found;
}

static int has_zarr_below(const char *dir, int depth, unsigned *budget)
{
	struct zarr_probe z = { dir, depth, budget, 0 };

	if (depth < 0)
		return 0;
	probe_list(dir, zarr_one, &z);
	return z.found;
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
struct items {
	const char *step_dir;
	struct ck_buf *models, *unknown;
	unsigned *n;
	int err;
};

static int item_one(void *ctx, const char *name, int is_dir)
{
	struct items *it = ctx;
	struct ck_buf *to;
	char *p;
	int known;

	/* Steps and in-flight saves are not items of a step. */
	if (name[0] == '.' || !is_dir ||
	    in_list(name, other_item_names, NAMES_LEN(other_item_names)) ||
	    step_of(name) >= 0 || strstr(name, ".orbax-checkpoint-tmp"))
		return 0;
	known = in_list(name, item_names, NAMES_LEN(item_names));
	to = known ? it->models : it->unknown;
	p = probe_join(it->step_dir, name);
	if (p && src_is_dir(p) && is_item_dir(p)) {
		it->err = ck_buf_printf(to, "%s%s", to->len ? ", " : "", name);
		it->n[known ? 0 : 1]++;
	}
	free(p);
	return it->err;
}

static int step_items(const char *step_dir, struct ck_buf *models,
		      struct ck_buf *unknown, unsigned n[2])
{
	struct items it = { step_dir, models, unknown, n, 0 };

	if (src_can_list(step_dir)) {
		probe_list(step_dir, item_one, &it);
	} else {	/* no listing: the item names a step may hold */
		for (size_t i = 0; i < NAMES_LEN(item_names) && !it.err; i++)
			item_one(&it, item_names[i], 1);
	}
	if (it.err)
		probe_oom = 1;
	return it.err;
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

struct others {
	const char *step, *base;
	struct ck_buf *b;
	int err;
};

static int other_one(void *ctx, const char *name, int is_dir)
{
	struct others *o = ctx;
	char *p;

	if (name[0] == '.' || !strcmp(name, o->base) || !is_dir)
		return 0;
	p = ck_path_join(o->step, name);
	if (!p)
		o->err = ck_err(-ENOMEM, "out of memory");
	else if (src_is_dir(p) && is_item_dir(p))
		o->err = ck_buf_printf(o->b, "%s%s", o->b->len ? ", " : "", name);
	free(p);
	return o->err;
}

int orbax_step_other_items(const char *item_dir, char **out)
{
	struct ck_buf b = CK_BUF_INIT;
	const char *base = strrchr(item_dir, '/');
	struct others o = { NULL, NULL, &b, 0 };
	char *step = NULL;
	int err;

	*out = NULL;
	base = base ? base + 1 : item_dir;
	/* A step directory that is itself the item has no siblings to name;
	 * without listings, they cannot be found. */
	if (step_of(base) >= 0 || base == item_dir || !src_can_list(item_dir))
		return 0;
	step = strndup(item_dir, (size_t)(base - 1 - item_dir));
	if (!step)
		return ck_err(-ENOMEM, "out of memory");
	o.step = step;
	o.base = base;
	if (src_list(NULL, step, 1, other_one, &o) != -ENOMEM)
		ck_err_clear();
	else
		o.err = -ENOMEM;
	err = o.err;
	free(step);
	if (!err && b.len)
		*out = (char *)ck_buf_detach(&b, NULL);
	ck_buf_release(&b);
	return err;
}

/* The step directories of a directory, by name (caller frees). */
struct steps {
	char **names;
	int64_t *nums;
	size_t n, cap;
	int err;
};

#define MAX_STEPS 1000000u

static int step_one(void *ctx, const char *name, int is_dir)
{
	struct steps *st = ctx;
	int64_t s = step_of(name);

	if (s < 0 || !is_dir)
		return 0;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		char **nv = cap > MAX_STEPS ? NULL :
			    realloc(st->names, cap * sizeof(*nv));
		int64_t *ns = nv ? realloc(st->nums, cap * sizeof(*ns)) : NULL;

		if (nv)
			st->names = nv;
		if (!ns) {
			st->err = cap > MAX_STEPS ?
				ck_err(-E2BIG, "more than %u steps", MAX_STEPS) :
				ck_err(-ENOMEM, "out of memory");
			return st->err;
		}
		st->nums = ns;
		st->cap = cap;
	}
	st->names[st->n] = strdup(name);
	if (!st->names[st->n])
		return st->err = ck_err(-ENOMEM, "out of memory");
	st->nums[st->n++] = s;
	return 0;
}

/*
 * 1 if the step directory step_dir (holding item) is committed: on a source
 * where Orbax marks commits with commit_success.txt (in the step, or in the
 * item as older Orbax wrote it), that file is there; elsewhere always.
 */
static int committed(const char *step_dir, const char *item)
{
	if (!src_needs_commit_file(step_dir))
		return 1;
	return has_entry(step_dir, "commit_success.txt", 0) ||
	       (item && has_entry(item, "commit_success.txt", 0));
}

/*
 * Pick a step directory under dir: the one numbered want, or the latest one
 * that holds an item and is committed (uncommitted: or not).  *name gets the
 * directory name (caller frees).
 */
static int pick_step(const char *dir, int64_t want, int uncommitted,
		     char **name, int64_t *step)
{
	struct steps st = { NULL, NULL, 0, 0, 0 };
	size_t best = SIZE_MAX;
	int err, skipped = 0;

	if (!src_can_list(dir))
		return ck_err(-ENOTSUP, "%s: no item directory here, and HTTP has "
			      "no directory listing to find steps: name the step "
			      "(.../checkpoints/STEP) or the item (.../STEP/items)",
			      dir);
	err = src_list(NULL, dir, 1, step_one, &st);
	if (!err)
		err = st.err;
	/* Latest first: each candidate costs requests on a remote store. */
	while (!err) {
		size_t pick = SIZE_MAX;
		char *full, *item = NULL;
		int r;

		for (size_t i = 0; i < st.n; i++)
			if (st.names[i] && (want < 0 || st.nums[i] == want) &&
			    (pick == SIZE_MAX || st.nums[i] > st.nums[pick]))
				pick = i;
		if (pick == SIZE_MAX)
			break;
		full = probe_join(dir, st.names[pick]);
		/* A step whose items are ambiguous still counts: picking it
		 * gives the error. */
		r = full && src_is_dir(full) ? item_in_step(full, &item) : -ENOENT;
		if (r != -ENOENT && !uncommitted && !committed(full, item)) {
			if (want >= 0)
				err = ck_err(-EBUSY, "%s: step %lld has no "
					     "commit_success.txt: Orbax is still "
					     "writing it, or its save failed; -o "
					     "uncommitted takes it anyway", full,
					     (long long)want);
			r = -ENOENT;
			skipped++;
		}
		free(item);
		free(full);
		if (r != -ENOENT) {
			best = pick;
			break;
		}
		free(st.names[pick]);
		st.names[pick] = NULL;
	}
	if (!err && best == SIZE_MAX) {
		if (want >= 0)
			err = ck_err(-ENOENT, "%s: no committed step %lld", dir,
				     (long long)want);
		else if (skipped)
			err = ck_err(-ENOENT, "%s: no committed step (%d without "
				     "commit_success.txt, still being written; "
				     "-o uncommitted takes them)", dir, skipped);
		else
			err = ck_err(-ENOENT, "%s: no Orbax checkpoint found (no "
				     "item directory, no _METADATA, no "
				     "manifest.ocdbt, no step)", dir);
	}
	if (!err) {
		*name = st.names[best];
		*step = st.nums[best];
		st.names[best] = NULL;
	}
	for (size_t i = 0; i < st.n; i++)
		free(st.names[i]);
	free(st.names);
	free(st.nums);
	return err;
}

/*
 * committed() for a path given directly: dir is a step holding item, or
 * the item itself (item == dir), whose step is then its parent when the
 * parent's name is a step's.
 */
static int step_committed(const char *dir, const char *item)
{
	const char *base, *pb;
	char *parent;
	int ok;

	if (strcmp(dir, item))
		return committed(dir, item);
	base = strrchr(dir, '/');
	if (!base || base == dir || !src_needs_commit_file(dir))
		return 1;
	parent = strndup(dir, (size_t)(base - dir));
	if (!parent) {
		probe_oom = 1;
		return 1;
	}
	pb = strrchr(parent, '/');
	ok = step_of(pb ? pb + 1 : parent) < 0 || committed(parent, item);
	free(parent);
	return ok;
}

static int resolve(const char *path, int64_t want_step, int uncommitted,
		   char **item, int64_t *step)
{
	char *dir = NULL, *found, *sub;
	char *step_name = NULL;
	enum src_type t;
	int64_t s = -1;
	int err;

	err = src_stat(path, &t);
	if (err)		/* unreachable, unauthorised, no bucket */
		return err;
	if (t != SRC_DIR && t != SRC_MAYBE_DIR)
		return ck_err(-ENOENT, "%s: not a directory", path);
	/* A run directory holds checkpoints/ (which HTTP cannot tell). */
	sub = ck_path_join(path, "checkpoints");
	if (!sub)
		return ck_err(-ENOMEM, "out of memory");
	if (src_can_list(path) && !is_item_dir(path) && src_type(sub) == SRC_DIR) {
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
		if (!uncommitted && !step_committed(dir, found)) {
			err = ck_err(-EBUSY, "%s: no commit_success.txt: Orbax is "
				     "still writing this step, or its save "
				     "failed; -o uncommitted takes it anyway", path);
			free(found);
			goto out;
		}
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
	err = pick_step(dir, want_step, uncommitted, &step_name, &s);
	if (err == -ENOENT && want_step < 0) {
		unsigned budget = 4096;
		char why[512];

		/* A plain zarr hierarchy (or TensorStore dataset).  The probe
		 * clears the message pick_step() left. */
		snprintf(why, sizeof(why), "%s", ck_err_msg());
		if (has_zarr_below(dir, 3, &budget)) {
			ck_err_clear();
			*item = dir;
			*step = -1;
			return 0;
		}
		ck_err(err, "%s", why);
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
	return orbax_resolve_opts(path, want_step, 0, item, step);
}

int orbax_resolve_opts(const char *path, int64_t want_step, int uncommitted,
		       char **item, int64_t *step)
{
	int err;

	probe_oom = 0;
	err = resolve(path, want_step, uncommitted, item, step);
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
	int step_parent = 0, err;

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
		step_parent = step_of(pb ? pb + 1 : parent) >= 0 || src_is_file(meta);
		free(meta);
	}
	err = src_realpath(step_parent ? parent : item_dir, &pick);
	free(parent);
	if (err)
		return err;
	*out = pick;
	return 0;
}
