/*
 * tinyml-pio kernels: views and pieces of an int8 tensor (SLICE, STRIDED_SLICE, DEPTH_TO_SPACE,
 * SPACE_TO_DEPTH, SPLIT, SPLIT_V, UNPACK, GATHER).
 *
 * Byte moves only: TFLite 2.14 copies int8 values unchanged in all of them (the converter gives
 * input and output the same quantization; the compiler refuses anything else). The compiler
 * turns each op into a strided view of the input (tinyml_pio/ops/slicing.py).
 */
#ifndef TINYML_SLICING_H
#define TINYML_SLICING_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TINYML_VIEW_MAX_DIMS 6

/* output, row-major over dims (outermost first), = input[offset + sum(i_k * strides[k])].
 * Strides may be negative (STRIDED_SLICE with a negative step). */
typedef struct {
    int32_t dims[TINYML_VIEW_MAX_DIMS];
    int32_t strides[TINYML_VIEW_MAX_DIMS];
    int32_t offset;
} tinyml_view_params_t;

void tinyml_strided_copy_s8(const tinyml_view_params_t *p, const int8_t *input, int8_t *output);

/* SPLIT / SPLIT_V / UNPACK: output i receives sizes[i] contiguous elements out of each of the
 * `outer` input blocks of `in_stride` elements (the inverse of tinyml_concat_s8). */
typedef struct {
    int32_t num_outputs;
    int32_t outer;
    int32_t in_stride;
} tinyml_split_params_t;

void tinyml_split_s8(const tinyml_split_params_t *p, const int32_t *sizes, const int8_t *input,
                     int8_t *const *outputs);

/* GATHER (batch_dims 0): for each of `outer` blocks, output the `inner`-element rows
 * indices[0..count-1] of the block's `axis_size` rows. Indices are checked by the compiler. */
typedef struct {
    int32_t outer;
    int32_t axis_size;
    int32_t inner;
    int32_t count;
} tinyml_gather_params_t;

void tinyml_gather_s8(const tinyml_gather_params_t *p, const int32_t *indices, const int8_t *input,
                      int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_SLICING_H */
