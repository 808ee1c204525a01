/* The host as a HIL "board": implements the board-support API (tinyml_board.h) over
 * stdin/stdout (a pty in tests) with a nanosecond clock, so the whole HIL stack runs without
 * hardware or an emulator. stdin closing ends the program. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tinyml_board.h"

const char tinyml_board_name[] = "host";

void tinyml_board_init(void) {}

int tinyml_board_getc(uint32_t timeout_ms) {
    unsigned char c;
    (void)timeout_ms;
    if (read(0, &c, 1) != 1) exit(0);
    return c;
}

void tinyml_board_putc(char c) {
    if (write(1, &c, 1) != 1) exit(1);
}

void tinyml_board_flush(void) {}

uint32_t tinyml_board_cycles(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec);
}

uint32_t tinyml_board_cycles_hz(void) { return 1000000000u; }
const char *tinyml_board_counter_name(void) { return "host-ns"; }
int tinyml_board_has_semihosting(void) { return 0; }

void tinyml_board_exit(int code) { exit(code); }
