/* tinyml-pio optimized kernels: DEPTHWISE_CONV_2D, int8, depth multiplier 1 (see tinyml/opt.h).
 *
 * Same results, bit for bit, as tinyml_depthwise_conv2d_s8. Input rows pass through a ring of
 * (filter_h - 1) * dilation_h + 1 rows in scratch, padded left and right with the input zero
 * point (and rows outside the image are all zero point), so every output takes all its taps with
 * no bounds checks and the folded bias is exact. Rows enter the ring before any output row that
 * could overwrite them is written, which makes the kernel safe IN PLACE (input == output, batch 1)
 * for any stride, dilation and padding: output row j writes bytes below (j + 1) * out_w * C <=
 * (j + 1) * in_w * C, i.e. input rows <= j, and input row r is first needed by output row
 * <= r (the top padding is less than the filter height), so it is always saved in time.
 */
#ifndef TINYML_DEPTHWISE_CONV_OPT_H
#define TINYML_DEPTHWISE_CONV_OPT_H

#include "tinyml/depthwise_conv.h"
#include "tinyml/opt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ring geometry: rows, and pixels per row (the columns any output reads, from the left padding). */
#define TINYML_DW_RING_ROWS(p) (((p)->filter_h - 1) * (p)->dilation_h + 1)
#define TINYML_DW_RING_W(p) (((p)->out_w - 1) * (p)->stride_w + ((p)->filter_w - 1) * (p)->dilation_w + 1)

/* filter: repacked by the generator in blocks of four channels, tap after tap:
 * packed[((c / 4) * filter_h * filter_w + tap) * 4 + c % 4] = w[tap][c], zero past in_c.
 * scratch: rows * ring_w * in_c + 4 bytes (the last channel block of the last pixel reads a word).
 * `output` may be `input` when batches == 1. depth_multiplier must be 1. */
void tinyml_depthwise_conv2d_s8_opt(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                    const tinyml_chanq_t *q, int8_t *output, int8_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_DEPTHWISE_CONV_OPT_H */
