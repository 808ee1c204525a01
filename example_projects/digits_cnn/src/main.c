/*
 * digits_cnn: classify 8x8 handwritten digits with a small int8 CNN that tinyml-pio converts to C
 * during `pio run`.
 *
 * platformio.ini names the model with
 *     custom_tinyml_models = digits:models/digits_cnn.tflite
 * so the build generates digits.h / digits.c (prefix "digits") in .pio/build/<env>/tinyml/.
 *
 * For each test image of include/test_samples.h (written by train.py) it prints the raw int8
 * outputs, the predicted class with its probability and the counter ticks one inference took,
 * and checks the outputs against the TFLite reference. The exit code is 0 when all of them match.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "digits.h"
#include "test_samples.h"
#include "tinyml_board.h"

#if DIGITS_INPUT0_SIZE != TEST_INPUT_SIZE || DIGITS_OUTPUT0_SIZE != TEST_OUTPUT_SIZE
#error "include/test_samples.h does not fit models/digits_cnn.tflite: run train.py again"
#endif

int tinyml_app_main(void); /* the entry point on every board */

int tinyml_app_main(void) {
    int s, i, matched = 0, correct = 0;

    tinyml_board_printf("digits_cnn on %s: arena %d B, weights %d B, %d MACs, %d operators\n", tinyml_board_name, DIGITS_ARENA_SIZE,
        DIGITS_WEIGHTS_BYTES, DIGITS_MACS, DIGITS_NUM_OPS);
    tinyml_board_printf("counter: %s @ %lu Hz\n", tinyml_board_counter_name(), (unsigned long)tinyml_board_cycles_hz());

    for (s = 0; s < TEST_NUM_SAMPLES; ++s) {
        int8_t *in = (int8_t *)digits_input(0);
        const int8_t *out;
        uint32_t t0, t1;
        int best = 0, ok, rc;

        /* The images are already int8 (train.py quantized them with the model's input scale and
         * zero point). Raw pixels p in 0..16 would be: q = round(p / 16 / DIGITS_INPUT0_SCALE) + DIGITS_INPUT0_ZERO_POINT. */
        memcpy(in, test_inputs[s], DIGITS_INPUT0_BYTES);
        t0 = tinyml_board_cycles();
        rc = digits_invoke();
        t1 = tinyml_board_cycles();
        if (rc != 0) {
            tinyml_board_printf("sample %d: invoke failed (%d)\n", s, rc);
            return 2;
        }
        out = (const int8_t *)digits_output(0);

        tinyml_board_printf("sample %d: out", s);
        for (i = 0; i < DIGITS_OUTPUT0_SIZE; ++i) {
            tinyml_board_printf(" %d", out[i]);
            if (out[i] > out[best]) best = i;
        }
        ok = memcmp(out, test_expected[s], DIGITS_OUTPUT0_BYTES) == 0;
        matched += ok;
        correct += best == test_labels[s];
        tinyml_board_printf(" | label %d pred %d score %.3f | %lu ticks | %s\n", test_labels[s], best,
            (double)((out[best] - DIGITS_OUTPUT0_ZERO_POINT) * DIGITS_OUTPUT0_SCALE),
            (unsigned long)(t1 - t0), ok ? "reference ok" : "REFERENCE MISMATCH");
    }
    tinyml_board_printf("summary: %d/%d outputs equal the TFLite reference, %d/%d predictions correct\n", matched, TEST_NUM_SAMPLES,
        correct, TEST_NUM_SAMPLES);
    return matched == TEST_NUM_SAMPLES ? 0 : 1;
}

#if !defined(ARDUINO)
/* The emulated boards' startup code has initialised the board; main() returning ends the program
 * (exit code to QEMU through semihosting, or halt). On Arduino boards the library's setup() calls
 * tinyml_app_main() instead (build_flags = -D TINYML_ARDUINO_APP_MAIN). */
int main(void) { return tinyml_app_main(); }
#endif
