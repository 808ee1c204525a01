/* tinyml-pio kernels: SOFTMAX and LOG_SOFTMAX, int8 -> int8 over the last axis.
 *
 * TFLite reference_ops::Softmax (quantized) and reference_integer_ops::LogSoftmax, i.e. what
 * tflite-runtime 2.14 runs under BUILTIN_REF: gemmlowp fixed point with a Q5.26 scaled input
 * difference and a Q12.19 sum of exponentials.
 *
 * The exponential of every possible row difference d = max_in_row - x (0..255) depends only on
 * the input scale and beta, so the generator evaluates it once (tinyml_pio/fixedpoint.py) and
 * passes a 256-entry int32 table. Differences below TFLite's diff_min have a 0 entry, which
 * reproduces the reference's "skip" branch exactly. Both kernels are in-place safe. */
#ifndef TINYML_SOFTMAX_H
#define TINYML_SOFTMAX_H

#include "tinyml/common.h"

typedef struct {
    int32_t outer; /* number of rows (product of all but the last dimension) */
    int32_t depth; /* last dimension */
} tinyml_softmax_params_t;

/* exp_table[d] = exp(-d * input_scale * beta) in Q0.31 (gemmlowp exp_on_negative_values of the
 * Q5.26 rescaled difference), 0 where -d < diff_min. Output scale 1/256, zero point -128. */
void tinyml_softmax_s8(const tinyml_softmax_params_t *p, const int32_t *exp_table, const int8_t *input,
                       int8_t *output);

typedef struct {
    int32_t outer;
    int32_t depth;
    int32_t input_multiplier; /* PreprocessLogSoftmaxScalingExp, beta = 1 */
    int32_t input_shift;      /* left shift (>= 0) */
    int32_t reverse_multiplier;
    int32_t reverse_shift; /* shift as MultiplyByQuantizedMultiplier takes it (<= 0) */
    int32_t diff_min;
} tinyml_log_softmax_params_t;

/* exp_q12_table[d] = exp(-d * input_scale) in Q12.19 (already rescaled for the sum), 0 where
 * -d < diff_min. Output scale 16/256, zero point 127. */
void tinyml_log_softmax_s8(const tinyml_log_softmax_params_t *p, const int32_t *exp_q12_table,
                           const int8_t *input, int8_t *output);

/* 16x8: int16 -> int16 (zero points 0, output scale 1/32768), TFLite's reference_ops::SoftmaxInt16. */
typedef struct {
    int32_t outer;
    int32_t depth;
    int32_t input_multiplier; /* QuantizeMultiplier(input_scale * beta / (10 / 65535)) */
    int32_t input_shift;
} tinyml_softmax_s16_params_t;

/* exp_lut: exp on [-10, 0], recip_lut: 1 / (1 + x) on [0, 1], 513 Q0.15 entries each (TFLite's
 * gen_lut, computed by the generator). exp_scratch: depth int16 (one row's exponentials); the
 * kernel is in-place safe (a row is read before it is written). */
void tinyml_softmax_s16(const tinyml_softmax_s16_params_t *p, const int16_t *exp_lut, const int16_t *recip_lut,
                        const int16_t *input, int16_t *exp_scratch, int16_t *output);

#endif
