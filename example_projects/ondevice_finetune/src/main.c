/*
 * ondevice_finetune: the model fine-tunes itself on samples that arrive over the UART.
 *
 * tinyml-pio generated ft.h / ft.c at build time from models/ft.tflite with
 *     custom_tinyml_train = bias+last
 * so besides ft_invoke() there is ft_train_step(label, lr): forward, loss, backward and update of
 * one sample, in the one planned arena (FT_ARENA_SIZE) with the trainable parameters in RAM
 * (FT_PARAMS_BYTES).
 *
 * Commands (bytes on the UART; stream.py speaks them):
 *   'T' label:u8 image:int8[64]   train on one sample     -> "loss <micro-units>"
 *   'P' image:int8[64]            predict                 -> "class <c>"
 *   'S'                           save the parameters     -> "saved <bytes> crc <crc32>"
 *   'Q'                           quit (QEMU exits)       -> "bye"
 * The image is already quantized with the model's input parameters (FT_INPUT0_SCALE/ZERO_POINT).
 */
#include <stddef.h>
#include <stdint.h>

#include "ft.h"
#include "tinyml_board.h"
#include "tinyml/train.h" /* tinyml_crc32 */

#define LR 0.005f

/* Keep the trained parameters across resets: a real board writes them to flash in app_save_params
 * and returns them (a pointer into flash) from app_saved_params at boot. The defaults report a
 * CRC and start from the pretrained parameters. */
__attribute__((weak)) void app_save_params(const void *params, size_t n);
__attribute__((weak)) const void *app_saved_params(size_t *n);

void app_save_params(const void *params, size_t n) {
    tinyml_board_printf("saved %lu crc %08lx\n", (unsigned long)n, (unsigned long)tinyml_crc32((const uint8_t *)params, n));
}

const void *app_saved_params(size_t *n) {
    *n = 0;
    return NULL; /* nothing saved */
}

static int read_byte(void) { return tinyml_board_getc(0); }

static int read_image(void) {
    int8_t *x = (int8_t *)ft_input(0);
    int i;
    for (i = 0; i < FT_INPUT0_SIZE; ++i) {
        const int c = read_byte();
        if (c < 0) return -1;
        x[i] = (int8_t)(uint8_t)c;
    }
    return 0;
}

int tinyml_app_main(void);
int tinyml_app_main(void) {
    size_t saved_bytes;
    const void *saved = app_saved_params(&saved_bytes);
    if (saved && ft_params_load(saved, saved_bytes) != 0) tinyml_board_printf("saved parameters do not fit this model\n");
    tinyml_board_printf("ondevice_finetune on %s: arena %d B, trainable parameters %d B, %d classes\n",
                        tinyml_board_name, FT_ARENA_SIZE, FT_PARAMS_BYTES, FT_NUM_CLASSES);
    tinyml_board_printf("ready\n");
    for (;;) {
        const int cmd = read_byte();
        if (cmd == 'T') {
            const int label = read_byte();
            float loss;
            if (label < 0 || read_image() != 0) break;
            loss = ft_train_step(label, LR);
            tinyml_board_printf("loss %ld\n", (long)(loss * 1e6f));
        } else if (cmd == 'P') {
            const int8_t *out;
            int i, best = 0;
            if (read_image() != 0) break;
            ft_invoke();
            out = (const int8_t *)ft_output(0);
            for (i = 1; i < FT_OUTPUT0_SIZE; ++i) {
                if (out[i] > out[best]) best = i;
            }
            tinyml_board_printf("class %d\n", best);
        } else if (cmd == 'S') {
            app_save_params(ft_params(), ft_params_bytes());
        } else if (cmd == 'Q' || cmd < 0) {
            break;
        }
    }
    tinyml_board_printf("bye\n");
    return 0;
}

#if !defined(ARDUINO)
int main(void) { return tinyml_app_main(); }
#endif
