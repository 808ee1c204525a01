/* tinyml-pio kernels: AVERAGE_POOL_2D, MAX_POOL_2D and MEAN, int8.
 *
 * Bit-exact with TFLite 2.14's reference kernels: reference_integer_ops::AveragePool / MaxPool
 * and, for MEAN, reference_ops::QuantizedMeanOrSum (the integer version with 1/count folded
 * into the output multiplier, which is what int8 MEAN runs for every axis set).
 */
#ifndef TINYML_POOL_H
#define TINYML_POOL_H

#include "tinyml/common.h"

typedef struct {
    int32_t batches;
    int32_t in_h;
    int32_t in_w;
    int32_t depth;
    int32_t out_h;
    int32_t out_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t filter_h;
    int32_t filter_w;
    int32_t pad_h; /* top padding (TFLite's padding_values.height) */
    int32_t pad_w; /* left padding */
    int32_t act_min;
    int32_t act_max;
} tinyml_pool_params_t;

/* The part [*start, *end) of a filter window that lies inside the input, for an origin that may be
 * negative (padding). The pools and their backward kernels (tinyml/train.h) share it. */
TINYML_INLINE void tinyml_pool_window(int32_t origin, int32_t filter, int32_t size, int32_t *start, int32_t *end) {
    *start = origin < 0 ? -origin : 0;
    *end = TINYML_MIN(filter, size - origin);
}

/* NHWC. Windows are clipped to the input; the average divides by the number of valid
 * positions, rounding half away from zero. */
void tinyml_avgpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);
void tinyml_maxpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);
/* 16x8 (reference_integer_ops::AveragePool / MaxPool on int16_t): the same loops. */
void tinyml_avgpool_s16(const tinyml_pool_params_t *p, const int16_t *input, int16_t *output);
void tinyml_maxpool_s16(const tinyml_pool_params_t *p, const int16_t *input, int16_t *output);

typedef struct {
    int32_t dims[4];   /* input shape, left-padded to 4 dims */
    int32_t reduce[4]; /* 1 for each reduced axis */
    int32_t zp_count;  /* input_zero_point * count, wrapped to int32 */
    int32_t mult;      /* QuantizeMultiplier(in_scale / out_scale) with 1/count folded in */
    int32_t shift;
    int32_t output_offset;
} tinyml_mean_params_t;

/* The output is written in row-major order of the non-reduced axes (keep_dims does not
 * change the memory layout). */
void tinyml_mean_s8(const tinyml_mean_params_t *p, const int8_t *input, int8_t *output);

#endif
