/* tinyml-pio optimized kernels: MAX_POOL_2D and AVERAGE_POOL_2D, int8. Same signatures and bytes
 * as tinyml_maxpool_s8 / tinyml_avgpool_s8 (tinyml/pool.h); the window is walked once per output
 * pixel for four channels at a time. With the DSP extension the max pool keeps four channels in a
 * word (SSUB8 sets a greater-or-equal flag per byte, SEL keeps the larger) and the average pool
 * sums them in two words of 16-bit lanes (SXTAB16: one instruction adds two sign-extended bytes),
 * which cannot overflow for windows of up to 256 positions (|sum| <= 128 * 256); larger windows
 * sum in 32 bits. */
#ifndef TINYML_POOL_OPT_H
#define TINYML_POOL_OPT_H

#include "tinyml/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

void tinyml_maxpool_s8_opt(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);
void tinyml_avgpool_s8_opt(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_POOL_OPT_H */
