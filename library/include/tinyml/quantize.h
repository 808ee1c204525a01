/* tinyml-pio kernels: QUANTIZE and DEQUANTIZE (conversions between float32, int8 and uint8).
 *
 * These reproduce TFLite 2.14's reference kernels (BUILTIN_REF) bit for bit:
 *  - float -> int8/uint8 (reference_ops::AffineQuantize): q = roundf(x / scale) with the
 *    division in float, converted to int32 the way an x86 build of TFLite does it (a value out
 *    of int32 range, or NaN, becomes INT32_MIN), then + zero_point (wrapping) and clamped.
 *  - int8/uint8 -> float (reference_ops::Dequantize): scale * (q - zero_point). TFLite takes the
 *    product in double and rounds to float; the exact product has at most 33 significant bits,
 *    so one correctly rounded float multiplication gives the same float.
 *  - 8-bit -> 8-bit requantization (reference_ops::Requantize) is a 256-entry table computed
 *    by the generator, indexed by the raw input byte. */
#ifndef TINYML_QUANTIZE_H
#define TINYML_QUANTIZE_H

#include "tinyml/common.h"

typedef struct {
    float scale;        /* the output's (QUANTIZE) or input's (DEQUANTIZE) scale */
    int32_t zero_point; /* the quantized tensor's zero point */
} tinyml_quant_params_t;

/* float32 -> int8 / uint8. In-place safe (output may alias input: each output byte lands on an
 * already-consumed input element). */
void tinyml_quantize_f32_s8(const tinyml_quant_params_t *p, const float *input, int8_t *output, int32_t size);
void tinyml_quantize_f32_u8(const tinyml_quant_params_t *p, const float *input, uint8_t *output, int32_t size);

/* float32 -> int16 (16x8 models), same arithmetic, clamped to the int16 range. */
void tinyml_quantize_f32_s16(const tinyml_quant_params_t *p, const float *input, int16_t *output, int32_t size);

/* int8 / uint8 / int16 -> float32. */
void tinyml_dequantize_s16_f32(const tinyml_quant_params_t *p, const int16_t *input, float *output, int32_t size);
void tinyml_dequantize_s8_f32(const tinyml_quant_params_t *p, const int8_t *input, float *output, int32_t size);
void tinyml_dequantize_u8_f32(const tinyml_quant_params_t *p, const uint8_t *input, float *output, int32_t size);

/* 8-bit -> 8-bit (int8 or uint8 on either side) through a table indexed by the raw input byte:
 * output byte = table[input byte]. In-place safe. */
void tinyml_requantize_lut8(const uint8_t *table, const void *input, void *output, int32_t size);

/* int16 -> int8 / int16 / int32 (reference_ops::Requantize; QuantizeMultiplier(in_scale / out_scale)).
 * Output zero point + result is added in int32 (wrapping like TFLite's) before the clamp. The int8
 * and int16 outputs are in-place safe; the int32 one is not (it is wider). */
typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier;
    int32_t shift;
} tinyml_requant_params_t;

void tinyml_requantize_s16_s8(const tinyml_requant_params_t *p, const int16_t *input, int8_t *output, int32_t size);
void tinyml_requantize_s16_s16(const tinyml_requant_params_t *p, const int16_t *input, int16_t *output, int32_t size);
void tinyml_requantize_s16_s32(const tinyml_requant_params_t *p, const int16_t *input, int32_t *output, int32_t size);

#endif /* TINYML_QUANTIZE_H */
