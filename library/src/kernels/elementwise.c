/* Binary element-wise int8 ops with precomputed broadcasting (see elementwise.h).
 * Bit-exact with TFLite's reference kernels for ADD, MUL, MAXIMUM and MINIMUM; ADD and MUL also 16x8. */
#include "tinyml/elementwise.h"

/* The broadcast walker and the ADD and MUL rows, for int8 and int16 (16x8) elements: one macro
 * each, instantiated for both types below. */

/* One innermost row: n output elements, inputs advancing by s1 / s2 elements per output.
 * Walk the 5 outer dims and hand each innermost row to `row`. */
#define TINYML_EW_BROADCAST(NAME, T)                                                                            \
    typedef void (*NAME##_row_fn)(const void *params, const T *a, int32_t s1, const T *b, int32_t s2, T *y,      \
                                  int32_t n);                                                                   \
    static void NAME(const tinyml_broadcast_t *bc, const void *params, const T *in1, const T *in2, T *out,      \
                     NAME##_row_fn row) {                                                                       \
        const int32_t *d = bc->dims;                                                                            \
        const int32_t *s1 = bc->stride1;                                                                        \
        const int32_t *s2 = bc->stride2;                                                                        \
        const int32_t n = d[5];                                                                                 \
        int32_t i0, i1, i2, i3, i4;                                                                             \
        for (i0 = 0; i0 < d[0]; ++i0) {                                                                         \
            for (i1 = 0; i1 < d[1]; ++i1) {                                                                     \
                for (i2 = 0; i2 < d[2]; ++i2) {                                                                 \
                    for (i3 = 0; i3 < d[3]; ++i3) {                                                             \
                        for (i4 = 0; i4 < d[4]; ++i4) {                                                         \
                            const int32_t o1 = i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];  \
                            const int32_t o2 = i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];  \
                            row(params, in1 + o1, s1[5], in2 + o2, s2[5], out, n);                              \
                            out += n;                                                                           \
                        }                                                                                       \
                    }                                                                                           \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }

/* reference_integer_ops::AddElementwise (int8, left shift 20) and reference_ops::AddElementwise
 * (int16 general scale, left shift 15): rescale both inputs to a common 2^-left_shift fixed point,
 * add, rescale to the output. */
#define TINYML_ADD_ROW(NAME, T)                                                                                 \
    static void NAME(const void *params, const T *a, int32_t s1, const T *b, int32_t s2, T *y, int32_t n) {     \
        const tinyml_add_params_t *p = (const tinyml_add_params_t *)params;                                     \
        int32_t i;                                                                                              \
        for (i = 0; i < n; ++i) {                                                                               \
            const int32_t x1 = (p->input1_offset + a[i * s1]) * (1 << p->left_shift);                           \
            const int32_t x2 = (p->input2_offset + b[i * s2]) * (1 << p->left_shift);                           \
            const int32_t r1 = tinyml_requantize_lt1(x1, p->input1_multiplier, p->input1_shift);                \
            const int32_t r2 = tinyml_requantize_lt1(x2, p->input2_multiplier, p->input2_shift);                \
            const int32_t sum = tinyml_requantize_lt1(r1 + r2, p->output_multiplier, p->output_shift) +         \
                                p->output_offset;                                                               \
            y[i] = (T)tinyml_clamp(sum, p->act_min, p->act_max);                                                \
        }                                                                                                       \
    }

/* reference_integer_ops::MulElementwise (int8 and int16: the product of two int16 fits 32 bits) */
#define TINYML_MUL_ROW(NAME, T)                                                                                 \
    static void NAME(const void *params, const T *a, int32_t s1, const T *b, int32_t s2, T *y, int32_t n) {     \
        const tinyml_mul_params_t *p = (const tinyml_mul_params_t *)params;                                     \
        int32_t i;                                                                                              \
        for (i = 0; i < n; ++i) {                                                                               \
            const int32_t prod = (p->input1_offset + a[i * s1]) * (p->input2_offset + b[i * s2]);               \
            const int32_t r = tinyml_requantize(prod, p->output_multiplier, p->output_shift) + p->output_offset; \
            y[i] = (T)tinyml_clamp(r, p->act_min, p->act_max);                                                  \
        }                                                                                                       \
    }

TINYML_EW_BROADCAST(ew_broadcast, int8_t)
TINYML_EW_BROADCAST(ew_broadcast_s16, int16_t)
TINYML_ADD_ROW(add_row, int8_t)
TINYML_ADD_ROW(add_row_s16, int16_t)
TINYML_MUL_ROW(mul_row, int8_t)
TINYML_MUL_ROW(mul_row_s16, int16_t)

/* Both inputs on ADD's common fixed point; returns scaled input1 - scaled input2. */
TINYML_INLINE int32_t scaled_diff(const tinyml_add_params_t *p, int8_t a, int8_t b) {
    const int32_t x1 = (p->input1_offset + a) * (1 << p->left_shift);
    const int32_t x2 = (p->input2_offset + b) * (1 << p->left_shift);
    return tinyml_requantize_lt1(x1, p->input1_multiplier, p->input1_shift) -
           tinyml_requantize_lt1(x2, p->input2_multiplier, p->input2_shift);
}

/* reference_ops::SubElementwise / BroadcastQuantSubSlow */
static void sub_row(const void *params, const int8_t *a, int32_t s1, const int8_t *b, int32_t s2, int8_t *y,
                    int32_t n) {
    const tinyml_add_params_t *p = (const tinyml_add_params_t *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t r = tinyml_requantize_lt1(scaled_diff(p, a[i * s1], b[i * s2]), p->output_multiplier,
                                                p->output_shift) + p->output_offset;
        y[i] = (int8_t)tinyml_clamp(r, p->act_min, p->act_max);
    }
}

/* squared_difference.cc SquaredDifference<int8_t>: the square of the difference fits 32 bits. */
static void sqdiff_row(const void *params, const int8_t *a, int32_t s1, const int8_t *b, int32_t s2, int8_t *y,
                       int32_t n) {
    const tinyml_add_params_t *p = (const tinyml_add_params_t *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t d = scaled_diff(p, a[i * s1], b[i * s2]);
        const int32_t r = tinyml_requantize(d * d, p->output_multiplier, p->output_shift) + p->output_offset;
        y[i] = (int8_t)tinyml_clamp(r, p->act_min, p->act_max);
    }
}

/* reference_ops::BroadcastPrelu4DSlow */
static void prelu_row(const void *params, const int8_t *a, int32_t s1, const int8_t *b, int32_t s2, int8_t *y,
                      int32_t n) {
    const tinyml_prelu_params_t *p = (const tinyml_prelu_params_t *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t x = p->input_offset + a[i * s1];
        int32_t r;
        if (x >= 0) {
            r = tinyml_requantize(x, p->output_multiplier_1, p->output_shift_1);
        } else {
            r = tinyml_requantize(x * (p->alpha_offset + b[i * s2]), p->output_multiplier_2, p->output_shift_2);
        }
        y[i] = (int8_t)tinyml_clamp(r + p->output_offset, -128, 127);
    }
}

static void max_row(const void *params, const int8_t *a, int32_t s1, const int8_t *b, int32_t s2, int8_t *y,
                    int32_t n) {
    int32_t i;
    (void)params;
    for (i = 0; i < n; ++i) {
        const int8_t u = a[i * s1];
        const int8_t v = b[i * s2];
        y[i] = u > v ? u : v;
    }
}

static void min_row(const void *params, const int8_t *a, int32_t s1, const int8_t *b, int32_t s2, int8_t *y,
                    int32_t n) {
    int32_t i;
    (void)params;
    for (i = 0; i < n; ++i) {
        const int8_t u = a[i * s1];
        const int8_t v = b[i * s2];
        y[i] = u < v ? u : v;
    }
}

void tinyml_add_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    ew_broadcast(&p->bc, p, input1, input2, output, add_row);
}

void tinyml_mul_s8(const tinyml_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    ew_broadcast(&p->bc, p, input1, input2, output, mul_row);
}

void tinyml_maximum_s8(const tinyml_minmax_params_t *p, const int8_t *input1, const int8_t *input2,
                       int8_t *output) {
    ew_broadcast(&p->bc, p, input1, input2, output, max_row);
}

void tinyml_minimum_s8(const tinyml_minmax_params_t *p, const int8_t *input1, const int8_t *input2,
                       int8_t *output) {
    ew_broadcast(&p->bc, p, input1, input2, output, min_row);
}

void tinyml_sub_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    ew_broadcast(&p->bc, p, input1, input2, output, sub_row);
}

void tinyml_squared_difference_s8(const tinyml_add_params_t *p, const int8_t *input1, const int8_t *input2,
                                  int8_t *output) {
    ew_broadcast(&p->bc, p, input1, input2, output, sqdiff_row);
}

void tinyml_prelu_s8(const tinyml_prelu_params_t *p, const int8_t *input, const int8_t *alpha, int8_t *output) {
    ew_broadcast(&p->bc, p, input, alpha, output, prelu_row);
}

void tinyml_add_s16(const tinyml_add_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output) {
    ew_broadcast_s16(&p->bc, p, input1, input2, output, add_row_s16);
}

void tinyml_mul_s16(const tinyml_mul_params_t *p, const int16_t *input1, const int16_t *input2, int16_t *output) {
    ew_broadcast_s16(&p->bc, p, input1, input2, output, mul_row_s16);
}
