/* SPDX-License-Identifier: MIT */
/* This file implements the element type tables and the bfloat16/float16
 * conversions of zarr_dtype.h. */
#include "zarr/zarr_dtype.h"

#include <string.h>

/*
 * One row per type.  v2 holds the numpy typestr without its byte-order
 * character; numpy is the little-endian descr written into .npy headers.
 */
struct zarr_dtype_row {
	const char *v3;		/* zarr v3 data_type name */
	const char *v2;		/* numpy kind+size ("i4"); NULL: none */
	const char *numpy;	/* numpy descr; NULL: numpy cannot name it */
	const char *st;		/* safetensors name; NULL: none */
	size_t size;		/* bytes per element */
	int is_float;		/* 1 for F16, BF16, F32, F64 */
};

static const struct zarr_dtype_row rows[CK_DT_COUNT] = {
	[CK_DT_BOOL] = { "bool", "b1", "|b1", "BOOL", 1, 0 },
	[CK_DT_I8] = { "int8", "i1", "|i1", "I8", 1, 0 },
	[CK_DT_U8] = { "uint8", "u1", "|u1", "U8", 1, 0 },
	[CK_DT_I16] = { "int16", "i2", "<i2", "I16", 2, 0 },
	[CK_DT_U16] = { "uint16", "u2", "<u2", "U16", 2, 0 },
	[CK_DT_I32] = { "int32", "i4", "<i4", "I32", 4, 0 },
	[CK_DT_U32] = { "uint32", "u4", "<u4", "U32", 4, 0 },
	[CK_DT_I64] = { "int64", "i8", "<i8", "I64", 8, 0 },
	[CK_DT_U64] = { "uint64", "u8", "<u8", "U64", 8, 0 },
	[CK_DT_F16] = { "float16", "f2", "<f2", "F16", 2, 1 },
	[CK_DT_BF16] = { "bfloat16", NULL, NULL, "BF16", 2, 1 },
	[CK_DT_F32] = { "float32", "f4", "<f4", "F32", 4, 1 },
	[CK_DT_F64] = { "float64", "f8", "<f8", "F64", 8, 1 },
	[CK_DT_C64] = { "complex64", "c8", "<c8", "C64", 8, 0 },
	[CK_DT_C128] = { "complex128", "c16", "<c16", NULL, 16, 0 },
};

static int valid(enum ck_dtype t)
{
	return t > CK_DT_INVALID && t < CK_DT_COUNT;
}

size_t ck_dtype_size(enum ck_dtype t)
{
	return valid(t) ? rows[t].size : 0;
}

const char *ck_dtype_name(enum ck_dtype t)
{
	return valid(t) ? rows[t].v3 : "invalid";
}

enum ck_dtype ck_dtype_from_v3(const char *name)
{
	int t;

	if (!name)
		return CK_DT_INVALID;
	for (t = CK_DT_INVALID + 1; t < CK_DT_COUNT; t++)
		if (strcmp(rows[t].v3, name) == 0)
			return (enum ck_dtype)t;
	return CK_DT_INVALID;
}

enum ck_dtype ck_dtype_from_v2(const char *typestr, int *big_endian)
{
	int t, big = 0;

	if (!typestr)
		return CK_DT_INVALID;
	/* TensorStore's extension names carry no byte order (little-endian). */
	if (strcmp(typestr, "bfloat16") == 0) {
		*big_endian = 0;
		return CK_DT_BF16;
	}
	switch (typestr[0]) {
	case '<':
	case '=':
	case '|':
		break;
	case '>':
		big = 1;
		break;
	default:
		return CK_DT_INVALID;
	}
	for (t = CK_DT_INVALID + 1; t < CK_DT_COUNT; t++) {
		if (!rows[t].v2 || strcmp(rows[t].v2, typestr + 1) != 0)
			continue;
		/* '|' (not applicable) only makes sense for 1-byte types. */
		if (typestr[0] == '|' && rows[t].size != 1)
			return CK_DT_INVALID;
		*big_endian = rows[t].size > 1 ? big : 0;
		return (enum ck_dtype)t;
	}
	return CK_DT_INVALID;
}

const char *ck_dtype_numpy(enum ck_dtype t)
{
	return valid(t) ? rows[t].numpy : NULL;
}

const char *ck_dtype_safetensors(enum ck_dtype t)
{
	return valid(t) ? rows[t].st : NULL;
}

int ck_dtype_is_float(enum ck_dtype t)
{
	return valid(t) ? rows[t].is_float : 0;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

float ck_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
	float f;

	if (e == 0x1f) {
		u = sign | 0x7f800000u | (m << 13);
	} else if (e == 0) {
		if (m == 0) {
			u = sign;
		} else {
			/* Subnormal: m * 2^-24; normalise the mantissa. */
			e = 113;
			while (!(m & 0x400u)) {
				m <<= 1;
				e--;
			}
			u = sign | (e << 23) | ((m & 0x3ffu) << 13);
		}
	} else {
		u = sign | ((e + 112) << 23) | (m << 13);
	}
	memcpy(&f, &u, sizeof(f));
	return f;
}

uint16_t ck_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint32_t sign = (u >> 16) & 0x8000u, e, h, rem;

	u &= 0x7fffffffu;
	if (u > 0x7f800000u)	/* NaN: quiet, keep the top payload bits */
		return (uint16_t)(sign | 0x7e00u | ((u >> 13) & 0x3ffu));
	e = u >> 23;
	if (e < 113) {
		/* Half subnormal (or zero): value = m * 2^-24. */
		uint32_t mant = (u & 0x7fffffu) | 0x800000u, shift, half;

		if (e < 102)
			return (uint16_t)sign;
		shift = 126 - e;
		h = mant >> shift;
		rem = mant & ((1u << shift) - 1);
		half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1u)))
			h++;
		return (uint16_t)(sign | h);
	}
	h = ((e - 112) << 10) | ((u >> 13) & 0x3ffu);
	rem = u & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
		h++;
	if (h >= 0x7c00u)
		h = 0x7c00u;
	return (uint16_t)(sign | h);
}
