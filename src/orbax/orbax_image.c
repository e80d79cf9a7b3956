/* SPDX-License-Identifier: MIT */
/*
 * This file implements the in-memory Orbax step of orbax_image.h.
 *
 * Design note.  Every chunk value is a virtual value of the OCDBT image,
 * tagged with its global chunk number: the arrays' chunks numbered one after
 * the other in the order they were added (an array's chunk c is tag
 * base + c).  A read of a data file reaches db_fill() with a tag; a binary
 * search over the arrays' bases finds the array, the caller's fill makes
 * the raw chunk bytes and the shard index after them is computed here.
 *
 * Which chunks each data file holds (for orbax_image_file_chunks()) follows
 * from ocdbt_image.h's placement rule: out-of-line values back to back in
 * put order, a data file closed once it holds file_bytes.  The rule is
 * replayed as the values are put (place()), and the result is checked
 * against the committed database's file sizes, so a mismatch fails the
 * commit instead of mislabelling a file.
 */
#include "orbax/orbax_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/ocdbt_image.h"
#include "orbax/orbax_leaves.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

/* Values up to this size stay in the B+tree leaves (Orbax's default). */
#define OI_MAX_INLINE 1024u

/* One array added: its geometry and its chunks' tags. */
struct oi_array {
	char *name;			/* PyTree path (owned) */
	uint64_t id;			/* the caller's */
	struct zarr_write_spec s;	/* dtype, rank, shape, chunk shape */
	uint64_t grid[ZARR_MAX_RANK];	/* chunks per dimension */
	uint64_t raw;			/* bytes of a raw full-size chunk */
	uint64_t nchunks;		/* chunks in the grid */
	uint64_t base;			/* tag of its chunk 0 */
};

/* One file of the image. */
struct oi_file {
	char *name;			/* relative to the step (owned) */
	enum orbax_image_kind kind;	/* what it holds */
	uint64_t size;			/* bytes */
	uint8_t *text;			/* METADATA: its bytes (owned) */
	size_t db;			/* else: the database's file number */
};

struct orbax_image {
	struct orbax_image_opts o;	/* options (sharding_device -> device) */
	char *device;			/* the sharding device (owned) */
	struct ocdbt_image *db;		/* the store */
	struct orbax_leaves leaves;	/* every leaf, for the texts */
	struct oi_array *a;		/* arrays, in the order added */
	size_t na, acap;		/* used / allocated */
	uint64_t ntags;			/* chunks so far: the next tag */
	size_t nkeys;			/* keys put */
	uint64_t *dfirst;		/* per data file: tag of its first
					   chunk value (place()) */
	uint64_t *dsize;		/* per data file: its bytes */
	size_t nd, dcap;		/* data files / allocated */
	struct oi_file *files;		/* after commit */
	size_t nfiles;
	int state;			/* 0 open, 1 committed, -1 failed */
};

static uint64_t file_bytes(const struct orbax_image *img)
{
	return img->o.file_bytes ? img->o.file_bytes
				 : OCDBT_WRITER_TARGET_FILE_BYTES;
}

int orbax_image_new(const struct orbax_image_opts *o, struct orbax_image **out)
{
	static const struct orbax_image_opts def = ORBAX_IMAGE_OPTS_INIT;
	struct ocdbt_writer_opts oo = OCDBT_WRITER_OPTS_INIT;
	struct orbax_image *img;
	int err;

	if (!o)
		o = &def;
	if (o->scan_layers < -1 || o->scan_layers > 1)
		return ck_err(-EINVAL, "orbax image: bad scan_layers");
	for (const char *d = o->sharding_device; d && *d; d++)
		if ((unsigned char)*d < 0x20 || *d == 0x7f || *d == '"' ||
		    *d == '\\')
			return ck_err(-EINVAL, "orbax image: bad sharding "
				      "device");
	if (o->sharding_device && !*o->sharding_device)
		return ck_err(-EINVAL, "orbax image: empty sharding device");
	img = calloc(1, sizeof(*img));
	if (!img)
		return ck_err(-ENOMEM, "orbax image: out of memory");
	img->o = *o;
	img->o.sharding_device = NULL;
	if (o->sharding_device) {
		img->device = strdup(o->sharding_device);
		if (!img->device) {
			free(img);
			return ck_err(-ENOMEM, "orbax image: out of memory");
		}
	}
	oo.max_inline_value_bytes = OI_MAX_INLINE;
	oo.file_bytes = file_bytes(img);
	err = ocdbt_image_new(&oo, &img->db);
	if (err) {
		orbax_image_free(img);
		return err;
	}
	*out = img;
	return 0;
}

/* Make room for one more element in *p (*cap elements of size sz). */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
	size_t nc = *cap ? *cap * 2 : 16;
	void *np;

	if (n < *cap)
		return 0;
	np = realloc(*p, nc * sz);
	if (!np)
		return ck_err(-ENOMEM, "orbax image: out of memory");
	*p = np;
	*cap = nc;
	return 0;
}

/* An out-of-line value of len bytes is about to be put: replay where
 * ocdbt_image puts it (see the design note). */
static int place(struct orbax_image *img, uint64_t len)
{
	int err;

	if (!img->nd || img->dsize[img->nd - 1] >= file_bytes(img)) {
		size_t cap = img->dcap;

		err = grow((void **)&img->dfirst, &cap, img->nd,
			   sizeof(*img->dfirst));
		if (!err)
			err = grow((void **)&img->dsize, &img->dcap, img->nd,
				   sizeof(*img->dsize));
		if (err)
			return err;
		img->dfirst[img->nd] = img->ntags;
		img->dsize[img->nd++] = 0;
	}
	img->dsize[img->nd - 1] += len;
	return 0;
}

/* Put key -> val (copied; out-of-line when large). */
static int put_bytes(struct orbax_image *img, const struct ck_buf *key,
		     const void *val, size_t len)
{
	int err = len > OI_MAX_INLINE ? place(img, len) : 0;

	if (!err)
		err = ocdbt_image_put(img->db, key->data, key->len, val, len);
	img->nkeys += !err;
	return err;
}

static int add_check(const struct orbax_image *img, const char *name)
{
	if (img->state)
		return ck_err(-EINVAL, "orbax image: already committed or "
			      "failed");
	return orbax_leaves_check(&img->leaves, name);
}

/* Put "<name>/zarr.json" for spec s. */
static int put_meta(struct orbax_image *img, const char *name,
		    const struct zarr_write_spec *s, struct ck_buf *key)
{
	struct ck_buf meta = CK_BUF_INIT;
	int err;

	key->len = 0;
	err = ck_buf_printf(key, "%s/zarr.json", name);
	if (!err)
		err = zarr_v3_meta(s, &meta);
	if (!err)
		err = put_bytes(img, key, meta.data, meta.len);
	ck_buf_release(&meta);
	return err;
}

/* Key "<name>/c/<i0>/<i1>/..." of chunk c of a ("<name>/c" for rank 0). */
static int chunk_key(const struct oi_array *a, uint64_t c, struct ck_buf *key)
{
	uint64_t idx[ZARR_MAX_RANK];
	int err;

	for (unsigned i = a->s.rank; i-- > 0;) {
		idx[i] = c % a->grid[i];
		c /= a->grid[i];
	}
	key->len = 0;
	err = ck_buf_printf(key, "%s/c", a->name);
	for (unsigned i = 0; i < a->s.rank && !err; i++)
		err = ck_buf_printf(key, "/%llu", (unsigned long long)idx[i]);
	return err;
}

/* Geometry of array a from its (checked) spec. */
static int array_init(struct orbax_image *img, struct oi_array *a,
		      const char *name, const struct zarr_write_spec *s,
		      uint64_t id)
{
	memset(a, 0, sizeof(*a));
	a->s = *s;
	a->id = id;
	a->raw = ck_dtype_size(s->dtype);
	a->nchunks = 1;
	for (unsigned i = 0; i < s->rank; i++) {
		a->grid[i] = s->shape[i] / s->chunk[i] +
			     (s->shape[i] % s->chunk[i] != 0);
		a->raw *= s->chunk[i];
		a->nchunks *= a->grid[i];	/* <= prod(shape) */
	}
	if (a->nchunks > UINT64_MAX - img->ntags)
		return ck_err(-EOVERFLOW, "orbax image: too many chunks");
	a->base = img->ntags;
	a->name = strdup(name);
	return a->name ? 0 : ck_err(-ENOMEM, "orbax image: out of memory");
}

int orbax_image_add_array(struct orbax_image *img, const char *name,
			  const struct zarr_write_spec *s, uint64_t id)
{
	struct zarr_write_spec spec = *s;
	struct ck_buf key = CK_BUF_INIT;
	struct oi_array *a;
	uint64_t nbytes;
	int err;

	spec.zarr_format = 3;
	spec.zstd_level = -1;
	err = add_check(img, name);
	if (!err)
		err = zarr_writer_check(&spec, &nbytes);
	if (!err)
		err = grow((void **)&img->a, &img->acap, img->na, sizeof(*img->a));
	if (err)
		return ck_err_ctx(err, "array '%s'", name);
	a = &img->a[img->na];
	err = array_init(img, a, name, &spec, id);
	if (err) {
		free(a->name);
		return ck_err_ctx(err, "array '%s'", name);
	}
	img->state = -1;	/* until every key is in */
	img->na++;
	err = put_meta(img, name, &spec, &key);
	for (uint64_t c = 0; c < a->nchunks && !err; c++) {
		err = chunk_key(a, c, &key);
		if (!err)
			err = place(img, a->raw + ZARR_SHARD_INDEX_BYTES);
		if (!err)
			err = ocdbt_image_put_virtual(img->db, key.data, key.len,
						      a->raw + ZARR_SHARD_INDEX_BYTES,
						      img->ntags++);
		img->nkeys += !err;
	}
	if (!err)
		err = orbax_leaves_add(&img->leaves, name, ORBAX_LEAF_ARRAY,
				       NULL, spec.rank, spec.chunk);
	ck_buf_release(&key);
	if (err)
		return ck_err_ctx(err, "array '%s'", name);
	img->state = 0;
	return 0;
}

int orbax_image_add_scalar(struct orbax_image *img, const char *name,
			   int64_t value)
{
	struct zarr_write_spec s;
	struct ck_buf key = CK_BUF_INIT;
	uint8_t val[8 + ZARR_SHARD_INDEX_BYTES];
	int err = add_check(img, name);

	if (err)
		return err;
	memset(&s, 0, sizeof(s));
	s.zarr_format = 3;
	s.dtype = CK_DT_I64;
	s.zstd_level = -1;
	ck_store_u64le(val, (uint64_t)value);
	zarr_shard_index(8, val + 8);
	img->state = -1;
	err = put_meta(img, name, &s, &key);
	key.len = 0;
	if (!err)
		err = ck_buf_printf(&key, "%s/c", name);
	if (!err)
		err = put_bytes(img, &key, val, sizeof(val));
	if (!err)
		err = orbax_leaves_add(&img->leaves, name, ORBAX_LEAF_SCALAR,
				       NULL, 0, NULL);
	ck_buf_release(&key);
	if (err)
		return ck_err_ctx(err, "scalar '%s'", name);
	img->state = 0;
	return 0;
}

int orbax_image_add_empty(struct orbax_image *img, const char *name,
			  const char *value_type)
{
	const char *vt = NULL;
	int err = orbax_leaves_empty_type(value_type, &vt);

	if (!err)
		err = add_check(img, name);
	return err ? err : orbax_leaves_add(&img->leaves, name, ORBAX_LEAF_EMPTY,
					    vt, 0, NULL);
}

int orbax_image_add_param_only_leaves(struct orbax_image *img)
{
	int err = orbax_image_add_scalar(img, "step", 0);

	return err ? err : orbax_image_add_empty(img, "opt_state", "Dict");
}

/* ---- commit -------------------------------------------------------------- */

/* Append a file to the table (files has room: see files_build()). */
static int file_add(struct orbax_image *img, const char *prefix,
		    const char *name, enum orbax_image_kind kind, uint64_t size,
		    uint8_t *text, size_t db)
{
	struct oi_file *f = &img->files[img->nfiles];
	size_t n = strlen(prefix) + strlen(name) + 1;

	f->name = malloc(n);
	if (!f->name) {
		free(text);
		return ck_err(-ENOMEM, "orbax image: out of memory");
	}
	snprintf(f->name, n, "%s%s", prefix, name);
	f->kind = kind;
	f->size = size;
	f->text = text;
	f->db = db;
	img->nfiles++;
	return 0;
}

/* Print one metadata text with print(img, b) and add it as file name. */
static int text_add(struct orbax_image *img, const char *name,
		    int (*print)(const struct orbax_image *, struct ck_buf *))
{
	struct ck_buf b = CK_BUF_INIT;
	size_t len;
	uint8_t *text;
	int err = print(img, &b);

	if (err) {
		ck_buf_release(&b);
		return err;
	}
	len = b.len;
	text = ck_buf_detach(&b, NULL);
	return file_add(img, "", name, ORBAX_IMAGE_METADATA, len, text, 0);
}

static int print_step(const struct orbax_image *img, struct ck_buf *b)
{
	return orbax_leaves_step_metadata("\"items\": \"" ORBAX_PYTREE_HANDLER
					  "\"", img->o.init_ns,
					  img->o.commit_ns, img->o.scan_layers,
					  b);
}

static int print_metadata(const struct orbax_image *img, struct ck_buf *b)
{
	return orbax_leaves_metadata(&img->leaves, 1, 1, b);
}

static int print_sharding(const struct orbax_image *img, struct ck_buf *b)
{
	return orbax_leaves_sharding(&img->leaves, img->device, b);
}

static int print_array_metadatas(const struct orbax_image *img,
				 struct ck_buf *b)
{
	return orbax_leaves_array_metadatas(&img->leaves, b);
}

/* The database's data files must be the ones place() replayed. */
static int check_placement(const struct orbax_image *img)
{
	size_t n = ocdbt_image_nfiles(img->db);

	if (n != 1 + img->nd + (img->nkeys > 0))
		goto bad;
	for (size_t k = 0; k < img->nd; k++)
		if (ocdbt_image_file_size(img->db, 1 + k) != img->dsize[k])
			goto bad;
	return 0;
bad:
	return ck_err(-EIO, "orbax image: the database's data files are not "
		      "where the chunks were placed");
}

static int files_build(struct orbax_image *img)
{
	size_t ndb = ocdbt_image_nfiles(img->db);
	int err;

	img->files = calloc(ndb + 4, sizeof(*img->files));
	if (!img->files)
		return ck_err(-ENOMEM, "orbax image: out of memory");
	err = text_add(img, "_CHECKPOINT_METADATA", print_step);
	if (!err)
		err = text_add(img, "items/_METADATA", print_metadata);
	if (!err && img->device)
		err = text_add(img, "items/_sharding", print_sharding);
	if (!err)
		err = text_add(img, "items/array_metadatas/process_0",
			       print_array_metadatas);
	for (size_t i = 0; i < ndb && !err; i++)
		err = file_add(img, "items/", ocdbt_image_file_name(img->db, i),
			       i >= 1 && i <= img->nd ? ORBAX_IMAGE_DATA
						      : ORBAX_IMAGE_DATABASE,
			       ocdbt_image_file_size(img->db, i), NULL, i);
	return err;
}

int orbax_image_commit(struct orbax_image *img)
{
	int err;

	if (img->state)
		return ck_err(-EINVAL, "orbax image: already committed or "
			      "failed");
	img->state = -1;
	orbax_leaves_sort(&img->leaves);
	ocdbt_image_set_commit_time(img->db, img->o.commit_ns);
	err = ocdbt_image_commit(img->db);
	if (!err)
		err = check_placement(img);
	if (!err)
		err = files_build(img);
	if (!err)
		img->state = 1;
	return err;
}

/* ---- files --------------------------------------------------------------- */

size_t orbax_image_nfiles(const struct orbax_image *img)
{
	return img->state == 1 ? img->nfiles : 0;
}

const char *orbax_image_file_name(const struct orbax_image *img, size_t i)
{
	return i < orbax_image_nfiles(img) ? img->files[i].name : NULL;
}

uint64_t orbax_image_file_size(const struct orbax_image *img, size_t i)
{
	return i < orbax_image_nfiles(img) ? img->files[i].size : 0;
}

enum orbax_image_kind orbax_image_file_kind(const struct orbax_image *img,
					    size_t i)
{
	return i < orbax_image_nfiles(img) ? img->files[i].kind
					   : ORBAX_IMAGE_METADATA;
}

/* The array holding chunk tag (< ntags): the last whose base is at most
 * tag (arrays without chunks share the next one's base). */
static const struct oi_array *array_of(const struct orbax_image *img,
				       uint64_t tag)
{
	size_t lo = 0, hi = img->na;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->a[mid].base <= tag)
			lo = mid;
		else
			hi = mid;
	}
	return &img->a[lo];
}

/* A read in progress: the caller's fill. */
struct oi_read {
	const struct orbax_image *img;
	orbax_image_fill_fn fill;
	void *ctx;
};

/* ocdbt_image_fill_fn: bytes [off, off + len) of chunk value tag. */
static int db_fill(void *ctx, uint64_t tag, uint64_t off, void *buf,
		   size_t len)
{
	const struct oi_read *r = ctx;
	const struct oi_array *a = array_of(r->img, tag);
	uint8_t index[ZARR_SHARD_INDEX_BYTES], *out = buf;
	uint64_t c = tag - a->base;
	struct ck_buf key = CK_BUF_INIT;
	size_t n;
	int err;

	if (off < a->raw) {
		n = a->raw - off < len ? (size_t)(a->raw - off) : len;
		err = r->fill ? r->fill(r->ctx, a->id, c, off, out, n)
			      : ck_err(-EINVAL, "orbax image: no fill");
		if (err) {
			if (chunk_key(a, c, &key) == 0)
				err = ck_err_ctx(err, "%s", (char *)key.data);
			ck_buf_release(&key);
			return err;
		}
		out += n;
		off += n;
		len -= n;
	}
	if (len) {
		zarr_shard_index(a->raw, index);
		memcpy(out, index + (off - a->raw), len);
	}
	return 0;
}

int orbax_image_read(const struct orbax_image *img, size_t i, uint64_t off,
		     void *buf, size_t len, size_t *got,
		     orbax_image_fill_fn fill, void *ctx)
{
	struct oi_read r = {img, fill, ctx};
	const struct oi_file *f;
	size_t n;

	if (img->state != 1 || i >= img->nfiles)
		return ck_err(-EINVAL, "orbax image: no file %zu", i);
	f = &img->files[i];
	if (f->kind != ORBAX_IMAGE_METADATA)
		return ocdbt_image_read(img->db, f->db, off, buf, len, got,
					db_fill, &r);
	n = off >= f->size ? 0 : f->size - off < len ? (size_t)(f->size - off)
						     : len;
	if (n)
		memcpy(buf, f->text + off, n);
	*got = n;
	return 0;
}

int orbax_image_file_chunks(const struct orbax_image *img, size_t i,
			    orbax_image_chunks_fn fn, void *ctx)
{
	uint64_t t, end;
	size_t k;

	if (orbax_image_file_kind(img, i) != ORBAX_IMAGE_DATA)
		return 0;
	k = img->files[i].db - 1;
	t = img->dfirst[k];
	end = k + 1 < img->nd ? img->dfirst[k + 1] : img->ntags;
	while (t < end) {
		const struct oi_array *a = array_of(img, t);
		uint64_t last = a->base + a->nchunks < end ? a->base + a->nchunks
							   : end;
		int r = fn(ctx, a->id, a->name, t - a->base, last - t);

		if (r)
			return r;
		t = last;
	}
	return 0;
}

void orbax_image_free(struct orbax_image *img)
{
	if (!img)
		return;
	ocdbt_image_free(img->db);
	orbax_leaves_release(&img->leaves);
	for (size_t i = 0; i < img->na; i++)
		free(img->a[i].name);
	free(img->a);
	for (size_t i = 0; i < img->nfiles; i++) {
		free(img->files[i].name);
		free(img->files[i].text);
	}
	free(img->files);
	free(img->dfirst);
	free(img->dsize);
	free(img->device);
	free(img);
}
