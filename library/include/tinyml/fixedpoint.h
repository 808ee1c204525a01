/*
 * tinyml-pio kernel library: gemmlowp-style fixed-point math (Q formats on int32).
 *
 * Bit-exact C99 versions of the gemmlowp fixedpoint.h / TFLite internal/common.h functions the
 * quantized SOFTMAX and LOG_SOFTMAX reference kernels use. A value "in Qm" is an int32 raw value
 * representing raw * 2^(m - 31). The Python twins are in tinyml_pio/fixedpoint.py.
 *
 * Additions that gemmlowp does with plain (wrapping in practice) int32 arithmetic go through
 * tinyml_fp_add/sub, which wrap explicitly instead of relying on signed overflow.
 */
#ifndef TINYML_FIXEDPOINT_H
#define TINYML_FIXEDPOINT_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

TINYML_INLINE int32_t tinyml_fp_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

TINYML_INLINE int32_t tinyml_fp_sub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* CountLeadingZeros((uint32_t)x), 32 for 0. */
TINYML_INLINE int tinyml_clz32(uint32_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return x ? __builtin_clz(x) : 32;
#else
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* SaturatingRoundingMultiplyByPOT: exponent > 0 saturating left shift, < 0 rounding right shift. */
TINYML_INLINE int32_t tinyml_fp_sat_mul_pot(int32_t x, int exponent) {
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    if (exponent < 0) {
        return tinyml_rdbpot(x, -exponent);
    }
    threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp RoundingHalfSum: (a + b) / 2 rounded to nearest, ties away from zero. */
TINYML_INLINE int32_t tinyml_fp_rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

TINYML_INLINE int32_t tinyml_fp_sat_add(int32_t a, int32_t b) {
    const int64_t s = (int64_t)a + (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

TINYML_INLINE int32_t tinyml_fp_sat_sub(int32_t a, int32_t b) {
    const int64_t s = (int64_t)a - (int64_t)b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: a in Q0 [0, 1) -> 1 / (1 + a) in Q0. */
TINYML_INLINE int32_t tinyml_fp_one_over_one_plus_x(int32_t a) {
    const int32_t half_denominator = tinyml_fp_rounding_half_sum(a, INT32_MAX);
    const int32_t c48_over_17 = 1515870810;      /* Q2 */
    const int32_t c_neg32_over_17 = -1010580540; /* Q2 */
    const int32_t one_q2 = 1 << 29;
    int32_t x = tinyml_fp_add(c48_over_17, tinyml_srdhm(half_denominator, c_neg32_over_17));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t hd_x = tinyml_srdhm(half_denominator, x);            /* Q2 */
        const int32_t one_minus = tinyml_fp_sub(one_q2, hd_x);              /* Q2 */
        const int32_t prod = tinyml_srdhm(x, one_minus);                    /* Q4 */
        x = tinyml_fp_add(x, tinyml_fp_sat_mul_pot(prod, 2));               /* Rescale Q4 -> Q2 */
    }
    /* ExactMulByPot<-1> (Q2 -> Q1, same raw) then Rescale to Q0. */
    return tinyml_fp_sat_mul_pot(x, 1);
}

/* TFLite GetReciprocal: x in Q(integer_digits) > 0 -> 1/x as a Q0 scale and a power of two. */
TINYML_INLINE int32_t tinyml_fp_get_reciprocal(int32_t x, int integer_digits, int *num_bits_over_unit) {
    const int headroom_plus_one = tinyml_clz32((uint32_t)x);
    const int32_t shifted_minus_one =
        (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    *num_bits_over_unit = integer_digits - headroom_plus_one;
    return tinyml_fp_one_over_one_plus_x(shifted_minus_one);
}

/* TFLite log_x_for_x_greater_than_or_equal_to_1: x in Q(input_bits) -> log(x) in Q(output_bits). */
TINYML_INLINE int32_t tinyml_fp_log_x_ge_1(int32_t x, int input_bits, int output_bits) {
    const int accum_bits = output_bits + 1;
    const int32_t log_2 = 1488522236;
    const int32_t sqrt_sqrt_half = 1805811301;
    const int32_t sqrt_half = 1518500250;
    const int32_t one_quarter = 536870912;
    const int32_t alpha_n = 117049297;
    const int32_t alpha_d = 127690142;
    const int32_t alpha_i = 1057819769;
    const int32_t alpha_f = 638450708;
    const int32_t shifted_quarter = tinyml_fp_sat_mul_pot(one_quarter, -accum_bits);

    const int z_a_headroom_plus_1 = tinyml_clz32((uint32_t)x);
    const int32_t r_a_tmp = tinyml_fp_sat_mul_pot(x, z_a_headroom_plus_1 - 1);
    const int32_t r_a_raw = tinyml_fp_sat_mul_pot(tinyml_srdhm(r_a_tmp, sqrt_half), 1);
    const int32_t z_a_pow_2_adj = tinyml_fp_sat_add(
        tinyml_fp_sat_mul_pot(input_bits - z_a_headroom_plus_1, 31 - accum_bits), shifted_quarter);

    const int32_t z_b = tinyml_srdhm(x, sqrt_half);
    const int z_b_headroom = tinyml_clz32((uint32_t)z_b) - 1;
    const int32_t r_b_raw = tinyml_fp_sat_mul_pot(x, z_b_headroom);
    const int32_t z_b_pow_2_adj = tinyml_fp_sat_sub(
        tinyml_fp_sat_mul_pot(input_bits - z_b_headroom, 31 - accum_bits), shifted_quarter);

    const int32_t r = TINYML_MIN(r_a_raw, r_b_raw);
    const int32_t z_pow_2_adj = TINYML_MAX(z_a_pow_2_adj, z_b_pow_2_adj);

    const int32_t p = tinyml_fp_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = tinyml_fp_sub(r, sqrt_sqrt_half);
    int32_t common_sq, num, denom_minus_one, recip_denom, num_scaled, total;
    q = tinyml_fp_add(q, q);
    common_sq = tinyml_srdhm(q, q);
    num = tinyml_fp_add(tinyml_srdhm(q, r), tinyml_srdhm(tinyml_srdhm(q, common_sq), alpha_n));
    denom_minus_one = tinyml_fp_add(
        tinyml_srdhm(p, tinyml_fp_add(tinyml_fp_add(alpha_i, q), tinyml_srdhm(alpha_d, common_sq))),
        tinyml_srdhm(alpha_f, q));
    recip_denom = tinyml_fp_one_over_one_plus_x(denom_minus_one);
    num_scaled = tinyml_fp_sat_mul_pot(num, -accum_bits);
    total = tinyml_fp_add(tinyml_srdhm(z_pow_2_adj, log_2), tinyml_srdhm(num_scaled, recip_denom));
    return tinyml_fp_sat_mul_pot(total, accum_bits - output_bits);
}

#ifdef __cplusplus
}
#endif

#endif /* TINYML_FIXEDPOINT_H */
