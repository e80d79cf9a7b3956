/* SPDX-License-Identifier: MIT */
/* This file implements the Hugging Face model directory reader of
 * hf_dir.h. */
#include "layout/hf_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "layout/st_read.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"

/*
 * Design notes.
 *
 * Files are opened with openat() on a descriptor of the directory, by plain
 * names only, so a hostile index cannot name a file elsewhere; symlinks are
 * followed on purpose (a Hugging Face cache's snapshots/ are links into
 * blobs/).  O_NONBLOCK keeps a FIFO planted under a shard's name from
 * blocking the open; fstat() then refuses anything but a regular file.
 *
 * A header is read with pread() rather than through the mapping, so that a
 * file shrinking under us fails with -EIO instead of SIGBUS while we parse.
 *
 * With an index, the weight_map and the union of the shards' headers are
 * both sorted by name and walked side by side: each difference is reported
 * naming the tensor, the index and the shard.
 */

#define HF_INDEX "model.safetensors.index.json"
#define HF_SINGLE "model.safetensors"

/* One weight_map entry (strings borrowed from the index's cJSON tree). */
struct hf_wm {
	const char *tensor;
	const char *file;
};

/* The state of one hf_dir_open(). */
struct hf_open {
	struct hf_dir *d;
	int dfd;			/* the directory */
	char *index_path;		/* "dir/model.safetensors.index.json" */
	cJSON *index;			/* the parsed index, or NULL */
	struct hf_wm *wm;		/* weight_map sorted by tensor */
	size_t nwm;
	struct st_header *hdr;		/* per file, parallel to d->files */
};

/* "dir/name" for messages (never NULL: falls back to name). */
static char *file_path(const struct hf_dir *d, const char *name)
{
	char *p = ck_path_join(d->path, name);

	return p ? p : strdup(name);
}

/*
 * Open the regular file name in the directory.  -ENOENT (no message: the
 * caller says what is missing), other -errno, -EINVAL (not a regular file).
 */
static int open_in(const struct hf_open *o, const char *name, const char *path,
		   int *fd, uint64_t *size)
{
	struct stat st;
	int f;

	f = openat(o->dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (f < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return ck_err(-errno, "%s: %s", path, strerror(errno));
	}
	if (fstat(f, &st) < 0) {
		int err = errno;

		close(f);
		return ck_err(-err, "%s: %s", path, strerror(err));
	}
	if (!S_ISREG(st.st_mode)) {
		close(f);
		return ck_err(-EINVAL, "%s: not a regular file", path);
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int load_config(struct hf_open *o)
{
	char *path = file_path(o->d, "config.json");
	uint8_t *text = NULL;
	uint64_t size;
	int fd = -1, err;

	if (!path)
		return ck_err(-ENOMEM, "out of memory");
	err = open_in(o, "config.json", path, &fd, &size);
	if (err == -ENOENT)
		err = ck_err(-ENOENT, "%s: no config.json", o->d->path);
	if (!err)
		err = ck_read_fd(fd, path, HF_DIR_CONFIG_MAX, &text,
				 &o->d->config_len);
	if (!err)
		o->d->config = (char *)text;
	if (fd >= 0)
		close(fd);
	free(path);
	return err;
}

static int cmp_wm(const void *a, const void *b)
{
	return strcmp(((const struct hf_wm *)a)->tensor,
		      ((const struct hf_wm *)b)->tensor);
}

/* 1 if s names a file directly in the directory. */
static int plain_name(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

/* Check weight_map entry j and append it to o->wm. */
static int add_wm(struct hf_open *o, const cJSON *j)
{
	const char *ip = o->index_path;

	if (!j->string || !j->string[0])
		return ck_err(-EIO, "%s: a tensor has an empty name", ip);
	if (!cJSON_IsString(j) || !j->valuestring)
		return ck_err(-EIO, "%s: tensor '%s': its shard is not a string",
			      ip, j->string);
	if (!plain_name(j->valuestring))
		return ck_err(-EINVAL, "%s: tensor '%s': shard '%s' is not a "
			      "plain file name", ip, j->string, j->valuestring);
	o->wm[o->nwm].tensor = j->string;
	o->wm[o->nwm].file = j->valuestring;
	o->nwm++;
	return 0;
}

/* Parse the index read from fd into o->index and o->wm (sorted). */
static int read_index(struct hf_open *o, int fd)
{
	const char *ip = o->index_path;
	const cJSON *map, *j;
	uint8_t *text = NULL;
	size_t len = 0, n = 0, i;
	int err;

	err = ck_read_fd(fd, ip, HF_DIR_INDEX_MAX, &text, &len);
	if (err)
		return err;
	err = ck_json_parse(text, len, &o->index);
	free(text);
	if (err)
		return ck_err_ctx(err == -ENOMEM ? err : -EIO, "%s", ip);
	map = ck_json_get(o->index, "weight_map");
	if (!cJSON_IsObject(map))
		return ck_err(-EIO, "%s: no 'weight_map' object", ip);
	cJSON_ArrayForEach(j, map)
		n++;
	o->wm = calloc(n ? n : 1, sizeof(*o->wm));
	if (!o->wm)
		return ck_err(-ENOMEM, "%s: out of memory", ip);
	cJSON_ArrayForEach(j, map) {
		err = add_wm(o, j);
		if (err)
			return err;
	}
	qsort(o->wm, o->nwm, sizeof(*o->wm), cmp_wm);
	for (i = 1; i < o->nwm; i++)
		if (strcmp(o->wm[i - 1].tensor, o->wm[i].tensor) == 0)
			return ck_err(-EINVAL, "%s: tensor '%s' is listed twice",
				      ip, o->wm[i].tensor);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct shard names of the index, sorted, into d->files. */
static int list_shards(struct hf_open *o)
{
	struct hf_dir *d = o->d;
	const char **v;
	size_t i, n = 0;
	int err = 0;

	v = calloc(o->nwm ? o->nwm : 1, sizeof(*v));
	d->files = calloc(o->nwm ? o->nwm : 1, sizeof(*d->files));
	o->hdr = calloc(o->nwm ? o->nwm : 1, sizeof(*o->hdr));
	if (!v || !d->files || !o->hdr) {
		free(v);
		return ck_err(-ENOMEM, "out of memory");
	}
	for (i = 0; i < o->nwm; i++)
		v[i] = o->wm[i].file;
	qsort(v, o->nwm, sizeof(*v), cmp_str);
	for (i = 0; !err && i < o->nwm; i++) {
		if (n && strcmp(d->files[n - 1].name, v[i]) == 0)
			continue;
		d->files[n].name = strdup(v[i]);
		if (!d->files[n].name)
			err = ck_err(-ENOMEM, "out of memory");
		else
			n++;
	}
	d->nfiles = n;
	free(v);
	return err;
}

/* The first tensor (by name) that the index puts in shard file. */
static const char *first_tensor_of(const struct hf_open *o, const char *file)
{
	size_t i;

	for (i = 0; i < o->nwm; i++)
		if (strcmp(o->wm[i].file, file) == 0)
			return o->wm[i].tensor;
	return "";
}

/* Read the header of the file open at fd (size bytes) into *h. */
static int read_header(int fd, uint64_t size, const char *path,
		       struct st_header *h)
{
	uint8_t head[8] = { 0 }, *buf;
	uint64_t hsize = 0;
	int err;

	if (size < 8)
		return st_header_size(head, 0, size, path, &hsize);
	err = ck_pread_full(fd, head, 8, 0, path);
	if (!err)
		err = st_header_size(head, 8, size, path, &hsize);
	if (err)
		return err;
	/* hsize <= 8 + ST_READ_HEADER_MAX: the allocation is capped. */
	buf = malloc((size_t)hsize);
	if (!buf)
		return ck_err(-ENOMEM, "%s: out of memory for a %llu-byte header",
			      path, (unsigned long long)hsize);
	err = ck_pread_full(fd, buf, (size_t)hsize, 0, path);
	if (!err)
		err = st_header_parse(buf, (size_t)hsize, size, path, h);
	free(buf);
	return err;
}

/* Open file f of d, parse its header into o->hdr[f] and map it. */
static int open_shard(struct hf_open *o, size_t f)
{
	struct hf_file *hf = &o->d->files[f];
	char *path = file_path(o->d, hf->name);
	void *map;
	int fd = -1, err;

	if (!path)
		return ck_err(-ENOMEM, "out of memory");
	err = open_in(o, hf->name, path, &fd, &hf->size);
	if (err == -ENOENT && o->index)
		err = ck_err(-ENOENT, "%s: tensor '%s': shard '%s' is missing",
			     o->index_path, first_tensor_of(o, hf->name),
			     hf->name);
	else if (err == -ENOENT)
		err = ck_err(-ENOENT, "%s: %s", path, strerror(ENOENT));
	if (!err)
		err = read_header(fd, hf->size, path, &o->hdr[f]);
	if (!err && hf->size > SIZE_MAX)
		err = ck_err(-EOVERFLOW, "%s: too large to map", path);
	if (!err) {
		map = mmap(NULL, (size_t)hf->size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			err = ck_err(-errno, "%s: cannot map: %s", path,
				     strerror(errno));
		else
			hf->map = map;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return err;
}

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp(((const struct hf_tensor *)a)->name,
		      ((const struct hf_tensor *)b)->name);
}

/* Every shard's entries into d->tensors (names moved), sorted, unique. */
static int gather(struct hf_open *o)
{
	struct hf_dir *d = o->d;
	size_t f, i, n = 0;

	for (f = 0; f < d->nfiles; f++)
		if (__builtin_add_overflow(n, o->hdr[f].n, &n))
			return ck_err(-EOVERFLOW, "%s: too many tensors", d->path);
	d->tensors = calloc(n ? n : 1, sizeof(*d->tensors));
	if (!d->tensors)
		return ck_err(-ENOMEM, "%s: out of memory for %zu tensors",
			      d->path, n);
	for (f = 0; f < d->nfiles; f++) {
		for (i = 0; i < o->hdr[f].n; i++) {
			struct st_entry *e = &o->hdr[f].e[i];
			struct hf_tensor *t = &d->tensors[d->ntensors++];

			t->name = e->name;
			e->name = NULL;
			t->dtype = e->dtype;
			t->rank = e->rank;
			memcpy(t->shape, e->shape, sizeof(t->shape));
			t->nbytes = e->end - e->begin;
			t->file = (unsigned)f;
			t->offset = e->begin;
		}
		st_header_release(&o->hdr[f]);
	}
	qsort(d->tensors, d->ntensors, sizeof(*d->tensors), cmp_tensor);
	for (i = 1; i < d->ntensors; i++) {
		const struct hf_tensor *a = &d->tensors[i - 1], *b = a + 1;

		if (strcmp(a->name, b->name) == 0)
			return ck_err(-EINVAL, "%s: tensor '%s' is in both "
				      "shard '%s' and shard '%s'", d->path,
				      b->name, d->files[a->file].name,
				      d->files[b->file].name);
	}
	return 0;
}

/* The index and the shards list the same tensors in the same files. */
static int cross_check(const struct hf_open *o)
{
	const struct hf_dir *d = o->d;
	const char *ip = o->index_path;
	size_t i = 0, k = 0;
	int c;

	while (i < o->nwm || k < d->ntensors) {
		const struct hf_wm *w = i < o->nwm ? &o->wm[i] : NULL;
		const struct hf_tensor *t = k < d->ntensors ? &d->tensors[k] : NULL;

		c = !w ? 1 : !t ? -1 : strcmp(w->tensor, t->name);
		if (c < 0)
			return ck_err(-EINVAL, "%s: tensor '%s': not in shard '%s'",
				      ip, w->tensor, w->file);
		if (c > 0)
			return ck_err(-EINVAL, "%s/%s: tensor '%s' is not in %s",
				      d->path, d->files[t->file].name, t->name,
				      ip);
		if (strcmp(w->file, d->files[t->file].name) != 0)
			return ck_err(-EINVAL, "%s: tensor '%s': the index says "
				      "shard '%s', it is in shard '%s'", ip,
				      w->tensor, w->file, d->files[t->file].name);
		i++;
		k++;
	}
	return 0;
}

/* model.safetensors.index.json if present, else model.safetensors. */
static int open_tensors(struct hf_open *o)
{
	struct hf_dir *d = o->d;
	uint64_t size;
	size_t f;
	int fd = -1, err;

	o->index_path = file_path(d, HF_INDEX);
	if (!o->index_path)
		return ck_err(-ENOMEM, "out of memory");
	err = open_in(o, HF_INDEX, o->index_path, &fd, &size);
	if (!err) {
		d->sharded = 1;
		err = read_index(o, fd);
		close(fd);
		if (!err)
			err = list_shards(o);
	} else if (err == -ENOENT) {
		d->files = calloc(1, sizeof(*d->files));
		o->hdr = calloc(1, sizeof(*o->hdr));
		if (!d->files || !o->hdr)
			return ck_err(-ENOMEM, "out of memory");
		d->files[0].name = strdup(HF_SINGLE);
		if (!d->files[0].name)
			return ck_err(-ENOMEM, "out of memory");
		d->nfiles = 1;
		err = open_shard(o, 0);
		if (err == -ENOENT)
			return ck_err(-ENOENT, "%s: no " HF_SINGLE " or " HF_INDEX,
				      d->path);
		if (!err)
			err = gather(o);
		return err;
	}
	for (f = 0; !err && f < d->nfiles; f++)
		err = open_shard(o, f);
	if (!err)
		err = gather(o);
	if (!err)
		err = cross_check(o);
	return err;
}

int hf_dir_open(const char *dir, struct hf_dir **out)
{
	struct hf_open o = { .dfd = -1 };
	size_t f;
	int err;

	o.d = calloc(1, sizeof(*o.d));
	if (!o.d)
		return ck_err(-ENOMEM, "out of memory");
	o.d->path = strdup(dir);
	if (!o.d->path) {
		free(o.d);
		return ck_err(-ENOMEM, "out of memory");
	}
	o.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o.dfd < 0)
		err = ck_err(-errno, "%s: %s", dir, strerror(errno));
	else
		err = load_config(&o);
	if (!err)
		err = open_tensors(&o);
	if (o.dfd >= 0)
		close(o.dfd);
	for (f = 0; o.hdr && f < o.d->nfiles; f++)
		st_header_release(&o.hdr[f]);
	free(o.hdr);
	free(o.wm);
	cJSON_Delete(o.index);
	free(o.index_path);
	if (err) {
		hf_dir_close(o.d);
		return err;
	}
	*out = o.d;
	return 0;
}

const struct hf_tensor *hf_dir_find(const struct hf_dir *d, const char *name)
{
	struct hf_tensor key = { .name = name };

	if (!d->ntensors)
		return NULL;
	return bsearch(&key, d->tensors, d->ntensors, sizeof(*d->tensors),
		       cmp_tensor);
}

const void *hf_dir_data(const struct hf_dir *d, const struct hf_tensor *t)
{
	return d->files[t->file].map + t->offset;
}

void hf_dir_drop(const struct hf_dir *d, const struct hf_tensor *t)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)hf_dir_data(d, t);
	uintptr_t hi = lo + (uintptr_t)t->nbytes;

	lo = (lo + page - 1) & ~(page - 1);
	hi &= ~(page - 1);
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void hf_dir_close(struct hf_dir *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->nfiles; i++) {
		if (d->files[i].map)
			munmap((void *)d->files[i].map, (size_t)d->files[i].size);
		free(d->files[i].name);
	}
	for (i = 0; i < d->ntensors; i++)
		free((char *)d->tensors[i].name);
	free(d->files);
	free(d->tensors);
	free(d->config);
	free(d->path);
	free(d);
}
