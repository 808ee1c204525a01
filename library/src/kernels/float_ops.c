/* float32 kernels, see float_ops.h. No contraction: TFLite's x86 build does not fuse a * b + c. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>
#include <string.h>

#include "tinyml/float_ops.h"

void tinyml_softmax_f32(int32_t outer, int32_t depth, float beta, const float *input, float *output) {
    int32_t i, c;
    for (i = 0; i < outer; ++i) {
        const float *x = input + i * depth;
        float *y = output + i * depth;
        float max = -3.40282347e+38f, sum = 0.0f;
        for (c = 0; c < depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        for (c = 0; c < depth; ++c) {
            const float e = expf((x[c] - max) * beta);
            y[c] = e;
            sum += e;
        }
        for (c = 0; c < depth; ++c) {
            y[c] = y[c] / sum;
        }
    }
}

void tinyml_log_softmax_f32(int32_t outer, int32_t depth, const float *input, float *output) {
    int32_t i, c;
    for (i = 0; i < outer; ++i) {
        const float *x = input + i * depth;
        float *y = output + i * depth;
        float max = -3.40282347e+38f, sum = 0.0f, log_sum;
        for (c = 0; c < depth; ++c) {
            max = x[c] > max ? x[c] : max;
        }
        for (c = 0; c < depth; ++c) {
            sum += expf(x[c] - max);
        }
        log_sum = logf(sum);
        for (c = 0; c < depth; ++c) {
            y[c] = x[c] - max - log_sum;
        }
    }
}

void tinyml_logistic_f32(const float *input, float *output, int32_t n) {
    int32_t i;
    for (i = 0; i < n; ++i) {
        const float v = input[i];
        if (v > 16.619047164916992188f) {
            output[i] = 1.0f;
        } else if (v < -9.0f) {
            output[i] = expf(v);
        } else {
            output[i] = 1.0f / (1.0f + expf(-v));
        }
    }
}

void tinyml_tanh_f32(const float *input, float *output, int32_t n) {
    int32_t i;
    for (i = 0; i < n; ++i) {
        output[i] = tanhf(input[i]);
    }
}

static float clampf(float v, float lo, float hi) {
    return v < lo ? lo : (v > hi ? hi : v); /* ActivationFunctionWithMinMax: min(max(v, lo), hi) */
}

static void binary_f32(const tinyml_binary_f32_params_t *p, const float *a, const float *b, float *y, int mul) {
    const int32_t *d = p->bc.dims;
    const int32_t *s1 = p->bc.stride1;
    const int32_t *s2 = p->bc.stride2;
    int32_t i0, i1, i2, i3, i4, i5;
    for (i0 = 0; i0 < d[0]; ++i0) {
        for (i1 = 0; i1 < d[1]; ++i1) {
            for (i2 = 0; i2 < d[2]; ++i2) {
                for (i3 = 0; i3 < d[3]; ++i3) {
                    for (i4 = 0; i4 < d[4]; ++i4) {
                        const float *x1 = a + i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];
                        const float *x2 = b + i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];
                        for (i5 = 0; i5 < d[5]; ++i5) {
                            const float u = x1[i5 * s1[5]], v = x2[i5 * s2[5]];
                            *y++ = clampf(mul ? u * v : u + v, p->act_min, p->act_max);
                        }
                    }
                }
            }
        }
    }
}

void tinyml_add_f32(const tinyml_binary_f32_params_t *p, const float *input1, const float *input2, float *output) {
    binary_f32(p, input1, input2, output, 0);
}

void tinyml_mul_f32(const tinyml_binary_f32_params_t *p, const float *input1, const float *input2, float *output) {
    binary_f32(p, input1, input2, output, 1);
}

void tinyml_fully_connected_f32(const tinyml_fc_f32_params_t *p, const float *input, const float *weights,
                                const float *bias, float *output) {
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const float *x = input + b * p->depth;
        for (o = 0; o < p->out_depth; ++o) {
            const float *w = weights + o * p->depth;
            float total = 0.0f;
            for (d = 0; d < p->depth; ++d) {
                total += x[d] * w[d];
            }
            output[o + p->out_depth * b] = clampf(total + (bias ? bias[o] : 0.0f), p->act_min, p->act_max);
        }
    }
}

void tinyml_mean_f32(int32_t outer, int32_t count, int32_t inner, const float *input, float *output) {
    int32_t o, k, i;
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < inner; ++i) {
            const float *x = input + o * count * inner + i;
            float sum = 0.0f;
            for (k = 0; k < count; ++k) {
                sum += x[k * inner];
            }
            *output++ = sum / (float)count;
        }
    }
}

void tinyml_concat_f32(int32_t num_inputs, int32_t outer, int32_t out_stride, const int32_t *sizes,
                       const float *const *inputs, float *output) {
    int32_t i, o, offset = 0;
    for (i = 0; i < num_inputs; ++i) {
        for (o = 0; o < outer; ++o) {
            memcpy(output + o * out_stride + offset, inputs[i] + o * sizes[i], (size_t)sizes[i] * sizeof(float));
        }
        offset += sizes[i];
    }
}
