/* MAX_POOL_2D and AVERAGE_POOL_2D, int8, optimized (tinyml/pool_opt.h). Bit-exact with
 * tinyml_maxpool_s8 / tinyml_avgpool_s8: the maximum of the window's positions inside the input
 * (-128 for an empty window), or their sum divided by their number rounding half away from zero,
 * then the activation clamp; only the loop order differs (taps outside, channels inside). */
#include "tinyml/pool_opt.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define TINYML_POOL_DSP 1
#else
#define TINYML_POOL_DSP 0
#endif

#if !TINYML_POOL_DSP
/* Plain C: the first d4 channels of one output pixel, four per walk of the window, the maximum in
 * registers from the window's first position; `narrow` (a constant at each call): clamp to the
 * activation range, which a full int8 range makes a no-op. */
TINYML_INLINE void maxpool4_c(const int8_t *base, int32_t in_w, int32_t depth, int32_t d4, int32_t fy0, int32_t fy1,
                              int32_t fx0, int32_t fx1, int8_t *y, int32_t narrow, int32_t lo, int32_t hi) {
    int32_t c, fy, fx;
    for (c = 0; c < d4; c += 4) {
        const int8_t *x = base + (fy0 * in_w + fx0) * depth + c;
        int32_t m0 = x[0], m1 = x[1], m2 = x[2], m3 = x[3];
        for (fy = fy0; fy < fy1; ++fy) {
            x = base + (fy * in_w + fx0) * depth + c;
            for (fx = fx0; fx < fx1; ++fx) {
                m0 = TINYML_MAX(m0, x[0]);
                m1 = TINYML_MAX(m1, x[1]);
                m2 = TINYML_MAX(m2, x[2]);
                m3 = TINYML_MAX(m3, x[3]);
                x += depth;
            }
        }
        if (narrow) {
            m0 = tinyml_clamp(m0, lo, hi);
            m1 = tinyml_clamp(m1, lo, hi);
            m2 = tinyml_clamp(m2, lo, hi);
            m3 = tinyml_clamp(m3, lo, hi);
        }
        y[c] = (int8_t)m0;
        y[c + 1] = (int8_t)m1;
        y[c + 2] = (int8_t)m2;
        y[c + 3] = (int8_t)m3;
    }
}
#endif

void tinyml_maxpool_s8_opt(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t depth = p->depth;
    const int8_t lo = (int8_t)p->act_min, hi = (int8_t)p->act_max;
    const int32_t d4 = depth & ~(int32_t)3;
#if TINYML_POOL_DSP
    const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
#endif
    int32_t b, oy, ox, fy, fx, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * depth;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = iy0 < 0 ? -iy0 : 0, fy1 = TINYML_MIN(p->filter_h, p->in_h - iy0);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = ix0 < 0 ? -ix0 : 0, fx1 = TINYML_MIN(p->filter_w, p->in_w - ix0);
                const int8_t *base = in_b + (iy0 * p->in_w + ix0) * depth;
                int8_t *y = output;
                output += depth;
                if (fy0 >= fy1 || fx0 >= fx1) { /* no position inside the input */
                    memset(y, tinyml_clamp(-128, lo, hi), (size_t)depth);
                    continue;
                }
#if TINYML_POOL_DSP
                for (c = 0; c < d4; c += 4) {
                    uint32_t m = 0x80808080u, v;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = base + (fy * p->in_w + fx0) * depth + c;
                        for (fx = fx0; fx < fx1; ++fx) {
                            memcpy(&v, x, 4);
                            (void)__ssub8((int32_t)v, (int32_t)m); /* GE per byte: v >= m */
                            m = (uint32_t)__sel((int32_t)v, (int32_t)m);
                            x += depth;
                        }
                    }
                    (void)__ssub8((int32_t)m, (int32_t)lo4);
                    m = (uint32_t)__sel((int32_t)m, (int32_t)lo4);
                    (void)__ssub8((int32_t)m, (int32_t)hi4);
                    m = (uint32_t)__sel((int32_t)hi4, (int32_t)m);
                    memcpy(y + c, &m, 4);
                }
#else
                if (lo == -128 && hi == 127) {
                    maxpool4_c(base, p->in_w, depth, d4, fy0, fy1, fx0, fx1, y, 0, lo, hi);
                } else {
                    maxpool4_c(base, p->in_w, depth, d4, fy0, fy1, fx0, fx1, y, 1, lo, hi);
                }
#endif
                for (c = d4; c < depth; ++c) {
                    int32_t acc = -128;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = base + (fy * p->in_w + fx0) * depth + c;
                        for (fx = fx0; fx < fx1; ++fx) {
                            acc = TINYML_MAX(acc, *x);
                            x += depth;
                        }
                    }
                    y[c] = (int8_t)tinyml_clamp(acc, lo, hi);
                }
            }
        }
    }
}

/* The rounded average of `count` positions (count > 0), as the reference kernel divides. */
TINYML_INLINE int8_t avg_out(int32_t sum, int32_t count, int32_t half, int32_t lo, int32_t hi) {
    const int32_t v = sum > 0 ? (sum + half) / count : (sum - half) / count;
    return (int8_t)tinyml_clamp(v, lo, hi);
}

void tinyml_avgpool_s8_opt(const tinyml_pool_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t depth = p->depth, d4 = depth & ~(int32_t)3;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t b, oy, ox, fy, fx, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * depth;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0, fy1;
            tinyml_pool_window(iy0, p->filter_h, p->in_h, &fy0, &fy1);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1, count, half;
                const int8_t *base = in_b + (iy0 * p->in_w + ix0) * depth;
                int8_t *y = output;
                tinyml_pool_window(ix0, p->filter_w, p->in_w, &fx0, &fx1);
                output += depth;
                count = (fy1 - fy0) * (fx1 - fx0);
                if (fy0 >= fy1 || fx0 >= fx1) { /* no position inside the input: the sum 0, undivided */
                    memset(y, tinyml_clamp(0, lo, hi), (size_t)depth);
                    continue;
                }
                half = count / 2;
                c = 0;
#if TINYML_POOL_DSP
                if (count <= 256) {
                    for (; c < d4; c += 4) {
                        uint32_t even = 0, odd = 0, v; /* lanes: channels c, c+2 and c+1, c+3 */
                        for (fy = fy0; fy < fy1; ++fy) {
                            const int8_t *x = base + (fy * p->in_w + fx0) * depth + c;
                            for (fx = fx0; fx < fx1; ++fx) {
                                memcpy(&v, x, 4);
                                even = __sxtab16(even, v);
                                __asm__("sxtab16 %0, %0, %1, ror #8" : "+r"(odd) : "r"(v));
                                x += depth;
                            }
                        }
                        y[c] = avg_out((int16_t)even, count, half, lo, hi);
                        y[c + 1] = avg_out((int16_t)odd, count, half, lo, hi);
                        y[c + 2] = avg_out((int32_t)even >> 16, count, half, lo, hi);
                        y[c + 3] = avg_out((int32_t)odd >> 16, count, half, lo, hi);
                    }
                }
#endif
                for (; c < d4; c += 4) { /* four channels per walk of the window, in 32 bits */
                    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = base + (fy * p->in_w + fx0) * depth + c;
                        for (fx = fx0; fx < fx1; ++fx) {
                            s0 += x[0];
                            s1 += x[1];
                            s2 += x[2];
                            s3 += x[3];
                            x += depth;
                        }
                    }
                    y[c] = avg_out(s0, count, half, lo, hi);
                    y[c + 1] = avg_out(s1, count, half, lo, hi);
                    y[c + 2] = avg_out(s2, count, half, lo, hi);
                    y[c + 3] = avg_out(s3, count, half, lo, hi);
                }
                for (; c < depth; ++c) {
                    int32_t sum = 0;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x = base + (fy * p->in_w + fx0) * depth + c;
                        for (fx = fx0; fx < fx1; ++fx) {
                            sum += *x;
                            x += depth;
                        }
                    }
                    y[c] = avg_out(sum, count, half, lo, hi);
                }
            }
        }
    }
}
