/* SPDX-License-Identifier: MIT */
/*
 * This file implements the Hugging Face view of a checkpoint (ckfs.h):
 * building it at mount time, and the read path shared by FUSE and convert;
 * the directories of either view; and the dispatch to the view=maxtext side
 * (ckfs_mt.c).
 */
#include "fs/ckfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/ckfs_access.h"
#include "fs/ckfs_mt.h"
#include "fs/mtview.h"
#include "fs/mtview_image.h"
#include "kvstore/kvstore.h"
#include "layout/config_json.h"
#include "mapping/detect.h"
#include "read/rd_engine.h"
#include "source/source.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_file.h"
#include "util/ck_json.h"
#include "util/ck_log.h"

#ifndef CKPT_MAPPINGS_DIR
#define CKPT_MAPPINGS_DIR "/usr/share/ckptfs/mappings"
#endif

#define CKFS_MAX_CONFIG_BYTES ((size_t)16 << 20)
#define CKFS_MAX_TOKENIZER_FILES 64

const char *ckfs_mappings_dir(const char *dir)
{
	if (dir)
		return dir;
#ifdef CKPT_SOURCE_MAPPINGS_DIR
	if (!ck_is_dir(CKPT_MAPPINGS_DIR))
		return CKPT_SOURCE_MAPPINGS_DIR;
#endif
	return CKPT_MAPPINGS_DIR;
}

static const char *mappings_dir(const struct ckfs_opts *o)
{
	return ckfs_mappings_dir(o->mappings);
}

static const char *torch_dtype_name(enum ck_dtype t)
{
	switch (t) {
	case CK_DT_F32: return "float32";
	case CK_DT_F16: return "float16";
	case CK_DT_F64: return "float64";
	default: return "bfloat16";
	}
}

/* The HF config text: from hf_config=, a preset, or inferred; then the
 * config.KEY=VALUE fields. */
static int get_config(struct ckfs *fs, const struct ckfs_opts *o, char **text,
		      size_t *len)
{
	const char *dir = mappings_dir(o);
	char *note = NULL, path[4096];
	uint8_t *data = NULL;
	int err;

	if (o->hf_config || o->model) {
		if (o->model)
			snprintf(path, sizeof(path), "%s/presets/%s.json", dir, o->model);
		err = ck_read_file(o->hf_config ? o->hf_config : path,
				   CKFS_MAX_CONFIG_BYTES, &data, len);
		if (err == -ENOENT && o->model)
			return ck_err(-EINVAL, "model=%s: no such preset (the presets "
				      "are %s/presets/*.json)", o->model, dir);
		if (err)
			return err;
		if (!o->nsets) {
			*text = (char *)data;
			return 0;
		}
		err = detect_config_apply((char *)data, *len, o->sets, o->nsets, text, len);
		free(data);
		return err ? ck_err_ctx(err, "%s", o->hf_config ? o->hf_config : path) : 0;
	}
	err = detect_family_given(fs->maps, fs->nmaps, fs->ckpt, o->sets, o->nsets,
				  &fs->map);
	if (!err)
		err = detect_infer_config(fs->map, fs->ckpt, o->sets, o->nsets, text, len,
					  &note);
	if (!err)
		ck_log(CK_LOG_WARN, "no hf_config= or model=: detected family '%s' and "
		       "inferred %s; other config.json fields take transformers' "
		       "defaults", fs->map->family, note);
	free(note);
	return err;
}

/* Pick the mapping for the config's model_type (unless detected). */
static int pick_mapping(struct ckfs *fs, const char *config, size_t len)
{
	const char *mt;
	cJSON *doc = NULL;
	int err;

	if (fs->map)
		return 0;
	err = ck_json_parse(config, len, &doc);
	if (!err)
		err = ck_json_get_str(doc, "model_type", &mt);
	if (!err) {
		fs->map = mapping_for_model_type(fs->maps, fs->nmaps, mt);
		if (!fs->map)
			err = ck_err(-ENOTSUP, "no mapping for model_type '%s'", mt);
	}
	cJSON_Delete(doc);
	return err ? ck_err_ctx(err, "HF config") : 0;
}

static struct ckfs_file *add_file(struct ckfs *fs, const char *name, int *err)
{
	struct ckfs_file *f = realloc(fs->files, (fs->nfiles + 1) * sizeof(*f));

	if (!f) {
		*err = ck_err(-ENOMEM, "out of memory");
		return NULL;
	}
	fs->files = f;
	f = &fs->files[fs->nfiles];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->name = strdup(name);
	if (!f->name) {
		*err = ck_err(-ENOMEM, "out of memory");
		return NULL;
	}
	fs->nfiles++;
	return f;
}

static int add_bytes(struct ckfs *fs, const char *name, char *bytes, size_t len)
{
	int err = 0;
	struct ckfs_file *f = add_file(fs, name, &err);

	if (!f) {
		free(bytes);
		return err;
	}
	f->kind = CKFS_BYTES;
	f->bytes = (uint8_t *)bytes;
	f->size = len;
	return 0;
}

/* The names HF tokenizers, processors and generation configs use: the only
 * files tokenizer= passes through. */
static int tokenizer_name(const char *name)
{
	static const char *const names[] = {
		"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
		"added_tokens.json", "vocab.json", "vocab.txt", "merges.txt",
		"tokenizer.model", "chat_template.jinja", "chat_template.json",
		"preprocessor_config.json", "processor_config.json",
		"generation_config.json",
	};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return n > 9 && !strcmp(name + n - 9, ".tiktoken");
}

/*
 * Tokenizer files: the regular files of the directory with a tokenizer
 * name (above), opened without following a symlink; a file name may not
 * collide with a generated one.  What is skipped is logged in one line.
 */
static int add_tokenizer(struct ckfs *fs, const char *dir)
{
	struct ck_buf skipped = CK_BUF_INIT;
	struct dirent *e;
	DIR *d = opendir(dir);
	unsigned n = 0;
	int err = 0;

	if (!d)
		return ck_err(-errno, "tokenizer=%s: %s", dir, strerror(errno));
	while (!err && (e = readdir(d))) {
		struct ckfs_file *f;
		struct stat st;
		int fd = -1;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (tokenizer_name(e->d_name) && !ckfs_find(fs, e->d_name))
			fd = openat(dirfd(d), e->d_name,
				    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			if (fd >= 0)
				close(fd);
			if (skipped.len < 400)
				err = ck_buf_printf(&skipped, "%s%s", skipped.len ? ", " : "",
						    e->d_name);
			continue;
		}
		if (++n > CKFS_MAX_TOKENIZER_FILES) {
			close(fd);
			err = ck_err(-EOVERFLOW, "tokenizer=%s: more than %d files", dir,
				     CKFS_MAX_TOKENIZER_FILES);
			break;
		}
		f = add_file(fs, e->d_name, &err);
		if (!f) {
			close(fd);
			break;
		}
		f->kind = CKFS_PASSTHROUGH;
		f->fd = fd;
		f->size = (uint64_t)st.st_size;
		f->src = st;
	}
	closedir(d);
	if (!err && skipped.len)
		ck_log(CK_LOG_WARN, "tokenizer=%s: skipped %s (not a regular file with "
		       "a tokenizer's name, a symlink, or a name the view has)", dir,
		       (char *)skipped.data);
	ck_buf_release(&skipped);
	return err;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct ckfs_file *)a)->name,
		      ((const struct ckfs_file *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The shard size when shard_size= is not given (CKFS_DEFAULT_SHARD_SIZE). */
static uint64_t default_shard_size(uint64_t cache_size)
{
	uint64_t s = cache_size / 2;

	if (s < CKFS_MIN_DEFAULT_SHARD_SIZE)
		s = CKFS_MIN_DEFAULT_SHARD_SIZE;
	return s < CKFS_DEFAULT_SHARD_SIZE ? s : CKFS_DEFAULT_SHARD_SIZE;
}

uint64_t ckfs_default_read_ahead(uint64_t cache_size)
{
	uint64_t r = (cache_size ? cache_size : CKFS_DEFAULT_CACHE_SIZE) / 64;

	r = r < CKFS_MIN_DEFAULT_READ_AHEAD ? CKFS_MIN_DEFAULT_READ_AHEAD : r;
	return r > CKFS_MAX_DEFAULT_READ_AHEAD ? CKFS_MAX_DEFAULT_READ_AHEAD : r;
}

static int build_layout(struct ckfs *fs, uint64_t shard_size)
{
	struct st_tensor_desc *d = calloc(fs->plan->ntensors + 1, sizeof(*d));
	int err;

	if (!d)
		return ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < fs->plan->ntensors; i++) {
		const struct plan_tensor *t = &fs->plan->tensors[i];

		d[i].name = t->name;
		d[i].dtype = t->dtype;
		d[i].rank = t->shape.rank;
		memcpy(d[i].shape, t->shape.d, sizeof(d[i].shape));
		d[i].group = fs->groups.of[i] == UINT32_MAX ? 0 : fs->groups.of[i] + 1;
	}
	err = st_layout_build(d, fs->plan->ntensors, shard_size, &fs->layout);
	free(d);
	return err;
}

static int build_files(struct ckfs *fs, const struct ckfs_opts *o,
		       const char *config, size_t config_len)
{
	char *cfg = NULL, *idx;
	size_t cfg_len = 0;
	int err;

	err = config_json_render(config, config_len, torch_dtype_name(fs->plan->torch_dtype),
				 &cfg, &cfg_len);
	if (!err)
		err = add_bytes(fs, "config.json", cfg, cfg_len);
	for (size_t i = 0; !err && i < fs->layout->nfiles; i++) {
		struct ckfs_file *f = add_file(fs, fs->layout->files[i].name, &err);

		if (f) {
			f->kind = CKFS_SAFETENSORS;
			f->shard = (uint32_t)i;
			f->size = fs->layout->files[i].size;
		}
	}
	if (!err) {
		idx = malloc(fs->layout->index_len + 1);
		if (!idx)
			return ck_err(-ENOMEM, "out of memory");
		memcpy(idx, fs->layout->index_json, fs->layout->index_len);
		err = add_bytes(fs, "model.safetensors.index.json", idx,
				fs->layout->index_len);
	}
	qsort(fs->files, fs->nfiles, sizeof(*fs->files), cmp_file);
	if (!err && o->tokenizer)
		err = add_tokenizer(fs, o->tokenizer);
	if (fs->nfiles)
		qsort(fs->files, fs->nfiles, sizeof(*fs->files), cmp_file);
	return err;
}

/* Uncompressed bytes of the distinct source arrays the plan reads. */
static int plan_source_bytes(const struct ckfs *fs, uint64_t *total)
{
	size_t n = fs->ckpt->narrays;
	uint8_t *seen = calloc(n + 1, 1);

	if (!seen)
		return ck_err(-ENOMEM, "out of memory");
	*total = 0;
	for (size_t i = 0; i < fs->plan->ntensors; i++) {
		const struct plan_tensor *t = &fs->plan->tensors[i];

		for (unsigned k = 0; k < t->nsrc; k++) {
			const struct plan_src *s = &t->src[k];
			size_t a = (size_t)(s->array - fs->ckpt->arrays);
			uint64_t bytes = ck_dtype_size(s->dtype);

			if (a >= n || seen[a])
				continue;
			seen[a] = 1;
			for (unsigned ax = 0; ax < s->rank; ax++)
				bytes *= s->shape[ax];
			*total += bytes;
		}
	}
	free(seen);
	return 0;
}

/*
 * The step's _CHECKPOINT_METADATA records whether the run scanned its
 * layers; a layout read from the arrays that says otherwise means the arrays
 * are not what the run saved, or the mapping read them wrongly.
 */
static int check_scan_layers(const struct orbax_ckpt *c, const struct plan *p)
{
	if (c->scan_layers < 0 || p->scanned < 0 || c->scan_layers == p->scanned)
		return 0;
	return ck_err(-EINVAL, "%s: _CHECKPOINT_METADATA says scan_layers=%s, but "
		      "the arrays are laid out %s", c->item_dir,
		      c->scan_layers ? "true" : "false",
		      p->scanned ? "scanned" : "unscanned (one array per layer)");
}

/* 64-bit FNV-1a of p[0..n), continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Open the engine's disk tier, tagged with the view's generation: the
 * checkpoint, and every byte of the view's metadata and of where each
 * tensor comes from (a kept tier is adopted only by the same view). */
static int open_tier(struct ckfs *fs, const struct ckfs_opts *o)
{
	struct rd_tier_opts to = { o->cache_dir, o->no_cache_dir, o->cache_dir_size,
				   o->cache_dir_keep, NULL };
	struct ck_buf tag = CK_BUF_INIT;
	uint64_t h = 0xcbf29ce484222325ull;
	int err;

	for (size_t i = 0; i < fs->nfiles; i++) {
		const struct ckfs_file *f = &fs->files[i];
		char *text = NULL;
		size_t len = 0;

		h = fnv1a(h, f->name, strlen(f->name) + 1);
		if (f->kind == CKFS_BYTES)
			h = fnv1a(h, f->bytes, (size_t)f->size);
		if (f->kind == CKFS_SAFETENSORS && ckfs_describe(fs, f, &text, &len) == 0)
			h = fnv1a(h, text, len);
		free(text);
	}
	err = ck_buf_printf(&tag, "%s step %lld mtime %lld files %016llx view "
			    "%016llx", fs->ckpt->item_dir, (long long)fs->ckpt->step,
			    /* remote: the files' versions say it, not the time
			       of the mount */
			    (long long)(src_is_remote(fs->ckpt->item_dir) ? 0 : fs->mtime),
			    (unsigned long long)kvstore_files_digest(fs->ckpt->kv),
			    (unsigned long long)h);
	if (!err)
		err = ck_buf_append(&tag, "", 1);
	to.tag = (const char *)tag.data;
	if (!err)
		err = rd_engine_tier(fs->engine, &to);
	ck_buf_release(&tag);
	return err;
}

/* The directories file paths imply: every proper prefix ending before a
 * '/', once each, sorted.  A name both a file and a directory is refused. */
static int build_dirs(struct ckfs *fs)
{
	size_t cap = 0;

	for (size_t i = 0; i < fs->nfiles; i++)
		for (const char *p = fs->files[i].name; (p = strchr(p, '/')); p++)
			cap++;
	fs->dirs = calloc(cap + 1, sizeof(*fs->dirs));
	if (!fs->dirs)
		return ck_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < fs->nfiles; i++) {
		const char *name = fs->files[i].name;

		for (const char *p = name; (p = strchr(p, '/')); p++) {
			size_t n = (size_t)(p - name);
			size_t k = fs->ndirs;

			/* files are sorted: a directory seen is among the
			   last few added */
			while (k > 0 && (strlen(fs->dirs[k - 1]) != n ||
					 strncmp(fs->dirs[k - 1], name, n)))
				k--;
			if (k > 0)
				continue;
			fs->dirs[fs->ndirs] = strndup(name, n);
			if (!fs->dirs[fs->ndirs++])
				return ck_err(-ENOMEM, "out of memory");
		}
	}
	qsort(fs->dirs, fs->ndirs, sizeof(*fs->dirs), cmp_str);
	for (size_t k = 0; k < fs->ndirs; k++)
		if (ckfs_find(fs, fs->dirs[k]))
			return ck_err(-EINVAL, "'%s' is both a file and a directory",
				      fs->dirs[k]);
	return 0;
}

/* view=maxtext: the MaxText checkpoint of an HF directory (ckfs_mt.c). */
static int open_maxtext(struct ckfs *fs, const struct ckfs_opts *o,
			struct ckfs **out)
{
	int err = ckfs_mt_open(fs, o);

	if (!err) {
		qsort(fs->files, fs->nfiles, sizeof(*fs->files), cmp_file);
		err = build_dirs(fs);
	}
	if (err) {
		ckfs_close(fs);
		return err;
	}
	*out = fs;
	return 0;
}

int ckfs_remote_configure(const struct ckfs_opts *o)
{
	struct rmt_opts ro = o->remote;

	if (!o->retries_given)
		ro.retries = -1;
	return rmt_configure(&ro);
}

int ckfs_open(const struct ckfs_opts *o, struct ckfs **out)
{
	struct orbax_opts oo = ORBAX_OPTS_INIT;
	struct plan_opts po = { .dtype = o->dtype };
	struct ckfs *fs = calloc(1, sizeof(*fs));
	char *config = NULL;
	size_t config_len = 0;
	struct ck_buf sum = CK_BUF_INIT;
	int err, got_config;

	if (!fs)
		return ck_err(-ENOMEM, "out of memory");
	if (!o->src)
		return free(fs), ck_err(-EINVAL, "no checkpoint given");
	if (o->view_maxtext)
		return open_maxtext(fs, o, out);
	oo.step = o->step;
	oo.follow_symlinks = o->follow_symlinks;
	oo.uncommitted = o->uncommitted;
	err = src_is_remote(o->src) ? ckfs_remote_configure(o) : 0;
	if (!err)
		err = orbax_open(o->src, &oo, &fs->ckpt);
	if (!err && !fs->ckpt->tree)
		err = ck_err(-EINVAL, "%s", fs->ckpt->tree_why);
	if (!err)
		err = mapping_load_dir(mappings_dir(o), &fs->maps, &fs->nmaps);
	if (!err)
		err = get_config(fs, o, &config, &config_len);
	got_config = !err;
	if (!err)
		err = pick_mapping(fs, config, config_len);
	if (!err)
		err = plan_build(fs->map, fs->ckpt, config, config_len, &po, &fs->plan);
	/* Say which target did not fit. */
	if (err && got_config && o->model)
		err = ck_err_ctx(err, "model=%s", o->model);
	else if (err && got_config && o->hf_config)
		err = ck_err_ctx(err, "hf_config=%s", o->hf_config);
	if (!err)
		err = check_scan_layers(fs->ckpt, fs->plan);
	if (!err && fs->plan->ntensors > UINT32_MAX)
		err = ck_err(-EOVERFLOW, "too many tensors");
	if (!err)
		err = plan_groups_build(fs->plan, &fs->groups);
	if (!err)
		err = build_layout(fs, o->shard_size ? o->shard_size :
				   default_shard_size(o->cache_size ? o->cache_size :
						      CKFS_DEFAULT_CACHE_SIZE));
	if (!err)
		err = build_files(fs, o, config, config_len);
	if (!err)
		err = ckfs_access_view(fs, o);
	if (!err)
		err = plan_source_bytes(fs, &fs->source_bytes);
	if (!err)
		err = rd_engine_new(fs->plan, &fs->groups,
				    o->cache_size ? o->cache_size : CKFS_DEFAULT_CACHE_SIZE,
				    &fs->engine);
	if (!err)
		err = ck_buf_printf(&sum, "%s: family %s, %s layout, %llu layers, %zu "
				    "tensors in %zu file%s, %s", fs->ckpt->item_dir,
				    fs->map->family,
				    fs->plan->scanned == 1 ? "scanned" :
				    fs->plan->scanned == 0 ? "unscanned" : "flat",
				    (unsigned long long)fs->plan->layers, fs->plan->ntensors,
				    fs->layout->nfiles, fs->layout->nfiles == 1 ? "" : "s",
				    torch_dtype_name(fs->plan->torch_dtype));
	free(config);
	if (err) {
		ck_buf_release(&sum);
		ckfs_close(fs);
		return err;
	}
	fs->summary = (char *)ck_buf_detach(&sum, NULL);
	{
		struct stat st;

		/* A remote store's objects have no directory time: the
		 * view's files are as old as the mount. */
		if (src_is_remote(fs->ckpt->item_dir))
			fs->mtime = (int64_t)time(NULL);
		else if (stat(fs->ckpt->item_dir, &st) == 0)
			fs->mtime = (int64_t)st.st_mtime;
	}
	err = open_tier(fs, o);
	if (err) {
		ckfs_close(fs);
		return err;
	}
	*out = fs;
	return 0;
}

const struct ckfs_file *ckfs_find(const struct ckfs *fs, const char *name)
{
	for (size_t i = 0; i < fs->nfiles; i++)
		if (!strcmp(fs->files[i].name, name))
			return &fs->files[i];
	return NULL;
}

int ckfs_find_dir(const struct ckfs *fs, const char *name)
{
	char *const *d;

	if (!*name)
		return 0;
	d = fs->ndirs ? bsearch(&name, fs->dirs, fs->ndirs, sizeof(*fs->dirs),
				cmp_str) : NULL;
	return d ? (int)(d - fs->dirs) + 1 : -ENOENT;
}

/* The entry of directory prefix[0..plen) that path names: its last
 * component, or NULL when path is not directly in it. */
static const char *child_of(const char *path, const char *prefix, size_t plen)
{
	if (plen && (strncmp(path, prefix, plen) || path[plen] != '/'))
		return NULL;
	path += plen + (plen > 0);
	return strchr(path, '/') ? NULL : path;
}

int ckfs_list_dir(const struct ckfs *fs, int dir, ckfs_entry_fn fn, void *ctx)
{
	const char *prefix = dir > 0 && (size_t)dir <= fs->ndirs ? fs->dirs[dir - 1]
							       : "";
	size_t plen = strlen(prefix);
	const char *c;
	int r = 0;

	for (size_t k = 0; k < fs->ndirs && !r; k++)
		if ((c = child_of(fs->dirs[k], prefix, plen)))
			r = fn(ctx, c, NULL);
	for (size_t i = 0; i < fs->nfiles && !r; i++)
		if ((c = child_of(fs->files[i].name, prefix, plen)))
			r = fn(ctx, c, &fs->files[i]);
	return r;
}

/* Copy the safetensors bytes [off, off+size) of shard f. */
static ssize_t read_shard(struct ckfs *fs, const struct ckfs_file *f, uint8_t *buf,
			  size_t size, uint64_t off)
{
	const struct st_file *sf = &fs->layout->files[f->shard];
	size_t done = 0;

	while (done < size && off < sf->size) {
		uint64_t toff, n;
		size_t t;
		int r = st_layout_locate(fs->layout, f->shard, off, &t, &toff);

		if (r < 0)
			return r;
		if (r == 0) {	/* header bytes */
			n = sf->header_len - off;
			if (n > size - done)
				n = size - done;
			memcpy(buf + done, sf->header + off, (size_t)n);
		} else {
			ssize_t got = rd_copy(fs->engine, (uint32_t)t, toff, buf + done, size - done);

			/* The whole read fails, not just its end: FUSE takes a
			 * short read for the end of the file.  Memory running
			 * out is no fault of the data: -ENOMEM, to try again. */
			if (got < 0) {
				ck_log(CK_LOG_ERROR, "%s: %s", f->name, ck_err_msg());
				return got == -ENOMEM ? -ENOMEM : -EIO;
			}
			n = (uint64_t)got;
		}
		done += (size_t)n;
		off += n;
	}
	return (ssize_t)done;
}

/* A file of the MaxText view: all of [off, off + size) (clipped to the
 * file), or -EIO / -ENOMEM with one log line, as read_shard(). */
static ssize_t read_maxtext(struct ckfs *fs, const struct ckfs_file *f,
			    void *buf, size_t size, uint64_t off)
{
	size_t got = 0;
	int err = mtview_image_read(fs->mimg, f->mt_file, off, buf, size, &got);

	if (!err && got != size)
		err = ck_err(-EIO, "short read: %zu of %zu bytes", got, size);
	if (err) {
		ck_log(CK_LOG_ERROR, "%s: %s", f->name, ck_err_msg());
		return err == -ENOMEM ? -ENOMEM : -EIO;
	}
	return (ssize_t)got;
}

ssize_t ckfs_read(struct ckfs *fs, const struct ckfs_file *f, void *buf,
		  size_t size, uint64_t off)
{
	ssize_t n;

	if (off >= f->size)
		return 0;
	if (size > f->size - off)
		size = (size_t)(f->size - off);
	switch (f->kind) {
	case CKFS_BYTES:
		memcpy(buf, f->bytes + off, size);
		return (ssize_t)size;
	case CKFS_PASSTHROUGH:
		n = pread(f->fd, buf, size, (off_t)off);
		if (n < 0) {
			ck_log(CK_LOG_ERROR, "%s: read failed: %s", f->name, strerror(errno));
			return -EIO;
		}
		return n;
	case CKFS_SAFETENSORS:
		n = read_shard(fs, f, buf, size, off);
		if (n > 0)
			atomic_fetch_add_explicit(&fs->bytes_served, (uint64_t)n,
						  memory_order_relaxed);
		return n;
	case CKFS_MAXTEXT:
		return read_maxtext(fs, f, buf, size, off);
	}
	return -EIO;
}

static int describe_tensor(struct ck_buf *b, const struct plan_tensor *t)
{
	int err = ck_buf_printf(b, "%s <- ", t->name);

	for (unsigned k = 0; !err && k < t->nsrc; k++) {
		const struct plan_src *s = &t->src[k];

		err = ck_buf_printf(b, "%s%s[", k ? " + " : "", orbax_array_path(s->array));
		for (unsigned ax = 0, j = 0; !err && ax < s->rank; ax++) {
			if (j < s->nfixed && s->fixed_axis[j] == ax)
				err = ck_buf_printf(b, "%s%llu", ax ? "," : "",
						    (unsigned long long)s->fixed_idx[j++]);
			else
				err = ck_buf_printf(b, "%s:", ax ? "," : "");
		}
		if (!err)
			err = ck_buf_printf(b, "]");
	}
	for (unsigned h = 0; !err && h < t->rule->nhooks; h++) {
		err = ck_buf_printf(b, " | %s", t->rule->hooks[h].hook->name);
		for (unsigned a = 0; !err && a < t->args[h].n; a++)
			err = ck_buf_printf(b, "%s%g", a ? "," : "(", t->args[h].v[a]);
		if (!err && t->args[h].n)
			err = ck_buf_printf(b, ")");
	}
	if (!err)
		err = ck_buf_printf(b, " -> %s\n", ck_dtype_safetensors(t->dtype));
	return err;
}

int ckfs_describe(const struct ckfs *fs, const struct ckfs_file *f, char **text,
		  size_t *len)
{
	struct ck_buf b = CK_BUF_INIT;
	int err = 0;

	switch (f->kind) {
	case CKFS_SAFETENSORS: {
		const struct st_file *sf = &fs->layout->files[f->shard];

		for (uint32_t i = sf->first; !err && i < sf->first + sf->count; i++)
			err = describe_tensor(&b, &fs->plan->tensors[i]);
		break;
	}
	case CKFS_PASSTHROUGH:
		err = ck_buf_printf(&b, "copied from the tokenizer directory\n");
		break;
	case CKFS_BYTES:
		err = ck_buf_printf(&b, "generated by ckptfs: %s\n", fs->summary);
		break;
	case CKFS_MAXTEXT:
		err = mtview_image_describe(fs->mimg, f->mt_file, &b);
		break;
	}
	if (!err)
		err = ck_buf_append(&b, "", 1);
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	*len = b.len - 1;
	*text = (char *)ck_buf_detach(&b, NULL);
	return 0;
}

void ckfs_close(struct ckfs *fs)
{
	if (!fs)
		return;
	rd_engine_free(fs->engine);
	mtview_image_free(fs->mimg);
	mtview_close(fs->mt);
	for (size_t i = 0; i < fs->ndirs; i++)
		free(fs->dirs[i]);
	free(fs->dirs);
	for (size_t i = 0; i < fs->nfiles; i++) {
		free(fs->files[i].name);
		free(fs->files[i].bytes);
		if (fs->files[i].fd >= 0)
			close(fs->files[i].fd);
	}
	free(fs->files);
	st_layout_free(fs->layout);
	plan_groups_release(&fs->groups);
	plan_free(fs->plan);
	for (size_t i = 0; i < fs->nmaps; i++)
		mapping_free(fs->maps[i]);
	free(fs->maps);
	orbax_close(fs->ckpt);
	free(fs->summary);
	free(fs);
}

int ckfs_stats_json(struct ckfs *fs, char **json, size_t *len)
{
	struct ck_buf b = CK_BUF_INIT;
	struct rd_stats rs;
	struct rmt_counters rc;
	uint64_t decodes, decoded, source = fs->source_bytes;
	int err;

	if (fs->mimg)
		return ckfs_mt_stats_json(fs, json, len);
	orbax_decode_stats(fs->ckpt, &decodes, &decoded);
	rd_engine_stats(fs->engine, &rs);
	rmt_get_counters(&rc);
	err = ck_buf_printf(&b, "{\"bytes_served\":%llu,\"bytes_decoded\":%llu,"
			    "\"chunk_decodes\":%llu,\"cache_hits\":%llu,"
			    "\"cache_misses\":%llu,\"cache_evictions\":%llu,"
			    "\"cache_bytes\":%llu,\"cache_peak_bytes\":%llu,"
			    "\"disk_tier_bytes_written\":%llu,\"disk_tier_bytes_read\":%llu,"
			    "\"tensor_loads\":%llu,\"source_bytes\":%llu,"
			    "\"read_amplification\":%.6f,\"remote_requests\":%llu,"
			    "\"remote_bytes_fetched\":%llu,\"remote_retries\":%llu,"
			    "\"remote_failures\":%llu}",
			    (unsigned long long)atomic_load_explicit(&fs->bytes_served,
								     memory_order_relaxed),
			    (unsigned long long)decoded, (unsigned long long)decodes,
			    (unsigned long long)rs.cache.hits, (unsigned long long)rs.cache.misses,
			    (unsigned long long)rs.cache.evictions, (unsigned long long)rs.cache.bytes,
			    (unsigned long long)rs.cache.peak_bytes,
			    (unsigned long long)rs.tier.bytes_written, (unsigned long long)rs.tier.bytes_read,
			    (unsigned long long)rs.tensor_loads,
			    (unsigned long long)source,
			    source ? (double)decoded / (double)source : 0.0,
			    (unsigned long long)rc.requests, (unsigned long long)rc.bytes,
			    (unsigned long long)rc.retries, (unsigned long long)rc.failures);
	if (!err)
		err = ck_buf_append(&b, "", 1);
	if (err) {
		ck_buf_release(&b);
		return err;
	}
	*len = b.len - 1;
	*json = (char *)ck_buf_detach(&b, NULL);
	return 0;
}
