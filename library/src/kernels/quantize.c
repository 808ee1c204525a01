/* QUANTIZE / DEQUANTIZE kernels (see quantize.h for the exact semantics). */
#include <math.h>

#include "tinyml/quantize.h"

/* roundf(x / scale) as int32, with x86's conversion of out-of-range values (and NaN) to
 * INT32_MIN, then the zero point added with two's complement wrap-around, as TFLite 2.14's
 * reference AffineQuantize behaves on the reference platform. */
static int32_t quantize_one(float x, float scale, int32_t zero_point) {
    const float r = roundf(x / scale);
    int32_t q = INT32_MIN;
    if (r >= -2147483648.0f && r < 2147483648.0f) {
        q = (int32_t)r;
    }
    return (int32_t)((uint32_t)q + (uint32_t)zero_point);
}

void tinyml_quantize_f32_s8(const tinyml_quant_params_t *p, const float *input, int8_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = (int8_t)tinyml_clamp(quantize_one(input[i], p->scale, p->zero_point), -128, 127);
    }
}

void tinyml_quantize_f32_u8(const tinyml_quant_params_t *p, const float *input, uint8_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = (uint8_t)tinyml_clamp(quantize_one(input[i], p->scale, p->zero_point), 0, 255);
    }
}

void tinyml_quantize_f32_s16(const tinyml_quant_params_t *p, const float *input, int16_t *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = (int16_t)tinyml_clamp(quantize_one(input[i], p->scale, p->zero_point), -32768, 32767);
    }
}

/* int16: the exact product has at most 41 significant bits (< 53), so TFLite's double product
 * rounded to float equals one float multiplication here too. */
void tinyml_dequantize_s16_f32(const tinyml_quant_params_t *p, const int16_t *input, float *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
    }
}

void tinyml_dequantize_s8_f32(const tinyml_quant_params_t *p, const int8_t *input, float *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
    }
}

void tinyml_dequantize_u8_f32(const tinyml_quant_params_t *p, const uint8_t *input, float *output, int32_t size) {
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
    }
}

void tinyml_requantize_lut8(const uint8_t *table, const void *input, void *output, int32_t size) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    int32_t i;
    for (i = 0; i < size; ++i) {
        out[i] = table[in[i]];
    }
}

/* reference_ops::Requantize from int16 (16x8 models): (x - input zero point) times the 32-bit
 * multiplier, + output zero point, clamped to the output type. */
#define TINYML_REQUANTIZE_S16(SUFFIX, T, LO, HI)                                                                \
    void tinyml_requantize_s16_##SUFFIX(const tinyml_requant_params_t *p, const int16_t *input, T *output,      \
                                        int32_t size) {                                                         \
        int32_t i;                                                                                              \
        for (i = 0; i < size; ++i) {                                                                            \
            const int32_t v = tinyml_requantize((int32_t)input[i] - p->input_zero_point, p->multiplier, p->shift); \
            const int32_t o = (int32_t)((uint32_t)v + (uint32_t)p->output_zero_point);                          \
            output[i] = (T)TINYML_MIN(TINYML_MAX(o, (int32_t)(LO)), (int32_t)(HI));                             \
        }                                                                                                       \
    }

TINYML_REQUANTIZE_S16(s8, int8_t, -128, 127)
TINYML_REQUANTIZE_S16(s16, int16_t, -32768, 32767)
TINYML_REQUANTIZE_S16(s32, int32_t, INT32_MIN, INT32_MAX)
