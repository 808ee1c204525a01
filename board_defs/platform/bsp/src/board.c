/*
 * tinyml-pio board support: CMSDK APB UART, cycle counter, semihosting exit, fault report.
 *
 * Board parameters come from the board JSON (build.extra_flags):
 *   TINYML_BSP_UART_BASE  UART0 base address (secure alias on the TrustZone machines)
 *   TINYML_BSP_CPU_HZ     core clock of the emulated machine (what SysTick counts)
 *   TINYML_BSP_BOARD      board id string
 * Optional: TINYML_BSP_FORCE_SYSTICK (skip the DWT probe), TINYML_BSP_NO_SEMIHOSTING.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tinyml_board.h"

#ifndef TINYML_BSP_UART_BASE
#error "TINYML_BSP_UART_BASE is not defined: build with a tinyml-pio qemu_* board"
#endif
#ifndef TINYML_BSP_CPU_HZ
#define TINYML_BSP_CPU_HZ 25000000u
#endif
#ifndef TINYML_BSP_BOARD
#define TINYML_BSP_BOARD "unknown"
#endif
#ifndef TINYML_BSP_BAUD
#define TINYML_BSP_BAUD 115200u
#endif

#define REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

const char tinyml_board_name[] = TINYML_BSP_BOARD;

/* ---- CMSDK APB UART ----------------------------------------------------------------------- */
#define UART_DATA REG(TINYML_BSP_UART_BASE + 0x00u)
#define UART_STATE REG(TINYML_BSP_UART_BASE + 0x04u) /* bit0 TX full, bit1 RX full */
#define UART_CTRL REG(TINYML_BSP_UART_BASE + 0x08u)  /* bit0 TX enable, bit1 RX enable */
#define UART_BAUDDIV REG(TINYML_BSP_UART_BASE + 0x10u)

static void uart_init(void) {
    UART_BAUDDIV = TINYML_BSP_CPU_HZ / TINYML_BSP_BAUD; /* >= 16 as the CMSDK UART requires */
    UART_CTRL = 0x3u;
}

void tinyml_board_putc(char c) {
    while (UART_STATE & 0x1u) {
    }
    UART_DATA = (uint8_t)c;
}

void tinyml_board_flush(void) {
    while (UART_STATE & 0x1u) {
    }
}

/* ---- cycle counter -------------------------------------------------------------------------- */
#define SYST_CSR REG(0xE000E010u)
#define SYST_RVR REG(0xE000E014u)
#define SYST_CVR REG(0xE000E018u)
#define SCB_ICSR REG(0xE000ED04u)
#define SCB_HFSR REG(0xE000ED2Cu)
#define SCB_CFSR REG(0xE000ED28u)
#define SCB_DFSR REG(0xE000ED30u)
#define SCB_MMFAR REG(0xE000ED34u)
#define SCB_BFAR REG(0xE000ED38u)
#define DEMCR REG(0xE000EDFCu)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)
#define DWT_LAR REG(0xE0001FB0u)

#define SYSTICK_RELOAD 0x00FFFFFFu

static volatile uint32_t systick_wraps;
static int use_dwt;

void SysTick_Handler(void) { systick_wraps++; }

static int dwt_start(void) {
#ifdef TINYML_BSP_FORCE_SYSTICK
    return 0;
#else
    uint32_t a, b;
    DEMCR |= (1u << 24); /* TRCENA */
    DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7); ignored elsewhere */
    if (DWT_CTRL & (1u << 25)) return 0; /* NOCYCCNT */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u; /* CYCCNTENA */
    a = DWT_CYCCNT;
    __asm volatile("nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop");
    b = DWT_CYCCNT;
    return b != a; /* QEMU models no DWT: reads as zero */
#endif
}

static void systick_start(void) {
    systick_wraps = 0;
    SYST_CSR = 0;
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* processor clock, interrupt on wrap, enable */
}

uint32_t tinyml_board_cycles(void) {
    uint32_t wraps, v1, v2, pending;
    if (use_dwt) return DWT_CYCCNT;
    for (;;) {
        wraps = systick_wraps;
        v1 = SYST_CVR;
        pending = SCB_ICSR & (1u << 26); /* PENDSTSET: wrapped, handler not run yet */
        v2 = SYST_CVR;
        if (wraps == systick_wraps && v2 <= v1) break; /* no wrap between the reads */
    }
    if (pending) wraps++;
    return wraps * (SYSTICK_RELOAD + 1u) + (SYSTICK_RELOAD - v1);
}

uint32_t tinyml_board_cycles_hz(void) { return TINYML_BSP_CPU_HZ; }

const char *tinyml_board_counter_name(void) { return use_dwt ? "DWT_CYCCNT" : "SysTick"; }

int tinyml_board_getc(uint32_t timeout_ms) {
    uint32_t start = tinyml_board_cycles();
    uint32_t limit = timeout_ms * (TINYML_BSP_CPU_HZ / 1000u);
    while (!(UART_STATE & 0x2u)) {
        if (timeout_ms && tinyml_board_cycles() - start > limit) return -1;
    }
    return (int)(UART_DATA & 0xFFu);
}

/* ---- semihosting ----------------------------------------------------------------------------
 * Nothing probes for a host at boot, so the code before main() runs the same instructions under
 * `-t upload` (no semihosting) and `-t exec` (semihosting): cycle counts do not depend on how
 * QEMU was started. Without a host a semihosting BKPT escalates to HardFault, whose handler
 * skips it and marks semihosting absent. */
static volatile int semihosting_absent;
static int semihosting_probed;

static int semihost(int op, void *arg) {
#ifdef TINYML_BSP_NO_SEMIHOSTING
    (void)op;
    (void)arg;
    semihosting_absent = 1;
    return -1;
#else
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
#endif
}

int tinyml_board_has_semihosting(void) {
    if (!semihosting_probed) {
        semihosting_probed = 1;
        (void)semihost(0x13 /* SYS_ERRNO */, 0);
    }
    return !semihosting_absent;
}

void tinyml_board_init(void) {
    static int done;
    if (done) return;
    done = 1;
    uart_init();
    use_dwt = dwt_start();
    systick_start();
}

static void put_str(const char *s) {
    while (*s) tinyml_board_putc(*s++);
}

static void put_hex(uint32_t v) {
    int i;
    put_str("0x");
    for (i = 28; i >= 0; i -= 4) tinyml_board_putc("0123456789abcdef"[(v >> i) & 0xFu]);
}

static void put_dec(int v) {
    char buf[12];
    int i = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    if (v < 0) tinyml_board_putc('-');
    do {
        buf[i++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    while (i) tinyml_board_putc(buf[--i]);
}

/* Called by _exit() (so by exit() and by main returning) after stdio has been flushed. */
__attribute__((noreturn)) void tinyml_bsp_halt(int code) {
    put_str("[tinyml-bsp] exit ");
    put_dec(code);
    put_str("\n");
    tinyml_board_flush();
    SYST_CSR = 0;
    if (!semihosting_absent) {
        uint32_t block[2];
        block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
        block[1] = (uint32_t)code;
        (void)semihost(0x20 /* SYS_EXIT_EXTENDED */, block); /* returns only without a host */
    }
    for (;;) __asm volatile("wfi");
}

/* Where a fault report continues, in thread mode: a semihosting BKPT inside the HardFault
 * handler would lock the core up when no host answers. */
__attribute__((noreturn, used)) static void fault_exit(void) { tinyml_bsp_halt(255); }

void tinyml_board_exit(int code) { exit(code); /* atexit handlers, stdio flush, then _exit() */ }

/* Fault entry from startup.c: skip a semihosting BKPT when no host answers, else report and end
 * the program with exit code 255. */
void tinyml_bsp_fault(uint32_t *frame, uint32_t exc_return, uint32_t ipsr) {
    uint32_t pc = frame[6];
    if ((ipsr & 0x1FFu) == 3u && (pc & 1u) == 0u && *(const volatile uint16_t *)(uintptr_t)pc == 0xBEABu) {
        frame[6] = pc + 2u;
        frame[0] = (uint32_t)-1;
        semihosting_absent = 1;
        SCB_HFSR = SCB_HFSR; /* write-one-to-clear DEBUGEVT/FORCED */
        SCB_DFSR = SCB_DFSR;
        return;
    }
    put_str("\n[tinyml-bsp] fault: exception ");
    put_dec((int)(ipsr & 0x1FFu));
    put_str(" pc=");
    put_hex(pc);
    put_str(" lr=");
    put_hex(frame[5]);
    put_str(" exc_return=");
    put_hex(exc_return);
    put_str(" cfsr=");
    put_hex(SCB_CFSR);
    put_str(" hfsr=");
    put_hex(SCB_HFSR);
    put_str(" mmfar=");
    put_hex(SCB_MMFAR);
    put_str(" bfar=");
    put_hex(SCB_BFAR);
    put_str("\n");
    if (!(exc_return & 0x8u)) tinyml_bsp_halt(255); /* EXC_RETURN.Mode = handler: stop here */
    /* return from the exception into fault_exit() */
    SCB_CFSR = SCB_CFSR;
    SCB_HFSR = SCB_HFSR;
    frame[6] = (uint32_t)(uintptr_t)fault_exit & ~1u;
    frame[7] = 0x01000000u; /* xPSR: Thumb */
}
