/* tinyml-pio kernels: DEPTHWISE_CONV_2D, int8 (TFLite reference_integer_ops::DepthwiseConvPerChannel). */
#ifndef TINYML_DEPTHWISE_CONV_H
#define TINYML_DEPTHWISE_CONV_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shapes are NHWC; the filter is [1][filter_h][filter_w][out_c] with
 * out_c = in_c * depth_multiplier; output channel c*depth_multiplier + m reads input channel c. */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t depth_multiplier;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;      /* top / left padding (TFLite ComputePaddingHeightWidth) */
    int32_t input_offset;      /* -input zero point */
    int32_t output_offset;     /* output zero point */
    int32_t act_min, act_max;  /* fused activation clamp, quantized */
    int32_t fast_rq;           /* optimized kernels only (tinyml/opt.h): the 32-bit requantization */
} tinyml_dwconv2d_params_t;

/* bias: int32 per output channel, or NULL. mult/shift: per output channel (repeated for
 * per-tensor weights). input and output must not overlap. */
void tinyml_depthwise_conv2d_s8(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                int8_t *output);

/* 16x8: int16 input and output (zero points 0), int8 filter, int64 bias or NULL. */
void tinyml_depthwise_conv2d_s16(const tinyml_dwconv2d_params_t *p, const int16_t *input, const int8_t *filter,
                                 const int64_t *bias, const int32_t *mult, const int32_t *shift, int16_t *output);

/* IN PLACE (TinyEngine-style), depth_multiplier 1 and batches 1 only: `data` holds the input
 * [in_h][in_w][C] on entry and the output [out_h][out_w][C] on return (any stride, dilation or
 * padding; a stride-2 layer shrinks the tensor in place). scratch: in_h * in_w bytes, one input
 * channel plane. Same results as tinyml_depthwise_conv2d_s8 on separate buffers. */
void tinyml_depthwise_conv2d_inplace_s8(const tinyml_dwconv2d_params_t *p, int8_t *data, const int8_t *filter,
                                        const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                        int8_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_DEPTHWISE_CONV_H */
