// On-target tests from C++ with tinyml/test.h (pio test -e qemu_mps2_an386).
#include "../../src/mlp_model.hpp"
#include "tinyml/test.h"

static void test_run_succeeds() {
    MlpModel::Output y{};
    TINYML_EXPECT_INT_EQ(MlpModel().run(sample_input(0), y), 0);
}

static void test_deterministic() {
    MlpModel::Output a{}, b{}, c{};
    const MlpModel m;
    TINYML_EXPECT_INT_EQ(m.run(sample_input(3), a), 0);
    TINYML_EXPECT_INT_EQ(m.run(sample_input(1), b), 0);
    TINYML_EXPECT_INT_EQ(m.run(sample_input(3), c), 0);
    TINYML_EXPECT_ARRAY_EQ(c, a, MlpModel::kOutputs);
}

int main() {
    TINYML_TEST_BEGIN();
    TINYML_RUN_TEST(test_run_succeeds);
    TINYML_RUN_TEST(test_deterministic);
    return TINYML_TEST_END();
}
