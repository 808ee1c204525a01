/* printf-style output through any board's tinyml_board_putc (UART, Arduino Serial, host stdout),
 * for code that must not depend on how a board retargets stdio. */
#include <stdarg.h>
#include <stdio.h>

#include "tinyml_board.h"

void tinyml_board_printf(const char *fmt, ...) {
    char buf[160];
    const char *p = buf;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    while (*p) tinyml_board_putc(*p++);
}
