/*
 * hello_mlp: run a 2-layer int8 MLP that tinyml-pio converted to C during `pio run`.
 *
 * The model (models/fc_relu.tflite) is named in platformio.ini with
 *     custom_tinyml_models = mlp:models/fc_relu.tflite
 * so the build generates mlp.h / mlp.c (prefix "mlp") in .pio/build/<env>/tinyml/.
 *
 * For each of a few deterministic inputs it prints the raw int8 outputs, the predicted class and
 * the cycles one inference took. tests/test_platformio.py feeds the same inputs to the host build
 * and to TFLite and compares the printed outputs bit for bit.
 */
#include <stdint.h>

#include "mlp.h"
#include "tinyml_board.h"

#define NUM_SAMPLES 4

/* ---- the example ------------------------------------------------------------------------------ */

/* The same formula is in tests/test_platformio.py: input i of sample s. */
static int8_t input_value(int i, int s) { return (int8_t)(((i * 37 + s * 101 + 11) & 0xFF) - 128); }

int tinyml_app_main(void); /* the entry point on every board */

int tinyml_app_main(void) {
    int s, i;
    tinyml_board_printf("hello_mlp on %s: arena %d B, weights %d B, %d MACs, %d operators\n", tinyml_board_name, MLP_ARENA_SIZE,
        MLP_WEIGHTS_BYTES, MLP_MACS, MLP_NUM_OPS);
    for (s = 0; s < NUM_SAMPLES; ++s) {
        MLP_INPUT0_TYPE *in = (MLP_INPUT0_TYPE *)mlp_input(0);
        const MLP_OUTPUT0_TYPE *out;
        uint32_t t0, t1;
        int best = 0, rc;

        for (i = 0; i < MLP_INPUT0_SIZE; ++i) in[i] = (MLP_INPUT0_TYPE)input_value(i, s);
        t0 = tinyml_board_cycles();
        rc = mlp_invoke();
        t1 = tinyml_board_cycles();
        if (rc != 0) {
            tinyml_board_printf("sample %d: invoke failed (%d)\n", s, rc);
            return 1;
        }
        out = (const MLP_OUTPUT0_TYPE *)mlp_output(0);
        tinyml_board_printf("sample %d: output", s);
        for (i = 0; i < MLP_OUTPUT0_SIZE; ++i) {
            tinyml_board_printf(" %d", (int)out[i]);
            if (out[i] > out[best]) best = i;
        }
        tinyml_board_printf(" | class %d | %lu cycles\n", best, (unsigned long)(t1 - t0));
    }
    tinyml_board_printf("cycle counter: %s @ %lu Hz\n", tinyml_board_counter_name(), (unsigned long)tinyml_board_cycles_hz());
    tinyml_board_printf("done\n");
    return 0;
}

#if !defined(ARDUINO)
/* The emulated boards' startup code has initialised the board; main() returning ends the program
 * (exit code to QEMU through semihosting, or halt). On Arduino boards the library's setup() calls
 * tinyml_app_main() instead (build_flags = -D TINYML_ARDUINO_APP_MAIN). */
int main(void) { return tinyml_app_main(); }
#endif
