/*
 * The custom-operator hook: what the generated code passes to a C function the user names for a
 * custom (or unsupported) operator (`tinyml-pio convert --custom-op NAME=my_fn[:scratch_bytes]`,
 * `custom_tinyml_custom_ops = NAME=my_fn[:scratch_bytes]` in platformio.ini).
 *
 * The user writes
 *
 *     int my_fn(const tinyml_custom_op_t *op);
 *
 * and returns 0 on success; any other value stops <prefix>_invoke(), which returns it. The
 * descriptor is a constant built at generation time: every pointer is fixed (inputs and outputs
 * point into the model's arena or its flash weights, planned like any other layer's), so the
 * function only reads it. Inputs must not be written; outputs may not alias inputs.
 */
#ifndef TINYML_CUSTOM_OP_H
#define TINYML_CUSTOM_OP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The element type of a tensor (TFLite's names). */
typedef enum {
    TINYML_DTYPE_INT8 = 0,
    TINYML_DTYPE_UINT8 = 1,
    TINYML_DTYPE_INT16 = 2,
    TINYML_DTYPE_INT32 = 3,
    TINYML_DTYPE_INT64 = 4,
    TINYML_DTYPE_FLOAT32 = 5,
    TINYML_DTYPE_BOOL = 6
} tinyml_dtype_t;

/* One input or output of the operator. real = scale * (q - zero_point); per-channel tensors
 * (num_scales > 1) carry one scale and zero point per index of dimension quantized_dimension,
 * `scale`/`zero_point` are then the first channel's. Unquantized tensors: scale 0, num_scales 0. */
typedef struct {
    void *data;                  /* inputs: read only (const weights live in flash) */
    const int32_t *dims;         /* rank entries, TFLite's order (NHWC) */
    int32_t rank;
    int32_t size;                /* elements */
    tinyml_dtype_t dtype;
    float scale;
    int32_t zero_point;
    const float *scales;         /* num_scales entries, or NULL */
    const int32_t *zero_points;  /* num_scales entries, or NULL */
    int32_t num_scales;
    int32_t quantized_dimension;
} tinyml_tensor_t;

/* Everything the operator is called with. */
typedef struct {
    const char *name;             /* the operator's custom code (e.g. "SignalWindow") or builtin type */
    int32_t op_index;             /* its index in the model */
    const tinyml_tensor_t *inputs;
    int32_t num_inputs;           /* omitted optional inputs have data == NULL and rank 0 */
    const tinyml_tensor_t *outputs;
    int32_t num_outputs;
    const uint8_t *options;       /* the operator's custom options as stored in the model (often a FlexBuffer), or NULL */
    size_t options_size;
    void *scratch;                /* scratch_bytes planned in the arena (aligned to 4), or NULL */
    size_t scratch_size;
} tinyml_custom_op_t;

typedef int (*tinyml_custom_op_fn)(const tinyml_custom_op_t *op);

#ifdef __cplusplus
}
#endif

#endif
