/* Bounds proof of the optimized kernels on an emulated board (tests/test_kernel_bounds.py).
 *
 * Every layer runs once with all its buffers in ordinary RAM, surrounded by canary bytes (the
 * baseline), then once per buffer with that buffer ending exactly at GUARD_EDGE, the first byte
 * the core cannot touch: on the Cortex-M4 (mps2-an386) an MPU region with no access, on the
 * Cortex-M55 (mps3-an547) the end of the DTCM, past which QEMU raises a BusFault. A load or
 * store of even one byte past the buffer faults (the BSP reports it and exits 255); canaries
 * catch stores past the output and the planned scratch in the baseline; every guarded run must
 * reproduce the baseline's output byte for byte (nothing read outside changes the result).
 * Scratch sizes are the planner's (tinyml_pio/passes/opt.py), weights and constants the sizes the
 * generator emits. Values are random: the bit-exactness tests check the arithmetic.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tinyml/conv_opt.h"
#include "tinyml/depthwise_conv_opt.h"
#include "tinyml/pool_opt.h"

#ifndef GUARD_EDGE
#error "GUARD_EDGE: the first inaccessible address"
#endif

#define CANARY 0xA5
#define PAD 64
#define MAXB 4096

static uint8_t pool[6][MAXB + 2 * PAD] __attribute__((aligned(16)));
static int8_t baseline[MAXB];
static uint32_t rng = 12345u;
static int failures;

static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void fill(int8_t *p, int32_t n) {
    int32_t i;
    for (i = 0; i < n; ++i) {
        p[i] = (int8_t)next();
    }
}

#if defined(__ARM_ARCH_7EM__) /* Cortex-M4: PMSAv7 MPU, one 32-byte no-access region at the edge */
static void guard_on(void) {
    volatile uint32_t *ctrl = (volatile uint32_t *)0xE000ED94u, *rnr = (volatile uint32_t *)0xE000ED98u;
    volatile uint32_t *rbar = (volatile uint32_t *)0xE000ED9Cu, *rasr = (volatile uint32_t *)0xE000EDA0u;
    *rnr = 0;
    *rbar = (uint32_t)GUARD_EDGE;
    *rasr = (1u << 28) /* XN */ | (0u << 24) /* AP: no access */ | (4u << 1) /* 2^(4+1) = 32 bytes */ | 1u;
    *ctrl = 5u; /* ENABLE | PRIVDEFENA: the default map elsewhere */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}
#else
static void guard_on(void) {}
#endif

/* Buffer i: n bytes with canaries around it, or (guarded) ending exactly at GUARD_EDGE. */
static void *buf(int i, int32_t n, int guarded) {
    if (guarded) {
        return (void *)((uintptr_t)GUARD_EDGE - (uintptr_t)n);
    }
    memset(pool[i], CANARY, sizeof pool[i]);
    return pool[i] + PAD;
}

static int canaries_ok(int i, int32_t n) {
    int32_t j;
    for (j = 0; j < PAD; ++j) {
        if (pool[i][j] != CANARY || pool[i][PAD + n + j] != CANARY) {
            return 0;
        }
    }
    return 1;
}

/* A layer: up to five buffers (input, weights, chanq, scratch, output), run by `run`. */
typedef struct {
    const char *name;
    int32_t size[5];
    void (*run)(const void *params, void *const *b);
    const void *params;
} layer_t;

enum { IN, W, Q, S, OUT };

static void check(const layer_t *l, int id) {
    static int8_t src[5][MAXB];
    void *b[5];
    int i, g;
    for (i = 0; i < 5; ++i) {
        if (l->size[i] > MAXB) {
            printf("FAIL %d %s: buffer %d needs %d bytes, more than MAXB\n", id, l->name, i, (int)l->size[i]);
            ++failures;
            return;
        }
        fill(src[i], l->size[i]);
    }
    if (l->size[Q] > 0) { /* sane requantization constants: mult in [2^30, 2^31), shift in [1, 10] */
        tinyml_chanq_t *q = (tinyml_chanq_t *)(void *)src[Q];
        int32_t c;
        for (c = 0; c < l->size[Q] / (int32_t)sizeof(tinyml_chanq_t); ++c) {
            q[c].mult = (int32_t)(0x40000000u | (next() & 0x3FFFFFFFu));
            q[c].shift = 1 + (int32_t)(next() % 10u);
            q[c].rnd = 1 << (q[c].shift - 1);
            q[c].bias = (int32_t)(next() % 20001u) - 10000;
        }
    }
    for (g = -1; g < 5; ++g) { /* -1: the baseline; else buffer g at the edge */
        if (g >= 0 && l->size[g] == 0) {
            continue;
        }
        for (i = 0; i < 5; ++i) {
            b[i] = buf(i, l->size[i], i == g);
            if (i != S) {
                memcpy(b[i], src[i], (size_t)l->size[i]);
            } else {
                memset(b[i], 0x5A, (size_t)l->size[i]);
            }
        }
        l->run(l->params, b);
        if (g < 0) {
            for (i = 0; i < 5; ++i) {
                if (!canaries_ok(i, l->size[i])) {
                    printf("FAIL %d %s: a store past buffer %d (%d bytes)\n", id, l->name, i, (int)l->size[i]);
                    ++failures;
                }
            }
            memcpy(baseline, b[OUT], (size_t)l->size[OUT]);
        } else if (memcmp(baseline, b[OUT], (size_t)l->size[OUT]) != 0) {
            printf("FAIL %d %s: output differs with buffer %d at the edge\n", id, l->name, g);
            ++failures;
        }
    }
}

/* ---- the kernels, as the generator calls them ---------------------------------------------- */

static void run_1x1(const void *p, void *const *b) {
    tinyml_conv1x1_s8_opt(p, b[IN], b[W], b[Q], b[OUT], b[S]);
}
static void run_conv(const void *p, void *const *b) {
    tinyml_conv2d_s8_opt(p, b[IN], b[W], b[Q], b[OUT], b[S]);
}
static void run_dw(const void *p, void *const *b) {
    tinyml_depthwise_conv2d_s8_opt(p, b[IN], b[W], b[Q], b[OUT], b[S]);
}
static void run_pool(const void *p, void *const *b) {
    tinyml_maxpool_s8_opt(p, b[IN], b[OUT]);
}

static int32_t out_size(int32_t in, int32_t f, int32_t s, int32_t d, int32_t pad) {
    return (in + 2 * pad - ((f - 1) * d + 1)) / s + 1;
}

/* passes/opt.py: mat_scratch and im2col_scratch (every core here has DSP or MVE) */
static int32_t mat_scratch(int32_t k, int32_t pixels, int in_place) {
    if (pixels <= 2) {
        return in_place ? k : 0;
    }
    return (k / 4) * 32 + 48;
}

/* The fields the conv and depthwise parameter structs share: square filter f, stride s,
 * dilation d, padding pad on an h x w input, batch 1, no activation clamp. */
#define SET_GEOMETRY(p, h, w, f, s, d, pad, in_zp, out_zp, fast)                                   \
    do {                                                                                            \
        memset(&(p), 0, sizeof(p));                                                                 \
        (p).batches = 1;                                                                            \
        (p).in_h = (h);                                                                             \
        (p).in_w = (w);                                                                             \
        (p).filter_h = (p).filter_w = (f);                                                          \
        (p).stride_h = (p).stride_w = (s);                                                          \
        (p).dilation_h = (p).dilation_w = (d);                                                      \
        (p).pad_h = (p).pad_w = (pad);                                                              \
        (p).out_h = out_size((h), (f), (s), (d), (pad));                                            \
        (p).out_w = out_size((w), (f), (s), (d), (pad));                                            \
        (p).input_offset = -(in_zp);                                                                \
        (p).output_offset = (out_zp);                                                               \
        (p).act_min = -128;                                                                         \
        (p).act_max = 127;                                                                          \
        (p).fast_rq = (fast);                                                                       \
    } while (0)

static int32_t conv_layer(int32_t pixels_w, int32_t in_h, int32_t in_c, int32_t out_c, int32_t f, int32_t s,
                          int32_t d, int32_t pad, int32_t fast, int id) {
    tinyml_conv2d_params_t p;
    layer_t l;
    int32_t k, pixels;
    SET_GEOMETRY(p, in_h, pixels_w, f, s, d, pad, -3, -5, fast);
    p.in_c = p.filter_c = in_c;
    p.out_c = out_c;
    if (p.out_h <= 0 || p.out_w <= 0) {
        return 0;
    }
    k = f * f * in_c;
    pixels = p.out_h * p.out_w;
    l.name = f == 1 && s == 1 && pad == 0 ? "conv1x1" : "conv";
    l.size[IN] = in_h * pixels_w * in_c;
    l.size[W] = out_c * k;
    l.size[Q] = out_c * (int32_t)sizeof(tinyml_chanq_t);
    l.size[OUT] = pixels * out_c;
    if (f == 1 && s == 1 && pad == 0) {
        l.size[S] = mat_scratch(k, pixels, 1);
        l.run = run_1x1;
    } else {
        l.size[S] = 4 * k + (pixels > 2 ? mat_scratch(k, pixels, 0) : 0);
        l.run = run_conv;
    }
    l.params = &p;
    check(&l, id);
    return 1;
}

static int32_t dw_layer(int32_t w, int32_t h, int32_t c, int32_t f, int32_t s, int32_t d, int32_t pad, int32_t fast,
                        int id) {
    tinyml_dwconv2d_params_t p;
    layer_t l;
    SET_GEOMETRY(p, h, w, f, s, d, pad, 7, 4, fast);
    p.in_c = p.out_c = c;
    p.depth_multiplier = 1;
    if (p.out_h <= 0 || p.out_w <= 0) {
        return 0;
    }
    l.name = "depthwise";
    l.size[IN] = h * w * c;
    l.size[W] = ((c + 3) / 4) * 4 * f * f; /* repacked: four channels a word, zero past c */
    l.size[Q] = c * (int32_t)sizeof(tinyml_chanq_t);
    l.size[S] = TINYML_DW_RING_ROWS(&p) * TINYML_DW_RING_W(&p) * c + 4;
    l.size[OUT] = p.out_h * p.out_w * c;
    l.run = run_dw;
    l.params = &p;
    check(&l, id);
    return 1;
}

static int32_t pool_layer(int32_t w, int32_t depth, int32_t f, int32_t s, int id) {
    tinyml_pool_params_t p;
    layer_t l;
    memset(&p, 0, sizeof p);
    p.batches = 1;
    p.in_h = 3;
    p.in_w = w;
    p.depth = depth;
    p.filter_h = p.filter_w = f;
    p.stride_h = p.stride_w = s;
    p.out_h = (3 - f) / s + 1;
    p.out_w = (w - f) / s + 1;
    p.act_min = -128;
    p.act_max = 127;
    l.name = "maxpool";
    l.size[IN] = 3 * w * depth;
    l.size[W] = l.size[Q] = l.size[S] = 0;
    l.size[OUT] = p.out_h * p.out_w * depth;
    l.run = run_pool;
    l.params = &p;
    check(&l, id);
    return 1;
}

int main(void) {
    static const int32_t ks[] = {1, 3, 4, 5, 15, 16, 17, 19, 31, 33};
    static const int32_t chans[] = {1, 3, 4, 5, 6, 7, 17};
    int id = 0, layers = 0;
    int32_t a, b, wdt, fast;
    guard_on();
#ifdef BOUNDS_SELFTEST /* the guard itself: the byte below the edge reads, the one at the edge faults */
    printf("below the edge: %d\n", ((volatile int8_t *)(GUARD_EDGE))[-1]);
    fflush(stdout);
    printf("at the edge: %d\n", *(volatile int8_t *)(GUARD_EDGE));
    return 0;
#endif
    for (fast = 0; fast < 2; ++fast) {
        for (a = 0; a < (int32_t)(sizeof ks / sizeof ks[0]); ++a) { /* 1x1 and FC: k tails, 1..7 pixels */
            for (wdt = 1; wdt <= 7; ++wdt) {
                for (b = 1; b <= 5; b += 2) {
                    layers += conv_layer(wdt, 1, ks[a], b, 1, 1, 1, 0, fast, ++id);
                }
            }
        }
        for (a = 1; a <= 3; ++a) { /* im2col: 3x3 (k = 9a), stride 1/2, dilation 1/2, padding */
            for (wdt = 1; wdt <= 7; ++wdt) {
                layers += conv_layer(wdt, 3, a, 3, 3, 1, 1, 1, fast, ++id);
                layers += conv_layer(wdt + 2, 4, a, 5, 3, 2, 1, 1, fast, ++id);
                layers += conv_layer(wdt + 4, 5, a, 2, 3, 1, 2, 0, fast, ++id);
                layers += conv_layer(wdt + 1, 2, 2 * a, 3, 2, 1, 1, 0, fast, ++id);
            }
        }
        for (a = 0; a < (int32_t)(sizeof chans / sizeof chans[0]); ++a) { /* depthwise: channel and pixel tails */
            for (wdt = 1; wdt <= 11; ++wdt) {
                layers += dw_layer(wdt, 3, chans[a], 3, 1, 1, 1, fast, ++id);
                layers += dw_layer(wdt + 2, 5, chans[a], 3, 2, 1, 1, fast, ++id);
                layers += dw_layer(wdt + 4, 5, chans[a], 5, 1, 1, 2, fast, ++id);
                layers += dw_layer(wdt + 4, 6, chans[a], 5, 2, 1, 2, fast, ++id);
                layers += dw_layer(wdt + 2, 4, chans[a], 2, 1, 2, 0, fast, ++id);
            }
        }
    }
    for (a = 0; a < (int32_t)(sizeof chans / sizeof chans[0]); ++a) {
        for (wdt = 2; wdt <= 6; ++wdt) {
            layers += pool_layer(wdt, chans[a], 2, 1, ++id);
            layers += pool_layer(wdt + 1, chans[a], 3, 2, ++id);
        }
    }
    printf("bounds: %d layers, %d failures\n", layers, failures);
    return failures ? 1 : 0;
}
