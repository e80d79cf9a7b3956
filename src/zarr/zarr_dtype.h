/* SPDX-License-Identifier: MIT */
/*
 * zarr_dtype.h - element types: zarr v3 names, zarr v2 typestrs, numpy
 * descriptors, safetensors names, and bfloat16/float16 conversions.
 *
 * In memory, ckptfs always holds elements little-endian (the host order;
 * ckptfs builds only on little-endian hosts).
 */
#ifndef ZARR_DTYPE_H
#define ZARR_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum ck_dtype {
	CK_DT_INVALID = 0,
	CK_DT_BOOL,
	CK_DT_I8,
	CK_DT_U8,
	CK_DT_I16,
	CK_DT_U16,
	CK_DT_I32,
	CK_DT_U32,
	CK_DT_I64,
	CK_DT_U64,
	CK_DT_F16,
	CK_DT_BF16,
	CK_DT_F32,
	CK_DT_F64,
	CK_DT_C64,
	CK_DT_C128,
	CK_DT_COUNT
};

/* Size of one element in bytes (0 for CK_DT_INVALID). */
size_t ck_dtype_size(enum ck_dtype t);

/* zarr v3 data_type name ("bfloat16", "int32", ...). */
const char *ck_dtype_name(enum ck_dtype t);

/* Parse a zarr v3 data_type name; CK_DT_INVALID if unknown. */
enum ck_dtype ck_dtype_from_v3(const char *name);

/*
 * Parse a zarr v2 dtype string: a numpy typestr ("<f4", ">i8", "|b1", "|u1")
 * or a byte-order-less extension name ("bfloat16").  *big_endian is set
 * for ">" types.  CK_DT_INVALID if unknown.
 */
enum ck_dtype ck_dtype_from_v2(const char *typestr, int *big_endian);

/* numpy descr for .npy headers ("<f4", "<i4", "|b1", "<V2" is never used):
 * NULL for types numpy cannot name (bfloat16). */
const char *ck_dtype_numpy(enum ck_dtype t);

/* safetensors dtype name ("BF16", "F32", "I64", "BOOL", ...), or NULL. */
const char *ck_dtype_safetensors(enum ck_dtype t);

/* 1 for floating types (F16, BF16, F32, F64). */
int ck_dtype_is_float(enum ck_dtype t);

/* bfloat16 <-> float32.  The narrowing rounds to nearest, ties to even, and
 * keeps NaNs quiet NaNs. */
static inline float ck_bf16_to_f32(uint16_t h)
{
	union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
	return v.f;
}

static inline uint16_t ck_f32_to_bf16(float f)
{
	union { float f; uint32_t u; } v = { .f = f };
	uint32_t u = v.u;

	/* A NaN keeps its sign and top payload bits and is made quiet, so
	 * truncation can never turn it into an infinity. */
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x0040u);
	/* Round to nearest, ties to even; overflow carries into inf. */
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* IEEE half <-> float32 (narrowing rounds to nearest even). */
float ck_f16_to_f32(uint16_t h);
uint16_t ck_f32_to_f16(float f);

#endif
