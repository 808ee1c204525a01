/* tinyml-pio optimized kernels: MAX_POOL_2D, int8. Same signature and bytes as tinyml_maxpool_s8
 * (tinyml/pool.h); the window is walked once per output pixel for all channels, four channels a
 * word with the DSP extension (SSUB8 sets a greater-or-equal flag per byte, SEL keeps the larger). */
#ifndef TINYML_POOL_OPT_H
#define TINYML_POOL_OPT_H

#include "tinyml/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

void tinyml_maxpool_s8_opt(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_POOL_OPT_H */
