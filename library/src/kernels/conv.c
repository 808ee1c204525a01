/* CONV_2D, int8. Bit-exact with TFLite's reference_integer_ops::ConvPerChannel (incl. groups). */
#include "tinyml/conv.h"

void tinyml_conv_tap_range(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *lo,
                           int32_t *hi) {
    /* tap k reads position origin + k * dilation; keep the k with 0 <= position < size. */
    int32_t first = origin < 0 ? (-origin + dilation - 1) / dilation : 0;
    int32_t end = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    *lo = TINYML_MIN(first, taps);
    *hi = TINYML_MAX(TINYML_MIN(end, taps), *lo);
}

void tinyml_conv2d_s8(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                      const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
    const int32_t groups = p->in_c / p->filter_c;
    const int32_t per_group = p->out_c / groups;
    int32_t b, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < p->batches; ++b) {
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t ky_lo, ky_hi;
            tinyml_conv_tap_range(iy0, p->dilation_h, p->in_h, p->filter_h, &ky_lo, &ky_hi);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t kx_lo, kx_hi;
                tinyml_conv_tap_range(ix0, p->dilation_w, p->in_w, p->filter_w, &kx_lo, &kx_hi);
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t in_ch0 = (oc / per_group) * p->filter_c;
                    int32_t acc = 0;
                    for (ky = ky_lo; ky < ky_hi; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = kx_lo; kx < kx_hi; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int8_t *x = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c + in_ch0;
                            const int8_t *w = filter + ((oc * p->filter_h + ky) * p->filter_w + kx) * p->filter_c;
                            for (ic = 0; ic < p->filter_c; ++ic) {
                                acc += (int32_t)w[ic] * ((int32_t)x[ic] + p->input_offset);
                            }
                        }
                    }
                    if (bias) {
                        acc += bias[oc];
                    }
                    acc = tinyml_requantize(acc, mult[oc], shift[oc]) + p->output_offset;
                    output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        (int8_t)tinyml_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
