/* SOFTMAX / LOG_SOFTMAX int8 kernels (see softmax.h). */
#include "tinyml/softmax.h"

#include "tinyml/fixedpoint.h"

#define TINYML_SOFTMAX_ACCUM_BITS 12 /* sum of exps in Q12.19 */
#define TINYML_SOFTMAX_DIFF_BITS 5   /* scaled differences in Q5.26 */
#define TINYML_LOG_SOFTMAX_OUT_BITS 4

static int32_t row_max(const int8_t *x, int32_t depth) {
    int32_t m = -128;
    int32_t c;
    for (c = 0; c < depth; ++c) {
        m = TINYML_MAX(m, (int32_t)x[c]);
    }
    return m;
}

void tinyml_softmax_s8(const tinyml_softmax_params_t *p, const int32_t *exp_table, const int8_t *input,
                       int8_t *output) {
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *x = input + i * p->depth;
        int8_t *y = output + i * p->depth;
        const int32_t max_in_row = row_max(x, p->depth);
        int32_t sum = 0;
        int32_t scale;
        int num_bits_over_unit, exponent;
        for (c = 0; c < p->depth; ++c) {
            const int32_t e = exp_table[max_in_row - (int32_t)x[c]];
            sum = tinyml_fp_add(sum, tinyml_rdbpot(e, TINYML_SOFTMAX_ACCUM_BITS));
        }
        scale = tinyml_fp_get_reciprocal(sum, TINYML_SOFTMAX_ACCUM_BITS, &num_bits_over_unit);
        exponent = num_bits_over_unit + 31 - 8; /* in [0, 31]: the row maximum alone sums to 1.0 */
        for (c = 0; c < p->depth; ++c) {
            const int32_t e = exp_table[max_in_row - (int32_t)x[c]];
            const int32_t unsat = tinyml_rdbpot(tinyml_srdhm(scale, e), exponent);
            y[c] = (int8_t)tinyml_clamp(unsat - 128, -128, 127);
        }
    }
}

void tinyml_log_softmax_s8(const tinyml_log_softmax_params_t *p, const int32_t *exp_q12_table,
                           const int8_t *input, int8_t *output) {
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *x = input + i * p->depth;
        int8_t *y = output + i * p->depth;
        const int32_t max_in_row = row_max(x, p->depth);
        int32_t sum = 0;
        int32_t log_sum, adjusted_diff_min;
        for (c = 0; c < p->depth; ++c) {
            sum = tinyml_fp_add(sum, exp_q12_table[max_in_row - (int32_t)x[c]]);
        }
        log_sum = tinyml_fp_log_x_ge_1(sum, TINYML_SOFTMAX_ACCUM_BITS, TINYML_SOFTMAX_DIFF_BITS);
        /* the most negative representable Q5 difference, plus log(sum), mapped back to input units */
        adjusted_diff_min = TINYML_MAX(
            p->diff_min - 1,
            tinyml_requantize(tinyml_fp_add(log_sum, INT32_MIN), p->reverse_multiplier, p->reverse_shift));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff > adjusted_diff_min) {
                const int32_t diff_q5 = tinyml_requantize(diff, p->input_multiplier, p->input_shift);
                const int32_t out = tinyml_rdbpot(tinyml_fp_sub(diff_q5, log_sum),
                                                  31 - TINYML_SOFTMAX_DIFF_BITS - TINYML_LOG_SOFTMAX_OUT_BITS) + 127;
                y[c] = (int8_t)tinyml_clamp(out, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}
