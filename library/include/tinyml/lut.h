/* tinyml-pio kernels: element-wise int8 -> int8 through a 256-entry table.
 *
 * Any unary int8 operator is a function of 256 input values. The generator evaluates TFLite's
 * exact integer algorithm for each of them (tinyml_pio/ops), so the table is bit-exact by
 * construction and the kernel is one load per element. In-place safe (input == output). */
#ifndef TINYML_LUT_H
#define TINYML_LUT_H

#include "tinyml/common.h"

/* table[i] is the output for input value (int8_t)(i - 128). */
void tinyml_lut_s8(const int8_t *table, const int8_t *input, int8_t *output, int32_t size);

#endif
