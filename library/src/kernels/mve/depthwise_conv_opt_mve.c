/* DEPTHWISE_CONV_2D, int8, depth multiplier 1, optimized (tinyml/depthwise_conv_opt.h), Helium
 * (MVE) build: Cortex-M55 and other Armv8.1-M cores with integer MVE. The same function as
 * ../depthwise_conv_opt.c (which compiles it only without integer MVE), the same results bit for
 * bit, the same ring of padded input rows in no more scratch.
 *
 * MVE multiplies lane by lane only by a scalar (VMLA Qda, Qn, Rm; there is no vector-by-vector
 * integer VMLA), so the vector lanes here are four output pixels of one channel, not four
 * channels: per tap, one widening load of the four pixels' inputs (VLDRB.S32) and one VMLA by the
 * channel's weight (one LDRSB from the generator's [c / 4][tap][4] layout) add four products.
 * Each output is b' + sum over all taps of w * x (padded taps read the zero point, cancelled by
 * the folded bias), the int32 sum of the DSP and plain-C kernels.
 *
 * For that, the ring keeps the rows of ../depthwise_conv_opt.c ((filter_h - 1) * dilation_h + 1
 * rows of ring_w padded columns, ring_w * C bytes each) but stores each row channel by channel
 * (one plane of ring_w bytes per channel), and each plane with its columns split by column %
 * stride_w: first the columns 0, s, 2s, ..., then 1, 1 + s, ... (for stride 1 simply the columns
 * in order). Output pixel ox reads, at tap kx, column ox * s + kx * dilation_w, which sits at
 * off[kx] + ox in its plane: four consecutive output pixels read four consecutive bytes, for any
 * stride and dilation. Input rows are brought in with byte gathers (16 or 8 columns of one channel
 * per VLDRB gather, stride s * C bytes in the NHWC input). The 3x3 and 5x5 filters with
 * dilation_w 1 and stride_w 1 or 2 run eight pixels per pass in inline assembly (every address a
 * row pointer plus a constant; GCC 12 spills most weights and pointers of the same code in C), any
 * other filter four pixels per pass in C. The last, partial group of pixels of a row is
 * tail-predicated (VCTP): no byte outside the ring, the weights or the output is read or written,
 * so the kernel needs 4 bytes less than planned.
 *
 * Requantization is that of ./conv_opt_mve.c with the channel's scalar constants, four pixels per
 * vector (VQRDMULH, equal to tinyml_rq_fast's SMMULR(2 * acc) since fast_rq implies |acc| < 2^30;
 * otherwise VQRDMULH and a VRSHL-based RoundingDivideByPOT), the clamp [max(act_min, -128),
 * min(act_max, 127)] (= SSAT 8 then the activation clamp when act_min <= act_max), and a byte
 * scatter store (stride C).
 *
 * In place (input == output, batch 1): as in ../depthwise_conv_opt.c, every input row enters the
 * ring before any output row that could overwrite it is written, and outputs are computed from the
 * ring only; the order of the outputs within a row does not matter.
 */
#include "tinyml/depthwise_conv_opt.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

/* Helpers are inlined when optimizing (their constant arguments select the loops); at -O0 they stay
 * functions, or the one inlined body would need a stack frame of some 20 KB. */
#if defined(__OPTIMIZE__)
#define TINYML_MVE_INLINE TINYML_INLINE
#else
#define TINYML_MVE_INLINE static
#endif


/* A channel's requantization constants, as the vector code uses them. */
typedef struct {
    int32_t bias, mult, rnd; /* fast: rnd; otherwise the output offset */
    int32_t sh;              /* fast: -shift; otherwise max(shift, 0) */
    int32_t nright;          /* otherwise: -e = min(shift, 0) */
} tinyml_mve_dwq_t;

TINYML_MVE_INLINE tinyml_mve_dwq_t tinyml_mve_dw_q(const tinyml_chanq_t *q, int32_t fast, int32_t out_offset) {
    tinyml_mve_dwq_t c;
    c.bias = q->bias;
    c.mult = q->mult;
    if (fast) {
        c.rnd = q->rnd;
        c.sh = -q->shift;
        c.nright = 0;
    } else {
        c.rnd = out_offset;
        c.sh = q->shift > 0 ? q->shift : 0;
        c.nright = q->shift > 0 ? 0 : q->shift;
    }
    return c;
}

/* Four pixels' accumulators of one channel, requantized (see the file comment). */
TINYML_MVE_INLINE int32x4_t tinyml_mve_dw_rq(int32x4_t acc, const tinyml_mve_dwq_t *q, int32_t fast, int32x4_t lo,
                                             int32x4_t hi) {
    int32x4_t v;
    if (fast) {
        const int32x4_t y = vqrdmulhq_n_s32(acc, q->mult); /* = SMMULR(2 * acc, mult): |acc| < 2^30 */
        v = vaddq_s32(vaddq_n_s32(y, q->rnd), vshrq_n_s32(y, 31));
        v = vshlq_r_s32(v, q->sh);
    } else {
        int32x4_t y = vqrdmulhq_n_s32(vshlq_r_s32(acc, q->sh), q->mult);
        /* -1 where y < 0 and e > 0 (the sign bit of -e is set iff e > 0) */
        const int32x4_t fix = vshrq_n_s32(vandq_s32(y, vdupq_n_s32(q->nright)), 31);
        y = vrshlq_n_s32(vqaddq_s32(y, fix), q->nright);
        v = vaddq_n_s32(y, q->rnd);
    }
    return vmaxq_s32(vminq_s32(v, hi), lo);
}

/* n bytes of value v (tail-predicated stores). */
static void tinyml_mve_dw_fill(int8_t *dst, int8_t v, int32_t n) {
    const int8x16_t vv = vdupq_n_s8(v);
    while (n > 0) {
        vstrbq_p_s8(dst, vv, vctp8q((uint32_t)n));
        dst += 16;
        n -= 16;
    }
}

/* Where column phase `ph` (columns ph, ph + s, ...) starts in a plane of ring_w columns. */
static int32_t tinyml_mve_dw_phase(int32_t ph, int32_t s, int32_t ring_w) {
    int32_t base = 0, i;
    for (i = 0; i < ph; ++i) {
        base += (ring_w - i + s - 1) / s;
    }
    return base;
}

/* Offset in a plane of the column col = ox * s + t (ox = 0), t = kx * dilation_w. */
static int32_t tinyml_mve_dw_off(int32_t t, int32_t s, int32_t ring_w) {
    return tinyml_mve_dw_phase(t % s, s, ring_w) + t / s;
}

/* dst[c * dstride + i] = src[i * sstride + c] for c < n_c, i < m: byte gathers of 16 (or 8)
 * columns of one channel, stored contiguously; the channels of a group of columns one after the
 * other (the gather base steps by one byte), the last group predicated. */
static void tinyml_mve_dw_transpose(int8_t *dst, int32_t dstride, const int8_t *src, int32_t sstride, int32_t n_c,
                                    int32_t m) {
    int32_t i, c;
    if (15 * sstride <= 255) {
        const uint8x16_t offs = vmulq_n_u8(vidupq_n_u8(0, 1), (uint8_t)sstride);
        for (i = 0; i < m; i += 16) {
            const mve_pred16_t pr = vctp8q((uint32_t)(m - i));
            const uint8_t *s = (const uint8_t *)src + i * sstride;
            uint8_t *d = (uint8_t *)dst + i;
            if (m - i >= 16) {
                for (c = 0; c < n_c; ++c) {
                    vstrbq_u8(d, vldrbq_gather_offset_u8(s, offs));
                    s += 1;
                    d += dstride;
                }
            } else {
                for (c = 0; c < n_c; ++c) {
                    vstrbq_p_u8(d, vldrbq_gather_offset_z_u8(s, offs, pr), pr);
                    s += 1;
                    d += dstride;
                }
            }
        }
    } else if (7 * sstride <= 65535) {
        const uint16x8_t offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)sstride);
        for (i = 0; i < m; i += 8) {
            const mve_pred16_t pr = vctp16q((uint32_t)(m - i));
            const uint8_t *s = (const uint8_t *)src + i * sstride;
            uint8_t *d = (uint8_t *)dst + i;
            if (m - i >= 8) {
                for (c = 0; c < n_c; ++c) {
                    vstrbq_u16(d, vldrbq_gather_offset_u16(s, offs));
                    s += 1;
                    d += dstride;
                }
            } else {
                for (c = 0; c < n_c; ++c) {
                    vstrbq_p_u16(d, vldrbq_gather_offset_z_u16(s, offs, pr), pr);
                    s += 1;
                    d += dstride;
                }
            }
        }
    } else {
        for (c = 0; c < n_c; ++c) {
            for (i = 0; i < m; ++i) {
                dst[c * dstride + i] = src[i * sstride + c];
            }
        }
    }
}

/* Bring input row r (may be outside [0, in_h): then all zero point) into its ring slot. Pad
 * columns keep the zero point from the initial fill: only the columns read are written. */
static void tinyml_mve_dw_load_row(const tinyml_dwconv2d_params_t *p, const int8_t *image, int32_t r, int8_t *ring,
                                   int32_t ring_rows, int32_t ring_w) {
    const int32_t c_n = p->in_c, s = p->stride_w, pad = p->pad_w;
    int8_t *dst = ring + ((r + p->pad_h) % ring_rows) * ring_w * c_n;
    const int32_t cols = TINYML_MIN(p->in_w, ring_w - pad);
    const int8_t *src = image + r * p->in_w * c_n;
    int32_t ph, base = 0;
    if (r < 0 || r >= p->in_h) {
        tinyml_mve_dw_fill(dst, (int8_t)(-p->input_offset), ring_w * c_n);
        return;
    }
    for (ph = 0; ph < s; ++ph) {
        /* ring columns pad + j, j < cols, with (pad + j) % s == ph */
        const int32_t j0 = ((ph - pad) % s + s) % s;
        if (j0 < cols) {
            tinyml_mve_dw_transpose(dst + base + (pad + j0) / s, ring_w, src + j0 * c_n, s * c_n, c_n,
                                    (cols - 1 - j0) / s + 1);
        }
        base += (ring_w - ph + s - 1) / s;
    }
}

/* ---- K x K filters, K = 3 or 5, dilation_w 1, stride_w 1 ("unit") or 2 ("phase") ----------------
 *
 * One channel of one output row: eight pixels per pass (two accumulators), then four at a time,
 * the last group predicated. x0..x4: the channel's plane in each filter row's ring row. Tap kx of
 * pixel ox reads plane byte ox + kx (unit) or ox + off(kx), off(kx) = kx / 2 for even kx and
 * o1 + kx / 2 for odd kx (phase: o1 = where the odd columns start). w: the channel's first weight,
 * tap t at w[4 * t]. The taps are inline assembly (GCC 12 spills most of the weights and row
 * pointers of the same code in C): per tap one LDRSB of the weight, two VLDRB.S32 (pixels
 * ox..ox+3 and ox+4..ox+7) and two VMLA by the weight; every address is a row pointer plus a
 * constant, the row pointers step by post-increment. */
#define TINYML_DW_S(x) #x
#define TINYML_DW_T8(P, O, W, T)                                                                     \
    "ldrsb " T ", [%[w], #" TINYML_DW_S(W) "]\n\t"                                                   \
    "vldrb.s32 %q[v0], [" P ", #" TINYML_DW_S(O) "]\n\t"                                             \
    "vldrb.s32 %q[v1], [" P ", #" TINYML_DW_S(O) "+4]\n\t"                                           \
    "vmla.s32 %q[a0], %q[v0], " T "\n\t"                                                             \
    "vmla.s32 %q[a1], %q[v1], " T "\n\t"
#define TINYML_DW_T8L(P, W, T) /* offset 0, then P += 8 */                                          \
    "ldrsb " T ", [%[w], #" TINYML_DW_S(W) "]\n\t"                                                   \
    "vldrb.s32 %q[v1], [" P ", #4]\n\t"                                                              \
    "vldrb.s32 %q[v0], [" P "], #8\n\t"                                                              \
    "vmla.s32 %q[a0], %q[v0], " T "\n\t"                                                             \
    "vmla.s32 %q[a1], %q[v1], " T "\n\t"
#define TINYML_DW_T4(P, O, W, T) /* four pixels, predicated */                                      \
    "ldrsb " T ", [%[w], #" TINYML_DW_S(W) "]\n\t"                                                   \
    "vpst\n\t"                                                                                       \
    "vldrbt.s32 %q[v0], [" P ", #" TINYML_DW_S(O) "]\n\t"                                            \
    "vmla.s32 %q[a0], %q[v0], " T "\n\t"
#define TINYML_DW_T4L(P, W, T) /* offset 0, then P += 4 */                                          \
    "ldrsb " T ", [%[w], #" TINYML_DW_S(W) "]\n\t"                                                   \
    "vpst\n\t"                                                                                       \
    "vldrbt.s32 %q[v0], [" P "], #4\n\t"                                                             \
    "vmla.s32 %q[a0], %q[v0], " T "\n\t"
/* filter row r of a 3- or 5-wide filter, unit or phase (PB: the odd-column pointer, P + o1) */
#define TINYML_DW_R3U(M, ML, P, r)                                                                   \
    M(P, 1, 4 * (3 * r + 1), "%[t]") M(P, 2, 4 * (3 * r + 2), "%[u]") ML(P, 4 * (3 * r), "%[t]")
#define TINYML_DW_R3P(M, ML, P, r)                                                                   \
    "add %[pb], " P ", %[o1]\n\t" M("%[pb]", 0, 4 * (3 * r + 1), "%[t]") M(P, 1, 4 * (3 * r + 2), "%[u]") \
    ML(P, 4 * (3 * r), "%[t]")
#define TINYML_DW_R5U(M, ML, P, r)                                                                   \
    M(P, 1, 4 * (5 * r + 1), "%[t]") M(P, 2, 4 * (5 * r + 2), "%[u]") M(P, 3, 4 * (5 * r + 3), "%[t]") \
    M(P, 4, 4 * (5 * r + 4), "%[u]") ML(P, 4 * (5 * r), "%[t]")
#define TINYML_DW_R5P(M, ML, P, r) /* no low register left for PB: P steps to the odd columns and back */ \
    "add " P ", " P ", %[o1]\n\t" M(P, 0, 4 * (5 * r + 1), "%[t]") M(P, 1, 4 * (5 * r + 3), "%[u]")        \
    "sub " P ", " P ", %[o1]\n\t" M(P, 1, 4 * (5 * r + 2), "%[t]") M(P, 2, 4 * (5 * r + 4), "%[u]")        \
    ML(P, 4 * (5 * r), "%[t]")
#define TINYML_DW_K3(R, M, ML) R(M, ML, "%[x0]", 0) R(M, ML, "%[x1]", 1) R(M, ML, "%[x2]", 2)
/* 5x5: rows 0-2, then rows 3-4 in a second statement (three row pointers each: VLDRB.S32 takes
 * r0-r7 only, and with a frame pointer GCC has no five of them to spare) */
#define TINYML_DW_K5A(R, M, ML) R(M, ML, "%[x0]", 0) R(M, ML, "%[x1]", 1) R(M, ML, "%[x2]", 2)
#define TINYML_DW_K5B(R, M, ML) R(M, ML, "%[x0]", 3) R(M, ML, "%[x1]", 4)
#define TINYML_DW_O8 [a0] "=&w"(a0), [a1] "=&w"(a1), [v0] "=&w"(v0), [v1] "=&w"(v1), [t] "=&r"(t), [u] "=&r"(u)
#define TINYML_DW_O4 [a0] "=&w"(a0), [v0] "=&w"(v0), [t] "=&r"(t), [u] "=&r"(u)
#define TINYML_DW_X3 [x0] "+l"(x0), [x1] "+l"(x1), [x2] "+l"(x2) /* VLDRB.S32: r0-r7 */
#define TINYML_DW_X34 [x0] "+l"(x3), [x1] "+l"(x4)
#define TINYML_DW_O8B [a0] "+w"(a0), [a1] "+w"(a1), [v0] "=&w"(v0), [v1] "=&w"(v1), [t] "=&r"(t), [u] "=&r"(u)
#define TINYML_DW_O4B [a0] "+w"(a0), [v0] "=&w"(v0), [t] "=&r"(t), [u] "=&r"(u)
#define TINYML_DW_IN [w] "r"(w), [b] "r"(bias)
#define TINYML_DW_ASM(INIT, K, R, M, ML, O, X, PB, ...)                                             \
    __asm__ volatile(INIT K(R, M, ML) : O, X PB : __VA_ARGS__ : "memory")
#define TINYML_DW_NOPB
#define TINYML_DW_PB , [pb] "=&l"(pb)
#define TINYML_DW_INIT8 "vdup.32 %q[a0], %[b]\n\tvmov %q[a1], %q[a0]\n\t"
#define TINYML_DW_INIT4 "vdup.32 %q[a0], %[b]\n\t"

/* All channels of one output row: rows[ky] = ring row of filter row ky (channel 0's plane). */
TINYML_MVE_INLINE void tinyml_mve_dw_rowk(const int8_t *const *rows, int32_t ring_w, int32_t o1, int32_t K,
                                          int32_t unit, const int8_t *filter, int32_t taps, const tinyml_chanq_t *q,
                                          int32_t c_n, int8_t *yrow, int32_t ystep, int32_t n8, int32_t rest0,
                                          int32_t fast, int32_t out_offset, int32x4_t lo, int32x4_t hi,
                                          uint32x4_t offs) {
    const int8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[K > 3 ? 3 : 0], *r4 = rows[K > 4 ? 4 : 0];
    int32_t c;
    for (c = 0; c < c_n; ++c) {
        const int8_t *w = filter + (c >> 2) * taps * 4 + (c & 3);
        const tinyml_mve_dwq_t qc = tinyml_mve_dw_q(q + c, fast, out_offset);
        const int32_t bias = qc.bias;
        /* x3, x4: unused by the 3x3 code */
        const int8_t *x0 = r0, *x1 = r1, *x2 = r2, *x3 = r3, *x4 = r4;
        const int8_t *pb;
        int8_t *y = yrow + c;
        int32x4_t a0, a1, v0, v1;
        int32_t t, u, i, rest = rest0;
        for (i = n8; i > 0; --i) {
            if (K == 3 && unit) {
                TINYML_DW_ASM(TINYML_DW_INIT8, TINYML_DW_K3, TINYML_DW_R3U, TINYML_DW_T8, TINYML_DW_T8L, TINYML_DW_O8,
                              TINYML_DW_X3, TINYML_DW_NOPB, TINYML_DW_IN);
            } else if (K == 3) {
                TINYML_DW_ASM(TINYML_DW_INIT8, TINYML_DW_K3, TINYML_DW_R3P, TINYML_DW_T8, TINYML_DW_T8L, TINYML_DW_O8,
                              TINYML_DW_X3, TINYML_DW_PB, TINYML_DW_IN, [o1] "r"(o1));
            } else if (unit) {
                TINYML_DW_ASM(TINYML_DW_INIT8, TINYML_DW_K5A, TINYML_DW_R5U, TINYML_DW_T8, TINYML_DW_T8L, TINYML_DW_O8,
                              TINYML_DW_X3, TINYML_DW_NOPB, TINYML_DW_IN);
                TINYML_DW_ASM("", TINYML_DW_K5B, TINYML_DW_R5U, TINYML_DW_T8, TINYML_DW_T8L, TINYML_DW_O8B,
                              TINYML_DW_X34, TINYML_DW_NOPB, TINYML_DW_IN);
            } else {
                TINYML_DW_ASM(TINYML_DW_INIT8, TINYML_DW_K5A, TINYML_DW_R5P, TINYML_DW_T8, TINYML_DW_T8L, TINYML_DW_O8,
                              TINYML_DW_X3, TINYML_DW_NOPB, TINYML_DW_IN, [o1] "r"(o1));
                TINYML_DW_ASM("", TINYML_DW_K5B, TINYML_DW_R5P, TINYML_DW_T8, TINYML_DW_T8L, TINYML_DW_O8B,
                              TINYML_DW_X34, TINYML_DW_NOPB, TINYML_DW_IN, [o1] "r"(o1));
            }
            vstrbq_scatter_offset_s32(y, offs, tinyml_mve_dw_rq(a0, &qc, fast, lo, hi));
            vstrbq_scatter_offset_s32(y + ystep, offs, tinyml_mve_dw_rq(a1, &qc, fast, lo, hi));
            y += 2 * ystep;
        }
        for (; rest > 0; rest -= 4) { /* rest < 8: one or two groups of four, the last predicated */
            const mve_pred16_t pr = vctp32q((uint32_t)rest);
            if (K == 3 && unit) {
                TINYML_DW_ASM(TINYML_DW_INIT4, TINYML_DW_K3, TINYML_DW_R3U, TINYML_DW_T4, TINYML_DW_T4L, TINYML_DW_O4,
                              TINYML_DW_X3, TINYML_DW_NOPB, TINYML_DW_IN, "Up"(pr));
            } else if (K == 3) {
                TINYML_DW_ASM(TINYML_DW_INIT4, TINYML_DW_K3, TINYML_DW_R3P, TINYML_DW_T4, TINYML_DW_T4L, TINYML_DW_O4,
                              TINYML_DW_X3, TINYML_DW_PB, TINYML_DW_IN, [o1] "r"(o1), "Up"(pr));
            } else if (unit) {
                TINYML_DW_ASM(TINYML_DW_INIT4, TINYML_DW_K5A, TINYML_DW_R5U, TINYML_DW_T4, TINYML_DW_T4L, TINYML_DW_O4,
                              TINYML_DW_X3, TINYML_DW_NOPB, TINYML_DW_IN, "Up"(pr));
                TINYML_DW_ASM("", TINYML_DW_K5B, TINYML_DW_R5U, TINYML_DW_T4, TINYML_DW_T4L, TINYML_DW_O4B,
                              TINYML_DW_X34, TINYML_DW_NOPB, TINYML_DW_IN, "Up"(pr));
            } else {
                TINYML_DW_ASM(TINYML_DW_INIT4, TINYML_DW_K5A, TINYML_DW_R5P, TINYML_DW_T4, TINYML_DW_T4L, TINYML_DW_O4,
                              TINYML_DW_X3, TINYML_DW_NOPB, TINYML_DW_IN, [o1] "r"(o1), "Up"(pr));
                TINYML_DW_ASM("", TINYML_DW_K5B, TINYML_DW_R5P, TINYML_DW_T4, TINYML_DW_T4L, TINYML_DW_O4B,
                              TINYML_DW_X34, TINYML_DW_NOPB, TINYML_DW_IN, [o1] "r"(o1), "Up"(pr));
            }
            vstrbq_scatter_offset_p_s32(y, offs, tinyml_mve_dw_rq(a0, &qc, fast, lo, hi), pr);
            y += ystep;
        }
        r0 += ring_w; /* the next channel's planes */
        r1 += ring_w;
        r2 += ring_w;
        r3 += ring_w;
        r4 += ring_w;
    }
}

#define TINYML_MVE_DW_MAX_OFF 16 /* tap offsets of filters up to this wide from a table */

/* Any filter (the cases tinyml_mve_dw_rowk does not take): four pixels at a time, the last group
 * predicated. Tap kx at plane offset off[kx] (kw <= TINYML_MVE_DW_MAX_OFF), else computed. */
static void tinyml_mve_dw_chan(const int8_t *const *x, const int32_t *off, int32_t kh, int32_t kw, int32_t s,
                               int32_t dw, int32_t ring_w, const int8_t *w, const tinyml_mve_dwq_t *qc, int8_t *y,
                               int32_t ystep, int32_t out_w, int32_t fast, int32x4_t lo, int32x4_t hi,
                               uint32x4_t offs) {
    int32_t ox, ky, kx;
    for (ox = 0; ox < out_w; ox += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(out_w - ox));
        const int8_t *wt = w;
        int32x4_t acc = vdupq_n_s32(qc->bias);
        for (ky = 0; ky < kh; ++ky) {
            const int8_t *xr = x[ky] + ox;
            for (kx = 0; kx < kw; ++kx) {
                const int32_t o = kw <= TINYML_MVE_DW_MAX_OFF ? off[kx] : tinyml_mve_dw_off(kx * dw, s, ring_w);
                acc = vmlaq_n_s32(acc, vldrbq_z_s32(xr + o, pr), *wt);
                wt += 4;
            }
        }
        if (fast) {
            vstrbq_scatter_offset_p_s32(y, offs, tinyml_mve_dw_rq(acc, qc, 1, lo, hi), pr);
        } else {
            vstrbq_scatter_offset_p_s32(y, offs, tinyml_mve_dw_rq(acc, qc, 0, lo, hi), pr);
        }
        y += ystep;
    }
}

TINYML_MVE_INLINE void tinyml_mve_dw_body(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                          const tinyml_chanq_t *q, int8_t *output, int8_t *scratch, int32_t fast) {
    const int32_t c_n = p->in_c;
    const int32_t kh = p->filter_h, kw = p->filter_w, taps = kh * kw;
    const int32_t ring_rows = TINYML_DW_RING_ROWS(p);
    const int32_t ring_w = TINYML_DW_RING_W(p);
    const int32_t row_bytes = ring_w * c_n;
    const int32_t s = p->stride_w, dw = p->dilation_w;
    const int32_t out_w = p->out_w;
    const int32_t ystep = 4 * c_n; /* four output pixels */
    const int32_t n8 = out_w >> 3, rest = out_w & 7;
    const int32x4_t lo = vdupq_n_s32(TINYML_MAX(p->act_min, -128));
    const int32x4_t hi = vdupq_n_s32(TINYML_MIN(p->act_max, 127));
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)c_n);
    /* the assembly kernels: 3x3 and 5x5, dilation_w 1, stride_w 1 (unit) or 2 */
    const int32_t kern = kh == kw && (kw == 3 || kw == 5) && dw == 1 && (s == 1 || s == 2);
    const int32_t unit = s == 1;
    const int8_t *rows[16]; /* filter_h <= 16 (checked by the generator) */
    const int8_t *xc[16];
    int32_t off[TINYML_MVE_DW_MAX_OFF];
    int32_t b, oy, ky, kx, c;
    for (kx = 0; kx < kw && kx < TINYML_MVE_DW_MAX_OFF; ++kx) {
        off[kx] = tinyml_mve_dw_off(kx * dw, s, ring_w);
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * p->in_h * p->in_w * c_n;
        int8_t *out_image = output + b * p->out_h * out_w * c_n;
        int32_t next = -p->pad_h; /* next input row to bring into the ring */
        tinyml_mve_dw_fill(scratch, (int8_t)(-p->input_offset), ring_rows * row_bytes);
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t first = oy * p->stride_h - p->pad_h;
            const int32_t last = first + (kh - 1) * p->dilation_h;
            int8_t *y = out_image + oy * out_w * c_n;
            if (next < first) {
                next = first; /* rows between windows (stride > ring) are never read */
            }
            for (; next <= last; ++next) {
                tinyml_mve_dw_load_row(p, image, next, scratch, ring_rows, ring_w);
            }
            for (ky = 0; ky < kh; ++ky) {
                rows[ky] = scratch + ((first + ky * p->dilation_h + p->pad_h) % ring_rows) * row_bytes;
            }
            if (kern && kw == 3 && unit) {
                tinyml_mve_dw_rowk(rows, ring_w, 0, 3, 1, filter, taps, q, c_n, y, ystep, n8, rest, fast,
                                   p->output_offset, lo, hi, offs);
            } else if (kern && kw == 3) {
                tinyml_mve_dw_rowk(rows, ring_w, off[1], 3, 0, filter, taps, q, c_n, y, ystep, n8, rest, fast,
                                   p->output_offset, lo, hi, offs);
            } else if (kern && unit) {
                tinyml_mve_dw_rowk(rows, ring_w, 0, 5, 1, filter, taps, q, c_n, y, ystep, n8, rest, fast,
                                   p->output_offset, lo, hi, offs);
            } else if (kern) {
                tinyml_mve_dw_rowk(rows, ring_w, off[1], 5, 0, filter, taps, q, c_n, y, ystep, n8, rest, fast,
                                   p->output_offset, lo, hi, offs);
            } else {
                for (ky = 0; ky < kh; ++ky) {
                    xc[ky] = rows[ky];
                }
                for (c = 0; c < c_n; ++c) {
                    const tinyml_mve_dwq_t qc = tinyml_mve_dw_q(q + c, fast, p->output_offset);
                    tinyml_mve_dw_chan(xc, off, kh, kw, s, dw, ring_w, filter + (c >> 2) * taps * 4 + (c & 3), &qc,
                                       y + c, ystep, out_w, fast, lo, hi, offs);
                    for (ky = 0; ky < kh; ++ky) {
                        xc[ky] += ring_w; /* the next channel's plane */
                    }
                }
            }
        }
    }
}

void tinyml_depthwise_conv2d_s8_opt(const tinyml_dwconv2d_params_t *p, const int8_t *input, const int8_t *filter,
                                    const tinyml_chanq_t *q, int8_t *output, int8_t *scratch) {
    if (p->fast_rq) {
        tinyml_mve_dw_body(p, input, filter, q, output, scratch, 1);
    } else {
        tinyml_mve_dw_body(p, input, filter, q, output, scratch, 0);
    }
}

#else /* no integer MVE: ../depthwise_conv_opt.c defines the function */
typedef int tinyml_depthwise_conv_opt_mve_unused_t; /* ISO C: a translation unit is not empty */
#endif
