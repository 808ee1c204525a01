/* REDUCE_MAX, ARG_MAX and ARG_MIN (int8), see reduce.h. */
#include "tinyml/reduce.h"

void tinyml_reduce_max_s8(const tinyml_reduce_params_t *p, const int8_t *input, int8_t *output) {
    int32_t o, i, k;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            const int8_t *x = input + o * p->count * p->inner + i;
            int8_t m = INT8_MIN;
            for (k = 0; k < p->count; ++k) {
                m = x[k * p->inner] > m ? x[k * p->inner] : m;
            }
            *output++ = m;
        }
    }
}

/* The index of the first maximum (minimum) of each [outer][.][inner] column. */
static int32_t arg_at(const tinyml_arg_minmax_params_t *p, const int8_t *x) {
    int32_t best = 0, a;
    int8_t v = x[0];
    for (a = 1; a < p->axis_size; ++a) {
        const int8_t c = x[a * p->inner];
        if (p->is_max ? c > v : c < v) {
            v = c;
            best = a;
        }
    }
    return best;
}

void tinyml_arg_minmax_s8_i32(const tinyml_arg_minmax_params_t *p, const int8_t *input, int32_t *output) {
    int32_t o, i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            *output++ = arg_at(p, input + o * p->axis_size * p->inner + i);
        }
    }
}

void tinyml_arg_minmax_s8_i64(const tinyml_arg_minmax_params_t *p, const int8_t *input, int64_t *output) {
    int32_t o, i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            *output++ = arg_at(p, input + o * p->axis_size * p->inner + i);
        }
    }
}
