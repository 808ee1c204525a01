/* On-device training: backward kernels and the int8/int32 write-back. See tinyml/train.h. */
#include <math.h>
#include <string.h>

#include "tinyml/conv.h"
#include "tinyml/train.h"

/* exp and log of our own: libm's differ between C libraries (newlib on the board, glibc on the
 * host) in the last bit, and the device must compute exactly what the host build computes. Only
 * +, -, *, / and exact conversions: IEEE float gives the same bits everywhere (no contraction
 * into fused multiply-adds: the library builds with -ffp-contract=off). Relative error ~2e-7. */
static float tinyml_expf(float x) {
    union { float f; uint32_t u; } v;
    float k, r, p;
    int32_t ki;
    if (x < -87.0f) return 0.0f;
    if (x > 88.0f) x = 88.0f;
    k = x * 1.44269504f; /* x / ln 2, rounded to the nearest integer */
    ki = (int32_t)(k < 0.0f ? k - 0.5f : k + 0.5f);
    k = (float)ki;
    r = (x - k * 0.693145752f) - k * 1.42860677e-06f; /* ln 2 in two parts (Cody-Waite) */
    p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f
        + r * 0.00138888892f)))));
    v.u = (uint32_t)(ki + 127) << 23; /* 2^k; k in [-126, 127] here */
    return p * v.f;
}

static float tinyml_logf(float x) {
    union { float f; uint32_t u; } v;
    float m, t, t2, e;
    if (!(x > 0.0f)) return -INFINITY;
    v.f = x;
    e = (float)((int32_t)((v.u >> 23) & 0xFF) - 127);
    v.u = (v.u & 0x007FFFFFu) | 0x3F800000u; /* mantissa in [1, 2) */
    m = v.f;
    if (m > 1.41421356f) { m *= 0.5f; e += 1.0f; }
    t = (m - 1.0f) / (m + 1.0f); /* log m = 2 atanh t, |t| < 0.172 */
    t2 = t * t;
    return 2.0f * t * (1.0f + t2 * (0.333333343f + t2 * (0.2f + t2 * (0.142857149f + t2 * 0.111111112f))))
           + e * 0.693147182f;
}

static float uniform01(tinyml_train_ctx_t *ctx) {
    uint32_t s = ctx->rng ? ctx->rng : 0x9E3779B9u;
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    ctx->rng = s;
    return (float)(s >> 8) * (1.0f / 16777216.0f); /* 24 bits: exact in float, in [0, 1) */
}

uint32_t tinyml_crc32(const uint8_t *data, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; ++i) {
        c ^= data[i];
        for (k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Float to integer without undefined behaviour for huge or NaN values. */
static int64_t to_int(float v) {
    if (!(v == v)) return 0;
    if (v > 4.0e9f) return (int64_t)4000000000;
    if (v < -4.0e9f) return -(int64_t)4000000000;
    return (int64_t)v;
}

int32_t tinyml_train_writeback(tinyml_train_ctx_t *ctx, int32_t old, float delta, float *master, int32_t lo,
                               int32_t hi) {
    int64_t next;
    switch (ctx->rounding) {
    case TINYML_ROUND_NEAREST:
        next = (int64_t)old + to_int(roundf(delta));
        break;
    case TINYML_ROUND_STOCHASTIC:
        next = (int64_t)old + to_int(floorf(delta + uniform01(ctx)));
        break;
    case TINYML_ROUND_MASTER: { /* the master moves, the value follows its rounding (also a folded bias) */
        const int64_t before = to_int(roundf(*master));
        *master = TINYML_MIN(TINYML_MAX(*master + delta, (float)lo), (float)hi);
        next = (int64_t)old + to_int(roundf(*master)) - before;
        break;
    }
    default: /* truncation toward zero */
        next = (int64_t)old + to_int(delta);
        break;
    }
    return (int32_t)(clamp64(next, lo, hi) - old);
}

static void apply_mask(float *g, const uint8_t *mask, int32_t n) {
    int32_t i;
    if (!mask) return;
    for (i = 0; i < n; ++i) {
        if (!((mask[i >> 3] >> (i & 7)) & 1)) g[i] = 0.0f;
    }
}

void tinyml_train_mask_s8(const int8_t *y, uint8_t *mask, int32_t n, int32_t lo, int32_t hi) {
    int32_t i;
    memset(mask, 0, (size_t)((n + 7) / 8));
    for (i = 0; i < n; ++i) {
        if (y[i] > lo && y[i] < hi) mask[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
}

void tinyml_train_slice_s8(const int8_t *x, int8_t *dst, int32_t pixels, int32_t c, int32_t keep) {
    int32_t p;
    for (p = 0; p < pixels; ++p) memcpy(dst + (size_t)p * keep, x + (size_t)p * c, (size_t)keep);
}

void tinyml_train_xent_s8(const int8_t *logits, int32_t n, float scale, int32_t zp, int32_t label, float *grad,
                          float *loss) {
    int32_t i;
    float mx, sum = 0.0f;
    mx = scale * (float)(logits[0] - zp);
    for (i = 1; i < n; ++i) mx = TINYML_MAX(mx, scale * (float)(logits[i] - zp));
    for (i = 0; i < n; ++i) {
        grad[i] = tinyml_expf(scale * (float)(logits[i] - zp) - mx);
        sum += grad[i];
    }
    for (i = 0; i < n; ++i) grad[i] /= sum;
    if (label < 0 || label >= n) { /* no class: no gradient */
        memset(grad, 0, (size_t)n * sizeof(float));
        *loss = NAN;
        return;
    }
    *loss = -tinyml_logf(TINYML_MAX(grad[label], 1e-30f));
    grad[label] -= 1.0f;
}

void tinyml_train_mse_s8(const int8_t *y, int32_t n, float scale, int32_t zp, const float *target, float *grad,
                         float *loss) {
    int32_t i;
    float sum = 0.0f;
    for (i = 0; i < n; ++i) {
        const float d = scale * (float)(y[i] - zp) - target[i];
        sum += d * d;
        grad[i] = 2.0f * d / (float)n;
    }
    *loss = sum / (float)n;
}

void tinyml_train_copy_backward(float *g_out, const uint8_t *mask, float *g_in, int32_t n, int32_t accumulate) {
    int32_t i;
    apply_mask(g_out, mask, n);
    for (i = 0; i < n; ++i) g_in[i] = accumulate ? g_in[i] + g_out[i] : g_out[i];
}

void tinyml_train_add_backward(float *g_out, const uint8_t *mask, float *g_a, int32_t acc_a, float *g_b,
                               int32_t acc_b, int32_t n) {
    int32_t i;
    apply_mask(g_out, mask, n);
    for (i = 0; i < n; ++i) {
        if (g_a) g_a[i] = acc_a ? g_a[i] + g_out[i] : g_out[i];
        if (g_b) g_b[i] = acc_b ? g_b[i] + g_out[i] : g_out[i];
    }
}

static void pool_backward(const tinyml_pool_params_t *p, const int8_t *x, float *g_out, const uint8_t *mask,
                          float *g_in, int32_t accumulate) {
    const int32_t in_n = p->batches * p->in_h * p->in_w * p->depth;
    int32_t b, oy, ox, c, fy, fx;
    apply_mask(g_out, mask, p->batches * p->out_h * p->out_w * p->depth);
    if (!accumulate) memset(g_in, 0, (size_t)in_n * sizeof(float));
    for (b = 0; b < p->batches; ++b) {
        const size_t in_b = (size_t)b * p->in_h * p->in_w * p->depth;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0, fy1;
            tinyml_pool_window(iy0, p->filter_h, p->in_h, &fy0, &fy1);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1, count;
                tinyml_pool_window(ix0, p->filter_w, p->in_w, &fx0, &fx1);
                count = (fy1 - fy0) * (fx1 - fx0);
                if (count <= 0) continue;
                for (c = 0; c < p->depth; ++c) {
                    const float g = *g_out++;
                    if (x) { /* max: the first tap with the window's maximum */
                        size_t best = 0;
                        int32_t bv = -129;
                        for (fy = fy0; fy < fy1; ++fy) {
                            for (fx = fx0; fx < fx1; ++fx) {
                                const size_t at = in_b + ((size_t)(iy0 + fy) * p->in_w + (ix0 + fx)) * p->depth + c;
                                if (x[at] > bv) { bv = x[at]; best = at; }
                            }
                        }
                        g_in[best] += g;
                    } else {
                        const float share = g / (float)count;
                        for (fy = fy0; fy < fy1; ++fy) {
                            for (fx = fx0; fx < fx1; ++fx) {
                                g_in[in_b + ((size_t)(iy0 + fy) * p->in_w + (ix0 + fx)) * p->depth + c] += share;
                            }
                        }
                    }
                }
            }
        }
    }
}

void tinyml_train_avgpool_backward(const tinyml_pool_params_t *p, float *g_out, const uint8_t *mask, float *g_in,
                                   int32_t accumulate) {
    pool_backward(p, NULL, g_out, mask, g_in, accumulate);
}

void tinyml_train_maxpool_backward(const tinyml_pool_params_t *p, const int8_t *x, float *g_out,
                                   const uint8_t *mask, float *g_in, int32_t accumulate) {
    pool_backward(p, x, g_out, mask, g_in, accumulate);
}

void tinyml_train_mean_backward(int32_t batches, int32_t h, int32_t w, int32_t c, float *g_out, float *g_in,
                                int32_t accumulate) {
    const float inv = 1.0f / (float)(h * w);
    int32_t b, p, k;
    for (b = 0; b < batches; ++b) {
        for (p = 0; p < h * w; ++p) {
            float *dst = g_in + ((size_t)b * h * w + p) * c;
            const float *src = g_out + (size_t)b * c;
            for (k = 0; k < c; ++k) dst[k] = (accumulate ? dst[k] : 0.0f) + src[k] * inv;
        }
    }
}

void tinyml_train_pad_backward(const int32_t *in_dims, const int32_t *out_dims, const int32_t *before,
                               const float *g_out, float *g_in, int32_t accumulate) {
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < in_dims[0]; ++i0) {
        for (i1 = 0; i1 < in_dims[1]; ++i1) {
            for (i2 = 0; i2 < in_dims[2]; ++i2) {
                const float *src = g_out + (((size_t)(i0 + before[0]) * out_dims[1] + (i1 + before[1])) * out_dims[2]
                                            + (i2 + before[2])) * out_dims[3] + before[3];
                float *dst = g_in + (((size_t)i0 * in_dims[1] + i1) * in_dims[2] + i2) * in_dims[3];
                for (i3 = 0; i3 < in_dims[3]; ++i3) dst[i3] = (accumulate ? dst[i3] : 0.0f) + src[i3];
            }
        }
    }
}

/* The bias update of output channel c from its gradient gb (real units); returns the integer
 * change. The FC's folded bias moves by the same integer change. */
static void update_bias(const tinyml_train_layer_params_t *p, tinyml_train_ctx_t *ctx, int32_t c, float gb,
                        int32_t *bias, const float *b_step) {
    float step = gb * b_step[c];
    int32_t d;
    TINYML_TRAIN_TRACE_GRAD(p->op, 1, c, gb);
    if (p->b_velocity) step = p->b_velocity[c] = ctx->momentum * p->b_velocity[c] + step;
    d = tinyml_train_writeback(ctx, bias[c], -ctx->lr * step, p->b_master ? &p->b_master[c] : NULL, INT32_MIN, INT32_MAX);
    bias[c] += d;
}

/* One weight: trace, write back, and keep the FC's folded bias in step with it. */
static void update_weight(const tinyml_train_layer_params_t *p, tinyml_train_ctx_t *ctx, int32_t c, size_t at,
                          float gw, int8_t *w_upd, const float *w_step, int32_t *bias) {
    float step = gw * w_step[c];
    int32_t d;
    TINYML_TRAIN_TRACE_GRAD(p->op, 0, (int32_t)at, gw);
    if (p->w_velocity) step = p->w_velocity[at] = ctx->momentum * p->w_velocity[at] + step;
    d = tinyml_train_writeback(ctx, w_upd[at], -ctx->lr * step, p->w_master ? &p->w_master[at] : NULL, -127, 127);
    w_upd[at] = (int8_t)(w_upd[at] + d);
    if (p->fold_offset && bias && d) bias[c] += p->fold_offset * d;
}

/* The bias gradient of output channel c: the sum of its output gradient over every position. */
static float channel_sum(const tinyml_train_layer_params_t *p, const float *g_out, int32_t c) {
    const int32_t n = p->batches * p->out_h * p->out_w;
    float gb = 0.0f;
    int32_t i;
    for (i = 0; i < n; ++i) gb += g_out[(size_t)i * p->out_c + c];
    return gb;
}

/* The gradient of the weight at tap (ky, kx) joining saved input channel k to output channel c:
 * the sum over output positions of the output gradient times the dequantized input it read. */
static float tap_gradient(const tinyml_train_layer_params_t *p, const float *g_out, const int8_t *x, int32_t c,
                          int32_t ky, int32_t kx, int32_t k) {
    const int32_t out_pix = p->out_h * p->out_w, in_pix = p->in_h * p->in_w;
    int32_t b, oy, ox;
    float gw = 0.0f;
    for (b = 0; b < p->batches; ++b) {
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy = oy * p->stride_h - p->pad_h + ky * p->dilation_h;
            if (iy < 0 || iy >= p->in_h) continue;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix = ox * p->stride_w - p->pad_w + kx * p->dilation_w;
                const size_t at = (size_t)b * in_pix + (size_t)iy * p->in_w + ix;
                if (ix < 0 || ix >= p->in_w) continue;
                gw += g_out[((size_t)b * out_pix + (size_t)oy * p->out_w + ox) * p->out_c + c]
                      * (p->in_scale * (float)(x[at * p->x_c + k] - p->in_zp));
            }
        }
    }
    return gw;
}

void tinyml_train_conv2d_backward(const tinyml_train_layer_params_t *p, tinyml_train_ctx_t *ctx, float *g_out,
                                  const uint8_t *mask, const int8_t *x, const int8_t *w, int8_t *w_upd,
                                  const float *w_scale, const float *w_step, int32_t *bias, const float *b_step,
                                  float *g_in, int32_t accumulate) {
    const int32_t out_pix = p->out_h * p->out_w, in_pix = p->in_h * p->in_w;
    const int32_t taps = p->filter_h * p->filter_w;
    int32_t b, oy, ox, c, ky, kx, k;
    apply_mask(g_out, mask, p->batches * out_pix * p->out_c);
    if (g_in) { /* transposed convolution with the weights before the update */
        if (!accumulate) memset(g_in, 0, (size_t)p->batches * in_pix * p->in_c * sizeof(float));
        for (b = 0; b < p->batches; ++b) {
            for (oy = 0; oy < p->out_h; ++oy) {
                const tinyml_conv_window_t wy = tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h,
                                                                   p->in_h, p->filter_h);
                for (ox = 0; ox < p->out_w; ++ox) {
                    const tinyml_conv_window_t wx = tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w,
                                                                       p->in_w, p->filter_w);
                    const float *g = g_out + ((size_t)b * out_pix + (size_t)oy * p->out_w + ox) * p->out_c;
                    for (c = 0; c < p->out_c; ++c) {
                        const float gc = g[c] * w_scale[c];
                        if (gc == 0.0f) continue;
                        for (ky = wy.lo; ky < wy.hi; ++ky) {
                            const int32_t iy = wy.origin + ky * p->dilation_h;
                            for (kx = wx.lo; kx < wx.hi; ++kx) {
                                const int32_t ix = wx.origin + kx * p->dilation_w;
                                const int8_t *wr = w + ((size_t)c * taps + (size_t)ky * p->filter_w + kx) * p->in_c;
                                float *gi = g_in + ((size_t)b * in_pix + (size_t)iy * p->in_w + ix) * p->in_c;
                                for (k = 0; k < p->in_c; ++k) gi[k] += gc * (float)wr[k];
                            }
                        }
                    }
                }
            }
        }
    }
    for (c = 0; c < p->out_c; ++c) {
        if (p->update_bias) update_bias(p, ctx, c, channel_sum(p, g_out, c), bias, b_step);
        if (!p->w_channels || !w_upd) continue;
        for (ky = 0; ky < p->filter_h; ++ky) {
            for (kx = 0; kx < p->filter_w; ++kx) {
                for (k = 0; k < p->w_channels; ++k) {
                    const float gw = tap_gradient(p, g_out, x, c, ky, kx, k);
                    update_weight(p, ctx, c, ((size_t)c * taps + (size_t)ky * p->filter_w + kx) * p->in_c + k, gw,
                                  w_upd, w_step, bias);
                }
            }
        }
    }
}

void tinyml_train_depthwise_backward(const tinyml_train_layer_params_t *p, tinyml_train_ctx_t *ctx, float *g_out,
                                     const uint8_t *mask, const int8_t *x, const int8_t *w, int8_t *w_upd,
                                     const float *w_scale, const float *w_step, int32_t *bias, const float *b_step,
                                     float *g_in, int32_t accumulate) {
    const int32_t out_pix = p->out_h * p->out_w, in_pix = p->in_h * p->in_w;
    const int32_t mult = p->depth_multiplier;
    int32_t b, oy, ox, c, ky, kx;
    apply_mask(g_out, mask, p->batches * out_pix * p->out_c);
    if (g_in) {
        if (!accumulate) memset(g_in, 0, (size_t)p->batches * in_pix * p->in_c * sizeof(float));
        for (b = 0; b < p->batches; ++b) {
            for (oy = 0; oy < p->out_h; ++oy) {
                const tinyml_conv_window_t wy = tinyml_conv_window(oy, p->stride_h, p->pad_h, p->dilation_h,
                                                                   p->in_h, p->filter_h);
                for (ox = 0; ox < p->out_w; ++ox) {
                    const tinyml_conv_window_t wx = tinyml_conv_window(ox, p->stride_w, p->pad_w, p->dilation_w,
                                                                       p->in_w, p->filter_w);
                    const float *g = g_out + ((size_t)b * out_pix + (size_t)oy * p->out_w + ox) * p->out_c;
                    for (ky = wy.lo; ky < wy.hi; ++ky) {
                        const int32_t iy = wy.origin + ky * p->dilation_h;
                        for (kx = wx.lo; kx < wx.hi; ++kx) {
                            const int32_t ix = wx.origin + kx * p->dilation_w;
                            const int8_t *wr = w + ((size_t)ky * p->filter_w + kx) * p->out_c;
                            float *gi = g_in + ((size_t)b * in_pix + (size_t)iy * p->in_w + ix) * p->in_c;
                            for (c = 0; c < p->out_c; ++c) gi[c / mult] += g[c] * w_scale[c] * (float)wr[c];
                        }
                    }
                }
            }
        }
    }
    for (c = 0; c < p->out_c; ++c) {
        const int32_t ic = c / mult;
        if (p->update_bias) update_bias(p, ctx, c, channel_sum(p, g_out, c), bias, b_step);
        if (ic >= p->w_channels || !w_upd) continue;
        for (ky = 0; ky < p->filter_h; ++ky) {
            for (kx = 0; kx < p->filter_w; ++kx) {
                const float gw = tap_gradient(p, g_out, x, c, ky, kx, ic);
                update_weight(p, ctx, c, ((size_t)ky * p->filter_w + kx) * p->out_c + c, gw, w_upd, w_step, bias);
            }
        }
    }
}
