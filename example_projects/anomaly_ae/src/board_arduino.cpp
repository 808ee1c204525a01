/* Board glue for real boards built with framework = arduino (see board.h and platformio.ini):
 * output on Serial (115200 baud), setup() runs the example once, loop() idles. */
#if defined(ARDUINO)

#include <Arduino.h>

#include "board.h"

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define EXAMPLE_DWT 1
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
extern "C" uint32_t SystemCoreClock; /* CMSIS: the core clock in Hz */
#endif

extern "C" {

void board_init(void) {
#if defined(EXAMPLE_DWT)
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7) */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
#endif
}

uint32_t board_cycles(void) {
#if defined(EXAMPLE_DWT)
    return DWT_CYCCNT;
#elif defined(ESP_PLATFORM)
    return ESP.getCycleCount();
#else
    return (uint32_t)micros();
#endif
}

uint32_t board_cycles_hz(void) {
#if defined(EXAMPLE_DWT)
    return SystemCoreClock;
#elif defined(ESP_PLATFORM)
    return (uint32_t)ESP.getCpuFreqMHz() * 1000000u;
#else
    return 1000000u;
#endif
}

const char *board_counter_name(void) {
#if defined(EXAMPLE_DWT)
    return "DWT_CYCCNT";
#elif defined(ESP_PLATFORM)
    return "CCOUNT";
#else
    return "micros()";
#endif
}

const char *board_name(void) {
#if defined(EXAMPLE_BOARD_NAME)
    return EXAMPLE_BOARD_NAME; /* build_flags = -D EXAMPLE_BOARD_NAME=\"...\" */
#else
    return "arduino";
#endif
}

void board_write(const char *text) { Serial.print(text); }

} /* extern "C" */

void setup() {
    Serial.begin(115200);
    uint32_t start = millis();
    while (!Serial && millis() - start < 3000) {
        /* USB serial ports: wait up to 3 s for the host to open the port */
    }
    board_init();
    int rc = example_run();
    Serial.print(rc == 0 ? "exit 0\n" : "exit 1\n");
}

void loop() { delay(1000); }

#endif /* ARDUINO */
