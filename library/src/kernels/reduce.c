/* REDUCE_MAX, ARG_MAX and ARG_MIN (int8), see reduce.h. */
#include "tinyml/reduce.h"

void tinyml_reduce_max_s8(const tinyml_reduce_params_t *p, const int8_t *input, int8_t *output) {
    int32_t od[4], rd[4], st[4];
    int32_t o0, o1, o2, o3, r0, r1, r2, r3, i;
    st[3] = 1;
    st[2] = p->dims[3];
    st[1] = p->dims[2] * st[2];
    st[0] = p->dims[1] * st[1];
    for (i = 0; i < 4; ++i) {
        od[i] = p->reduce[i] ? 1 : p->dims[i];
        rd[i] = p->reduce[i] ? p->dims[i] : 1;
    }
    for (o0 = 0; o0 < od[0]; ++o0) {
        for (o1 = 0; o1 < od[1]; ++o1) {
            for (o2 = 0; o2 < od[2]; ++o2) {
                for (o3 = 0; o3 < od[3]; ++o3) {
                    const int8_t *base = input + o0 * st[0] + o1 * st[1] + o2 * st[2] + o3;
                    int8_t m = INT8_MIN;
                    for (r0 = 0; r0 < rd[0]; ++r0) {
                        for (r1 = 0; r1 < rd[1]; ++r1) {
                            for (r2 = 0; r2 < rd[2]; ++r2) {
                                const int8_t *x = base + r0 * st[0] + r1 * st[1] + r2 * st[2];
                                for (r3 = 0; r3 < rd[3]; ++r3) {
                                    m = x[r3] > m ? x[r3] : m;
                                }
                            }
                        }
                    }
                    *output++ = m;
                }
            }
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
