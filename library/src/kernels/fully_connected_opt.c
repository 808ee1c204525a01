/* FULLY_CONNECTED, int8, optimized (tinyml/fully_connected_opt.h). Bit-exact with
 * tinyml_fully_connected_s8: every output is the int32 sum b' + sum(w * x) of the same products
 * (int32 sums are exact modulo 2^32 in any order), requantized as the reference kernel does or by
 * its proven-equal 32-bit form. */
#include "tinyml/fully_connected_opt.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#define TINYML_FC_DSP 1
#include <arm_acle.h>
#else
#define TINYML_FC_DSP 0
#endif

#if TINYML_FC_DSP
/* Two words at p (4-byte aligned) in one LDRD, p advanced past them. */
#define FC_LDRD(lo, hi, p) __asm__("ldrd %0, %1, [%2], #8" : "=r"(lo), "=r"(hi), "+r"(p) : : "memory")

/* acc + the four products of a widened input block (x02, x13) with one weight word. */
#define FC_DOT4(acc, x02, x13, w)                                                                    \
    do {                                                                                            \
        acc = __smlad(x02, __sxtb16(w), acc);                                                       \
        acc = __smlad(x13, tinyml_sxtb16_r8(w), acc);                                                   \
    } while (0)
#endif

TINYML_INLINE void fc_body(const tinyml_fc_opt_params_t *p, const int8_t *input, const int8_t *weights,
                           const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast, int32_t narrow,
                           int32_t widen) {
    const int32_t k = p->in_depth, kb = k >> 2, k4 = kb * 4, kt = k & 3;
    const int32_t out_c = p->out_depth, groups = out_c >> 2;
    const int8_t *tails = weights + groups * 16 * kb;      /* each group's k % 4 last weights */
    const int8_t *rest = weights + groups * 4 * k;         /* the out_c % 4 last filters, row-major */
    int32_t n, g, b, j, f;
    for (n = 0; n < p->batches; ++n, input += k, output += out_c) {
#if TINYML_FC_DSP
        uint32_t *wide = (uint32_t *)(void *)scratch;
        for (b = 0; widen && b < kb; ++b) {
            const int32_t v = tinyml_ld32(input + 4 * b);
            wide[2 * b] = (uint32_t)__sxtb16(v);
            wide[2 * b + 1] = (uint32_t)tinyml_sxtb16_r8(v);
        }
#else
        (void)scratch;
        (void)widen;
#endif
        for (g = 0; g < groups; ++g) {
            const tinyml_chanq_t *qg = q + 4 * g;
            int32_t a0 = qg[0].bias, a1 = qg[1].bias, a2 = qg[2].bias, a3 = qg[3].bias;
            const int8_t *tg = tails + g * 4 * kt;
#if TINYML_FC_DSP
            const uint32_t *x = (const uint32_t *)(const void *)scratch;
            const uint32_t *w = (const uint32_t *)(const void *)(weights + g * 16 * kb);
            for (b = 0; b < kb; ++b) {
                int32_t x02, x13, w0, w1, w2, w3;
                if (widen) {
                    FC_LDRD(x02, x13, x);
                } else {
                    const int32_t v = tinyml_ld32(input + 4 * b);
                    x02 = __sxtb16(v);
                    x13 = tinyml_sxtb16_r8(v);
                }
                FC_LDRD(w0, w1, w);
                FC_LDRD(w2, w3, w);
                FC_DOT4(a0, x02, x13, w0);
                FC_DOT4(a1, x02, x13, w1);
                FC_DOT4(a2, x02, x13, w2);
                FC_DOT4(a3, x02, x13, w3);
            }
#else
            const int8_t *w = weights + g * 16 * kb;
            for (b = 0; b < kb; ++b, w += 16) {
                const int32_t x0 = input[4 * b], x1 = input[4 * b + 1], x2 = input[4 * b + 2], x3 = input[4 * b + 3];
                a0 += x0 * w[0] + x1 * w[1] + x2 * w[2] + x3 * w[3];
                a1 += x0 * w[4] + x1 * w[5] + x2 * w[6] + x3 * w[7];
                a2 += x0 * w[8] + x1 * w[9] + x2 * w[10] + x3 * w[11];
                a3 += x0 * w[12] + x1 * w[13] + x2 * w[14] + x3 * w[15];
            }
#endif
            for (j = 0; j < kt; ++j, tg += 4) {
                const int32_t xj = input[k4 + j];
                a0 += xj * tg[0];
                a1 += xj * tg[1];
                a2 += xj * tg[2];
                a3 += xj * tg[3];
            }
            output[4 * g] = tinyml_rq_out(a0, &qg[0], fast, narrow, p->output_offset, p->act_min, p->act_max);
            output[4 * g + 1] = tinyml_rq_out(a1, &qg[1], fast, narrow, p->output_offset, p->act_min, p->act_max);
            output[4 * g + 2] = tinyml_rq_out(a2, &qg[2], fast, narrow, p->output_offset, p->act_min, p->act_max);
            output[4 * g + 3] = tinyml_rq_out(a3, &qg[3], fast, narrow, p->output_offset, p->act_min, p->act_max);
        }
        for (f = 4 * groups; f < out_c; ++f) {
            const int8_t *w = rest + (f - 4 * groups) * k;
            int32_t a = q[f].bias, d;
            for (d = 0; d < k; ++d) {
                a += input[d] * w[d];
            }
            output[f] = tinyml_rq_out(a, &q[f], fast, narrow, p->output_offset, p->act_min, p->act_max);
        }
    }
}

void tinyml_fully_connected_s8_opt(const tinyml_fc_opt_params_t *p, const int8_t *input, const int8_t *weights,
                                   const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
/* `widen` a constant in each loop: with or without the widened row in scratch */
#define TINYML_CALL(F, N)                                                                                        \
    do {                                                                                                        \
        if (p->widen) {                                                                                         \
            fc_body(p, input, weights, q, output, scratch, F, N, 1);                                            \
        } else {                                                                                                \
            fc_body(p, input, weights, q, output, scratch, F, N, 0);                                            \
        }                                                                                                       \
    } while (0)
    TINYML_OPT_DISPATCH(p->fast_rq, p->act_min > -128 || p->act_max < 127, TINYML_CALL);
#undef TINYML_CALL
}
