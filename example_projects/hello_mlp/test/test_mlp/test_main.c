/* On-target tests of the generated MLP: `pio test -e qemu_mps2_an386` boots this in QEMU
 * (test/test_custom_runner.py) and reports each TINYML_RUN_TEST as a PlatformIO test case. */
#include <stdint.h>

#include "mlp.h"
#include "tinyml/test.h"

static void fill(int seed) {
    int8_t *in = mlp_input0();
    int i;
    for (i = 0; i < MLP_INPUT0_SIZE; ++i) in[i] = (int8_t)(((i * 37 + seed * 101 + 11) & 0xFF) - 128);
}

static void test_invoke_succeeds(void) {
    fill(0);
    TINYML_EXPECT_INT_EQ(mlp_invoke(), 0);
}

static void test_same_input_same_output(void) {
    int8_t first[MLP_OUTPUT0_SIZE];
    int i;
    fill(1);
    TINYML_EXPECT_INT_EQ(mlp_invoke(), 0);
    for (i = 0; i < MLP_OUTPUT0_SIZE; ++i) first[i] = mlp_output0()[i];
    fill(2);  /* another input in between: nothing may leak from one run into the next */
    TINYML_EXPECT_INT_EQ(mlp_invoke(), 0);
    fill(1);
    TINYML_EXPECT_INT_EQ(mlp_invoke(), 0);
    TINYML_EXPECT_ARRAY_EQ(mlp_output0(), first, MLP_OUTPUT0_SIZE);
}

static void test_arena_fits_the_board(void) {
    TINYML_EXPECT(MLP_ARENA_SIZE > 0 && MLP_ARENA_SIZE < 4 * 1024 * 1024);
}

int main(void) {
    TINYML_TEST_BEGIN();
    TINYML_RUN_TEST(test_invoke_succeeds);
    TINYML_RUN_TEST(test_same_input_same_output);
    TINYML_RUN_TEST(test_arena_fits_the_board);
    return TINYML_TEST_END();
}
