/*
 * anomaly_ae: flag abnormal vibration spectra with an int8 autoencoder that tinyml-pio converts to C
 * during `pio run`. The model learned to reconstruct the spectra of a healthy machine; a frame it
 * reconstructs badly is an anomaly.
 *
 * platformio.ini names the model with
 *     custom_tinyml_models = ae:models/anomaly_ae.tflite
 * so the build generates ae.h / ae.c (prefix "ae") in .pio/build/<env>/tinyml/.
 *
 * For each test frame of include/test_samples.h (written by train.py) it prints the raw int8
 * reconstruction, the anomaly score (mean squared error of the dequantized reconstruction against
 * the dequantized input), the normal/anomaly decision against ANOMALY_THRESHOLD
 * (include/anomaly_threshold.h, chosen by train.py) and the counter ticks one inference took, and
 * checks the outputs against the TFLite reference. The exit code is 0 when all of them match.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ae.h"
#include "anomaly_threshold.h"
#include "test_samples.h"
#include "tinyml_board.h"

#if AE_INPUT0_SIZE != TEST_INPUT_SIZE || AE_OUTPUT0_SIZE != TEST_OUTPUT_SIZE || AE_INPUT0_SIZE != AE_OUTPUT0_SIZE
#error "include/test_samples.h does not fit models/anomaly_ae.tflite: run train.py again"
#endif

/* Mean squared reconstruction error in real units (train.py computes the same in float64). */
static float anomaly_score(const int8_t *in, const int8_t *out) {
    float sum = 0.0f;
    int i;
    for (i = 0; i < AE_INPUT0_SIZE; ++i) {
        float x = (float)(in[i] - AE_INPUT0_ZERO_POINT) * AE_INPUT0_SCALE;
        float y = (float)(out[i] - AE_OUTPUT0_ZERO_POINT) * AE_OUTPUT0_SCALE;
        float d = y - x;
        sum += d * d;
    }
    return sum / (float)AE_INPUT0_SIZE;
}

int tinyml_app_main(void); /* the entry point on every board */

int tinyml_app_main(void) {
    int s, i, matched = 0, correct = 0;

    tinyml_board_printf("anomaly_ae on %s: arena %d B, weights %d B, %d MACs, %d operators\n", tinyml_board_name, AE_ARENA_SIZE,
        AE_WEIGHTS_BYTES, AE_MACS, AE_NUM_OPS);
    tinyml_board_printf("counter: %s @ %lu Hz; threshold %.7f\n", tinyml_board_counter_name(), (unsigned long)tinyml_board_cycles_hz(),
        (double)(ANOMALY_THRESHOLD));

    for (s = 0; s < TEST_NUM_SAMPLES; ++s) {
        /* invoke() may overwrite its input buffer (the arena is shared): keep the frame elsewhere,
         * here in test_inputs, for the score */
        const int8_t *frame = test_inputs[s];
        const int8_t *out;
        uint32_t t0, t1;
        int ok, rc, is_anomaly;
        float score;

        memcpy(ae_input(0), frame, AE_INPUT0_BYTES);
        t0 = tinyml_board_cycles();
        rc = ae_invoke();
        t1 = tinyml_board_cycles();
        if (rc != 0) {
            tinyml_board_printf("sample %d: invoke failed (%d)\n", s, rc);
            return 2;
        }
        out = (const int8_t *)ae_output(0);
        score = anomaly_score(frame, out);
        is_anomaly = score > ANOMALY_THRESHOLD;

        tinyml_board_printf("sample %d: out", s);
        for (i = 0; i < AE_OUTPUT0_SIZE; ++i) tinyml_board_printf(" %d", out[i]);
        ok = memcmp(out, test_expected[s], AE_OUTPUT0_BYTES) == 0;
        matched += ok;
        correct += is_anomaly == (test_kinds[s] != 0);
        tinyml_board_printf(" | kind %s score %.7f -> %s | %lu ticks | %s\n", test_kind_names[test_kinds[s]],
            (double)(score), is_anomaly ? "anomaly" : "normal", (unsigned long)(t1 - t0),
            ok ? "reference ok" : "REFERENCE MISMATCH");
    }
    tinyml_board_printf("summary: %d/%d outputs equal the TFLite reference, %d/%d decisions correct\n", matched, TEST_NUM_SAMPLES,
        correct, TEST_NUM_SAMPLES);
    return matched == TEST_NUM_SAMPLES ? 0 : 1;
}

#if !defined(ARDUINO)
/* The emulated boards' startup code has initialised the board; main() returning ends the program
 * (exit code to QEMU through semihosting, or halt). On Arduino boards the library's setup() calls
 * tinyml_app_main() instead (build_flags = -D TINYML_ARDUINO_APP_MAIN). */
int main(void) { return tinyml_app_main(); }
#endif
