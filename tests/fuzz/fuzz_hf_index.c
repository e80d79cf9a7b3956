/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a Hugging Face model directory's
 * model.safetensors.index.json (hf_dir_open()), the input being the index;
 * the directory around it holds a config.json and two small shards that a
 * well-formed index names.  An accepted directory must keep the promises of
 * hf_dir.h, checked here, or the target traps. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout/hf_dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const void *p, size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

/* A shard holding one F32 tensor of 2 elements. */
static void shard(const char *file, const char *tensor)
{
	char hdr[128], buf[256];
	uint64_t n;

	n = (uint64_t)snprintf(hdr, sizeof(hdr), "{\"%s\":{\"dtype\":\"F32\","
			       "\"shape\":[2],\"data_offsets\":[0,8]}}", tensor);
	memcpy(buf, &n, 8);
	memcpy(buf + 8, hdr, (size_t)n);
	memset(buf + 8 + n, 0, 8);
	put(file, buf, (size_t)n + 16);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fuzz_hf_index.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	put("config.json", "{\"model_type\":\"llama\"}", 22);
	shard("model-00001-of-00002.safetensors", "a.weight");
	shard("model-00002-of-00002.safetensors", "b.weight");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hf_dir *d = NULL;

	if (!dir[0])
		setup();
	put("model.safetensors.index.json", data, size);
	if (hf_dir_open(dir, &d) == 0) {
		for (size_t i = 0; i < d->ntensors; i++) {
			const struct hf_tensor *t = &d->tensors[i];

			if (t->file >= d->nfiles || t->offset + t->nbytes > d->files[t->file].size)
				__builtin_trap();
			if (i && strcmp(d->tensors[i - 1].name, t->name) >= 0)
				__builtin_trap();
			if (hf_dir_find(d, t->name) != t)
				__builtin_trap();
		}
		hf_dir_close(d);
	}
	return 0;
}
