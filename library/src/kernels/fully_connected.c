/* FULLY_CONNECTED, int8. Bit-exact with TFLite's reference_integer_ops::FullyConnected. */
#include "tinyml/fully_connected.h"

void tinyml_fully_connected_s8(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift,
                               int8_t *output) {
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->in_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *w = weights + o * p->in_depth;
            int32_t acc = bias[o];
            for (d = 0; d < p->in_depth; ++d) {
                acc += (int32_t)x[d] * (int32_t)w[d];
            }
            acc = tinyml_requantize(acc, mult[o], shift[o]) + p->output_offset;
            output[b * p->out_depth + o] = (int8_t)tinyml_clamp(acc, p->act_min, p->act_max);
        }
    }
}

/* reference_integer_ops::FullyConnected<int16_t, int8_t, int16_t, int64_t> */
void tinyml_fully_connected_s16(const tinyml_fc_params_t *p, const int16_t *input, const int8_t *weights,
                                const int64_t *bias, const int32_t *mult, const int32_t *shift, int16_t *output) {
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *x = input + b * p->in_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *w = weights + o * p->in_depth;
            int64_t acc = bias ? bias[o] : 0;
            int32_t r;
            for (d = 0; d < p->in_depth; ++d) {
                acc += (int32_t)x[d] * (int32_t)w[d];
            }
            r = tinyml_requantize_s64(acc, mult[o], shift[o]) + p->output_offset;
            output[b * p->out_depth + o] = (int16_t)tinyml_clamp(r, p->act_min, p->act_max);
        }
    }
}
