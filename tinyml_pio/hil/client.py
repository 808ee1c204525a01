"""Talk to a HIL firmware over any pyserial URL (/dev/ttyACM0, socket://host:port, loop://)."""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any, Callable

import serial

from ..errors import TinymlError
from . import protocol as P


class HilError(TinymlError):
    """The board misbehaved: no answer, reset mid-run, wrong protocol, or a firmware error."""


@dataclass
class Memory:
    stack_peak_bytes: int
    stack_size_bytes: int
    arena_bytes: int
    static_ram_bytes: int
    train_arena_bytes: int = 0  # protocol version 2 with training; 0 otherwise
    params_bytes: int = 0


@dataclass
class TrainInfo:
    params_bytes: int
    params_crc32: int
    train_arena_bytes: int
    target_size: int  # 0: cross-entropy with a label; else MSE against this many floats


class HilClient:
    def __init__(self, url: str, timeout: float = 5.0, retries: int = 3, baudrate: int = 115200):
        self.url = url
        self.timeout = timeout
        self.retries = retries
        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, ValueError) as e:
            raise HilError(f"cannot open serial port {url}: {e}",
                           hint="check the port (ls /dev/ttyACM* /dev/ttyUSB*) or that the emulator is running.") from None
        self.parser = P.FrameParser()
        self.seq = 0
        self.retried = 0
        self.info: P.Info | None = None

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "HilClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, ftype: int, payload: bytes = b"", timeout: float | None = None,
                decode: Callable[[bytes], Any] | None = None) -> Any:
        """Send one command and return the response payload (or `decode(payload)`); resend on
        timeout, a corrupted reply, or one that `decode` refuses (P.ProtocolError).

        A resent request is the same frame (same seq): the firmware answers it from the reply it
        kept instead of executing it again, so a retried INVOKE does not run the model twice."""
        self.seq = (self.seq + 1) & 0xFF
        frame = P.encode(ftype, self.seq, payload)
        timeout = timeout or self.timeout
        bad_before = self.parser.bad
        malformed: P.ProtocolError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            try:
                answer = self._attempt(frame, ftype, timeout)
            except serial.SerialException as e:
                raise HilError(f"lost the connection to the board on {self.url}: {e}",
                               hint="check the cable and that nothing else uses the port; an emulator may have exited.") from None
            if answer is None:
                continue
            if decode is None:
                return answer
            try:
                return decode(answer)
            except P.ProtocolError as e:
                malformed = e  # intact but undecodable: ask again, like a corrupted frame
        if malformed is not None:
            raise HilError(f"the board on {self.url} sent malformed replies to command 0x{ftype:02x} "
                           f"({self.retries + 1} tries): {malformed}.",
                           hint="rebuild and flash the HIL firmware with this version of tinyml-pio; check the port.")
        corrupted = self.parser.bad - bad_before
        if corrupted:
            raise HilError(f"no intact answer from the board on {self.url} (command 0x{ftype:02x}, {self.retries + 1} tries, "
                           f"{corrupted} corrupted frames).",
                           hint="check the cable, the baud rate and for other programs writing to the port.")
        raise HilError(f"the board on {self.url} stopped answering (command 0x{ftype:02x}, {self.retries + 1} tries of {timeout:g} s).",
                       hint="check that the HIL firmware is flashed and running and that the port is right.")

    def _attempt(self, frame: bytes, ftype: int, timeout: float) -> bytes | None:
        """Send the request once; its answer, or None after the timeout or a corrupted frame."""
        self.port.write(frame)
        self.port.flush()
        bad = self.parser.bad
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.port.read(max(1, self.port.in_waiting))  # what has arrived, without waiting out the timeout
            if not data:
                continue
            answer = self._answer(self.parser.feed(data), ftype)
            if answer is not None:
                return answer
            if self.parser.bad > bad:
                return None  # a corrupted frame (most likely the reply): ask again without waiting out the timeout
        return None

    def _answer(self, frames: list[P.Frame], ftype: int) -> bytes | None:
        """The payload answering the pending request among `frames`, if there."""
        for f in frames:
            if f.type == P.BOOT and self.info is not None:
                raise HilError(f"the board on {self.url} reset during the run (it announced a new boot).",
                               hint="check power, the stack size and the watchdog; the run was aborted.")
            if f.seq != self.seq:
                continue
            if f.type == P.ERROR:
                raise HilError(f"the firmware refused command 0x{ftype:02x}: "
                               f"{f.payload[1:].decode(errors='replace')} (code {f.payload[0] if f.payload else '?'})")
            if f.type == ftype | 0x80:
                return f.payload
        return None

    def hello(self) -> P.Info:
        # another protocol version is refused at once; a garbled reply in this version is asked again
        reply = self.request(P.HELLO, decode=lambda p: P.decode_info(p) if p[:1] and p[0] in P.SUPPORTED_VERSIONS else p)
        if not isinstance(reply, P.Info):
            got = reply[0] if reply else "none"
            raise HilError(f"the firmware speaks HIL protocol version {got}; this host speaks "
                           f"{', '.join(map(str, P.SUPPORTED_VERSIONS))}.",
                           hint="rebuild and flash the HIL firmware with this version of tinyml-pio.")
        self.info = reply
        return reply

    def set_input(self, index: int, data: bytes) -> None:
        chunk = P.MAX_PAYLOAD - 5
        for off in range(0, len(data), chunk):
            self.request(P.SET_INPUT, struct.pack("<BI", index, off) + data[off : off + chunk],
                         decode=lambda p: P.decode_exact(p, "", "SET_INPUT"))

    def invoke(self, timeout: float = 60.0) -> tuple[int, int]:
        status, lo, hi = self.request(P.INVOKE, timeout=timeout, decode=lambda p: P.decode_exact(p, "<iII", "INVOKE"))
        return status, lo | (hi << 32)

    def get_output(self, index: int, nbytes: int) -> bytes:
        """Read an output in chunks; each reply must carry exactly the bytes asked for."""
        out = bytearray()
        while len(out) < nbytes:  # every pass adds n > 0 bytes or raises
            n = min(P.MAX_PAYLOAD, nbytes - len(out))
            out += self.request(P.GET_OUTPUT, struct.pack("<BIH", index, len(out), n),
                                decode=lambda p, n=n: _exactly(p, n, "GET_OUTPUT"))
        return bytes(out)

    def memory(self) -> Memory:
        return Memory(*self.request(P.MEMORY, decode=P.decode_memory))

    # ---- training (protocol version 2, firmware converted with --train) ----

    def train_info(self) -> TrainInfo:
        return TrainInfo(*self.request(P.TRAIN_INFO, decode=lambda p: P.decode_exact(p, "<IIIH", "TRAIN_INFO")))

    def train_step(self, lr: float, label: int | None = None, target: "Any" = None, timeout: float = 120.0) -> tuple[float, int]:
        """One training step on the input already set: (loss, cycles)."""
        if target is not None:
            payload = struct.pack("<f", lr) + struct.pack(f"<{len(target)}f", *[float(v) for v in target])
        else:
            payload = struct.pack("<fi", lr, int(label or 0))
        status, loss, lo, hi = self.request(P.TRAIN, payload, timeout=timeout,
                                            decode=lambda p: P.decode_exact(p, "<ifII", "TRAIN"))
        if status != 0:
            raise HilError(f"the training step returned {status} on the board")
        return loss, lo | (hi << 32)

    def read_params(self, nbytes: int) -> bytes:
        out = bytearray()
        while len(out) < nbytes:
            n = min(P.MAX_PAYLOAD, nbytes - len(out))
            out += self.request(P.PARAMS, struct.pack("<IH", len(out), n), decode=lambda p, n=n: _exactly(p, n, "PARAMS"))
        return bytes(out)

    def layer_cycles(self) -> list[int]:
        """Per-operator cycles, in as many LAYERS requests as the payload size needs; every reply
        brings at least one count (P.decode_layers), so the loop ends."""
        cycles: list[int] = []
        n: int | None = None
        while n is None or len(cycles) < n:
            first, known = len(cycles), n
            n, more = self.request(P.LAYERS, struct.pack("<H", first), decode=lambda p: P.decode_layers(p, first, known))
            cycles += more
        return cycles


def _exactly(p: bytes, n: int, what: str) -> bytes:
    if len(p) != n:
        raise P.ProtocolError(f"{what} reply has {len(p)} bytes; {n} were asked for")
    return p
