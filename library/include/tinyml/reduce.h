/*
 * tinyml-pio kernels: REDUCE_MAX, ARG_MAX and ARG_MIN, int8 (SUM runs on tinyml_mean_s8).
 *
 * Bit-exact with TFLite 2.14: reduce.cc's ReduceGeneric with max (raw int8 values, initial value
 * -128; the quantization is not touched) and reference_ops::ArgMinMax (the first index of the
 * extreme value wins ties).
 */
#ifndef TINYML_REDUCE_H
#define TINYML_REDUCE_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* input viewed as [outer, count, inner] (the reduced axes are one contiguous block); output
 * [outer, inner]. */
typedef struct {
    int32_t outer;
    int32_t count;
    int32_t inner;
} tinyml_reduce_params_t;

void tinyml_reduce_max_s8(const tinyml_reduce_params_t *p, const int8_t *input, int8_t *output);

/* input viewed as [outer, axis_size, inner]; output [outer, inner] indices along the axis. */
typedef struct {
    int32_t outer;
    int32_t axis_size;
    int32_t inner;
    int32_t is_max; /* 1: ARG_MAX, 0: ARG_MIN */
} tinyml_arg_minmax_params_t;

void tinyml_arg_minmax_s8_i32(const tinyml_arg_minmax_params_t *p, const int8_t *input, int32_t *output);
void tinyml_arg_minmax_s8_i64(const tinyml_arg_minmax_params_t *p, const int8_t *input, int64_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_REDUCE_H */
