/* ADD, int8, optimized (tinyml/elementwise_opt.h): bit-exact with tinyml_add_s8 on same-shape inputs. */
#include "tinyml/elementwise_opt.h"
#include "tinyml/opt.h"

TINYML_INLINE int32_t add_lsl(int32_t x, int32_t n) {
    return (int32_t)((uint32_t)x << n);
}

/* The requantized sum plus the output zero point, clamped (`narrow`: a constant at each call, so
 * each case is its own loop). */
TINYML_INLINE int8_t add_out(int32_t sum, int32_t out_mult, int32_t out_rnd, int32_t out_shift, int32_t narrow,
                             int32_t lo, int32_t hi) {
    const int32_t y = tinyml_smmulr(add_lsl(sum, 1), out_mult);
    return tinyml_clamp_out((y + out_rnd + (y >> 31)) >> out_shift, narrow, lo, hi);
}

#define TINYML_ADD_LOOP(NARROW, SECOND)                                                                   \
    for (i = 0; i < n; ++i) {                                                                          \
        const int32_t sum = half_base + add_lsl(half[i], 19) + (SECOND);                               \
        output[i] = add_out(sum, out_mult, out_rnd, out_shift, NARROW, lo, hi);                        \
    }

/* the second input by its multiplier, rounded by 2^shift */
#define TINYML_ADD_SCALED(x) scaled_second((x), base, mult, rnd, shift)

TINYML_INLINE int32_t scaled_second(int32_t x, int32_t base, int32_t mult, int32_t rnd, int32_t shift) {
    const int32_t y = tinyml_smmulr(add_lsl(x, 21) + base, mult);
    return (y + rnd + (y >> 31)) >> shift;
}

void tinyml_add_s8_opt(const tinyml_add_opt_params_t *p, const int8_t *half, const int8_t *other, int8_t *output) {
    const int32_t n = p->count, half_base = p->half_base, base = p->base, mult = p->mult, rnd = p->rnd;
    const int32_t shift = p->shift, out_mult = p->out_mult, out_rnd = p->out_rnd, out_shift = p->out_shift;
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t narrow = lo > -128 || hi < 127;
    int32_t i;
    if (shift == 0) { /* equal scales: both inputs halve */
        if (narrow) {
            TINYML_ADD_LOOP(1, base + add_lsl(other[i], 19))
        } else {
            TINYML_ADD_LOOP(0, base + add_lsl(other[i], 19))
        }
    } else if (narrow) {
        TINYML_ADD_LOOP(1, TINYML_ADD_SCALED(other[i]))
    } else {
        TINYML_ADD_LOOP(0, TINYML_ADD_SCALED(other[i]))
    }
}
