/* SPDX-License-Identifier: MIT */
/*
 * This file implements kvstore_open_ocdbt(): one generation of one or more
 * OCDBT databases, walked once into the in-memory store.
 *
 * Design note.  A database directory holds manifest.ocdbt and data files
 * (d/<hex>).  The manifest names, per generation, a B+tree root (file,
 * offset, length, height); older generations hide behind version-tree nodes.
 * Opening walks the chosen generation's whole tree once: interior entries
 * strip their subtree common prefix from every key below them, so the walk
 * carries the prefix consumed so far; each leaf entry becomes a store entry
 * (inline values are copied, out-of-line ones keep (file, offset, length)).
 *
 * Data file paths are "transitive" (orbax-format.md §2.4): the table of a
 * node read from file F resolves against T + F.base_path, where T resolved
 * F.  Every resolved path is checked to stay inside the database directory.
 * Every data file the walk touches is opened then and its identity recorded
 * (kvstore_files.h): the store keeps a bounded set of them open and checks a
 * reopened file against that identity, so later reads see the files of the
 * generation opened or fail, whatever the number of data files.  With a
 * root (kvstore_opts), the manifest, the directory listing of a numbered
 * manifest and every data file are opened beneath it (ck_beneath.h).
 *
 * Hostile input is bounded: tree depth, node count, node and manifest sizes
 * are capped, and every error names the file and what was wrong.
 */
#include "kvstore/kvstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/kvstore_impl.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_manifest.h"
#include "kvstore/ocdbt_version.h"
#include "source/source.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

#define OCDBT_MANIFEST_MAX_FILE ((size_t)64 << 20)
#define OCDBT_MAX_DEPTH 64
#define OCDBT_MAX_NODES ((uint64_t)1 << 22)
#define OCDBT_MAX_NODE_BYTES_TOTAL ((uint64_t)16 << 30)
#define OCDBT_MIN_NODE_BODY ((size_t)16 << 20)
#define OCDBT_MAX_NODE_BODY ((size_t)1 << 30)

/* One opened data file, found by its full path.  The slot table only maps
 * paths to store file ids: it moves when it grows, so nothing keeps a
 * pointer into it, and a file's path and size are read from the store's
 * file table by id. */
struct file_slot {
	char *path;  /* owned full path; NULL: empty slot */
	uint32_t id; /* store file id */
};

/* State of one kvstore_open_ocdbt() call. */
struct ocdbt_open {
	struct kvstore *kv;	 /* store being filled */
	const char *dir;	 /* current database directory */
	size_t max_body;	 /* cap on a decoded node body */
	uint64_t nodes;		 /* B+tree nodes visited (all databases) */
	uint64_t node_bytes;	 /* node bytes read (all databases) */
	struct ck_buf prefix;	 /* key bytes consumed on the way down */
	struct file_slot *slots; /* open-addressing table of files */
	size_t nslots, nused;	 /* slots allocated / used */
	struct pending *pend;	 /* by file id: the furthest value end of a
				    remote file not opened yet (checked once
				    every file is open) */
	size_t npend;		 /* entries of pend */
};

/* The value reaching furthest into a file whose size is not known yet. */
struct pending {
	uint64_t end;		/* 0: none */
	uint64_t off, len;	/* that value */
	char *key;		/* owned: its key (for the message) */
};

static uint64_t path_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static int slots_grow(struct ocdbt_open *o)
{
	size_t n = o->nslots ? o->nslots * 2 : 64;
	struct file_slot *s = calloc(n, sizeof(*s));

	if (!s)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	for (size_t i = 0; i < o->nslots; i++) {
		size_t j;

		if (!o->slots[i].path)
			continue;
		j = path_hash(o->slots[i].path) & (n - 1);
		while (s[j].path)
			j = (j + 1) & (n - 1);
		s[j] = o->slots[i];
	}
	free(o->slots);
	o->slots = s;
	o->nslots = n;
	return 0;
}

/* The store's file id of the data file rel (relative to the database
 * directory), opening it and recording its identity on first use. */
static int file_get(struct ocdbt_open *o, const char *rel, uint32_t *id)
{
	struct file_slot *s;
	char *path;
	size_t j;
	int err;

	path = ck_path_join(o->dir, rel);
	if (!path)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	if (o->nused * 2 >= o->nslots) {
		err = slots_grow(o);
		if (err)
			goto out_free;
	}
	j = path_hash(path) & (o->nslots - 1);
	for (; o->slots[j].path; j = (j + 1) & (o->nslots - 1)) {
		if (!strcmp(o->slots[j].path, path)) {
			*id = o->slots[j].id;
			err = 0;
			goto out_free;
		}
	}
	s = &o->slots[j];
	err = kvfiles_add_checked(o->kv->files, path, &s->id);
	if (err)
		goto out_free;
	s->path = path;
	o->nused++;
	*id = s->id;
	return 0;
out_free:
	free(path);
	return err;
}

/* The path and size of store file id. */
static const char *file_path(const struct ocdbt_open *o, uint32_t id)
{
	return o->kv->files->v[id].path;
}

static uint64_t file_size(const struct ocdbt_open *o, uint32_t id)
{
	return o->kv->files->v[id].size;
}

/*
 * Resolve entry id of table t, read relative to transitive path tbase, into
 * *rel (a new string, caller frees) and the length of its resolved base.
 * A path that is absolute or leaves the database directory is -EINVAL.
 */
static int resolve(const struct ocdbt_filetable *t, uint32_t id,
		   const char *tbase, char **rel, size_t *base_len)
{
	const struct ocdbt_file *f = &t->files[id];
	size_t tlen = strlen(tbase);
	char *p;
	int err;

	if (memchr(f->path, '\0', f->len))
		return ck_err(-EINVAL, "data file %u: path contains a NUL byte",
			      id);
	p = malloc(tlen + f->len + 1);
	if (!p)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	memcpy(p, tbase, tlen);
	memcpy(p + tlen, f->path, f->len + 1);
	err = ck_path_check_relative(p, tlen + f->len);
	if (err) {
		free(p);
		return ck_err_ctx(err, "data file %u", id);
	}
	*rel = p;
	*base_len = tlen + f->base_len;
	return 0;
}

/* Read the node bytes (file id, offset, length) into a new buffer. */
static int node_read(struct ocdbt_open *o, uint32_t id, uint64_t off,
		     uint64_t len, uint8_t **out)
{
	size_t max = o->max_body + o->max_body / 64 + 65536;
	uint64_t size;
	uint8_t *buf;
	int err;

	/* A remote file is opened when a node in it is needed first. */
	err = kvfiles_open_remote(o->kv->files, id);
	if (err)
		return err;
	size = file_size(o, id);
	if (len > max)
		return ck_err(-EIO,
			      "node length %llu exceeds the %zu-byte limit",
			      (unsigned long long)len, max);
	if (off > size || len > size - off)
		return ck_err(-EIO,
			      "node [%llu, +%llu) is past the end of the "
			      "%llu-byte file",
			      (unsigned long long)off, (unsigned long long)len,
			      (unsigned long long)size);
	o->node_bytes += len;
	if (o->node_bytes > OCDBT_MAX_NODE_BYTES_TOTAL)
		return ck_err(-EOVERFLOW,
			      "tree nodes exceed %llu bytes in total",
			      (unsigned long long)OCDBT_MAX_NODE_BYTES_TOTAL);
	buf = malloc(len ? (size_t)len : 1);
	if (!buf)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	err = kvfiles_pread(o->kv->files, id, buf, (size_t)len, off);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	return 0;
}

/* Note that value [off, end) of the current key lies in remote file vf,
 * whose size is not known yet. */
static int pend_add(struct ocdbt_open *o, uint32_t vf, uint64_t off,
		    uint64_t len, uint64_t end)
{
	struct pending *p;

	if (vf >= o->npend) {
		size_t n = o->npend ? o->npend : 16;

		while (n <= vf)
			n *= 2;
		p = realloc(o->pend, n * sizeof(*p));
		if (!p)
			return ck_err(-ENOMEM, "ocdbt: out of memory");
		memset(p + o->npend, 0, (n - o->npend) * sizeof(*p));
		o->pend = p;
		o->npend = n;
	}
	p = &o->pend[vf];
	if (end <= p->end)
		return 0;
	free(p->key);
	p->key = strndup(o->prefix.data ? (const char *)o->prefix.data : "",
			 o->prefix.len > 200 ? 200 : o->prefix.len);
	if (!p->key)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	p->end = end;
	p->off = off;
	p->len = len;
	return 0;
}

/* Open every remote data file (many at once) and check the values noted
 * by pend_add() against their sizes. */
static int pend_check(struct ocdbt_open *o)
{
	int err = kvfiles_open_remote(o->kv->files, KVFILES_NONE);

	for (size_t i = 0; !err && i < o->npend; i++) {
		const struct pending *p = &o->pend[i];

		if (p->end && p->end > file_size(o, (uint32_t)i))
			err = ck_err(-EIO,
				     "%s: value of key '%s' [%llu, +%llu) is past "
				     "the end of the %llu-byte file",
				     file_path(o, (uint32_t)i), p->key,
				     (unsigned long long)p->off,
				     (unsigned long long)p->len,
				     (unsigned long long)file_size(o, (uint32_t)i));
	}
	return err;
}

/* Add one leaf entry; prefix holds the key prefix from the root. */
static int add_leaf_entry(struct ocdbt_open *o,
			  const struct ocdbt_btree_node *node,
			  const struct ocdbt_leaf_entry *e, const char *tbase,
			  uint32_t nf)
{
	size_t saved = o->prefix.len, base_len;
	uint32_t vf;
	char *rel = NULL;
	uint64_t end;
	int err;

	err = ck_buf_append(&o->prefix, node->keys + e->key_off, e->key_len);
	if (err)
		return err;
	if (e->kind == OCDBT_VALUE_INLINE || e->value_length == 0) {
		err = kvstore_add_inline(
			o->kv, o->prefix.data, o->prefix.len, e->inline_data,
			e->inline_data ? (size_t)e->value_length : 0, nf);
		goto out;
	}
	err = resolve(&node->files, e->file_id, tbase, &rel, &base_len);
	if (!err)
		err = file_get(o, rel, &vf);
	if (err)
		goto out;
	if (!__builtin_add_overflow(e->offset, e->value_length, &end) &&
	    file_size(o, vf) == KVFILES_SIZE_UNKNOWN) {
		/* a remote file not opened yet: checked once it is */
		err = pend_add(o, vf, e->offset, e->value_length, end);
	} else if (end < e->offset || end > file_size(o, vf)) {
		err = ck_err(-EIO,
			     "%s: value of key '%.*s' [%llu, +%llu) is past "
			     "the end of the %llu-byte file",
			     file_path(o, vf),
			     (int)(o->prefix.len > 200 ? 200 : o->prefix.len),
			     (const char *)o->prefix.data,
			     (unsigned long long)e->offset,
			     (unsigned long long)e->value_length,
			     (unsigned long long)file_size(o, vf));
		goto out;
	}
	if (!err)
		err = kvstore_add_ref(o->kv, o->prefix.data, o->prefix.len, vf,
				      e->offset, e->value_length);
out:
	free(rel);
	o->prefix.len = saved;
	return err;
}

static int walk(struct ocdbt_open *o, const char *rel, size_t base_len,
		uint64_t off, uint64_t len, unsigned height, unsigned depth);

static int walk_children(struct ocdbt_open *o,
			 const struct ocdbt_btree_node *node, const char *tbase,
			 unsigned depth)
{
	for (size_t i = 0; i < node->n; i++) {
		const struct ocdbt_child *c = &node->children[i];
		size_t saved = o->prefix.len, base_len;
		char *rel = NULL;
		int err;

		err = resolve(&node->files, c->file_id, tbase, &rel, &base_len);
		if (!err)
			err = ck_buf_append(&o->prefix, node->keys + c->key_off,
					    c->subtree_prefix_len);
		if (!err)
			err = walk(o, rel, base_len, c->offset, c->length,
				   node->height - 1u, depth + 1);
		free(rel);
		o->prefix.len = saved;
		if (err)
			return err;
	}
	return 0;
}

/*
 * Visit the node at (rel, off, len) of the given height and everything
 * below it.  rel[0..base_len) is the transitive path for the node's table.
 */
static int walk(struct ocdbt_open *o, const char *rel, size_t base_len,
		uint64_t off, uint64_t len, unsigned height, unsigned depth)
{
	struct ocdbt_btree_node node;
	uint32_t nf;
	uint8_t *bytes = NULL;
	char *tbase = NULL;
	int err;

	memset(&node, 0, sizeof(node));
	err = file_get(o, rel, &nf);
	if (err)
		return err;
	if (depth > OCDBT_MAX_DEPTH || ++o->nodes > OCDBT_MAX_NODES) {
		err = ck_err(
			-EIO, "tree deeper than %d or larger than %llu nodes",
			OCDBT_MAX_DEPTH, (unsigned long long)OCDBT_MAX_NODES);
		goto out_ctx;
	}
	err = node_read(o, nf, off, len, &bytes);
	if (!err)
		err = ocdbt_btree_node_decode(bytes, (size_t)len, o->max_body,
					      (int)height, &node);
	if (err)
		goto out_ctx;
	tbase = strndup(rel, base_len);
	if (!tbase) {
		err = ck_err(-ENOMEM, "ocdbt: out of memory");
		goto out;
	}
	if (node.height == 0) {
		for (size_t i = 0; i < node.n && !err; i++)
			err = add_leaf_entry(o, &node, &node.leaves[i], tbase,
					     nf);
		if (err)
			goto out_ctx;
	} else {
		err = walk_children(o, &node, tbase, depth);
	}
	goto out;
out_ctx:
	err = ck_err_ctx(err, "%s: btree node at offset %llu",
			 file_path(o, nf),
			 (unsigned long long)off);
out:
	free(tbase);
	free(bytes);
	ocdbt_btree_node_release(&node);
	return err;
}

/* Read and decode the manifest file at path. */
static int manifest_load(const struct ocdbt_open *o, const char *path,
			 struct ocdbt_manifest *m)
{
	const struct kvstore_files *t = o->kv->files;
	uint8_t *data = NULL;
	size_t n;
	int err;

	err = src_read_file(t->root, path, t->follow, OCDBT_MANIFEST_MAX_FILE,
			    &data, &n);
	if (err)
		return err;
	err = ocdbt_manifest_decode(data, n, m);
	free(data);
	if (err)
		return ck_err_ctx(err, "%s", path);
	return 0;
}

/* For a numbered database: the highest manifest.<16 hex> name seen. */
static int numbered_one(void *ctx, const char *s, int is_dir)
{
	char *best = ctx;

	if (is_dir == 1 || strncmp(s, "manifest.", 9) || strlen(s) != 25 ||
	    strspn(s + 9, "0123456789abcdef") != 16)
		return 0;
	if (strcmp(s, best) > 0)
		snprintf(best, 32, "%s", s);
	return 0;
}

/* For a numbered database: the path of the highest manifest.<16 hex>. */
static int manifest_numbered(const struct ocdbt_open *o, const char *dir,
			     char **out)
{
	const struct kvstore_files *t = o->kv->files;
	char best[32] = "";
	int err;

	err = src_list(t->root, dir, t->follow, numbered_one, best);
	if (err == -EXDEV || err == -ELOOP || err == -ENOMEM)
		return err;
	if (err)		/* the message names dir */
		return -EIO;
	if (!best[0])
		return ck_err(-EIO,
			      "%s: numbered manifest but no manifest.<16 hex> "
			      "file",
			      dir);
	*out = ck_path_join(dir, best);
	return *out ? 0 : ck_err(-ENOMEM, "ocdbt: out of memory");
}

/* Read the manifest of directory dir (following a numbered one) into *m;
 * *path receives the path read (caller frees). */
static int manifest_open(const struct ocdbt_open *o, const char *dir,
			 struct ocdbt_manifest *m, char **path)
{
	char *p = ck_path_join(dir, "manifest.ocdbt");
	int err;

	if (!p)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	err = manifest_load(o, p, m);
	if (!err && m->config_only) {
		ocdbt_manifest_release(m);
		free(p);
		p = NULL;
		err = manifest_numbered(o, dir, &p);
		if (!err)
			err = manifest_load(o, p, m);
		if (!err && m->config_only) {
			ocdbt_manifest_release(m);
			err = ck_err(-EIO,
				     "%s: numbered manifest holds no versions",
				     p);
		}
	}
	if (err) {
		free(p);
		return err;
	}
	*path = p;
	return 0;
}

/* A generation's root and where to resolve it. */
struct root_ref {
	struct ocdbt_version v; /* the leaf entry */
	char *rel;		/* resolved root file (NULL: empty version) */
	size_t base_len;	/* transitive path length within rel */
};

static int root_from(const struct ocdbt_filetable *t, const char *tbase,
		     const struct ocdbt_version *v, struct root_ref *out)
{
	out->v = *v;
	out->rel = NULL;
	out->base_len = 0;
	if (v->offset == OCDBT_MISSING)
		return 0;
	return resolve(t, v->file_id, tbase, &out->rel, &out->base_len);
}

/* Find generation gen below the manifest's version-node references. */
static int version_tree_find(struct ocdbt_open *o,
			     const struct ocdbt_manifest *m, uint64_t gen,
			     struct root_ref *out)
{
	struct ocdbt_version_node node, next;
	struct ocdbt_version_ref ref;
	const struct ocdbt_filetable *t = &m->files;
	char *tbase = strdup(""), *rel = NULL;
	size_t idx, base_len;
	int err;

	memset(&node, 0, sizeof(node));
	if (!tbase)
		return ck_err(-ENOMEM, "ocdbt: out of memory");
	err = ocdbt_version_ref_find(m->nodes, m->nnodes, gen, &idx);
	if (err)
		goto out_missing;
	ref = m->nodes[idx];
	for (unsigned depth = 0;; depth++) {
		uint32_t f = 0;
		uint8_t *bytes = NULL;

		memset(&next, 0, sizeof(next));
		if (depth > OCDBT_MAX_DEPTH) {
			err = ck_err(-EIO, "version tree deeper than %d",
				     OCDBT_MAX_DEPTH);
			goto out;
		}
		err = resolve(t, ref.file_id, tbase, &rel, &base_len);
		if (!err)
			err = file_get(o, rel, &f);
		if (err)
			goto out;
		err = node_read(o, f, ref.offset, ref.length, &bytes);
		if (!err)
			err = ocdbt_version_node_decode(
				bytes, (size_t)ref.length, o->max_body, &next);
		free(bytes);
		if (!err && next.height != ref.height)
			err = ck_err(-EIO,
				     "version node height %u, expected %u",
				     next.height, ref.height);
		if (err) {
			ocdbt_version_node_release(&next);
			err = ck_err_ctx(err, "%s: version node at offset %llu",
					 file_path(o, f),
					 (unsigned long long)ref.offset);
			goto out;
		}
		ocdbt_version_node_release(&node);
		node = next;
		t = &node.files;
		free(tbase);
		tbase = strndup(rel, base_len);
		free(rel);
		rel = NULL;
		if (!tbase) {
			err = ck_err(-ENOMEM, "ocdbt: out of memory");
			goto out;
		}
		if (node.height == 0) {
			err = ocdbt_version_find(node.versions, node.nversions,
						 gen, &idx);
			if (err)
				goto out_missing;
			err = root_from(t, tbase, &node.versions[idx], out);
			goto out;
		}
		err = ocdbt_version_ref_find(node.refs, node.nrefs, gen, &idx);
		if (err)
			goto out_missing;
		ref = node.refs[idx];
	}
out_missing:
	err = ck_err(-ENOENT, "generation %llu not found",
		     (unsigned long long)gen);
out:
	free(rel);
	free(tbase);
	ocdbt_version_node_release(&node);
	return err;
}

/* Pick generation gen (0: latest) of manifest m. */
static int root_find(struct ocdbt_open *o, const struct ocdbt_manifest *m,
		     uint64_t gen, struct root_ref *out)
{
	size_t idx;

	if (gen == 0) {
		if (!m->nversions) {
			memset(out, 0, sizeof(*out));
			out->v.offset = OCDBT_MISSING;
			return 0;
		}
		return root_from(&m->files, "", &m->versions[m->nversions - 1],
				 out);
	}
	if (!ocdbt_version_find(m->versions, m->nversions, gen, &idx))
		return root_from(&m->files, "", &m->versions[idx], out);
	if (m->nversions && gen > m->versions[0].generation)
		return ck_err(-ENOENT, "generation %llu not found",
			      (unsigned long long)gen);
	return version_tree_find(o, m, gen, out);
}

static size_t node_body_cap(const struct ocdbt_config *c)
{
	uint64_t cap = c->max_decoded_node_bytes;

	/* The config is the writer's target, not a hard bound: a node holding
	 * a single entry cannot be split (files_min_arity has a 1-byte
	 * target), so never go below a floor. */
	if (cap < (uint64_t)c->max_inline_value_bytes + (1u << 20))
		cap = (uint64_t)c->max_inline_value_bytes + (1u << 20);
	if (cap < OCDBT_MIN_NODE_BODY)
		cap = OCDBT_MIN_NODE_BODY;
	if (cap > OCDBT_MAX_NODE_BODY)
		cap = OCDBT_MAX_NODE_BODY;
	return (size_t)cap;
}

/* Open database dir and add its generation gen to the store. */
static int db_load(struct ocdbt_open *o, const char *dir, uint64_t gen,
		   uint64_t *opened)
{
	struct ocdbt_manifest m;
	struct root_ref root = {.rel = NULL};
	char *mpath = NULL;
	int err;

	memset(&m, 0, sizeof(m));
	o->dir = dir;
	err = manifest_open(o, dir, &m, &mpath);
	if (err)
		return err;
	o->max_body = node_body_cap(&m.config);
	err = root_find(o, &m, gen, &root);
	if (err) {
		err = ck_err_ctx(err, "%s", mpath);
		goto out;
	}
	if (root.rel) {
		o->prefix.len = 0;
		err = walk(o, root.rel, root.base_len, root.v.offset,
			   root.v.length, root.v.root_height, 0);
	}
	if (!err)
		*opened = root.v.generation;
out:
	free(root.rel);
	free(mpath);
	ocdbt_manifest_release(&m);
	return err;
}

int kvstore_open_ocdbt(const char *const *dbdirs, size_t ndb,
		       uint64_t generation, struct kvstore **out)
{
	return kvstore_open_ocdbt_opts(dbdirs, ndb, generation, NULL, out);
}

int kvstore_open_ocdbt_opts(const char *const *dbdirs, size_t ndb,
			    uint64_t generation, const struct kvstore_opts *opts,
			    struct kvstore **out)
{
	struct ocdbt_open o;
	uint64_t gen = 0;
	int err;

	memset(&o, 0, sizeof(o));
	if (!ndb)
		return ck_err(-EINVAL, "ocdbt: no database directory given");
	err = kvstore_new(KVSTORE_OCDBT, &o.kv);
	if (err)
		return err;
	if (opts)
		err = kvfiles_set_root(o.kv->files, opts->root,
				       opts->follow_symlinks);
	for (size_t i = 0; i < ndb && !err; i++) {
		uint64_t g = 0;

		err = db_load(&o, dbdirs[i], generation, &g);
		if (!err && i == 0)
			gen = g;
	}
	if (!err)
		err = pend_check(&o);
	if (!err)
		err = kvstore_finalize(o.kv);
	for (size_t i = 0; i < o.nslots; i++)
		free(o.slots[i].path);
	free(o.slots);
	for (size_t i = 0; i < o.npend; i++)
		free(o.pend[i].key);
	free(o.pend);
	ck_buf_release(&o.prefix);
	if (err) {
		kvstore_free(o.kv);
		return err;
	}
	o.kv->generation = gen;
	*out = o.kv;
	return 0;
}
