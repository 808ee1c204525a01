/*
 * tinyml-pio hardware-in-the-loop protocol, firmware side.
 *
 * Frames over a byte stream (UART):
 *   0xA5 0x5A | type u8 | seq u8 | len u16 LE | payload[len] | crc16 LE
 * crc16 is CRC-16/CCITT-FALSE over type, seq, len and payload. A response has the request's
 * type | 0x80 and the same seq; errors are type 0xFF with (code u8, message). The parser resyncs
 * on the next 0xA5 0x5A after garbage, a bad length or a bad CRC. Multi-byte fields are little endian.
 * The Python side (tinyml_pio/hil/protocol.py) documents each payload.
 *
 * Retries: the host resends a request whose reply it lost or got corrupted. The firmware keeps
 * the last request's (type, seq, CRC) and the frame it answered with, and answers a repeat of
 * that request with the same frame instead of executing it again: an INVOKE is not run twice
 * (the generated code may overwrite its inputs), a SET_INPUT not written twice. The kept frame
 * costs TINYML_HIL_MAX_PAYLOAD + 8 bytes of RAM in the parser; replies are built in it, so the
 * dispatcher needs no payload buffer on the stack. tinyml_hil_init forgets it (at every boot).
 */
#ifndef TINYML_HIL_H
#define TINYML_HIL_H

#include <stddef.h>
#include <stdint.h>

#ifndef TINYML_HIL_PROTOCOL_VERSION
#define TINYML_HIL_PROTOCOL_VERSION 2 /* 2: training commands (TRAIN, PARAMS, TRAIN_INFO) */
#endif
#define TINYML_HIL_MAX_PAYLOAD 512

enum {
    TINYML_HIL_HELLO = 0x01,
    TINYML_HIL_SET_INPUT = 0x02,
    TINYML_HIL_INVOKE = 0x03,
    TINYML_HIL_GET_OUTPUT = 0x04,
    TINYML_HIL_MEMORY = 0x05,
    TINYML_HIL_LAYERS = 0x06,
    TINYML_HIL_TRAIN = 0x07,      /* one training step on the input already set */
    TINYML_HIL_PARAMS = 0x08,     /* a chunk of the trainable parameters */
    TINYML_HIL_TRAIN_INFO = 0x09, /* parameter bytes and CRC-32, training arena, loss kind */
    TINYML_HIL_BOOT = 0x7E, /* sent unsolicited by the firmware when it starts */
    TINYML_HIL_ERROR = 0xFF
};

enum { TINYML_HIL_DT_INT8 = 0, TINYML_HIL_DT_UINT8 = 1, TINYML_HIL_DT_FLOAT32 = 2, TINYML_HIL_DT_INT16 = 3 };

typedef struct {
    uint8_t dtype;
    uint8_t rank;
    uint32_t dims[6];
} tinyml_hil_tensor_t;

/* Everything the protocol needs from the model and the board. */
typedef struct {
    const char *model_name;
    const char *model_sha256;
    uint32_t arena_bytes;
    uint16_t num_ops;
    uint8_t num_inputs;
    uint8_t num_outputs;
    const tinyml_hil_tensor_t *inputs;
    const tinyml_hil_tensor_t *outputs;
    void *(*input)(int index);
    size_t (*input_bytes)(int index);
    void *(*output)(int index);
    size_t (*output_bytes)(int index);
    int (*invoke)(void);
    /* board */
    uint32_t (*cycles)(void); /* free-running, wraps; deltas are taken modulo 2^32 */
    const char *clock_source; /* "dwt", "systick", "qemu-icount" */
    uint32_t clock_hz;
    uint32_t (*stack_peak)(void); /* bytes of stack ever used (stack painting) */
    uint32_t stack_size;
    uint32_t static_ram; /* .data + .bss */
    /* optional per-layer timing (NULL when not built with it) */
    const uint32_t *layer_cycles;
    void (*write)(const uint8_t *data, size_t len);
    /* optional training (all NULL/0 when the model was converted without --train) */
    float (*train_step)(int32_t label, const float *target, float lr);
    const void *(*params)(void);
    size_t (*params_bytes)(void);
    uint32_t train_arena_bytes; /* the training plan's arena (arena_bytes is the larger of both) */
    uint16_t target_size;       /* MSE: floats per target; 0: cross-entropy with an int32 label */
    uint16_t timed_ops;         /* entries of layer_cycles (training: forward ops, then backward steps); 0: num_ops */
} tinyml_hil_t;

typedef struct {
    uint8_t buf[TINYML_HIL_MAX_PAYLOAD + 8]; /* the request being received */
    size_t len;
    uint32_t frames_ok;
    uint32_t frames_bad;
    uint32_t replays; /* repeated requests answered from `reply` */
    /* the last request answered and its reply frame (reply_len 0: none since tinyml_hil_init) */
    uint8_t last_type;
    uint8_t last_seq;
    uint16_t last_crc;
    size_t reply_len;
    uint8_t reply[TINYML_HIL_MAX_PAYLOAD + 8];
} tinyml_hil_parser_t;

uint16_t tinyml_hil_crc16(uint16_t crc, const uint8_t *data, size_t len);
/* Reset the parser and forget the last reply (call at boot, before tinyml_hil_boot). */
void tinyml_hil_init(tinyml_hil_parser_t *p);
/* Announce a (re)start: lets the host detect a board that reset mid-run. */
void tinyml_hil_boot(const tinyml_hil_t *hil);
/* Feed received bytes; complete frames are dispatched (or, when repeated, answered again from
 * the kept reply) through hil->write. */
void tinyml_hil_feed(tinyml_hil_parser_t *p, const tinyml_hil_t *hil, const uint8_t *data, size_t len);

#endif
