/* tinyml-pio kernels: CONV_2D, int8 (TFLite reference_integer_ops::ConvPerChannel). */
#ifndef TINYML_CONV_H
#define TINYML_CONV_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shapes are NHWC; the filter is [out_c][filter_h][filter_w][filter_c] with
 * filter_c = in_c / groups (groups == 1 for an ordinary convolution). */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t filter_h, filter_w, filter_c;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;      /* top / left padding (TFLite ComputePaddingHeightWidth) */
    int32_t input_offset;      /* -input zero point */
    int32_t output_offset;     /* output zero point */
    int32_t act_min, act_max;  /* fused activation clamp, quantized */
    int32_t fast_rq;           /* optimized kernels only (tinyml/opt.h): the 32-bit requantization */
} tinyml_conv2d_params_t;

/* bias: int32 per output channel, or NULL. mult/shift: per output channel (repeated for
 * per-tensor weights). Padded taps contribute nothing (zero padding in real terms). */
void tinyml_conv2d_s8(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                      const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);

/* 16x8 (groups 1): int16 input and output (zero points 0, input_offset/output_offset unused),
 * int8 filter, int64 bias or NULL; TFLite's int64 requantization (tinyml_requantize_s64). */
void tinyml_conv2d_s16(const tinyml_conv2d_params_t *p, const int16_t *input, const int8_t *filter,
                       const int64_t *bias, const int32_t *mult, const int32_t *shift, int16_t *output);

/* 1x1 convolution with stride 1 (pad 0, any groups), IN PLACE: `data` holds the input
 * [pixels][in_c] on entry and the output [pixels][out_c] on return, both starting at `data`
 * (the buffer must hold max(input, output) bytes). scratch: in_c bytes (one input pixel).
 * Pixels are walked from the last one when out_c > in_c, from the first otherwise, so no unread
 * input is overwritten (see conv.c). Same results as tinyml_conv2d_s8 on separate buffers. */
void tinyml_conv1x1_inplace_s8(const tinyml_conv2d_params_t *p, int8_t *data, const int8_t *filter,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *scratch);

/* The window of one output position along one axis (height or width): `origin` is the input
 * position of tap 0 (negative inside the top/left padding), [lo, hi) the taps inside the input. */
typedef struct {
    int32_t origin;
    int32_t lo, hi;
} tinyml_conv_window_t;

/* The window of output position `out`, from that axis' stride, top/left padding, dilation, input
 * size and filter taps. Tap k reads position origin + k * dilation; [lo, hi) keeps the k with
 * 0 <= position < size. Every convolution and depthwise kernel finds its windows with it. */
TINYML_INLINE tinyml_conv_window_t tinyml_conv_window(int32_t out, int32_t stride, int32_t pad, int32_t dilation,
                                                      int32_t size, int32_t taps) {
    tinyml_conv_window_t win;
    const int32_t origin = out * stride - pad;
    const int32_t first = origin < 0 ? (-origin + dilation - 1) / dilation : 0;
    const int32_t end = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    win.origin = origin;
    win.lo = TINYML_MIN(first, taps);
    win.hi = TINYML_MAX(TINYML_MIN(end, taps), win.lo);
    return win;
}

/* The filter taps [*lo, *hi) of a window starting at `origin` (may be negative) that fall inside
 * [0, size): tinyml_conv_window's taps, as a function. */
void tinyml_conv_tap_range(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *lo,
                           int32_t *hi);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_CONV_H */
