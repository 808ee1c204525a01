/* tinyml-pio kernels: element-wise int8 -> int8 through a 256-entry table.
 *
 * Any unary int8 operator is a function of 256 input values. The generator evaluates TFLite's
 * exact integer algorithm for each of them (tinyml_pio/ops), so the table is bit-exact by
 * construction and the kernel is one load per element. In-place safe (input == output). */
#ifndef TINYML_LUT_H
#define TINYML_LUT_H

#include "tinyml/common.h"

/* table[i] is the output for input value (int8_t)(i - 128). */
void tinyml_lut_s8(const int8_t *table, const int8_t *input, int8_t *output, int32_t size);

/* 16x8 LOGISTIC and TANH (TFLite's reference_integer_ops::Logistic / Tanh, int16 -> int16, output
 * scale 1/32768): the input rescaled to 1/(3 * 4096) (or 1/4096 * 3 for a power-of-two scale), then
 * linear interpolation in a 256-entry table of sigmoid(i / 24) in Q0.16 (the generator computes it).
 * In-place safe. */
typedef struct {
    int32_t input_multiplier; /* > 0 (the power-of-two case is passed as 3 << shift, shift 0) */
    int32_t input_left_shift; /* a right shift of the product, with rounding */
} tinyml_sigmoid_s16_params_t;

void tinyml_logistic_s16(const tinyml_sigmoid_s16_params_t *p, const uint16_t *table, const int16_t *input,
                         int16_t *output, int32_t size);
void tinyml_tanh_s16(const tinyml_sigmoid_s16_params_t *p, const uint16_t *table, const int16_t *input,
                     int16_t *output, int32_t size);

#endif
