/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 x int8 -> int16 gates, int16 cell state. Bit-exact with
 * TFLite's lstm_eval::LstmStepInteger8x8_16 and its portable tensor_utils: each gate is
 * sat16(rq(W_in x) + sat16(rq(W_rec h))) through gemmlowp's int16 logistic/tanh (Q3.12 in);
 * c = rdbpot(f * c, 15) + rdbpot(i * g, 30 + cell_scale) saturated, then clipped;
 * h = rq(o * tanh(c)) + hidden_offset, projected when there is a projection. Batch-major
 * sequences run one batch row at a time, as TFLite does. */
#include "tinyml/lstm.h"

#include "tinyml/fixedpoint16.h"

TINYML_INLINE int32_t lstm_wrap_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* out[b][r] = clamp(rq(bias[r] + sum_c w[r][c] x[b][c]) + zp + out[b][r]) (MatrixBatchVectorMultiplyAccumulate) */
static void lstm_matmul_acc16(const int8_t *x, const int32_t *bias, const int8_t *w, int32_t mult, int32_t shift,
                              int32_t nb, int32_t n_in, int32_t n_out, int16_t *out) {
    int32_t b, r, c;
    for (b = 0; b < nb; ++b) {
        for (r = 0; r < n_out; ++r) {
            int32_t acc = bias[r];
            for (c = 0; c < n_in; ++c) {
                acc = lstm_wrap_add(acc, (int32_t)x[b * n_in + c] * (int32_t)w[r * n_in + c]);
            }
            acc = tinyml_requantize(acc, mult, shift) + out[b * n_out + r];
            out[b * n_out + r] = (int16_t)tinyml_clamp(acc, INT16_MIN, INT16_MAX);
        }
    }
}

static void lstm_gate(const tinyml_lstm_params_t *p, int g, int32_t nb, const int8_t *x, const int8_t *h,
                      const int8_t *in_w, const int8_t *rec_w, const int32_t *in_bias, const int32_t *rec_bias,
                      int16_t *gate) {
    const int32_t n = nb * p->n_cell;
    int32_t i;
    for (i = 0; i < n; ++i) gate[i] = 0;
    lstm_matmul_acc16(x, in_bias + g * p->n_cell, in_w + g * p->n_cell * p->n_input, p->in_mult[g], p->in_shift[g],
                      nb, p->n_input, p->n_cell, gate);
    lstm_matmul_acc16(h, rec_bias + g * p->n_cell, rec_w + g * p->n_cell * p->n_output, p->rec_mult[g],
                      p->rec_shift[g], nb, p->n_output, p->n_cell, gate);
    for (i = 0; i < n; ++i) {
        gate[i] = g == 2 ? tinyml_q16_tanh(gate[i], 3) : tinyml_q16_logistic(gate[i], 3);
    }
}

static void lstm_step(const tinyml_lstm_params_t *p, int32_t nb, const int8_t *x, const int8_t *in_w,
                      const int8_t *rec_w, const int32_t *in_bias, const int32_t *rec_bias, const int8_t *proj_w,
                      const int32_t *proj_bias, int8_t *h, int16_t *c, int16_t *scratch, int8_t *out) {
    const int32_t n = nb * p->n_cell;
    int16_t *ig = scratch, *fg = scratch + n, *cg = scratch + 2 * n, *og = scratch + 3 * n;
    int8_t *hidden = (int8_t *)(scratch + 4 * n);
    int32_t i, b, r, k;
    lstm_gate(p, 0, nb, x, h, in_w, rec_w, in_bias, rec_bias, ig);
    lstm_gate(p, 1, nb, x, h, in_w, rec_w, in_bias, rec_bias, fg);
    lstm_gate(p, 2, nb, x, h, in_w, rec_w, in_bias, rec_bias, cg);
    /* UpdateLstmCellInteger */
    for (i = 0; i < n; ++i) {
        const int16_t kept = (int16_t)tinyml_rdbpot((int32_t)fg[i] * c[i], 15);
        const int16_t added = (int16_t)tinyml_rdbpot((int32_t)ig[i] * cg[i], 30 + p->cell_scale);
        int32_t v = tinyml_clamp((int32_t)kept + added, INT16_MIN, INT16_MAX);
        if (p->cell_clip > 0) v = tinyml_clamp(v, -p->cell_clip, p->cell_clip);
        c[i] = (int16_t)v;
    }
    lstm_gate(p, 3, nb, x, h, in_w, rec_w, in_bias, rec_bias, og);
    /* CalculateLstmOutputInteger8x8_16 */
    for (i = 0; i < n; ++i) {
        const int16_t t = tinyml_q16_tanh(c[i], 15 + p->cell_scale);
        const int32_t v = tinyml_requantize((int32_t)og[i] * t, p->hidden_mult, p->hidden_shift) + p->hidden_offset;
        hidden[i] = (int8_t)tinyml_clamp(v, -128, 127);
    }
    if (p->projection) {
        for (b = 0; b < nb; ++b) {
            for (r = 0; r < p->n_output; ++r) {
                int32_t acc = proj_bias[r];
                for (k = 0; k < p->n_cell; ++k) {
                    acc = lstm_wrap_add(acc, (int32_t)hidden[b * p->n_cell + k] * (int32_t)proj_w[r * p->n_cell + k]);
                }
                acc = tinyml_clamp(tinyml_requantize(acc, p->proj_mult, p->proj_shift) + p->output_state_zp, -128, 127);
                if (p->proj_clip > 0) acc = tinyml_clamp(acc, -p->proj_clip, p->proj_clip);
                h[b * p->n_output + r] = (int8_t)acc;
            }
        }
    } else {
        for (i = 0; i < n; ++i) h[i] = hidden[i];
    }
    for (i = 0; i < nb * p->n_output; ++i) out[i] = h[i];
}

void tinyml_lstm_s8_s16(const tinyml_lstm_params_t *p, const int8_t *input, const int8_t *in_w,
                        const int8_t *rec_w, const int32_t *in_bias, const int32_t *rec_bias,
                        const int8_t *proj_w, const int32_t *proj_bias, int8_t *output_state,
                        int16_t *cell_state, int16_t *scratch, int8_t *output) {
    int32_t t, b;
    if (p->time_major) {
        for (t = 0; t < p->time; ++t) {
            lstm_step(p, p->batches, input + t * p->batches * p->n_input, in_w, rec_w, in_bias, rec_bias, proj_w,
                      proj_bias, output_state, cell_state, scratch, output + t * p->batches * p->n_output);
        }
        return;
    }
    for (b = 0; b < p->batches; ++b) {
        for (t = 0; t < p->time; ++t) {
            const int32_t step = b * p->time + t;
            lstm_step(p, 1, input + step * p->n_input, in_w, rec_w, in_bias, rec_bias, proj_w, proj_bias,
                      output_state + b * p->n_output, cell_state + b * p->n_cell, scratch, output + step * p->n_output);
        }
    }
}
