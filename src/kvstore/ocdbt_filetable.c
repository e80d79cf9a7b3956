/* SPDX-License-Identifier: MIT */
/* This file implements the OCDBT data file table decoder of ocdbt_filetable.h.
 */
#include "kvstore/ocdbt_filetable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"
#include "util/ck_rd.h"

#define PATH_MAX_LEN 65535

void ocdbt_filetable_release(struct ocdbt_filetable *t)
{
	free(t->files);
	free(t->arena);
	t->files = NULL;
	t->arena = NULL;
	t->n = 0;
}

/* Read n varints of at most max into v[]. */
static int read_column(struct ck_rd *r, uint64_t *v, size_t n, uint64_t max,
		       const char *what)
{
	for (size_t i = 0; i < n; i++) {
		int err = ck_rd_varint(r, max, &v[i], what);

		if (err)
			return err;
	}
	return 0;
}

/* Reconstruct the paths from the length columns and the suffix bytes. */
static int build_paths(struct ck_rd *r, const uint64_t *pre,
		       const uint64_t *suf, const uint64_t *base,
		       struct ocdbt_filetable *t)
{
	size_t total = 0, prev_len = 0, prev_off = 0, pos = 0;
	const uint8_t *bytes;

	for (size_t i = 0; i < t->n; i++) {
		uint64_t len = pre[i] + suf[i];

		if (pre[i] > prev_len)
			return ck_err(-EIO,
				      "data file %zu: prefix length %llu "
				      "exceeds the previous path's %zu",
				      i, (unsigned long long)pre[i], prev_len);
		if (len > PATH_MAX_LEN)
			return ck_err(-EIO,
				      "data file %zu: path length %llu "
				      "exceeds %d",
				      i, (unsigned long long)len, PATH_MAX_LEN);
		if (base[i] > len)
			return ck_err(-EIO,
				      "data file %zu: base path length %llu "
				      "exceeds the path length %llu",
				      i, (unsigned long long)base[i],
				      (unsigned long long)len);
		total += (size_t)len + 1;
		if (total > OCDBT_FILETABLE_MAX_BYTES)
			return ck_err(-EOVERFLOW,
				      "data file table paths exceed "
				      "%zu bytes",
				      OCDBT_FILETABLE_MAX_BYTES);
		prev_len = (size_t)len;
	}
	t->arena = malloc(total ? total : 1);
	if (!t->arena)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	for (size_t i = 0; i < t->n; i++) {
		int err = ck_rd_bytes(r, (size_t)suf[i], &bytes,
				      "data file path");

		if (err)
			return err;
		memmove(t->arena + pos, t->arena + prev_off, (size_t)pre[i]);
		memcpy(t->arena + pos + pre[i], bytes, (size_t)suf[i]);
		t->files[i].path = t->arena + pos;
		t->files[i].len = (size_t)(pre[i] + suf[i]);
		t->files[i].base_len = (size_t)base[i];
		t->arena[pos + t->files[i].len] = '\0';
		prev_off = pos;
		pos += t->files[i].len + 1;
	}
	return 0;
}

int ocdbt_filetable_decode(struct ck_rd *r, struct ocdbt_filetable *t)
{
	struct ocdbt_filetable tab = {NULL, 0, NULL};
	uint64_t n, *cols = NULL;
	int err;

	err = ck_rd_varint(r, UINT64_MAX, &n, "number of data files");
	if (err)
		return err;
	/* every entry takes at least two bytes (suffix and base lengths) */
	if (n > ck_rd_left(r) / 2)
		return ck_err(-EIO,
			      "data file table claims %llu files in %zu bytes",
			      (unsigned long long)n, ck_rd_left(r));
	tab.n = (size_t)n;
	if (tab.n) {
		cols = calloc(3 * tab.n, sizeof(*cols));
		tab.files = calloc(tab.n, sizeof(*tab.files));
		if (!cols || !tab.files) {
			err = ck_err(-ENOMEM, "ocdbt: out of memory");
			goto out;
		}
		err = read_column(r, cols + 1, tab.n - 1, PATH_MAX_LEN,
				  "data file path prefix length");
		if (!err)
			err = read_column(r, cols + tab.n, tab.n, PATH_MAX_LEN,
					  "data file path suffix length");
		if (!err)
			err = read_column(r, cols + 2 * tab.n, tab.n,
					  PATH_MAX_LEN,
					  "data file base path length");
		if (!err)
			err = build_paths(r, cols, cols + tab.n,
					  cols + 2 * tab.n, &tab);
		if (err)
			goto out;
	}
	*t = tab;
	tab.files = NULL;
	tab.arena = NULL;
out:
	free(cols);
	ocdbt_filetable_release(&tab);
	return err;
}
