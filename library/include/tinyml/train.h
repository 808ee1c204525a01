/* tinyml-pio kernels: on-device training (backward pass and weight update).
 *
 * The forward pass is the inference code (int8, bit-exact with TFLite). The backward pass runs in
 * float32 over dequantized int8 values, as Tiny Training Engine does: gradients are taken with
 * respect to the real-valued tensors (real = scale * (q - zero_point)). Each layer's update runs
 * inside its backward kernel, right after its gradient, so no weight-gradient buffer exists.
 *
 * Gradient buffers are float32 in the arena. A backward kernel reads the gradient of its output
 * (`g_out`), zeroes it where the layer's fused activation clamped (`mask`, one bit per element, or
 * NULL when the activation has no clamp that blocks gradients), and writes (accumulate = 0) or
 * adds (accumulate = 1) the gradient of its input into `g_in` (NULL when nothing below needs it).
 *
 * Write-back of an update `delta` (in units of the integer value) to an int8 weight or an int32
 * bias, chosen at generation time (TINYML_ROUND_*): truncation toward zero (TTE's MCU kernels: an
 * update below one step is lost), round to nearest, stochastic rounding with a deterministic
 * xorshift32 generator, or a float32 master copy that accumulates every update (the integer value
 * is the master rounded to nearest). Weights stay in [-127, 127], biases in int32.
 */
#ifndef TINYML_TRAIN_H
#define TINYML_TRAIN_H

#include "tinyml/common.h"
#include "tinyml/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TINYML_ROUND_TRUNC = 0,
    TINYML_ROUND_NEAREST = 1,
    TINYML_ROUND_STOCHASTIC = 2,
    TINYML_ROUND_MASTER = 3
};

/* One model's training state: the learning rate of the running step, the write-back rule and
 * the stochastic rounding generator (xorshift32; never 0). */
typedef struct {
    float lr;
    int32_t rounding;
    uint32_t rng;
    float momentum; /* SGD momentum (0: plain SGD): velocity = momentum * velocity + step */
} tinyml_train_ctx_t;

/* A convolution, depthwise convolution or fully connected layer (FC: batches rows, 1x1 "image",
 * in_c = depth, 1x1 filter). Weights are [out_c][filter_h][filter_w][in_c] (conv, FC) or
 * [1][filter_h][filter_w][out_c] (depthwise). */
typedef struct {
    int32_t op;                      /* operator index, for the trace */
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w;
    int32_t depth_multiplier;        /* depthwise only */
    float in_scale;                  /* dequantize the saved input: in_scale * (x - in_zp) */
    int32_t in_zp;
    int32_t w_channels;              /* weights of input channels [0, w_channels) update; 0: frozen */
    int32_t x_c;                     /* channels kept in the saved input ([pixels][x_c]) */
    int32_t update_bias;             /* 1: the bias updates */
    int32_t fold_offset;             /* FC: the bias is folded (bias + fold_offset * sum(w)); 0 otherwise */
    /* optimizer state in RAM (NULL when unused): float master copies (TINYML_ROUND_MASTER) and
     * momentum velocities, one per weight / per output channel, in integer units */
    float *w_master, *b_master;
    float *w_velocity, *b_velocity;
} tinyml_train_layer_params_t;

/* The layer's backward pass and update. w: the weights (read); w_upd: the same weights when they
 * train (RAM), else NULL. w_scale[c]: weight scale of output channel c (real w = w_scale * q).
 * w_step[c] / b_step[c]: integer units per real-valued gradient step (with QAS: 1/s_w and
 * 1/(s_x s_w); without: s_w and s_x s_w), so delta = -lr * grad * step (with momentum, -lr times
 * the velocity). x: the saved input (NULL if the weights are frozen). g_in is computed with the
 * weights as they were before this step's update. */
void tinyml_train_conv2d_backward(const tinyml_train_layer_params_t *p, tinyml_train_ctx_t *ctx, float *g_out,
                                  const uint8_t *mask, const int8_t *x, const int8_t *w, int8_t *w_upd,
                                  const float *w_scale, const float *w_step, int32_t *bias, const float *b_step,
                                  float *g_in, int32_t accumulate);

void tinyml_train_depthwise_backward(const tinyml_train_layer_params_t *p, tinyml_train_ctx_t *ctx, float *g_out,
                                     const uint8_t *mask, const int8_t *x, const int8_t *w, int8_t *w_upd,
                                     const float *w_scale, const float *w_step, int32_t *bias, const float *b_step,
                                     float *g_in, int32_t accumulate);

/* Softmax cross-entropy on int8 logits (dequantized): writes d loss / d logits and the loss
 * (NaN, with a zero gradient, for a label outside [0, n)). */
void tinyml_train_xent_s8(const int8_t *logits, int32_t n, float scale, int32_t zp, int32_t label, float *grad,
                          float *loss);

/* Mean squared error of the dequantized output against a float target. */
void tinyml_train_mse_s8(const int8_t *y, int32_t n, float scale, int32_t zp, const float *target, float *grad,
                         float *loss);

/* Bit i of mask = lo < y[i] < hi: where the fused activation did not clamp. */
void tinyml_train_mask_s8(const int8_t *y, uint8_t *mask, int32_t n, int32_t lo, int32_t hi);

/* dst[p][0..keep) = x[p][0..c): the input channels a sparse update needs, kept for backward. */
void tinyml_train_slice_s8(const int8_t *x, int8_t *dst, int32_t pixels, int32_t c, int32_t keep);

/* Element-wise pass-through (RESHAPE-free identity ops, QUANTIZE int8->int8, standalone RELU):
 * g_in (+)= g_out masked. */
void tinyml_train_copy_backward(float *g_out, const uint8_t *mask, float *g_in, int32_t n, int32_t accumulate);

/* ADD of two same-shaped tensors: both inputs get the output's (masked) gradient. */
void tinyml_train_add_backward(float *g_out, const uint8_t *mask, float *g_a, int32_t acc_a, float *g_b,
                               int32_t acc_b, int32_t n);

/* Pools: the average spreads each output's gradient evenly over the window taps inside the input;
 * the maximum gives it to the first tap (row-major) holding the window's maximum of x. */
void tinyml_train_avgpool_backward(const tinyml_pool_params_t *p, float *g_out, const uint8_t *mask, float *g_in,
                                   int32_t accumulate);
void tinyml_train_maxpool_backward(const tinyml_pool_params_t *p, const int8_t *x, float *g_out,
                                   const uint8_t *mask, float *g_in, int32_t accumulate);

/* MEAN over height and width of [batches][h][w][c]. */
void tinyml_train_mean_backward(int32_t batches, int32_t h, int32_t w, int32_t c, float *g_out, float *g_in,
                                int32_t accumulate);

/* PAD backward: g_in is the window [before, before + in) of g_out, per dimension (4-D). */
void tinyml_train_pad_backward(const int32_t *in_dims, const int32_t *out_dims, const int32_t *before,
                               const float *g_out, float *g_in, int32_t accumulate);

/* The integer change a real-valued update delta makes to value `old` in [lo, hi] under the
 * context's rounding rule (master: the float copy absorbs delta first). Exposed for the tests. */
int32_t tinyml_train_writeback(tinyml_train_ctx_t *ctx, int32_t old, float delta, float *master, int32_t lo,
                               int32_t hi);

/* CRC-32 (zlib's) of the trainable parameters, to compare a board's with the host build's. */
uint32_t tinyml_crc32(const uint8_t *data, size_t n);

#ifdef TINYML_TRAIN_TRACE
/* Host verification: every weight (kind 0) and bias (kind 1) gradient, in real units. */
void tinyml_train_trace(int32_t op, int32_t kind, int32_t index, float value);
#define TINYML_TRAIN_TRACE_GRAD(op, kind, index, value) tinyml_train_trace((op), (kind), (index), (value))
#else
#define TINYML_TRAIN_TRACE_GRAD(op, kind, index, value) ((void)(op), (void)(kind), (void)(index), (void)(value))
#endif

#ifdef __cplusplus
}
#endif

#endif /* TINYML_TRAIN_H */
