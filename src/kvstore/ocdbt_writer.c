/* SPDX-License-Identifier: MIT */
/*
 * This file implements the OCDBT database writer of ocdbt_writer.h.
 *
 * Design note.  put() keeps every key in an arena (a hash set rejects
 * duplicates at once) and either copies the value into a second arena
 * (inline) or appends it raw to the current data file and remembers (file,
 * offset).  commit() sorts the entries and hands them to ocdbt_encode.c,
 * which builds the B+tree bottom-up and encodes its nodes and the manifest
 * as TensorStore does; this file says where the bytes go.  Nodes of one
 * database go to one node file d/<hex> in that database's directory, back
 * to back, and manifest.ocdbt is written last.
 */
#include "kvstore/ocdbt_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvstore/kv_sink.h"
#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_encode.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

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

/* The writing of one database's tree and manifest. */
struct wtree {
	struct ocdbt_writer *w; /* the writer */
	const char *dir;	/* directory of this database */
	size_t strip;		/* bytes of value files' base to drop */
	uint32_t node_file;	/* index in w->files of the node file */
	int fd;			/* node file */
	char *path;		/* its full path (owned) */
	uint64_t size;		/* its size so far */
};

/* ---- data files -------------------------------------------------------- */

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
	if (keylen > OCDBT_ENCODE_KEY_MAX)
		return ck_err(-EINVAL, "%s: key of %zu bytes exceeds %u",
			      w->dir, keylen, OCDBT_ENCODE_KEY_MAX);
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

/* ---- tree and manifest --------------------------------------------------- */

/* ocdbt_encode_node_fn: append a node to the database's node file. */
static int node_put(void *ctx, const uint8_t *p, size_t n, uint64_t *offset)
{
	struct wtree *t = ctx;
	int err = kv_sink_write_all(t->fd, p, n, t->path);

	if (err)
		return err;
	*offset = t->size;
	t->size += n;
	return 0;
}

/*
 * The data files as the database being written sees them: a value file's
 * base loses its first t->strip bytes (the data_base database's own
 * directory).  Caller frees the array; the strings stay the writer's.
 */
static int files_view(const struct wtree *t, struct ocdbt_encode_file **out)
{
	const struct ocdbt_writer *w = t->w;
	struct ocdbt_encode_file *f = calloc(w->nfiles, sizeof(*f));

	if (!f)
		return ck_err(-ENOMEM, "ocdbt writer: out of memory");
	for (size_t i = 0; i < w->nfiles; i++) {
		f[i].base = w->files[i].base +
			    (w->files[i].is_value ? t->strip : 0);
		f[i].rel = w->files[i].rel;
	}
	*out = f;
	return 0;
}

/*
 * The sorted entries of the database being written: those of base b, or
 * all of them (b == UINT32_MAX).  Caller frees *out.
 */
static int entries_view(const struct ocdbt_writer *w, uint32_t b,
			struct ocdbt_encode_entry **out, size_t *n)
{
	struct ocdbt_encode_entry *e = calloc(w->n ? w->n : 1, sizeof(*e));
	size_t k = 0;

	if (!e)
		return ck_err(-ENOMEM, "ocdbt writer: out of memory");
	for (size_t i = 0; i < w->n; i++) {
		const struct wentry *s = &w->e[i];

		if (b != UINT32_MAX && s->base != b)
			continue;
		e[k].key = s->key;
		e[k].key_len = s->key_len;
		e[k].len = s->len;
		e[k].val = w->vals.data ? w->vals.data + s->val_off : NULL;
		e[k].offset = s->offset;
		e[k].file = s->file;
		e[k].kind = s->kind;
		k++;
	}
	*out = e;
	*n = k;
	return 0;
}

/* Write the tree of the entries e[0..n) into t's node file. */
static int tree_write(struct wtree *t, const struct ocdbt_encode_entry *e,
		      size_t n, struct ocdbt_encode_root *root)
{
	struct ocdbt_encode_file *files = NULL;
	struct ocdbt_encode_tree et;
	int err = files_view(t, &files);

	if (err)
		return err;
	memset(&et, 0, sizeof(et));
	et.e = e;
	et.n = n;
	et.files = files;
	et.node_file = t->node_file;
	et.max_leaf_entries = t->w->o.max_leaf_entries;
	et.max_interior_entries = t->w->o.max_interior_entries;
	et.zstd_level = t->w->o.zstd_level;
	et.what = t->dir;
	et.put_node = node_put;
	et.ctx = t;
	err = ocdbt_encode_tree(&et, root);
	free(files);
	return err;
}

/* Encode and write <t->dir>/manifest.ocdbt for the given root (NULL: an
 * empty database). */
static int manifest_write(struct wtree *t, const struct ocdbt_encode_root *root)
{
	const struct ocdbt_writer *w = t->w;
	struct ocdbt_encode_manifest m;
	struct ocdbt_encode_file nf;
	struct ck_buf obj = CK_BUF_INIT, path = CK_BUF_INIT;
	struct timespec ts;
	int err;

	memset(&m, 0, sizeof(m));
	rand_fill(m.uuid, sizeof(m.uuid));
	clock_gettime(CLOCK_REALTIME, &ts);
	m.max_inline_value_bytes = w->o.max_inline_value_bytes;
	m.zstd_level = w->o.zstd_level;
	if (root) {
		nf.base = w->files[t->node_file].base;
		nf.rel = w->files[t->node_file].rel;
		m.node_file = &nf;
		m.root = root;
	}
	m.commit_time_ns =
		(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	err = ocdbt_encode_manifest(&m, &obj);
	if (!err)
		err = ck_buf_printf(&path, "%s/manifest.ocdbt", t->dir);
	if (!err)
		err = kv_sink_write_file((const char *)path.data, obj.data,
					 obj.len);
	ck_buf_release(&obj);
	ck_buf_release(&path);
	return err;
}

/*
 * Write one database (tree and manifest) into dir: the keys of base b, or
 * all keys (b == UINT32_MAX).
 */
static int db_write(struct ocdbt_writer *w, const char *dir, size_t strip,
		    uint32_t b)
{
	struct ocdbt_encode_entry *e = NULL;
	struct ocdbt_encode_root root;
	struct wtree t;
	size_t n = 0;
	int err;

	memset(&t, 0, sizeof(t));
	t.w = w;
	t.dir = dir;
	t.strip = strip;
	t.fd = -1;
	err = entries_view(w, b, &e, &n);
	if (!err && n) {
		err = file_create(w, dir, "", 0, &t.fd, &t.path, &t.node_file);
		if (!err)
			err = tree_write(&t, e, n, &root);
		if (t.fd >= 0 && close(t.fd) < 0 && !err)
			err = ck_err(-EIO, "%s: cannot close: %s", t.path,
				     strerror(errno));
	}
	if (!err)
		err = manifest_write(&t, n ? &root : NULL);
	free(t.path);
	free(e);
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

/* Write base b's own database into <dir>/<base>: the keys dealt to it. */
static int base_db_write(struct ocdbt_writer *w, uint32_t b)
{
	const char *base = w->bases[b].base;
	struct ck_buf dir = CK_BUF_INIT;
	int err;

	err = ck_buf_printf(&dir, "%s/%.*s", w->dir, (int)strlen(base) - 1,
			    base);
	if (!err)
		err = db_write(w, (const char *)dir.data, strlen(base), b);
	ck_buf_release(&dir);
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
		err = db_write(w, w->dir, 0, UINT32_MAX);
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
