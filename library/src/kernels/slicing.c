/*
 * Views and pieces of an int8 tensor. Bit-exact with TFLite's reference_ops::Slice,
 * StridedSlice, DepthToSpace, SpaceToDepth, Split, Unpack and Gather (pure byte moves).
 */
#include <string.h>

#include "tinyml/slicing.h"

void tinyml_strided_copy_s8(const tinyml_view_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t *d = p->dims;
    const int32_t *s = p->strides;
    int32_t i0, i1, i2, i3, i4, i5;
    input += p->offset;
    for (i0 = 0; i0 < d[0]; ++i0) {
        for (i1 = 0; i1 < d[1]; ++i1) {
            for (i2 = 0; i2 < d[2]; ++i2) {
                for (i3 = 0; i3 < d[3]; ++i3) {
                    for (i4 = 0; i4 < d[4]; ++i4) {
                        const int8_t *x = input + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
                        if (s[5] == 1) {
                            memcpy(output, x, (size_t)d[5]);
                            output += d[5];
                        } else {
                            for (i5 = 0; i5 < d[5]; ++i5) {
                                *output++ = x[i5 * s[5]];
                            }
                        }
                    }
                }
            }
        }
    }
}

void tinyml_split_s8(const tinyml_split_params_t *p, const int32_t *sizes, const int8_t *input,
                     int8_t *const *outputs) {
    int32_t i, o;
    int32_t offset = 0;
    for (i = 0; i < p->num_outputs; ++i) {
        int8_t *y = outputs[i];
        const int32_t n = sizes[i];
        for (o = 0; o < p->outer; ++o) {
            memcpy(y + o * n, input + o * p->in_stride + offset, (size_t)n);
        }
        offset += n;
    }
}

void tinyml_gather_s8(const tinyml_gather_params_t *p, const int32_t *indices, const int8_t *input,
                      int8_t *output) {
    int32_t o, i;
    const size_t row = (size_t)p->inner;
    for (o = 0; o < p->outer; ++o) {
        const int8_t *block = input + o * p->axis_size * p->inner;
        for (i = 0; i < p->count; ++i) {
            memcpy(output, block + indices[i] * p->inner, row);
            output += p->inner;
        }
    }
}
