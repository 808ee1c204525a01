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

/* lut_lookup_with_interpolation: 512 base values (and one more for the last slope), indexed by the
 * top 9 bits of the int16 value, linearly interpolated on the low 7. */
TINYML_INLINE int16_t lut_s16(const int16_t *lut, int16_t value) {
    const int32_t index = 256 + (value >> 7);
    const int32_t offset = value & 0x7f;
    const int32_t base = lut[index];
    const int32_t slope = lut[index + 1] - lut[index];
    return (int16_t)(base + ((slope * offset + 64) >> 7));
}

/* reference_ops::SoftmaxInt16: exp of the rescaled difference to the row maximum through the exp
 * LUT, the Q16.15 sum normalised and inverted through the 1/(1+x) LUT, one rounding shift. */
void tinyml_softmax_s16(const tinyml_softmax_s16_params_t *p, const int16_t *exp_lut, const int16_t *recip_lut,
                        const int16_t *input, int16_t *exp_scratch, int16_t *output) {
    int32_t i, j;
    for (i = 0; i < p->outer; ++i) {
        const int16_t *x = input + i * p->depth;
        int16_t *y = output + i * p->depth;
        int32_t max_in_row = -32768;
        int32_t sum = 0;
        int32_t headroom_plus_one, shifted_sum, right_shift;
        int16_t recip;
        for (j = 0; j < p->depth; ++j) {
            max_in_row = TINYML_MAX(max_in_row, (int32_t)x[j]);
        }
        for (j = 0; j < p->depth; ++j) {
            const int32_t scaled = tinyml_requantize((int32_t)x[j] - max_in_row, p->input_multiplier, p->input_shift);
            exp_scratch[j] = lut_s16(exp_lut, (int16_t)tinyml_clamp(scaled + 32767, -32768, 32767));
            sum += exp_scratch[j];
        }
        headroom_plus_one = tinyml_clz32((uint32_t)sum);
        shifted_sum = (int32_t)((((int64_t)sum << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
        recip = lut_s16(recip_lut, (int16_t)tinyml_clamp(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767));
        right_shift = 31 - headroom_plus_one;
        for (j = 0; j < p->depth; ++j) {
            const int64_t round = (int64_t)1 << (right_shift - 1);
            const int32_t r = (int32_t)(((int64_t)exp_scratch[j] * (int64_t)recip + round) >> right_shift);
            y[j] = (int16_t)tinyml_clamp(r, 0, 32767);
        }
    }
}
