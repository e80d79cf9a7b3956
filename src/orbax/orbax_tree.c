/* SPDX-License-Identifier: MIT */
/*
 * This file implements orbax_tree_apply(): tell which parameter tree a
 * checkpoint's arrays form (orbax_tree.h) and give its weights their
 * canonical names.
 *
 * Each array not in a skipped subtree is claimed by the table row with the
 * longest root that it starts with and whose leaf suffix it ends with.  The
 * rows that claim anything are the tree; none, or two, is no tree.  An NNX
 * tree must claim every such array (all its leaves end in ".value").
 */
#include "orbax/orbax_tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orbax/orbax.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

/* Adding a tree is a row here (and a test). */
static const struct orbax_tree trees[] = {
	{ "linen", ORBAX_TREE_CANONICAL_ROOT, "", 0 },
	{ "nnx-rl", "base.", ".value", 1 },
	{ "nnx-sft", "", ".value", 1 },
};

#define NTREES (sizeof(trees) / sizeof(trees[0]))

/* First components of subtrees that never hold weights. */
static const char *const skipped_roots[] = {
	"opt_state", "optimizer*", "nnx_aux", "step",
};

const struct orbax_tree *orbax_tree_at(size_t i)
{
	return i < NTREES ? &trees[i] : NULL;
}

/* 1 if the component [s, s+n) matches pat ("x*": any name starting "x"). */
static int comp_is(const char *s, size_t n, const char *pat)
{
	size_t pl = strlen(pat);

	if (pl && pat[pl - 1] == '*')
		return n >= pl - 1 && !strncmp(s, pat, pl - 1);
	return n == pl && !strncmp(s, pat, n);
}

int orbax_tree_skipped(const char *name)
{
	size_t n = strcspn(name, ".");

	for (size_t i = 0; i < sizeof(skipped_roots) / sizeof(*skipped_roots); i++)
		if (comp_is(name, n, skipped_roots[i]))
			return 1;
	for (const char *p = name;; p += n + 1) {
		n = strcspn(p, ".");
		if (comp_is(p, n, "rngs") || (n >= 5 && !strncmp(p + n - 5, "_rngs", 5)))
			return 1;
		if (!p[n])
			return 0;
	}
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* The row claiming name, or -1. */
static int claim(const char *name)
{
	size_t n = strlen(name), best_root = 0;
	int best = -1;

	for (size_t i = 0; i < NTREES; i++) {
		size_t r = strlen(trees[i].root), l = strlen(trees[i].leaf);

		if (n > r + l && !strncmp(name, trees[i].root, r) &&
		    ends_with(name, n, trees[i].leaf) && (best < 0 || r > best_root)) {
			best = (int)i;
			best_root = r;
		}
	}
	return best;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/* 1 if the component [s, s+n) is "<base>_<digits>"; *base_len = base's. */
static int is_underscore_index(const char *s, size_t n, size_t *base_len)
{
	size_t d = n;

	while (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9')
		d--;
	if (d == n || d < 2 || s[d - 1] != '_')
		return 0;
	*base_len = d - 1;
	return 1;
}

/*
 * A list container seen in the tree: the path up to and including the
 * container's own name ("decoder.layers"), whether it was saved as an
 * nnx.List (decoder.layers.0) or with Linen names (decoder.layers_0), and an
 * array that shows it.
 */
struct container {
	char *path;
	int list;
	const char *example;
};

struct containers {
	struct container *v;
	size_t n, cap;
};

static int add_container(struct containers *cs, const char *path, size_t len,
			 int list, const char *example)
{
	if (cs->n && cs->v[cs->n - 1].list == list &&
	    strlen(cs->v[cs->n - 1].path) == len &&
	    !strncmp(cs->v[cs->n - 1].path, path, len))
		return 0;	/* the same as the array before: common */
	if (cs->n == cs->cap) {
		size_t nc = cs->cap ? cs->cap * 2 : 16;
		struct container *nv = realloc(cs->v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		cs->v = nv;
		cs->cap = nc;
	}
	cs->v[cs->n].path = strndup(path, len);
	if (!cs->v[cs->n].path)
		return -ENOMEM;
	cs->v[cs->n].list = list;
	cs->v[cs->n].example = example;
	cs->n++;
	return 0;
}

static int cmp_container(const void *pa, const void *pb)
{
	const struct container *a = pa, *b = pb;
	int r = strcmp(a->path, b->path);

	return r ? r : a->list - b->list;
}

/*
 * The canonical name of weight name (claimed by t) into *out, noting its
 * list containers in cs.  Folding: "decoder.layers.0.mlp" becomes
 * "decoder.layers_0.mlp".
 */
static int canonical(const struct orbax_tree *t, const char *name,
		     struct containers *cs, struct ck_buf *out, int *folded)
{
	const char *s = name + strlen(t->root);
	size_t len = strlen(s) - strlen(t->leaf);
	size_t start = 0;
	int err;

	out->len = 0;
	*folded = 0;
	err = ck_buf_append(out, ORBAX_TREE_CANONICAL_ROOT,
			    strlen(ORBAX_TREE_CANONICAL_ROOT));
	while (!err && start < len) {
		const char *c = s + start;
		size_t n = strcspn(c, "."), base;

		if (start + n > len)
			n = len - start;
		if (t->lists && start && all_digits(c, n)) {
			/* s[0 .. start-1) is the path to the container */
			*folded = 1;
			err = add_container(cs, s, start - 1, 1, name);
			if (!err)
				err = ck_buf_printf(out, "_%.*s", (int)n, c);
		} else {
			if (t->lists && is_underscore_index(c, n, &base))
				err = add_container(cs, s, start + base, 0, name);
			if (!err)
				err = ck_buf_printf(out, "%s%.*s", start ? "." : "",
						    (int)n, c);
		}
		start += n + 1;
	}
	return err ? -ENOMEM : 0;
}

static int cmp_array(const void *a, const void *b)
{
	return strcmp(((const struct orbax_array *)a)->name,
		      ((const struct orbax_array *)b)->name);
}

/* Set c->tree_why (printf-style); 0, or -ENOMEM. */
static int refuse(struct orbax_ckpt *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct orbax_ckpt *c, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!msg)
		return ck_err(-ENOMEM, "out of memory");
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	free(c->tree_why);
	c->tree_why = msg;
	c->tree = NULL;
	return 0;
}

/* Which row claims the arrays; refuses when none, or several, do. */
static int pick_tree(struct orbax_ckpt *c, const struct orbax_tree **out)
{
	size_t count[NTREES] = { 0 }, unclaimed = 0;
	const char *example[NTREES] = { NULL }, *stray = NULL;
	int first = -1, second = -1;

	*out = NULL;
	for (size_t i = 0; i < c->narrays; i++) {
		const char *name = c->arrays[i].name;
		int k;

		if (orbax_tree_skipped(name))
			continue;
		k = claim(name);
		if (k < 0) {
			if (!unclaimed++)
				stray = name;
			continue;
		}
		if (!count[k]++)
			example[k] = name;
	}
	for (size_t k = 0; k < NTREES; k++) {
		if (!count[k])
			continue;
		if (first < 0)
			first = (int)k;
		else if (second < 0)
			second = (int)k;
	}
	if (first < 0)
		return refuse(c, "%s: not a parameter tree MaxText or Tunix writes: "
			      "no array under 'params.params.' and no NNX leaf "
			      "('*.value')", c->item_dir);
	if (second >= 0)
		return refuse(c, "%s: the arrays form two parameter trees at once: "
			      "'%s' (%s) and '%s' (%s)", c->item_dir, example[first],
			      trees[first].name, example[second], trees[second].name);
	if (trees[first].leaf[0] && unclaimed)
		return refuse(c, "%s: an NNX (%s) tree whose leaf '%s' does not end "
			      "in '%s'", c->item_dir, trees[first].name, stray,
			      trees[first].leaf);
	*out = &trees[first];
	return 0;
}

/* 1 (c->tree_why set) if a list is saved both as an nnx.List and with
 * Linen names, else 0; or -ENOMEM. */
static int mixed_lists(struct orbax_ckpt *c, struct containers *cs)
{
	if (cs->n > 1)
		qsort(cs->v, cs->n, sizeof(*cs->v), cmp_container);
	for (size_t i = 1; i < cs->n; i++) {
		const struct container *a = &cs->v[i - 1], *b = &cs->v[i];

		if (strcmp(a->path, b->path) || a->list == b->list)
			continue;
		return refuse(c, "%s: '%s' is saved both with Linen names ('%s') "
			      "and as an nnx.List ('%s')", c->item_dir, a->path,
			      a->list ? b->example : a->example,
			      a->list ? a->example : b->example) < 0 ? -ENOMEM : 1;
	}
	return 0;
}

/* 1 (c->tree_why set) if two arrays have the same canonical name; else 0;
 * or -ENOMEM.  The arrays are sorted by name. */
static int same_weight(struct orbax_ckpt *c)
{
	for (size_t i = 1; i < c->narrays; i++) {
		const struct orbax_array *a = &c->arrays[i - 1], *b = &c->arrays[i];

		if (!strcmp(a->name, b->name))
			return refuse(c, "%s: '%s' and '%s' are the same weight "
				      "('%s')", c->item_dir, orbax_array_path(a),
				      orbax_array_path(b), b->name) < 0 ? -ENOMEM : 1;
	}
	return 0;
}

/* Swap names[i] and arrays[i].name for the arrays renamed; re-sort. */
static void swap_names(struct orbax_ckpt *c, char **names, int to_canonical)
{
	for (size_t i = 0; i < c->narrays; i++) {
		struct orbax_array *a = &c->arrays[i];

		if (to_canonical && names[i]) {
			a->stored = a->name;
			a->name = names[i];
			names[i] = NULL;
		} else if (!to_canonical && a->stored) {
			free(a->name);
			a->name = a->stored;
			a->stored = NULL;
		}
	}
	qsort(c->arrays, c->narrays, sizeof(*c->arrays), cmp_array);
}

int orbax_tree_apply(struct orbax_ckpt *c)
{
	const struct orbax_tree *t;
	struct containers cs = { NULL, 0, 0 };
	struct ck_buf b = CK_BUF_INIT;
	char **names = NULL;
	size_t lists = 0;
	int err;

	err = pick_tree(c, &t);
	if (err || !t)
		return err;
	if (!t->leaf[0] && !t->lists && !strcmp(t->root, ORBAX_TREE_CANONICAL_ROOT)) {
		c->tree = t;	/* Linen: the names are the canonical ones */
		return 0;
	}
	/* New names first, so that a failure leaves the arrays as they were. */
	names = calloc(c->narrays + 1, sizeof(*names));
	err = names ? 0 : -ENOMEM;
	for (size_t i = 0; !err && i < c->narrays; i++) {
		const char *name = c->arrays[i].name;
		int folded;

		if (orbax_tree_skipped(name))
			continue;
		err = canonical(t, name, &cs, &b, &folded);
		if (!err) {
			lists += (size_t)folded;
			names[i] = strndup((const char *)b.data, b.len);
			err = names[i] ? 0 : -ENOMEM;
		}
	}
	if (!err)
		err = mixed_lists(c, &cs);
	if (!err) {
		swap_names(c, names, 1);
		c->tree = t;
		c->tree_lists = lists;
		err = same_weight(c);
		if (err == 1)
			swap_names(c, NULL, 0);
	}
	if (err == 1)
		err = 0;
	for (size_t i = 0; names && i < c->narrays; i++)
		free(names[i]);
	free(names);
	for (size_t i = 0; i < cs.n; i++)
		free(cs.v[i].path);
	free(cs.v);
	ck_buf_release(&b);
	return err ? ck_err(-ENOMEM, "out of memory") : 0;
}
