/* FULLY_CONNECTED, int8, for Arm cores with the DSP extension (Cortex-M4/M7/M33/M55).
 *
 * Bit-exact with tinyml_fully_connected_s8 (and so with TFLite's reference_integer_ops::
 * FullyConnected): the same int32 sums of int8 x int8 products, only computed four at a time.
 * Four input bytes are loaded as one word and split into two pairs of 16-bit lanes with SXTB16
 * (bytes 0 and 2, then bytes 1 and 3 after a rotate by 8); SMLAD multiplies both lanes and adds
 * the two products to the accumulator. The weights are split the same way, so lane k of the input
 * always meets lane k of the weights. SMLAD's sum is exact modulo 2^32, as the portable kernel's
 * int32 additions are; TFLite accumulates int8 x int8 products in int32 too, so the two never
 * differ. Four output channels are computed per pass over the input, sharing its unpacking
 * (then two, then one for the last out_depth % 4 channels). Depths that are not a multiple of 4
 * finish with a scalar tail. Requantization is the portable kernel's (tinyml_requantize).
 *
 * Without the DSP extension (host, Cortex-M0+/M3) this file only forwards to the portable kernel,
 * so the library builds everywhere and generated code that names this kernel still links. */
#include "tinyml/arm/fully_connected_dsp.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)

#include <arm_acle.h>
#include <string.h>

/* Four int8 as one word; memcpy keeps unaligned rows legal and compiles to one LDR on M4 and up. */
TINYML_INLINE int32_t tinyml_read_s8x4(const int8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return (int32_t)v;
}

/* ACLE's __ror(x, 8) (GCC 12's arm_acle.h has no __ror); compiles to one ROR. */
TINYML_INLINE int32_t tinyml_ror8(int32_t x) {
    const uint32_t u = (uint32_t)x;
    return (int32_t)((u >> 8) | (u << 24));
}

TINYML_INLINE int8_t tinyml_fc_output(const tinyml_fc_params_t *p, int32_t acc, int32_t mult, int32_t shift) {
    acc = tinyml_requantize(acc, mult, shift) + p->output_offset;
    return (int8_t)tinyml_clamp(acc, p->act_min, p->act_max);
}

void tinyml_fully_connected_s8_dsp(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                   int8_t *output) {
    const int32_t depth = p->in_depth;
    const int32_t out_depth = p->out_depth;
    const int32_t depth4 = depth & ~(int32_t)3;
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * depth;
        int8_t *y = output + b * out_depth;
        for (o = 0; o + 3 < out_depth; o += 4) {
            const int8_t *w0 = weights + o * depth;
            const int8_t *w1 = w0 + depth;
            const int8_t *w2 = w1 + depth;
            const int8_t *w3 = w2 + depth;
            int32_t acc0 = bias[o];
            int32_t acc1 = bias[o + 1];
            int32_t acc2 = bias[o + 2];
            int32_t acc3 = bias[o + 3];
            for (d = 0; d < depth4; d += 4) {
                const int32_t xv = tinyml_read_s8x4(x + d);
                const int32_t x02 = __sxtb16(xv);
                const int32_t x13 = __sxtb16(tinyml_ror8(xv));
                int32_t wv = tinyml_read_s8x4(w0 + d);
                acc0 = __smlad(x02, __sxtb16(wv), acc0);
                acc0 = __smlad(x13, __sxtb16(tinyml_ror8(wv)), acc0);
                wv = tinyml_read_s8x4(w1 + d);
                acc1 = __smlad(x02, __sxtb16(wv), acc1);
                acc1 = __smlad(x13, __sxtb16(tinyml_ror8(wv)), acc1);
                wv = tinyml_read_s8x4(w2 + d);
                acc2 = __smlad(x02, __sxtb16(wv), acc2);
                acc2 = __smlad(x13, __sxtb16(tinyml_ror8(wv)), acc2);
                wv = tinyml_read_s8x4(w3 + d);
                acc3 = __smlad(x02, __sxtb16(wv), acc3);
                acc3 = __smlad(x13, __sxtb16(tinyml_ror8(wv)), acc3);
            }
            for (; d < depth; ++d) {
                const int32_t xd = x[d];
                acc0 += xd * (int32_t)w0[d];
                acc1 += xd * (int32_t)w1[d];
                acc2 += xd * (int32_t)w2[d];
                acc3 += xd * (int32_t)w3[d];
            }
            y[o] = tinyml_fc_output(p, acc0, mult[o], shift[o]);
            y[o + 1] = tinyml_fc_output(p, acc1, mult[o + 1], shift[o + 1]);
            y[o + 2] = tinyml_fc_output(p, acc2, mult[o + 2], shift[o + 2]);
            y[o + 3] = tinyml_fc_output(p, acc3, mult[o + 3], shift[o + 3]);
        }
        for (; o + 1 < out_depth; o += 2) {
            const int8_t *w0 = weights + o * depth;
            const int8_t *w1 = w0 + depth;
            int32_t acc0 = bias[o];
            int32_t acc1 = bias[o + 1];
            for (d = 0; d < depth4; d += 4) {
                const int32_t xv = tinyml_read_s8x4(x + d);
                const int32_t x02 = __sxtb16(xv);
                const int32_t x13 = __sxtb16(tinyml_ror8(xv));
                const int32_t wa = tinyml_read_s8x4(w0 + d);
                const int32_t wb = tinyml_read_s8x4(w1 + d);
                acc0 = __smlad(x02, __sxtb16(wa), acc0);
                acc0 = __smlad(x13, __sxtb16(tinyml_ror8(wa)), acc0);
                acc1 = __smlad(x02, __sxtb16(wb), acc1);
                acc1 = __smlad(x13, __sxtb16(tinyml_ror8(wb)), acc1);
            }
            for (; d < depth; ++d) {
                acc0 += (int32_t)x[d] * (int32_t)w0[d];
                acc1 += (int32_t)x[d] * (int32_t)w1[d];
            }
            y[o] = tinyml_fc_output(p, acc0, mult[o], shift[o]);
            y[o + 1] = tinyml_fc_output(p, acc1, mult[o + 1], shift[o + 1]);
        }
        if (o < out_depth) { /* odd out_depth: the last channel alone */
            const int8_t *w0 = weights + o * depth;
            int32_t acc0 = bias[o];
            for (d = 0; d < depth4; d += 4) {
                const int32_t xv = tinyml_read_s8x4(x + d);
                const int32_t wa = tinyml_read_s8x4(w0 + d);
                acc0 = __smlad(__sxtb16(xv), __sxtb16(wa), acc0);
                acc0 = __smlad(__sxtb16(tinyml_ror8(xv)), __sxtb16(tinyml_ror8(wa)), acc0);
            }
            for (; d < depth; ++d) {
                acc0 += (int32_t)x[d] * (int32_t)w0[d];
            }
            y[o] = tinyml_fc_output(p, acc0, mult[o], shift[o]);
        }
    }
}

#else /* no DSP extension: the portable kernel */

void tinyml_fully_connected_s8_dsp(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                   int8_t *output) {
    tinyml_fully_connected_s8(p, input, weights, bias, mult, shift, output);
}

#endif
