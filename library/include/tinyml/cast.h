/*
 * tinyml-pio kernels: CAST between integer types and to float (TFLite cast.cc: a static_cast of
 * every element; integer narrowing wraps). tinyml_cast_<from>_<to>(input, output, count).
 */
#ifndef TINYML_CAST_H
#define TINYML_CAST_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TINYML_CAST_DECL(from, to, tfrom, tto) void tinyml_cast_##from##_##to(const tfrom *input, tto *output, int32_t n);
#define TINYML_CAST_ALL(X)                                                                                      \
    X(s8, s16, int8_t, int16_t) X(s8, s32, int8_t, int32_t) X(s8, f32, int8_t, float)                          \
    X(u8, s8, uint8_t, int8_t) X(u8, s32, uint8_t, int32_t) X(u8, f32, uint8_t, float)                         \
    X(s16, s8, int16_t, int8_t) X(s16, s32, int16_t, int32_t) X(s16, f32, int16_t, float)                      \
    X(s32, s8, int32_t, int8_t) X(s32, s16, int32_t, int16_t) X(s32, f32, int32_t, float)                      \
    X(s64, s32, int64_t, int32_t) X(s64, f32, int64_t, float) X(s8, u8, int8_t, uint8_t)

TINYML_CAST_ALL(TINYML_CAST_DECL)

#ifdef __cplusplus
}
#endif

#endif /* TINYML_CAST_H */
