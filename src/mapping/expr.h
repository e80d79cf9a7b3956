/* SPDX-License-Identifier: MIT */
/*
 * expr.h - arithmetic expressions over named values, as mapping files write
 * shapes and hook arguments: "Hq*hd", "sqrt(head_dim)", "V", "2*F".
 *
 * Grammar: numbers (decimal, with optional fraction/exponent), identifiers
 * ([A-Za-z_][A-Za-z0-9_.]*), + - * / % with the usual precedence, unary
 * minus and !, comparisons (< <= > >= == != give 1 or 0), && and || (lowest
 * precedence), parentheses, and the functions sqrt(x), min(a,b), max(a,b),
 * ceil(x), floor(x), bf16(x) (rounded to bfloat16).  Evaluation is in double.  Identifiers are resolved
 * through a caller callback.
 */
#ifndef EXPR_H
#define EXPR_H

#include <stddef.h>
#include <stdint.h>

/* Resolve identifier name[0..len) to *v: 0, or -ENOENT when unknown. */
typedef int (*expr_lookup_fn)(void *ctx, const char *name, size_t len, double *v);

/*
 * Evaluate text.  -EINVAL with a message quoting the expression for syntax
 * errors, division by zero or non-finite results; -ENOENT (message naming
 * the identifier) when lookup fails.
 */
int expr_eval(const char *text, expr_lookup_fn lookup, void *ctx, double *v);

/* Evaluate and require a non-negative integer below 2^53. */
int expr_eval_u64(const char *text, expr_lookup_fn lookup, void *ctx, uint64_t *v);

#endif
