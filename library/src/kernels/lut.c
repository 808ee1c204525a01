/* Element-wise int8 table lookup, and int16 LOGISTIC / TANH by interpolation in a table (see lut.h). */
#include "tinyml/lut.h"

void tinyml_lut_s8(const int8_t *table, const int8_t *input, int8_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
}

/* The input rescaled as the reference does it: (x * multiplier + round) >> left_shift. */
TINYML_INLINE int32_t sigmoid_input(const tinyml_sigmoid_s16_params_t *p, int16_t x) {
    const int32_t round = p->input_left_shift > 0 ? 1 << (p->input_left_shift - 1) : 0;
    return ((int32_t)x * p->input_multiplier + round) >> p->input_left_shift;
}

/* The table interpolated at |v| with `frac` fractional bits, or `saturated` past its end. */
TINYML_INLINE uint32_t sigmoid_interp(const uint16_t *table, uint32_t a, int frac, uint32_t saturated) {
    const uint32_t uh = a >> frac;
    uint32_t ua, ub;
    if (uh >= 255) {
        return saturated;
    }
    ua = table[uh];
    ub = table[uh + 1];
    return (ua << frac) + (a & ((1u << frac) - 1)) * (ub - ua);
}

/* reference_integer_ops::Logistic (int16): sigmoid(|x|) interpolated on 9 fractional bits, mirrored
 * for negative x. */
void tinyml_logistic_s16(const tinyml_sigmoid_s16_params_t *p, const uint16_t *table, const int16_t *input,
                         int16_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        const int32_t v = sigmoid_input(p, input[i]);
        uint32_t r = sigmoid_interp(table, (uint32_t)(v < 0 ? -v : v), 9, 0x7FFFu << 10);
        r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1;
        output[i] = (int16_t)(r >> 10);
    }
}

/* reference_integer_ops::Tanh (int16): tanh(x) = 2 sigmoid(2x) - 1, 8 fractional bits. */
void tinyml_tanh_s16(const tinyml_sigmoid_s16_params_t *p, const uint16_t *table, const int16_t *input,
                     int16_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        const int32_t v = sigmoid_input(p, input[i]);
        int32_t r = (int32_t)sigmoid_interp(table, (uint32_t)(v < 0 ? -v : v), 8, 0xFFFFu << 8);
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)(r >> 8);
    }
}
