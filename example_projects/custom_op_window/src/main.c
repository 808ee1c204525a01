/* custom_op_window: a model with a CUSTOM operator (SignalWindow between two FULLY_CONNECTED),
 * whose kernel is ours (src/signal_window.c), run on an emulated board. Prints the raw outputs of a
 * few deterministic inputs; tests/test_custom_ops.py compares them with the host reference. */
#include <stdint.h>

#include "tinyml_board.h"
#include "win.h"

#define NUM_SAMPLES 4

/* input i of sample s (the same formula is in tests/test_custom_ops.py) */
static int8_t input_value(int i, int s) { return (int8_t)(((i * 53 + s * 29 + 7) & 0xFF) - 128); }

int main(void) {
    int s, i, rc;
    tinyml_board_printf("custom_op_window on %s: arena %d B\n", tinyml_board_name, WIN_ARENA_SIZE);
    for (s = 0; s < NUM_SAMPLES; ++s) {
        int8_t *in = win_input0();
        for (i = 0; i < WIN_INPUT0_SIZE; ++i) in[i] = input_value(i, s);
        rc = win_invoke();
        if (rc != 0) {
            tinyml_board_printf("sample %d: invoke failed (%d)\n", s, rc);
            return 1;
        }
        tinyml_board_printf("sample %d: output", s);
        for (i = 0; i < WIN_OUTPUT0_SIZE; ++i) tinyml_board_printf(" %d", (int)win_output0()[i]);
        tinyml_board_printf("\n");
    }
    tinyml_board_printf("done\n");
    return 0;
}
