/*
 * tinyml-pio kernel library: shared integer math.
 *
 * These helpers reproduce TFLite's reference integer arithmetic bit for bit
 * (tensorflow/lite/kernels/internal/common.h, gemmlowp fixedpoint.h). The Python twins in
 * tinyml_pio/quant.py compute the constants; kernels only apply them.
 */
#ifndef TINYML_COMMON_H
#define TINYML_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TINYML_ALIGN(n) __attribute__((aligned(n)))
#define TINYML_INLINE static inline __attribute__((always_inline))
#else
#define TINYML_ALIGN(n)
#define TINYML_INLINE static inline
#endif

#define TINYML_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TINYML_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Per-layer hooks around every kernel call in generated code. Building with
 * -DTINYML_HIL_LAYER_TIMING routes them to the HIL firmware, which records cycles per operator. */
#ifdef TINYML_HIL_LAYER_TIMING
void tinyml_hil_layer_begin(int op_index);
void tinyml_hil_layer_end(int op_index);
#define TINYML_LAYER_BEGIN(op_index) tinyml_hil_layer_begin(op_index)
#define TINYML_LAYER_END(op_index) tinyml_hil_layer_end(op_index)
#endif
/* -DTINYML_SANITIZE_LAYERS (tinyml-pio verify --sanitize): the host build's hooks poison the
 * arena around each layer except its own tensors and scratch (AddressSanitizer). */
#ifdef TINYML_SANITIZE_LAYERS
void tinyml_sanitize_layer_begin(int op_index);
void tinyml_sanitize_layer_end(int op_index);
#define TINYML_LAYER_BEGIN(op_index) tinyml_sanitize_layer_begin(op_index)
#define TINYML_LAYER_END(op_index) tinyml_sanitize_layer_end(op_index)
#endif
#ifndef TINYML_LAYER_BEGIN
#define TINYML_LAYER_BEGIN(op_index)
#endif
#ifndef TINYML_LAYER_END
#define TINYML_LAYER_END(op_index)
#endif

TINYML_INLINE int32_t tinyml_clamp(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* gemmlowp SaturatingRoundingDoublingHighMul */
TINYML_INLINE int32_t tinyml_srdhm(int32_t a, int32_t b) {
    int64_t ab;
    int64_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT */
TINYML_INLINE int32_t tinyml_rdbpot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double-rounding build, the default). */
TINYML_INLINE int32_t tinyml_requantize(int32_t x, int32_t mult, int32_t shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return tinyml_rdbpot(tinyml_srdhm((int32_t)((uint32_t)x << left), mult), right);
}

/* TFLite MultiplyByQuantizedMultiplier(int64_t x, ...) (the 16x8 kernels' accumulators): the
 * multiplier rounded to 16 bits, one rounding shift. |x| < 2^47. */
TINYML_INLINE int32_t tinyml_requantize_s64(int64_t x, int32_t mult, int32_t shift) {
    const int64_t reduced = mult < 0x7FFF0000 ? (mult + (1 << 15)) >> 16 : 0x7FFF;
    const int total_shift = 15 - shift;
    return (int32_t)((x * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift);
}

/* TFLite MultiplyByQuantizedMultiplierSmallerThanOneExp */
TINYML_INLINE int32_t tinyml_requantize_lt1(int32_t x, int32_t mult, int32_t left_shift) {
    return tinyml_rdbpot(tinyml_srdhm(x, mult), -left_shift);
}

/* TFLite MultiplyByQuantizedMultiplierGreaterThanOne */
TINYML_INLINE int32_t tinyml_requantize_gt1(int32_t x, int32_t mult, int32_t left_shift) {
    return tinyml_srdhm((int32_t)((uint32_t)x << left_shift), mult);
}

#ifdef __cplusplus
}
#endif

#endif /* TINYML_COMMON_H */
