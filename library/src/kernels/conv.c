/* CONV_2D, int8 and 16x8. Bit-exact with TFLite's reference_integer_ops::ConvPerChannel (incl. groups). */
#include "tinyml/conv.h"

void tinyml_conv_tap_range(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *lo,
                           int32_t *hi) {
    const tinyml_conv_window_t win = tinyml_conv_window(origin, 1, 0, dilation, size, taps);
    *lo = win.lo;
    *hi = win.hi;
}

/* The convolution loops for int8 (int32 accumulator and bias) and 16x8 (int16 input and output,
 * int64 accumulator and bias, offsets 0): one macro, instantiated for both. */
#define TINYML_CONV2D(NAME, TIN, TBIAS, TACC, REQUANTIZE)                                                       \
    void NAME(const tinyml_conv2d_params_t *p, const TIN *input, const int8_t *filter, const TBIAS *bias,        \
              const int32_t *mult, const int32_t *shift, TIN *output) {                                         \
        const int32_t groups = p->in_c / p->filter_c;                                                           \
        const int32_t per_group = p->out_c / groups;                                                            \
        int32_t b, oy, ox, oc, ky, kx, ic;                                                                      \
        for (b = 0; b < p->batches; ++b) {                                                                      \
            for (oy = 0; oy < p->out_h; ++oy) {                                                                 \
                const tinyml_conv_window_t wy =                                                                 \
                    tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h, p->in_h, p->filter_h);         \
                for (ox = 0; ox < p->out_w; ++ox) {                                                             \
                    const tinyml_conv_window_t wx =                                                             \
                        tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w, p->in_w, p->filter_w);     \
                    for (oc = 0; oc < p->out_c; ++oc) {                                                         \
                        const int32_t in_ch0 = (oc / per_group) * p->filter_c;                                  \
                        TACC acc = 0;                                                                           \
                        int32_t r;                                                                              \
                        for (ky = wy.lo; ky < wy.hi; ++ky) {                                                    \
                            const int32_t iy = wy.origin + ky * p->dilation_h;                                  \
                            for (kx = wx.lo; kx < wx.hi; ++kx) {                                                \
                                const int32_t ix = wx.origin + kx * p->dilation_w;                              \
                                const TIN *x = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c + in_ch0;  \
                                const int8_t *w = filter + ((oc * p->filter_h + ky) * p->filter_w + kx) * p->filter_c; \
                                for (ic = 0; ic < p->filter_c; ++ic) {                                          \
                                    acc += (int32_t)w[ic] * ((int32_t)x[ic] + p->input_offset);                 \
                                }                                                                               \
                            }                                                                                   \
                        }                                                                                       \
                        if (bias) {                                                                             \
                            acc += bias[oc];                                                                    \
                        }                                                                                       \
                        r = REQUANTIZE(acc, mult[oc], shift[oc]) + p->output_offset;                            \
                        output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =                         \
                            (TIN)tinyml_clamp(r, p->act_min, p->act_max);                                       \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }

TINYML_CONV2D(tinyml_conv2d_s8, int8_t, int32_t, int32_t, tinyml_requantize)
/* 16x8: reference_integer_ops::ConvPerChannel with int16 input; the input zero point is 0, so
 * padded taps contribute nothing and are skipped. */
TINYML_CONV2D(tinyml_conv2d_s16, int16_t, int64_t, int64_t, tinyml_requantize_s64)

/* 1x1, stride 1, in place. Pixel p's input is the in_c bytes at p * in_c, its output the out_c bytes
 * at p * out_c (pixels = batches * h * w; with a 1x1 stride-1 filter output pixel p reads input
 * pixel p only). Each step copies input pixel p to scratch, then writes output pixel p from it, so
 * overwriting pixel p's own input is harmless. What must hold: writing output pixel p never touches
 * the input of a pixel not processed yet, and reading input pixel p finds it untouched by the
 * outputs written before.
 *
 *  - out_c > in_c: walk p = pixels-1 .. 0. Unprocessed pixels are q < p; their input ends at
 *    (q + 1) * in_c <= p * in_c <= p * out_c, where output p begins. Outputs written before are
 *    those of q > p, starting at q * out_c >= (p + 1) * out_c >= (p + 1) * in_c, past input p.
 *  - out_c <= in_c: walk p = 0 .. pixels-1. Unprocessed pixels are q > p; their input starts at
 *    q * in_c >= (p + 1) * in_c >= (p + 1) * out_c, where output p ends. Outputs written before
 *    (q < p) end at p * out_c <= p * in_c, where input p begins.
 *
 * Per output value the arithmetic (and its order) is that of tinyml_conv2d_s8, so it is bit-exact too. */
void tinyml_conv1x1_inplace_s8(const tinyml_conv2d_params_t *p, int8_t *data, const int8_t *filter,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *scratch) {
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t groups = p->in_c / p->filter_c;
    const int32_t per_group = p->out_c / groups;
    const int32_t backwards = p->out_c > p->in_c;
    int32_t n, oc, ic;
    for (n = 0; n < pixels; ++n) {
        const int32_t pix = backwards ? pixels - 1 - n : n;
        const int8_t *x = data + pix * p->in_c;
        int8_t *y = data + pix * p->out_c;
        for (ic = 0; ic < p->in_c; ++ic) {
            scratch[ic] = x[ic];
        }
        for (oc = 0; oc < p->out_c; ++oc) {
            const int8_t *xs = scratch + (oc / per_group) * p->filter_c;
            const int8_t *w = filter + oc * p->filter_c;
            int32_t acc = 0;
            for (ic = 0; ic < p->filter_c; ++ic) {
                acc += (int32_t)w[ic] * ((int32_t)xs[ic] + p->input_offset);
            }
            if (bias) {
                acc += bias[oc];
            }
            acc = tinyml_requantize(acc, mult[oc], shift[oc]) + p->output_offset;
            y[oc] = (int8_t)tinyml_clamp(acc, p->act_min, p->act_max);
        }
    }
}
