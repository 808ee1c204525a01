/*
 * tinyml-pio board support (tinyml_board.h) for real boards built with framework = arduino.
 * Compiles to nothing unless ARDUINO is defined, so the library builds unchanged elsewhere
 * (the emulated boards take their board support from board_defs/platform).
 *
 *   console        Serial at 115200 baud (USB CDC ports: waits up to 2 s for the host to open it)
 *   cycle counter  DWT_CYCCNT on Cortex-M3/M4/M7/M33/M55 (SystemCoreClock Hz),
 *                  the CCOUNT register on ESP32 (ESP.getCycleCount()), micros() elsewhere
 *   board name     "arduino", or build_flags = '-D TINYML_BOARD_NAME="my_board"'
 *   exit           prints "[tinyml-bsp] exit N", drains Serial, then idles forever
 *
 * With build_flags = -D TINYML_ARDUINO_APP_MAIN the library also provides the sketch: setup()
 * initialises the board and runs `int tinyml_app_main(void)` (the application's C entry point,
 * the same function main() calls on the emulated boards) once, then prints its exit code like
 * tinyml_board_exit(); loop() does nothing. With -D TINYML_ARDUINO_POLL_MAIN instead, setup() and
 * loop() call the application's C functions tinyml_app_setup() and tinyml_app_loop() (the HIL firmware).
 */
#if defined(ARDUINO)

#include <Arduino.h>
#include <stdio.h>

#include "tinyml_board.h"

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define TINYML_ARDUINO_DWT 1
#define TINYML_DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define TINYML_DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define TINYML_DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define TINYML_DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
extern "C" uint32_t SystemCoreClock; /* CMSIS: the core clock in Hz */
#elif defined(ESP_PLATFORM) || defined(ARDUINO_ARCH_ESP32)
#define TINYML_ARDUINO_ESP32 1
#endif

#ifndef TINYML_BOARD_NAME
#define TINYML_BOARD_NAME "arduino"
#endif
#ifndef TINYML_ARDUINO_BAUD
#define TINYML_ARDUINO_BAUD 115200
#endif
#ifndef TINYML_ARDUINO_USB_WAIT_MS
#define TINYML_ARDUINO_USB_WAIT_MS 2000u
#endif

extern "C" {

const char tinyml_board_name[] = TINYML_BOARD_NAME;

void tinyml_board_init(void) {
    static bool done = false;
    if (done) return;
    done = true;
    Serial.begin(TINYML_ARDUINO_BAUD);
    uint32_t start = millis();
    while (!Serial && (uint32_t)(millis() - start) < TINYML_ARDUINO_USB_WAIT_MS) {
        /* USB CDC: give the host a moment to open the port, so the first lines are not lost */
    }
#if defined(TINYML_ARDUINO_DWT)
    TINYML_DEMCR |= 1u << 24; /* TRCENA */
    TINYML_DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7); ignored elsewhere */
    TINYML_DWT_CYCCNT = 0;
    TINYML_DWT_CTRL |= 1u; /* CYCCNTENA */
#endif
}

uint32_t tinyml_board_cycles(void) {
#if defined(TINYML_ARDUINO_DWT)
    return TINYML_DWT_CYCCNT;
#elif defined(TINYML_ARDUINO_ESP32)
    return (uint32_t)ESP.getCycleCount();
#else
    return (uint32_t)micros();
#endif
}

uint32_t tinyml_board_cycles_hz(void) {
#if defined(TINYML_ARDUINO_DWT)
    return (uint32_t)SystemCoreClock;
#elif defined(TINYML_ARDUINO_ESP32)
    return (uint32_t)ESP.getCpuFreqMHz() * 1000000u;
#else
    return 1000000u;
#endif
}

const char *tinyml_board_counter_name(void) {
#if defined(TINYML_ARDUINO_DWT)
    return "DWT_CYCCNT";
#elif defined(TINYML_ARDUINO_ESP32)
    return "CCOUNT";
#else
    return "micros()";
#endif
}

void tinyml_board_putc(char c) { Serial.write((uint8_t)c); }

int tinyml_board_getc(uint32_t timeout_ms) {
    uint32_t start = millis();
    for (;;) {
        int c = Serial.read();
        if (c >= 0) return c & 0xFF;
        if (timeout_ms != 0 && (uint32_t)(millis() - start) >= timeout_ms) return -1;
        yield(); /* RTOS-based cores (ESP32, mbed): let other tasks run */
    }
}

void tinyml_board_flush(void) { Serial.flush(); }

int tinyml_board_has_semihosting(void) { return 0; }

} /* extern "C" */

static void report_exit(int code) {
    char line[40];
    int n = snprintf(line, sizeof line, "[tinyml-bsp] exit %d\n", code);
    for (int i = 0; i < n && i < (int)sizeof line - 1; ++i) tinyml_board_putc(line[i]);
    tinyml_board_flush();
}

extern "C" void tinyml_board_exit(int code) {
    report_exit(code);
    for (;;) {
        delay(1000); /* idle; yields on RTOS-based cores, so their watchdogs stay quiet */
    }
}

#if defined(TINYML_ARDUINO_APP_MAIN)
/* The application's entry point (src/main.c of the examples); main() calls it elsewhere. */
extern "C" int tinyml_app_main(void);

void setup() {
    tinyml_board_init();
    report_exit(tinyml_app_main());
}

void loop() {}
#elif defined(TINYML_ARDUINO_POLL_MAIN)
/* For firmware that polls (the HIL firmware): setup()/loop() forward to C functions, so the
 * application stays plain C whatever linkage the core gives setup() and loop(). */
extern "C" void tinyml_app_setup(void);
extern "C" void tinyml_app_loop(void);

void setup() { tinyml_app_setup(); }
void loop() { tinyml_app_loop(); }
#endif /* TINYML_ARDUINO_APP_MAIN / TINYML_ARDUINO_POLL_MAIN */

#endif /* ARDUINO */
