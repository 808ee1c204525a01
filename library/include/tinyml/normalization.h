/*
 * tinyml-pio kernels: L2_NORMALIZATION, int8.
 *
 * Bit-exact with TFLite 2.14's reference_integer_ops::L2Normalization: per row, the sum of squared
 * (x - zero_point), its inverse square root by GetInvSqrtQuantizedMultiplierExp (five
 * Newton-Raphson steps in gemmlowp fixed point), and each value scaled to the fixed output
 * quantization (scale 1/128, zero point 0).
 */
#ifndef TINYML_NORMALIZATION_H
#define TINYML_NORMALIZATION_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t outer;
    int32_t depth;
    int32_t input_zero_point;
} tinyml_l2norm_params_t;

/* GetInvSqrtQuantizedMultiplierExp(x, kReverseShift): 1/sqrt(x) ~= mult * 2^(shift - 31). */
void tinyml_inv_sqrt_exp(int32_t x, int32_t *mult, int32_t *shift);

void tinyml_l2norm_s8(const tinyml_l2norm_params_t *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_NORMALIZATION_H */
