/* The host as a HIL "board": the protocol over stdin/stdout (a pty in tests), nanosecond clock.
 * Lets the whole HIL stack run without hardware or an emulator. */
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include <unistd.h>

#include "tinyml/board.h"

static int closed;

void tinyml_board_init(void) {}

size_t tinyml_board_read(uint8_t *buf, size_t max) {
    ssize_t n = read(0, buf, max);
    if (n <= 0) {
        closed = 1;
        return 0;
    }
    return (size_t)n;
}

void tinyml_board_write(const uint8_t *data, size_t len) {
    while (len) {
        ssize_t n = write(1, data, len);
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

int tinyml_board_closed(void) { return closed; }

uint64_t tinyml_board_cycles(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

const char *tinyml_board_clock_source(void) { return "host-ns"; }
uint32_t tinyml_board_clock_hz(void) { return 1000000000u; }
uint32_t tinyml_board_stack_peak(void) { return 0; }
uint32_t tinyml_board_stack_size(void) { return 0; }
uint32_t tinyml_board_static_ram(void) { return 0; }
