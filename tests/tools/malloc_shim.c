/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the allocation-failure tests: with
 * CKPT_FAIL_ALLOC_AT=N, the N-th allocation (malloc, calloc, realloc,
 * posix_memalign, aligned_alloc; counting from 1) of the process and every
 * later one made by the same thread fail with ENOMEM, as memory does once
 * it runs out.  With CKPT_COUNT_ALLOC=FILE, the number of allocations made
 * is written to FILE at exit.
 *
 *   cc -shared -fPIC -o malloc_shim.so malloc_shim.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic unsigned long count;
static unsigned long fail_at;
static _Thread_local int failing;
static int ready;

static void init(void)
{
	const char *at = getenv("CKPT_FAIL_ALLOC_AT");

	fail_at = at ? strtoul(at, NULL, 10) : 0;
	ready = 1;
}

/* 1 if this allocation is to fail. */
static int fail_now(void)
{
	unsigned long n;

	if (!ready)
		return 0;
	n = atomic_fetch_add(&count, 1) + 1;
	if (failing || (fail_at && n == fail_at)) {
		failing = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *malloc(size_t n)
{
	return fail_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	return fail_now() ? NULL : __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __libc_realloc(p, n);
}

int posix_memalign(void **p, size_t align, size_t n)
{
	if (fail_now())
		return ENOMEM;
	*p = __libc_memalign(align, n);
	return *p ? 0 : ENOMEM;
}

void *aligned_alloc(size_t align, size_t n)
{
	return fail_now() ? NULL : __libc_memalign(align, n);
}

__attribute__((constructor)) static void shim_start(void)
{
	init();
}

__attribute__((destructor)) static void shim_end(void)
{
	const char *out = getenv("CKPT_COUNT_ALLOC");
	FILE *f;

	ready = 0;
	if (out && (f = fopen(out, "w"))) {
		fprintf(f, "%lu\n", (unsigned long)atomic_load(&count));
		fclose(f);
	}
}
