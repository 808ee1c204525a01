/*
 * Board support interface used by the HIL firmware and the example projects.
 * Each board (real, emulated, or the host) implements these; they never allocate.
 */
#ifndef TINYML_BOARD_H
#define TINYML_BOARD_H

#include <stddef.h>
#include <stdint.h>

void tinyml_board_init(void);
/* Read up to `max` received bytes without blocking for long; returns the count (0: none yet). */
size_t tinyml_board_read(uint8_t *buf, size_t max);
void tinyml_board_write(const uint8_t *data, size_t len);
/* Non-zero when the link is gone for good (host board: stdin closed); boards return 0. */
int tinyml_board_closed(void);
/* A monotonically increasing cycle/tick count, and what it counts. */
uint64_t tinyml_board_cycles(void);
const char *tinyml_board_clock_source(void); /* "dwt", "systick", "qemu-icount", "host-ns" */
uint32_t tinyml_board_clock_hz(void);
/* Stack: deepest use since boot (by stack painting), total size; static RAM (.data + .bss). */
uint32_t tinyml_board_stack_peak(void);
uint32_t tinyml_board_stack_size(void);
uint32_t tinyml_board_static_ram(void);

#endif
