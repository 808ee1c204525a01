/* SVDF, int8 with int16 state. Bit-exact with TFLite's reference_ops::EvalIntegerSVDF: the feature
 * matmul writes each filter's newest state slot, the time weights are dotted with the whole state
 * row, filters are summed per unit (rank), then requantized; finally every row shifts left by one. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "tinyml/svdf.h"

/* int32 sums wrap as TFLite's do on its targets (two's complement), without C's signed overflow */
TINYML_INLINE int32_t svdf_wrap_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

void tinyml_svdf_s8(const tinyml_svdf_params_t *p, const int8_t *input, const int8_t *weights_feature,
                    const int16_t *weights_time, const int32_t *bias, int16_t *state, int32_t *scratch,
                    int8_t *output) {
    const int32_t row_len = p->memory;
    const int32_t batch_len = p->filters * row_len;
    int32_t *filter_out = scratch;                         /* batches x filters */
    int32_t *unit_out = scratch + p->batches * p->filters; /* batches x units */
    int32_t b, f, c, m, u, r;

    /* feature matmul into the newest slot of each filter's row (the state's zero point is 0) */
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->input_size;
        const int8_t *w = weights_feature;
        int16_t *slot = state + b * batch_len + (row_len - 1);
        for (f = 0; f < p->filters; ++f) {
            int32_t acc = 0;
            for (c = 0; c < p->input_size; ++c) {
                acc = svdf_wrap_add(acc, (int32_t)*w++ * ((int32_t)x[c] + p->input_offset));
            }
            acc = tinyml_requantize(acc, p->mult1, p->shift1);
            *slot = (int16_t)tinyml_clamp(acc, INT16_MIN, INT16_MAX);
            slot += row_len;
        }
    }
    /* time: each filter's row dotted with its time weights */
    for (b = 0; b < p->batches; ++b) {
        const int16_t *s = state + b * batch_len;
        const int16_t *w = weights_time;
        for (f = 0; f < p->filters; ++f) {
            int32_t acc = 0;
            for (m = 0; m < row_len; ++m) {
                acc = svdf_wrap_add(acc, (int32_t)*w++ * (int32_t)*s++);
            }
            filter_out[b * p->filters + f] = acc;
        }
    }
    /* bias, reduce over rank, rescale */
    for (b = 0; b < p->batches; ++b) {
        const int32_t *in = filter_out + b * p->filters;
        for (u = 0; u < p->units; ++u) {
            int32_t acc = bias ? bias[u] : 0;
            for (r = 0; r < p->rank; ++r) {
                acc = svdf_wrap_add(acc, *in++);
            }
            unit_out[b * p->units + u] = acc;
        }
    }
    for (u = 0; u < p->batches * p->units; ++u) {
        const int32_t y = tinyml_requantize(unit_out[u], p->mult2, p->shift2) + p->output_offset;
        output[u] = (int8_t)tinyml_clamp(y, -128, 127);
    }
    /* shift every row left by one, a zero in the newest slot */
    for (f = 0; f < p->batches * p->filters; ++f) {
        int16_t *row = state + f * row_len;
        for (m = 0; m + 1 < row_len; ++m) {
            row[m] = row[m + 1];
        }
        row[row_len - 1] = 0;
    }
}

/* std::max / std::min as ApplyActivationToVector calls them (NaN handling included) */
static float svdf_activation(float x, int32_t activation) {
    switch (activation) {
    case 1: return 0.0f < x ? x : 0.0f;
    case 2: x = 1.0f < x ? 1.0f : x; return -1.0f < x ? x : -1.0f;
    case 3: x = 6.0f < x ? 6.0f : x; return 0.0f < x ? x : 0.0f;
    default: return x;
    }
}

void tinyml_svdf_f32(const tinyml_svdf_params_t *p, int32_t activation, const float *input,
                     const float *weights_feature, const float *weights_time, const float *bias, float *state,
                     float *scratch, float *output) {
    const int32_t row_len = p->memory;
    const int32_t batch_len = p->filters * row_len;
    int32_t b, f, c, m, u, r;
    for (b = 0; b < p->batches; ++b) {
        const float *x = input + b * p->input_size;
        const float *w = weights_feature;
        float *slot = state + b * batch_len + (row_len - 1);
        for (f = 0; f < p->filters; ++f) {
            float dot = 0.0f;
            for (c = 0; c < p->input_size; ++c) {
                dot += *w++ * x[c];
            }
            *slot = 0.0f + dot; /* the cleared newest slot, accumulated into */
            slot += row_len;
        }
    }
    for (b = 0; b < p->batches; ++b) {
        const float *s = state + b * batch_len;
        const float *w = weights_time;
        for (f = 0; f < p->filters; ++f) {
            float dot = 0.0f;
            for (m = 0; m < row_len; ++m) {
                dot += *w++ * *s++;
            }
            scratch[b * p->filters + f] = dot;
        }
    }
    for (b = 0; b < p->batches; ++b) {
        const float *in = scratch + b * p->filters;
        for (u = 0; u < p->units; ++u) {
            float sum = 0.0f; /* ReductionSumVector sums the rank's filters, then adds to the bias */
            for (r = 0; r < p->rank; ++r) {
                sum += *in++;
            }
            output[b * p->units + u] = svdf_activation((bias ? bias[u] : 0.0f) + sum, activation);
        }
    }
    for (f = 0; f < p->batches * p->filters; ++f) {
        float *row = state + f * row_len;
        for (m = 0; m + 1 < row_len; ++m) {
            row[m] = row[m + 1];
        }
        row[row_len - 1] = 0.0f;
    }
}
