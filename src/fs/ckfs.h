/* SPDX-License-Identifier: MIT */
/*
 * ckfs.h - the Hugging Face view of a checkpoint, without FUSE: the files of
 * the model directory and the one read path that both the mount and
 * `ckptfs convert` use.
 *
 * ckfs_open() does all the work a mount needs before serving: it opens the
 * checkpoint, picks the mapping (from the HF config's model_type, a preset,
 * or by detection from the array names), resolves the plan, lays out the
 * safetensors files, renders config.json and the index, and lists the
 * tokenizer files to pass through.  Every file's size is known when it
 * returns.  Afterwards the view is immutable except for the tensor cache, and
 * ckfs_read() is thread-safe.
 *
 * With view=maxtext (o->view_maxtext) the source is a Hugging Face model
 * directory instead, and the view is the MaxText checkpoint
 * `convert --to maxtext` would write from it, computed lazily
 * (fs/mtview_image.h): the files 0/_CHECKPOINT_METADATA and 0/items/...,
 * in directories.  The same functions serve both views; the HF view's
 * files are all in the root directory.
 */
#ifndef CKFS_H
#define CKFS_H

#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "layout/st_layout.h"
#include "mapping/detect.h"
#include "mapping/plan.h"
#include "orbax/orbax.h"
#include "remote/remote.h"
#include "read/rd_engine.h"

struct mtview;
struct mtview_image;

struct ckfs_opts {
	const char *src;		/* checkpoint path */
	const char *mappings;		/* mapping directory, NULL = default */
	const char *hf_config;		/* config.json to target, or NULL */
	const char *model;		/* preset name, or NULL */
	const char *tokenizer;		/* directory of tokenizer files, or NULL */
	enum ck_dtype dtype;		/* CK_DT_INVALID = auto */
	int64_t step;			/* -1 = latest */
	uint64_t shard_size;		/* bytes of tensor data per shard */
	uint64_t cache_size;		/* tensor cache budget in bytes */
	const char *cache_dir;		/* disk tier directory, NULL = the
					   default tier (read/rd_tier.c) */
	int no_cache_dir;		/* cache_dir=none: no tier at all */
	uint64_t cache_dir_size;	/* its byte budget,
					   0 = RD_DEFAULT_TIER_SIZE */
	int cache_dir_keep;		/* leave its files at unmount */
	uint64_t read_ahead;		/* mount: kernel readahead in bytes,
					   0 = ckfs_default_read_ahead() */
	int keep_read_ahead;		/* mount: leave the kernel's */
	int follow_symlinks;		/* files of the checkpoint may be
					   symlinks out of it */
	int uncommitted;		/* a step still being written (no
					   commit_success.txt on Cloud
					   Storage) may be opened */
	struct rmt_opts remote;		/* remote sources: concurrency,
					   timeouts, retries, token file;
					   remote.retries counts only with
					   retries_given (zeroed options take
					   the default) */
	int retries_given;
	int view_maxtext;		/* view=maxtext: serve the MaxText
					   checkpoint of an HF directory
					   (fs/mtview.h) */
	int scan_layers;		/* MaxText side: 1 scanned, 0 unscanned,
					   -1 the default (scanned) */
	unsigned chunks;		/* MaxText side: chunks along axis 0,
					   0 = MTVIEW_DEFAULT_CHUNKS */
	uint64_t vocab_rows;		/* MaxText side: (padded) vocabulary
					   rows, 0 = the HF vocabulary */
	size_t nsets;
	struct detect_set sets[DETECT_MAX_SETS];	/* config.KEY=VALUE, in
							   order */
};

/* Shards: shard_size= when given; else half the cache, so that a loader
 * reading shard by shard, each shard's tensors in name order, finds the
 * groups of the shard it reads and of the next one in the cache (shards are
 * cut at group boundaries, st_layout.h); at least 256 MiB (a smaller cache
 * is a deliberate choice, not worth hundreds of files), at most HF's 5 GB. */
#define CKFS_DEFAULT_SHARD_SIZE ((uint64_t)5000000000)
#define CKFS_MIN_DEFAULT_SHARD_SIZE ((uint64_t)256 << 20)
#define CKFS_DEFAULT_CACHE_SIZE ((uint64_t)1 << 30)
/* The kernel's readahead when read_ahead= is not given: a 64th of the cache,
 * between 1 MiB and 16 MiB.  A large window makes a mmap'ed loader's page
 * faults fetch more at once (a tenth faster at 16 MiB than at 1 MiB), but a
 * window that is a sizeable part of the cache makes the kernel ask for the
 * next group's tensors while the current group's last ones are unread, and
 * a cache holding one group then computes some twice. */
#define CKFS_MIN_DEFAULT_READ_AHEAD ((uint64_t)1 << 20)
#define CKFS_MAX_DEFAULT_READ_AHEAD ((uint64_t)16 << 20)

/* Apply o's remote options (remote.h rmt_configure()); ckfs_open() does
 * it for a remote source.  -EINVAL, -EIO (token file), -ENOMEM. */
int ckfs_remote_configure(const struct ckfs_opts *o);

uint64_t ckfs_default_read_ahead(uint64_t cache_size);

enum ckfs_kind {
	CKFS_BYTES,			/* contents held in memory */
	CKFS_SAFETENSORS,		/* a shard of the layout */
	CKFS_PASSTHROUGH,		/* a file copied from the tokenizer dir */
	CKFS_MAXTEXT,			/* a file of the MaxText view's image */
};

struct ckfs_file {
	char *name;			/* file name in the view (owned) */
	enum ckfs_kind kind;
	uint64_t size;
	uint8_t *bytes;			/* CKFS_BYTES (owned) */
	uint32_t shard;			/* CKFS_SAFETENSORS: layout file index */
	uint32_t mt_file;		/* CKFS_MAXTEXT: file index in the
					   image (mtview_image.h) */
	int fd;				/* CKFS_PASSTHROUGH (owned) */
	uid_t uid;			/* owner, group and read bits (a subset
					   of 0444) of the view's file: no more
					   than its sources allow
					   (ckfs_access.c) */
	gid_t gid;
	mode_t mode;
	struct stat src;		/* CKFS_PASSTHROUGH: the source file */
};

struct ckfs {
	struct orbax_ckpt *ckpt;	/* the checkpoint (HF view; NULL for
					   view=maxtext) */
	struct mapping **maps;		/* every mapping loaded */
	size_t nmaps;
	const struct mapping *map;	/* the one in use */
	struct plan *plan;
	struct plan_groups groups;	/* siblings, read together */
	struct st_layout *layout;
	struct rd_engine *engine;	/* finds or computes the tensors'
					   bytes (read/rd_engine.h) */
	struct mtview *mt;		/* view=maxtext: the HF directory's
					   MaxText view, else NULL */
	struct mtview_image *mimg;	/* view=maxtext: its files */
	size_t nfiles;
	struct ckfs_file *files;	/* sorted by name: a path relative to
					   the root ("config.json",
					   "0/items/_METADATA") */
	size_t ndirs;
	char **dirs;			/* the directories below the root that
					   the file paths imply, sorted
					   ("0", "0/items", ...) */
	char *summary;			/* one line: family, layout, tensors */
	int64_t mtime;			/* the checkpoint's modification time,
					   shown as every file's */
	uid_t dir_uid;			/* the view's directory: owner, group, */
	gid_t dir_gid;
	mode_t dir_mode;		/* and bits (a subset of 0555) */
	/* Counters for ckfs_stats_json (atomic, relaxed). */
	_Atomic uint64_t bytes_served;	/* returned by ckfs_read on the
					   safetensors files */
	uint64_t source_bytes;		/* uncompressed bytes of the source
					   arrays the plan reads (at open) */
};

/* The mapping directory: dir, or the installed one (the source tree's when
 * not installed) when dir is NULL. */
const char *ckfs_mappings_dir(const char *dir);

/*
 * Build the view.  Errors: those of orbax_open, mapping and plan resolution
 * (the message names the arrays), -EINVAL bad options, -ENOMEM.  Caller frees
 * with ckfs_close().
 */
int ckfs_open(const struct ckfs_opts *o, struct ckfs **out);

/* The file called name (a path relative to the root), or NULL. */
const struct ckfs_file *ckfs_find(const struct ckfs *fs, const char *name);

/* The directory called name: 0 for the root (""), k + 1 for fs->dirs[k];
 * -ENOENT if there is none. */
int ckfs_find_dir(const struct ckfs *fs, const char *name);

/*
 * Call fn(ctx, name, f) for each entry of directory dir (a number from
 * ckfs_find_dir()): name is the entry's last path component
 * (NUL-terminated, valid during the call), f its file, or NULL for a
 * directory.  Stops at fn's first non-zero return and returns it; 0 after
 * the last entry.
 */
typedef int (*ckfs_entry_fn)(void *ctx, const char *name,
			     const struct ckfs_file *f);
int ckfs_list_dir(const struct ckfs *fs, int dir, ckfs_entry_fn fn, void *ctx);

/*
 * Read up to size bytes at off of file f into buf.  Returns the number of
 * bytes read, which is size unless the file ends first (0 at or past the
 * end), or -errno (-EIO, or -ENOMEM when memory ran out, with one log line
 * naming the tensor and the cause) when any byte of the range cannot be
 * computed: never a short read, which FUSE would take for the end of the
 * file.
 */
ssize_t ckfs_read(struct ckfs *fs, const struct ckfs_file *f, void *buf,
		  size_t size, uint64_t off);

/*
 * Describe where the bytes of a file come from, for the user.all xattrs:
 * for a safetensors file, one line per tensor "name <- source[slice] |
 * hooks"; for a MaxText data file, one line per array "name chunks A-B of
 * N <- HF tensors"; for others, what generated them.  Caller frees *text.
 */
int ckfs_describe(const struct ckfs *fs, const struct ckfs_file *f, char **text,
		  size_t *len);

/*
 * The counters of the view as one line of JSON, without a newline (the
 * user.ckptfs.stats xattr, `convert --stats`): bytes_served, bytes_decoded,
 * chunk_decodes, cache_hits, cache_misses, cache_evictions, cache_bytes,
 * cache_peak_bytes, disk_tier_bytes_written, disk_tier_bytes_read,
 * tensor_loads, source_bytes, read_amplification (README.md defines them);
 * for view=maxtext: view, bytes_served, pieces (of the chunks, each
 * computed on its own: mtview_image.h), pieces_computed, bytes_computed,
 * cache_hits, cache_misses, cache_evictions, cache_bytes, cache_peak_bytes,
 * cache_budget, array_bytes.
 * *json is a new NUL-terminated string the caller frees; *len its length.
 * -ENOMEM.  Thread-safe; the counters are read one by one, not as one
 * snapshot.
 */
int ckfs_stats_json(struct ckfs *fs, char **json, size_t *len);

void ckfs_close(struct ckfs *fs);

#endif
