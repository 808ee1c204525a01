/* CAST, see cast.h. Narrowing goes through the unsigned type so it wraps without undefined behaviour. */
#include "tinyml/cast.h"

#define TINYML_CAST_DEF(from, to, tfrom, tto)                                   \
    void tinyml_cast_##from##_##to(const tfrom *input, tto *output, int32_t n) { \
        int32_t i;                                                              \
        for (i = 0; i < n; ++i) {                                               \
            output[i] = (tto)input[i];                                          \
        }                                                                       \
    }

TINYML_CAST_ALL(TINYML_CAST_DEF)
