/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the lazily computed MaxText checkpoint (mtview_image): a
 * tiny Llama HF directory written here, its MaxText view's files read
 * through mtview_image_read() with chunks cut into pieces of every size
 * (one element, an odd number of bytes, whole chunks), from several threads
 * at once: the same bytes, each piece computed once, and arrays that read
 * back through the Orbax reader as mtview_fill() computes them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ck_test.h"
#include "fs/mtview.h"
#include "fs/mtview_image.h"
#include "kvstore/kv_sink.h"
#include "orbax/orbax.h"
#include "util/ck_buf.h"
#include "util/ck_err.h"

#define H 8		/* hidden size */
#define I 12		/* intermediate size */
#define V 16		/* vocabulary */
#define KVD 4		/* one kv head of 4 */

static const char config[] =
	"{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", "
	"\"hidden_size\": 8, \"intermediate_size\": 12, \"num_hidden_layers\": 2, "
	"\"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 4, "
	"\"vocab_size\": 16, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, "
	"\"max_position_embeddings\": 64, \"tie_word_embeddings\": false, "
	"\"torch_dtype\": \"bfloat16\", \"hidden_act\": \"silu\"}";

struct tt {
	char name[64];
	uint64_t d0, d1;	/* d1 0: rank 1 */
};

/* The tensors of the model, in *n. */
static struct tt *tensors(size_t *n)
{
	static const struct { const char *s; uint64_t d0, d1; } per[] = {
		{"self_attn.q_proj.weight", H, H}, {"self_attn.k_proj.weight", KVD, H},
		{"self_attn.v_proj.weight", KVD, H}, {"self_attn.o_proj.weight", H, H},
		{"mlp.gate_proj.weight", I, H}, {"mlp.up_proj.weight", I, H},
		{"mlp.down_proj.weight", H, I}, {"input_layernorm.weight", H, 0},
		{"post_attention_layernorm.weight", H, 0},
	};
	struct tt *t = calloc(32, sizeof(*t));
	size_t k = 0;

	snprintf(t[k].name, 64, "model.embed_tokens.weight");
	t[k].d0 = V, t[k++].d1 = H;
	snprintf(t[k].name, 64, "lm_head.weight");
	t[k].d0 = V, t[k++].d1 = H;
	snprintf(t[k].name, 64, "model.norm.weight");
	t[k++].d0 = H;
	for (int l = 0; l < 2; l++)
		for (size_t p = 0; p < sizeof(per) / sizeof(*per); p++) {
			snprintf(t[k].name, 64, "model.layers.%d.%s", l, per[p].s);
			t[k].d0 = per[p].d0;
			t[k++].d1 = per[p].d1;
		}
	*n = k;
	return t;
}

/* dir/config.json and dir/model.safetensors (bfloat16, varied values). */
static void write_model(const char *dir)
{
	struct ck_buf h = CK_BUF_INIT, file = CK_BUF_INIT;
	char path[512];
	size_t n, off = 0;
	struct tt *t = tensors(&n);
	uint8_t len[8];

	snprintf(path, sizeof(path), "%s/config.json", dir);
	ck_test_write_file(path, config, strlen(config));
	ck_buf_printf(&h, "{");
	for (size_t i = 0; i < n; i++) {
		uint64_t bytes = t[i].d0 * (t[i].d1 ? t[i].d1 : 1) * 2;

		if (t[i].d1)
			ck_buf_printf(&h, "%s\"%s\": {\"dtype\": \"BF16\", \"shape\": "
				      "[%llu, %llu], \"data_offsets\": [%zu, %llu]}",
				      i ? ", " : "", t[i].name,
				      (unsigned long long)t[i].d0,
				      (unsigned long long)t[i].d1, off,
				      (unsigned long long)(off + bytes));
		else
			ck_buf_printf(&h, "%s\"%s\": {\"dtype\": \"BF16\", \"shape\": "
				      "[%llu], \"data_offsets\": [%zu, %llu]}",
				      i ? ", " : "", t[i].name,
				      (unsigned long long)t[i].d0, off,
				      (unsigned long long)(off + bytes));
		off += bytes;
	}
	ck_buf_printf(&h, "}");
	while (h.len % 8)
		ck_buf_append(&h, " ", 1);
	for (int b = 0; b < 8; b++)
		len[b] = (uint8_t)((uint64_t)h.len >> (8 * b));
	ck_buf_append(&file, len, 8);
	ck_buf_append(&file, h.data, h.len);
	for (size_t k = 0; k < off / 2; k++) {
		/* bfloat16 values 0.5 .. 2 with varied mantissas */
		uint16_t v = (uint16_t)(0x3f00 + (k * 37 + k / 7) % 0x100);

		ck_buf_append(&file, &v, 2);
	}
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	ck_test_write_file(path, file.data, file.len);
	ck_buf_release(&h);
	ck_buf_release(&file);
	free(t);
}

static struct mtview *open_view(const char *dir, enum ck_dtype dt)
{
	struct mtview_opts o = { 0 };
	struct mtview *v = NULL;

	o.src = dir;
	o.mappings = getenv("CKPTFS_MAPPINGS");
	o.scan_layers = -1;
	o.dtype = dt;
	o.chunks = 4;
	ck_assert_msg(mtview_open(&o, &v) == 0, "%s", ck_err_msg());
	return v;
}

/* Every file of m, whole, read in pieces of `step` bytes, in one buffer
 * per file (caller frees each and the array). */
static uint8_t **read_all(struct mtview_image *m, size_t step)
{
	size_t nf = mtview_image_nfiles(m);
	uint8_t **files = calloc(nf, sizeof(*files));

	for (size_t i = 0; i < nf; i++) {
		uint64_t size = mtview_image_file_size(m, i), off = 0;
		size_t got;

		files[i] = malloc(size + 1);
		while (off < size) {
			ck_assert_msg(mtview_image_read(m, i, off, files[i] + off, step,
							&got) == 0, "%s", ck_err_msg());
			ck_assert_uint_gt(got, 0);
			off += got;
		}
	}
	return files;
}

/* Whether file i holds a timestamp (differs from image to image). */
static int stamped(const struct mtview_image *m, size_t i)
{
	const char *name = mtview_image_file_name(m, i);

	return strstr(name, "_CHECKPOINT_METADATA") || strstr(name, "manifest.ocdbt");
}

struct reader {
	struct mtview_image *m;
	uint8_t *const *want;
	int seed;
};

/* Read every file in odd pieces from an odd start, compare. */
static void *reader_main(void *p)
{
	struct reader *r = p;
	uint8_t buf[333];

	for (size_t i = 0; i < mtview_image_nfiles(r->m); i++) {
		uint64_t size = mtview_image_file_size(r->m, i);

		for (uint64_t off = (uint64_t)r->seed * 17 % (size ? size : 1);
		     off < size; off += sizeof(buf) - (size_t)r->seed) {
			size_t got = 0;

			if (mtview_image_read(r->m, i, off, buf, sizeof(buf), &got) ||
			    (!stamped(r->m, i) && memcmp(buf, r->want[i] + off, got)))
				return (void *)1;
		}
	}
	return NULL;
}

START_TEST(pieces_of_every_size_should_give_the_same_files)
{
	static const uint64_t pieces[] = {1, 7, 100, 0};
	char *tmp = ck_test_tmpdir();
	struct mtview *v;
	struct mtview_image *m = NULL;
	uint8_t **want = NULL;
	size_t nf = 0;

	write_model(tmp);
	v = open_view(tmp, _i ? CK_DT_F32 : CK_DT_INVALID);
	for (size_t p = 0; p < sizeof(pieces) / sizeof(*pieces); p++) {
		struct mtview_image_stats st;
		uint8_t **got;

		ck_assert_msg(mtview_image_new(v, 1 << 20, pieces[p], &m) == 0, "%s",
			      ck_err_msg());
		got = read_all(m, p == 0 ? 4096 : 5 + p);
		mtview_image_stats(m, &st);
		ck_assert_uint_eq(st.pieces_computed, st.pieces);
		if (pieces[p] == 1)	/* one element a piece */
			ck_assert_uint_eq(st.pieces, v->total_bytes /
					  ck_dtype_size(v->dtype));
		if (!want) {
			want = got;
			nf = mtview_image_nfiles(m);
		} else {
			ck_assert_uint_eq(mtview_image_nfiles(m), nf);
			for (size_t i = 0; i < nf; i++) {
				size_t n = mtview_image_file_size(m, i);

				ck_assert_msg(stamped(m, i) || !memcmp(got[i], want[i], n),
					      "%s, pieces of %llu",
					      mtview_image_file_name(m, i),
					      (unsigned long long)pieces[p]);
				free(got[i]);
			}
			free(got);
		}
		if (pieces[p] == 7) {	/* threads, a cache of 8 pieces */
			pthread_t th[4];
			struct reader r[4];

			mtview_image_free(m);
			ck_assert_int_eq(mtview_image_new(v, 1, 7, &m), 0);
			mtview_image_stats(m, &st);
			/* raised to 8 pieces of at most 7 bytes */
			ck_assert_uint_ge(st.cache_budget, 8 * 2);
			ck_assert_uint_le(st.cache_budget, 8 * 7);
			for (int t = 0; t < 4; t++) {
				r[t] = (struct reader){ m, want, t + 1 };
				pthread_create(&th[t], NULL, reader_main, &r[t]);
			}
			for (int t = 0; t < 4; t++) {
				void *res;

				pthread_join(th[t], &res);
				ck_assert_ptr_null(res);
			}
		}
		mtview_image_free(m);
	}
	for (size_t i = 0; i < nf; i++)
		free(want[i]);
	free(want);
	mtview_close(v);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

/* The files written out read back through the Orbax reader as
 * mtview_fill() computes each array whole. */
START_TEST(files_should_read_back_as_mtview_fill_computes)
{
	char *tmp = ck_test_tmpdir(), dir[512], path[1024];
	struct mtview *v;
	struct mtview_image *m = NULL;
	struct orbax_ckpt *c = NULL;
	uint64_t zero[ZARR_MAX_RANK] = { 0 };
	uint8_t **files;

	write_model(tmp);
	v = open_view(tmp, CK_DT_INVALID);
	ck_assert_int_eq(mtview_image_new(v, 1 << 20, 3, &m), 0);
	files = read_all(m, 1000);
	snprintf(dir, sizeof(dir), "%s/mnt", tmp);
	for (size_t i = 0; i < mtview_image_nfiles(m); i++) {
		char *slash;

		snprintf(path, sizeof(path), "%s/%s", dir, mtview_image_file_name(m, i));
		slash = strrchr(path, '/');
		*slash = '\0';
		ck_assert_int_eq(kv_sink_mkdirs(path), 0);
		*slash = '/';
		ck_test_write_file(path, files[i], mtview_image_file_size(m, i));
		free(files[i]);
	}
	free(files);
	snprintf(path, sizeof(path), "%s/0", dir);
	ck_assert_msg(orbax_open(path, NULL, &c) == 0, "%s", ck_err_msg());
	ck_assert_int_eq(c->scan_layers, 1);
	ck_assert_uint_eq(c->narrays, v->target->narrays + 1);	/* + step */
	for (size_t i = 0; i < v->target->narrays; i++) {
		const struct orbax_array *a = orbax_find(c, v->target->arrays[i].name);
		struct zarr_info info;
		uint8_t *want, *got;

		ck_assert_ptr_nonnull(a);
		ck_assert_int_eq(orbax_array_info(a, &info), 0);
		want = malloc(info.nbytes + 1);
		got = malloc(info.nbytes + 1);
		ck_assert_int_eq(mtview_fill(v, i, zero, info.shape, want), 0);
		ck_assert_msg(orbax_array_read(a, zero, info.shape, got) == 0, "%s",
			      ck_err_msg());
		ck_assert_msg(!memcmp(got, want, info.nbytes), "%s", a->name);
		free(want);
		free(got);
	}
	orbax_close(c);
	mtview_image_free(m);
	mtview_close(v);
	ck_test_rmtree(tmp);
	free(tmp);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mtview_image");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, pieces_of_every_size_should_give_the_same_files, 0, 2);
	tcase_add_test(tc, files_should_read_back_as_mtview_fill_computes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_test_run(suite());
}
