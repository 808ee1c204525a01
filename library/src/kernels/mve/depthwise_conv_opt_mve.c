/* DEPTHWISE_CONV_2D, int8, depth multiplier 1, optimized (tinyml/depthwise_conv_opt.h), Helium
 * (MVE) build: Cortex-M55 and other Armv8.1-M cores with integer MVE. The same function as
 * ../depthwise_conv_opt.c (which compiles it only without integer MVE), the same results bit for
 * bit, the same ring of padded input rows in no more scratch.
 *
 * Four channels per vector, one int32 lane each: VLDRB.S32 widens four input bytes and four
 * repacked weight bytes (the generator's [c / 4][tap][4] layout: one block's taps are contiguous),
 * VMLA adds the four products lane by lane. Each output is b' + sum over all taps of w * x (padded
 * taps read the zero point, cancelled by the folded bias), as in the DSP and plain-C kernels.
 *
 * The ring holds the same rows as ../depthwise_conv_opt.c, (filter_h - 1) * dilation_h + 1 of
 * them, ring_w padded columns each, in the same bytes per row (ring_w * C), but each row is stored
 * channel block by channel block: the C / 4 full blocks as [block][column][4] (ring_w * 4 bytes
 * each), then the C % 4 last channels as [column][C % 4]. A block's taps then sit 4 * dilation_w
 * bytes apart and its output pixels 4 * stride_w bytes apart: for the 3x3 and 5x5 filters with
 * dilation_w 1 and stride_w 1 or 2 every load has a constant offset (no address arithmetic per
 * tap). Input rows are brought in with byte gathers (four columns of one block per VLDRB gather).
 * The C % 4 tail block uses tail-predicated loads and stores (no byte outside the ring, the
 * weights or the output is read or written), so the kernel needs 4 bytes less than planned.
 *
 * Per output row, the channel blocks are walked one by one: the block's five requantization
 * constants are gathered into vectors once (VLDRW gather over the tinyml_chanq_t array) and kept
 * for the whole row. Requantization is lane by lane with per-lane shifts:
 *  - fast_rq: VSHL by lsh, VRMULH by mult (SMMULR per lane), then (y + rnd + (y >> 31)) >> rsh
 *    (VADD/VSHR/VSHL by -rsh): tinyml_rq_fast's operations, with its int32 wrap-around;
 *  - otherwise TFLite's: VSHL by max(shift, 0); VQRDMULH (exactly gemmlowp's
 *    SaturatingRoundingDoublingHighMul, see tinyml/opt.h and ../mve/conv_opt_mve.c); then
 *    RoundingDivideByPOT as VRSHL by -e of y - 1 for y < 0 and e > 0 (half away from zero);
 *  - clamp: VMIN/VMAX with [max(act_min, -128), min(act_max, 127)] (= SSAT 8 then the activation
 *    clamp when act_min <= act_max).
 *
 * In place (input == output, batch 1): as in ../depthwise_conv_opt.c, every input row enters the
 * ring before any output row that could overwrite it is written, and outputs are computed from the
 * ring only; the order of the outputs within a row does not matter.
 */
#include "tinyml/depthwise_conv_opt.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>
#include <string.h>

/* Requantization constants of one channel block, lane by lane. */
typedef struct {
    int32x4_t bias, mult, lsh, rnd, rsh; /* fast: lsh, rnd, -rsh; otherwise: max(shift, 0), -, min(shift, 0) */
} tinyml_mve_dwq_t;

TINYML_INLINE tinyml_mve_dwq_t tinyml_mve_dw_q(const tinyml_chanq_t *q, mve_pred16_t pr, int32_t fast) {
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)sizeof(tinyml_chanq_t));
    const int32_t *base = &q->bias;
    tinyml_mve_dwq_t v;
    /* lanes past the last channel are not read (predicated gathers give 0 there) */
    v.bias = vldrwq_gather_offset_z_s32(base, offs, pr);
    v.mult = vldrwq_gather_offset_z_s32(base + 1, offs, pr);
    v.lsh = vldrwq_gather_offset_z_s32(base + 2, offs, pr);
    if (fast) {
        v.rnd = vldrwq_gather_offset_z_s32(base + 3, offs, pr);
        v.rsh = vnegq_s32(vldrwq_gather_offset_z_s32(base + 4, offs, pr));
    } else {
        const int32x4_t zero = vdupq_n_s32(0);
        v.rnd = zero;
        v.rsh = vminq_s32(v.lsh, zero); /* -e */
        v.lsh = vmaxq_s32(v.lsh, zero);
    }
    return v;
}

TINYML_INLINE int32x4_t tinyml_mve_dw_rq(int32x4_t acc, const tinyml_mve_dwq_t *q, int32_t fast, int32_t out_offset,
                                         int32_t lo, int32_t hi) {
    int32x4_t v;
    if (fast) {
        const int32x4_t y = vrmulhq_s32(vshlq_s32(acc, q->lsh), q->mult);
        v = vaddq_s32(vaddq_s32(y, q->rnd), vshrq_n_s32(y, 31));
        v = vshlq_s32(v, q->rsh);
    } else {
        int32x4_t y = vqrdmulhq_s32(vshlq_s32(acc, q->lsh), q->mult);
        /* -1 where y < 0 and e > 0 (the sign bit of -e is set iff e > 0) */
        const int32x4_t fix = vshrq_n_s32(vandq_s32(y, q->rsh), 31);
        y = vrshlq_s32(vqaddq_s32(y, fix), q->rsh);
        v = vaddq_n_s32(y, out_offset);
    }
    return vmaxq_s32(vminq_s32(v, vdupq_n_s32(hi)), vdupq_n_s32(lo));
}

/* Bring input row r (may be outside [0, in_h): then all zero point) into its ring slot, block by
 * block (see the file comment). Pad columns keep the zero point from the initial fill. */
static void tinyml_mve_dw_load_row(const tinyml_dwconv2d_params_t *p, const int8_t *image, int32_t r, int8_t *ring,
                                   int32_t ring_rows, int32_t ring_w) {
    const int32_t c_n = p->in_c;
    const int32_t full = c_n >> 2, ct = c_n & 3;
    int8_t *dst = ring + ((r + p->pad_h) % ring_rows) * ring_w * c_n;
    const int32_t cols = TINYML_MIN(p->in_w, ring_w - p->pad_w);
    const int8_t *src = image + r * p->in_w * c_n;
    int32_t cb, i, j;
    if (r < 0 || r >= p->in_h) {
        memset(dst, (int8_t)(-p->input_offset), (size_t)(ring_w * c_n));
        return;
    }
    if (cols <= 0) {
        return;
    }
    if (full) {
        /* lane l: byte l % 4 of column l / 4 (four columns per gather, or two with 16-bit offsets) */
        const uint32_t n = (uint32_t)(4 * cols);
        if (3 * c_n + 3 <= 255) {
            const uint8x16_t idx = vidupq_n_u8(0, 1);
            const uint8x16_t offs = vaddq_u8(vandq_u8(idx, vdupq_n_u8(3)), vmulq_n_u8(vshrq_n_u8(idx, 2), (uint8_t)c_n));
            for (cb = 0; cb < full; ++cb) {
                const uint8_t *s = (const uint8_t *)src + 4 * cb;
                uint8_t *d = (uint8_t *)dst + (cb * ring_w + p->pad_w) * 4;
                uint32_t done;
                for (done = 0; done < n; done += 16) {
                    const mve_pred16_t pr = vctp8q(n - done);
                    vstrbq_p_u8(d, vldrbq_gather_offset_z_u8(s, offs, pr), pr);
                    s += 4 * c_n;
                    d += 16;
                }
            }
        } else {
            const uint16x8_t idx = vidupq_n_u16(0, 1);
            const uint16x8_t offs =
                vaddq_u16(vandq_u16(idx, vdupq_n_u16(3)), vmulq_n_u16(vshrq_n_u16(idx, 2), (uint16_t)c_n));
            for (cb = 0; cb < full; ++cb) {
                const uint8_t *s = (const uint8_t *)src + 4 * cb;
                uint8_t *d = (uint8_t *)dst + (cb * ring_w + p->pad_w) * 4;
                uint32_t done;
                for (done = 0; done < n; done += 8) {
                    const mve_pred16_t pr = vctp16q(n - done);
                    vstrbq_p_u16(d, vldrbq_gather_offset_z_u16(s, offs, pr), pr);
                    s += 2 * c_n;
                    d += 8;
                }
            }
        }
    }
    if (ct) {
        const int8_t *s = src + 4 * full;
        int8_t *d = dst + full * ring_w * 4 + p->pad_w * ct;
        for (i = 0; i < cols; ++i) {
            for (j = 0; j < ct; ++j) {
                d[j] = s[j];
            }
            s += c_n;
            d += ct;
        }
    }
}

/* One channel block of one output row: out_w outputs, y[ox * c_n] for ox < out_w (4 channels, or
 * the predicated tail). x[ky]: the block's first column in ring row ky; pixel ox, tap kx reads
 * x[ky] + ox * pstep + kx * tstep. KH, KW, PSTEP, TSTEP are compile-time constants in the
 * specialised calls (0: use kh, kw, pstep, tstep). */
TINYML_INLINE void tinyml_mve_dw_block(const int8_t *const *x, int32_t KH, int32_t KW, int32_t PSTEP, int32_t TSTEP,
                                       int32_t kh, int32_t kw, int32_t pstep, int32_t tstep, const int8_t *w,
                                       const tinyml_chanq_t *q, int8_t *y, int32_t c_n, int32_t out_w,
                                       const tinyml_dwconv2d_params_t *p, int32_t fast, int32_t tail, mve_pred16_t pr) {
    const int32_t nh = KH ? KH : kh, nw = KW ? KW : kw;
    const int32_t ps = PSTEP ? PSTEP : pstep, ts = TSTEP ? TSTEP : tstep;
    const tinyml_mve_dwq_t qv = tinyml_mve_dw_q(q, pr, fast);
    const int32_t lo = TINYML_MAX(p->act_min, -128), hi = TINYML_MIN(p->act_max, 127);
    const int32_t out_offset = p->output_offset;
    int32_t ox, ky, kx;
    if (KH == 3 && KW == 3) {
        const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2];
        for (ox = 0; ox < out_w; ++ox) {
            int32x4_t acc = qv.bias;
            acc = vmlaq_s32(acc, vldrbq_s32(x0), vldrbq_s32(w));
            acc = vmlaq_s32(acc, vldrbq_s32(x0 + ts), vldrbq_s32(w + 4));
            acc = vmlaq_s32(acc, vldrbq_s32(x0 + 2 * ts), vldrbq_s32(w + 8));
            acc = vmlaq_s32(acc, vldrbq_s32(x1), vldrbq_s32(w + 12));
            acc = vmlaq_s32(acc, vldrbq_s32(x1 + ts), vldrbq_s32(w + 16));
            acc = vmlaq_s32(acc, vldrbq_s32(x1 + 2 * ts), vldrbq_s32(w + 20));
            acc = vmlaq_s32(acc, vldrbq_s32(x2), vldrbq_s32(w + 24));
            acc = vmlaq_s32(acc, vldrbq_s32(x2 + ts), vldrbq_s32(w + 28));
            acc = vmlaq_s32(acc, vldrbq_s32(x2 + 2 * ts), vldrbq_s32(w + 32));
            vstrbq_s32(y, tinyml_mve_dw_rq(acc, &qv, fast, out_offset, lo, hi));
            x0 += ps;
            x1 += ps;
            x2 += ps;
            y += c_n;
        }
    } else if (KH == 5 && KW == 5) {
        const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4];
        for (ox = 0; ox < out_w; ++ox) {
            int32x4_t acc = qv.bias;
#define TINYML_DW5(xr, t)                                                                           \
    acc = vmlaq_s32(acc, vldrbq_s32(xr), vldrbq_s32(w + 4 * (t)));                                  \
    acc = vmlaq_s32(acc, vldrbq_s32(xr + ts), vldrbq_s32(w + 4 * (t) + 4));                         \
    acc = vmlaq_s32(acc, vldrbq_s32(xr + 2 * ts), vldrbq_s32(w + 4 * (t) + 8));                     \
    acc = vmlaq_s32(acc, vldrbq_s32(xr + 3 * ts), vldrbq_s32(w + 4 * (t) + 12));                    \
    acc = vmlaq_s32(acc, vldrbq_s32(xr + 4 * ts), vldrbq_s32(w + 4 * (t) + 16))
            TINYML_DW5(x0, 0);
            TINYML_DW5(x1, 5);
            TINYML_DW5(x2, 10);
            TINYML_DW5(x3, 15);
            TINYML_DW5(x4, 20);
#undef TINYML_DW5
            vstrbq_s32(y, tinyml_mve_dw_rq(acc, &qv, fast, out_offset, lo, hi));
            x0 += ps;
            x1 += ps;
            x2 += ps;
            x3 += ps;
            x4 += ps;
            y += c_n;
        }
    } else {
        for (ox = 0; ox < out_w; ++ox) {
            const int8_t *wt = w;
            int32x4_t acc = qv.bias;
            for (ky = 0; ky < nh; ++ky) {
                const int8_t *xt = x[ky] + ox * ps;
                for (kx = 0; kx < nw; ++kx) {
                    const int32x4_t xv = tail ? vldrbq_z_s32(xt, pr) : vldrbq_s32(xt);
                    acc = vmlaq_s32(acc, xv, vldrbq_s32(wt));
                    xt += ts;
                    wt += 4;
                }
            }
            if (tail) {
                vstrbq_p_s32(y, tinyml_mve_dw_rq(acc, &qv, fast, out_offset, lo, hi), pr);
            } else {
                vstrbq_s32(y, tinyml_mve_dw_rq(acc, &qv, fast, out_offset, lo, hi));
            }
            y += c_n;
        }
    }
}

TINYML_INLINE void tinyml_mve_dw_body(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                      const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast) {
    const int32_t c_n = p->in_c;
    const int32_t kh = p->filter_h, kw = p->filter_w, taps = kh * kw;
    const int32_t ring_rows = TINYML_DW_RING_ROWS(p);
    const int32_t ring_w = TINYML_DW_RING_W(p);
    const int32_t row_bytes = ring_w * c_n;
    const int32_t full = c_n >> 2, ct = c_n & 3;
    const int32_t sw = p->stride_w, dw = p->dilation_w;
    const int32_t out_w = p->out_w;
    /* the specialised full-block loops: 3x3 or 5x5, dilation_w 1, stride_w 1 or 2 */
    const int32_t spec = (kh == kw && (kh == 3 || kh == 5) && dw == 1 && (sw == 1 || sw == 2)) ? kh * 10 + sw : 0;
    const mve_pred16_t all = vctp32q(4);
    const int8_t *rows[16]; /* filter_h <= 16 (checked by the generator) */
    const int8_t *xb[16];
    int32_t b, oy, ky, cb;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * p->in_h * p->in_w * c_n;
        int8_t *out_image = output + b * p->out_h * out_w * c_n;
        int32_t next = -p->pad_h; /* next input row to bring into the ring */
        memset(scratch, (int8_t)(-p->input_offset), (size_t)(ring_rows * row_bytes));
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t first = oy * p->stride_h - p->pad_h;
            const int32_t last = first + (kh - 1) * p->dilation_h;
            int8_t *y = out_image + oy * out_w * c_n;
            if (next < first) {
                next = first; /* rows between windows (stride > ring) are never read */
            }
            for (; next <= last; ++next) {
                tinyml_mve_dw_load_row(p, image, next, scratch, ring_rows, ring_w);
            }
            for (ky = 0; ky < kh; ++ky) {
                rows[ky] = scratch + ((first + ky * p->dilation_h + p->pad_h) % ring_rows) * row_bytes;
            }
            for (cb = 0; cb < full; ++cb) {
                const int8_t *w = filter + cb * taps * 4;
                for (ky = 0; ky < kh; ++ky) {
                    xb[ky] = rows[ky] + cb * ring_w * 4;
                }
                switch (spec) {
                case 31:
                    tinyml_mve_dw_block(xb, 3, 3, 4, 4, kh, kw, 4, 4, w, q, y, c_n, out_w, p, fast, 0, all);
                    break;
                case 32:
                    tinyml_mve_dw_block(xb, 3, 3, 8, 4, kh, kw, 8, 4, w, q, y, c_n, out_w, p, fast, 0, all);
                    break;
                case 51:
                    tinyml_mve_dw_block(xb, 5, 5, 4, 4, kh, kw, 4, 4, w, q, y, c_n, out_w, p, fast, 0, all);
                    break;
                case 52:
                    tinyml_mve_dw_block(xb, 5, 5, 8, 4, kh, kw, 8, 4, w, q, y, c_n, out_w, p, fast, 0, all);
                    break;
                default:
                    tinyml_mve_dw_block(xb, 0, 0, 0, 0, kh, kw, 4 * sw, 4 * dw, w, q, y, c_n, out_w, p, fast, 0, all);
                    break;
                }
                q += 4;
                y += 4;
            }
            if (ct) {
                const int8_t *w = filter + full * taps * 4;
                for (ky = 0; ky < kh; ++ky) {
                    xb[ky] = rows[ky] + full * ring_w * 4;
                }
                tinyml_mve_dw_block(xb, 0, 0, 0, 0, kh, kw, ct * sw, ct * dw, w, q, y, c_n, out_w, p, fast, 1,
                                    vctp32q((uint32_t)ct));
            }
            q -= 4 * full;
        }
    }
}

void tinyml_depthwise_conv2d_s8_opt(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                    const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
    if (p->fast_rq) {
        tinyml_mve_dw_body(p, input, filter, q, output, scratch, 1);
    } else {
        tinyml_mve_dw_body(p, input, filter, q, output, scratch, 0);
    }
}

#else /* no integer MVE: ../depthwise_conv_opt.c defines the function */
typedef int tinyml_depthwise_conv_opt_mve_unused_t; /* ISO C: a translation unit is not empty */
#endif
