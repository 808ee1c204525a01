/* tinyml-pio optimized kernels: CONV_2D, int8, as a matrix product (see tinyml/opt.h).
 *
 * Same results, bit for bit, as tinyml_conv2d_s8 for groups == 1. The generator
 * (tinyml_pio/passes/opt.py) gives them the folded per-channel constants `q` and plans `scratch`
 * in the arena; the sizes below are its twins in Python. Four output pixels are computed per pass
 * over a filter row: their inputs (for a general convolution, their im2col rows) are first
 * widened to 16 bits in scratch, so each weight word is loaded and widened once for four pixels.
 */
#ifndef TINYML_CONV_OPT_H
#define TINYML_CONV_OPT_H

#include "tinyml/conv.h"
#include "tinyml/opt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pixels per pass of the matrix kernels. */
#define TINYML_OPT_PIXELS 4

/* Block n (of `blocks`) of the 1x1 kernel's walk over `pixels` pixels: its first pixel, and its
 * pixel count in *np. In place with a wider output (`backwards`) the walk starts at the last block,
 * so no output overwrites an input not yet read (see tinyml_conv1x1_inplace_s8). */
TINYML_INLINE int32_t tinyml_opt_block(int32_t n, int32_t blocks, int32_t pixels, int32_t backwards, int32_t *np) {
    const int32_t pix0 = (backwards ? blocks - 1 - n : n) * TINYML_OPT_PIXELS;
    *np = TINYML_MIN(TINYML_OPT_PIXELS, pixels - pix0);
    return pix0;
}

/* Scratch bytes of the matrix product over rows of k int8 values, for a target with or without
 * the DSP/MVE extensions: the rows of four pixels widened to int16, or copied. A layer of one or
 * two pixels only ever takes the one-pixel path: k bytes to copy a pixel in place, else none. */
#define TINYML_MAT_SCRATCH_DSP(k) (((k) / 4) * 32 + 48)
#define TINYML_MAT_SCRATCH_C(k) (4 * (k))

/* 1x1 convolution, stride 1, no padding, groups 1: a [pixels x in_c] x [in_c x out_c] product.
 * `output` may be `input` (in place, out_c larger or smaller than in_c: pixels are walked from the
 * end that keeps unread inputs intact, four at a time, each block read into scratch first).
 * scratch: TINYML_MAT_SCRATCH_DSP(in_c) / TINYML_MAT_SCRATCH_C(in_c) bytes, 4-byte aligned
 * (see above for one or two pixels). Also FULLY_CONNECTED: batches pixels of in_depth values. */
void tinyml_conv1x1_s8_opt(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                           const tinyml_chanq_t *q, int8_t *output, int8_t *scratch);

/* Any convolution with groups 1 (padding, stride, dilation) through im2col: scratch holds four
 * im2col rows of k = filter_h * filter_w * in_c int8 values (padded taps are the input zero
 * point) and, with DSP, their int16 widening: 4 * k + TINYML_MAT_SCRATCH_DSP(k) bytes, or
 * 4 * k without (or with at most two output pixels). Filter layout [out_c][filter_h][filter_w][in_c], as TFLite's. */
void tinyml_conv2d_s8_opt(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                          const tinyml_chanq_t *q, int8_t *output, int8_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_CONV_OPT_H */
