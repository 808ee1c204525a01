/* Board glue for builds without Arduino: the emulated boards (board_defs/platform) and
 * bare-metal or host builds. See board.h. */
#if !defined(ARDUINO)

#include <stdio.h>
#include <time.h>

#include "board.h"

#if defined(TINYML_BSP_QEMU)
/* The emulated boards' board support: printf goes to UART0, main() returning exits QEMU. */
#include "tinyml_board.h"
void board_init(void) { tinyml_board_init(); }
uint32_t board_cycles(void) { return tinyml_board_cycles(); }
uint32_t board_cycles_hz(void) { return tinyml_board_cycles_hz(); }
const char *board_counter_name(void) { return tinyml_board_counter_name(); }
const char *board_name(void) { return tinyml_board_name; }

#elif defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
/* Another Cortex-M3/M4/M7/M33/M55 (e.g. framework = stm32cube, with printf retargeted to a UART). */
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
void board_init(void) {
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7) */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
}
uint32_t board_cycles(void) { return DWT_CYCCNT; }
#ifdef F_CPU
uint32_t board_cycles_hz(void) { return (uint32_t)F_CPU; }
#else
uint32_t board_cycles_hz(void) { return 0; }
#endif
const char *board_counter_name(void) { return "DWT_CYCCNT"; }
const char *board_name(void) { return "Cortex-M"; }

#else
/* Anything else (a host build): clock(). */
void board_init(void) {}
uint32_t board_cycles(void) { return (uint32_t)clock(); }
uint32_t board_cycles_hz(void) { return (uint32_t)CLOCKS_PER_SEC; }
const char *board_counter_name(void) { return "clock()"; }
const char *board_name(void) { return "host"; }
#endif

void board_write(const char *text) { fputs(text, stdout); }

#endif /* !ARDUINO */
