/*
 * gesture_imu: recognise a gesture (idle, shake, circle, tap) in 1.28 s of 3-axis accelerometer
 * data (64 samples at 50 Hz) with an int8 1-D CNN that tinyml-pio converts to C during `pio run`.
 *
 * platformio.ini names the model with
 *     custom_tinyml_models = gesture:models/gesture_imu.tflite
 * so the build generates gesture.h / gesture.c (prefix "gesture") in .pio/build/<env>/tinyml/.
 *
 * For each test window of include/test_samples.h (written by train.py) it prints the raw int8
 * outputs, the recognised gesture with its probability and the counter ticks one inference took,
 * and checks the outputs against the TFLite reference. The exit code is 0 when all of them match.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gesture.h"
#include "test_samples.h"
#include "tinyml_board.h"

#if GESTURE_INPUT0_SIZE != TEST_INPUT_SIZE || GESTURE_OUTPUT0_SIZE != TEST_OUTPUT_SIZE
#error "include/test_samples.h does not fit models/gesture_imu.tflite: run train.py again"
#endif

/* A real application quantizes each accelerometer reading (in g) into the input window:
 *     q = round(a / GESTURE_INPUT0_SCALE) + GESTURE_INPUT0_ZERO_POINT, clamped to -128..127
 * at index 3 * t + axis. The test windows below are quantized already. */
static int8_t quantize_g(float a) {
    float q = a / GESTURE_INPUT0_SCALE + (float)GESTURE_INPUT0_ZERO_POINT;
    long r = (long)(q + (q < 0 ? -0.5f : 0.5f));
    return (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

int tinyml_app_main(void); /* the entry point on every board */

int tinyml_app_main(void) {
    int s, i, matched = 0, correct = 0;

    tinyml_board_printf("gesture_imu on %s: arena %d B, weights %d B, %d MACs, %d operators\n", tinyml_board_name, GESTURE_ARENA_SIZE,
        GESTURE_WEIGHTS_BYTES, GESTURE_MACS, GESTURE_NUM_OPS);
    tinyml_board_printf("counter: %s @ %lu Hz; input quantization: 0 g -> %d, 1 g -> %d\n", tinyml_board_counter_name(),
        (unsigned long)tinyml_board_cycles_hz(), quantize_g(0.0f), quantize_g(1.0f));

    for (s = 0; s < TEST_NUM_SAMPLES; ++s) {
        int8_t *in = (int8_t *)gesture_input(0);
        const int8_t *out;
        uint32_t t0, t1;
        int best = 0, ok, rc;

        memcpy(in, test_inputs[s], GESTURE_INPUT0_BYTES);
        t0 = tinyml_board_cycles();
        rc = gesture_invoke();
        t1 = tinyml_board_cycles();
        if (rc != 0) {
            tinyml_board_printf("sample %d: invoke failed (%d)\n", s, rc);
            return 2;
        }
        out = (const int8_t *)gesture_output(0);

        tinyml_board_printf("sample %d: out", s);
        for (i = 0; i < GESTURE_OUTPUT0_SIZE; ++i) {
            tinyml_board_printf(" %d", out[i]);
            if (out[i] > out[best]) best = i;
        }
        ok = memcmp(out, test_expected[s], GESTURE_OUTPUT0_BYTES) == 0;
        matched += ok;
        correct += best == test_labels[s];
        tinyml_board_printf(" | label %s pred %s score %.3f | %lu ticks | %s\n", test_class_names[test_labels[s]], test_class_names[best],
            (double)((out[best] - GESTURE_OUTPUT0_ZERO_POINT) * GESTURE_OUTPUT0_SCALE),
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
