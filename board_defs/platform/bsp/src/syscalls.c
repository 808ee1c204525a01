/*
 * tinyml-pio board support: newlib(-nano) system calls. stdout/stderr go to UART0, stdin
 * reads from it, the heap lies between the end of .bss and the stack, and _exit() ends in
 * tinyml_bsp_halt() (semihosting exit under QEMU, else a WFI loop). Linked with
 * --specs=nano.specs --specs=nosys.specs; these definitions take precedence over libnosys.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "tinyml_board.h"

#undef errno
extern int errno;

extern void tinyml_bsp_halt(int code) __attribute__((noreturn));
extern char __HeapBase;
extern char __HeapLimit;

int _write(int fd, const char *buf, int len);
int _read(int fd, char *buf, int len);
void *_sbrk(ptrdiff_t incr);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int offset, int whence);
int _kill(int pid, int sig);
int _getpid(void);
void _exit(int code);

int _write(int fd, const char *buf, int len) {
    int i;
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    for (i = 0; i < len; ++i) tinyml_board_putc(buf[i]);
    return len;
}

int _read(int fd, char *buf, int len) {
    int c;
    if (fd != 0) {
        errno = EBADF;
        return -1;
    }
    if (len <= 0) return 0;
    c = tinyml_board_getc(0);
    buf[0] = (char)c;
    return 1;
}

void *_sbrk(ptrdiff_t incr) {
    static char *brk = &__HeapBase;
    char *prev = brk;
    if (incr > &__HeapLimit - brk || incr < &__HeapBase - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += incr;
    return prev;
}

int _close(int fd) {
    (void)fd;
    return -1;
}

int _fstat(int fd, struct stat *st) {
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}

int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _lseek(int fd, int offset, int whence) {
    (void)fd;
    (void)offset;
    (void)whence;
    return 0;
}

int _kill(int pid, int sig) {
    (void)pid;
    (void)sig;
    errno = EINVAL;
    return -1;
}

int _getpid(void) { return 1; }

void _exit(int code) { tinyml_bsp_halt(code); }
