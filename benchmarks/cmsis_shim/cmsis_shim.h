/* Benchmark only (benchmarks/cmsis_nn.py): ARM CMSIS-NN's int8 kernels behind this project's
 * portable kernel signatures, so the generated model calls CMSIS-NN layer by layer exactly where it
 * would call its own kernel, and the HIL firmware's per-layer SysTick timing measures CMSIS-NN the
 * way TFLite Micro's cmsis_nn kernels call it (the *_wrapper_s8 entry points; scratch from one
 * static buffer, as TFLM's arena would give it). Never part of the library or of generated code. */
#ifndef TINYML_CMSIS_SHIM_H
#define TINYML_CMSIS_SHIM_H

#include "tinyml/conv.h"
#include "tinyml/depthwise_conv.h"
#include "tinyml/elementwise.h"
#include "tinyml/fully_connected.h"
#include "tinyml/pool.h"

void tinyml_cmsis_conv2d_s8(const tinyml_conv2d_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *output);
void tinyml_cmsis_depthwise_conv2d_s8(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                      const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                      int8_t *output);
void tinyml_cmsis_fully_connected_s8(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                     int8_t *output);
void tinyml_cmsis_avgpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);
void tinyml_cmsis_maxpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);
void tinyml_cmsis_add_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif
