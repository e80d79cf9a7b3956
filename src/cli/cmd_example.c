/* SPDX-License-Identifier: MIT */
/*
 * This file implements `ckptfs example DIR`: a tiny checkpoint of one of the
 * families ckptfs maps (Llama 3.1 by default), in MaxText's layout, written in
 * the real Orbax format (OCDBT + zarr3, zstd), plus the HF config.json of that
 * tiny model, to try ckptfs on and to test it with.  The models themselves
 * are described in example.h.
 *
 * Weight values are a fixed formula of (weight, layer, element), multiples of
 * 1/8 that bfloat16 holds exactly:
 *   g(w, l, k) = (((131*w + 1009*l + 7*k) mod 61) - 30) / 8
 * where w is the weight's position in the family's list (ex_family_weights(),
 * skipping the weights the family does not have), l the MaxText layer and k the
 * row-major index within one layer's (unstacked) array, so that tests can
 * recompute every served element independently (tests/tools/verify_example.py).
 * With --random they are weight-like noise instead (for benchmarks: it
 * compresses as real weights do).
 *
 * --tree saves the same weights in the tree Tunix writes (model_params/,
 * ".value" leaves, "base." for RL, nnx.List layers); --train adds what a
 * training step holds besides the weights.  Neither changes a value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/example.h"
#include "orbax/orbax_writer.h"
#include "util/ck_err.h"
#include "util/ck_file.h"

/* The parameter trees a step may hold the weights in (orbax_tree.h). */
enum ex_tree { EX_TREE_LINEN, EX_TREE_NNX_SFT, EX_TREE_NNX_RL, EX_TREE_NNX_LIST };

static const char *const ex_tree_names[] = {
	"linen", "nnx-sft", "nnx-rl", "nnx-list",
};

/* How the arrays are written. */
struct ex_opts {
	int f32;			/* float32, else bfloat16 */
	unsigned nchunks;		/* chunks along axis 0 */
	int random;			/* weight-like noise, not the formula */
	uint64_t file_bytes;		/* data file target (0: 2 GiB) */
	uint32_t processes;		/* 0: one database; N: multi-host */
	int tree;			/* enum ex_tree */
	int train;			/* also what a training step saves */
	int chunk_axis;			/* the axis cut in chunks; negative:
					   from the end (-2: the one before
					   the last) */
};

static float ex_value(unsigned w, uint64_t l, uint64_t k)
{
	return (float)((int)((131u * w + 1009u * (unsigned)l + 7u * k) % 61u) - 30) / 8.0f;
}

/* splitmix64's finalizer: a well-mixed hash of x. */
static uint64_t ex_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* --random: roughly normal with deviation 0.02, like trained weights (a sum
 * of four uniforms from a hash of (weight, layer, element)), so that zstd
 * compresses the data as much as it does real checkpoints. */
static float ex_random(unsigned w, uint64_t l, uint64_t k)
{
	uint64_t h = ex_mix(ex_mix(((uint64_t)w << 48) ^ (l << 32)) ^ k);
	double s = 0;

	for (int i = 0; i < 4; i++)
		s += (double)((h >> (16 * i)) & 0xffff) / 65536.0 - 0.5;
	return (float)(s * 0.02 / 0.5774);
}

/*
 * Write weight w's array `name`: MaxText layer l's slice, or, when nstack is
 * not 0, the slices of layers layer_of[] stacked on axis 1 (nstack[0]
 * entries) or on axes 1 and 2 ([nstack[0], nstack[1]], row-major in
 * layer_of[]).
 */
static int write_array(struct orbax_writer *ow, const struct ex_dims *d,
		       const struct ex_weight *w, unsigned value_id, const char *name,
		       const uint64_t *layer_of, const uint64_t *nstack, unsigned naxes,
		       uint64_t l, const struct ex_opts *o)
{
	struct zarr_write_spec s = { 0 };
	unsigned rank = (unsigned)strlen(w->shape);
	uint64_t total = 1;
	uint8_t *buf;
	int err;

	s.zarr_format = 3;
	s.dtype = o->f32 ? CK_DT_F32 : CK_DT_BF16;
	s.zstd_level = 3;
	s.rank = rank + naxes;
	for (unsigned i = 0, j = 0; i < s.rank; i++) {
		s.shape[i] = i >= 1 && i <= naxes ? nstack[i - 1] : ex_dim(d, w->shape[j++]);
		s.chunk[i] = s.shape[i];
		total *= s.shape[i];
	}
	/* o->nchunks chunks along axis 0 (or the one --chunk-axis names), as an
	 * o->nchunks-way FSDP save makes them (the largest divisor of the axis
	 * not above o->nchunks). */
	{
		unsigned ax = o->chunk_axis >= 0 ? (unsigned)o->chunk_axis :
			      (unsigned)-o->chunk_axis <= s.rank ? s.rank - (unsigned)-o->chunk_axis
								: 0;

		if (ax >= s.rank)
			ax = 0;
		for (unsigned c = o->nchunks; c > 1; c--) {
			if (s.shape[ax] % c == 0) {
				s.chunk[ax] = s.shape[ax] / c;
				break;
			}
		}
	}
	buf = malloc((size_t)total * 4);
	if (!buf)
		return ck_err(-ENOMEM, "out of memory");
	for (uint64_t p = 0; p < total; p++) {
		uint64_t idx[6], rem = p, k = 0, layer = l, st = 0;
		float v;

		for (int i = (int)s.rank - 1; i >= 0; i--) {
			idx[i] = rem % s.shape[i];
			rem /= s.shape[i];
		}
		for (unsigned i = 0; i < s.rank; i++) {
			if (i >= 1 && i <= naxes)
				st = st * s.shape[i] + idx[i];
			else
				k = k * s.shape[i] + idx[i];
		}
		if (naxes)
			layer = layer_of[st];
		v = o->random ? ex_random(value_id, layer, k) : ex_value(value_id, layer, k);
		if (o->f32) {
			memcpy(buf + 4 * p, &v, 4);
		} else {
			uint32_t u;
			uint16_t h;

			memcpy(&u, &v, 4);
			h = (uint16_t)(u >> 16);
			memcpy(buf + 2 * p, &h, 2);
		}
	}
	err = orbax_writer_add(ow, name, &s, buf);
	free(buf);
	return err;
}

/*
 * The PyTree path of weight w (its name with {L} replaced by container) in
 * the tree o->tree:
 *   linen     params.params.<name>
 *   nnx-sft   <name>.value
 *   nnx-rl    base.<name>.value
 *   nnx-list  as nnx-sft, the layer container an nnx.List: decoder.layers_3
 *             is saved as decoder.layers.3
 */
static void array_name(char *out, size_t size, const struct ex_weight *w,
		       const char *container, const struct ex_opts *o)
{
	static const char *const root[] = { "params.params.", "", "base.", "" };
	const char *hole = strstr(w->name, "{L}");
	const char *leaf = o->tree == EX_TREE_LINEN ? "" : ".value";
	char cont[128];

	snprintf(cont, sizeof(cont), "%s", container);
	if (o->tree == EX_TREE_NNX_LIST) {
		char *us = strrchr(cont, '_'), *dot = strrchr(cont, '.');

		if (us && (!dot || us > dot) && us[1] &&
		    strspn(us + 1, "0123456789") == strlen(us + 1))
			*us = '.';
	}
	if (hole)
		snprintf(out, size, "%s%.*s%s%s%s", root[o->tree], (int)(hole - w->name),
			 w->name, cont, hole + 3, leaf);
	else
		snprintf(out, size, "%s%s%s", root[o->tree], w->name, leaf);
}

/* Write every array of layer weight w: one per container, layers that share
 * a stacked container together. */
static int write_layer_weight(struct orbax_writer *ow, const struct ex_family *f,
			      const struct ex_dims *d, const struct ex_weight *w,
			      unsigned value_id, int scanned, const struct ex_opts *o)
{
	uint64_t n = ex_mt_layers(f, d);
	char *done = calloc(n, 1);
	uint64_t *layer_of = calloc(n, sizeof(*layer_of));
	int err = done && layer_of ? 0 : ck_err(-ENOMEM, "out of memory");
	char name[256];

	for (uint64_t l = 0; !err && l < n; l++) {
		struct ex_place p, q;
		uint64_t filled = 0;

		if (done[l] || !ex_in_layer(f, d, w, l))
			continue;
		ex_place_of(f, d, scanned, l, &p);
		array_name(name, sizeof(name), w, p.container, o);
		if (!p.stacked) {
			done[l] = 1;
			err = write_array(ow, d, w, value_id, name, NULL, NULL, 0, l, o);
			continue;
		}
		if (p.stacked == 1)
			p.len2 = 1;
		for (uint64_t m = l; m < n; m++) {
			uint64_t at;

			if (done[m] || !ex_in_layer(f, d, w, m))
				continue;
			ex_place_of(f, d, scanned, m, &q);
			if (q.stacked != p.stacked || strcmp(q.container, p.container))
				continue;
			at = q.index * p.len2 + (p.stacked == 2 ? q.index2 : 0);
			if (at >= n || q.index >= p.len || (p.stacked == 2 && q.index2 >= p.len2))
				continue;
			layer_of[at] = m;
			done[m] = 1;
			filled++;
		}
		if (filled != p.len * p.len2) {
			err = ck_err(-EINVAL, "example: %s: %llu of %llu layers", name,
				     (unsigned long long)filled,
				     (unsigned long long)(p.len * p.len2));
		} else {
			uint64_t nstack[2] = { p.len, p.len2 };

			err = write_array(ow, d, w, value_id, name, layer_of, nstack,
					  (unsigned)p.stacked, 0, o);
		}
	}
	free(done);
	free(layer_of);
	return err;
}

/* A small array of arbitrary values: training state, never served. */
static int write_state(struct orbax_writer *ow, const char *name,
		       enum ck_dtype dt, unsigned rank, uint64_t n)
{
	struct zarr_write_spec s = { 0 };
	uint8_t buf[4 * 64];

	if (n > 64)
		n = 64;
	s.zarr_format = 3;
	s.dtype = dt;
	s.zstd_level = 3;
	s.rank = rank;
	if (rank) {
		s.shape[0] = n;
		s.chunk[0] = n;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	return orbax_writer_add(ow, name, &s, buf);
}

/*
 * What a training step saves besides the weights.  Linen (MaxText's trainer):
 * the optimizer state (optax's opt_state), the step and, from a pure_nnx
 * run, nnx_aux (random-number state), all in the same item.  NNX (Tunix):
 * random-number state inside the model tree (rngs, *_rngs), and the
 * optimizer in an item of its own, optimizer_state/.
 */
static int write_train_state(struct orbax_writer *ow, const struct ex_opts *o)
{
	static const char *const linen[] = {
		"opt_state.0.count", "opt_state.0.mu.params.decoder.decoder_norm.scale",
		"opt_state.0.nu.params.decoder.decoder_norm.scale", "step",
		"nnx_aux.rngs.dropout.count", "nnx_aux.rngs.dropout.key",
	};
	static const char *const nnx[] = {
		"rngs.params.count.value", "rngs.params.key.value",
		"decoder.to_nnx__rngs.dropout.count.value",
		"token_embedder.embed_rngs.key.value",
	};
	static const char *const opt[] = {
		"opt_state.0.count.value", "opt_state.0.mu.decoder.decoder_norm.scale.value",
		"opt_state.0.nu.decoder.decoder_norm.scale.value", "step.value",
	};
	char name[256];
	int err = 0;

	if (o->tree == EX_TREE_LINEN) {
		for (size_t i = 0; !err && i < sizeof(linen) / sizeof(*linen); i++)
			err = write_state(ow, linen[i],
					  strstr(linen[i], "scale") ? CK_DT_F32 : CK_DT_U32,
					  strstr(linen[i], "count") || !strcmp(linen[i], "step")
						  ? 0 : 1, 8);
		return err;
	}
	for (size_t i = 0; !err && i < sizeof(nnx) / sizeof(*nnx); i++) {
		snprintf(name, sizeof(name), "%s%s", o->tree == EX_TREE_NNX_RL ? "base." : "",
			 nnx[i]);
		err = write_state(ow, name, CK_DT_U32, strstr(name, "count") ? 0 : 1, 2);
	}
	if (!err)
		err = orbax_writer_next_item(ow, "optimizer_state");
	for (size_t i = 0; !err && i < sizeof(opt) / sizeof(*opt); i++)
		err = write_state(ow, opt[i], strstr(opt[i], "scale") ? CK_DT_F32 : CK_DT_U32,
				  strstr(opt[i], "scale") ? 1 : 0, 8);
	return err;
}

static int write_example(const char *root, const struct ex_family *f,
			 const struct ex_dims *d, int scanned, const struct ex_opts *o)
{
	struct orbax_writer_opts wo = ORBAX_WRITER_OPTS_INIT;
	struct orbax_writer *ow = NULL;
	unsigned value_id = 0, nw;
	const struct ex_weight *ws = ex_family_weights(f, &nw);
	char name[256];
	int err;

	wo.scan_layers = scanned;
	wo.ocdbt.file_bytes = o->file_bytes;
	wo.item = o->tree == EX_TREE_LINEN ? "items" : "model_params";
	if (o->processes) {
		wo.layout = ORBAX_LAYOUT_OCDBT_MULTIHOST;
		wo.ocdbt.processes = o->processes;
	}
	err = orbax_writer_open(root, 1, &wo, &ow);
	for (unsigned i = 0; !err && i < nw; i++) {
		const struct ex_weight *w = &ws[i];

		if (!ex_family_has(f, w))
			continue;
		if (strstr(w->name, "{L}")) {
			err = write_layer_weight(ow, f, d, w, value_id, scanned, o);
		} else {
			array_name(name, sizeof(name), w, "", o);
			err = write_array(ow, d, w, value_id, name, NULL, NULL, 0, 0, o);
		}
		value_id++;
	}
	if (!err && o->train)
		err = write_train_state(ow, o);
	if (!err)
		err = orbax_writer_commit(ow);
	orbax_writer_free(ow);
	return err;
}

static int family_list_error(const char *name)
{
	char list[512] = "";

	for (unsigned i = 0; i < ex_nfamilies; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", ex_families[i]->name);
	return cli_usage_error("example: unknown family '%s' (%s)", name, list);
}

int cmd_example(int argc, char **argv)
{
	const struct ex_family *fam = ex_families[0];
	struct ex_dims d;
	const char *dir = NULL;
	long layers = 0, scale = 1, pad = -1, chunks = 2;
	struct ex_opts o = { 0, 2, 0, 0, 0, EX_TREE_LINEN, 0, 0 };
	long experts = 0;
	int scanned = 1, err;
	char *root = NULL, *cfg = NULL, *end;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unscanned")) {
			scanned = 0;
		} else if ((!strcmp(argv[i], "--scale") || !strcmp(argv[i], "--layers")) &&
			   i + 1 < argc) {
			long k = strtol(argv[i + 1], &end, 10);

			if (*end || k < 1 || k > 64)
				return cli_usage_error("example: %s takes 1..64", argv[i]);
			*(!strcmp(argv[i++], "--layers") ? &layers : &scale) = k;
		} else if (!strcmp(argv[i], "--pad-vocab") && i + 1 < argc) {
			pad = strtol(argv[++i], &end, 10);
			if (*end || pad < 0 || pad > 1024)
				return cli_usage_error("example: --pad-vocab takes 0..1024");
		} else if (!strcmp(argv[i], "--chunks") && i + 1 < argc) {
			chunks = strtol(argv[++i], &end, 10);
			if (*end || chunks < 1 || chunks > 1024)
				return cli_usage_error("example: --chunks takes 1..1024");
		} else if (!strcmp(argv[i], "--data-file-bytes") && i + 1 < argc) {
			unsigned long long k = strtoull(argv[++i], &end, 10);

			if (*end || argv[i][0] == '-' || !k)
				return cli_usage_error("example: --data-file-bytes takes "
						       "a byte count of at least 1");
			o.file_bytes = k;
		} else if (!strcmp(argv[i], "--processes") && i + 1 < argc) {
			long k = strtol(argv[++i], &end, 10);

			if (*end || k < 1 || k > 4096)
				return cli_usage_error("example: --processes takes 1..4096");
			o.processes = (uint32_t)k;
		} else if (!strcmp(argv[i], "--family") && i + 1 < argc) {
			fam = ex_family_find(argv[++i]);
			if (!fam)
				return family_list_error(argv[i]);
		} else if (!strcmp(argv[i], "--list")) {
			/* name and layouts, one family per line (for tests) */
			for (unsigned j = 0; j < ex_nfamilies; j++)
				printf("%s %s\n", ex_families[j]->name,
				       ex_families[j]->unscanned_only ? "unscanned" :
				       "scanned unscanned");
			return CLI_EXIT_OK;
		} else if (!strcmp(argv[i], "--tree") && i + 1 < argc) {
			unsigned t = 0;

			while (t < 4 && strcmp(argv[i + 1], ex_tree_names[t]))
				t++;
			if (t == 4)
				return cli_usage_error("example: --tree takes linen, "
						       "nnx-sft, nnx-rl or nnx-list");
			o.tree = (int)t;
			i++;
		} else if (!strcmp(argv[i], "--experts") && i + 1 < argc) {
			experts = strtol(argv[++i], &end, 10);
			if (*end || experts < 2 || experts > 1024)
				return cli_usage_error("example: --experts takes 2..1024");
		} else if (!strcmp(argv[i], "--chunk-axis") && i + 1 < argc) {
			long k = strtol(argv[++i], &end, 10);

			if (*end || k < -8 || k > 7)
				return cli_usage_error("example: --chunk-axis takes -8..7");
			o.chunk_axis = (int)k;
		} else if (!strcmp(argv[i], "--train")) {
			o.train = 1;
		} else if (!strcmp(argv[i], "--float32")) {
			o.f32 = 1;
		} else if (!strcmp(argv[i], "--random")) {
			o.random = 1;
		} else if (argv[i][0] == '-') {
			return cli_usage_error("example: unknown option '%s'", argv[i]);
		} else if (!dir) {
			dir = argv[i];
		} else {
			return cli_usage_error("example: unexpected argument '%s'", argv[i]);
		}
	}
	if (!dir)
		return cli_usage_error("example needs DIR");
	ex_dims_init(fam, &d);
	if (layers)
		d.L = (uint64_t)layers;
	d.D *= (uint64_t)scale;
	d.HD *= (uint64_t)scale;
	d.F *= (uint64_t)scale;
	d.V *= (uint64_t)scale;
	/* MaxText's vocab may be padded past the HF one (Gemma's always is). */
	d.VMT = d.V + (pad >= 0 ? (uint64_t)pad : fam->bit & EX_TIED ? 16 : 0);
	d.M *= (uint64_t)scale;
	if (experts)
		d.E = (uint64_t)experts;
	err = ex_dims_check(fam, &d);
	if (!err && scanned && o.tree == EX_TREE_NNX_LIST)
		err = ck_err(-EINVAL, "example: nnx-list is the unscanned NNX tree; "
			     "pass --unscanned");
	if (!err && scanned && fam->unscanned_only)
		err = ck_err(-EINVAL, "example: MaxText has no scanned layout for %s; "
			     "pass --unscanned", fam->name);
	if (err)
		return cli_fail(err);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return cli_fail(ck_err(-errno, "%s: %s", dir, strerror(errno)));
	root = ck_path_join(dir, "checkpoints");
	cfg = ck_path_join(dir, "config.json");
	o.nchunks = (unsigned)chunks;
	err = root && cfg ? write_example(root, fam, &d, scanned, &o) :
			    ck_err(-ENOMEM, "out of memory");
	if (!err)
		err = ex_write_config(cfg, fam, &d);
	if (!err)
		printf("wrote a tiny %s %s %s checkpoint (%s tree%s) to %s and its HF "
		       "config to %s\n", scanned ? "scanned" : "unscanned",
		       o.f32 ? "float32" : "bfloat16", fam->name, ex_tree_names[o.tree],
		       o.train ? ", training state" : "", root, cfg);
	free(root);
	free(cfg);
	return err ? cli_fail(err) : CLI_EXIT_OK;
}
