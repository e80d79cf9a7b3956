/* SPDX-License-Identifier: MIT */
/*
 * This file implements the OCDBT database writer of ocdbt_writer.h.
 *
 * Design note.  put() keeps every key in an arena (a hash set rejects
 * duplicates at once) and either copies the value into a second arena
 * (inline) or appends it raw to the current data file and remembers (file,
 * offset).  commit() sorts the entries and builds the B+tree bottom-up:
 * leaves are cut greedily (max_leaf_entries, and a decoded-size budget of
 * max_decoded_node_bytes), then each level of interior nodes over the level
 * below, until one node remains: the root.
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
 * (base_path, relative_path).  Nodes of one database go to one node file
 * d/<hex> in that database's directory, back to back.
 */
#include "kvstore/ocdbt_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "kvstore/kv_sink.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_envelope.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_rd.h"

#define KEY_MAX 65535
#define PATH_MAX_LEN 65535
#define MAX_DECODED_NODE_BYTES 100000000u
#define VERSION_TREE_ARITY_LOG2 4
#define ENTRY_OVERHEAD 40 /* upper bound of an entry's non-key columns */

/* One data file: base_path + relative_path, relative to the database. */
struct wfile {
	char *base;   /* base path (owned; "" or the data_base) */
	char *rel;    /* relative path "d/<32 hex>" (owned) */
	int is_value; /* 1: value file (its base is stripped for the
			 data_base database) */
};

/* One key. */
struct wentry {
	size_t key_off;	    /* key bytes at w->keys.data + key_off */
	const uint8_t *key; /* the same, set once the arena is final */
	size_t key_len;	    /* key length */
	uint64_t len;	    /* value length */
	size_t val_off;	    /* inline: value at w->vals.data + val_off */
	uint64_t offset;    /* out-of-line: offset in the file */
	uint32_t file;	    /* out-of-line: index in w->files */
	uint32_t base;	    /* index in w->bases (which database holds it) */
	uint8_t kind;	    /* OCDBT_VALUE_INLINE or _INDIRECT */
};

/* Where values go: one data_base, or one per process, each with the value
 * file being filled. */
struct wbase {
	char *base;	/* "" or "<dir>/" (owned) */
	int vfd;	/* current value file, or -1 */
	char *vpath;	/* its full path (owned) */
	uint32_t vfile; /* its index in files */
	uint64_t vsize; /* its size so far */
};

struct ocdbt_writer {
	char *dir;		    /* database directory (owned) */
	struct wbase *bases;	    /* value destinations (owned) */
	uint32_t nbases;	    /* 1, or o.processes */
	struct ocdbt_writer_opts o; /* options; o.data_base == bases[0].base
				       unless o.processes */
	struct wentry *e;	    /* entries (owned) */
	size_t n, cap;		    /* entries used / allocated */
	struct ck_buf keys;	    /* key arena */
	struct ck_buf vals;	    /* inline value arena */
	size_t *hash;		    /* set of entries: index + 1, 0 = free */
	size_t hcap;		    /* slots in hash (power of two) */
	struct wfile *files;	    /* data files (owned) */
	size_t nfiles, fcap;	    /* files used / allocated */
	int state;		    /* 0 open, 1 committed, -1 failed */
};

/* One written node, as its parent sees it. */
struct wref {
	size_t first, last;	 /* sorted entries of its subtree */
	uint32_t file;		 /* node file (index in w->files) */
	uint64_t offset, length; /* where the node is */
	uint64_t num_keys;	 /* keys in the subtree */
	uint64_t tree_bytes;	 /* node bytes in the subtree */
	uint64_t indirect_bytes; /* out-of-line value bytes in it */
};

/* The writing of one database's tree and manifest. */
struct wtree {
	struct ocdbt_writer *w; /* the writer */
	const char *dir;	/* directory of this database */
	size_t strip;		/* bytes of value files' base to drop */
	uint32_t node_file;	/* index in w->files of the node file */
	int fd;			/* node file */
	char *path;		/* its full path (owned) */
	uint64_t size;		/* its size so far */
	struct ck_buf body;	/* scratch: a node body */
	struct ck_buf obj;	/* scratch: an encoded node */
	uint32_t *ids;		/* scratch: a node's file ids (owned) */
	size_t nids, idcap;	/* used / allocated */
};

/* A run of items forming one node. */
struct wgroup {
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

static size_t lcp(const uint8_t *a, size_t alen, const uint8_t *b,
		  size_t blen)
{
	size_t n = alen < blen ? alen : blen, i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Fill p with n random bytes: /dev/urandom, or a clock-seeded mix. */
static void rand_fill(uint8_t *p, size_t n)
{
	static uint64_t counter;
	struct timespec ts;
	uint64_t x;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t k = read(fd, p, n);

		close(fd);
		if (k == (ssize_t)n)
			return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
	    (uint64_t)getpid() << 32 ^ ++counter * 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < n; i++) {
		uint64_t z = (x += 0x9E3779B97F4A7C15ull);

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		p[i] = (uint8_t)(z ^ (z >> 31));
	}
}

/*
 * Create a new data file <dir>/<base>d/<32 hex> (O_EXCL) and record it.
 * *fd, *path (caller frees) and *id describe it.
 */
static int file_create(struct ocdbt_writer *w, const char *dir,
		       const char *base, int is_value, int *fd, char **path,
		       uint32_t *id)
{
	static const char hex[] = "0123456789abcdef";
	struct wfile *f;
	char rel[2 + 32 + 1] = "d/";
	uint8_t r[16] = {0};
	struct ck_buf p = CK_BUF_INIT;
	int err, tries = 0, k;

	if (w->nfiles == w->fcap) {
		size_t nc = w->fcap ? w->fcap * 2 : 8;
		struct wfile *nf = realloc(w->files, nc * sizeof(*nf));

		if (!nf)
			return ck_err(-ENOMEM, "ocdbt writer: out of memory");
		w->files = nf;
		w->fcap = nc;
	}
	if (w->nfiles >= UINT32_MAX)
		return ck_err(-EOVERFLOW, "%s: too many data files", dir);
	do {
		rand_fill(r, sizeof(r));
		for (size_t i = 0; i < 16; i++) {
			rel[2 + 2 * i] = hex[r[i] >> 4];
			rel[3 + 2 * i] = hex[r[i] & 15];
		}
		p.len = 0;
		err = ck_buf_printf(&p, "%s/%s%s", dir, base, rel);
		if (err)
			goto out;
		k = open((const char *)p.data,
			 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	} while (k < 0 && errno == EEXIST && ++tries < 8);
	if (k < 0) {
		err = ck_err(-EIO, "%s: cannot create data file: %s",
			     (const char *)p.data, strerror(errno));
		goto out;
	}
	f = &w->files[w->nfiles];
	f->base = strdup(base);
	f->rel = strdup(rel);
	f->is_value = is_value;
	if (!f->base || !f->rel) {
		free(f->base);
		free(f->rel);
		close(k);
		err = ck_err(-ENOMEM, "ocdbt writer: out of memory");
		goto out;
	}
	*id = (uint32_t)w->nfiles++;
	*fd = k;
	*path = (char *)ck_buf_detach(&p, NULL);
	return 0;
out:
	ck_buf_release(&p);
	return err;
}

/* ---- open / put ---------------------------------------------------------- */

static int check_opts(const struct ocdbt_writer_opts *o, const char *base)
{
	size_t bl = strlen(base);

	if (o->max_leaf_entries == 1 || o->max_interior_entries == 1)
		return ck_err(-EINVAL,
			      "ocdbt writer: a node needs room for 2 entries");
	if (bl && (base[bl - 1] != '/' || bl > 4096 ||
		   ck_path_check_relative(base, bl - 1)))
		return ck_err(-EINVAL,
			      "ocdbt writer: data_base '%s' is not a relative "
			      "directory ending in '/'",
			      base);
	if (o->data_base_db && !bl && !o->processes)
		return ck_err(-EINVAL,
			      "ocdbt writer: data_base_db needs a data_base");
	if (o->processes && bl)
		return ck_err(-EINVAL,
			      "ocdbt writer: processes and a data_base exclude "
			      "each other");
	if (o->processes > OCDBT_WRITER_MAX_PROCESSES)
		return ck_err(-EINVAL, "ocdbt writer: more than %u processes",
			      OCDBT_WRITER_MAX_PROCESSES);
	return 0;
}

/* -EEXIST if <dir>/<sub>manifest.ocdbt exists; else make <dir>/<sub>d. */
static int prepare_dir(const char *dir, const char *sub)
{
	struct ck_buf p = CK_BUF_INIT;
	int err;

	err = ck_buf_printf(&p, "%s/%smanifest.ocdbt", dir, sub);
	if (err)
		return err;
	if (access((const char *)p.data, F_OK) == 0) {
		err = ck_err(-EEXIST, "%s: database exists",
			     (const char *)p.data);
		goto out;
	}
	p.len = 0;
	err = ck_buf_printf(&p, "%s/%sd", dir, sub);
	if (!err)
		err = kv_sink_mkdirs((const char *)p.data);
out:
	ck_buf_release(&p);
	return err;
}

int ocdbt_writer_open(const char *dbdir, const struct ocdbt_writer_opts *o,
		      struct ocdbt_writer **out)
{
	static const struct ocdbt_writer_opts def = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_writer *w;
	const char *base;
	int err;

	if (!o)
		o = &def;
	base = o->data_base ? o->data_base : "";
	if (!dbdir || !*dbdir)
		return ck_err(-EINVAL, "ocdbt writer: no directory given");
	err = check_opts(o, base);
	if (err)
		return err;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ck_err(-ENOMEM, "ocdbt writer: out of memory");
	w->o = *o;
	if (!w->o.max_inline_value_bytes)
		w->o.max_inline_value_bytes = 1024;
	if (!w->o.file_bytes)
		w->o.file_bytes = OCDBT_WRITER_TARGET_FILE_BYTES;
	w->dir = strdup(dbdir);
	w->nbases = o->processes ? o->processes : 1;
	w->bases = calloc(w->nbases, sizeof(*w->bases));
	if (!w->dir || !w->bases) {
		err = ck_err(-ENOMEM, "ocdbt writer: out of memory");
		goto out_free;
	}
	for (uint32_t i = 0; i < w->nbases; i++)
		w->bases[i].vfd = -1;
	for (uint32_t i = 0; i < w->nbases; i++) {
		char name[32];

		snprintf(name, sizeof(name), "ocdbt.process_%u/", i);
		w->bases[i].base = strdup(o->processes ? name : base);
		if (!w->bases[i].base) {
			err = ck_err(-ENOMEM, "ocdbt writer: out of memory");
			goto out_free;
		}
	}
	w->o.data_base = w->bases[0].base;
	err = prepare_dir(w->dir, "");
	for (uint32_t i = 0; i < w->nbases && !err; i++)
		if (*w->bases[i].base)
			err = prepare_dir(w->dir, w->bases[i].base);
	if (err)
		goto out_free;
	*out = w;
	return 0;
out_free:
	ocdbt_writer_free(w);
	return err;
}

static uint64_t key_hash(const uint8_t *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h;
}

static int hash_grow(struct ocdbt_writer *w)
{
	size_t nc = w->hcap ? w->hcap * 2 : 1024;
	size_t *h = calloc(nc, sizeof(*h));

	if (!h)
		return ck_err(-ENOMEM, "ocdbt writer: out of memory");
	for (size_t i = 0; i < w->hcap; i++) {
		const struct wentry *e;
		size_t j;

		if (!w->hash[i])
			continue;
		e = &w->e[w->hash[i] - 1];
		j = key_hash(w->keys.data + e->key_off, e->key_len) & (nc - 1);
		while (h[j])
			j = (j + 1) & (nc - 1);
		h[j] = w->hash[i];
	}
	free(w->hash);
	w->hash = h;
	w->hcap = nc;
	return 0;
}

/* The free hash slot for key, or -EINVAL if the key is already there. */
static int hash_slot(struct ocdbt_writer *w, const uint8_t *key, size_t len,
		     size_t *slot)
{
	size_t j;
	int err;

	if ((w->n + 1) * 2 > w->hcap) {
		err = hash_grow(w);
		if (err)
			return err;
	}
	j = key_hash(key, len) & (w->hcap - 1);
	for (; w->hash[j]; j = (j + 1) & (w->hcap - 1)) {
		const struct wentry *e = &w->e[w->hash[j] - 1];

		if (e->key_len == len &&
		    (!len || !memcmp(w->keys.data + e->key_off, key, len)))
			return ck_err(-EINVAL, "%s: duplicate key '%.*s'",
				      w->dir, (int)(len > 200 ? 200 : len),
				      (const char *)key);
	}
	*slot = j;
	return 0;
}

/* Close base b's value file; -EIO if close fails. */
static int value_file_close(struct wbase *b)
{
	int err = 0;

	if (b->vfd >= 0 && close(b->vfd) < 0)
		err = ck_err(-EIO, "%s: cannot close: %s", b->vpath,
			     strerror(errno));
	b->vfd = -1;
	free(b->vpath);
	b->vpath = NULL;
	return err;
}

/* Append an out-of-line value to the current value file of e's base. */
static int value_append(struct ocdbt_writer *w, const void *val, size_t len,
			struct wentry *e)
{
	struct wbase *b = &w->bases[e->base];
	int err;

	if (b->vfd >= 0 && b->vsize >= w->o.file_bytes) {
		err = value_file_close(b);
		if (err)
			return err;
	}
	if (b->vfd < 0) {
		err = file_create(w, w->dir, b->base, 1, &b->vfd, &b->vpath,
				  &b->vfile);
		if (err)
			return err;
		b->vsize = 0;
	}
	err = kv_sink_write_all(b->vfd, val, len, b->vpath);
	if (err)
		return err;
	e->kind = OCDBT_VALUE_INDIRECT;
	e->file = b->vfile;
	e->offset = b->vsize;
	b->vsize += len;
	return 0;
}

int ocdbt_writer_put(struct ocdbt_writer *w, const void *key, size_t keylen,
		     const void *val, size_t len)
{
	struct wentry e;
	size_t slot = 0;
	int err;

	if (w->state)
		return ck_err(-EINVAL, "%s: writer already committed or failed",
			      w->dir);
	if (keylen > KEY_MAX)
		return ck_err(-EINVAL, "%s: key of %zu bytes exceeds %d",
			      w->dir, keylen, KEY_MAX);
	err = hash_slot(w, key, keylen, &slot);
	if (err)
		return err;
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		struct wentry *ne = realloc(w->e, nc * sizeof(*ne));

		if (!ne)
			return ck_err(-ENOMEM, "ocdbt writer: out of memory");
		w->e = ne;
		w->cap = nc;
	}
	memset(&e, 0, sizeof(e));
	e.key_off = w->keys.len;
	e.key_len = keylen;
	e.len = len;
	e.val_off = w->vals.len;
	/* keys are dealt to the processes in turn, as hosts each save theirs */
	e.base = (uint32_t)(w->n % w->nbases);
	if (len > w->o.max_inline_value_bytes) {
		err = value_append(w, val, len, &e);
		if (err) {
			/* the data file may hold a partial value now */
			w->state = -1;
			return err;
		}
	} else {
		e.kind = OCDBT_VALUE_INLINE;
		err = ck_buf_append(&w->vals, val, len);
	}
	if (!err)
		err = ck_buf_append(&w->keys, key, keylen);
	if (err) {
		w->keys.len = e.key_off;
		w->vals.len = e.val_off;
		return err;
	}
	w->e[w->n++] = e;
	w->hash[slot] = w->n;
	return 0;
}

size_t ocdbt_writer_count(const struct ocdbt_writer *w)
{
	return w->n;
}

/* ---- node encoding ------------------------------------------------------- */

/* The base path of file id as seen from the database being written. */
static const char *file_base(const struct wtree *t, uint32_t id)
{
	const struct wfile *f = &t->w->files[id];

	return f->base + (f->is_value ? t->strip : 0);
}

static int path_cmp(const struct wtree *t, uint32_t a, uint32_t b)
{
	int c = strcmp(file_base(t, a), file_base(t, b));

	return c ? c : strcmp(t->w->files[a].rel, t->w->files[b].rel);
}

/* Add file id to the node's table (t->ids) unless it is there. */
static int ids_add(struct wtree *t, uint32_t id)
{
	for (size_t i = 0; i < t->nids; i++)
		if (t->ids[i] == id)
			return 0;
	if (t->nids == t->idcap) {
		size_t nc = t->idcap ? t->idcap * 2 : 8;
		uint32_t *n = realloc(t->ids, nc * sizeof(*n));

		if (!n)
			return ck_err(-ENOMEM, "ocdbt writer: out of memory");
		t->ids = n;
		t->idcap = nc;
	}
	t->ids[t->nids++] = id;
	return 0;
}

/* Sort t->ids by path (insertion sort: tables are tiny). */
static void ids_sort(struct wtree *t)
{
	for (size_t i = 1; i < t->nids; i++) {
		uint32_t v = t->ids[i];
		size_t j = i;

		for (; j && path_cmp(t, t->ids[j - 1], v) > 0; j--)
			t->ids[j] = t->ids[j - 1];
		t->ids[j] = v;
	}
}

/* The index of file id in the node's sorted table. */
static uint32_t ids_index(const struct wtree *t, uint32_t id)
{
	size_t i = 0;

	while (i < t->nids && t->ids[i] != id)
		i++;
	return (uint32_t)i;
}

/*
 * Bytes shared by the full paths of table entries a and b (a before b): cut
 * at the common part of the base paths when they differ, as TensorStore's
 * encoder does, so a prefix never straddles a base/relative boundary.
 */
static size_t table_prefix(const struct wtree *t, uint32_t a, uint32_t b)
{
	const char *ba = file_base(t, a), *bb = file_base(t, b);
	const char *ra = t->w->files[a].rel, *rb = t->w->files[b].rel;
	size_t la = strlen(ba), lb = strlen(bb);
	size_t p = lcp((const uint8_t *)ba, la, (const uint8_t *)bb, lb);

	if (p == la && p == lb)
		p += lcp((const uint8_t *)ra, strlen(ra), (const uint8_t *)rb,
			 strlen(rb));
	return p;
}

/*
 * Encode the data file table of files ids[0..n), sorted by path
 * (orbax-format.md §2.4).  empty_path: instead, a one-entry table holding
 * the empty path (what the root reference of an empty database indexes).
 */
static int table_encode(const struct wtree *t, const uint32_t *ids, size_t n,
			int empty_path, struct ck_buf *b)
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
		err = put_varint(b, table_prefix(t, ids[i - 1], ids[i]));
	for (i = 0; i < n && !err; i++) {
		size_t len = strlen(file_base(t, ids[i])) +
			     strlen(t->w->files[ids[i]].rel);

		if (len > PATH_MAX_LEN)
			return ck_err(-EOVERFLOW, "%s: data file path too long",
				      t->dir);
		err = put_varint(b, len - (i ? table_prefix(t, ids[i - 1],
							     ids[i])
					      : 0));
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, strlen(file_base(t, ids[i])));
	for (i = 0; i < n && !err; i++) {
		const char *base = file_base(t, ids[i]);
		const char *rel = t->w->files[ids[i]].rel;
		size_t bl = strlen(base);
		size_t p = i ? table_prefix(t, ids[i - 1], ids[i]) : 0;

		if (p < bl)
			err = ck_buf_append(b, base + p, bl - p);
		if (!err)
			err = ck_buf_append(b, rel + (p > bl ? p - bl : 0),
					    strlen(rel) - (p > bl ? p - bl : 0));
	}
	return err;
}

/* Wrap body in the envelope (magic, length, version 0, zstd, CRC-32C). */
static int envelope_encode(uint32_t magic, const struct ck_buf *body,
			   int level, struct ck_buf *out)
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

/* Append t->obj to the node file; ref gets its place. */
static int node_write(struct wtree *t, struct wref *ref)
{
	int err = kv_sink_write_all(t->fd, t->obj.data, t->obj.len, t->path);

	if (err)
		return err;
	ref->file = t->node_file;
	ref->offset = t->size;
	ref->length = t->obj.len;
	t->size += t->obj.len;
	return 0;
}

static const uint8_t *vals_at(const struct ocdbt_writer *w, size_t off)
{
	return w->vals.data + off;
}

/* Encode and write the leaf of entries [a, a + n), keys minus p bytes. */
static int leaf_write(struct wtree *t, size_t a, size_t n, size_t p,
		      struct wref *ref)
{
	const struct wentry *e = t->w->e + a;
	struct ck_buf *b = &t->body;
	uint64_t indirect = 0;
	size_t i;
	int err = 0;

	b->len = 0;
	t->nids = 0;
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT)
			err = ids_add(t, e[i].file);
	ids_sort(t);
	if (!err)
		err = put_u8(b, 0);
	if (!err)
		err = table_encode(t, t->ids, t->nids, 0, b);
	if (!err)
		err = put_varint(b, n);
	for (i = 1; i < n && !err; i++)
		err = put_varint(b, lcp(e[i - 1].key + p, e[i - 1].key_len - p,
					e[i].key + p, e[i].key_len - p));
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, e[i].key_len - p -
					    (i ? lcp(e[i - 1].key + p,
						     e[i - 1].key_len - p,
						     e[i].key + p,
						     e[i].key_len - p)
					       : 0));
	for (i = 0; i < n && !err; i++) {
		size_t s = p + (i ? lcp(e[i - 1].key + p, e[i - 1].key_len - p,
					e[i].key + p, e[i].key_len - p)
				  : 0);

		err = ck_buf_append(b, e[i].key + s, e[i].key_len - s);
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, e[i].len);
	for (i = 0; i < n && !err; i++)
		err = put_u8(b, e[i].kind);
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT)
			err = put_varint(b, ids_index(t, e[i].file));
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INDIRECT) {
			err = put_varint(b, e[i].offset);
			indirect += e[i].len;
		}
	for (i = 0; i < n && !err; i++)
		if (e[i].kind == OCDBT_VALUE_INLINE)
			err = ck_buf_append(b, vals_at(t->w, e[i].val_off),
					    (size_t)e[i].len);
	if (!err)
		err = envelope_encode(OCDBT_MAGIC_BTREE, b, t->w->o.zstd_level,
				      &t->obj);
	if (!err)
		err = node_write(t, ref);
	if (err)
		return err;
	ref->first = a;
	ref->last = a + n - 1;
	ref->num_keys = n;
	ref->tree_bytes = ref->length;
	ref->indirect_bytes = indirect;
	return 0;
}

/* Length of the common prefix of every key below ref. */
static size_t ref_lcp(const struct ocdbt_writer *w, const struct wref *r)
{
	const struct wentry *f = &w->e[r->first], *l = &w->e[r->last];

	return lcp(f->key, f->key_len, l->key, l->key_len);
}

/* The key of child c relative to p: its subtree's first key. */
static const uint8_t *ref_key(const struct ocdbt_writer *w,
			      const struct wref *c, size_t p, size_t *len)
{
	const struct wentry *f = &w->e[c->first];

	*len = f->key_len - p;
	return f->key + p;
}

static size_t ref_pre(const struct ocdbt_writer *w, const struct wref *c,
		      size_t i, size_t p)
{
	const uint8_t *ka, *kb;
	size_t la, lb;

	if (!i)
		return 0;
	ka = ref_key(w, c - 1, p, &la);
	kb = ref_key(w, c, p, &lb);
	return lcp(ka, la, kb, lb);
}

/* Encode and write the interior node over children c[0..n) at height h. */
static int interior_write(struct wtree *t, const struct wref *c, size_t n,
			  unsigned h, size_t p, struct wref *ref)
{
	const struct ocdbt_writer *w = t->w;
	struct ck_buf *b = &t->body;
	struct wref sum;
	size_t i, len;
	int err = 0;

	memset(&sum, 0, sizeof(sum));
	b->len = 0;
	t->nids = 0;
	for (i = 0; i < n && !err; i++)
		err = ids_add(t, c[i].file);
	ids_sort(t);
	if (!err)
		err = put_u8(b, (uint8_t)h);
	if (!err)
		err = table_encode(t, t->ids, t->nids, 0, b);
	if (!err)
		err = put_varint(b, n);
	for (i = 1; i < n && !err; i++)
		err = put_varint(b, ref_pre(w, c + i, i, p));
	for (i = 0; i < n && !err; i++) {
		ref_key(w, c + i, p, &len);
		err = put_varint(b, len - ref_pre(w, c + i, i, p));
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, ref_lcp(w, c + i) - p);
	for (i = 0; i < n && !err; i++) {
		const uint8_t *k = ref_key(w, c + i, p, &len);
		size_t s = ref_pre(w, c + i, i, p);

		err = ck_buf_append(b, k + s, len - s);
	}
	for (i = 0; i < n && !err; i++)
		err = put_varint(b, ids_index(t, c[i].file));
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
		err = envelope_encode(OCDBT_MAGIC_BTREE, b, w->o.zstd_level,
				      &t->obj);
	if (!err)
		err = node_write(t, ref);
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

/*
 * Cut n items into nodes of at most max items (0: no count limit) and about
 * MAX_DECODED_NODE_BYTES decoded bytes; cost(i) bounds item i's bytes.  A
 * node takes at least two items when it can, so each level shrinks.
 */
static int partition(size_t n, uint32_t max, int leaf,
		     const struct ocdbt_writer *w, const struct wref *refs,
		     struct wgroup **out, size_t *nout)
{
	size_t cap = max ? max : OCDBT_BTREE_MAX_ENTRIES, ng = 0, i = 0;
	struct wgroup *g;

	if (cap > OCDBT_BTREE_MAX_ENTRIES)
		cap = OCDBT_BTREE_MAX_ENTRIES;
	g = calloc(n ? n : 1, sizeof(*g));
	if (!g)
		return ck_err(-ENOMEM, "ocdbt writer: out of memory");
	while (i < n) {
		uint64_t bytes = 64;
		size_t k = 0;

		for (; i + k < n && k < cap; k++) {
			uint64_t c = ENTRY_OVERHEAD;

			if (leaf) {
				const struct wentry *e = &w->e[i + k];

				c += e->key_len;
				if (e->kind == OCDBT_VALUE_INLINE)
					c += e->len;
			} else {
				c += w->e[refs[i + k].first].key_len;
			}
			if (k >= (leaf ? 1 : 2) &&
			    bytes + c > MAX_DECODED_NODE_BYTES)
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

/*
 * Write the whole tree of the sorted entries; *root and *height describe
 * the root node.  The entries are not empty.
 */
static int tree_write(struct wtree *t, struct wref *root, unsigned *height)
{
	struct ocdbt_writer *w = t->w;
	struct wref *level = NULL, *next = NULL;
	struct wgroup *g = NULL;
	size_t ng = 0, nlevel = 0;
	unsigned h = 0;
	int err;

	err = partition(w->n, w->o.max_leaf_entries, 1, w, NULL, &g, &ng);
	if (err)
		return err;
	if (ng == 1) {
		err = leaf_write(t, 0, w->n, 0, root);
		goto out;
	}
	level = calloc(ng, sizeof(*level));
	if (!level) {
		err = ck_err(-ENOMEM, "ocdbt writer: out of memory");
		goto out;
	}
	for (size_t i = 0; i < ng && !err; i++) {
		const struct wentry *f = &w->e[g[i].start];
		const struct wentry *l = &w->e[g[i].start + g[i].count - 1];

		err = leaf_write(t, g[i].start, g[i].count,
				 lcp(f->key, f->key_len, l->key, l->key_len),
				 &level[i]);
	}
	nlevel = ng;
	while (!err) {
		free(g);
		g = NULL;
		h++;
		if (h > 60) {
			err = ck_err(-EOVERFLOW, "%s: tree too deep", t->dir);
			break;
		}
		err = partition(nlevel, w->o.max_interior_entries, 0, w, level,
				&g, &ng);
		if (err)
			break;
		if (ng == 1) {
			err = interior_write(t, level, nlevel, h, 0, root);
			break;
		}
		next = calloc(ng, sizeof(*next));
		if (!next) {
			err = ck_err(-ENOMEM, "ocdbt writer: out of memory");
			break;
		}
		for (size_t i = 0; i < ng && !err; i++) {
			struct wref span = level[g[i].start];

			span.last = level[g[i].start + g[i].count - 1].last;
			err = interior_write(t, level + g[i].start, g[i].count,
					     h, ref_lcp(w, &span), &next[i]);
		}
		free(level);
		level = next;
		next = NULL;
		nlevel = ng;
	}
out:
	if (!err)
		*height = h;
	free(level);
	free(g);
	return err;
}

/* Encode and write <t->dir>/manifest.ocdbt for the given root. */
static int manifest_write(struct wtree *t, const struct wref *root,
			  unsigned height)
{
	const struct ocdbt_writer *w = t->w;
	struct ck_buf b = CK_BUF_INIT, obj = CK_BUF_INIT, path = CK_BUF_INIT;
	uint8_t uuid[16] = {0}, le[8];
	struct timespec ts;
	int err;

	rand_fill(uuid, sizeof(uuid));
	clock_gettime(CLOCK_REALTIME, &ts);
	err = ck_buf_append(&b, uuid, sizeof(uuid));
	if (!err)
		err = put_u8(&b, 0); /* manifest_kind: single */
	if (!err)
		err = put_varint(&b, w->o.max_inline_value_bytes);
	if (!err)
		err = put_varint(&b, MAX_DECODED_NODE_BYTES);
	if (!err)
		err = put_u8(&b, VERSION_TREE_ARITY_LOG2);
	if (!err)
		err = put_varint(&b, 1); /* compression: zstd */
	ck_store_u32le(le, (uint32_t)w->o.zstd_level);
	if (!err)
		err = ck_buf_append(&b, le, 4);
	if (!err)
		err = table_encode(t, &t->node_file, 1, !w->n, &b);
	if (!err)
		err = put_varint(&b, 1); /* one inline version */
	if (!err)
		err = put_varint(&b, 1); /* generation 1 */
	if (!err)
		err = put_u8(&b, (uint8_t)height);
	if (!err)
		err = put_varint(&b, 0); /* root file id */
	if (!err)
		err = put_varint(&b, w->n ? root->offset : UINT64_MAX);
	if (!err)
		err = put_varint(&b, w->n ? root->length : UINT64_MAX);
	if (!err)
		err = put_varint(&b, root->num_keys);
	if (!err)
		err = put_varint(&b, root->tree_bytes);
	if (!err)
		err = put_varint(&b, root->indirect_bytes);
	ck_store_u64le(le, (uint64_t)ts.tv_sec * 1000000000u +
				   (uint64_t)ts.tv_nsec);
	if (!err)
		err = ck_buf_append(&b, le, 8);
	if (!err)
		err = put_varint(&b, 0); /* no version nodes */
	if (!err)
		err = envelope_encode(OCDBT_MAGIC_MANIFEST, &b,
				      w->o.zstd_level, &obj);
	if (!err)
		err = ck_buf_printf(&path, "%s/manifest.ocdbt", t->dir);
	if (!err)
		err = kv_sink_write_file((const char *)path.data, obj.data,
					 obj.len);
	ck_buf_release(&b);
	ck_buf_release(&obj);
	ck_buf_release(&path);
	return err;
}

/* Write one database (tree and manifest) into dir. */
static int db_write(struct ocdbt_writer *w, const char *dir, size_t strip)
{
	struct wtree t;
	struct wref root;
	unsigned height = 0;
	int err = 0;

	memset(&t, 0, sizeof(t));
	memset(&root, 0, sizeof(root));
	t.w = w;
	t.dir = dir;
	t.strip = strip;
	t.fd = -1;
	if (w->n) {
		err = file_create(w, dir, "", 0, &t.fd, &t.path, &t.node_file);
		if (!err)
			err = tree_write(&t, &root, &height);
		if (t.fd >= 0 && close(t.fd) < 0 && !err)
			err = ck_err(-EIO, "%s: cannot close: %s", t.path,
				     strerror(errno));
	}
	if (!err)
		err = manifest_write(&t, &root, height);
	free(t.path);
	free(t.ids);
	ck_buf_release(&t.body);
	ck_buf_release(&t.obj);
	return err;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct wentry *a = pa, *b = pb;
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = n ? memcmp(a->key, b->key, n) : 0;

	if (c)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/*
 * Write base b's own database into <dir>/<base>: the keys dealt to it.  The
 * tree code reads w->e[0..w->n), so the writer's entries are swapped for
 * that subset (still sorted) for the time of the write.
 */
static int base_db_write(struct ocdbt_writer *w, uint32_t b)
{
	const char *base = w->bases[b].base;
	struct wentry *all = w->e, *sub;
	struct ck_buf dir = CK_BUF_INIT;
	size_t n = w->n, k = 0;
	int err;

	sub = malloc((n ? n : 1) * sizeof(*sub));
	if (!sub)
		return ck_err(-ENOMEM, "ocdbt writer: out of memory");
	for (size_t i = 0; i < n; i++)
		if (all[i].base == b)
			sub[k++] = all[i];
	err = ck_buf_printf(&dir, "%s/%.*s", w->dir, (int)strlen(base) - 1,
			    base);
	if (!err) {
		w->e = sub;
		w->n = k;
		err = db_write(w, (const char *)dir.data, strlen(base));
		w->e = all;
		w->n = n;
	}
	ck_buf_release(&dir);
	free(sub);
	return err;
}

int ocdbt_writer_commit(struct ocdbt_writer *w)
{
	int err = 0;

	if (w->state)
		return ck_err(-EINVAL, "%s: writer already committed", w->dir);
	w->state = -1;
	for (uint32_t b = 0; b < w->nbases; b++) {
		int e2 = value_file_close(&w->bases[b]);

		if (!err)
			err = e2;
	}
	for (size_t i = 0; i < w->n; i++)
		w->e[i].key = w->keys.data + w->e[i].key_off;
	if (w->n)
		qsort(w->e, w->n, sizeof(*w->e), entry_cmp);
	for (uint32_t b = 0; b < w->nbases && !err && w->o.data_base_db; b++)
		err = base_db_write(w, b);
	if (!err)
		err = db_write(w, w->dir, 0);
	if (!err)
		w->state = 1;
	return err;
}

void ocdbt_writer_free(struct ocdbt_writer *w)
{
	if (!w)
		return;
	for (uint32_t b = 0; w->bases && b < w->nbases; b++) {
		if (w->bases[b].vfd >= 0)
			close(w->bases[b].vfd);
		free(w->bases[b].vpath);
		free(w->bases[b].base);
	}
	free(w->bases);
	for (size_t i = 0; i < w->nfiles; i++) {
		free(w->files[i].base);
		free(w->files[i].rel);
	}
	free(w->files);
	free(w->e);
	free(w->hash);
	ck_buf_release(&w->keys);
	ck_buf_release(&w->vals);
	free(w->dir);
	free(w);
}
