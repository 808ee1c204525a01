/* CONV_2D, int8, optimized (tinyml/conv_opt.h): a matrix product over blocks of four output pixels.
 *
 * Bit-exact with tinyml_conv2d_s8: every output is the int32 sum b' + sum(w * x) of the same
 * products (b' = b - zp * sum(w), tinyml/opt.h; int32 sums are exact modulo 2^32 in any order),
 * requantized by TFLite's arithmetic or its proven-equal 32-bit form.
 *
 * With the Arm DSP extension, the four pixels' rows are widened once into scratch: for each block
 * of four values x0..x3, SXTB16 gives the 16-bit pairs (x0, x2) and (x1, x3), stored as two words
 * per pixel, pixel after pixel. A filter word w0..w3 is widened the same way (SXTB16, and SXTB16
 * of its rotation by 8), so lane k of a weight pair always meets lane k of an input pair and SMLAD
 * adds both products: per four weights, one load and two SXTB16 serve sixteen MACs in eight SMLAD.
 * The k % 4 last values go through a short scalar tail. Without DSP the same blocking runs on int8
 * rows copied to scratch (which also makes the 1x1 kernel safe in place).
 */
#include "tinyml/conv_opt.h"

/* Cores with integer MVE (Helium: Cortex-M55/M85) get these functions from mve/ instead. */
#if !(defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1))

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#define TINYML_OPT_DSP 1
#include <arm_acle.h>
#else
#define TINYML_OPT_DSP 0
#endif

#if TINYML_OPT_DSP
/* acc + the two products of a widened input pair (two words, one LDRD) with two weight pairs. */
/* Both words of a widened pair in one LDRD (GCC splits 64-bit loads into two LDR on M4; on the
 * M4/M7 pipeline LDRD costs what two pipelined LDR do, but it is one instruction). */
#define TINYML_PAIR(acc, x, i, w02, w13)                                                             \
    do {                                                                                            \
        int32_t lo_, hi_;                                                                           \
        __asm__("ldrd %0, %1, [%2, %3]" : "=r"(lo_), "=r"(hi_) : "r"(x), "i"(8 * (i)), "m"((x)[i])); \
        acc = __smlad(lo_, w02, acc);                                                               \
        acc = __smlad(hi_, w13, acc);                                                               \
    } while (0)

/* Widen row `px` (0..3) of a block of four rows of k int8: for each block b of four values, the
 * doubleword (x[4b], x[4b+2]) | (x[4b+1], x[4b+3]) << 32 at buf[4b + px]; the k % 4 tail values
 * as int32 at ((int32_t *)(buf + 4 * (k / 4)))[4j + px]. */
static void tinyml_widen_row(uint64_t *buf, const int8_t *row, int32_t k, int32_t px) {
    const int32_t n = TINYML_OPT_PIXELS;
    const int32_t kb = k >> 2;
    uint64_t *dst = buf + px;
    int32_t *tail = (int32_t *)(void *)(buf + n * kb);
    int32_t b, j;
    for (b = 0; b < kb; ++b) {
        const int32_t v = tinyml_ld32(row + 4 * b);
        *dst = (uint32_t)__sxtb16(v) | ((uint64_t)(uint32_t)tinyml_sxtb16_r8(v) << 32);
        dst += n;
    }
    for (j = 0; j < (k & 3); ++j) {
        tail[n * j + px] = row[4 * kb + j];
    }
}

/* acc + the four products of an input word (widened: x02, x13) with the filter word at w. */
#define TINYML_DOT4(acc, x02, x13, w)                                                                \
    do {                                                                                            \
        const int32_t wv_ = tinyml_ld32(w);                                                         \
        acc = __smlad(x02, __sxtb16(wv_), acc);                                                     \
        acc = __smlad(x13, tinyml_sxtb16_r8(wv_), acc);                                             \
    } while (0)

/* One pixel (an int8 row, widened in registers) times the filter, four output channels per pass:
 * a lone pixel (a fully connected layer, the last layers of a CNN) needs no widened buffer. */
TINYML_INLINE void tinyml_mat1(const tinyml_conv2d_params_t *p, const int8_t *x, int32_t k, const int8_t *filter,
                               const tinyml_chanq_t *q, int8_t *out, int32_t fast, int32_t narrow) {
    const int32_t k4 = k & ~(int32_t)3;
    const int32_t out_c = p->out_c;
    int32_t oc = 0, d, n, i;
    while (oc < out_c) {
        const int8_t *w = filter + oc * k;
        int32_t acc[4];
        n = TINYML_MIN(4, out_c - oc);
        if (n == 4) {
            int32_t a0 = q[oc].bias, a1 = q[oc + 1].bias, a2 = q[oc + 2].bias, a3 = q[oc + 3].bias;
            for (d = 0; d < k4; d += 4) {
                const int32_t xv = tinyml_ld32(x + d);
                const int32_t x02 = __sxtb16(xv), x13 = tinyml_sxtb16_r8(xv);
                TINYML_DOT4(a0, x02, x13, w + d);
                TINYML_DOT4(a1, x02, x13, w + k + d);
                TINYML_DOT4(a2, x02, x13, w + 2 * k + d);
                TINYML_DOT4(a3, x02, x13, w + 3 * k + d);
            }
            acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
        } else {
            for (i = 0; i < n; ++i) {
                const int8_t *wi = w + i * k;
                int32_t a = q[oc + i].bias;
                for (d = 0; d < k4; d += 4) {
                    const int32_t xv = tinyml_ld32(x + d);
                    TINYML_DOT4(a, __sxtb16(xv), tinyml_sxtb16_r8(xv), wi + d);
                }
                acc[i] = a;
            }
        }
        for (i = 0; i < n; ++i) {
            int32_t a = acc[i];
            for (d = k4; d < k; ++d) {
                a += x[d] * w[i * k + d];
            }
            out[oc + i] = tinyml_rq_out(a, &q[oc + i], fast, narrow, p->output_offset, p->act_min, p->act_max);
        }
        oc += n;
    }
}

/* out[px * out_c + oc] for px < np, from the widened block in buf. */
TINYML_INLINE void tinyml_mat4(const tinyml_conv2d_params_t *p, const uint64_t *buf, int32_t k, const int8_t *filter,
                               const tinyml_chanq_t *q, int8_t *out, int32_t np, int32_t fast, int32_t narrow) {
    const int32_t kb = k >> 2;
    const int32_t kt = k & 3;
    const int32_t out_c = p->out_c;
    const int32_t *tail = (const int32_t *)(const void *)(buf + 4 * kb);
    int32_t oc;
    for (oc = 0; oc < out_c; ++oc, ++q) {
        const int8_t *w = filter + oc * k;
        const uint64_t *x = buf;
        int32_t a0 = q->bias, a1 = a0, a2 = a0, a3 = a0;
        int32_t b, j;
        for (b = 0; b + 1 < kb; b += 2) {
            int32_t wv = tinyml_ld32(w);
            int32_t w02 = __sxtb16(wv), w13 = tinyml_sxtb16_r8(wv);
            TINYML_PAIR(a0, x, 0, w02, w13);
            TINYML_PAIR(a1, x, 1, w02, w13);
            TINYML_PAIR(a2, x, 2, w02, w13);
            TINYML_PAIR(a3, x, 3, w02, w13);
            wv = tinyml_ld32(w + 4);
            w02 = __sxtb16(wv);
            w13 = tinyml_sxtb16_r8(wv);
            TINYML_PAIR(a0, x, 4, w02, w13);
            TINYML_PAIR(a1, x, 5, w02, w13);
            TINYML_PAIR(a2, x, 6, w02, w13);
            TINYML_PAIR(a3, x, 7, w02, w13);
            w += 8;
            x += 8;
        }
        if (b < kb) {
            const int32_t wv = tinyml_ld32(w);
            const int32_t w02 = __sxtb16(wv), w13 = tinyml_sxtb16_r8(wv);
            TINYML_PAIR(a0, x, 0, w02, w13);
            TINYML_PAIR(a1, x, 1, w02, w13);
            TINYML_PAIR(a2, x, 2, w02, w13);
            TINYML_PAIR(a3, x, 3, w02, w13);
            w += 4;
        }
        for (j = 0; j < kt; ++j) {
            const int32_t wj = w[j];
            a0 += tail[4 * j] * wj;
            a1 += tail[4 * j + 1] * wj;
            a2 += tail[4 * j + 2] * wj;
            a3 += tail[4 * j + 3] * wj;
        }
        out[oc] = tinyml_rq_out(a0, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
        if (np == 4) {
            out[out_c + oc] = tinyml_rq_out(a1, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
            out[2 * out_c + oc] = tinyml_rq_out(a2, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
            out[3 * out_c + oc] = tinyml_rq_out(a3, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
        } else {
            if (np > 1) {
                out[out_c + oc] = tinyml_rq_out(a1, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
            }
            if (np > 2) {
                out[2 * out_c + oc] = tinyml_rq_out(a2, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
            }
        }
    }
}

#else /* plain C: four int8 rows, one after another, in scratch */

TINYML_INLINE void tinyml_mat1(const tinyml_conv2d_params_t *p, const int8_t *row, int32_t k, const int8_t *filter,
                               const tinyml_chanq_t *q, int8_t *out, int32_t fast, int32_t narrow) {
    int32_t oc = 0, i;
    for (; oc + 3 < p->out_c; oc += 4) { /* four filters share each input load */
        const int8_t *w0 = filter + oc * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
        int32_t a0 = q[oc].bias, a1 = q[oc + 1].bias, a2 = q[oc + 2].bias, a3 = q[oc + 3].bias;
        for (i = 0; i < k; ++i) {
            const int32_t x = row[i];
            a0 += x * w0[i];
            a1 += x * w1[i];
            a2 += x * w2[i];
            a3 += x * w3[i];
        }
        out[oc] = tinyml_rq_out(a0, &q[oc], fast, narrow, p->output_offset, p->act_min, p->act_max);
        out[oc + 1] = tinyml_rq_out(a1, &q[oc + 1], fast, narrow, p->output_offset, p->act_min, p->act_max);
        out[oc + 2] = tinyml_rq_out(a2, &q[oc + 2], fast, narrow, p->output_offset, p->act_min, p->act_max);
        out[oc + 3] = tinyml_rq_out(a3, &q[oc + 3], fast, narrow, p->output_offset, p->act_min, p->act_max);
    }
    for (; oc < p->out_c; ++oc) {
        const int8_t *w = filter + oc * k;
        int32_t a = q[oc].bias;
        for (i = 0; i < k; ++i) {
            a += row[i] * w[i];
        }
        out[oc] = tinyml_rq_out(a, &q[oc], fast, narrow, p->output_offset, p->act_min, p->act_max);
    }
}

TINYML_INLINE void tinyml_mat4(const tinyml_conv2d_params_t *p, const int8_t *rows, int32_t k, const int8_t *filter,
                               const tinyml_chanq_t *q, int8_t *out, int32_t np, int32_t fast, int32_t narrow) {
    const int32_t out_c = p->out_c;
    /* fewer than 4 pixels: the missing rows repeat row 0 (results unused), so nothing past the
     * last pixel is read (it may lie past the tensor, even past the arena; verify --sanitize) */
    const int8_t *r0 = rows, *r1 = np > 1 ? rows + k : rows, *r2 = np > 2 ? rows + 2 * k : rows;
    const int8_t *r3 = np > 3 ? rows + 3 * k : rows;
    int32_t oc, i;
    for (oc = 0; oc < out_c; ++oc, ++q) {
        const int8_t *w = filter + oc * k;
        int32_t a0 = q->bias, a1 = a0, a2 = a0, a3 = a0;
        for (i = 0; i < k; ++i) {
            const int32_t wi = w[i];
            a0 += r0[i] * wi;
            a1 += r1[i] * wi;
            a2 += r2[i] * wi;
            a3 += r3[i] * wi;
        }
        out[oc] = tinyml_rq_out(a0, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
        if (np > 1) {
            out[out_c + oc] = tinyml_rq_out(a1, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
        }
        if (np > 2) {
            out[2 * out_c + oc] = tinyml_rq_out(a2, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
        }
        if (np > 3) {
            out[3 * out_c + oc] = tinyml_rq_out(a3, q, fast, narrow, p->output_offset, p->act_min, p->act_max);
        }
    }
}
#endif

/* np (3 or 4) pixel rows, consecutive with stride k, times the filter: with DSP, widened into `wide`
 * first (all rows are read before any output is written); in plain C, straight from the rows. */
TINYML_INLINE void tinyml_mat_block(const tinyml_conv2d_params_t *p, const int8_t *rows, int32_t k,
                                    const int8_t *filter, const tinyml_chanq_t *q, int8_t *out, int32_t np,
                                    int8_t *wide, int32_t fast, int32_t narrow) {
#if TINYML_OPT_DSP
    int32_t px;
    for (px = 0; px < np; ++px) {
        tinyml_widen_row((uint64_t *)(void *)wide, rows + px * k, k, px);
    }
    tinyml_mat4(p, (const uint64_t *)(const void *)wide, k, filter, q, out, np, fast, narrow);
#else
    (void)wide;
    tinyml_mat4(p, rows, k, filter, q, out, np, fast, narrow);
#endif
}

/* ---- 1x1 ---------------------------------------------------------------------------------- */

TINYML_INLINE void tinyml_conv1x1_body(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                       const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast,
                                       int32_t narrow) {
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t k = p->in_c;
    const int32_t blocks = (pixels + TINYML_OPT_PIXELS - 1) / TINYML_OPT_PIXELS;
    const int32_t backwards = input == output && p->out_c > p->in_c;
    int32_t n;
    for (n = 0; n < blocks; ++n) {
        int32_t np;
        const int32_t pix0 = tinyml_opt_block(n, blocks, pixels, backwards, &np);
        if (np <= 2) { /* one pixel at a time; in place, each is copied first, in the block's walking order */
            int32_t i;
            for (i = 0; i < np; ++i) {
                const int32_t px = backwards ? np - 1 - i : i;
                const int8_t *x = input + (pix0 + px) * k;
                if (input == output) {
                    memcpy(scratch, x, (size_t)k);
                    x = scratch;
                }
                tinyml_mat1(p, x, k, filter, q, output + (pix0 + px) * p->out_c, fast, narrow);
            }
            continue;
        }
        {
            const int8_t *rows = input + pix0 * k;
#if !TINYML_OPT_DSP
            if (input == output) { /* in place: read the whole block before writing any of it */
                memcpy(scratch, rows, (size_t)(np * k));
                rows = scratch;
            }
#endif
            tinyml_mat_block(p, rows, k, filter, q, output + pix0 * p->out_c, np, scratch, fast, narrow);
        }
    }
}

void tinyml_conv1x1_s8_opt(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                           const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
#define TINYML_CALL(F, N) tinyml_conv1x1_body(p, input, filter, q, output, scratch, F, N)
    TINYML_OPT_DISPATCH(p->fast_rq, p->act_min > -128 || p->act_max < 127, TINYML_CALL);
#undef TINYML_CALL
}

/* ---- general (im2col) ---------------------------------------------------------------------- */

/* n bytes: a library call only where it pays (im2col segments are often a handful of bytes). */
TINYML_INLINE void tinyml_fill(int8_t *dst, int8_t v, int32_t n) {
    if (n >= 16) {
        memset(dst, v, (size_t)n);
    } else {
        while (n-- > 0) {
            *dst++ = v;
        }
    }
}

TINYML_INLINE void tinyml_copy(int8_t *dst, const int8_t *src, int32_t n) {
    if (n >= 16) {
        memcpy(dst, src, (size_t)n);
    } else {
        while (n-- > 0) {
            *dst++ = *src++;
        }
    }
}

/* The im2col row of output pixel (b, oy, ox): taps in filter order, padded taps = the zero point.
 * Without dilation along the width, a filter row's taps inside the input are one contiguous run of
 * the input row: the row is left padding, one copy, right padding. */
static void tinyml_im2col_row(const tinyml_conv2d_params_t *p, const int8_t *input, int32_t b, int32_t oy, int32_t ox,
                              int8_t *row) {
    const int32_t ic = p->in_c;
    const int8_t pad = (int8_t)(-p->input_offset);
    const tinyml_conv_window_t wy = tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h, p->in_h, p->filter_h);
    const tinyml_conv_window_t wx = tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w, p->in_w, p->filter_w);
    const int32_t seg = p->filter_w * ic;
    const int32_t left = wx.lo * ic, mid = (wx.hi - wx.lo) * ic;
    int32_t ky, kx;
    tinyml_fill(row, pad, wy.lo * seg);
    for (ky = wy.lo; ky < wy.hi; ++ky) {
        int8_t *dst = row + ky * seg;
        const int8_t *src = input + ((b * p->in_h + wy.origin + ky * p->dilation_h) * p->in_w + wx.origin) * ic;
        if (p->dilation_w == 1) {
            tinyml_fill(dst, pad, left);
            tinyml_copy(dst + left, src + left, mid);
            tinyml_fill(dst + left + mid, pad, seg - left - mid);
            continue;
        }
        for (kx = 0; kx < p->filter_w; ++kx) {
            if (kx < wx.lo || kx >= wx.hi) {
                tinyml_fill(dst + kx * ic, pad, ic);
            } else {
                tinyml_copy(dst + kx * ic, src + kx * p->dilation_w * ic, ic);
            }
        }
    }
    tinyml_fill(row + wy.hi * seg, pad, (p->filter_h - wy.hi) * seg);
}

TINYML_INLINE void tinyml_conv2d_body(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                      const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast,
                                      int32_t narrow) {
    const int32_t per_image = p->out_h * p->out_w;
    const int32_t pixels = p->batches * per_image;
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    int8_t *rows = scratch;
    int32_t pix0, px;
    for (pix0 = 0; pix0 < pixels; pix0 += TINYML_OPT_PIXELS) {
        const int32_t np = TINYML_MIN(TINYML_OPT_PIXELS, pixels - pix0);
        for (px = 0; px < np; ++px) {
            const int32_t pix = pix0 + px;
            const int32_t b = pix / per_image, r = pix % per_image;
            tinyml_im2col_row(p, input, b, r / p->out_w, r % p->out_w, rows + px * k);
        }
        if (np <= 2) {
            for (px = 0; px < np; ++px) {
                tinyml_mat1(p, rows + px * k, k, filter, q, output + (pix0 + px) * p->out_c, fast, narrow);
            }
            continue;
        }
        tinyml_mat_block(p, rows, k, filter, q, output + pix0 * p->out_c, np, scratch + 4 * k, fast, narrow);
    }
}

void tinyml_conv2d_s8_opt(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                          const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
#define TINYML_CALL(F, N) tinyml_conv2d_body(p, input, filter, q, output, scratch, F, N)
    TINYML_OPT_DISPATCH(p->fast_rq, p->act_min > -128 || p->act_max < 127, TINYML_CALL);
#undef TINYML_CALL
}

#endif /* !__ARM_FEATURE_MVE */
