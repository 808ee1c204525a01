/*
 * Data movement, int8. Bit-exact with TFLite's reference_ops::Transpose, Pad,
 * Concatenation and ResizeNearestNeighbor (pure byte moves; no arithmetic on values).
 */
#include <string.h>

#include "tinyml/datamove.h"

void tinyml_transpose_s8(const tinyml_transpose_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t *d = p->out_dims;
    const int32_t *s = p->in_strides;
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < d[0]; ++i0) {
        for (i1 = 0; i1 < d[1]; ++i1) {
            for (i2 = 0; i2 < d[2]; ++i2) {
                const int8_t *x = input + i0 * s[0] + i1 * s[1] + i2 * s[2];
                for (i3 = 0; i3 < d[3]; ++i3) {
                    *output++ = x[i3 * s[3]];
                }
            }
        }
    }
}

void tinyml_pad_s8(const tinyml_pad_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t *in = p->in_dims;
    const int32_t *od = p->out_dims;
    const int32_t *b = p->before;
    const int8_t v = (int8_t)p->pad_value;
    const int32_t after3 = od[3] - b[3] - in[3];
    int32_t o0, o1, o2;
    for (o0 = 0; o0 < od[0]; ++o0) {
        const int32_t i0 = o0 - b[0];
        for (o1 = 0; o1 < od[1]; ++o1) {
            const int32_t i1 = o1 - b[1];
            for (o2 = 0; o2 < od[2]; ++o2) {
                const int32_t i2 = o2 - b[2];
                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) {
                    memset(output, v, (size_t)od[3]);
                } else {
                    const int8_t *x = input + ((i0 * in[1] + i1) * in[2] + i2) * in[3];
                    memset(output, v, (size_t)b[3]);
                    memcpy(output + b[3], x, (size_t)in[3]);
                    memset(output + b[3] + in[3], v, (size_t)after3);
                }
                output += od[3];
            }
        }
    }
}

void tinyml_concat_s8(const tinyml_concat_params_t *p, const int32_t *sizes, const int8_t *const *inputs,
                      int8_t *output) {
    int32_t i, o;
    int32_t offset = 0;
    for (i = 0; i < p->num_inputs; ++i) {
        const int8_t *x = inputs[i];
        const int32_t n = sizes[i];
        for (o = 0; o < p->outer; ++o) {
            memcpy(output + o * p->out_stride + offset, x + o * n, (size_t)n);
        }
        offset += n;
    }
}

void tinyml_concat_s16(const tinyml_concat_params_t *p, const int32_t *sizes, const int16_t *const *inputs,
                       int16_t *output) {
    int32_t i, o;
    int32_t offset = 0;
    for (i = 0; i < p->num_inputs; ++i) {
        const int32_t n = sizes[i];
        for (o = 0; o < p->outer; ++o) {
            memcpy(output + o * p->out_stride + offset, inputs[i] + o * n, (size_t)n * sizeof(int16_t));
        }
        offset += n;
    }
}

void tinyml_resize_nearest_s8(const tinyml_resize_nn_params_t *p, const int32_t *y_map, const int32_t *x_map,
                              const int8_t *input, int8_t *output) {
    const int32_t depth = p->depth;
    const int32_t row = p->in_w * depth;
    int32_t b, y, x;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * row;
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *in_row = in_b + y_map[y] * row;
            for (x = 0; x < p->out_w; ++x) {
                memcpy(output, in_row + x_map[x] * depth, (size_t)depth);
                output += depth;
            }
        }
    }
}

void tinyml_copy_input_window(const tinyml_input_window_t *w, const int8_t *image, int8_t *dst) {
    const size_t row = (size_t)(w->cols * w->channels);
    int32_t r;
    for (r = 0; r < w->rows; ++r, dst += row)
        memcpy(dst, image + ((size_t)(w->row0 + r) * (size_t)w->width + (size_t)w->col0) * (size_t)w->channels, row);
}

void tinyml_copy_tile_s8(const tinyml_tile_params_t *p, const int8_t *src, int8_t *dst) {
    int32_t r;
    for (r = 0; r < p->rows; ++r) {
        memcpy(dst, src, (size_t)p->row_bytes);
        src += p->src_stride;
        dst += p->dst_stride;
    }
}
