"""Board definitions (board_defs/boards/<id>.json) and memory budgets.

Each file describes one board: name, mcu, cpu, fpu, dsp, mve, clock_hz, sram_bytes, flash_bytes,
reserved_sram_bytes (stack, firmware data, RTOS) and reserved_flash_bytes (firmware code,
bootloader); emulated boards add `qemu_machine` and `emulates` (the part whose budget they use).
`sram_bytes` is the largest contiguous RAM region an arena can use, which is not always the chip's
total (see each file's notes).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TinymlError, UsageError

REQUIRED = ("name", "mcu", "cpu", "fpu", "dsp", "mve", "clock_hz", "sram_bytes", "flash_bytes", "reserved_sram_bytes")


@dataclass(frozen=True)
class Board:
    id: str
    name: str
    mcu: str
    cpu: str
    fpu: str
    dsp: bool
    mve: bool
    clock_hz: int
    sram_bytes: int
    flash_bytes: int
    reserved_sram_bytes: int
    reserved_flash_bytes: int = 0
    platformio_board: str = ""
    qemu_machine: str | None = None
    emulates: str | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def arena_budget(self) -> int:
        """SRAM bytes left for the tensor arena."""
        return self.sram_bytes - self.reserved_sram_bytes

    @property
    def weights_budget(self) -> int:
        """Flash bytes left for weights and constants."""
        return self.flash_bytes - self.reserved_flash_bytes

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None


def boards_dir() -> Path:
    env = os.environ.get("TINYML_PIO_BOARD_DEFS")
    here = Path(__file__).resolve().parent
    for c in ([Path(env)] if env else []) + [here.parent / "board_defs" / "boards", here / "board_defs" / "boards"]:
        if c.is_dir():
            return c
    raise TinymlError("board definitions (board_defs/boards/*.json) were not found next to the tinyml_pio package.",
                      hint="install from a source checkout (pip install -e .) or set TINYML_PIO_BOARD_DEFS.")


def _load(path: Path) -> Board:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TinymlError(f"board file {path} cannot be read: {e}") from None
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise TinymlError(f"board file {path} lacks {', '.join(missing)}.")
    known = set(Board.__dataclass_fields__) - {"extra"}
    args = {k: v for k, v in data.items() if k in known}
    args.setdefault("id", path.stem)
    args.setdefault("platformio_board", args["id"])
    return Board(**args, extra={k: v for k, v in data.items() if k not in known})


def list_boards() -> list[Board]:
    return [_load(p) for p in sorted(boards_dir().glob("*.json"))]


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def load_board(name: str) -> Board:
    """A board by id, display name or PlatformIO board id (case, '-', '_' and spaces ignored)."""
    boards = list_boards()
    key = _norm(name)
    for b in boards:
        if key in (_norm(b.id), _norm(b.name), _norm(b.platformio_board)):
            return b
    raise UsageError(f"unknown board '{name}'.",
                      hint="use one of: " + ", ".join(f"{b.id} ({b.name})" for b in boards))
