/* Host stand-in for the few Zephyr kernel calls zephyr/tinyml_board_zephyr.c makes. */
#ifndef ZEPHYR_STUB_KERNEL_H
#define ZEPHYR_STUB_KERNEL_H
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define K_FOREVER 0
static inline uint32_t k_cycle_get_32(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec);
}
static inline int sys_clock_hw_cycles_per_sec(void) { return 1000000000; }
static inline void k_sleep(int timeout) { exit(timeout); }
#endif
