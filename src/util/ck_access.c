/* SPDX-License-Identifier: MIT */
/*
 * This file implements ck_access: the owner, group and read bits of
 * something made of several files (ck_access.h says the rule).
 */
#include "util/ck_access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/ck_err.h"

#define MAX_GROUPS 256

int ck_access_add(struct ck_access *a, const struct stat *st, unsigned want)
{
	struct ck_access_obj o = { st->st_uid, st->st_gid, st->st_mode & 0777, want };

	for (size_t i = 0; i < a->n; i++)
		if (!memcmp(&a->v[i], &o, sizeof(o)))
			return 0;
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 8;
		struct ck_access_obj *nv = realloc(a->v, nc * sizeof(*nv));

		if (!nv)
			return ck_err(-ENOMEM, "out of memory");
		a->v = nv;
		a->cap = nc;
	}
	memset(&a->v[a->n], 0, sizeof(a->v[a->n]));
	a->v[a->n].uid = o.uid;
	a->v[a->n].gid = o.gid;
	a->v[a->n].mode = o.mode;
	a->v[a->n].want = o.want;
	a->n++;
	return 0;
}

int ck_access_add_ancestors(struct ck_access *a, const char *path)
{
	size_t len = strlen(path);
	char *p = malloc(len + 2);
	int err = 0;

	if (!p)
		return ck_err(-ENOMEM, "out of memory");
	memcpy(p, path, len + 1);
	/* Drop trailing slashes, then the last component, one at a time. */
	while (!err) {
		struct stat st;
		char *slash;

		while (len > 1 && p[len - 1] == '/')
			p[--len] = 0;
		slash = strrchr(p, '/');
		if (!slash)
			break;
		if (slash == p)
			slash[1] = 0;
		else
			*slash = 0;
		len = strlen(p);
		if (stat(p, &st))
			err = ck_err(-errno, "%s: %s", p, strerror(errno));
		else
			err = ck_access_add(a, &st, CK_ACCESS_SEARCH);
		if (len == 1)
			break;
	}
	free(p);
	return err;
}

int ck_access_merge(struct ck_access *a, const struct ck_access *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct stat st;
		int err;

		memset(&st, 0, sizeof(st));
		st.st_uid = b->v[i].uid;
		st.st_gid = b->v[i].gid;
		st.st_mode = b->v[i].mode;
		err = ck_access_add(a, &st, b->v[i].want);
		if (err)
			return err;
	}
	return 0;
}

/* The groups user uid is in (primary first); 0 groups if unknown. */
static int groups_of(uid_t uid, gid_t *groups, int max)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = max;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res)
		return 0;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return 1;	/* too many: keep the primary one only */
	return n;
}

static int in_groups(gid_t g, const gid_t *groups, int n)
{
	for (int i = 0; i < n; i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

void ck_access_result(const struct ck_access *a, uid_t *uid, gid_t *gid,
		      mode_t *read_bits)
{
	gid_t groups[MAX_GROUPS];
	int ngroups, files = 0, user = 1, group = 1, other = 1;
	uid_t u = 0;
	gid_t g = 0;

	/* The owner and group the restricted files (not world-readable) share,
	 * else those all files share: whoever else could read them all. */
	for (int pass = 0; pass < 2 && !files; pass++) {
		for (size_t i = 0; i < a->n; i++) {
			const struct ck_access_obj *o = &a->v[i];

			if (o->want != CK_ACCESS_READ || (!pass && (o->mode & 04)))
				continue;
			if (!files++) {
				u = o->uid;
				g = o->gid;
			}
			if (o->uid != u)
				u = (uid_t)-1;
			if (o->gid != g)
				g = (gid_t)-1;
		}
	}
	if (u == (uid_t)-1)
		u = 0;
	if (g == (gid_t)-1)
		g = 0;
	ngroups = groups_of(u, groups, MAX_GROUPS);
	for (size_t i = 0; i < a->n; i++) {
		const struct ck_access_obj *o = &a->v[i];
		mode_t w = o->want, own = o->mode & (w << 6), grp = o->mode & (w << 3),
		       oth = o->mode & w;

		if (o->uid == u)
			user &= !!own;
		else if (in_groups(o->gid, groups, ngroups))
			user &= !!grp;
		else
			user &= !!oth;
		/* Anyone but the owner u might own o, or be in o's group. */
		if (o->uid != u) {
			group &= !!own;
			other &= !!own;
		}
		if (o->gid == g) {
			group &= !!grp;
		} else {
			group &= grp && oth;
			other &= !!grp;
		}
		other &= !!oth;
	}
	*uid = u;
	*gid = g;
	*read_bits = (mode_t)((user ? 0400 : 0) | (group ? 0040 : 0) | (other ? 0004 : 0));
}

void ck_access_release(struct ck_access *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}
