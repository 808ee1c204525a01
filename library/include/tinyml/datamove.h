/*
 * tinyml-pio kernels: data movement (TRANSPOSE, PAD/PADV2, CONCATENATION, RESIZE_NEAREST_NEIGHBOR).
 *
 * These kernels only move int8 bytes; TFLite does not requantize in any of them (int8
 * CONCATENATION requires every input to share the output's scale and zero point). Shapes are
 * extended to 4 dimensions and every stride/offset is precomputed by the compiler.
 */
#ifndef TINYML_DATAMOVE_H
#define TINYML_DATAMOVE_H

#include "tinyml/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TRANSPOSE: output[i0][i1][i2][i3] = input[i0*in_strides[0] + ... + i3*in_strides[3]]. */
typedef struct {
    int32_t out_dims[4];
    int32_t in_strides[4]; /* input stride (elements) of the input axis that output axis k reads */
} tinyml_transpose_params_t;

void tinyml_transpose_s8(const tinyml_transpose_params_t *p, const int8_t *input, int8_t *output);

/* PAD / PADV2: constant padding; before[k] elements of pad_value ahead of the input on axis k. */
typedef struct {
    int32_t in_dims[4];
    int32_t out_dims[4];
    int32_t before[4];
    int32_t pad_value;
} tinyml_pad_params_t;

void tinyml_pad_s8(const tinyml_pad_params_t *p, const int8_t *input, int8_t *output);

/* CONCATENATION: `num_inputs` input pointers follow `output` (variadic, const int8_t *).
 * Input i contributes sizes[i] contiguous elements to each of the `outer` output blocks of
 * `out_stride` elements. */
typedef struct {
    int32_t num_inputs;
    int32_t outer;
    int32_t out_stride;
} tinyml_concat_params_t;

void tinyml_concat_s8(const tinyml_concat_params_t *p, const int32_t *sizes, const int8_t *const *inputs,
                      int8_t *output);
/* 16x8: the same copy of int16 elements (TFLite's int16 CONCATENATION never rescales). */
void tinyml_concat_s16(const tinyml_concat_params_t *p, const int32_t *sizes, const int16_t *const *inputs,
                       int16_t *output);

/* RESIZE_NEAREST_NEIGHBOR (NHWC): y_map[out_h] / x_map[out_w] are the source row/column of each
 * output row/column, computed by the compiler with TFLite's float32 index math. */
typedef struct {
    int32_t batches;
    int32_t in_h;
    int32_t in_w;
    int32_t depth;
    int32_t out_h;
    int32_t out_w;
} tinyml_resize_nn_params_t;

void tinyml_resize_nearest_s8(const tinyml_resize_nn_params_t *p, const int32_t *y_map, const int32_t *x_map,
                              const int8_t *input, int8_t *output);

/* A rectangular block of rows: `rows` runs of `row_bytes` bytes, `src_stride` / `dst_stride`
 * bytes apart. Patch-based execution (tinyml_pio/passes/patch.py) copies a patch's input window
 * (halo included) out of a full tensor and its result tile back into the full stage output. */
typedef struct {
    int32_t rows;
    int32_t row_bytes;
    int32_t src_stride;
    int32_t dst_stride;
} tinyml_tile_params_t;

void tinyml_copy_tile_s8(const tinyml_tile_params_t *p, const int8_t *src, int8_t *dst);

/* Input callback mode of a patch stage (`--patches ...+callback`): the window of the input the
 * stage asks the application for, rows [row0, row0 + rows) and columns [col0, col0 + cols) of
 * the width x channels image; the callback writes it row after row, rows * cols * channels bytes. */
typedef struct {
    int32_t row0;
    int32_t rows;
    int32_t col0;
    int32_t cols;
    int32_t width;
    int32_t channels;
} tinyml_input_window_t;

/* For a callback whose application keeps the whole image: copy window `w` of `image` to `dst`. */
void tinyml_copy_input_window(const tinyml_input_window_t *w, const int8_t *image, int8_t *dst);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_DATAMOVE_H */
