/*
 * tinyml-pio board support for the emulated Cortex-M boards (QEMU mps2/mps3 machines).
 *
 * The startup code calls tinyml_board_init() before main(), so printf() works from the first
 * line of main(): stdout/stderr go to UART0 (115200 8N1 on real CMSDK UARTs; QEMU ignores the rate).
 * main() returning, exit() and tinyml_board_exit() all end in the same place: the UART is drained,
 * the exit code is reported to QEMU through semihosting when QEMU was started with it
 * (`tinyml-pio qemu run`, `pio run -t exec`), and otherwise the core halts in WFI, so a monitor
 * attached to the UART keeps showing the output.
 */
#ifndef TINYML_BOARD_H
#define TINYML_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Board name (the PlatformIO board id), e.g. "qemu_mps2_an386". */
extern const char tinyml_board_name[];

/* UART, clocks and the cycle counter; called by the startup code, safe to call again. */
void tinyml_board_init(void);

/* Free-running 32-bit cycle counter (wraps; subtract two readings as uint32_t).
 * DWT->CYCCNT where the core has one that counts, else SysTick extended to 32 bits
 * (QEMU does not model the DWT; with `-icount` SysTick advances deterministically
 * with the number of executed instructions). */
uint32_t tinyml_board_cycles(void);
/* Counter frequency in Hz, and its name ("DWT_CYCCNT" or "SysTick"). */
uint32_t tinyml_board_cycles_hz(void);
const char *tinyml_board_counter_name(void);

/* UART0, blocking. getc returns -1 when nothing arrives within ~timeout_ms (0 = wait forever). */
void tinyml_board_putc(char c);
int tinyml_board_getc(uint32_t timeout_ms);
void tinyml_board_flush(void);

/* printf-style output over tinyml_board_putc (library/src/boards/board_print.c; lines up to 159
 * characters), so applications print the same way on every board. */
void tinyml_board_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* 1 when a semihosting host (QEMU -semihosting, a debugger) answers (probed on the first call). */
int tinyml_board_has_semihosting(void);

/* Drain the UART, print "[tinyml-bsp] exit N", report N to QEMU (semihosting) or halt. */
void tinyml_board_exit(int code) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* TINYML_BOARD_H */
