/*
 * tinyml-pio kernels: BATCH_MATMUL and TRANSPOSE_CONV, int8.
 *
 * Bit-exact with TFLite 2.14's reference kernels: reference_ops::BatchMatMul (int8: int32
 * accumulation of (lhs - zp) * (rhs - zp), MultiplyByQuantizedMultiplier, + output zero point)
 * and reference_integer_ops::TransposeConv (scatter of every input pixel into an int32 scratch
 * of the output's size, then bias and per-channel requantization).
 */
#ifndef TINYML_MATMUL_H
#define TINYML_MATMUL_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[b0][b1][b2][i][j] = sum_k lhs(b, i, k) * rhs(b, k, j); element (i, k) of lhs is at
 * i * lhs_row + k * lhs_depth within its batch, (k, j) of rhs at k * rhs_depth + j * rhs_col
 * (strides express adj_x / adj_y); batch strides are 0 along broadcast dimensions. */
typedef struct {
    int32_t batch[3];
    int32_t lhs_batch_stride[3];
    int32_t rhs_batch_stride[3];
    int32_t rows;
    int32_t cols;
    int32_t depth;
    int32_t lhs_row;
    int32_t lhs_depth;
    int32_t rhs_depth;
    int32_t rhs_col;
    int32_t lhs_offset; /* -zero_point */
    int32_t rhs_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
} tinyml_batch_matmul_params_t;

void tinyml_batch_matmul_s8(const tinyml_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs,
                            int8_t *output);

typedef struct {
    int32_t batches;
    int32_t in_h;
    int32_t in_w;
    int32_t in_c;
    int32_t out_h;
    int32_t out_w;
    int32_t out_c;
    int32_t filter_h;
    int32_t filter_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_h;
    int32_t pad_w;
    int32_t input_offset; /* -zero_point */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} tinyml_transpose_conv_params_t;

/* filter [out_c][filter_h][filter_w][in_c]; bias may be NULL; scratch: one int32 per output
 * element (batches * out_h * out_w * out_c). */
void tinyml_transpose_conv_s8(const tinyml_transpose_conv_params_t *p, const int32_t *mult, const int32_t *shift,
                              const int8_t *input, const int8_t *filter, const int32_t *bias, int32_t *scratch,
                              int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_MATMUL_H */
