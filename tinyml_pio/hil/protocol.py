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
                                                      (version 2 adds: train_arena u32, params_bytes u32)
  LAYERS     first u16                             -> num_ops u16, cycles u32 * k (from `first`)
  version 2, firmware converted with --train (HELLO flags bit1):
  TRAIN      lr f32, label i32 | target f32 * n    -> status i32, loss f32, cycles u64
  PARAMS     offset u32, length u16                -> data (the trainable parameters)
  TRAIN_INFO                                       -> params_bytes u32, params_crc32 u32, train_arena u32,
                                                      target_size u16 (0: cross-entropy with a label)
  BOOT       (unsolicited, firmware start)            version u8: the host treats it mid-run as a reset

Retries: the host resends an unanswered (or corruptly answered) request as the same frame; the
firmware answers a repeat of its last request (same type, seq and CRC) with the reply it kept,
without executing it again.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 512
PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)  # version 1 firmware (no training) still works with this host
HELLO, SET_INPUT, INVOKE, GET_OUTPUT, MEMORY, LAYERS, BOOT, ERROR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x7E, 0xFF
TRAIN, PARAMS, TRAIN_INFO = 0x07, 0x08, 0x09
DTYPES = {0: "int8", 1: "uint8", 2: "float32", 3: "int16", 4: "int32", 5: "int64"}
DTYPE_CODES = {v: k for k, v in DTYPES.items()}


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): binascii's CRC-CCITT, in C."""
    return binascii.crc_hqx(data, crc)


class ProtocolError(ValueError):
    """A reply that passed the CRC but does not decode (short, long or inconsistent): the client
    treats it like a corrupted frame and asks again."""


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
    """Incremental parser: feed bytes, collect frames; skips garbage and frames with a bad CRC.

    Scans with an index into the buffer and trims it once per feed, so adversarial input (sync
    bytes everywhere, lengths that point at bad CRCs) costs one C-speed CRC per candidate, not a
    Python loop per byte (benchmarks/hil_parser.py)."""

    buf: bytearray = field(default_factory=bytearray)
    bad: int = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        buf = self.buf
        frames = []
        i = 0
        while True:
            i = buf.find(SYNC, i)
            if i < 0:
                keep = len(buf) - 1 if buf[-1:] == SYNC[:1] else len(buf)  # a sync byte may be split
                del buf[:keep]
                return frames
            if len(buf) - i < 6:
                break
            ftype, seq, n = struct.unpack_from("<BBH", buf, i + 2)
            if n > MAX_PAYLOAD:
                self.bad += 1
                i += 1
                continue
            if len(buf) - i < 8 + n:
                break
            (crc,) = struct.unpack_from("<H", buf, i + 6 + n)
            if crc != binascii.crc_hqx(memoryview(buf)[i + 2 : i + 6 + n], 0xFFFF):
                self.bad += 1
                i += 1
                continue
            frames.append(Frame(ftype, seq, bytes(buf[i + 6 : i + 6 + n])))
            i += 8 + n
        del buf[:i]
        return frames


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
    trains: bool = False  # the firmware has the training commands (converted with --train)


class _Reader:
    """Reads a payload front to back; running past its end is a ProtocolError, not an IndexError."""

    def __init__(self, payload: bytes, what: str):
        self.p, self.pos, self.what = payload, 0, what

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.p):
            raise ProtocolError(f"{self.what} reply of {len(self.p)} bytes ends inside a field at byte {self.pos}")
        values = struct.unpack_from(fmt, self.p, self.pos)
        self.pos += size
        return values

    def text(self) -> str:
        (n,) = self.take("<B")
        return self.take(f"<{n}s")[0].decode(errors="replace")

    def end(self) -> None:
        if self.pos != len(self.p):
            raise ProtocolError(f"{self.what} reply has {len(self.p) - self.pos} bytes after its last field")


def decode_info(p: bytes) -> Info:
    r = _Reader(p, "HELLO")
    version, n_in, n_out, flags, arena, hz, nops = r.take("<BBBBIIH")
    name, sha, source = r.text(), r.text(), r.text()
    tensors = []
    for _ in range(n_in + n_out):
        dt, rank = r.take("<BB")
        dims = r.take(f"<{rank}I")
        (nbytes,) = r.take("<I")
        tensors.append(TensorInfo(DTYPES.get(dt, f"dtype{dt}"), tuple(dims), nbytes))
    r.end()
    return Info(version, bool(flags & 1), arena, hz, nops, name, sha, source, tensors[:n_in], tensors[n_in:],
                trains=bool(flags & 2))


def decode_memory(p: bytes) -> tuple:
    """MEMORY: 16 bytes (version 1) or 24 (version 2: training arena and parameter bytes)."""
    if len(p) == 16:
        return struct.unpack("<IIII", p) + (0, 0)
    return decode_exact(p, "<IIIIII", "MEMORY")


def decode_exact(p: bytes, fmt: str, what: str) -> tuple:
    """A fixed-size reply (INVOKE, MEMORY): exactly struct.calcsize(fmt) bytes."""
    if len(p) != struct.calcsize(fmt):
        raise ProtocolError(f"{what} reply has {len(p)} bytes; expected {struct.calcsize(fmt)}")
    return struct.unpack(fmt, p)


def decode_layers(p: bytes, first: int, known: int | None) -> tuple[int, list[int]]:
    """A LAYERS reply to a request from `first`: (operator count, the counts it carries). The
    count must agree with earlier replies (`known`); the reply must bring at least one count
    while any is missing, and none past the end."""
    if len(p) < 2 or (len(p) - 2) % 4:
        raise ProtocolError(f"LAYERS reply of {len(p)} bytes is not a count and whole u32 cycle counts")
    (n,) = struct.unpack_from("<H", p)
    if known is not None and n != known:
        raise ProtocolError(f"LAYERS reply announces {n} operators after {known}")
    k = (len(p) - 2) // 4
    if first + k > n or (k == 0 and first < n):
        raise ProtocolError(f"LAYERS reply from operator {first} carries {k} counts of {n}")
    return n, list(struct.unpack_from(f"<{k}I", p, 2))
