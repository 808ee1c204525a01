/* L2_NORMALIZATION (int8), see normalization.h. */
#include "tinyml/normalization.h"

#include "tinyml/fixedpoint.h"

void tinyml_inv_sqrt_exp(int32_t x, int32_t *mult, int32_t *shift) {
    const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 with 3 integer bits */
    int32_t s = 11;
    int32_t pairs, half_x, v, i;
    if (x <= 1) {
        *mult = INT32_MAX;
        *shift = 0;
        return;
    }
    while (x >= (1 << 29)) {
        x /= 4;
        ++s;
    }
    pairs = (tinyml_clz32((uint32_t)x) - 1) / 2 - 1;
    s -= pairs;
    x <<= 2 * pairs;
    half_x = tinyml_rdbpot(x >> 1, 1);
    v = 1 << 28; /* 1.0 with 3 integer bits */
    for (i = 0; i < 5; ++i) {
        const int32_t v3 = tinyml_fp_sat_mul_pot(tinyml_srdhm(tinyml_srdhm(v, v), v), 6);
        v = tinyml_fp_sat_mul_pot(tinyml_fp_sub(tinyml_srdhm(half_three, v), tinyml_srdhm(half_x, v3)), 3);
    }
    v = tinyml_srdhm(v, 1518500250); /* sqrt(2) / 2 */
    if (s < 0) {
        v = (int32_t)((uint32_t)v << -s);
        s = 0;
    }
    *mult = v;
    *shift = -s;
}

void tinyml_l2norm_s8(const tinyml_l2norm_params_t *p, const int8_t *input, int8_t *output) {
    int32_t o, i;
    for (o = 0; o < p->outer; ++o) {
        const int8_t *x = input + o * p->depth;
        int32_t acc = 0, mult, shift;
        for (i = 0; i < p->depth; ++i) {
            const int32_t v = x[i] - p->input_zero_point;
            acc += v * v;
        }
        tinyml_inv_sqrt_exp(acc, &mult, &shift);
        for (i = 0; i < p->depth; ++i) {
            const int32_t r = tinyml_requantize(x[i] - p->input_zero_point, mult, shift + 7);
            *output++ = (int8_t)tinyml_clamp(r, -128, 127);
        }
    }
}
