/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the allocation-failure tests: with
 * CKPT_FAIL_ALLOC_AT=N, the N-th allocation (malloc, calloc, realloc,
 * posix_memalign, aligned_alloc; counting from 1) of the process and every
 * later one made by the same thread fail with ENOMEM, as memory does once
 * it runs out.  With CKPT_COUNT_ALLOC=FILE, the number of allocations made
 * is written to FILE at exit.
 *
 * A test preloading the shim may also drive it in-process, finding these
 * with dlsym(RTLD_DEFAULT, name):
 *
 *   void ckpt_shim_fail_at(unsigned long n);
 *	Restart the count: the n-th allocation from now fails, and so does
 *	every later one of the thread that made it, until the next call
 *	(0: none fails).  Each call starts a new generation, which ends the
 *	failing state of every thread.
 *   unsigned long ckpt_shim_count(void);
 *	Allocations made since the last ckpt_shim_fail_at() (or the start).
 *   long ckpt_shim_live(void);
 *	Blocks allocated and not yet freed, counted from the start: equal
 *	before and after an operation when it frees what it allocates.
 *
 *   cc -shared -fPIC -o malloc_shim.so malloc_shim.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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
extern void __libc_free(void *);

void ckpt_shim_fail_at(unsigned long n);
unsigned long ckpt_shim_count(void);
long ckpt_shim_live(void);

static _Atomic unsigned long count;
static _Atomic unsigned long fail_at;
static _Atomic unsigned long generation = 1;
static _Atomic long live;
/* The generation in which this thread started failing (0: never). */
static _Thread_local unsigned long failing
	__attribute__((tls_model("initial-exec")));
static int ready;

static void init(void)
{
	const char *at = getenv("CKPT_FAIL_ALLOC_AT");

	atomic_store(&fail_at, at ? strtoul(at, NULL, 10) : 0);
	ready = 1;
}

/* 1 if this allocation is to fail. */
static int fail_now(void)
{
	unsigned long n, gen;

	if (!ready)
		return 0;
	gen = atomic_load(&generation);
	n = atomic_fetch_add(&count, 1) + 1;
	if (failing == gen || (n == atomic_load(&fail_at) && n)) {
		failing = gen;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

/* Count p as allocated when it is. */
static void *got(void *p)
{
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

void ckpt_shim_fail_at(unsigned long n)
{
	atomic_store(&fail_at, 0);
	atomic_fetch_add(&generation, 1);
	atomic_store(&count, 0);
	atomic_store(&fail_at, n);
}

unsigned long ckpt_shim_count(void)
{
	return atomic_load(&count);
}

long ckpt_shim_live(void)
{
	return atomic_load(&live);
}

void *malloc(size_t n)
{
	return fail_now() ? NULL : got(__libc_malloc(n));
}

void *calloc(size_t a, size_t b)
{
	return fail_now() ? NULL : got(__libc_calloc(a, b));
}

void *realloc(void *p, size_t n)
{
	void *q;

	if (fail_now())
		return NULL;
	q = __libc_realloc(p, n);
	if (!p && q)
		atomic_fetch_add(&live, 1);
	else if (p && !n)	/* freed */
		atomic_fetch_sub(&live, 1);
	return q;
}

int posix_memalign(void **p, size_t align, size_t n)
{
	if (fail_now())
		return ENOMEM;
	*p = got(__libc_memalign(align, n));
	return *p ? 0 : ENOMEM;
}

void *aligned_alloc(size_t align, size_t n)
{
	return fail_now() ? NULL : got(__libc_memalign(align, n));
}

void free(void *p)
{
	if (p)
		atomic_fetch_sub(&live, 1);
	__libc_free(p);
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
