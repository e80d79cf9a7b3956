/* SPDX-License-Identifier: MIT */
/*
 * This file implements the in-memory OCDBT image of ocdbt_image.h.
 *
 * Design note.  put() keeps each key in an arena and its value in one of
 * three ways: inline bytes in a second arena (they end up in a leaf), copied
 * bytes in a third arena, or nothing but a tag (virtual).  Copied and
 * virtual values take their place in the current data file at once, in put
 * order: a data file is a run of segments, each one value, back to back from
 * offset 0, so a read finds its first segment by binary search and walks on.
 * commit() sorts the entries and has ocdbt_encode.c build the tree, whose
 * nodes are appended to one in-memory node file, and the manifest; the
 * manifest and the node file are then plain bytes in memory.
 *
 * Names.  Leaves name the data files they reference, and interior nodes the
 * node file, so every name must be known before the first node is encoded;
 * a name made from the node bytes would be circular.  Instead a digest of
 * the options and of every put (key, length, tag or bytes) is kept, and
 * file i is named from (digest, i): the low 64 bits are a hash of the
 * digest plus i, so names never collide within an image.
 */
#include "kvstore/ocdbt_image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/ocdbt_btree.h"
#include "kvstore/ocdbt_encode.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

#define NAME_LEN 35 /* "d/" + 32 hex + NUL */

/* One key. */
struct ientry {
	size_t key_off;	    /* key bytes at img->keys.data + key_off */
	const uint8_t *key; /* the same, set once the arena is final */
	size_t key_len;	    /* key length */
	uint64_t len;	    /* value length */
	size_t val_off;	    /* inline: value at img->inl.data + val_off */
	uint64_t offset;    /* out-of-line: offset in its data file */
	uint32_t file;	    /* out-of-line: index in img->files */
	uint8_t kind;	    /* OCDBT_VALUE_INLINE or _INDIRECT */
};

/* One out-of-line value: a run of bytes of a data file. */
struct iseg {
	uint64_t off; /* offset in its data file */
	uint64_t len; /* bytes (> 0) */
	uint64_t src; /* virtual: the tag; copied: offset in img->vals */
	int virt;     /* 1: virtual */
};

/* One file of the image. */
struct ifile {
	char name[NAME_LEN]; /* relative path (set at commit for d/) */
	uint64_t size;	     /* bytes */
	size_t seg0, nseg;   /* data file: its values segs[seg0, +nseg) */
	const uint8_t *mem;  /* manifest, node file: its bytes */
};

struct ocdbt_image {
	struct ocdbt_writer_opts o; /* options (data_base unused) */
	struct ientry *e;	    /* entries (owned; freed at commit) */
	size_t n, cap;		    /* entries used / allocated */
	struct ck_buf keys;	    /* key arena (freed at commit) */
	struct ck_buf inl;	    /* inline value arena (freed at commit) */
	struct ck_buf vals;	    /* copied out-of-line values */
	struct iseg *segs;	    /* out-of-line values, in put order */
	size_t nseg, segcap;	    /* used / allocated */
	struct ifile *files;	    /* [0] manifest, data files, node file */
	size_t nfiles, fcap;	    /* used / allocated */
	size_t vfile;		    /* data file being filled; 0: none */
	uint64_t indirect;	    /* out-of-line bytes so far */
	uint64_t dig[2];	    /* digest of the options and puts */
	uint64_t commit_time;	    /* the manifest's commit time (ns) */
	struct ck_buf nodes;	    /* the node file */
	struct ck_buf manifest;	    /* manifest.ocdbt */
	int state;		    /* 0 open, 1 committed, -1 failed */
};

/* ---- digest and names ---------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Fold p[0..n) into the digest (two independent 64-bit lanes). */
static void digest_bytes(uint64_t dig[2], const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t x = dig[0], y = dig[1];

	for (size_t i = 0; i < n; i++) {
		x = (x ^ b[i]) * 0x100000001B3ull;
		y = (y + b[i] + 1) * 0x9E3779B97F4A7C15ull;
		y ^= y >> 29;
	}
	dig[0] = x;
	dig[1] = y;
}

static void digest_u64(uint64_t dig[2], uint64_t v)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	digest_bytes(dig, le, sizeof(le));
}

/* The 128 bits number i of the image: distinct for distinct i. */
static void digest_id(const struct ocdbt_image *img, uint64_t i,
		      uint8_t out[16])
{
	uint64_t hi = mix64(img->dig[0] + i * 0x9E3779B97F4A7C15ull);
	uint64_t lo = mix64(img->dig[1] ^ 0xD6E8FEB86659FD93ull) + i;

	for (int k = 0; k < 8; k++) {
		out[k] = (uint8_t)(hi >> (56 - 8 * k));
		out[8 + k] = (uint8_t)(lo >> (56 - 8 * k));
	}
}

/* Name file i "d/<32 hex>". */
static void file_name_set(struct ocdbt_image *img, size_t i)
{
	static const char hex[] = "0123456789abcdef";
	char *s = img->files[i].name;
	uint8_t id[16];

	digest_id(img, i, id);
	s[0] = 'd';
	s[1] = '/';
	for (int k = 0; k < 16; k++) {
		s[2 + 2 * k] = hex[id[k] >> 4];
		s[3 + 2 * k] = hex[id[k] & 15];
	}
	s[34] = '\0';
}

/* ---- new / put ----------------------------------------------------------- */

/* Make room for one more element in *p (*cap elements of size sz). */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
	size_t nc;
	void *np;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	if (nc < *cap || nc > SIZE_MAX / sz)
		return ck_err(-EOVERFLOW, "ocdbt image: too many entries");
	np = realloc(*p, nc * sz);
	if (!np)
		return ck_err(-ENOMEM, "ocdbt image: out of memory");
	*p = np;
	*cap = nc;
	return 0;
}

static int check_opts(const struct ocdbt_writer_opts *o)
{
	if (o->max_leaf_entries == 1 || o->max_interior_entries == 1)
		return ck_err(-EINVAL,
			      "ocdbt image: a node needs room for 2 entries");
	if ((o->data_base && *o->data_base) || o->data_base_db || o->processes)
		return ck_err(-EINVAL,
			      "ocdbt image: one database only (no data_base, "
			      "data_base_db or processes)");
	return 0;
}

int ocdbt_image_new(const struct ocdbt_writer_opts *o, struct ocdbt_image **out)
{
	static const struct ocdbt_writer_opts def = OCDBT_WRITER_OPTS_INIT;
	struct ocdbt_image *img;
	int err;

	if (!o)
		o = &def;
	err = check_opts(o);
	if (err)
		return err;
	img = calloc(1, sizeof(*img));
	if (!img)
		return ck_err(-ENOMEM, "ocdbt image: out of memory");
	img->o = *o;
	img->o.data_base = "";
	if (!img->o.max_inline_value_bytes)
		img->o.max_inline_value_bytes = 1024;
	if (!img->o.file_bytes)
		img->o.file_bytes = OCDBT_WRITER_TARGET_FILE_BYTES;
	img->files = calloc(8, sizeof(*img->files));
	if (!img->files) {
		free(img);
		return ck_err(-ENOMEM, "ocdbt image: out of memory");
	}
	img->fcap = 8;
	img->nfiles = 1;
	strcpy(img->files[0].name, "manifest.ocdbt");
	img->dig[0] = 0xCBF29CE484222325ull;
	img->dig[1] = 0x6A09E667F3BCC908ull;
	digest_u64(img->dig, img->o.max_inline_value_bytes);
	digest_u64(img->dig, img->o.max_leaf_entries);
	digest_u64(img->dig, img->o.max_interior_entries);
	digest_u64(img->dig, (uint64_t)(int64_t)img->o.zstd_level);
	digest_u64(img->dig, img->o.file_bytes);
	*out = img;
	return 0;
}

/*
 * Where an out-of-line value of len bytes goes: *file (a new data file
 * when *fresh) at *offset.  Changes nothing; the caller records it.
 */
static int value_place(struct ocdbt_image *img, uint64_t len, size_t *file,
		       int *fresh, uint64_t *offset)
{
	size_t f = img->vfile;
	int err;

	*fresh = !f || img->files[f].size >= img->o.file_bytes;
	*offset = *fresh ? 0 : img->files[f].size;
	if (len > OCDBT_IMAGE_MAX_FILE_BYTES - *offset)
		return ck_err(-EOVERFLOW,
			      "ocdbt image: a value of %llu bytes passes the "
			      "data file cap",
			      (unsigned long long)len);
	if (len > UINT64_MAX - img->indirect)
		return ck_err(-EOVERFLOW,
			      "ocdbt image: more than 2^64 out-of-line bytes");
	if (*fresh) {
		/* the node file needs an id too */
		if (img->nfiles >= UINT32_MAX - 1)
			return ck_err(-EOVERFLOW,
				      "ocdbt image: too many data files");
		err = grow((void **)&img->files, &img->fcap, img->nfiles,
			   sizeof(*img->files));
		if (err)
			return err;
		f = img->nfiles;
	}
	*file = f;
	return grow((void **)&img->segs, &img->segcap, img->nseg,
		    sizeof(*img->segs));
}

/* Record the out-of-line value e (placed by value_place()) as a segment. */
static void value_record(struct ocdbt_image *img, struct ientry *e, size_t file,
			 int fresh, uint64_t src, int virt)
{
	struct ifile *f = &img->files[file];
	struct iseg *s = &img->segs[img->nseg];

	if (fresh) {
		memset(f, 0, sizeof(*f));
		f->seg0 = img->nseg;
		img->nfiles++;
		img->vfile = file;
	}
	s->off = e->offset;
	s->len = e->len;
	s->src = src;
	s->virt = virt;
	f->nseg++;
	f->size += e->len;
	img->nseg++;
	img->indirect += e->len;
}

/* Add one key: val (copied; NULL for a virtual value) or tag. */
static int put_entry(struct ocdbt_image *img, const void *key, size_t keylen,
		     uint64_t len, const void *val, uint64_t tag)
{
	struct ientry e;
	size_t file = 0, vmark = img->vals.len;
	uint64_t src = 0;
	int err, fresh = 0, virt = !val;

	if (img->state)
		return ck_err(-EINVAL,
			      "ocdbt image: already committed or failed");
	if (keylen > OCDBT_ENCODE_KEY_MAX)
		return ck_err(-EINVAL,
			      "ocdbt image: key of %zu bytes exceeds %u",
			      keylen, OCDBT_ENCODE_KEY_MAX);
	err = grow((void **)&img->e, &img->cap, img->n, sizeof(*img->e));
	if (err)
		return err;
	memset(&e, 0, sizeof(e));
	e.key_off = img->keys.len;
	e.key_len = keylen;
	e.len = len;
	e.val_off = img->inl.len;
	if (virt ? !len : len <= img->o.max_inline_value_bytes) {
		e.kind = OCDBT_VALUE_INLINE;
		err = ck_buf_append(&img->inl, val, (size_t)len);
	} else {
		e.kind = OCDBT_VALUE_INDIRECT;
		err = value_place(img, len, &file, &fresh, &e.offset);
		e.file = (uint32_t)file;
		src = virt ? tag : vmark;
		if (!err && !virt)
			err = ck_buf_append(&img->vals, val, (size_t)len);
	}
	if (!err)
		err = ck_buf_append(&img->keys, key, keylen);
	if (err) {
		img->keys.len = e.key_off;
		img->inl.len = e.val_off;
		img->vals.len = vmark;
		return err;
	}
	if (e.kind == OCDBT_VALUE_INDIRECT)
		value_record(img, &e, file, fresh, src, virt);
	img->e[img->n++] = e;
	digest_u64(img->dig, virt);
	digest_u64(img->dig, keylen);
	digest_bytes(img->dig, key, keylen);
	digest_u64(img->dig, len);
	if (virt)
		digest_u64(img->dig, tag);
	else
		digest_bytes(img->dig, val, (size_t)len);
	return 0;
}

int ocdbt_image_put(struct ocdbt_image *img, const void *key, size_t keylen,
		    const void *val, size_t len)
{
	static const uint8_t none;

	return put_entry(img, key, keylen, len, val ? val : &none, 0);
}

int ocdbt_image_put_virtual(struct ocdbt_image *img, const void *key,
			    size_t keylen, uint64_t len, uint64_t tag)
{
	return put_entry(img, key, keylen, len, NULL, tag);
}

void ocdbt_image_set_commit_time(struct ocdbt_image *img, uint64_t ns)
{
	if (!img->state)
		img->commit_time = ns;
}

/* ---- commit -------------------------------------------------------------- */

static int entry_cmp(const void *pa, const void *pb)
{
	const struct ientry *a = pa, *b = pb;
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = n ? memcmp(a->key, b->key, n) : 0;

	if (c)
		return c;
	return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

/* Sort the entries; -EINVAL naming the first duplicate key. */
static int entries_sort(struct ocdbt_image *img)
{
	for (size_t i = 0; i < img->n; i++)
		img->e[i].key = img->keys.data + img->e[i].key_off;
	if (img->n)
		qsort(img->e, img->n, sizeof(*img->e), entry_cmp);
	for (size_t i = 1; i < img->n; i++)
		if (!entry_cmp(&img->e[i - 1], &img->e[i]))
			return ck_err(-EINVAL,
				      "ocdbt image: duplicate key '%.*s'",
				      (int)(img->e[i].key_len > 200
						    ? 200
						    : img->e[i].key_len),
				      (const char *)img->e[i].key);
	return 0;
}

/* ocdbt_encode_node_fn: append a node to the node file. */
static int node_put(void *ctx, const uint8_t *p, size_t n, uint64_t *offset)
{
	struct ocdbt_image *img = ctx;
	size_t at = img->nodes.len;
	int err = ck_buf_append(&img->nodes, p, n);

	if (!err)
		*offset = at;
	return err;
}

/* The entries and files as ocdbt_encode.h sees them (caller frees both). */
static int encode_views(const struct ocdbt_image *img,
			struct ocdbt_encode_entry **pe,
			struct ocdbt_encode_file **pf)
{
	struct ocdbt_encode_entry *e = calloc(img->n, sizeof(*e));
	struct ocdbt_encode_file *f = calloc(img->nfiles, sizeof(*f));

	if (!e || !f) {
		free(e);
		free(f);
		return ck_err(-ENOMEM, "ocdbt image: out of memory");
	}
	for (size_t i = 0; i < img->n; i++) {
		const struct ientry *s = &img->e[i];

		e[i].key = s->key;
		e[i].key_len = s->key_len;
		e[i].len = s->len;
		e[i].val = img->inl.data ? img->inl.data + s->val_off : NULL;
		e[i].offset = s->offset;
		e[i].file = s->file;
		e[i].kind = s->kind;
	}
	for (size_t i = 0; i < img->nfiles; i++) {
		f[i].base = "";
		f[i].rel = img->files[i].name;
	}
	*pe = e;
	*pf = f;
	return 0;
}

/* Encode the tree (into the last file, the node file) and the manifest. */
static int encode_all(struct ocdbt_image *img)
{
	struct ocdbt_encode_entry *e = NULL;
	struct ocdbt_encode_file *f = NULL;
	struct ocdbt_encode_tree t;
	struct ocdbt_encode_manifest m;
	struct ocdbt_encode_root root;
	int err = encode_views(img, &e, &f);

	if (err)
		return err;
	memset(&t, 0, sizeof(t));
	memset(&m, 0, sizeof(m));
	memset(&root, 0, sizeof(root));
	if (img->n) {
		t.e = e;
		t.n = img->n;
		t.files = f;
		t.node_file = (uint32_t)(img->nfiles - 1);
		t.max_leaf_entries = img->o.max_leaf_entries;
		t.max_interior_entries = img->o.max_interior_entries;
		t.zstd_level = img->o.zstd_level;
		t.what = "ocdbt image";
		t.put_node = node_put;
		t.ctx = img;
		err = ocdbt_encode_tree(&t, &root);
		m.node_file = &f[img->nfiles - 1];
		m.root = &root;
	}
	digest_id(img, UINT64_MAX, m.uuid);
	m.max_inline_value_bytes = img->o.max_inline_value_bytes;
	m.zstd_level = img->o.zstd_level;
	m.commit_time_ns = img->commit_time;
	if (!err)
		err = ocdbt_encode_manifest(&m, &img->manifest);
	free(e);
	free(f);
	return err;
}

int ocdbt_image_commit(struct ocdbt_image *img)
{
	struct ifile *nf;
	int err;

	if (img->state)
		return ck_err(-EINVAL, "ocdbt image: already committed");
	img->state = -1;
	err = entries_sort(img);
	if (!err && img->n)
		err = grow((void **)&img->files, &img->fcap, img->nfiles,
			   sizeof(*img->files));
	if (err)
		return err;
	if (img->n) {
		nf = &img->files[img->nfiles++];
		memset(nf, 0, sizeof(*nf));
	}
	for (size_t i = 1; i < img->nfiles; i++)
		file_name_set(img, i);
	err = encode_all(img);
	if (err)
		return err;
	img->files[0].mem = img->manifest.data;
	img->files[0].size = img->manifest.len;
	if (img->n) {
		nf = &img->files[img->nfiles - 1];
		nf->mem = img->nodes.data;
		nf->size = img->nodes.len;
	}
	/* the keys and inline values live in the nodes now */
	free(img->e);
	img->e = NULL;
	img->cap = 0;
	ck_buf_release(&img->keys);
	ck_buf_release(&img->inl);
	img->state = 1;
	return 0;
}

/* ---- files --------------------------------------------------------------- */

size_t ocdbt_image_nfiles(const struct ocdbt_image *img)
{
	return img->state == 1 ? img->nfiles : 0;
}

const char *ocdbt_image_file_name(const struct ocdbt_image *img, size_t i)
{
	return i < ocdbt_image_nfiles(img) ? img->files[i].name : NULL;
}

uint64_t ocdbt_image_file_size(const struct ocdbt_image *img, size_t i)
{
	return i < ocdbt_image_nfiles(img) ? img->files[i].size : 0;
}

/* The first segment of data file f that ends after off (off < f->size). */
static size_t seg_find(const struct ocdbt_image *img, const struct ifile *f,
		       uint64_t off)
{
	size_t lo = f->seg0, hi = f->seg0 + f->nseg;

	/* the last segment starting at or before off */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->segs[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Read [off, off + n) of data file f, inside the file, from its values. */
static int segs_read(const struct ocdbt_image *img, const struct ifile *f,
		     uint64_t off, uint8_t *buf, size_t n,
		     ocdbt_image_fill_fn fill, void *ctx)
{
	size_t s = seg_find(img, f, off), done = 0;

	while (done < n) {
		const struct iseg *g = &img->segs[s++];
		uint64_t in = off + done - g->off;
		size_t k = g->len - in < n - done ? (size_t)(g->len - in)
						  : n - done;
		int err;

		if (!g->virt) {
			memcpy(buf + done, img->vals.data + g->src + in, k);
		} else if (!fill) {
			return ck_err(-EINVAL,
				      "%s: no fill for a virtual value",
				      f->name);
		} else {
			err = fill(ctx, g->src, in, buf + done, k);
			if (err)
				return ck_err_ctx(err < 0 ? err : -EIO,
						  "%s: value at offset %llu",
						  f->name,
						  (unsigned long long)g->off);
		}
		done += k;
	}
	return 0;
}

int ocdbt_image_read(const struct ocdbt_image *img, size_t i, uint64_t off,
		     void *buf, size_t len, size_t *got,
		     ocdbt_image_fill_fn fill, void *ctx)
{
	const struct ifile *f;
	size_t n;
	int err = 0;

	if (img->state != 1)
		return ck_err(-EINVAL, "ocdbt image: not committed");
	if (i >= img->nfiles)
		return ck_err(-EINVAL, "ocdbt image: no file %zu", i);
	f = &img->files[i];
	if (off >= f->size || !len) {
		*got = 0;
		return 0;
	}
	n = f->size - off < len ? (size_t)(f->size - off) : len;
	if (f->mem)
		memcpy(buf, f->mem + off, n);
	else
		err = segs_read(img, f, off, buf, n, fill, ctx);
	if (!err)
		*got = n;
	return err;
}

void ocdbt_image_free(struct ocdbt_image *img)
{
	if (!img)
		return;
	free(img->e);
	free(img->segs);
	free(img->files);
	ck_buf_release(&img->keys);
	ck_buf_release(&img->inl);
	ck_buf_release(&img->vals);
	ck_buf_release(&img->nodes);
	ck_buf_release(&img->manifest);
	free(img);
}
