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
#include <stdio.h>
#include <time.h>

#include "mlp.h"

#define NUM_SAMPLES 4

/* ---- board glue: the emulated boards' BSP, else a generic cycle counter ---------------------- */
#if defined(TINYML_BSP_QEMU)
#include "tinyml_board.h"
static void board_init(void) { tinyml_board_init(); }
static uint32_t cycles(void) { return tinyml_board_cycles(); }
static const char *counter_name(void) { return tinyml_board_counter_name(); }
static uint32_t counter_hz(void) { return tinyml_board_cycles_hz(); }
static const char *board_name(void) { return tinyml_board_name; }
#elif defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
static void board_init(void) {
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_LAR = 0xC5ACCE55u;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
}
static uint32_t cycles(void) { return DWT_CYCCNT; }
static const char *counter_name(void) { return "DWT_CYCCNT"; }
#ifdef F_CPU
static uint32_t counter_hz(void) { return (uint32_t)F_CPU; }
#else
static uint32_t counter_hz(void) { return 0; }
#endif
static const char *board_name(void) { return "Cortex-M"; }
#else
static void board_init(void) {}
static uint32_t cycles(void) { return (uint32_t)clock(); }
static const char *counter_name(void) { return "clock()"; }
static uint32_t counter_hz(void) { return (uint32_t)CLOCKS_PER_SEC; }
static const char *board_name(void) { return "host"; }
#endif

/* ---- the example ------------------------------------------------------------------------------ */

/* The same formula is in tests/test_platformio.py: input i of sample s. */
static int8_t input_value(int i, int s) { return (int8_t)(((i * 37 + s * 101 + 11) & 0xFF) - 128); }

int hello_mlp(void) {
    int s, i;
    printf("hello_mlp on %s: arena %d B, weights %d B, %d MACs, %d operators\n", board_name(), MLP_ARENA_SIZE,
           MLP_WEIGHTS_BYTES, MLP_MACS, MLP_NUM_OPS);
    for (s = 0; s < NUM_SAMPLES; ++s) {
        MLP_INPUT0_TYPE *in = (MLP_INPUT0_TYPE *)mlp_input(0);
        const MLP_OUTPUT0_TYPE *out;
        uint32_t t0, t1;
        int best = 0, rc;

        for (i = 0; i < MLP_INPUT0_SIZE; ++i) in[i] = (MLP_INPUT0_TYPE)input_value(i, s);
        t0 = cycles();
        rc = mlp_invoke();
        t1 = cycles();
        if (rc != 0) {
            printf("sample %d: invoke failed (%d)\n", s, rc);
            return 1;
        }
        out = (const MLP_OUTPUT0_TYPE *)mlp_output(0);
        printf("sample %d: output", s);
        for (i = 0; i < MLP_OUTPUT0_SIZE; ++i) {
            printf(" %d", (int)out[i]);
            if (out[i] > out[best]) best = i;
        }
        printf(" | class %d | %lu cycles\n", best, (unsigned long)(t1 - t0));
    }
    printf("cycle counter: %s @ %lu Hz\n", counter_name(), (unsigned long)counter_hz());
    printf("done\n");
    return 0;
}

#if defined(ESP_PLATFORM)
void app_main(void) {
    board_init();
    hello_mlp();
}
#elif !defined(ARDUINO)
int main(void) {
    board_init();
    return hello_mlp();
}
#endif
