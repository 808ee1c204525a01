/*
 * tinyml-pio kernels: float32 operators for float tails and islands (after a DEQUANTIZE).
 *
 * Line-by-line readings of TFLite 2.14's reference float kernels (reference_ops::Softmax,
 * LogSoftmax, Logistic, Tanh, Add/Mul with BroadcastAdd6DSlow / BroadcastMul4DSlow,
 * FullyConnected, Mean): same loop order, same float operations, the C library's expf / logf /
 * tanhf. The file is compiled without floating-point contraction (no fused multiply-add), so
 * +, -, *, / round exactly as TFLite's do; only the libm calls may differ between C libraries
 * (glibc on the host, newlib on a board), which verify reports as a ULP distance.
 */
#ifndef TINYML_FLOAT_OPS_H
#define TINYML_FLOAT_OPS_H

#include "tinyml/common.h"
#include "tinyml/elementwise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rows of `depth` values */
void tinyml_softmax_f32(int32_t outer, int32_t depth, float beta, const float *input, float *output);
void tinyml_log_softmax_f32(int32_t outer, int32_t depth, const float *input, float *output);
void tinyml_logistic_f32(const float *input, float *output, int32_t n);
void tinyml_tanh_f32(const float *input, float *output, int32_t n);

typedef struct {
    tinyml_broadcast_t bc; /* as for the int8 element-wise kernels */
    float act_min;
    float act_max;
} tinyml_binary_f32_params_t;

void tinyml_add_f32(const tinyml_binary_f32_params_t *p, const float *input1, const float *input2, float *output);
void tinyml_mul_f32(const tinyml_binary_f32_params_t *p, const float *input1, const float *input2, float *output);

typedef struct {
    int32_t batches;
    int32_t depth;
    int32_t out_depth;
    float act_min;
    float act_max;
} tinyml_fc_f32_params_t;

/* weights [out_depth][depth]; bias may be NULL */
void tinyml_fully_connected_f32(const tinyml_fc_f32_params_t *p, const float *input, const float *weights,
                                const float *bias, float *output);

/* MEAN: input [outer][count][inner]; the sum runs over the reduced axis in input order */
void tinyml_mean_f32(int32_t outer, int32_t count, int32_t inner, const float *input, float *output);

/* CONCATENATION: input i contributes sizes[i] contiguous values to each of the `outer` output
 * blocks of `out_stride` values (tinyml_concat_s8 for floats). */
void tinyml_concat_f32(int32_t num_inputs, int32_t outer, int32_t out_stride, const int32_t *sizes,
                       const float *const *inputs, float *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_FLOAT_OPS_H */
