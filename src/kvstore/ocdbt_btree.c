/* SPDX-License-Identifier: MIT */
/* This file implements the OCDBT B+tree node decoder of ocdbt_btree.h. */
#include "kvstore/ocdbt_btree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/ocdbt_envelope.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

#define KEY_LEN_MAX 65535

void ocdbt_btree_node_release(struct ocdbt_btree_node *node)
{
	ocdbt_filetable_release(&node->files);
	free(node->keys);
	free(node->leaves);
	free(node->children);
	free(node->body);
	memset(node, 0, sizeof(*node));
}

static int key_less(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	return c < 0 || (c == 0 && alen < blen);
}

/*
 * Decode the key columns (prefix lengths, suffix lengths, [subtree prefix
 * lengths,] suffix bytes) and rebuild every key into node->keys.  off[i]
 * and len[i] receive each key's place.
 */
static int keys_decode(struct ck_rd *r, struct ocdbt_btree_node *node,
		       size_t *off, size_t *len, size_t *sub)
{
	size_t n = node->n, total = 0, pos = 0;
	uint64_t *pre, *suf, v;
	const uint8_t *bytes;
	int err = 0;

	pre = calloc(2 * n, sizeof(*pre));
	if (!pre)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	suf = pre + n;
	for (size_t i = 1; i < n && !err; i++)
		err = ck_rd_varint(r, KEY_LEN_MAX, &pre[i],
				   "key prefix length");
	for (size_t i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, KEY_LEN_MAX, &suf[i],
				   "key suffix length");
	for (size_t i = 0; i < n && !err && sub; i++) {
		err = ck_rd_varint(r, KEY_LEN_MAX, &v,
				   "subtree common prefix length");
		sub[i] = (size_t)v;
	}
	for (size_t i = 0; i < n && !err; i++) {
		len[i] = (size_t)(pre[i] + suf[i]);
		if (i && pre[i] > len[i - 1])
			err = ck_err(-EIO,
				     "entry %zu: key prefix length %zu exceeds "
				     "the previous key's %zu",
				     i, (size_t)pre[i], len[i - 1]);
		else if (sub && sub[i] > len[i])
			err = ck_err(-EIO,
				     "entry %zu: subtree prefix length %zu "
				     "exceeds the key length %zu",
				     i, sub[i], len[i]);
		total += len[i];
		if (!err && total > OCDBT_BTREE_MAX_KEY_BYTES)
			err = ck_err(-EOVERFLOW, "node keys exceed %zu bytes",
				     OCDBT_BTREE_MAX_KEY_BYTES);
	}
	if (!err) {
		node->keys = malloc(total ? total : 1);
		if (!node->keys)
			err = ck_err(-ENOMEM, "ocdbt: out of memory");
	}
	for (size_t i = 0; i < n && !err; i++) {
		err = ck_rd_bytes(r, (size_t)suf[i], &bytes, "key suffix");
		if (err)
			break;
		off[i] = pos;
		if (pre[i])
			memcpy(node->keys + pos, node->keys + off[i - 1],
			       (size_t)pre[i]);
		if (suf[i])
			memcpy(node->keys + pos + pre[i], bytes,
			       (size_t)suf[i]);
		pos += len[i];
		if (i && !key_less(node->keys + off[i - 1], len[i - 1],
				   node->keys + off[i], len[i]))
			err = ck_err(-EIO,
				     "entry %zu: key not above the previous "
				     "key",
				     i);
	}
	free(pre);
	return err;
}

static int read_file_ids(struct ck_rd *r, const struct ocdbt_btree_node *node,
			 uint32_t *id)
{
	uint64_t v;
	int err = ck_rd_varint(r, UINT32_MAX, &v, "data file id");

	if (err)
		return err;
	if (v >= node->files.n)
		return ck_err(-EIO,
			      "data file id %llu out of range (%zu files)",
			      (unsigned long long)v, node->files.n);
	*id = (uint32_t)v;
	return 0;
}

static int leaf_decode(struct ck_rd *r, struct ocdbt_btree_node *node,
		       size_t *off, size_t *len)
{
	struct ocdbt_leaf_entry *e;
	size_t n = node->n, i;
	uint64_t inline_total = 0;
	int err;

	e = node->leaves = calloc(n, sizeof(*e));
	if (!e)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	err = keys_decode(r, node, off, len, NULL);
	for (i = 0; i < n && !err; i++) {
		e[i].key_off = off[i];
		e[i].key_len = len[i];
		err = ck_rd_varint(r, UINT64_MAX, &e[i].value_length,
				   "value length");
	}
	for (i = 0; i < n && !err; i++) {
		err = ck_rd_u8(r, &e[i].kind, "value kind");
		if (!err && e[i].kind > OCDBT_VALUE_INDIRECT)
			err = ck_err(-EIO, "entry %zu: bad value kind %u", i,
				     e[i].kind);
		if (!err && e[i].kind == OCDBT_VALUE_INLINE &&
		    __builtin_add_overflow(inline_total, e[i].value_length,
					   &inline_total))
			err = ck_err(-EIO, "inline value lengths overflow");
	}
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT)
			err = read_file_ids(r, node, &e[i].file_id);
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT)
			err = ck_rd_varint(r, UINT64_MAX, &e[i].offset,
					   "value offset");
	if (err)
		return err;
	if (inline_total != ck_rd_left(r))
		return ck_err(-EIO,
			      "inline values take %llu bytes but %zu remain",
			      (unsigned long long)inline_total, ck_rd_left(r));
	for (i = 0; i < n; i++)
		if (e[i].kind == OCDBT_VALUE_INLINE) {
			e[i].inline_data = r->p + r->pos;
			r->pos += (size_t)e[i].value_length;
		}
	return 0;
}

static int interior_decode(struct ck_rd *r, struct ocdbt_btree_node *node,
			   size_t *off, size_t *len, size_t *sub)
{
	struct ocdbt_child *c;
	size_t n = node->n, i;
	int err;

	c = node->children = calloc(n, sizeof(*c));
	if (!c)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	err = keys_decode(r, node, off, len, sub);
	for (i = 0; i < n && !err; i++) {
		c[i].key_off = off[i];
		c[i].key_len = len[i];
		c[i].subtree_prefix_len = sub[i];
		err = read_file_ids(r, node, &c[i].file_id);
	}
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &c[i].offset, "child offset");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &c[i].length, "child length");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &c[i].num_keys, "num_keys");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX, &c[i].num_tree_bytes,
				   "num_tree_bytes");
	for (i = 0; i < n && !err; i++)
		err = ck_rd_varint(r, UINT64_MAX,
				   &c[i].num_indirect_value_bytes,
				   "num_indirect_value_bytes");
	if (!err && ck_rd_left(r))
		err = ck_err(-EIO, "%zu trailing bytes after interior node",
			     ck_rd_left(r));
	return err;
}

static int body_decode(struct ck_rd *r, int expected_height,
		       struct ocdbt_btree_node *node)
{
	size_t *scratch = NULL;
	uint64_t n;
	int err;

	err = ck_rd_u8(r, &node->height, "node height");
	if (err)
		return err;
	if (expected_height >= 0 && node->height != expected_height)
		return ck_err(-EIO, "node height %u, expected %d", node->height,
			      expected_height);
	err = ocdbt_filetable_decode(r, &node->files);
	if (!err)
		err = ck_rd_varint(r, OCDBT_BTREE_MAX_ENTRIES, &n,
				   "number of entries");
	if (err)
		return err;
	/* every entry takes at least 3 bytes of columns */
	if (n == 0 || n > ck_rd_left(r) / 3)
		return ck_err(-EIO, "bad number of entries %llu for %zu bytes",
			      (unsigned long long)n, ck_rd_left(r));
	node->n = (size_t)n;
	scratch = calloc(3 * node->n, sizeof(*scratch));
	if (!scratch)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	if (node->height == 0)
		err = leaf_decode(r, node, scratch, scratch + node->n);
	else
		err = interior_decode(r, node, scratch, scratch + node->n,
				      scratch + 2 * node->n);
	free(scratch);
	return err;
}

int ocdbt_btree_node_decode(const uint8_t *p, size_t n, size_t max_body,
			    int expected_height, struct ocdbt_btree_node *node)
{
	struct ocdbt_btree_node tmp;
	struct ck_buf body = CK_BUF_INIT;
	struct ck_rd r;
	size_t len = 0;
	int err;

	memset(&tmp, 0, sizeof(tmp));
	err = ocdbt_envelope_decode(p, n, OCDBT_MAGIC_BTREE, max_body, &body);
	if (err)
		goto out;
	tmp.body = ck_buf_detach(&body, &len);
	ck_rd_init(&r, tmp.body, len);
	err = body_decode(&r, expected_height, &tmp);
	if (err)
		goto out;
	*node = tmp;
	memset(&tmp, 0, sizeof(tmp));
out:
	ocdbt_btree_node_release(&tmp);
	ck_buf_release(&body);
	return err;
}
