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

/* reference_integer_ops::Logistic (int16): sigmoid(|x|) interpolated on 9 fractional bits, mirrored
 * for negative x. */
void tinyml_logistic_s16(const tinyml_sigmoid_s16_params_t *p, const uint16_t *table, const int16_t *input,
                         int16_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        const int32_t v = sigmoid_input(p, input[i]);
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        const uint32_t uh = a >> 9;
        uint32_t r;
        if (uh >= 255) {
            r = 0x7FFFu << 10;
        } else {
            const uint32_t ua = table[uh];
            const uint32_t ub = table[uh + 1];
            r = (ua << 9) + (a & 0x1ff) * (ub - ua);
        }
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
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        const uint32_t uh = a >> 8;
        int32_t r;
        if (uh >= 255) {
            r = (int32_t)(0xFFFFu << 8);
        } else {
            const uint32_t ua = table[uh];
            const uint32_t ub = table[uh + 1];
            r = (int32_t)((ua << 8) + (a & 0xff) * (ub - ua));
        }
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)(r >> 8);
    }
}
