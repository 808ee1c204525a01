/*
 * Board glue of this example: the little the example needs from a board, so src/main.c runs
 * unchanged on the emulated boards and on real ones.
 *
 *   board_glue.c     emulated QEMU boards: tinyml_board.h from board_defs/platform (UART0 printf,
 *                    SysTick cycle counter, semihosting exit); other bare-metal/host builds: DWT or clock()
 *   board_arduino.cpp  real boards with framework = arduino: Serial at 115200, DWT_CYCCNT on
 *                    Cortex-M3/M4/M7/M33, ESP.getCycleCount() on ESP32, micros() elsewhere;
 *                    setup() runs the example once
 */
#ifndef EXAMPLE_BOARD_H
#define EXAMPLE_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void board_init(void);
uint32_t board_cycles(void);          /* free-running, wraps: subtract readings as uint32_t */
uint32_t board_cycles_hz(void);       /* its frequency (0 when unknown) */
const char *board_counter_name(void); /* "SysTick", "DWT_CYCCNT", "micros()", ... */
const char *board_name(void);
void board_write(const char *text);   /* console output */

/* The example itself (src/main.c): returns 0 when every output matched the reference. */
int example_run(void);

#ifdef __cplusplus
}
#endif

#endif /* EXAMPLE_BOARD_H */
