/* The SignalWindow custom operator of custom_model/window.tflite, as a tinyml-pio user kernel
 * (custom_tinyml_custom_ops = SignalWindow=signal_window:128 in platformio.ini):
 *
 *     y[i] = saturate_int8(((x[i] - zp) * w[i] + 2^(shift-1)) >> shift + zp)
 *
 * w: the Q15 window, the operator's second (constant) input; shift: the int32 in its options blob;
 * x and y share one quantization. The products go through the planned scratch (4 bytes a value)
 * to show how a kernel gets working memory without allocating. window_ref.py is the same in Python. */
#include <string.h>

#include "tinyml/custom_op.h"

int signal_window(const tinyml_custom_op_t *op) {
    const tinyml_tensor_t *x = &op->inputs[0], *w = &op->inputs[1], *y = &op->outputs[0];
    const int8_t *in = (const int8_t *)x->data;
    const int16_t *coef = (const int16_t *)w->data;
    int8_t *out = (int8_t *)y->data;
    int32_t *acc = (int32_t *)op->scratch;
    int32_t shift, i;
    if (op->num_inputs != 2 || op->num_outputs != 1 || x->dtype != TINYML_DTYPE_INT8 ||
        w->dtype != TINYML_DTYPE_INT16 || y->dtype != TINYML_DTYPE_INT8 || w->size != x->size ||
        y->size != x->size || op->options_size != 4 || op->scratch_size < 4u * (size_t)x->size)
        return 1;  /* invoke returns it: the model is not the one this kernel was written for */
    memcpy(&shift, op->options, 4);
    if (shift < 1 || shift > 30) return 2;
    for (i = 0; i < x->size; ++i) acc[i] = ((int32_t)in[i] - x->zero_point) * coef[i];
    for (i = 0; i < x->size; ++i) {
        int32_t v = ((acc[i] + (1 << (shift - 1))) >> shift) + y->zero_point;
        out[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
    return 0;
}
