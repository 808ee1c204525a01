/* CONV_2D, int8, optimized (tinyml/conv_opt.h), Helium (MVE) build: Cortex-M55 and other
 * Armv8.1-M cores with integer MVE. The same two functions as ../conv_opt.c (which compiles them
 * only without integer MVE), the same results bit for bit, in no more than the planned scratch.
 *
 * A matrix product over blocks of four output pixels, one output channel at a time: the pixels'
 * int8 rows (1x1: the input rows; general: their im2col rows) meet the channel's int8 filter row
 * in VMLADAV(A), which adds the sixteen products of two vectors to a scalar: per sixteen values of
 * k, five 128-bit loads and four VMLADAVA serve 64 MACs. Every output is b' + sum(w * x) in int32,
 * exact modulo 2^32 in any order, as in the DSP and plain-C kernels. Three shapes of the product:
 *  - k <= 16: the four rows stay in registers for all channels (tail-predicated loads: the _z
 *    loads read nothing past k and zero the other lanes);
 *  - k > 16: the rows go to scratch zero-padded to kp = k rounded up to 16 and interleaved step by
 *    step, so every step is unpredicated (the filter bytes past a channel's k, the next channel's,
 *    meet zeros) and one pointer walks all four rows; the channel loop is inline assembly (GCC 12
 *    spills its pointers and counts); only the last channel's last weight step is predicated, so
 *    nothing past the filter is read;
 *  - one pixel (a lone last pixel, a FULLY_CONNECTED batch): four channels per pass against one
 *    input vector, requantized with lanes = channels.
 *
 * The four accumulators become one vector (lanes = pixels, VMOV Dd, Rt, Rt2 twice), requantized
 * with the channel's scalar constants and stored with one byte scatter (stride out_c; predicated
 * for a block of three pixels):
 *  - fast_rq: tinyml_rq_fast is SMMULR(2 * acc, mult), i.e. floor((2 acc m + 2^31) / 2^32) =
 *    floor((acc m + 2^30) / 2^31), which is VQRDMULH(acc, mult) exactly, since the generator only
 *    sets fast_rq when |acc| < 2^30 (no wrap of 2 * acc, no saturation); then
 *    (y + rnd + (y >> 31)) >> shift with VADD/VSHR/VSHL (by -shift), the same int32 operations;
 *  - otherwise TFLite's: VSHL by max(shift, 0) (wraps like the scalar (uint32_t)x << left);
 *    VQRDMULH, which is gemmlowp's SaturatingRoundingDoublingHighMul exactly: (a * b + 2^30) >> 31
 *    (= the reference's nudge and truncating division, see tinyml/opt.h), saturating only
 *    INT32_MIN * INT32_MIN to INT32_MAX; then RoundingDivideByPOT by e = max(-shift, 0) as VRSHL
 *    by -e (round half up, computed without overflow) of y - 1 where y < 0 and e > 0 (VQADD: only
 *    INT32_MIN saturates, and gives the same quotient): rounding half away from zero;
 *  - clamp: VMIN/VMAX with [max(act_min, -128), min(act_max, 127)], which equals SSAT to 8 bits
 *    followed by the activation clamp whenever act_min <= act_max (every TFLite layer).
 *
 * In place (1x1, output == input): blocks are walked as in ../conv_opt.c (backwards when out_c >
 * in_c; a block of one or two pixels pixel by pixel in walking order), and a block's input rows
 * are read completely (k <= 16: into registers; else into scratch) before its first output byte is
 * written. Scratch: 1x1: none for k <= 16 or a separate output and one or two pixels, k bytes for
 * one pixel in place, else 4 * kp <= TINYML_MAT_SCRATCH_DSP(k); general: the im2col rows, 4 * k,
 * then (k > 16, three or four pixels) 4 * kp more, <= 4 * k + TINYML_MAT_SCRATCH_DSP(k).
 */
#include "tinyml/conv_opt.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

/* Helpers are inlined when optimizing (their constant arguments select the loops); at -O0 they stay
 * functions, or the one inlined body would need a stack frame of some 20 KB. */
#if defined(__OPTIMIZE__)
#define TINYML_MVE_INLINE TINYML_INLINE
#else
#define TINYML_MVE_INLINE static
#endif

/* The vector (a0, a1, a2, a3) in two instructions (GCC 12 inserts one lane per instruction): the
 * double-word moves VMOV Dd, Rt, Rt2 (Rt the low word) into the two halves of the Q register.
 * (Not the MVE two-lane VMOV Qd[2], Qd[0], Rt, Rt2, whose operand order toolchains and
 * emulators disagree about.) */
TINYML_MVE_INLINE int32x4_t tinyml_mve_lanes(int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
    int32x4_t v;
    __asm__("vmov %e0, %1, %2\n\tvmov %f0, %3, %4" : "=w"(v) : "r"(a0), "r"(a1), "r"(a2), "r"(a3));
    return v;
}

/* Requantization of four accumulators of one channel (see the file comment), plus the output
 * offset, clamped to [lo, hi]. */
TINYML_MVE_INLINE int32x4_t tinyml_mve_rq(int32x4_t acc, const tinyml_chanq_t *q, int32_t fast, int32_t out_offset,
                                          int32x4_t lo, int32x4_t hi) {
    int32x4_t v;
    if (fast) {
        const int32x4_t y = vqrdmulhq_n_s32(acc, q->mult); /* = SMMULR(2 * acc, mult): |acc| < 2^30 */
        v = vaddq_s32(vaddq_n_s32(y, q->rnd), vshrq_n_s32(y, 31));
        v = vshlq_r_s32(v, -q->shift);
    } else {
        const int32_t sh = q->shift;
        const int32_t left = sh > 0 ? sh : 0;
        const int32_t nright = sh > 0 ? 0 : sh; /* -e */
        int32x4_t y = vqrdmulhq_n_s32(vshlq_r_s32(acc, left), q->mult);
        /* -1 where y < 0 and e > 0 (the sign bit of -e is set iff e > 0) */
        const int32x4_t fix = vshrq_n_s32(vandq_s32(y, vdupq_n_s32(nright)), 31);
        y = vrshlq_n_s32(vqaddq_s32(y, fix), nright);
        v = vaddq_n_s32(y, out_offset);
    }
    return vmaxq_s32(vminq_s32(v, hi), lo);
}

/* The same for four channels of one pixel (lanes = channels oc..oc+3, n of them valid): the
 * constants gathered lane by lane (predicated: no tinyml_chanq_t past the last is read). */
TINYML_MVE_INLINE int32x4_t tinyml_mve_rq4(int32x4_t acc, const tinyml_chanq_t *q, mve_pred16_t pn, int32_t fast,
                                           int32_t out_offset, int32x4_t lo, int32x4_t hi) {
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)sizeof(tinyml_chanq_t));
    const int32x4_t mult = vldrwq_gather_offset_z_s32(&q->mult, offs, pn);
    const int32x4_t sh = vldrwq_gather_offset_z_s32(&q->shift, offs, pn);
    int32x4_t v;
    if (fast) {
        const int32x4_t y = vqrdmulhq_s32(acc, mult); /* = SMMULR(2 * acc, mult): |acc| < 2^30 */
        v = vaddq_s32(vaddq_s32(y, vldrwq_gather_offset_z_s32(&q->rnd, offs, pn)), vshrq_n_s32(y, 31));
        v = vshlq_s32(v, vnegq_s32(sh));
    } else {
        const int32x4_t zero = vdupq_n_s32(0);
        const int32x4_t nright = vminq_s32(sh, zero); /* -e */
        int32x4_t y = vqrdmulhq_s32(vshlq_s32(acc, vmaxq_s32(sh, zero)), mult);
        const int32x4_t fix = vshrq_n_s32(vandq_s32(y, nright), 31);
        y = vrshlq_s32(vqaddq_s32(y, fix), nright);
        v = vaddq_n_s32(y, out_offset);
    }
    return vmaxq_s32(vminq_s32(v, hi), lo);
}

/* Vector copy and fill of n bytes, tail-predicated (no byte outside [0, n) is touched). */
TINYML_MVE_INLINE void tinyml_mve_copy(int8_t *dst, const int8_t *src, int32_t n) {
    while (n > 0) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
        dst += 16;
        src += 16;
        n -= 16;
    }
}

TINYML_MVE_INLINE void tinyml_mve_fill(int8_t *dst, int8x16_t v, int32_t n) {
    while (n > 0) {
        vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
        dst += 16;
        n -= 16;
    }
}

/* The block layout of the four-pixel product for k > 16: the rows cut into kp / 16 steps of 16
 * values (kp = k rounded up to 16, zero past k), interleaved step by step: step j of row px at
 * byte (4 * j + px) * 16, so one pointer walks all four rows with constant offsets. Row px of k
 * values from src; a missing fourth row (NP = 3) is zero. */
TINYML_MVE_INLINE void tinyml_mve_put_row(int8_t *block, int32_t px, const int8_t *src, int32_t k, int32_t kp) {
    int32_t i;
    for (i = 0; i < kp; i += 16) {
        vstrbq_s8(block + 4 * i + 16 * px, vldrbq_z_s8(src + i, vctp8q((uint32_t)(k - i)))); /* zeros past k */
    }
}

TINYML_MVE_INLINE void tinyml_mve_zero_row(int8_t *block, int32_t px, int32_t kp) {
    int32_t i;
    for (i = 0; i < kp; i += 16) {
        vstrbq_s8(block + 4 * i + 16 * px, vdupq_n_s8(0));
    }
}

/* Channels [0, out_c - 1) of the four-pixel product over the interleaved block (inline assembly:
 * GCC 12 spills the pointers and loop counts of the same code in C). Per channel: the first step
 * without accumulation (VMLADAV into r0/r2/r4/r6, even registers as VMLADAV requires), n more with
 * (a low-overhead WLS/LE loop), the four sums into one vector (VMOV D, Rt, Rt2 twice), + bias, the
 * requantization of tinyml_mve_rq step for step, the clamp and the byte scatter. The weights step
 * past the channel's k values into the next channel's row (they meet the block's zeros) and step
 * back by kd = kp - k. */
#define TINYML_MVE_MAT4_STEP(ACC)                                                                    \
    "vldrb.8 %q[W], [%[wc]], #16\n\t"                                                                \
    "vldrb.8 %q[X], [%[x], #16]\n\t"                                                                 \
    "vmladav" ACC ".s8 r2, %q[X], %q[W]\n\t"                                                         \
    "vldrb.8 %q[X], [%[x], #32]\n\t"                                                                 \
    "vmladav" ACC ".s8 r4, %q[X], %q[W]\n\t"                                                         \
    "vldrb.8 %q[X], [%[x], #48]\n\t"                                                                 \
    "vmladav" ACC ".s8 r6, %q[X], %q[W]\n\t"                                                         \
    "vldrb.8 %q[X], [%[x]], #64\n\t"                                                                 \
    "vmladav" ACC ".s8 r0, %q[X], %q[W]\n\t"
#define TINYML_MVE_MAT4_HEAD                                                                         \
    "1:\n\t"                                                                                         \
    "ldr %[x], %[rows]\n\t" TINYML_MVE_MAT4_STEP("")                                                \
    "ldr lr, %[n]\n\t"                                                                               \
    "wls lr, lr, 3f\n\t"                                                                             \
    "2:\n\t" TINYML_MVE_MAT4_STEP("a")                                                              \
    "le lr, 2b\n\t"                                                                                  \
    "3:\n\t"                                                                                         \
    "vmov %e[W], r0, r2\n\t"                                                                         \
    "vmov %f[W], r4, r6\n\t"
#define TINYML_MVE_MAT4_RQ_FAST /* bias, mult, rnd, shift */                                        \
    "ldrd r0, r2, [%[q]], #16\n\t"                                                                   \
    "ldrd r4, r6, [%[q], #-8]\n\t"                                                                   \
    "vadd.i32 %q[W], %q[W], r0\n\t"                                                                  \
    "vqrdmulh.s32 %q[W], %q[W], r2\n\t"                                                              \
    "vshr.s32 %q[X], %q[W], #31\n\t"                                                                 \
    "vadd.i32 %q[W], %q[W], r4\n\t"                                                                  \
    "vadd.i32 %q[W], %q[W], %q[X]\n\t"                                                               \
    "rsbs r6, r6, #0\n\t"                                                                            \
    "vshl.s32 %q[W], r6\n\t"
#define TINYML_MVE_MAT4_RQ_EXACT /* bias, mult, shift; left = max(shift, 0), r6 = -e = min(shift, 0) */ \
    "ldrd r0, r2, [%[q]], #16\n\t"                                                                   \
    "ldr r6, [%[q], #-4]\n\t"                                                                        \
    "vadd.i32 %q[W], %q[W], r0\n\t"                                                                  \
    "bic r4, r6, r6, asr #31\n\t"                                                                    \
    "and r6, r6, r6, asr #31\n\t"                                                                    \
    "vshl.s32 %q[W], r4\n\t"                                                                         \
    "vqrdmulh.s32 %q[W], %q[W], r2\n\t"                                                              \
    "vdup.32 %q[X], r6\n\t"                                                                          \
    "vand %q[X], %q[W], %q[X]\n\t"                                                                   \
    "vshr.s32 %q[X], %q[X], #31\n\t"                                                                 \
    "vqadd.s32 %q[W], %q[W], %q[X]\n\t"                                                              \
    "vrshl.s32 %q[W], r6\n\t"                                                                        \
    "vadd.i32 %q[W], %q[W], %q[oo]\n\t"
#define TINYML_MVE_MAT4_TAIL(STORE)                                                                  \
    "vmin.s32 %q[W], %q[W], %q[hi]\n\t"                                                              \
    "vmax.s32 %q[W], %q[W], %q[lo]\n\t" STORE                                                        \
    "adds %[y], %[y], #1\n\t"                                                                        \
    "subs %[wc], %[wc], %[kd]\n\t"                                                                   \
    "cmp %[q], %[qend]\n\t"                                                                          \
    "bne 1b\n\t"
#define TINYML_MVE_MAT4_ST4 "vstrb.32 %q[W], [%[y], %q[offs]]\n\t"
#define TINYML_MVE_MAT4_ST3 "vpst\n\tvstrbt.32 %q[W], [%[y], %q[offs]]\n\t"
#define TINYML_MVE_MAT4_ASM(RQ, ST, ...)                                                             \
    __asm__ volatile(TINYML_MVE_MAT4_HEAD RQ TINYML_MVE_MAT4_TAIL(ST)                               \
                     : [x] "=&r"(x), [wc] "+r"(w), [y] "+r"(out), [q] "+r"(q), [W] "=&w"(wv), [X] "=&w"(xv) \
                     : [rows] "m"(rows), [kd] "r"(kp - k), [qend] "r"(qlast), [n] "m"(n), [lo] "w"(lo),    \
                       [hi] "w"(hi), [offs] "w"(offs), __VA_ARGS__                                   \
                     : "r0", "r2", "r4", "r6", "lr", "cc", "memory")

/* The last channel in C: its final weight step predicated (nothing past the filter is read). */
TINYML_MVE_INLINE int32x4_t tinyml_mve_dot4_last(const int8_t *rows, const int8_t *w, int32_t n, mve_pred16_t pl) {
    const int8_t *x = rows;
    int8x16_t wv = n == 0 ? vldrbq_z_s8(w, pl) : vldrbq_s8(w);
    int32_t a0 = vmladavq_s8(vldrbq_s8(x), wv), a1 = vmladavq_s8(vldrbq_s8(x + 16), wv);
    int32_t a2 = vmladavq_s8(vldrbq_s8(x + 32), wv), a3 = vmladavq_s8(vldrbq_s8(x + 48), wv);
    int32_t i;
    for (i = 1; i <= n; ++i) {
        x += 64;
        w += 16;
        wv = i == n ? vldrbq_z_s8(w, pl) : vldrbq_s8(w);
        a0 = vmladavaq_s8(a0, vldrbq_s8(x), wv);
        a1 = vmladavaq_s8(a1, vldrbq_s8(x + 16), wv);
        a2 = vmladavaq_s8(a2, vldrbq_s8(x + 32), wv);
        a3 = vmladavaq_s8(a3, vldrbq_s8(x + 48), wv);
    }
    return tinyml_mve_lanes(a0, a1, a2, a3);
}

/* Outputs out[px * out_c + oc], px < NP (3 or 4, a compile-time constant), of k > 16 from the
 * interleaved block `rows` (see tinyml_mve_put_row). */
TINYML_MVE_INLINE void tinyml_mve_mat4p(const tinyml_conv2d_params_t *p, const int8_t *rows, int32_t k, int32_t kp,
                                        const int8_t *filter, const tinyml_chanq_t *q, int8_t *out, int32_t NP,
                                        int32_t fast) {
    const int32_t n = (kp >> 4) - 1; /* steps after the first */
    const mve_pred16_t pp = vctp32q((uint32_t)NP);
    const mve_pred16_t pl = vctp8q((uint32_t)(k - 16 * n)); /* the filter's last step */
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
    const int32x4_t lo = vdupq_n_s32(TINYML_MAX(p->act_min, -128));
    const int32x4_t hi = vdupq_n_s32(TINYML_MIN(p->act_max, 127));
    const tinyml_chanq_t *const qlast = q + p->out_c - 1;
    const int8_t *w = filter, *x;
    int8x16_t wv, xv;
    int32x4_t v;
#if defined(__OPTIMIZE__)
    if (q < qlast) {
        if (fast) {
            if (NP == 4) {
                TINYML_MVE_MAT4_ASM(TINYML_MVE_MAT4_RQ_FAST, TINYML_MVE_MAT4_ST4, [oo] "w"(lo));
            } else {
                TINYML_MVE_MAT4_ASM(TINYML_MVE_MAT4_RQ_FAST, TINYML_MVE_MAT4_ST3, [oo] "w"(lo), "Up"(pp));
            }
        } else {
            const int32x4_t oo = vdupq_n_s32(p->output_offset);
            if (NP == 4) {
                TINYML_MVE_MAT4_ASM(TINYML_MVE_MAT4_RQ_EXACT, TINYML_MVE_MAT4_ST4, [oo] "w"(oo));
            } else {
                TINYML_MVE_MAT4_ASM(TINYML_MVE_MAT4_RQ_EXACT, TINYML_MVE_MAT4_ST3, [oo] "w"(oo), "Up"(pp));
            }
        }
        (void)x;
        (void)wv;
        (void)xv;
    }
#else /* -O0 (GCC 12 cannot allocate the assembly's registers there): the same sums in C */
    (void)x;
    (void)wv;
    (void)xv;
    for (; q < qlast; ++q) {
        v = tinyml_mve_rq(vaddq_n_s32(tinyml_mve_dot4_last(rows, w, n, vctp8q(16)), q->bias), q, fast, p->output_offset,
                          lo, hi);
        vstrbq_scatter_offset_p_s32(out, offs, v, pp);
        out += 1;
        w += k;
    }
#endif
    v = tinyml_mve_rq(vaddq_n_s32(tinyml_mve_dot4_last(rows, w, n, pl), q->bias), q, fast, p->output_offset, lo, hi);
    vstrbq_scatter_offset_p_s32(out, offs, v, pp);
}

/* The same for k <= 16: the rows stay in four registers for all output channels. NP (3 or 4)
 * and PRED (k < 16: tail-predicated loads) are compile-time constants in the calls. */
TINYML_MVE_INLINE void tinyml_mve_mat4_short_k(const tinyml_conv2d_params_t *p, const int8_t *r0, int32_t k,
                                               const int8_t *filter, const tinyml_chanq_t *q, int8_t *out, int32_t NP,
                                               int32_t PRED, int32_t fast) {
    const mve_pred16_t pk = vctp8q((uint32_t)k);
    const mve_pred16_t pp = vctp32q((uint32_t)NP);
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)p->out_c);
    const int32x4_t lo = vdupq_n_s32(TINYML_MAX(p->act_min, -128));
    const int32x4_t hi = vdupq_n_s32(TINYML_MIN(p->act_max, 127));
    const int8x16_t x0 = PRED ? vldrbq_z_s8(r0, pk) : vldrbq_s8(r0);
    const int8x16_t x1 = PRED ? vldrbq_z_s8(r0 + k, pk) : vldrbq_s8(r0 + k);
    const int8x16_t x2 = PRED ? vldrbq_z_s8(r0 + 2 * k, pk) : vldrbq_s8(r0 + 2 * k);
    const int8x16_t x3 = NP < 4 ? vdupq_n_s8(0) : PRED ? vldrbq_z_s8(r0 + 3 * k, pk) : vldrbq_s8(r0 + 3 * k);
    const int8_t *w = filter;
    const tinyml_chanq_t *const qend = q + p->out_c;
    for (; q < qend; ++q) {
        const int8x16_t wv = PRED ? vldrbq_z_s8(w, pk) : vldrbq_s8(w);
        const int32x4_t acc = vaddq_n_s32(tinyml_mve_lanes(vmladavq_s8(x0, wv), vmladavq_s8(x1, wv),
                                                           vmladavq_s8(x2, wv), vmladavq_s8(x3, wv)),
                                          q->bias);
        const int32x4_t v = tinyml_mve_rq(acc, q, fast, p->output_offset, lo, hi);
        if (NP == 4) {
            vstrbq_scatter_offset_s32(out, offs, v);
        } else {
            vstrbq_scatter_offset_p_s32(out, offs, v, pp);
        }
        out += 1;
        w += k;
    }
}

/* rows r0, r0 + k, ... of np (3 or 4) pixels */
TINYML_MVE_INLINE void tinyml_mve_mat4_short(const tinyml_conv2d_params_t *p, const int8_t *r0, int32_t k,
                                             const int8_t *filter, const tinyml_chanq_t *q, int8_t *out, int32_t np,
                                             int32_t fast) {
    if (np == 4) {
        if (k == 16) {
            tinyml_mve_mat4_short_k(p, r0, k, filter, q, out, 4, 0, fast);
        } else {
            tinyml_mve_mat4_short_k(p, r0, k, filter, q, out, 4, 1, fast);
        }
    } else {
        tinyml_mve_mat4_short_k(p, r0, k, filter, q, out, 3, 1, fast);
    }
}

/* One row x of k int8 values (a lone last pixel): four output channels per pass, each with its
 * own filter row against the one input vector, then requantized as one vector (lanes = channels)
 * and stored contiguously (predicated for the last out_c % 4). */
TINYML_MVE_INLINE void tinyml_mve_mat1(const tinyml_conv2d_params_t *p, const int8_t *x, int32_t k,
                                       const int8_t *filter, const tinyml_chanq_t *q, int8_t *out, int32_t fast) {
    const int32_t out_c = p->out_c;
    const int32_t kv = k >> 4;
    const int32_t kt = k & 15;
    const mve_pred16_t pt = vctp8q((uint32_t)kt);
    const int32x4_t lo = vdupq_n_s32(TINYML_MAX(p->act_min, -128));
    const int32x4_t hi = vdupq_n_s32(TINYML_MIN(p->act_max, 127));
    int32_t oc, i;
    for (oc = 0; oc < out_c; oc += 4) {
        const int32_t nc = TINYML_MIN(4, out_c - oc);
        const mve_pred16_t pn = vctp32q((uint32_t)nc);
        /* channels past out_c repeat the last one: computed, not stored */
        const int8_t *w0 = filter + oc * k;
        const int8_t *w1 = w0 + (nc > 1) * k, *w2 = w0 + (nc > 2) * 2 * k, *w3 = w0 + (nc > 3) * 3 * k;
        const int8_t *xi = x;
        int32_t a0 = q[oc].bias, a1 = q[oc + (nc > 1)].bias, a2 = q[oc + 2 * (nc > 2)].bias,
                a3 = q[oc + 3 * (nc > 3)].bias;
        for (i = 0; i < kv; ++i) {
            const int8x16_t xv = vldrbq_s8(xi);
            a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w0));
            a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1));
            a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2));
            a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3));
            xi += 16;
            w0 += 16;
            w1 += 16;
            w2 += 16;
            w3 += 16;
        }
        if (kt) {
            const int8x16_t xv = vldrbq_z_s8(xi, pt);
            a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w0, pt));
            a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, pt));
            a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2, pt));
            a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3, pt));
        }
        vstrbq_p_s32(out + oc,
                     tinyml_mve_rq4(tinyml_mve_lanes(a0, a1, a2, a3), q + oc, pn, fast, p->output_offset, lo, hi), pn);
    }
}

/* ---- 1x1 ---------------------------------------------------------------------------------- */

TINYML_MVE_INLINE void tinyml_mve_conv1x1_body(const tinyml_conv2d_params_t *p, const int8_t *input,
                                               const int8_t *filter, const tinyml_chanq_t *q, int8_t *output,
                                               int8_t *scratch, int32_t fast) {
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t k = p->in_c;
    const int32_t blocks = (pixels + TINYML_OPT_PIXELS - 1) / TINYML_OPT_PIXELS;
    const int32_t backwards = input == output && p->out_c > p->in_c;
    int32_t n;
    for (n = 0; n < blocks; ++n) {
        int32_t np;
        const int32_t pix0 = tinyml_opt_block(n, blocks, pixels, backwards, &np);
        const int8_t *src = input + pix0 * k;
        int8_t *dst = output + pix0 * p->out_c;
        if (np <= 2) {
            /* one pixel at a time, in the walking order; copied first only in place (a layer of
             * one or two pixels gets k bytes of scratch in place, else none) */
            int32_t i;
            for (i = 0; i < np; ++i) {
                const int32_t px = backwards ? np - 1 - i : i;
                const int8_t *x = src + px * k;
                if (input == output) {
                    tinyml_mve_copy(scratch, x, k);
                    x = scratch;
                }
                tinyml_mve_mat1(p, x, k, filter, q, dst + px * p->out_c, fast);
            }
        } else if (k <= 16) {
            /* the rows go to registers before any output byte is written */
            tinyml_mve_mat4_short(p, src, k, filter, q, dst, np, fast);
        } else {
            /* the block's rows, zero-padded, before any output byte (4 * kp <= the planned scratch) */
            const int32_t kp = (k + 15) & ~15;
            int32_t px;
            for (px = 0; px < np; ++px) {
                tinyml_mve_put_row(scratch, px, src + px * k, k, kp);
            }
            if (np == 3) {
                tinyml_mve_zero_row(scratch, 3, kp);
            }
            if (np == 4) {
                tinyml_mve_mat4p(p, scratch, k, kp, filter, q, dst, 4, fast);
            } else {
                tinyml_mve_mat4p(p, scratch, k, kp, filter, q, dst, 3, fast);
            }
        }
    }
}

void tinyml_conv1x1_s8_opt(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                           const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
    if (p->fast_rq) {
        tinyml_mve_conv1x1_body(p, input, filter, q, output, scratch, 1);
    } else {
        tinyml_mve_conv1x1_body(p, input, filter, q, output, scratch, 0);
    }
}

/* ---- general (im2col) ---------------------------------------------------------------------- */

/* The im2col row of output pixel (b, oy, ox): taps in filter order, padded taps = the zero point
 * (the general case; tinyml_mve_conv2d_body copies pixels whose taps are all inside itself). */
static void tinyml_mve_im2col_row(const tinyml_conv2d_params_t *p, const int8_t *input, int32_t b, int32_t oy,
                                  int32_t ox, int8_t *row) {
    const int32_t ic = p->in_c;
    const int8x16_t pad = vdupq_n_s8((int8_t)(-p->input_offset));
    const tinyml_conv_window_t wy = tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h, p->in_h, p->filter_h);
    const tinyml_conv_window_t wx = tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w, p->in_w, p->filter_w);
    const int32_t seg = p->filter_w * ic;
    int32_t ky, kx;
    for (ky = 0; ky < p->filter_h; ++ky) {
        int8_t *dst = row + ky * seg;
        if (ky < wy.lo || ky >= wy.hi) {
            tinyml_mve_fill(dst, pad, seg);
            continue;
        }
        {
            const int32_t iy = wy.origin + ky * p->dilation_h;
            /* tap kx reads input column wx.origin + kx * dilation_w, for kx in [wx.lo, wx.hi) */
            const int8_t *src = input + ((b * p->in_h + iy) * p->in_w + wx.origin + wx.lo * p->dilation_w) * ic;
            tinyml_mve_fill(dst, pad, wx.lo * ic);
            if (p->dilation_w == 1) {
                tinyml_mve_copy(dst + wx.lo * ic, src, (wx.hi - wx.lo) * ic);
            } else {
                for (kx = wx.lo; kx < wx.hi; ++kx) {
                    tinyml_mve_copy(dst + kx * ic, src, ic);
                    src += p->dilation_w * ic;
                }
            }
            tinyml_mve_fill(dst + wx.hi * ic, pad, (p->filter_w - wx.hi) * ic);
        }
    }
}

TINYML_MVE_INLINE void tinyml_mve_conv2d_body(const tinyml_conv2d_params_t *p, const int8_t *input,
                                              const int8_t *filter, const tinyml_chanq_t *q, int8_t *output,
                                              int8_t *scratch, int32_t fast) {
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    const int32_t kp = (k + 15) & ~15;
    const int32_t seg = p->filter_w * p->in_c;
    const mve_pred16_t pseg = vctp8q((uint32_t)seg);
    const int32_t dense = p->dilation_w == 1; /* a filter row is one run of the input row */
    const int32_t fh_span = (p->filter_h - 1) * p->dilation_h, fw_span = p->filter_w - 1;
    const int32_t ystep = p->dilation_h * p->in_w * p->in_c;
    int32_t b = 0, oy = 0, ox = 0; /* the next output pixel */
    int32_t pix0, px;
    for (pix0 = 0; pix0 < pixels; pix0 += TINYML_OPT_PIXELS) {
        const int32_t np = TINYML_MIN(TINYML_OPT_PIXELS, pixels - pix0);
        /* the im2col rows at stride k (a layer of <= 2 pixels plans only these 4 * k bytes) */
        for (px = 0; px < np; ++px) {
            int8_t *row = scratch + px * k;
            const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
            if (dense && iy0 >= 0 && iy0 + fh_span < p->in_h && ix0 >= 0 && ix0 + fw_span < p->in_w) {
                /* all taps inside the image (most pixels): one copy of filter_w * in_c bytes per row */
                const int8_t *src = input + ((b * p->in_h + iy0) * p->in_w + ix0) * p->in_c;
                int32_t ky;
                for (ky = 0; ky < p->filter_h; ++ky) {
                    if (seg <= 16) {
                        vstrbq_p_s8(row, vldrbq_z_s8(src, pseg), pseg);
                    } else {
                        tinyml_mve_copy(row, src, seg);
                    }
                    row += seg;
                    src += ystep;
                }
                row -= k;
            } else {
                tinyml_mve_im2col_row(p, input, b, oy, ox, row);
            }
            if (++ox == p->out_w) { /* the next output pixel */
                ox = 0;
                if (++oy == p->out_h) {
                    oy = 0;
                    ++b;
                }
            }
        }
        if (np <= 2) {
            for (px = 0; px < np; ++px) {
                tinyml_mve_mat1(p, scratch + px * k, k, filter, q, output + (pix0 + px) * p->out_c, fast);
            }
        } else if (k <= 16) {
            tinyml_mve_mat4_short(p, scratch, k, filter, q, output + pix0 * p->out_c, np, fast);
        } else {
            /* k > 16: the interleaved block after the rows (4 * k + 4 * kp <= 4 * k + the DSP share
             * TINYML_MAT_SCRATCH_DSP(k) for k >= 9) */
            int8_t *block = scratch + 4 * k;
            for (px = 0; px < np; ++px) {
                tinyml_mve_put_row(block, px, scratch + px * k, k, kp);
            }
            if (np == 4) {
                tinyml_mve_mat4p(p, block, k, kp, filter, q, output + pix0 * p->out_c, 4, fast);
            } else {
                tinyml_mve_zero_row(block, 3, kp);
                tinyml_mve_mat4p(p, block, k, kp, filter, q, output + pix0 * p->out_c, 3, fast);
            }
        }
    }
}

void tinyml_conv2d_s8_opt(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                          const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
    if (p->fast_rq) {
        tinyml_mve_conv2d_body(p, input, filter, q, output, scratch, 1);
    } else {
        tinyml_mve_conv2d_body(p, input, filter, q, output, scratch, 0);
    }
}

#else /* no integer MVE: ../conv_opt.c defines the functions */
typedef int tinyml_conv_opt_mve_unused_t; /* ISO C: a translation unit is not empty */
#endif
