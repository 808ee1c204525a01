/*
 * A minimal assertion header for on-target tests: the test framework of `pio test` on the emulated
 * boards (test_framework = custom, tinyml_pio/platformio/test_runner.py), which needs nothing from
 * PlatformIO's registry. Header-only; output goes through tinyml_board_printf (UART0).
 *
 *     #include "tinyml/test.h"
 *     static void test_output_in_range(void) { TINYML_EXPECT_INT_EQ(mlp_invoke(), 0); }
 *     int main(void) {
 *         TINYML_TEST_BEGIN();
 *         TINYML_RUN_TEST(test_output_in_range);
 *         return TINYML_TEST_END();   // the number of failed tests: the firmware's exit code
 *     }
 *
 * Each test prints one line the runner parses:
 *     TINYML-TEST:<file>:<line>:<name>:PASS
 *     TINYML-TEST:<file>:<line>:<name>:FAIL:<message>
 * and TINYML_TEST_END() prints "TINYML-TEST-END:<tests>:<failures>". A failed expectation ends its
 * test (the rest of the test function is skipped) and the next test runs.
 */
#ifndef TINYML_TEST_H
#define TINYML_TEST_H

#include <stdint.h>

#include "tinyml_board.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int tests, failures;
    int failed;              /* the current test failed */
    const char *file;        /* where it failed */
    int line;
} tinyml_test_state_t;

static tinyml_test_state_t tinyml_test_state;

static inline int tinyml_test_fail(const char *file, int line) {
    tinyml_test_state.failed = 1;
    tinyml_test_state.file = file;
    tinyml_test_state.line = line;
    return 0;
}

static inline void tinyml_test_run(void (*fn)(void), const char *name, const char *file, int line) {
    tinyml_test_state.failed = 0;
    tinyml_test_state.tests++;
    tinyml_board_printf("TINYML-TEST-START:%s\n", name);
    fn();
    if (tinyml_test_state.failed) {
        tinyml_test_state.failures++;  /* the FAIL line was printed by the expectation */
    } else {
        tinyml_board_printf("TINYML-TEST:%s:%d:%s:PASS\n", file, line, name);
    }
}

#define TINYML_TEST_BEGIN() (tinyml_test_state.tests = 0, tinyml_test_state.failures = 0)
#define TINYML_RUN_TEST(fn) tinyml_test_run(fn, #fn, __FILE__, __LINE__)
#define TINYML_TEST_END()                                                                                    \
    (tinyml_board_printf("TINYML-TEST-END:%d:%d\n", tinyml_test_state.tests, tinyml_test_state.failures),   \
     tinyml_test_state.failures)

/* Fail the current test with a printf-style message (file and line of the expectation) and return. */
#define TINYML_FAIL_MSG(name_fmt, ...)                                                                       \
    do {                                                                                                     \
        tinyml_board_printf("TINYML-TEST:%s:%d:%s:FAIL:" name_fmt "\n", __FILE__, __LINE__, __func__, __VA_ARGS__); \
        tinyml_test_fail(__FILE__, __LINE__);                                                                \
        return;                                                                                              \
    } while (0)

#define TINYML_EXPECT(cond)                                                                                  \
    do {                                                                                                     \
        if (!(cond)) TINYML_FAIL_MSG("%s", "expected " #cond);                                               \
    } while (0)

#define TINYML_EXPECT_INT_EQ(actual, expected)                                                               \
    do {                                                                                                     \
        long tinyml_a_ = (long)(actual), tinyml_e_ = (long)(expected);                                       \
        if (tinyml_a_ != tinyml_e_)                                                                          \
            TINYML_FAIL_MSG("%s is %ld, expected %ld", #actual, tinyml_a_, tinyml_e_);                       \
    } while (0)

/* n int8/int16/int32 values equal (compared as long); names the first index that differs. */
#define TINYML_EXPECT_ARRAY_EQ(actual, expected, n)                                                          \
    do {                                                                                                     \
        int tinyml_i_;                                                                                       \
        for (tinyml_i_ = 0; tinyml_i_ < (int)(n); ++tinyml_i_)                                               \
            if ((long)(actual)[tinyml_i_] != (long)(expected)[tinyml_i_])                                    \
                TINYML_FAIL_MSG("%s[%d] is %ld, expected %ld", #actual, tinyml_i_, (long)(actual)[tinyml_i_],  \
                                (long)(expected)[tinyml_i_]);                                                \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* TINYML_TEST_H */
