/* tinyml-pio kernels: SVDF (TFLite reference_ops::EvalIntegerSVDF), int8 activations and feature
 * weights, int16 time weights and state. */
#ifndef TINYML_SVDF_H
#define TINYML_SVDF_H

#include "tinyml/common.h"

typedef struct {
    int32_t batches;
    int32_t input_size;
    int32_t filters;  /* units * rank */
    int32_t memory;   /* time steps each filter remembers */
    int32_t units;
    int32_t rank;
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset;
    int32_t mult1, shift1;  /* input * feature weights -> state scale */
    int32_t mult2, shift2;  /* state * time weights -> output scale */
} tinyml_svdf_params_t;

/* state: batches x filters x memory int16, the newest activation last in each filter's row; it
 * persists across calls (a state tensor, outside the arena). scratch: batches * (filters + units)
 * int32. bias: units int32, or NULL. */
void tinyml_svdf_s8(const tinyml_svdf_params_t *p, const int8_t *input, const int8_t *weights_feature,
                    const int16_t *weights_time, const int32_t *bias, int16_t *state, int32_t *scratch,
                    int8_t *output);

/* float32 (TFLite reference_ops::EvalFloatSVDF): the same steps in float, in TFLite's loop order,
 * then the fused activation (0 none, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6). scratch: batches * filters
 * floats; bias may be NULL. */
void tinyml_svdf_f32(const tinyml_svdf_params_t *p, int32_t activation, const float *input,
                     const float *weights_feature, const float *weights_time, const float *bias, float *state,
                     float *scratch, float *output);

#endif
