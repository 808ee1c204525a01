/* tinyml-pio optimized kernels: what the generator computes for them at build time.
 *
 * The optimized convolution kernels (tinyml/conv_opt.h, tinyml/depthwise_conv_opt.h) compute
 * exactly the integers of the reference kernels, faster, because the generator did part of the
 * work in Python (tinyml_pio/passes/opt.py):
 *
 *  - the input zero point is folded into the bias: sum(w * (x - zp)) + b = sum(w * x) + b',
 *    b' = b - zp * sum(w). Padded taps are made to contribute nothing by padding with the value
 *    zp (so w * (zp - zp) = 0), never by skipping them;
 *  - per output channel, one tinyml_chanq_t holds everything its requantization needs, in one place;
 *  - when every accumulator of the layer provably stays below 2^30 after TFLite's left shift (the
 *    generator bounds |b'| + 128 * sum|w| per channel) and every right shift is >= 1, the layer
 *    takes the 32-bit requantization ("fast_rq"): TFLite's SaturatingRoundingDoublingHighMul
 *    rounds ab / 2^31 half up (its negative nudge with truncating division is exactly a floor of
 *    ab + 2^30), which is SMMULR (rounding high multiply) of 2a and b; RoundingDivideByPOT rounds
 *    half away from zero, i.e. (y + 2^(e-1) - (y < 0)) >> e; the output zero point is added
 *    inside the same shift as zp * 2^e. Otherwise the layer keeps TFLite's 64-bit arithmetic.
 *
 * Every kernel compiles everywhere: with the Arm DSP extension it uses SXTB16/SMLAD/SMLABB; with
 * MVE (Helium) the vector instructions; elsewhere (Cortex-M0+/M3, RISC-V, Xtensa, the host) the
 * same algorithm in plain C. All three give the same bytes.
 */
#ifndef TINYML_OPT_H
#define TINYML_OPT_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Requantization of one output channel (four words: one more than bias + multiplier + shift). */
typedef struct {
    int32_t bias;  /* bias - input_zero_point * sum(weights of the channel), wrapped to int32 */
    int32_t mult;  /* TFLite's quantized multiplier (Q31) */
    int32_t rnd;   /* fast_rq: 2^(shift-1) + output_offset * 2^shift; otherwise unused (0) */
    int32_t shift; /* fast_rq: TFLite's right shift (>= 1; the left shift is 0); otherwise TFLite's shift */
} tinyml_chanq_t;

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#include <string.h>

/* Four int8 as one word: one LDR (unaligned loads are legal on every DSP core). */
TINYML_INLINE int32_t tinyml_ld32(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return (int32_t)v;
}

/* SXTB16 of x rotated by 8 (bytes 1 and 3) in one instruction (GCC does not fold the rotation). */
TINYML_INLINE int32_t tinyml_sxtb16_r8(int32_t x) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#endif

/* SMMULR: the rounded high word of a * b, i.e. SaturatingRoundingDoublingHighMul(a / 2, b) for even a. */
TINYML_INLINE int32_t tinyml_smmulr(int32_t a, int32_t b) {
    int32_t y;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"(a), "r"(b));
#else
    y = (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
    return y;
}

/* fast_rq: one channel's requantized value plus the output offset, before the activation clamp.
 * (fast_rq implies TFLite's left shift is 0, so SMMULR takes 2 * acc.) */
TINYML_INLINE int32_t tinyml_rq_fast(int32_t acc, const tinyml_chanq_t *q) {
    const int32_t y = tinyml_smmulr((int32_t)((uint32_t)acc << 1), q->mult);
    return (y + q->rnd + (y >> 31)) >> q->shift;
}

/* v clamped to the activation range [act_min, act_max] within int8. `narrow`: the range is narrower
 * than [-128, 127] (with DSP, SSAT alone clamps otherwise); a constant at each call. */
TINYML_INLINE int8_t tinyml_clamp_out(int32_t v, int32_t narrow, int32_t act_min, int32_t act_max) {
#if defined(__ARM_FEATURE_SAT) || defined(__ARM_FEATURE_DSP)
    v = __builtin_arm_ssat(v, 8);
    if (narrow) {
        v = tinyml_clamp(v, act_min, act_max);
    }
#else
    (void)narrow;
    v = tinyml_clamp(v, act_min, act_max);
#endif
    return (int8_t)v;
}

/* TFLite's 64-bit requantization plus the output offset: the slow path, out of line (it only runs
 * for layers whose bound rules out fast_rq), so the specialised loops stay small. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline, unused))
#endif
static int32_t tinyml_rq_exact(int32_t acc, const tinyml_chanq_t *q, int32_t out_offset) {
    return tinyml_requantize(acc, q->mult, q->shift) + out_offset;
}

/* The requantized, offset and clamped output of one channel, by either path. `narrow`: the
 * activation range is narrower than [-128, 127] (with DSP, SSAT alone clamps otherwise). Kernels
 * pass compile-time constants for `fast` and `narrow`, so each combination is its own loop. */
TINYML_INLINE int8_t tinyml_rq_out(int32_t acc, const tinyml_chanq_t *q, int32_t fast, int32_t narrow,
                                   int32_t out_offset, int32_t act_min, int32_t act_max) {
    return tinyml_clamp_out(fast ? tinyml_rq_fast(acc, q) : tinyml_rq_exact(acc, q, out_offset), narrow, act_min,
                            act_max);
}

/* Calls body(FAST, NARROW): the common case (fast_rq, full int8 range) as its own loop with
 * constants, everything else as one generic loop that tests both per output (half the code of a
 * loop per combination, at no cost to the layers that take the common case). */
#define TINYML_OPT_DISPATCH(fast, narrow, call)                                                     \
    do {                                                                                            \
        const int32_t fast_ = (fast), narrow_ = (narrow);                                           \
        if (fast_ && !narrow_) { call(1, 0); } else { call(fast_, narrow_); }                       \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* TINYML_OPT_H */
