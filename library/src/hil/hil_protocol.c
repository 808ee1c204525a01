/* HIL protocol: frame parser with resync, and the command dispatcher (see tinyml/hil.h). */
#include "tinyml/hil.h"
#include "tinyml/train.h"

#include <string.h>

#define HDR 6 /* sync(2) type seq len(2) */

uint16_t tinyml_hil_crc16(uint16_t crc, const uint8_t *data, size_t len) {
    size_t i;
    int b;
    for (i = 0; i < len; ++i) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (b = 0; b < 8; ++b) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

void tinyml_hil_init(tinyml_hil_parser_t *p) {
    memset(p, 0, sizeof *p);
}

static void put_u16(uint8_t *d, uint32_t v) { d[0] = (uint8_t)v; d[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *d, uint32_t v) { put_u16(d, v); put_u16(d + 2, v >> 16); }
static uint32_t get_u32(const uint8_t *d) {
    return (uint32_t)d[0] | ((uint32_t)d[1] << 8) | ((uint32_t)d[2] << 16) | ((uint32_t)d[3] << 24);
}

/* Frame the payload already built at p->reply + HDR, keep the frame as the last reply, send it. */
static void reply(tinyml_hil_parser_t *p, const tinyml_hil_t *hil, uint8_t type, uint8_t seq, size_t len) {
    uint8_t *f = p->reply;
    uint16_t crc;
    f[0] = 0xA5; f[1] = 0x5A; f[2] = type; f[3] = seq;
    put_u16(f + 4, (uint32_t)len);
    crc = tinyml_hil_crc16(0xFFFF, f + 2, 4 + len);
    put_u16(f + HDR + len, crc);
    p->reply_len = HDR + len + 2;
    hil->write(f, p->reply_len);
}

static void reply_error(tinyml_hil_parser_t *p, const tinyml_hil_t *hil, uint8_t seq, uint8_t code, const char *msg) {
    uint8_t *out = p->reply + HDR;
    size_t n = strlen(msg);
    if (n > 63) n = 63;
    out[0] = code;
    memcpy(out + 1, msg, n);
    reply(p, hil, TINYML_HIL_ERROR, seq, n + 1);
}

static float get_f32(const uint8_t *d) {
    uint32_t u = get_u32(d);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static size_t put_str(uint8_t *d, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > 255) n = 255;
    d[0] = (uint8_t)n;
    if (n) memcpy(d + 1, s, n);
    return n + 1;
}

static size_t put_tensor(uint8_t *d, const tinyml_hil_tensor_t *t, size_t bytes) {
    size_t k = 0;
    int i;
    d[k++] = t->dtype;
    d[k++] = t->rank;
    for (i = 0; i < t->rank && i < 6; ++i) { put_u32(d + k, t->dims[i]); k += 4; }
    put_u32(d + k, (uint32_t)bytes);
    return k + 4;
}

/* Execute one request; every path answers with exactly one frame (kept in p->reply). */
static void dispatch(tinyml_hil_parser_t *p, const tinyml_hil_t *hil, uint8_t type, uint8_t seq, const uint8_t *pl,
                     size_t len) {
    uint8_t *out = p->reply + HDR; /* the reply payload, TINYML_HIL_MAX_PAYLOAD bytes */
    size_t k = 0;
    int i;
    switch (type) {
    case TINYML_HIL_HELLO:
        out[k++] = TINYML_HIL_PROTOCOL_VERSION;
        out[k++] = hil->num_inputs;
        out[k++] = hil->num_outputs;
        out[k++] = (uint8_t)((hil->layer_cycles ? 1 : 0) | (hil->train_step ? 2 : 0));
        put_u32(out + k, hil->arena_bytes); k += 4;
        put_u32(out + k, hil->clock_hz); k += 4;
        put_u16(out + k, hil->num_ops); k += 2;
        k += put_str(out + k, hil->model_name);
        k += put_str(out + k, hil->model_sha256);
        k += put_str(out + k, hil->clock_source);
        for (i = 0; i < hil->num_inputs && k + 40 < TINYML_HIL_MAX_PAYLOAD; ++i) k += put_tensor(out + k, &hil->inputs[i], hil->input_bytes(i));
        for (i = 0; i < hil->num_outputs && k + 40 < TINYML_HIL_MAX_PAYLOAD; ++i) k += put_tensor(out + k, &hil->outputs[i], hil->output_bytes(i));
        reply(p, hil, type | 0x80, seq, k);
        return;
    case TINYML_HIL_SET_INPUT: {
        uint32_t off;
        size_t n;
        if (len < 5 || pl[0] >= hil->num_inputs) { reply_error(p, hil, seq, 1, "bad SET_INPUT"); return; }
        off = get_u32(pl + 1);
        n = len - 5;
        if ((size_t)off > hil->input_bytes(pl[0]) || n > hil->input_bytes(pl[0]) - off) {
            reply_error(p, hil, seq, 2, "input range"); return;
        }
        memcpy((uint8_t *)hil->input(pl[0]) + off, pl + 5, n);
        reply(p, hil, type | 0x80, seq, 0);
        return;
    }
    case TINYML_HIL_INVOKE: {
        uint32_t t0, t1;
        int status;
        t0 = hil->cycles();
        status = hil->invoke();
        t1 = hil->cycles();
        put_u32(out, (uint32_t)status);
        put_u32(out + 4, t1 - t0);
        put_u32(out + 8, 0); /* high word: reserved for 64-bit counters */
        reply(p, hil, type | 0x80, seq, 12);
        return;
    }
    case TINYML_HIL_GET_OUTPUT: {
        uint32_t off, n;
        if (len < 7 || pl[0] >= hil->num_outputs) { reply_error(p, hil, seq, 1, "bad GET_OUTPUT"); return; }
        off = get_u32(pl + 1);
        n = (uint32_t)pl[5] | ((uint32_t)pl[6] << 8);
        if (n > TINYML_HIL_MAX_PAYLOAD || (size_t)off > hil->output_bytes(pl[0]) || n > hil->output_bytes(pl[0]) - off) {
            reply_error(p, hil, seq, 2, "output range"); return;
        }
        memcpy(out, (const uint8_t *)hil->output(pl[0]) + off, n);
        reply(p, hil, type | 0x80, seq, n);
        return;
    }
    case TINYML_HIL_MEMORY:
        put_u32(out, hil->stack_peak ? hil->stack_peak() : 0);
        put_u32(out + 4, hil->stack_size);
        put_u32(out + 8, hil->arena_bytes);
        put_u32(out + 12, hil->static_ram);
        put_u32(out + 16, hil->train_arena_bytes);
        put_u32(out + 20, hil->params_bytes ? (uint32_t)hil->params_bytes() : 0);
        reply(p, hil, type | 0x80, seq, 24);
        return;
    case TINYML_HIL_TRAIN: {
        /* lr f32, then label i32 (cross-entropy) or target f32 * target_size (MSE) */
        static float target[TINYML_HIL_MAX_PAYLOAD / 4];
        uint32_t t0, t1, j, bits;
        float loss;
        const size_t need = 4 + (hil->target_size ? 4u * hil->target_size : 4u);
        if (!hil->train_step) { reply_error(p, hil, seq, 3, "built without training"); return; }
        if (len != need) { reply_error(p, hil, seq, 1, "bad TRAIN"); return; }
        for (j = 0; j < hil->target_size; ++j) target[j] = get_f32(pl + 4 + 4 * j);
        t0 = hil->cycles();
        loss = hil->train_step(hil->target_size ? 0 : (int32_t)get_u32(pl + 4), target, get_f32(pl));
        t1 = hil->cycles();
        memcpy(&bits, &loss, 4);
        put_u32(out, 0);
        put_u32(out + 4, bits);
        put_u32(out + 8, t1 - t0);
        put_u32(out + 12, 0); /* high word: reserved for 64-bit counters */
        reply(p, hil, type | 0x80, seq, 16);
        return;
    }
    case TINYML_HIL_PARAMS: {
        uint32_t off, n, total;
        if (!hil->params) { reply_error(p, hil, seq, 3, "built without training"); return; }
        if (len < 6) { reply_error(p, hil, seq, 1, "bad PARAMS"); return; }
        off = get_u32(pl);
        n = (uint32_t)pl[4] | ((uint32_t)pl[5] << 8);
        total = (uint32_t)hil->params_bytes();
        if (n > TINYML_HIL_MAX_PAYLOAD || off > total || n > total - off) { reply_error(p, hil, seq, 2, "params range"); return; }
        memcpy(out, (const uint8_t *)hil->params() + off, n);
        reply(p, hil, type | 0x80, seq, n);
        return;
    }
    case TINYML_HIL_TRAIN_INFO:
        if (!hil->params) { reply_error(p, hil, seq, 3, "built without training"); return; }
        put_u32(out, (uint32_t)hil->params_bytes());
        put_u32(out + 4, tinyml_crc32((const uint8_t *)hil->params(), hil->params_bytes()));
        put_u32(out + 8, hil->train_arena_bytes);
        put_u16(out + 12, hil->target_size);
        reply(p, hil, type | 0x80, seq, 14);
        return;
    case TINYML_HIL_LAYERS: {
        uint32_t first, j;
        const uint32_t timed = hil->timed_ops ? hil->timed_ops : hil->num_ops;
        if (!hil->layer_cycles) { reply_error(p, hil, seq, 3, "built without per-layer timing"); return; }
        first = len >= 2 ? ((uint32_t)pl[0] | ((uint32_t)pl[1] << 8)) : 0;
        put_u16(out, timed);
        k = 2;
        for (j = first; j < timed && k + 4 <= TINYML_HIL_MAX_PAYLOAD; ++j) { put_u32(out + k, hil->layer_cycles[j]); k += 4; }
        reply(p, hil, type | 0x80, seq, k);
        return;
    }
    default:
        reply_error(p, hil, seq, 4, "unknown command");
    }
}

void tinyml_hil_boot(const tinyml_hil_t *hil) {
    uint8_t f[HDR + 1 + 2];
    uint16_t crc;
    f[0] = 0xA5; f[1] = 0x5A; f[2] = TINYML_HIL_BOOT; f[3] = 0;
    put_u16(f + 4, 1);
    f[HDR] = TINYML_HIL_PROTOCOL_VERSION;
    crc = tinyml_hil_crc16(0xFFFF, f + 2, 5);
    put_u16(f + HDR + 1, crc);
    hil->write(f, sizeof f);
}

static void drop(tinyml_hil_parser_t *p, size_t n) {
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
}

void tinyml_hil_feed(tinyml_hil_parser_t *p, const tinyml_hil_t *hil, const uint8_t *data, size_t len) {
    size_t i;
    for (i = 0; i < len; ++i) {
        if (p->len == sizeof p->buf) drop(p, 1);
        p->buf[p->len++] = data[i];
        for (;;) {
            size_t plen;
            uint16_t crc;
            if (p->len >= 1 && p->buf[0] != 0xA5) { drop(p, 1); continue; }
            if (p->len >= 2 && p->buf[1] != 0x5A) { drop(p, 1); continue; }
            if (p->len < HDR) break;
            plen = (size_t)p->buf[4] | ((size_t)p->buf[5] << 8);
            if (plen > TINYML_HIL_MAX_PAYLOAD) { p->frames_bad++; drop(p, 1); continue; }
            if (p->len < HDR + plen + 2) break;
            crc = tinyml_hil_crc16(0xFFFF, p->buf + 2, 4 + plen);
            if (((uint16_t)p->buf[HDR + plen] | ((uint16_t)p->buf[HDR + plen + 1] << 8)) != crc) {
                p->frames_bad++;
                drop(p, 1);
                continue;
            }
            p->frames_ok++;
            if (p->reply_len && p->buf[2] == p->last_type && p->buf[3] == p->last_seq && crc == p->last_crc) {
                /* the host repeats a request whose reply it did not get: answer again, do not re-execute */
                p->replays++;
                hil->write(p->reply, p->reply_len);
            } else {
                p->last_type = p->buf[2];
                p->last_seq = p->buf[3];
                p->last_crc = crc;
                dispatch(p, hil, p->buf[2], p->buf[3], p->buf + HDR, plen);
            }
            drop(p, HDR + plen + 2);
        }
    }
}
