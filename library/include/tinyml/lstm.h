/* tinyml-pio kernels: UNIDIRECTIONAL_SEQUENCE_LSTM, TFLite's integer 8x8_16 path
 * (lstm_eval::EvalInteger8x8_16): int8 input, weights and output state, int16 cell state and gates. */
#ifndef TINYML_LSTM_H
#define TINYML_LSTM_H

#include "tinyml/common.h"

typedef struct {
    int32_t batches;
    int32_t time;
    int32_t n_input;
    int32_t n_cell;
    int32_t n_output;
    int32_t time_major;      /* input [time, batch, input]; else [batch, time, input] */
    int32_t projection;      /* a projection layer maps the n_cell hidden values to n_output */
    int32_t in_mult[4], in_shift[4];    /* input -> gate (input, forget, cell, output), to Q3.12 */
    int32_t rec_mult[4], rec_shift[4];  /* output state -> gate */
    /* hidden = rq(output gate * tanh(cell)) + hidden_offset: the hidden intermediate's zero point,
     * negated when a projection follows (TFLite 2.14 then folds +zero point into the projection bias) */
    int32_t hidden_mult, hidden_shift, hidden_offset;
    int32_t proj_mult, proj_shift;
    int32_t output_state_zp;
    int32_t cell_scale;      /* the cell state's scale is 2^cell_scale */
    int32_t cell_clip;       /* quantized; 0: no clipping */
    int32_t proj_clip;
} tinyml_lstm_params_t;

/* Weights gate by gate (input, forget, cell, output): in_w [4][n_cell][n_input],
 * rec_w [4][n_cell][n_output]; in_bias/rec_bias [4][n_cell] with the zero points folded in
 * (TFLite's effective biases); proj_w [n_output][n_cell] and proj_bias [n_output] or NULL.
 * output_state [batches][n_output] and cell_state [batches][n_cell] persist across calls (state
 * tensors). scratch: 4 * batches * n_cell int16, then batches * n_cell int8. */
void tinyml_lstm_s8_s16(const tinyml_lstm_params_t *p, const int8_t *input, const int8_t *in_w,
                        const int8_t *rec_w, const int32_t *in_bias, const int32_t *rec_bias,
                        const int8_t *proj_w, const int32_t *proj_bias, int8_t *output_state,
                        int16_t *cell_state, int16_t *scratch, int8_t *output);

#endif
