/* SPDX-License-Identifier: MIT */
/*
 * This file implements rd_engine_tier(): the read engine's disk tier, where
 * it lives, how large it may grow, and what goes into it.
 *
 * With cache_dir=DIR the tier is the user's: every tensor computed is also
 * written there (rd_engine.c), so nothing is ever computed twice.
 *
 * Without it, a default tier is opened in the user's cache directory
 * ($XDG_CACHE_HOME/ckptfs, else $HOME/.cache/ckptfs, else
 * /var/tmp/ckptfs-<uid>), with a budget of a quarter of that file system's
 * free space (at most 64 GiB; no tier under 256 MiB).  It takes only what
 * the RAM cache cannot keep: the spill and the batches of a group larger
 * than the cache, a tensor larger than the cache, and the tensors evicted
 * from the RAM cache (tcache_set_victim()) while their group has not been
 * read whole.  Reading in file order or in the loaders' order then writes
 * nothing to it, while random reads and models whose arrays exceed the
 * cache decode each chunk once.  Its
 * files are removed at unmount.  A default tier that cannot be opened (no
 * room, not writable, the same view mounted twice) is no tier at all: the
 * mount works as without one, and says why under -o debug.
 * cache_dir=none turns it off.
 */
#include "read/rd_engine_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_log.h"

#define DEFAULT_TIER_MIN ((uint64_t)256 << 20)
#define DEFAULT_TIER_MAX ((uint64_t)64 << 30)

/* Open the tier in dir with budget bytes (keep: adopt and leave files). */
static int tier_open_at(struct rd_engine *e, const char *dir, uint64_t budget, int keep,
			const char *tag)
{
	int err = dtier_open(dir, budget, keep, tag, (uint32_t)e->plan->ntensors, &e->dtier);

	if (!err && !(e->tier_dir = strdup(dir)))
		err = ck_err(-ENOMEM, "out of memory");
	return err;
}

/* Make directory path (mode 0700) unless it exists. */
static int make_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return ck_err(-errno, "%s: %s", path, strerror(errno));
}

/* The default tier's directory (a new string; made if missing), or NULL
 * with the reason in ck_err. */
static char *default_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	struct ck_buf b = CK_BUF_INIT;
	int err;

	if (xdg && xdg[0] == '/') {
		err = ck_buf_printf(&b, "%s/ckptfs", xdg);
	} else if (home && home[0] == '/' && strcmp(home, "/")) {
		err = ck_buf_printf(&b, "%s/.cache", home);
		if (!err)
			err = make_dir((const char *)b.data);
		if (!err)
			err = ck_buf_printf(&b, "/ckptfs");
	} else {
		err = ck_buf_printf(&b, "/var/tmp/ckptfs-%u", (unsigned)getuid());
	}
	if (!err)
		err = make_dir((const char *)b.data);
	if (err) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)ck_buf_detach(&b, NULL);
}

/* A quarter of the free space of dir's file system, at most
 * DEFAULT_TIER_MAX; 0 when below DEFAULT_TIER_MIN. */
static uint64_t default_budget(const char *dir)
{
	struct statvfs sv;
	uint64_t b;

	if (statvfs(dir, &sv) < 0)
		return 0;
	b = (uint64_t)sv.f_bavail * sv.f_frsize / 4;
	if (b > DEFAULT_TIER_MAX)
		b = DEFAULT_TIER_MAX;
	return b < DEFAULT_TIER_MIN ? 0 : b;
}

/* The RAM cache evicted tensor id: keep it in the default tier instead of
 * computing it again, unless readers have had every byte of every tensor
 * of its group (a reader going through the file, or the loaders' order, is
 * done with it; a tensor read in part may be wanted again). */
static void keep_victim(void *ctx, uint32_t id, const uint8_t *data, uint64_t size,
			int used)
{
	struct rd_engine *e = ctx;

	if (used && rd_group_read_whole(e, id))
		return;
	if (!dtier_has(e->dtier, id) && dtier_store(e->dtier, id, data, size))
		ck_err_clear();
}

int rd_engine_tier(struct rd_engine *e, const struct rd_tier_opts *o)
{
	uint64_t budget;
	char *dir;
	int err;

	if (o->none)
		return 0;
	if (o->dir) {
		e->tier_all = 1;
		err = tier_open_at(e, o->dir, o->size ? o->size : RD_DEFAULT_TIER_SIZE,
				   o->keep, o->tag);
		return err ? ck_err_ctx(err, "cache_dir=%s", o->dir) : 0;
	}
	dir = default_dir();
	budget = dir ? default_budget(dir) : 0;
	err = budget ? tier_open_at(e, dir, budget, 0, o->tag) :
		       dir ? ck_err(-ENOSPC, "%s: less than %llu MiB free", dir,
				    (unsigned long long)(4 * DEFAULT_TIER_MIN >> 20)) :
			     -EIO;
	if (err == -ENOMEM) {
		free(dir);
		return err;
	}
	if (err) {
		ck_log(CK_LOG_DEBUG, "no default disk tier: %s", ck_err_msg());
		ck_err_clear();
	} else {
		e->served = calloc(e->plan->ntensors + 1, sizeof(*e->served));
		e->group_done = calloc(e->groups->ngroups + 1, sizeof(*e->group_done));
		if (!e->served || !e->group_done) {
			free(dir);
			return ck_err(-ENOMEM, "out of memory");
		}
		ck_log(CK_LOG_DEBUG, "default disk tier in %s, at most %llu MiB", dir,
		       (unsigned long long)(budget >> 20));
		tcache_set_victim(e->cache, keep_victim, e);
	}
	free(dir);
	return 0;
}
