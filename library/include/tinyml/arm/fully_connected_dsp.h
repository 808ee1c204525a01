/* tinyml-pio kernels, Arm variant: FULLY_CONNECTED for cores with the DSP extension.
 *
 * Same signature, parameters and results (bit for bit) as tinyml_fully_connected_s8 in
 * tinyml/fully_connected.h. The generator calls it instead of the portable kernel when the board's
 * CPU has the DSP extension (Cortex-M4/M7/M33/M55; tinyml_pio/passes/variants.py). Compiled without
 * __ARM_FEATURE_DSP (host, Cortex-M0+/M3) it forwards to the portable kernel, so code generated for
 * a DSP core still links and gives the same results anywhere. */
#ifndef TINYML_ARM_FULLY_CONNECTED_DSP_H
#define TINYML_ARM_FULLY_CONNECTED_DSP_H

#include "tinyml/fully_connected.h"

#ifdef __cplusplus
extern "C" {
#endif

void tinyml_fully_connected_s8_dsp(const tinyml_fc_params_t *p, const int8_t *input, const int8_t *weights,
                                   const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                   int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
