#ifndef ZEPHYR_STUB_PRINTK_H
#define ZEPHYR_STUB_PRINTK_H
#include <stdio.h>
#define printk printf
#endif
