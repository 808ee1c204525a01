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

#endif
