/* tinyml-pio kernels: binary element-wise int8 ops with broadcasting.
 *
 * ADD      TFLite reference_integer_ops::Add / BroadcastAdd*Slow
 * MUL      TFLite reference_integer_ops::Mul / BroadcastMul*Slow
 * MAXIMUM  TFLite maximum_minimum.cc (raw int8 comparison)
 * MINIMUM
 * SUB                 TFLite reference_ops::Sub / BroadcastQuantSubSlow (ADD's constants)
 * SQUARED_DIFFERENCE  TFLite squared_difference.cc (ADD's scheme, left shift 7, squared)
 * PRELU               TFLite reference_ops::BroadcastPrelu4DSlow
 *
 * Broadcasting is precomputed by the generator (tinyml_pio/ops/elementwise.py): the output is
 * walked row-major over bc.dims (outermost first); at index (i0..i5) input1 is read at
 * sum(i_k * bc.stride1[k]) and input2 at sum(i_k * bc.stride2[k]). A stride of 0 repeats an input
 * along that dimension. Same-shape operands collapse to dims {1,1,1,1,1,N}, strides 1.
 *
 * The output may be the same buffer as an input that has the output's shape (element i is read
 * before it is written and never read again). */
#ifndef TINYML_ELEMENTWISE_H
#define TINYML_ELEMENTWISE_H

#include "tinyml/common.h"

#define TINYML_EW_MAX_DIMS 6

typedef struct {
    int32_t dims[TINYML_EW_MAX_DIMS];
    int32_t stride1[TINYML_EW_MAX_DIMS];
    int32_t stride2[TINYML_EW_MAX_DIMS];
} tinyml_broadcast_t;

typedef struct {
    tinyml_broadcast_t bc;
    int32_t input1_offset; /* -zero_point */
    int32_t input2_offset;
    int32_t output_offset; /* +zero_point */
    int32_t left_shift;    /* 20 for int8 */
    int32_t input1_multiplier;
    int32_t input1_shift; /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} tinyml_add_params_t;

typedef struct {
    tinyml_broadcast_t bc;
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift; /* MultiplyByQuantizedMultiplier convention: > 0 is a left shift */
    int32_t act_min;
    int32_t act_max;
} tinyml_mul_params_t;

typedef struct {
    tinyml_broadcast_t bc;
} tinyml_minmax_params_t;

typedef struct {
    tinyml_broadcast_t bc; /* input1: the input, input2: alpha */
    int32_t input_offset;
    int32_t alpha_offset;
    int32_t output_offset;
    int32_t output_multiplier_1; /* input >= 0: input_scale / output_scale */
    int32_t output_shift_1;
    int32_t output_multiplier_2; /* input < 0: input_scale * alpha_scale / output_scale */
    int32_t output_shift_2;
} tinyml_prelu_params_t;

/* SUB and SQUARED_DIFFERENCE take ADD's parameters (left_shift 20 and 7; SQUARED_DIFFERENCE's
 * output_shift is MultiplyByQuantizedMultiplier's, > 0 a left shift). */
void tinyml_sub_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void tinyml_squared_difference_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2,
                                  int8_t *output);
void tinyml_prelu_s8(const tinyml_prelu_params_t *p, const int8_t *input, const int8_t *alpha, int8_t *output);
void tinyml_add_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void tinyml_mul_s8(const tinyml_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
/* 16x8 (int16 tensors, zero points 0): ADD with left_shift 15 (add.cc's general-scale int16 path),
 * MUL with the same arithmetic as int8. */
void tinyml_add_s16(const tinyml_add_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void tinyml_mul_s16(const tinyml_mul_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output);
void tinyml_maximum_s8(const tinyml_minmax_params_t *p, const int8_t *input1, const int8_t *input2,
                       int8_t *output);
void tinyml_minimum_s8(const tinyml_minmax_params_t *p, const int8_t *input1, const int8_t *input2,
                       int8_t *output);

#endif
