/* AVERAGE_POOL_2D, MAX_POOL_2D (int8 and int16) and MEAN (int8). See tinyml/pool.h. */
#include "tinyml/pool.h"

/* The window loops of both pools. `is_max` is a constant at each (always inlined) call, so each
 * public kernel compiles to its own loops with no per-element test. The average sums the window
 * and divides by the number of positions inside the input, rounding half away from zero; the
 * maximum starts from the type's lowest value. One macro instantiates them for int8 and int16 (16x8). */
#define TINYML_POOL_LOOPS(SUFFIX, T, LOWEST) \
TINYML_INLINE void pool_##SUFFIX(const tinyml_pool_params_t *p, const T *input, T *output, int is_max) { \
    int32_t b, oy, ox, c, fy, fx; \
    for (b = 0; b < p->batches; ++b) { \
        const T *in_b = input + b * p->in_h * p->in_w * p->depth; \
        for (oy = 0; oy < p->out_h; ++oy) { \
            const int32_t iy0 = oy * p->stride_h - p->pad_h; \
            int32_t fy0, fy1; \
            tinyml_pool_window(iy0, p->filter_h, p->in_h, &fy0, &fy1); \
            for (ox = 0; ox < p->out_w; ++ox) { \
                const int32_t ix0 = ox * p->stride_w - p->pad_w; \
                int32_t fx0, fx1, count; \
                tinyml_pool_window(ix0, p->filter_w, p->in_w, &fx0, &fx1); \
                count = (fy1 - fy0) * (fx1 - fx0); \
                for (c = 0; c < p->depth; ++c) { \
                    int32_t acc = is_max ? LOWEST : 0; \
                    for (fy = fy0; fy < fy1; ++fy) { \
                        const T *row = in_b + ((iy0 + fy) * p->in_w + ix0) * p->depth + c; \
                        for (fx = fx0; fx < fx1; ++fx) { \
                            const int32_t v = row[fx * p->depth]; \
                            acc = is_max ? TINYML_MAX(acc, v) : acc + v; \
                        } \
                    } \
                    if (!is_max && count > 0) { \
                        /* round half away from zero; C division truncates toward zero */ \
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count; \
                    } \
                    *output++ = (T)tinyml_clamp(acc, p->act_min, p->act_max); \
                } \
            } \
        } \
    } \
}

TINYML_POOL_LOOPS(s8, int8_t, -128)
TINYML_POOL_LOOPS(s16, int16_t, -32768)

void tinyml_avgpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output) {
    pool_s8(p, input, output, 0);
}

void tinyml_maxpool_s8(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output) {
    pool_s8(p, input, output, 1);
}

void tinyml_avgpool_s16(const tinyml_pool_params_t *p, const int16_t *input, int16_t *output) {
    pool_s16(p, input, output, 0);
}

void tinyml_maxpool_s16(const tinyml_pool_params_t *p, const int16_t *input, int16_t *output) {
    pool_s16(p, input, output, 1);
}

void tinyml_mean_s8(const tinyml_mean_params_t *p, const int8_t *input, int8_t *output) {
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
                    int32_t sum = 0;
                    int32_t acc;
                    for (r0 = 0; r0 < rd[0]; ++r0) {
                        for (r1 = 0; r1 < rd[1]; ++r1) {
                            for (r2 = 0; r2 < rd[2]; ++r2) {
                                const int8_t *x = base + r0 * st[0] + r1 * st[1] + r2 * st[2];
                                for (r3 = 0; r3 < rd[3]; ++r3) {
                                    sum += x[r3];
                                }
                            }
                        }
                    }
                    /* (sum - zp * count) in int64, truncated to int32 as TFLite does */
                    acc = (int32_t)((uint32_t)sum - (uint32_t)p->zp_count);
                    acc = tinyml_requantize(acc, p->mult, p->shift) + p->output_offset;
                    *output++ = (int8_t)tinyml_clamp(acc, -128, 127);
                }
            }
        }
    }
}
