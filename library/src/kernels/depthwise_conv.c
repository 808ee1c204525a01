/* DEPTHWISE_CONV_2D, int8 and 16x8. Bit-exact with TFLite's reference_integer_ops::DepthwiseConvPerChannel. */
#include "tinyml/depthwise_conv.h"
#include "tinyml/conv.h"

/* The depthwise loops for int8 (int32 accumulator and bias) and 16x8 (int16 input and output,
 * int64 accumulator and bias, offsets 0): one macro, instantiated for both. */
#define TINYML_DEPTHWISE_CONV2D(NAME, TIN, TBIAS, TACC, REQUANTIZE)                                             \
    void NAME(const tinyml_dwconv2d_params_t *p, const TIN *input, const int8_t *filter, const TBIAS *bias,      \
              const int32_t *mult, const int32_t *shift, TIN *output) {                                         \
        int32_t b, oy, ox, ic, m, ky, kx;                                                                       \
        for (b = 0; b < p->batches; ++b) {                                                                      \
            for (oy = 0; oy < p->out_h; ++oy) {                                                                 \
                const tinyml_conv_window_t wy =                                                                 \
                    tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h, p->in_h, p->filter_h);         \
                for (ox = 0; ox < p->out_w; ++ox) {                                                             \
                    const tinyml_conv_window_t wx =                                                             \
                        tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w, p->in_w, p->filter_w);     \
                    TIN *y = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;                         \
                    for (ic = 0; ic < p->in_c; ++ic) {                                                          \
                        for (m = 0; m < p->depth_multiplier; ++m) {                                             \
                            const int32_t oc = ic * p->depth_multiplier + m;                                    \
                            TACC acc = 0;                                                                       \
                            int32_t r;                                                                          \
                            for (ky = wy.lo; ky < wy.hi; ++ky) {                                                \
                                const int32_t iy = wy.origin + ky * p->dilation_h;                              \
                                for (kx = wx.lo; kx < wx.hi; ++kx) {                                            \
                                    const int32_t ix = wx.origin + kx * p->dilation_w;                          \
                                    const int32_t xv = input[((b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic]; \
                                    const int32_t wv = filter[(ky * p->filter_w + kx) * p->out_c + oc];         \
                                    acc += wv * (xv + p->input_offset);                                         \
                                }                                                                               \
                            }                                                                                   \
                            if (bias) {                                                                         \
                                acc += bias[oc];                                                                \
                            }                                                                                   \
                            r = REQUANTIZE(acc, mult[oc], shift[oc]) + p->output_offset;                        \
                            y[oc] = (TIN)tinyml_clamp(r, p->act_min, p->act_max);                               \
                        }                                                                                       \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }

TINYML_DEPTHWISE_CONV2D(tinyml_depthwise_conv2d_s8, int8_t, int32_t, int32_t, tinyml_requantize)
/* 16x8: reference_integer_ops::DepthwiseConvPerChannel with int16 input, int64 accumulator and bias. */
TINYML_DEPTHWISE_CONV2D(tinyml_depthwise_conv2d_s16, int16_t, int64_t, int64_t, tinyml_requantize_s64)

/* In place, depth_multiplier 1, batch 1 (TinyEngine). Channel by channel: copy input plane c
 * (in_h * in_w bytes, stride C) to scratch, then compute output channel c from scratch into
 * data[(oy * out_w + ox) * C + c]. Every byte written for channel c has an address = c (mod C),
 * i.e. it is a channel-c slot of the input layout: input channel c is already saved, and the
 * input channels c' > c still to be read sit at other residues, so they are intact when their
 * turn comes. Output slots stay below out_h * out_w * C <= in_h * in_w * C bytes (the output is
 * never larger than the input: SAME gives ceil(in / stride), VALID less), so a stride-2 layer
 * shrinks the tensor in place. Per output value the arithmetic (and its order) is that of
 * tinyml_depthwise_conv2d_s8, so it is bit-exact too. */
void tinyml_depthwise_conv2d_inplace_s8(const tinyml_dwconv2d_params_t *p, int8_t *data, const int8_t *filter,
                                        const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                        int8_t *scratch) {
    const int32_t channels = p->in_c;
    const int32_t plane = p->in_h * p->in_w;
    int32_t c, i, oy, ox, ky, kx;
    for (c = 0; c < channels; ++c) {
        const int32_t bias_c = bias ? bias[c] : 0;
        for (i = 0; i < plane; ++i) {
            scratch[i] = data[i * channels + c];
        }
        for (oy = 0; oy < p->out_h; ++oy) {
            const tinyml_conv_window_t wy =
                tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h, p->in_h, p->filter_h);
            for (ox = 0; ox < p->out_w; ++ox) {
                const tinyml_conv_window_t wx =
                    tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w, p->in_w, p->filter_w);
                int32_t acc = 0;
                for (ky = wy.lo; ky < wy.hi; ++ky) {
                    const int32_t iy = wy.origin + ky * p->dilation_h;
                    for (kx = wx.lo; kx < wx.hi; ++kx) {
                        const int32_t ix = wx.origin + kx * p->dilation_w;
                        const int32_t xv = scratch[iy * p->in_w + ix];
                        const int32_t wv = filter[(ky * p->filter_w + kx) * channels + c];
                        acc += wv * (xv + p->input_offset);
                    }
                }
                acc += bias_c;
                acc = tinyml_requantize(acc, mult[c], shift[c]) + p->output_offset;
                data[(oy * p->out_w + ox) * channels + c] = (int8_t)tinyml_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}
