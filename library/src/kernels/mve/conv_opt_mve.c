/* CONV_2D, int8, optimized (tinyml/conv_opt.h), Helium (MVE) build: Cortex-M55 and other
 * Armv8.1-M cores with integer MVE. The same two functions as ../conv_opt.c (which compiles them
 * only without integer MVE), the same results bit for bit, at most the same scratch.
 *
 * Matrix product over blocks of four output pixels, one output channel at a time: the four
 * pixels' int8 rows (1x1: the input rows; general: their im2col rows) meet the channel's int8
 * filter row in VMLADAVA, which adds the sixteen products of a vector pair to a scalar: per
 * sixteen values of k, five 128-bit loads and four VMLADAVA serve 64 MACs. The k % 16 last values
 * are one tail-predicated step (VCTP; the _z loads read no byte past k and zero the other lanes,
 * so their products are 0). Every sum is b' + sum(w * x) in int32, exact modulo 2^32 in any order,
 * as in the DSP and plain-C kernels.
 *
 * The four accumulators of a channel become one vector (lanes = pixels) and are requantized
 * together with the channel's scalar constants, then stored with one byte scatter (stride out_c;
 * predicated for a last block of fewer than four pixels):
 *  - fast_rq: VSHL by lsh, VRMULH (round((a * m) / 2^32), half up: SMMULR lane by lane), then
 *    (y + rnd + (y >> 31)) >> rsh with VADD/VSHR/VSHL: tinyml_rq_fast's operations, in the same
 *    int32 wrap-around arithmetic, for every input;
 *  - otherwise TFLite's: VSHL by max(shift, 0) (wraps like the scalar (uint32_t)x << left);
 *    VQRDMULH, which is gemmlowp's SaturatingRoundingDoublingHighMul exactly: (a * b + 2^30) >> 31
 *    (= the reference's nudge and truncating division, see tinyml/opt.h), saturating only
 *    INT32_MIN * INT32_MIN to INT32_MAX; then RoundingDivideByPOT by e = max(-shift, 0) as
 *    VRSHL by -e (round half up, computed without overflow) of y - 1 for y < 0 and e > 0
 *    (VQADD: only INT32_MIN saturates, and it gives the same quotient): half away from zero;
 *  - clamp: VMIN/VMAX with [max(act_min, -128), min(act_max, 127)], which equals SSAT to 8 bits
 *    followed by the activation clamp whenever act_min <= act_max (every TFLite layer).
 *
 * In place (1x1, output == input): blocks are walked as in ../conv_opt.c (backwards when out_c >
 * in_c), and each block's four input rows are read completely (k <= 16: into registers; else into
 * scratch) before its first output byte is written. Scratch: 1x1 k <= 16 none, else 4 * in_c
 * bytes; general 4 * k bytes (the im2col rows); both within the planned sizes.
 */
#include "tinyml/conv_opt.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

/* The vector (a0, a1, a2, a3): two lanes per VMOV (GCC 12 inserts one lane per instruction). */
TINYML_INLINE int32x4_t tinyml_mve_lanes(int32_t a0, int32_t a1, int32_t a2, int32_t a3) {
    int32x4_t v;
    __asm__("vmov %q0[2], %q0[0], %1, %2\n\tvmov %q0[3], %q0[1], %3, %4"
            : "=&w"(v)
            : "r"(a0), "r"(a2), "r"(a1), "r"(a3));
    return v;
}

/* Requantization of four accumulators of one channel (see the file comment), plus the output
 * offset, clamped to [lo, hi]. */
TINYML_INLINE int32x4_t tinyml_mve_rq(int32x4_t acc, const tinyml_chanq_t *q, int32_t fast, int32_t out_offset,
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
TINYML_INLINE int32x4_t tinyml_mve_rq4(int32x4_t acc, const tinyml_chanq_t *q, mve_pred16_t pn, int32_t fast,
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
TINYML_INLINE void tinyml_mve_copy(int8_t *dst, const int8_t *src, int32_t n) {
    while (n > 0) {
        const mve_pred16_t pr = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
        dst += 16;
        src += 16;
        n -= 16;
    }
}

TINYML_INLINE void tinyml_mve_fill(int8_t *dst, int8x16_t v, int32_t n) {
    while (n > 0) {
        vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
        dst += 16;
        n -= 16;
    }
}

/* Outputs out[px * out_c + oc], px < np, of the rows r0..r3 of k > 16 int8 values (rows past np
 * may repeat a valid row: their sums are computed and dropped). */
TINYML_INLINE void tinyml_mve_mat4(const tinyml_conv2d_params_t *p, const int8_t *r0, const int8_t *r1,
                                   const int8_t *r2, const int8_t *r3, int32_t k, const int8_t *filter,
                                   const tinyml_chanq_t *q, int8_t *out, int32_t np, int32_t fast) {
    const int32_t out_c = p->out_c;
    const int32_t kv = k >> 4;
    const int32_t kt = k & 15;
    const mve_pred16_t pt = vctp8q((uint32_t)kt);
    const mve_pred16_t pp = vctp32q((uint32_t)np);
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    const int32x4_t lo = vdupq_n_s32(TINYML_MAX(p->act_min, -128));
    const int32x4_t hi = vdupq_n_s32(TINYML_MIN(p->act_max, 127));
    const int8_t *w = filter;
    int32_t oc, i;
    for (oc = 0; oc < out_c; ++oc, ++q) {
        const int8_t *x0 = r0, *x1 = r1, *x2 = r2, *x3 = r3;
        int32_t a0 = q->bias, a1 = a0, a2 = a0, a3 = a0;
        int32x4_t v;
        for (i = 0; i < kv; ++i) {
            const int8x16_t wv = vldrbq_s8(w);
            a0 = vmladavaq_s8(a0, vldrbq_s8(x0), wv);
            a1 = vmladavaq_s8(a1, vldrbq_s8(x1), wv);
            a2 = vmladavaq_s8(a2, vldrbq_s8(x2), wv);
            a3 = vmladavaq_s8(a3, vldrbq_s8(x3), wv);
            w += 16;
            x0 += 16;
            x1 += 16;
            x2 += 16;
            x3 += 16;
        }
        if (kt) {
            const int8x16_t wv = vldrbq_z_s8(w, pt);
            a0 = vmladavaq_s8(a0, vldrbq_z_s8(x0, pt), wv);
            a1 = vmladavaq_s8(a1, vldrbq_z_s8(x1, pt), wv);
            a2 = vmladavaq_s8(a2, vldrbq_z_s8(x2, pt), wv);
            a3 = vmladavaq_s8(a3, vldrbq_z_s8(x3, pt), wv);
            w += kt;
        }
        v = tinyml_mve_rq(tinyml_mve_lanes(a0, a1, a2, a3), q, fast, p->output_offset, lo, hi);
        if (np == 4) {
            vstrbq_scatter_offset_s32(out + oc, offs, v);
        } else {
            vstrbq_scatter_offset_p_s32(out + oc, offs, v, pp);
        }
    }
}

/* The same for k <= 16: the rows stay in four registers for all output channels. Rows at or past
 * np are not read (zero vectors). */
TINYML_INLINE void tinyml_mve_mat4_short(const tinyml_conv2d_params_t *p, const int8_t *r0, const int8_t *r1,
                                         const int8_t *r2, const int8_t *r3, int32_t k, const int8_t *filter,
                                         const tinyml_chanq_t *q, int8_t *out, int32_t np, int32_t fast) {
    const int32_t out_c = p->out_c;
    const mve_pred16_t pk = vctp8q((uint32_t)k);
    const mve_pred16_t pp = vctp32q((uint32_t)np);
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    const int32x4_t lo = vdupq_n_s32(TINYML_MAX(p->act_min, -128));
    const int32x4_t hi = vdupq_n_s32(TINYML_MIN(p->act_max, 127));
    const int8x16_t zero = vdupq_n_s8(0);
    const int8x16_t x0 = vldrbq_z_s8(r0, pk);
    const int8x16_t x1 = np > 1 ? vldrbq_z_s8(r1, pk) : zero;
    const int8x16_t x2 = np > 2 ? vldrbq_z_s8(r2, pk) : zero;
    const int8x16_t x3 = np > 3 ? vldrbq_z_s8(r3, pk) : zero;
    const int8_t *w = filter;
    int32_t oc;
    for (oc = 0; oc < out_c; ++oc, ++q) {
        const int8x16_t wv = vldrbq_z_s8(w, pk);
        const int32_t b = q->bias;
        const int32x4_t acc = tinyml_mve_lanes(vmladavaq_s8(b, x0, wv), vmladavaq_s8(b, x1, wv),
                                               vmladavaq_s8(b, x2, wv), vmladavaq_s8(b, x3, wv));
        const int32x4_t v = tinyml_mve_rq(acc, q, fast, p->output_offset, lo, hi);
        if (np == 4) {
            vstrbq_scatter_offset_s32(out + oc, offs, v);
        } else {
            vstrbq_scatter_offset_p_s32(out + oc, offs, v, pp);
        }
        w += k;
    }
}

/* One row x of k int8 values (a lone last pixel): four output channels per pass, each with its
 * own filter row against the one input vector, then requantized as one vector (lanes = channels)
 * and stored contiguously (predicated for the last out_c % 4). */
TINYML_INLINE void tinyml_mve_mat1(const tinyml_conv2d_params_t *p, const int8_t *x, int32_t k, const int8_t *filter,
                                   const tinyml_chanq_t *q, int8_t *out, int32_t fast) {
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

TINYML_INLINE void tinyml_mve_conv1x1_body(const tinyml_conv2d_params_t *p, const int8_t *input,
                                           const int8_t *filter, const tinyml_chanq_t *q, int8_t *output,
                                           int8_t *scratch, int32_t fast) {
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t k = p->in_c;
    const int32_t blocks = (pixels + TINYML_OPT_PIXELS - 1) / TINYML_OPT_PIXELS;
    /* in place with a wider output: walk from the last block (see tinyml_conv1x1_inplace_s8) */
    const int32_t backwards = input == output && p->out_c > p->in_c;
    int32_t n;
    for (n = 0; n < blocks; ++n) {
        const int32_t blk = backwards ? blocks - 1 - n : n;
        const int32_t pix0 = blk * TINYML_OPT_PIXELS;
        const int32_t np = TINYML_MIN(TINYML_OPT_PIXELS, pixels - pix0);
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
            tinyml_mve_mat4_short(p, src, src + k, src + 2 * k, src + 3 * k, k, filter, q, dst, np, fast);
        } else {
            const int8_t *rows = src;
            if (input == output) {
                tinyml_mve_copy(scratch, src, np * k); /* the block's rows, before any output byte */
                rows = scratch;
            }
            tinyml_mve_mat4(p, rows, rows + k, rows + 2 * k, rows + (np > 3) * 3 * k, k, filter, q, dst, np, fast);
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

/* The im2col row of output pixel (b, oy, ox): taps in filter order, padded taps = the zero point. */
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

TINYML_INLINE void tinyml_mve_conv2d_body(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                          const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast) {
    const int32_t per_image = p->out_h * p->out_w;
    const int32_t pixels = p->batches * per_image;
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    int32_t pix0, px;
    for (pix0 = 0; pix0 < pixels; pix0 += TINYML_OPT_PIXELS) {
        const int32_t np = TINYML_MIN(TINYML_OPT_PIXELS, pixels - pix0);
        for (px = 0; px < np; ++px) {
            const int32_t pix = pix0 + px;
            const int32_t b = pix / per_image, r = pix % per_image;
            tinyml_mve_im2col_row(p, input, b, r / p->out_w, r % p->out_w, scratch + px * k);
        }
        if (np <= 2) {
            for (px = 0; px < np; ++px) {
                tinyml_mve_mat1(p, scratch + px * k, k, filter, q, output + (pix0 + px) * p->out_c, fast);
            }
        } else if (k <= 16) {
            tinyml_mve_mat4_short(p, scratch, scratch + k, scratch + 2 * k, scratch + 3 * k, k, filter, q,
                                  output + pix0 * p->out_c, np, fast);
        } else {
            tinyml_mve_mat4(p, scratch, scratch + k, scratch + 2 * k, scratch + (np > 3) * 3 * k, k, filter, q,
                            output + pix0 * p->out_c, np, fast);
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
