/* BATCH_MATMUL and TRANSPOSE_CONV (int8), see matmul.h. */
#include <string.h>

#include "tinyml/matmul.h"

void tinyml_batch_matmul_s8(const tinyml_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs,
                            int8_t *output) {
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; ++b0) {
        for (b1 = 0; b1 < p->batch[1]; ++b1) {
            for (b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * p->lhs_batch_stride[0] + b1 * p->lhs_batch_stride[1] +
                                  b2 * p->lhs_batch_stride[2];
                const int8_t *r = rhs + b0 * p->rhs_batch_stride[0] + b1 * p->rhs_batch_stride[1] +
                                  b2 * p->rhs_batch_stride[2];
                for (i = 0; i < p->rows; ++i) {
                    for (j = 0; j < p->cols; ++j) {
                        int32_t acc = 0;
                        for (k = 0; k < p->depth; ++k) {
                            acc += (l[i * p->lhs_row + k * p->lhs_depth] + p->lhs_offset) *
                                   (r[k * p->rhs_depth + j * p->rhs_col] + p->rhs_offset);
                        }
                        acc = tinyml_requantize(acc, p->output_multiplier, p->output_shift) + p->output_offset;
                        *output++ = (int8_t)tinyml_clamp(acc, -128, 127);
                    }
                }
            }
        }
    }
}

void tinyml_transpose_conv_s8(const tinyml_transpose_conv_params_t *p, const int32_t *mult, const int32_t *shift,
                              const int8_t *input, const int8_t *filter, const int32_t *bias, int32_t *scratch,
                              int8_t *output) {
    const int32_t oc = p->out_c;
    const int32_t n_out = p->batches * p->out_h * p->out_w * oc;
    int32_t b, y, x, ic, fy, fx, c, i;
    memset(scratch, 0, (size_t)n_out * sizeof(int32_t));
    for (b = 0; b < p->batches; ++b) {
        int32_t *acc_b = scratch + b * p->out_h * p->out_w * oc;
        for (y = 0; y < p->in_h; ++y) {
            for (x = 0; x < p->in_w; ++x) {
                const int8_t *px = input + ((b * p->in_h + y) * p->in_w + x) * p->in_c;
                for (ic = 0; ic < p->in_c; ++ic) {
                    const int32_t v = px[ic] + p->input_offset;
                    for (fy = 0; fy < p->filter_h; ++fy) {
                        const int32_t oy = y * p->stride_h - p->pad_h + fy;
                        if (oy < 0 || oy >= p->out_h) {
                            continue;
                        }
                        for (fx = 0; fx < p->filter_w; ++fx) {
                            const int32_t ox = x * p->stride_w - p->pad_w + fx;
                            int32_t *acc;
                            if (ox < 0 || ox >= p->out_w) {
                                continue;
                            }
                            acc = acc_b + (oy * p->out_w + ox) * oc;
                            for (c = 0; c < oc; ++c) {
                                acc[c] += v * filter[((c * p->filter_h + fy) * p->filter_w + fx) * p->in_c + ic];
                            }
                        }
                    }
                }
            }
        }
    }
    for (i = 0; i < n_out; ++i) {
        c = i % oc;
        {
            int32_t acc = scratch[i] + (bias ? bias[c] : 0);
            acc = tinyml_requantize(acc, mult[c], shift[c]) + p->output_offset;
            output[i] = (int8_t)tinyml_clamp(acc, p->act_min, p->act_max);
        }
    }
}
