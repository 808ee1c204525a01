/* tinyml-pio: gemmlowp's 16-bit fixed-point logistic and tanh, as TFLite's integer LSTM applies
 * them to its int16 gates (tensor_utils::ApplySigmoid / ApplyTanh). A value with `ib` integer bits
 * has 15 - ib fractional bits; results have 0 integer bits (Q0.15). Every int16 sum and negation
 * wraps as gemmlowp's scalar int16 arithmetic does; constants are gemmlowp's int32 ones rounded
 * to 16 bits (RescaleConstantInitializer). */
#ifndef TINYML_FIXEDPOINT16_H
#define TINYML_FIXEDPOINT16_H

#include "tinyml/common.h"

#define TINYML_W16(x) ((int16_t)(int32_t)(x)) /* wrap to int16 (two's complement) */

TINYML_INLINE int16_t tinyml_q16_srdhm(int16_t a, int16_t b) {
    int32_t ab;
    if (a == b && a == INT16_MIN) return INT16_MAX;
    ab = (int32_t)a * (int32_t)b;
    return (int16_t)((ab + (ab >= 0 ? (1 << 14) : (1 - (1 << 14)))) / (1 << 15));
}

TINYML_INLINE int16_t tinyml_q16_rdbpot(int16_t x, int e) {
    const int32_t mask = (1 << e) - 1;
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return TINYML_W16((x >> e) + (remainder > threshold ? 1 : 0));
}

/* SaturatingRoundingMultiplyByPOT: saturating left shift (e > 0) or rounding right shift */
TINYML_INLINE int16_t tinyml_q16_mul_pot(int16_t x, int e) {
    if (e > 0) {
        const int32_t threshold = (1 << (15 - e)) - 1;
        if (x > threshold) return INT16_MAX;
        if (x < -threshold) return INT16_MIN;
        return TINYML_W16((int32_t)x * (1 << e));
    }
    return e < 0 ? tinyml_q16_rdbpot(x, -e) : x;
}

TINYML_INLINE int16_t tinyml_q16_const(int32_t raw32) {
    return (int16_t)tinyml_rdbpot(raw32, 16);
}

/* exp(x) for x in [-1/4, 0), Q0.15 */
TINYML_INLINE int16_t tinyml_q16_exp_quarter(int16_t a) {
    const int16_t constant_term = tinyml_q16_const(1895147668);
    const int16_t one_third = tinyml_q16_const(715827883);
    const int16_t x = TINYML_W16(a + (1 << 12));
    const int16_t x2 = tinyml_q16_srdhm(x, x);
    const int16_t x3 = tinyml_q16_srdhm(x2, x);
    const int16_t x4 = tinyml_q16_srdhm(x2, x2);
    const int16_t x4_over_4 = tinyml_q16_mul_pot(x4, -2);
    const int16_t poly = tinyml_q16_mul_pot(
        TINYML_W16(tinyml_q16_srdhm(TINYML_W16(x4_over_4 + x3), one_third) + x2), -1);
    const int32_t sum = (int32_t)constant_term + tinyml_q16_srdhm(constant_term, TINYML_W16(x + poly));
    return (int16_t)tinyml_clamp(sum, INT16_MIN, INT16_MAX);
}

/* exp(a) for a <= 0 with `ib` integer bits, Q0.15 */
TINYML_INLINE int16_t tinyml_q16_exp_negative(int16_t a, int ib) {
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int fb = 15 - ib;
    const int16_t quarter = (int16_t)(1 << (fb - 2));
    const int16_t mask = TINYML_W16(quarter - 1);
    const int16_t a_mod = TINYML_W16((a & mask) - quarter);
    int16_t result = tinyml_q16_exp_quarter(tinyml_q16_mul_pot(a_mod, ib));
    const int16_t remainder = TINYML_W16(a_mod - a);
    int k;
    for (k = 0; k < 7; ++k) { /* exponents -2 .. 4: exp(-2^e) when that bit of the remainder is set */
        const int e = k - 2;
        if (ib > e && (remainder & TINYML_W16(1 << (fb + e)))) {
            result = tinyml_q16_srdhm(result, tinyml_q16_const(multipliers[k]));
        }
    }
    if (ib > 5 && a < tinyml_q16_const(-(1 << (36 - ib)))) result = 0;
    return a == 0 ? INT16_MAX : result;
}

/* Newton-Raphson 1 / (1 + x) (minus_one = 0) or (1 - x) / (1 + x) (minus_one = 1), x in Q0.15 */
TINYML_INLINE int16_t tinyml_q16_div_one_plus(int16_t a, int minus_one) {
    const int32_t sum = (int32_t)a + INT16_MAX;
    const int16_t half_den = (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int16_t c48_17 = tinyml_q16_const(1515870810), cm32_17 = tinyml_q16_const(-1010580540);
    int16_t x = TINYML_W16(c48_17 + tinyml_q16_srdhm(half_den, cm32_17)); /* Q2.13 */
    int i;
    for (i = 0; i < 3; ++i) {
        const int16_t one_minus = TINYML_W16((1 << 13) - tinyml_q16_srdhm(half_den, x));
        x = TINYML_W16(x + tinyml_q16_mul_pot(tinyml_q16_srdhm(x, one_minus), 2));
    }
    return minus_one ? tinyml_q16_mul_pot(TINYML_W16(x - (1 << 13)), 2) : tinyml_q16_mul_pot(x, 1);
}

/* gemmlowp::logistic on Q(ib).(15-ib) -> Q0.15 */
TINYML_INLINE int16_t tinyml_q16_logistic(int16_t a, int ib) {
    const int16_t abs_a = a > 0 ? a : TINYML_W16(-a);
    const int16_t pos = tinyml_q16_div_one_plus(tinyml_q16_exp_negative(TINYML_W16(-abs_a), ib), 0);
    if (a == 0) return tinyml_q16_const(1 << 30);
    return a > 0 ? pos : TINYML_W16(INT16_MAX - pos);
}

/* gemmlowp::tanh on Q(ib).(15-ib) -> Q0.15 */
TINYML_INLINE int16_t tinyml_q16_tanh(int16_t a, int ib) {
    const int16_t neg_a = a < 0 ? a : TINYML_W16(-a);
    const int16_t t = tinyml_q16_div_one_plus(tinyml_q16_exp_negative(neg_a, ib + 1), 1);
    if (a == 0) return 0;
    return a < 0 ? TINYML_W16(-t) : t;
}

#endif
