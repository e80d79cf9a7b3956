/* SPDX-License-Identifier: MIT */
/* This file implements the OCDBT version-tree decoders of ocdbt_version.h. */
#include "kvstore/ocdbt_version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/ocdbt_envelope.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

/* A version list has at most 2^16 entries (arity_log2 <= 16); each column
 * takes at least one byte per entry, so the count is also bounded by the
 * bytes left. */
static int read_count(struct ck_rd *r, size_t min_bytes, size_t *n,
		      const char *what)
{
	uint64_t v;
	int err = ck_rd_varint(r, UINT64_MAX, &v, what);

	if (err)
		return err;
	if (v > 65536 || v * min_bytes > ck_rd_left(r))
		return ck_err(-EIO, "%s %llu does not fit in %zu bytes", what,
			      (unsigned long long)v, ck_rd_left(r));
	*n = (size_t)v;
	return 0;
}

static int read_file_id(struct ck_rd *r, size_t nfiles, uint32_t *id)
{
	uint64_t v;
	int err = ck_rd_varint(r, UINT32_MAX, &v, "data file id");

	if (err)
		return err;
	if (v >= nfiles)
		return ck_err(-EIO,
			      "data file id %llu out of range (%zu files)",
			      (unsigned long long)v, nfiles);
	*id = (uint32_t)v;
	return 0;
}

static int check_generations(uint64_t prev, uint64_t gen, size_t i)
{
	if (gen == 0 || gen <= prev)
		return ck_err(
			-EIO, "version %zu: generation %llu is not above %llu",
			i, (unsigned long long)gen, (unsigned long long)prev);
	return 0;
}

static int leaves_columns(struct ck_rd *r, size_t nfiles,
			  struct ocdbt_version *v, size_t n)
{
	int err = 0;
	size_t i;

	for (i = 0; i < n && !err; i++) {
		err = ck_rd_varint(r, UINT64_MAX, &v[i].generation,
				   "generation");
		if (!err)
			err = check_generations(i ? v[i - 1].generation : 0,
						v[i].generation, i);
	}
	for (i = 0; i < n && !err; i++)
		err = ck_rd_u8(r, &v[i].root_height, "root height");
	for (i = 0; i < n && !err; i++)
		err = read_file_id(r, nfiles, &v[i].file_id);
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].offset, "root offset");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].length, "root length");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].num_keys, "num_keys");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].num_tree_bytes,
				   "num_tree_bytes");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX,
				   &v[i].num_indirect_value_bytes,
				   "num_indirect_value_bytes");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_u64le(r, &v[i].commit_time, "commit time");
	for (i = 0; i < n && !err; i++) {
		int miss_off = v[i].offset == OCDBT_MISSING;
		int miss_len = v[i].length == OCDBT_MISSING;

		if (miss_off != miss_len || (miss_off && v[i].root_height))
			err = ck_err(-EIO,
				     "generation %llu: malformed empty root "
				     "reference",
				     (unsigned long long)v[i].generation);
	}
	return err;
}

int ocdbt_version_leaves_decode(struct ck_rd *r, size_t nfiles,
				struct ocdbt_version **v, size_t *n)
{
	struct ocdbt_version *arr = NULL;
	size_t cnt = 0;
	int err;

	/* 9 columns, the commit time alone takes 8 bytes */
	err = read_count(r, 16, &cnt, "number of versions");
	if (err)
		return err;
	if (cnt) {
		arr = calloc(cnt, sizeof(*arr));
		if (!arr)
			return ck_err(-ENOMEM, "ocdbt: out of memory");
		err = leaves_columns(r, nfiles, arr, cnt);
		if (err) {
			free(arr);
			return err;
		}
	}
	*v = arr;
	*n = cnt;
	return 0;
}

static int refs_columns(struct ck_rd *r, size_t nfiles, int with_height,
			uint8_t child_height, struct ocdbt_version_ref *v,
			size_t n)
{
	int err = 0;
	size_t i;

	for (i = 0; i < n && !err; i++) {
		err = ck_rd_varint(r, UINT64_MAX, &v[i].generation,
				   "generation");
		if (!err)
			err = check_generations(i ? v[i - 1].generation : 0,
						v[i].generation, i);
	}
	for (i = 0; i < n && !err; i++)
		err = read_file_id(r, nfiles, &v[i].file_id);
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].offset, "node offset");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].length, "node length");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &v[i].num_generations,
				   "num_generations");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_u64le(r, &v[i].commit_time, "commit time");
	for (i = 0; i < n && !err; i++) {
		if (!with_height) {
			v[i].height = child_height;
			continue;
		}
		err = ck_rd_u8(r, &v[i].height, "version node height");
		if (!err &&
		    (v[i].height == 0 || (i && v[i].height >= v[i - 1].height)))
			err = ck_err(-EIO,
				     "version node %zu: height %u is not "
				     "strictly decreasing and >= 1",
				     i, v[i].height);
	}
	return err;
}

int ocdbt_version_refs_decode(struct ck_rd *r, size_t nfiles, int with_height,
			      uint8_t child_height,
			      struct ocdbt_version_ref **v, size_t *n)
{
	struct ocdbt_version_ref *arr = NULL;
	size_t cnt = 0;
	int err;

	err = read_count(r, 13, &cnt, "number of version nodes");
	if (err)
		return err;
	if (cnt) {
		arr = calloc(cnt, sizeof(*arr));
		if (!arr)
			return ck_err(-ENOMEM, "ocdbt: out of memory");
		err = refs_columns(r, nfiles, with_height, child_height, arr,
				   cnt);
		if (err) {
			free(arr);
			return err;
		}
	}
	*v = arr;
	*n = cnt;
	return 0;
}

void ocdbt_version_node_release(struct ocdbt_version_node *node)
{
	ocdbt_filetable_release(&node->files);
	free(node->versions);
	free(node->refs);
	memset(node, 0, sizeof(*node));
}

static int node_body_decode(struct ck_rd *r, struct ocdbt_version_node *node)
{
	int err;

	err = ck_rd_u8(r, &node->arity_log2, "version tree arity");
	if (!err && (node->arity_log2 < 1 || node->arity_log2 > 16))
		err = ck_err(-EIO, "version tree arity log2 %u not in 1..16",
			     node->arity_log2);
	if (!err)
		err = ck_rd_u8(r, &node->height, "version node height");
	if (!err)
		err = ocdbt_filetable_decode(r, &node->files);
	if (err)
		return err;
	if (node->height == 0)
		err = ocdbt_version_leaves_decode(
			r, node->files.n, &node->versions, &node->nversions);
	else
		err = ocdbt_version_refs_decode(r, node->files.n, 0,
						(uint8_t)(node->height - 1),
						&node->refs, &node->nrefs);
	if (err)
		return err;
	if (node->nversions + node->nrefs == 0)
		return ck_err(-EIO, "empty version tree node");
	if (node->nversions + node->nrefs > ((size_t)1 << node->arity_log2))
		return ck_err(-EIO,
			      "version tree node has %zu entries, more than "
			      "its arity %zu",
			      node->nversions + node->nrefs,
			      (size_t)1 << node->arity_log2);
	if (ck_rd_left(r))
		return ck_err(-EIO,
			      "%zu trailing bytes after version tree node",
			      ck_rd_left(r));
	return 0;
}

int ocdbt_version_node_decode(const uint8_t *p, size_t n, size_t max_body,
			      struct ocdbt_version_node *node)
{
	struct ocdbt_version_node tmp;
	struct ck_buf body = CK_BUF_INIT;
	struct ck_rd r;
	int err;

	memset(&tmp, 0, sizeof(tmp));
	err = ocdbt_envelope_decode(p, n, OCDBT_MAGIC_VERSION, max_body, &body);
	if (err)
		goto out;
	ck_rd_init(&r, body.data, body.len);
	err = node_body_decode(&r, &tmp);
	if (err)
		goto out;
	*node = tmp;
	memset(&tmp, 0, sizeof(tmp));
out:
	ocdbt_version_node_release(&tmp);
	ck_buf_release(&body);
	return err;
}

int ocdbt_version_find(const struct ocdbt_version *v, size_t n, uint64_t gen,
		       size_t *idx)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].generation < gen)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || v[lo].generation != gen)
		return -ENOENT;
	*idx = lo;
	return 0;
}

int ocdbt_version_ref_find(const struct ocdbt_version_ref *r, size_t n,
			   uint64_t gen, size_t *idx)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].generation >= gen) {
			*idx = i;
			return 0;
		}
	}
	return -ENOENT;
}
