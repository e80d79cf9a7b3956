/* SPDX-License-Identifier: MIT */
/* This file implements a recursive-descent evaluator for the arithmetic
 * expressions of mapping files. */
#include "mapping/expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/ck_err.h"

#define EXPR_MAX_DEPTH 64

struct parser {
	const char *s;		/* whole expression (for messages) */
	const char *p;		/* next character */
	expr_lookup_fn lookup;
	void *ctx;
	unsigned depth;
};

static int parse_sum(struct parser *ps, double *v);
static int parse_logic(struct parser *ps, double *v);

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

static int syntax(struct parser *ps, const char *what)
{
	return ck_err(-EINVAL, "expression \"%s\": %s at column %d", ps->s, what,
		      (int)(ps->p - ps->s) + 1);
}

/* x rounded to float32, then to bfloat16 (nearest, ties to even), as a
 * normalizer computed in bfloat16 is (Gemma3's embedding scale). */
static double round_bf16(double x)
{
	float f = (float)x;
	uint32_t u;

	memcpy(&u, &f, 4);
	u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
	memcpy(&f, &u, 4);
	return f;
}

static int parse_call(struct parser *ps, const char *name, size_t len, double *v)
{
	double a = 0, b = 0;
	int err, two = (len == 3 && (!strncmp(name, "min", 3) || !strncmp(name, "max", 3)));

	ps->p++;	/* '(' */
	err = parse_sum(ps, &a);
	if (err)
		return err;
	skip_ws(ps);
	if (two) {
		if (*ps->p != ',')
			return syntax(ps, "expected ','");
		ps->p++;
		err = parse_sum(ps, &b);
		if (err)
			return err;
		skip_ws(ps);
	}
	if (*ps->p != ')')
		return syntax(ps, "expected ')'");
	ps->p++;
	if (len == 4 && !strncmp(name, "sqrt", 4)) {
		if (a < 0)
			return syntax(ps, "sqrt of a negative number");
		*v = sqrt(a);
	} else if (len == 4 && !strncmp(name, "ceil", 4)) {
		*v = ceil(a);
	} else if (len == 5 && !strncmp(name, "floor", 5)) {
		*v = floor(a);
	} else if (len == 4 && !strncmp(name, "bf16", 4)) {
		*v = round_bf16(a);
	} else if (two) {
		*v = name[1] == 'i' ? fmin(a, b) : fmax(a, b);
	} else {
		return ck_err(-EINVAL, "expression \"%s\": unknown function '%.*s'",
			      ps->s, (int)len, name);
	}
	return 0;
}

static int parse_atom(struct parser *ps, double *v)
{
	int err;

	skip_ws(ps);
	if (++ps->depth > EXPR_MAX_DEPTH)
		return syntax(ps, "nested too deeply");
	if (*ps->p == '(') {
		ps->p++;
		err = parse_logic(ps, v);
		skip_ws(ps);
		if (!err && *ps->p != ')')
			err = syntax(ps, "expected ')'");
		if (!err)
			ps->p++;
	} else if (*ps->p == '-') {
		ps->p++;
		err = parse_atom(ps, v);
		*v = -*v;
	} else if (*ps->p == '!' && ps->p[1] != '=') {
		ps->p++;
		err = parse_atom(ps, v);
		*v = *v == 0;
	} else if (isdigit((unsigned char)*ps->p) || *ps->p == '.') {
		char *end;

		*v = strtod(ps->p, &end);
		err = end == ps->p ? syntax(ps, "bad number") : 0;
		ps->p = end;
	} else if (isalpha((unsigned char)*ps->p) || *ps->p == '_') {
		const char *name = ps->p;
		size_t len;

		while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
			ps->p++;
		len = (size_t)(ps->p - name);
		skip_ws(ps);
		if (*ps->p == '(') {
			err = parse_call(ps, name, len, v);
		} else {
			err = ps->lookup ? ps->lookup(ps->ctx, name, len, v) : -ENOENT;
			if (err == -ENOENT)
				err = ck_err(-ENOENT, "expression \"%s\": unknown value '%.*s'",
					     ps->s, (int)len, name);
		}
	} else {
		err = syntax(ps, *ps->p ? "unexpected character" : "unexpected end");
	}
	ps->depth--;
	return err;
}

static int parse_product(struct parser *ps, double *v)
{
	int err = parse_atom(ps, v);

	while (!err) {
		double r;
		char op;

		skip_ws(ps);
		op = *ps->p;
		if (op != '*' && op != '/' && op != '%')
			break;
		ps->p++;
		err = parse_atom(ps, &r);
		if (err)
			break;
		if (op != '*' && r == 0)
			return syntax(ps, "division by zero");
		*v = op == '*' ? *v * r : op == '/' ? *v / r : fmod(*v, r);
	}
	return err;
}

static int parse_sum(struct parser *ps, double *v)
{
	int err = parse_product(ps, v);

	while (!err) {
		double r;
		char op;

		skip_ws(ps);
		op = *ps->p;
		if (op != '+' && op != '-')
			break;
		ps->p++;
		err = parse_product(ps, &r);
		if (!err)
			*v = op == '+' ? *v + r : *v - r;
	}
	return err;
}

/* Comparisons: a < b, a <= b, a > b, a >= b, a == b, a != b give 1 or 0. */
static int parse_cmp(struct parser *ps, double *v)
{
	int err = parse_sum(ps, v);
	double r;
	char op[3] = "";

	if (err)
		return err;
	skip_ws(ps);
	if ((ps->p[0] == '<' || ps->p[0] == '>' || ps->p[0] == '=' || ps->p[0] == '!') &&
	    ps->p[1] == '=') {
		op[0] = ps->p[0];
		op[1] = '=';
		ps->p += 2;
	} else if (ps->p[0] == '<' || ps->p[0] == '>') {
		op[0] = *ps->p++;
	} else {
		return 0;
	}
	err = parse_sum(ps, &r);
	if (err)
		return err;
	if (!strcmp(op, "<"))
		*v = *v < r;
	else if (!strcmp(op, "<="))
		*v = *v <= r;
	else if (!strcmp(op, ">"))
		*v = *v > r;
	else if (!strcmp(op, ">="))
		*v = *v >= r;
	else if (!strcmp(op, "=="))
		*v = *v == r;
	else
		*v = *v != r;
	return 0;
}

/* a && b, a || b (no short circuit: both sides must evaluate). */
static int parse_logic(struct parser *ps, double *v)
{
	int err = parse_cmp(ps, v);

	while (!err) {
		double r;
		int and;

		skip_ws(ps);
		if (ps->p[0] == '&' && ps->p[1] == '&')
			and = 1;
		else if (ps->p[0] == '|' && ps->p[1] == '|')
			and = 0;
		else
			break;
		ps->p += 2;
		err = parse_cmp(ps, &r);
		if (!err)
			*v = and ? (*v != 0 && r != 0) : (*v != 0 || r != 0);
	}
	return err;
}

int expr_eval(const char *text, expr_lookup_fn lookup, void *ctx, double *v)
{
	struct parser ps = { text, text, lookup, ctx, 0 };
	double r = 0;
	int err = parse_logic(&ps, &r);

	if (err)
		return err;
	skip_ws(&ps);
	if (*ps.p)
		return syntax(&ps, "unexpected character");
	if (!isfinite(r))
		return ck_err(-EINVAL, "expression \"%s\" is not finite", text);
	*v = r;
	return 0;
}

int expr_eval_u64(const char *text, expr_lookup_fn lookup, void *ctx, uint64_t *v)
{
	double d;
	int err = expr_eval(text, lookup, ctx, &d);

	if (err)
		return err;
	if (d < 0 || d != floor(d) || d >= 9007199254740992.0)
		return ck_err(-EINVAL, "expression \"%s\" = %g is not a size", text, d);
	*v = (uint64_t)d;
	return 0;
}
