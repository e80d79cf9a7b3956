/* SPDX-License-Identifier: MIT */
/* This file implements the OCDBT manifest decoder of ocdbt_manifest.h. */
#include "kvstore/ocdbt_manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore/ocdbt_envelope.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"
#include "util/ck_rd.h"

void ocdbt_manifest_release(struct ocdbt_manifest *m)
{
	ocdbt_filetable_release(&m->files);
	free(m->versions);
	free(m->nodes);
	memset(m, 0, sizeof(*m));
}

static int config_decode(struct ck_rd *r, struct ocdbt_config *c)
{
	const uint8_t *uuid;
	uint64_t v;
	uint32_t level;
	int err;

	err = ck_rd_bytes(r, 16, &uuid, "uuid");
	if (err)
		return err;
	memcpy(c->uuid, uuid, 16);
	err = ck_rd_u8(r, &c->manifest_kind, "manifest kind");
	if (err)
		return err;
	if (c->manifest_kind > OCDBT_MANIFEST_NUMBERED)
		return ck_err(-ENOTSUP, "unsupported manifest kind %u",
			      c->manifest_kind);
	err = ck_rd_varint(r, UINT32_MAX, &v, "max_inline_value_bytes");
	if (err)
		return err;
	c->max_inline_value_bytes = (uint32_t)v;
	err = ck_rd_varint(r, UINT32_MAX, &v, "max_decoded_node_bytes");
	if (err)
		return err;
	c->max_decoded_node_bytes = (uint32_t)v;
	err = ck_rd_u8(r, &c->version_tree_arity_log2,
		       "version_tree_arity_log2");
	if (err)
		return err;
	if (c->version_tree_arity_log2 < 1 || c->version_tree_arity_log2 > 16)
		return ck_err(-EIO, "version_tree_arity_log2 %u not in 1..16",
			      c->version_tree_arity_log2);
	err = ck_rd_varint(r, UINT32_MAX, &v, "compression method");
	if (err)
		return err;
	if (v > 1)
		return ck_err(-ENOTSUP, "unsupported compression method %llu",
			      (unsigned long long)v);
	c->compression = (uint32_t)v;
	c->zstd_level = 0;
	if (v == 1) {
		err = ck_rd_u32le(r, &level, "zstd level");
		if (err)
			return err;
		c->zstd_level = (int32_t)level;
	}
	return 0;
}

static int body_decode(struct ck_rd *r, struct ocdbt_manifest *m)
{
	int err = config_decode(r, &m->config);

	if (err)
		return err;
	if (m->config.manifest_kind == OCDBT_MANIFEST_NUMBERED &&
	    !ck_rd_left(r)) {
		m->config_only = 1;
		return 0;
	}
	err = ocdbt_filetable_decode(r, &m->files);
	if (!err)
		err = ocdbt_version_leaves_decode(r, m->files.n, &m->versions,
						  &m->nversions);
	if (!err)
		err = ocdbt_version_refs_decode(r, m->files.n, 1, 0, &m->nodes,
						&m->nnodes);
	if (err)
		return err;
	if (m->nnodes && m->nversions &&
	    m->nodes[m->nnodes - 1].generation >= m->versions[0].generation)
		return ck_err(
			-EIO,
			"version node generation %llu is not below the "
			"first inline generation %llu",
			(unsigned long long)m->nodes[m->nnodes - 1].generation,
			(unsigned long long)m->versions[0].generation);
	if (ck_rd_left(r))
		return ck_err(-EIO, "%zu trailing bytes after the manifest",
			      ck_rd_left(r));
	return 0;
}

int ocdbt_manifest_decode(const uint8_t *p, size_t n,
			  struct ocdbt_manifest *out)
{
	struct ocdbt_manifest m;
	struct ck_buf body = CK_BUF_INIT;
	struct ck_rd r;
	int err;

	memset(&m, 0, sizeof(m));
	err = ocdbt_envelope_decode(p, n, OCDBT_MAGIC_MANIFEST,
				    OCDBT_MANIFEST_MAX_BODY, &body);
	if (err)
		goto out;
	ck_rd_init(&r, body.data, body.len);
	err = body_decode(&r, &m);
	if (err)
		goto out;
	*out = m;
	memset(&m, 0, sizeof(m));
out:
	ocdbt_manifest_release(&m);
	ck_buf_release(&body);
	return err;
}
