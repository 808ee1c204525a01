/* tinyml-pio kernels: FULLY_CONNECTED (TFLite reference_integer_ops::FullyConnected). */
#ifndef TINYML_FULLY_CONNECTED_H
#define TINYML_FULLY_CONNECTED_H

#include "tinyml/common.h"

typedef struct {
    int32_t batches;
    int32_t in_depth;
    int32_t out_depth;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} tinyml_fc_params_t;

/* bias: per output channel, with the input zero point folded in (bias - in_zp * sum(w)).
 * mult/shift: per output channel (repeated for per-tensor weights). */
void tinyml_fully_connected_s8(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift,
                               int8_t *output);

/* 16x8: int16 activations (zero point 0), int8 weights, int64 bias (may be NULL); the int64
 * accumulator is requantized with tinyml_requantize_s64. */
void tinyml_fully_connected_s16(const tinyml_fc_params_t *p, const int16_t *input, const int8_t *weights,
                                const int64_t *bias, const int32_t *mult, const int32_t *shift, int16_t *output);

#endif
