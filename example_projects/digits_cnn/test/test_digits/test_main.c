/* On-target tests of the digits CNN (`pio test -e qemu_mps2_an386`, booted in QEMU by
 * test/test_custom_runner.py): every test image of include/test_samples.h gives exactly the
 * outputs of TFLite's reference kernels, and runs do not disturb each other. */
#include <string.h>

#include "digits.h"
#include "test_samples.h"
#include "tinyml/test.h"

static const int8_t *run(int s) {
    memcpy(digits_input0(), test_inputs[s], DIGITS_INPUT0_BYTES);
    return digits_invoke() == 0 ? digits_output0() : NULL;
}

static void test_outputs_equal_the_tflite_reference(void) {
    int s;
    for (s = 0; s < TEST_NUM_SAMPLES; ++s) {
        const int8_t *out = run(s);
        TINYML_EXPECT(out != NULL);
        TINYML_EXPECT_ARRAY_EQ(out, test_expected[s], DIGITS_OUTPUT0_SIZE);
    }
}

static void test_runs_are_independent(void) {
    int8_t first[DIGITS_OUTPUT0_SIZE];
    memcpy(first, run(3), sizeof first);
    run(7);
    TINYML_EXPECT_ARRAY_EQ(run(3), first, DIGITS_OUTPUT0_SIZE);
}

int main(void) {
    TINYML_TEST_BEGIN();
    TINYML_RUN_TEST(test_outputs_equal_the_tflite_reference);
    TINYML_RUN_TEST(test_runs_are_independent);
    return TINYML_TEST_END();
}
