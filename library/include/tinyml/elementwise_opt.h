/* tinyml-pio optimized kernels: ADD, int8, both inputs and the output of one shape (no broadcast).
 *
 * TFLite's int8 ADD (reference_integer_ops::AddElementwise) puts each input on a common fixed
 * point: v = (x + offset) << 20, then MultiplyByQuantizedMultiplierSmallerThanOneExp, i.e.
 * RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(v, m), e); it adds the two and requantizes
 * the sum the same way. The generator (tinyml_pio/passes/opt.py) proves the 32-bit form exact for
 * the layer and folds what it can:
 *  - the input with the larger scale always has multiplier 1/2 (m = 2^30, e = 0), which gives
 *    exactly v / 2 = (x + offset) << 19 (v is a multiple of 2^20): one ADD with a shifted operand,
 *    no multiply. The generator passes that input first (ADD commutes);
 *  - for the other input, SaturatingRoundingDoublingHighMul(v, m) is SMMULR(2v, m) (tinyml/opt.h),
 *    and 2v = (x << 21) + (offset << 21) fits (|x + offset| <= 255); RoundingDivideByPOT(y, e) is
 *    (y + 2^(e-1) - (y < 0)) >> e for e >= 1. With equal scales it has multiplier 1/2 too (shift 0);
 *  - the sum stays below 2^29 in magnitude, so SMMULR takes its doubling too, and the output zero
 *    point is added inside the output's shift as zp * 2^e.
 * Every element is read before its output is written: safe in place over either input. */
#ifndef TINYML_ELEMENTWISE_OPT_H
#define TINYML_ELEMENTWISE_OPT_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t count;     /* elements */
    int32_t half_base; /* first input (multiplier 1/2): its offset << 19 */
    int32_t base;      /* second input: offset << 21, or offset << 19 when its multiplier is 1/2 too */
    int32_t mult;      /* second input: TFLite's multiplier (unused when 1/2) */
    int32_t rnd;       /* second input: 2^(e-1) */
    int32_t shift;     /* second input: e >= 1, or 0 when its multiplier is 1/2 */
    int32_t out_mult;
    int32_t out_rnd;   /* 2^(e-1) + output zero point * 2^e */
    int32_t out_shift; /* e >= 1 */
    int32_t act_min, act_max;
} tinyml_add_opt_params_t;

/* half: the input whose multiplier is 1/2; other: the second input. */
void tinyml_add_s8_opt(const tinyml_add_opt_params_t *p, const int8_t *half, const int8_t *other, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_ELEMENTWISE_OPT_H */
