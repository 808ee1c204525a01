/* tinyml-pio optimized kernels: FULLY_CONNECTED, int8, on weights interleaved at build time.
 *
 * Same results, bit for bit, as tinyml_fully_connected_s8 (b' = b - zp * sum(w) and the 32-bit
 * requantization where proven: tinyml/opt.h). The generator (tinyml_pio/passes/opt.py) reorders the
 * weights so the device loop reads them in the order it uses them, four output channels at a time:
 *
 *   group g (filters 4g..4g+3), block b (inputs 4b..4b+3): four words, filter after filter, each the
 *   filter's four weights of that block; all groups' blocks first, then each group's k % 4 last
 *   weights (four bytes per input: the group's filters), then the out_depth % 4 last filters row by
 *   row as TFLite stores them.
 *
 * Nothing is added: the weights keep their byte count. With the DSP extension the input row is
 * widened once into scratch (SXTB16 pairs, two words per four inputs) when there are groups enough
 * to share it (`widen`); each block then costs one LDRD of the input pair (else one LDR and two
 * SXTB16), two LDRD of the group's four weight words, and eight SXTB16 + eight SMLAD for its sixteen
 * MACs. Without DSP the same walk runs in plain C on the int8 values. */
#ifndef TINYML_FULLY_CONNECTED_OPT_H
#define TINYML_FULLY_CONNECTED_OPT_H

#include "tinyml/fully_connected.h"
#include "tinyml/opt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches;
    int32_t in_depth;
    int32_t out_depth;
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t fast_rq; /* the 32-bit requantization (tinyml/opt.h) */
    int32_t widen;   /* DSP: widen the input row into scratch once (else per group, in registers) */
} tinyml_fc_opt_params_t;

/* Scratch bytes when `widen`: the input row widened to int16 pairs (Python twin: passes/opt.py
 * fc_scratch). Without `widen` (or without DSP) the kernel needs none. */
#define TINYML_FC_SCRATCH_DSP(k) (8 * ((k) / 4))

/* weights: the interleaved layout above (in_depth * out_depth bytes, 4-byte aligned); q: one
 * tinyml_chanq_t per output channel; scratch: TINYML_FC_SCRATCH_DSP(in_depth) bytes, 4-byte aligned. */
void tinyml_fully_connected_s8_opt(const tinyml_fc_opt_params_t *p, const int8_t *input, const int8_t *weights,
                                   const tinyml_chanq_t *q, int8_t *output, int8_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* TINYML_FULLY_CONNECTED_OPT_H */
