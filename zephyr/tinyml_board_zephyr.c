/* tinyml_board.h on Zephyr (CONFIG_TINYML_PIO_BOARD_API): console output through printk, the
 * cycle counter of k_cycle_get_32(). No console input: tinyml_board_getc() reports nothing. */
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "tinyml_board.h"

const char tinyml_board_name[] = CONFIG_BOARD;

void tinyml_board_init(void) {}

uint32_t tinyml_board_cycles(void) { return k_cycle_get_32(); }

uint32_t tinyml_board_cycles_hz(void) { return (uint32_t)sys_clock_hw_cycles_per_sec(); }

const char *tinyml_board_counter_name(void) { return "k_cycle_get_32"; }

void tinyml_board_putc(char c) { printk("%c", c); }

int tinyml_board_getc(uint32_t timeout_ms) {
    (void)timeout_ms;
    return -1;
}

void tinyml_board_flush(void) {}

int tinyml_board_has_semihosting(void) { return 0; }

void tinyml_board_exit(int code) {
    printk("[tinyml-bsp] exit %d\n", code);
    for (;;) k_sleep(K_FOREVER);
}
