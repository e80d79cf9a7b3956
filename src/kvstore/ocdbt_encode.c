/* SPDX-License-Identifier: MIT */
/*
 * This file implements the OCDBT node and manifest encoding of
 * ocdbt_encode.h.
 *
 * Design note.  The tree is built bottom-up: leaves are cut greedily
 * (max_leaf_entries, and a decoded-size budget of max_decoded_node_bytes),
 * then each level of interior nodes over the level below, until one node
 * remains: the root.
 *
 * Keys are stored relative to the prefix a reader has consumed on its way
 * down (orbax-format.md §2.6-2.7).  A non-root node N is reached through its
 * parent entry, whose subtree_common_prefix is chosen as the longest common
 * prefix of all keys below N; since the entries are sorted that is
 * lcp(first key, last key).  So N stores its keys minus that prefix, and the
 * parent entry stores its key (the subtree's first key) minus the parent's
 * own prefix, with subtree_common_prefix_length = |lcp(N)| - |prefix(parent)|.
 * The root is reached with nothing consumed, so it stores full keys.  A
 * level with a single node is the root level; nodes are encoded only once
 * their level's node count is known, so every node is written exactly once.
 *
 * Every node carries its own data file table: the value files its leaf
 * entries reference, or the node file its children live in, sorted by
 * (base_path, relative_path).
 */
#include "kvstore/ocdbt_encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_envelope.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

#define PATH_MAX_LEN 65535
#define VERSION_TREE_ARITY_LOG2 4
#define ENTRY_OVERHEAD 40 /* upper bound of an entry's non-key columns */
#define MAX_HEIGHT 60

/* One written node, as its parent sees it. */
struct eref {
	size_t first, last;	 /* sorted entries of its subtree */
	uint64_t offset, length; /* where the node is in the node file */
	uint64_t num_keys;	 /* keys in the subtree */
	uint64_t tree_bytes;	 /* node bytes in the subtree */
	uint64_t indirect_bytes; /* out-of-line value bytes in it */
};

/* The encoding of one tree. */
struct enc {
	const struct ocdbt_encode_tree *t; /* what is built */
	struct ck_buf body;		   /* scratch: a node body */
	struct ck_buf obj;		   /* scratch: an encoded node */
	uint32_t *ids;			   /* scratch: a node's file ids */
	size_t nids, idcap;		   /* used / allocated */
};

/* A run of items forming one node. */
struct egroup {
	size_t start, count; /* items [start, start + count) */
};

/* ---- small encoders ---------------------------------------------------- */

static int put_varint(struct ck_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	return ck_buf_append(b, t, n);
}

static int put_u8(struct ck_buf *b, uint8_t v)
{
	return ck_buf_append(b, &v, 1);
}

static size_t lcp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen, i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Wrap body in the envelope (magic, length, version 0, zstd, CRC-32C). */
static int envelope_encode(uint32_t magic, const struct ck_buf *body, int level,
			   struct ck_buf *out)
{
	uint8_t hdr[14] = {0}, crc[4];
	int err;

	out->len = 0;
	hdr[0] = (uint8_t)(magic >> 24);
	hdr[1] = (uint8_t)(magic >> 16);
	hdr[2] = (uint8_t)(magic >> 8);
	hdr[3] = (uint8_t)magic;
	hdr[12] = 0; /* format version */
	hdr[13] = 1; /* compression: zstd */
	err = ck_buf_append(out, hdr, sizeof(hdr));
	if (!err)
		err = codec_zstd_encode_level(body->data, body->len, level,
					      out);
	if (err)
		return err;
	ck_store_u64le(out->data + 4, (uint64_t)out->len + 4);
	ck_store_u32le(crc, crc32c(0, out->data, out->len));
	return ck_buf_append(out, crc, sizeof(crc));
}

/* ---- data file tables ---------------------------------------------------- */

static int path_cmp(const struct ocdbt_encode_file *f, uint32_t a, uint32_t b)
{
	int c = strcmp(f[a].base, f[b].base);

	return c ? c : strcmp(f[a].rel, f[b].rel);
}

/* Add file id to the node's table (x->ids) unless it is there. */
static int ids_add(struct enc *x, uint32_t id)
{
	for (size_t i = 0; i < x->nids; i++)
		if (x->ids[i] == id)
			return 0;
	if (x->nids == x->idcap) {
		size_t nc = x->idcap ? x->idcap * 2 : 8;
		uint32_t *n = realloc(x->ids, nc * sizeof(*n));

		if (!n)
			return ck_err(-ENOMEM, "ocdbt encode: out of memory");
		x->ids = n;
		x->idcap = nc;
	}
	x->ids[x->nids++] = id;
	return 0;
}

/* Sort x->ids by path (insertion sort: tables are tiny). */
static void ids_sort(struct enc *x)
{
	for (size_t i = 1; i < x->nids; i++) {
		uint32_t v = x->ids[i];
		size_t j = i;

		for (; j && path_cmp(x->t->files, x->ids[j - 1], v) > 0; j--)
			x->ids[j] = x->ids[j - 1];
		x->ids[j] = v;
	}
}

/* The index of file id in the node's sorted table. */
static uint32_t ids_index(const struct enc *x, uint32_t id)
{
	size_t i = 0;

	while (i < x->nids && x->ids[i] != id)
		i++;
	return (uint32_t)i;
}

/*
 * Bytes shared by the full paths of table entries a and b (a before b): cut
 * at the common part of the base paths when they differ, as TensorStore's
 * encoder does, so a prefix never straddles a base/relative boundary.
 */
static size_t table_prefix(const struct ocdbt_encode_file *f, uint32_t a,
			   uint32_t b)
{
	const char *ba = f[a].base, *bb = f[b].base;
	const char *ra = f[a].rel, *rb = f[b].rel;
	size_t la = strlen(ba), lb = strlen(bb);
	size_t p = lcp((const uint8_t *)ba, la, (const uint8_t *)bb, lb);

	if (p == la && p == lb)
		p += lcp((const uint8_t *)ra, strlen(ra), (const uint8_t *)rb,
			 strlen(rb));
	return p;
}

/*
 * Encode the data file table of files f[ids[0..n)], sorted by path
 * (orbax-format.md §2.4).  empty_path: instead, a one-entry table holding
 * the empty path (what the root reference of an empty database indexes).
 */
static int table_encode(const struct ocdbt_encode_file *f, const uint32_t *ids,
			size_t n, int empty_path, const char *what,
			struct ck_buf *b)
{
	size_t i;
	int err;

	if (empty_path) {
		err = put_varint(b, 1);
		if (!err)
			err = put_varint(b, 0); /* suffix length */
		if (!err)
			err = put_varint(b, 0); /* base length */
		return err;
	}
	err = put_varint(b, n);
	for (i = 1; i < n && !err; i++)
		err = put_varint(b, table_prefix(f, ids[i - 1], ids[i]));
	for (i = 0; i < n && !err; i++) {
		size_t len = strlen(f[ids[i]].base) + strlen(f[ids[i]].rel);

		if (len > PATH_MAX_LEN)
			return ck_err(-EOVERFLOW, "%s: data file path too long",
				      what);
		err = put_varint(
			b, len - (i ? table_prefix(f, ids[i - 1], ids[i]) : 0));
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, strlen(f[ids[i]].base));
	for (i = 0; i < n && !err; i++) {
		const char *base = f[ids[i]].base, *rel = f[ids[i]].rel;
		size_t bl = strlen(base);
		size_t p = i ? table_prefix(f, ids[i - 1], ids[i]) : 0;

		if (p < bl)
			err = ck_buf_append(b, base + p, bl - p);
		if (!err)
			err = ck_buf_append(b, rel + (p > bl ? p - bl : 0),
					    strlen(rel) -
						    (p > bl ? p - bl : 0));
	}
	return err;
}

/* ---- nodes --------------------------------------------------------------- */

/* Envelope x->body and store it; ref gets its place. */
static int node_store(struct enc *x, struct eref *ref)
{
	int err = envelope_encode(OCDBT_MAGIC_BTREE, &x->body, x->t->zstd_level,
				  &x->obj);

	if (!err)
		err = x->t->put_node(x->t->ctx, x->obj.data, x->obj.len,
				     &ref->offset);
	if (err)
		return err;
	ref->length = x->obj.len;
	return 0;
}

/* Bytes key i shares with key i - 1 beyond the node's prefix p. */
static size_t entry_pre(const struct ocdbt_encode_entry *e, size_t i, size_t p)
{
	if (!i)
		return 0;
	return lcp(e[i - 1].key + p, e[i - 1].key_len - p, e[i].key + p,
		   e[i].key_len - p);
}

/* Encode and store the leaf of entries [a, a + n), keys minus p bytes. */
static int leaf_write(struct enc *x, size_t a, size_t n, size_t p,
		      struct eref *ref)
{
	const struct ocdbt_encode_entry *e = x->t->e + a;
	struct ck_buf *b = &x->body;
	uint64_t indirect = 0;
	size_t i;
	int err = 0;

	b->len = 0;
	x->nids = 0;
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT)
			err = ids_add(x, e[i].file);
	ids_sort(x);
	if (!err)
		err = put_u8(b, 0);
	if (!err)
		err = table_encode(x->t->files, x->ids, x->nids, 0, x->t->what,
				   b);
	if (!err)
		err = put_varint(b, n);
	for (i = 1; i < n && !err; i++)
		err = put_varint(b, entry_pre(e, i, p));
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, e[i].key_len - p - entry_pre(e, i, p));
	for (i = 0; i < n && !err; i++) {
		size_t s = p + entry_pre(e, i, p);

		err = ck_buf_append(b, e[i].key + s, e[i].key_len - s);
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, e[i].len);
	for (i = 0; i < n && !err; i++)
		err = put_u8(b, e[i].kind);
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT)
			err = put_varint(b, ids_index(x, e[i].file));
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT) {
			err = put_varint(b, e[i].offset);
			indirect += e[i].len;
		}
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INLINE)
			err = ck_buf_append(b, e[i].val, (size_t)e[i].len);
	if (!err)
		err = node_store(x, ref);
	if (err)
		return err;
	ref->first = a;
	ref->last = a + n - 1;
	ref->num_keys = n;
	ref->tree_bytes = ref->length;
	ref->indirect_bytes = indirect;
	return 0;
}

/* Length of the common prefix of every key below r. */
static size_t ref_lcp(const struct ocdbt_encode_entry *e, const struct eref *r)
{
	const struct ocdbt_encode_entry *f = &e[r->first], *l = &e[r->last];

	return lcp(f->key, f->key_len, l->key, l->key_len);
}

/* The key of child c relative to p: its subtree's first key. */
static const uint8_t *ref_key(const struct ocdbt_encode_entry *e,
			      const struct eref *c, size_t p, size_t *len)
{
	const struct ocdbt_encode_entry *f = &e[c->first];

	*len = f->key_len - p;
	return f->key + p;
}

static size_t ref_pre(const struct ocdbt_encode_entry *e, const struct eref *c,
		      size_t i, size_t p)
{
	const uint8_t *ka, *kb;
	size_t la, lb;

	if (!i)
		return 0;
	ka = ref_key(e, c - 1, p, &la);
	kb = ref_key(e, c, p, &lb);
	return lcp(ka, la, kb, lb);
}

/* The key columns of an interior node over children c[0..n). */
static int interior_keys(struct ck_buf *b, const struct ocdbt_encode_entry *e,
			 const struct eref *c, size_t n, size_t p)
{
	size_t i, len;
	int err = 0;

	for (i = 1; i < n && !err; i++)
		err = put_varint(b, ref_pre(e, c + i, i, p));
	for (i = 0; i < n && !err; i++) {
		ref_key(e, c + i, p, &len);
		err = put_varint(b, len - ref_pre(e, c + i, i, p));
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, ref_lcp(e, c + i) - p);
	for (i = 0; i < n && !err; i++) {
		const uint8_t *k = ref_key(e, c + i, p, &len);
		size_t s = ref_pre(e, c + i, i, p);

		err = ck_buf_append(b, k + s, len - s);
	}
	return err;
}

/* Encode and store the interior node over children c[0..n) at height h. */
static int interior_write(struct enc *x, const struct eref *c, size_t n,
			  unsigned h, size_t p, struct eref *ref)
{
	struct ck_buf *b = &x->body;
	struct eref sum;
	size_t i;
	int err = 0;

	memset(&sum, 0, sizeof(sum));
	b->len = 0;
	x->nids = 0;
	err = ids_add(x, x->t->node_file);
	if (!err)
		err = put_u8(b, (uint8_t)h);
	if (!err)
		err = table_encode(x->t->files, x->ids, x->nids, 0, x->t->what,
				   b);
	if (!err)
		err = put_varint(b, n);
	if (!err)
		err = interior_keys(b, x->t->e, c, n, p);
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, 0); /* the node file, the only entry */
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, c[i].offset);
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, c[i].length);
	for (i = 0; i < n && !err; i++) {
		err = put_varint(b, c[i].num_keys);
		sum.num_keys += c[i].num_keys;
	}
	for (i = 0; i < n && !err; i++) {
		err = put_varint(b, c[i].tree_bytes);
		sum.tree_bytes += c[i].tree_bytes;
	}
	for (i = 0; i < n && !err; i++) {
		err = put_varint(b, c[i].indirect_bytes);
		sum.indirect_bytes += c[i].indirect_bytes;
	}
	if (!err)
		err = node_store(x, ref);
	if (err)
		return err;
	ref->first = c[0].first;
	ref->last = c[n - 1].last;
	ref->num_keys = sum.num_keys;
	ref->tree_bytes = sum.tree_bytes + ref->length;
	ref->indirect_bytes = sum.indirect_bytes;
	return 0;
}

/* ---- tree building ------------------------------------------------------- */

/* An upper bound of the decoded bytes item i adds to its node. */
static uint64_t item_cost(const struct ocdbt_encode_entry *e,
			  const struct eref *refs, size_t i)
{
	uint64_t c = ENTRY_OVERHEAD;

	if (!refs) {
		c += e[i].key_len;
		if (e[i].kind == OCDBT_VALUE_INLINE)
			c += e[i].len;
	} else {
		c += e[refs[i].first].key_len;
	}
	return c;
}

/*
 * Cut n items (the entries, or with refs the nodes of a level) into nodes
 * of at most max items (0: no count limit) and about
 * OCDBT_ENCODE_MAX_DECODED_NODE_BYTES decoded bytes.  A node takes at least
 * two items when it can, so each level shrinks.
 */
static int partition(size_t n, uint32_t max, const struct ocdbt_encode_entry *e,
		     const struct eref *refs, struct egroup **out, size_t *nout)
{
	size_t cap = max ? max : OCDBT_BTREE_MAX_ENTRIES, ng = 0, i = 0;
	struct egroup *g;

	if (cap > OCDBT_BTREE_MAX_ENTRIES)
		cap = OCDBT_BTREE_MAX_ENTRIES;
	g = calloc(n ? n : 1, sizeof(*g));
	if (!g)
		return ck_err(-ENOMEM, "ocdbt encode: out of memory");
	while (i < n) {
		uint64_t bytes = 64;
		size_t k = 0;

		for (; i + k < n && k < cap; k++) {
			uint64_t c = item_cost(e, refs, i + k);

			if (k >= (refs ? 2 : 1) &&
			    bytes + c > OCDBT_ENCODE_MAX_DECODED_NODE_BYTES)
				break;
			bytes += c;
		}
		g[ng].start = i;
		g[ng].count = k;
		ng++;
		i += k;
	}
	*out = g;
	*nout = ng;
	return 0;
}

/* Write the interior levels over the nlevel nodes of *level (taken). */
static int levels_write(struct enc *x, struct eref *level, size_t nlevel,
			struct eref *root, unsigned *height)
{
	const struct ocdbt_encode_tree *t = x->t;
	struct eref *next = NULL;
	struct egroup *g = NULL;
	size_t ng = 0;
	unsigned h = 0;
	int err = 0;

	while (!err) {
		free(g);
		g = NULL;
		if (++h > MAX_HEIGHT) {
			err = ck_err(-EOVERFLOW, "%s: tree too deep", t->what);
			break;
		}
		err = partition(nlevel, t->max_interior_entries, t->e, level,
				&g, &ng);
		if (err)
			break;
		if (ng == 1) {
			err = interior_write(x, level, nlevel, h, 0, root);
			break;
		}
		next = calloc(ng, sizeof(*next));
		if (!next) {
			err = ck_err(-ENOMEM, "ocdbt encode: out of memory");
			break;
		}
		for (size_t i = 0; i < ng && !err; i++) {
			struct eref span = level[g[i].start];

			span.last = level[g[i].start + g[i].count - 1].last;
			err = interior_write(x, level + g[i].start, g[i].count,
					     h, ref_lcp(t->e, &span), &next[i]);
		}
		free(level);
		level = next;
		next = NULL;
		nlevel = ng;
	}
	if (!err)
		*height = h;
	free(level);
	free(g);
	return err;
}

/* Write the whole tree; *root and *height describe the root node. */
static int tree_write(struct enc *x, struct eref *root, unsigned *height)
{
	const struct ocdbt_encode_tree *t = x->t;
	struct eref *level = NULL;
	struct egroup *g = NULL;
	size_t ng = 0;
	int err;

	err = partition(t->n, t->max_leaf_entries, t->e, NULL, &g, &ng);
	if (err)
		return err;
	if (ng == 1) {
		*height = 0;
		err = leaf_write(x, 0, t->n, 0, root);
		goto out;
	}
	level = calloc(ng, sizeof(*level));
	if (!level) {
		err = ck_err(-ENOMEM, "ocdbt encode: out of memory");
		goto out;
	}
	for (size_t i = 0; i < ng && !err; i++) {
		const struct ocdbt_encode_entry *f = &t->e[g[i].start];
		const struct ocdbt_encode_entry *l =
			&t->e[g[i].start + g[i].count - 1];

		err = leaf_write(x, g[i].start, g[i].count,
				 lcp(f->key, f->key_len, l->key, l->key_len),
				 &level[i]);
	}
	if (!err) {
		err = levels_write(x, level, ng, root, height);
		level = NULL;
	}
out:
	free(level);
	free(g);
	return err;
}

int ocdbt_encode_tree(const struct ocdbt_encode_tree *t,
		      struct ocdbt_encode_root *root)
{
	struct enc x;
	struct eref r;
	unsigned height = 0;
	int err;

	if (!t->n)
		return ck_err(-EINVAL, "%s: a tree needs a key", t->what);
	memset(&x, 0, sizeof(x));
	memset(&r, 0, sizeof(r));
	x.t = t;
	err = tree_write(&x, &r, &height);
	free(x.ids);
	ck_buf_release(&x.body);
	ck_buf_release(&x.obj);
	if (err)
		return err;
	root->offset = r.offset;
	root->length = r.length;
	root->num_keys = r.num_keys;
	root->tree_bytes = r.tree_bytes;
	root->indirect_bytes = r.indirect_bytes;
	root->height = height;
	return 0;
}

/* ---- manifest ------------------------------------------------------------ */

/* The config (orbax-format.md §2.3) of a manifest body. */
static int config_encode(const struct ocdbt_encode_manifest *m,
			 struct ck_buf *b)
{
	uint8_t le[4];
	int err;

	err = ck_buf_append(b, m->uuid, sizeof(m->uuid));
	if (!err)
		err = put_u8(b, 0); /* manifest_kind: single */
	if (!err)
		err = put_varint(b, m->max_inline_value_bytes);
	if (!err)
		err = put_varint(b, OCDBT_ENCODE_MAX_DECODED_NODE_BYTES);
	if (!err)
		err = put_u8(b, VERSION_TREE_ARITY_LOG2);
	if (!err)
		err = put_varint(b, 1); /* compression: zstd */
	ck_store_u32le(le, (uint32_t)m->zstd_level);
	if (!err)
		err = ck_buf_append(b, le, 4);
	return err;
}

int ocdbt_encode_manifest(const struct ocdbt_encode_manifest *m,
			  struct ck_buf *out)
{
	static const struct ocdbt_encode_root none;
	const struct ocdbt_encode_root *r = m->node_file ? m->root : &none;
	struct ck_buf b = CK_BUF_INIT;
	uint32_t id = 0;
	uint8_t le[8];
	int err;

	err = config_encode(m, &b);
	if (!err)
		err = table_encode(m->node_file, &id, 1, !m->node_file,
				   "manifest", &b);
	if (!err)
		err = put_varint(&b, 1); /* one inline version */
	if (!err)
		err = put_varint(&b, 1); /* generation 1 */
	if (!err)
		err = put_u8(&b, (uint8_t)r->height);
	if (!err)
		err = put_varint(&b, 0); /* root file id */
	if (!err)
		err = put_varint(&b, m->node_file ? r->offset : UINT64_MAX);
	if (!err)
		err = put_varint(&b, m->node_file ? r->length : UINT64_MAX);
	if (!err)
		err = put_varint(&b, r->num_keys);
	if (!err)
		err = put_varint(&b, r->tree_bytes);
	if (!err)
		err = put_varint(&b, r->indirect_bytes);
	ck_store_u64le(le, m->commit_time_ns);
	if (!err)
		err = ck_buf_append(&b, le, 8);
	if (!err)
		err = put_varint(&b, 0); /* no version nodes */
	if (!err)
		err = envelope_encode(OCDBT_MAGIC_MANIFEST, &b, m->zstd_level,
				      out);
	ck_buf_release(&b);
	return err;
}
