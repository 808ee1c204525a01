"""The HIL wire protocol, host side (firmware side: library/include/tinyml/hil.h).

Frame: 0xA5 0x5A | type u8 | seq u8 | len u16 | payload | crc16 (CCITT-FALSE over type..payload),
little endian. Responses carry type | 0x80 and the request's seq; 0xFF is an error (code, text).

Payloads
  HELLO      -> version u8, n_in u8, n_out u8, flags u8 (bit0: per-layer timing), arena u32,
                clock_hz u32, num_ops u16, name str8, sha256 str8, clock_source str8,
                tensors (inputs then outputs): dtype u8, rank u8, dims u32*rank, bytes u32
  SET_INPUT  index u8, offset u32, data            -> (empty)
  INVOKE                                           -> status i32, cycles u64
  GET_OUTPUT index u8, offset u32, length u16      -> data
  MEMORY                                           -> stack_peak u32, stack_size u32, arena u32, static_ram u32
  LAYERS     first u16                             -> num_ops u16, cycles u32 * k (from `first`)
  BOOT       (unsolicited, firmware start)            version u8: the host treats it mid-run as a reset

Retries: the host resends an unanswered (or corruptly answered) request as the same frame; the
firmware answers a repeat of its last request (same type, seq and CRC) with the reply it kept,
without executing it again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 512
PROTOCOL_VERSION = 1
HELLO, SET_INPUT, INVOKE, GET_OUTPUT, MEMORY, LAYERS, BOOT, ERROR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x7E, 0xFF
DTYPES = {0: "int8", 1: "uint8", 2: "float32", 3: "int16", 4: "int32", 5: "int64"}
DTYPE_CODES = {v: k for k, v in DTYPES.items()}


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = struct.pack("<BBH", ftype, seq & 0xFF, len(payload)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


@dataclass
class FrameParser:
    """Incremental parser: feed bytes, collect frames; skips garbage and frames with a bad CRC."""

    buf: bytearray = field(default_factory=bytearray)
    bad: int = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        frames = []
        while True:
            i = self.buf.find(SYNC)
            if i < 0:
                del self.buf[: max(len(self.buf) - 1, 0)]
                return frames
            del self.buf[:i]
            if len(self.buf) < 6:
                return frames
            ftype, seq, n = struct.unpack_from("<BBH", self.buf, 2)
            if n > MAX_PAYLOAD:
                self.bad += 1
                del self.buf[:1]
                continue
            if len(self.buf) < 8 + n:
                return frames
            (crc,) = struct.unpack_from("<H", self.buf, 6 + n)
            if crc != crc16(bytes(self.buf[2 : 6 + n])):
                self.bad += 1
                del self.buf[:1]
                continue
            frames.append(Frame(ftype, seq, bytes(self.buf[6 : 6 + n])))
            del self.buf[: 8 + n]


@dataclass
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass
class Info:
    version: int
    per_layer: bool
    arena_bytes: int
    clock_hz: int
    num_ops: int
    model_name: str
    model_sha256: str
    clock_source: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]


def decode_info(p: bytes) -> Info:
    version, n_in, n_out, flags, arena, hz, nops = struct.unpack_from("<BBBBIIH", p, 0)
    pos = 14
    strs = []
    for _ in range(3):
        n = p[pos]
        strs.append(p[pos + 1 : pos + 1 + n].decode(errors="replace"))
        pos += 1 + n
    tensors = []
    for _ in range(n_in + n_out):
        dt, rank = p[pos], p[pos + 1]
        dims = struct.unpack_from(f"<{rank}I", p, pos + 2)
        (nbytes,) = struct.unpack_from("<I", p, pos + 2 + 4 * rank)
        tensors.append(TensorInfo(DTYPES.get(dt, f"dtype{dt}"), tuple(dims), nbytes))
        pos += 6 + 4 * rank
    return Info(version, bool(flags & 1), arena, hz, nops, strs[0], strs[1], strs[2], tensors[:n_in], tensors[n_in:])
