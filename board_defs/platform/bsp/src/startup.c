/*
 * tinyml-pio board support: vector table and reset handler for Cortex-M3/M4/M7/M33/M55.
 *
 * Reset: copy .data, zero .bss, enable the FPU (and MVE on M55) when the build uses them
 * (__ARM_FP / __ARM_FEATURE_MVE: not on the FPU-less Cortex-M3, which is built soft-float),
 * set the stack limit on ARMv8-M, run C/C++ constructors, initialise the board (UART, cycle
 * counter), call main() and pass its return value to exit().
 */
#include <stdint.h>
#include <stdlib.h>

#include "tinyml_board.h"

#define TINYML_BSP_NUM_IRQ 96

extern uint32_t __StackTop;
extern uint32_t __StackLimit;
extern uint32_t __data_start__, __data_end__, __data_load__;
extern uint32_t __bss_start__, __bss_end__;
extern void __libc_init_array(void);
extern int main(void);

void Reset_Handler(void);
void tinyml_bsp_default_handler(void);
/* HardFault runs the default handler (a strong alias: unlike the handlers below, not overridable). */
void HardFault_Handler(void) __attribute__((alias("tinyml_bsp_default_handler")));
void SysTick_Handler(void);

/* Weak aliases so an application can override any handler by defining it. */
#define WEAK_DEFAULT __attribute__((weak, alias("tinyml_bsp_default_handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void MemManage_Handler(void) WEAK_DEFAULT;
void BusFault_Handler(void) WEAK_DEFAULT;
void UsageFault_Handler(void) WEAK_DEFAULT;
void SecureFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) const vector_t tinyml_bsp_vectors[16 + TINYML_BSP_NUM_IRQ] = {
    (vector_t)(uintptr_t)&__StackTop,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    /* external interrupts: all default (the BSP polls its peripherals) */
    [16 ... 16 + TINYML_BSP_NUM_IRQ - 1] = tinyml_bsp_default_handler,
};

#define SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CCR (*(volatile uint32_t *)0xE000ED14u)

void Reset_Handler(void) {
    uint32_t *src, *dst;

    SCB_VTOR = (uint32_t)(uintptr_t)tinyml_bsp_vectors;
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* stack overflow -> UsageFault (STKOF) instead of silently corrupting .bss */
    __asm volatile("msr msplim, %0" ::"r"((uint32_t)(uintptr_t)&__StackLimit));
#endif
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= (0xFu << 20); /* CP10, CP11 full access: FPU and MVE */
    __asm volatile("dsb\n isb" ::: "memory");
#endif
    SCB_CCR |= (1u << 4); /* DIV_0_TRP: integer divide by zero faults */

    for (src = &__data_load__, dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;

    tinyml_board_init();
    __libc_init_array();
    exit(main());
}

/* ---- faults ------------------------------------------------------------------------------- */

extern void tinyml_bsp_fault(uint32_t *frame, uint32_t exc_return, uint32_t ipsr);

/* Every fault and unexpected interrupt (HardFault_Handler is an alias): find the stacked frame
 * (MSP or PSP) and hand it to C. Returning from tinyml_bsp_fault resumes the program (used to skip a
 * semihosting BKPT when no host is attached). */
__attribute__((naked)) void tinyml_bsp_default_handler(void) {
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "mrs r2, ipsr\n"
        "b tinyml_bsp_fault\n");
}
