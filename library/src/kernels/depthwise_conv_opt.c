/* DEPTHWISE_CONV_2D, int8, depth multiplier 1, optimized (tinyml/depthwise_conv_opt.h).
 *
 * Bit-exact with tinyml_depthwise_conv2d_s8: each output is b' + sum over all taps of w * x, where
 * padded taps read the zero point from the ring (w * zp is cancelled by the folded bias, exactly as
 * the reference skips them). With the Arm DSP extension four channels go together: one word of
 * input (channels c..c+3) and one word of repacked weights are split by SXTB16 into 16-bit lanes
 * (c, c+2) and (c+1, c+3), and SMLABB/SMLATT accumulate each lane into its own channel.
 */
#include "tinyml/depthwise_conv_opt.h"

/* Cores with integer MVE (Helium: Cortex-M55/M85) get these functions from mve/ instead. */
#if !(defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1))

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#define TINYML_DW_DSP 1 /* tinyml_ld32 and tinyml_sxtb16_r8 from tinyml/opt.h */
#else
#define TINYML_DW_DSP 0
#endif

/* Bring input row r (may be outside [0, in_h): then all zero point) into its ring slot. */
static void tinyml_dw_load_row(const tinyml_dwconv2d_params_t *p, const int8_t *image, int32_t r, int8_t *ring,
                               int32_t ring_rows, int32_t ring_w) {
    const int32_t c = p->in_c;
    int8_t *dst = ring + ((r + p->pad_h) % ring_rows) * ring_w * c;
    const int8_t zp = (int8_t)(-p->input_offset);
    if (r < 0 || r >= p->in_h) {
        memset(dst, zp, (size_t)(ring_w * c));
    } else {
        /* pad columns keep the zero point from the initial fill; copy the columns that are read */
        const int32_t cols = TINYML_MIN(p->in_w, ring_w - p->pad_w);
        if (cols > 0) {
            memcpy(dst + p->pad_w * c, image + r * p->in_w * c, (size_t)(cols * c));
        }
    }
}

/* One tap for channels c..c+3: accumulate, then step to the next tap's input and weights. */
#if TINYML_DW_DSP
#define TINYML_DW_TAP()                                                                              \
    do {                                                                                            \
        const int32_t xv = tinyml_ld32(x);                                                       \
        const int32_t wv = tinyml_ld32(w);                                                       \
        const int32_t x02 = __sxtb16(xv), x13 = tinyml_sxtb16_r8(xv);                            \
        const int32_t w02 = __sxtb16(wv), w13 = tinyml_sxtb16_r8(wv);                            \
        a0 = __smlabb(x02, w02, a0);                                                                \
        a2 = __smlatt(x02, w02, a2);                                                                \
        a1 = __smlabb(x13, w13, a1);                                                                \
        a3 = __smlatt(x13, w13, a3);                                                                \
        x += col_step;                                                                              \
        w += 4;                                                                                     \
    } while (0)
#else
#define TINYML_DW_TAP()                                                                              \
    do {                                                                                            \
        a0 += x[0] * w[0];                                                                          \
        a1 += x[1] * w[1];                                                                          \
        a2 += x[2] * w[2];                                                                          \
        a3 += x[3] * w[3];                                                                          \
        x += col_step;                                                                              \
        w += 4;                                                                                     \
    } while (0)
#endif

TINYML_INLINE void tinyml_dw_body(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                  const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast,
                                  int32_t narrow) {
    const int32_t c_n = p->in_c;
    const int32_t kh = p->filter_h, kw = p->filter_w;
    const int32_t ring_rows = TINYML_DW_RING_ROWS(p);
    const int32_t ring_w = TINYML_DW_RING_W(p);
    const int32_t row_bytes = ring_w * c_n;
    const int32_t col_step = p->dilation_w * c_n;
    const int32_t blocks = (c_n + 3) >> 2;
    const int8_t *rows[16]; /* filter_h <= 16 (checked by the generator) */
    int32_t b, oy, ox, ky, kx, cb;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * p->in_h * p->in_w * c_n;
        int8_t *out_image = output + b * p->out_h * p->out_w * c_n;
        int32_t next = -p->pad_h; /* next input row to bring into the ring */
        memset(scratch, (int8_t)(-p->input_offset), (size_t)(ring_rows * row_bytes));
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t first = oy * p->stride_h - p->pad_h;
            const int32_t last = first + (kh - 1) * p->dilation_h;
            if (next < first) {
                next = first; /* rows between windows (stride > ring) are never read */
            }
            for (; next <= last; ++next) {
                tinyml_dw_load_row(p, image, next, scratch, ring_rows, ring_w);
            }
            for (ky = 0; ky < kh; ++ky) {
                rows[ky] = scratch + ((first + ky * p->dilation_h + p->pad_h) % ring_rows) * row_bytes;
            }
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t col = ox * p->stride_w * c_n;
                int8_t *y = out_image + (oy * p->out_w + ox) * c_n;
                const int8_t *w = filter;
                const tinyml_chanq_t *qc = q;
                for (cb = 0; cb < blocks; ++cb) {
                    const int32_t c = cb << 2;
                    int32_t a0 = qc[0].bias, a1 = 0, a2 = 0, a3 = 0;
                    const int32_t left = c_n - c;
                    if (left > 1) a1 = qc[1].bias;
                    if (left > 2) a2 = qc[2].bias;
                    if (left > 3) a3 = qc[3].bias;
                    for (ky = 0; ky < kh; ++ky) {
                        const int8_t *x = rows[ky] + col + c;
                        if (kw == 3) { /* the common 3x3: no loop */
                            TINYML_DW_TAP();
                            TINYML_DW_TAP();
                            TINYML_DW_TAP();
                        } else {
                            for (kx = 0; kx < kw; ++kx) {
                                TINYML_DW_TAP();
                            }
                        }
                    }
                    y[c] = tinyml_rq_out(a0, &qc[0], fast, narrow, p->output_offset, p->act_min, p->act_max);
                    if (left > 3) {
                        y[c + 1] = tinyml_rq_out(a1, &qc[1], fast, narrow, p->output_offset, p->act_min, p->act_max);
                        y[c + 2] = tinyml_rq_out(a2, &qc[2], fast, narrow, p->output_offset, p->act_min, p->act_max);
                        y[c + 3] = tinyml_rq_out(a3, &qc[3], fast, narrow, p->output_offset, p->act_min, p->act_max);
                    } else {
                        if (left > 1) {
                            y[c + 1] = tinyml_rq_out(a1, &qc[1], fast, narrow, p->output_offset, p->act_min,
                                                     p->act_max);
                        }
                        if (left > 2) {
                            y[c + 2] = tinyml_rq_out(a2, &qc[2], fast, narrow, p->output_offset, p->act_min,
                                                     p->act_max);
                        }
                    }
                    qc += 4;
                }
            }
        }
    }
}

void tinyml_depthwise_conv2d_s8_opt(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                    const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
#define TINYML_CALL(F, N) tinyml_dw_body(p, input, filter, q, output, scratch, F, N)
    TINYML_OPT_DISPATCH(p->fast_rq, p->act_min > -128 || p->act_max < 127, TINYML_CALL);
#undef TINYML_CALL
}

#endif /* !__ARM_FEATURE_MVE */
