// cpp_mlp: the generated model from C++ on an emulated board; prints each sample's outputs.
#include <cstdio>

#include "mlp_model.hpp"
#include "tinyml_board.h"

namespace {
constexpr int kSamples = 4;
}

int main() {
    const MlpModel model;
    tinyml_board_printf("cpp_mlp on %s: arena %d B\n", tinyml_board_name, MLP_ARENA_SIZE);
    for (int s = 0; s < kSamples; ++s) {
        MlpModel::Output y{};
        if (model.run(sample_input(s), y) != 0) {
            tinyml_board_printf("sample %d: invoke failed\n", s);
            return 1;
        }
        char line[160];
        int n = std::snprintf(line, sizeof line, "sample %d: output", s);
        for (std::int8_t v : y) n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), " %d", v);
        tinyml_board_printf("%s | class %u\n", line, static_cast<unsigned>(MlpModel::argmax(y)));
    }
    tinyml_board_printf("done\n");
    return 0;
}
