// A small C++ face for the generated C model: fixed-size std::array in and out, no casts (the
// typed accessors mlp_input0()/mlp_output0() return int8_t pointers into the arena).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "mlp.h"  // C, with extern "C" guards

class MlpModel {
public:
    static constexpr std::size_t kInputs = MLP_INPUT0_SIZE;
    static constexpr std::size_t kOutputs = MLP_OUTPUT0_SIZE;
    using Input = std::array<std::int8_t, kInputs>;
    using Output = std::array<std::int8_t, kOutputs>;

    // Runs one inference; returns mlp_invoke()'s status (0: ok).
    int run(const Input &x, Output &y) const {
        std::copy(x.begin(), x.end(), mlp_input0());
        const int rc = mlp_invoke();
        const std::int8_t *out = mlp_output0();
        std::copy(out, out + kOutputs, y.begin());
        return rc;
    }

    static std::size_t argmax(const Output &y) {
        return static_cast<std::size_t>(std::max_element(y.begin(), y.end()) - y.begin());
    }
};

// Input i of sample s: the formula hello_mlp and tests/test_cpp_example.py use.
inline MlpModel::Input sample_input(int s) {
    MlpModel::Input x{};
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = static_cast<std::int8_t>(((static_cast<int>(i) * 37 + s * 101 + 11) & 0xFF) - 128);
    }
    return x;
}
