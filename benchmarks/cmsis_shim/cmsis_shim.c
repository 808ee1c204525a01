/* Benchmark only: see cmsis_shim.h. The glue does what TFLite Micro's cmsis_nn kernels do in Eval
 * (fill CMSIS-NN's parameter structs from the layer's constants, hand over a scratch buffer) and
 * nothing else, so the per-layer ticks are CMSIS-NN's kernels plus that glue. Requires CMSIS-NN's
 * int8 API of 2023-2024 (arm_nnfunctions.h revision 12 to 16: the *_wrapper_s8 and
 * arm_fully_connected_s8 taking a cmsis_nn_context). */
#include "cmsis_shim.h"

#include "arm_nnfunctions.h"

#ifndef TINYML_CMSIS_SCRATCH
#define TINYML_CMSIS_SCRATCH 65536
#endif

/* CMSIS-NN's scratch (im2col columns, depthwise windows, pool sums), sized by the Python side above
 * any layer's need (benchmarks/cmsis_nn.py _scratch_bound). */
static int32_t scratch[TINYML_CMSIS_SCRATCH / 4];

/* A CMSIS-NN call that refuses its arguments stops here: the HIL host then times out on this layer
 * instead of reading a wrong result. */
static void check(arm_cmsis_nn_status s) {
    if (s != ARM_CMSIS_NN_SUCCESS) {
        for (;;) {
        }
    }
}

void tinyml_cmsis_conv2d_s8(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output) {
    const cmsis_nn_context ctx = {scratch, sizeof scratch};
    const cmsis_nn_conv_params cp = {.input_offset = p->input_offset, .output_offset = p->output_offset,
                                     .stride = {.w = p->stride_w, .h = p->stride_h},
                                     .padding = {.w = p->pad_w, .h = p->pad_h},
                                     .dilation = {.w = p->dilation_w, .h = p->dilation_h},
                                     .activation = {.min = p->act_min, .max = p->act_max}};
    const cmsis_nn_per_channel_quant_params q = {(int32_t *)mult, (int32_t *)shift};
    const cmsis_nn_dims in = {p->batches, p->in_h, p->in_w, p->in_c};
    const cmsis_nn_dims f = {p->out_c, p->filter_h, p->filter_w, p->filter_c};
    const cmsis_nn_dims b = {1, 1, 1, p->out_c};
    const cmsis_nn_dims out = {p->batches, p->out_h, p->out_w, p->out_c};
    check(arm_convolve_wrapper_s8(&ctx, &cp, &q, &in, input, &f, filter, &b, bias, &out, output));
}

void tinyml_cmsis_depthwise_conv2d_s8(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                      const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                      int8_t *output) {
    const cmsis_nn_context ctx = {scratch, sizeof scratch};
    const cmsis_nn_dw_conv_params cp = {.input_offset = p->input_offset, .output_offset = p->output_offset,
                                        .ch_mult = p->depth_multiplier,
                                        .stride = {.w = p->stride_w, .h = p->stride_h},
                                        .padding = {.w = p->pad_w, .h = p->pad_h},
                                        .dilation = {.w = p->dilation_w, .h = p->dilation_h},
                                        .activation = {.min = p->act_min, .max = p->act_max}};
    const cmsis_nn_per_channel_quant_params q = {(int32_t *)mult, (int32_t *)shift};
    const cmsis_nn_dims in = {p->batches, p->in_h, p->in_w, p->in_c};
    const cmsis_nn_dims f = {1, p->filter_h, p->filter_w, p->out_c};
    const cmsis_nn_dims b = {1, 1, 1, p->out_c};
    const cmsis_nn_dims out = {p->batches, p->out_h, p->out_w, p->out_c};
    check(arm_depthwise_conv_wrapper_s8(&ctx, &cp, &q, &in, input, &f, filter, &b, bias, &out, output));
}

/* The FC kernel sums CMSIS-NN wants in ctx.buf when arm_fully_connected_s8_get_buffer_size says so
 * (the Helium path): TFLM computes them once in Prepare, this glue on a layer's first call (the
 * benchmark reports the median invoke, so that first call is not what it reports). */
#define TINYML_CMSIS_FC_LAYERS 16
#ifndef TINYML_CMSIS_FC_SUMS
#define TINYML_CMSIS_FC_SUMS 4096
#endif
static const int8_t *fc_weights[TINYML_CMSIS_FC_LAYERS];
static int32_t *fc_sums[TINYML_CMSIS_FC_LAYERS];
static int32_t fc_store[TINYML_CMSIS_FC_SUMS];
static int32_t fc_used;

static int32_t *fc_kernel_sums(const tinyml_fc_params_t *p, const int8_t *weights) {
    for (int32_t i = 0; i < TINYML_CMSIS_FC_LAYERS; i++) {
        if (fc_weights[i] == weights) {
            return fc_sums[i];
        }
        if (fc_weights[i] == 0) {
            if (fc_used + p->out_depth > TINYML_CMSIS_FC_SUMS) {
                break;
            }
            fc_weights[i] = weights;
            fc_sums[i] = &fc_store[fc_used];
            fc_used += p->out_depth;
            check(arm_vector_sum_s8(fc_sums[i], p->in_depth, p->out_depth, weights, 1, 0)); /* raw row sums, as TFLM */
            return fc_sums[i];
        }
    }
    check(ARM_CMSIS_NN_ARG_ERROR);
    return 0;
}

/* The portable FC's bias has the input zero point folded in (bias - in_zp * sum(w)), so CMSIS-NN is
 * called with input_offset 0 and that bias: the same integers. Per-tensor quantization only (the
 * CMSIS-NN of this era has no per-channel FC); benchmarks/cmsis_nn.py keeps per-channel FCs on ours. */
void tinyml_cmsis_fully_connected_s8(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                     int8_t *output) {
    const cmsis_nn_dims f = {p->in_depth, 1, 1, p->out_depth};
    cmsis_nn_context ctx = {0, 0};
    if (arm_fully_connected_s8_get_buffer_size(&f) > 0) {
        ctx.buf = fc_kernel_sums(p, weights);
        ctx.size = p->out_depth * 4;
    }
    const cmsis_nn_fc_params fp = {.input_offset = 0, .filter_offset = 0, .output_offset = p->output_offset,
                                   .activation = {.min = p->act_min, .max = p->act_max}};
    const cmsis_nn_per_tensor_quant_params q = {mult[0], shift[0]};
    const cmsis_nn_dims in = {p->batches, 1, 1, p->in_depth};
    const cmsis_nn_dims b = {1, 1, 1, p->out_depth};
    const cmsis_nn_dims out = {p->batches, 1, 1, p->out_depth};
    check(arm_fully_connected_s8(&ctx, &fp, &q, &in, input, &f, weights, &b, bias, &out, output));
}

static void pool(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output, int average) {
    const cmsis_nn_context ctx = {scratch, sizeof scratch};
    const cmsis_nn_pool_params pp = {.stride = {.w = p->stride_w, .h = p->stride_h},
                                     .padding = {.w = p->pad_w, .h = p->pad_h},
                                     .activation = {.min = p->act_min, .max = p->act_max}};
    const cmsis_nn_dims in = {1, p->in_h, p->in_w, p->depth};
    const cmsis_nn_dims f = {1, p->filter_h, p->filter_w, 1};
    const cmsis_nn_dims out = {1, p->out_h, p->out_w, p->depth};
    check(average ? arm_avgpool_s8(&ctx, &pp, &in, input, &f, &out, output)
                  : arm_max_pool_s8(&ctx, &pp, &in, input, &f, &out, output));
}

void tinyml_cmsis_avgpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output) {
    pool(p, input, output, 1);
}

void tinyml_cmsis_maxpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output) {
    pool(p, input, output, 0);
}

/* Same-shape ADD only (the Python side checks): CMSIS-NN's elementwise add over all elements. */
void tinyml_cmsis_add_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    int32_t n = 1;
    for (int32_t i = 0; i < TINYML_EW_MAX_DIMS; i++) {
        n *= p->bc.dims[i];
    }
    check(arm_elementwise_add_s8(input1, input2, p->input1_offset, p->input1_multiplier, p->input1_shift,
                                 p->input2_offset, p->input2_multiplier, p->input2_shift, p->left_shift, output,
                                 p->output_offset, p->output_multiplier, p->output_shift, p->act_min, p->act_max, n));
}
