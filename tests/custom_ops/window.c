/* The SignalWindow custom operator of tests/custom_op_models.py, as a tinyml-pio user kernel:
 * y = saturate(((x - zp) * w + 2^(shift-1)) >> shift + zp), w a Q15 constant, shift in the options. */
#include <string.h>
#include "tinyml/custom_op.h"

int test_signal_window(const tinyml_custom_op_t *op) {
    const tinyml_tensor_t *x = &op->inputs[0], *w = &op->inputs[1], *y = &op->outputs[0];
    const int8_t *in = (const int8_t *)x->data;
    const int16_t *coef = (const int16_t *)w->data;
    int8_t *out = (int8_t *)y->data;
    int32_t shift, i;
    if (op->num_inputs != 2 || x->dtype != TINYML_DTYPE_INT8 || w->dtype != TINYML_DTYPE_INT16 ||
        y->dtype != TINYML_DTYPE_INT8 || w->size != x->size || y->size != x->size || op->options_size != 4)
        return 1;
    memcpy(&shift, op->options, 4);
    if (shift < 1 || shift > 30) return 2;
    for (i = 0; i < x->size; ++i) {
        int32_t v = (((int32_t)in[i] - x->zero_point) * coef[i] + (1 << (shift - 1))) >> shift;
        v += y->zero_point;
        out[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
    return 0;
}
