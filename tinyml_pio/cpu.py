"""What generated code may assume about the CPU it will run on: the features that choose kernel variants.

A `CpuFeatures` comes from one of three places:

- a board of board_defs/boards (`from_board`, `for_board`): its `cpu`, `dsp` and `mve` fields;
- a PlatformIO board configuration (`from_platformio`): `build.cpu` (cortex-m4, cortex-m0plus, ...);
  the Arm DSP extension is a fixed part of Cortex-M4/M7/M55/M85 and absent from M0/M0+/M1/M3/M23;
  it is optional on the M33/M35P, where we assume it unless the board definition says otherwise
  (all the M33 parts we know of have it) or the CPU is spelled with "+nodsp";
- `portable()`: nothing assumed (the host, an unknown board). This is the default everywhere: the
  generated code then calls only the portable C kernels.

`dsp` and `mve` mean the *Arm* extensions (the ones `__ARM_FEATURE_DSP` / `__ARM_FEATURE_MVE`
announce); a board_defs entry for another architecture (ESP32-S3's Xtensa "dsp") does not enable them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import TinymlError, UsageError

# Cortex-M cores by Arm extension. Optional on the cores in OPTIONAL_DSP (assumed present).
DSP_CPUS = frozenset({"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m52", "cortex-m55", "cortex-m85"})
OPTIONAL_DSP = frozenset({"cortex-m33", "cortex-m35p"})
MVE_CPUS = frozenset({"cortex-m52", "cortex-m55", "cortex-m85"})
NO_DSP_CPUS = frozenset({"cortex-m0", "cortex-m0plus", "cortex-m0+", "cortex-m1", "cortex-m3", "cortex-m23"})

PORTABLE = "portable"


def _split_cpu(cpu: str) -> tuple[str, set[str]]:
    """'cortex-m33+nodsp' -> ('cortex-m33', {'nodsp'}); GCC's -mcpu feature modifiers."""
    base, *mods = (cpu or "").strip().lower().split("+")
    return base, set(mods)


def is_cortex_m(cpu: str) -> bool:
    return _split_cpu(cpu)[0].startswith("cortex-m")


@dataclass(frozen=True)
class CpuFeatures:
    """The target of one generation: a name for messages, the CPU, and the Arm extensions it has."""

    name: str = PORTABLE
    cpu: str = ""
    dsp: bool = False
    mve: bool = False

    # ---- what it means for kernel selection ----

    @property
    def features(self) -> tuple[str, ...]:
        """The extensions kernel variants may use, best first (a variant for the first one wins)."""
        return tuple(f for f, on in (("mve", self.mve), ("dsp", self.dsp)) if on)

    @property
    def is_portable(self) -> bool:
        return not self.features

    def key(self) -> str:
        """Stable text for hashes (PlatformIO stamps, HIL caches): changes whenever the code would
        ("opt": a known CPU without Arm extensions, which gets the optimized kernels' plain C)."""
        return "+".join(self.features) or ("opt" if self.cpu else PORTABLE)

    def __str__(self) -> str:
        if self.is_portable and not self.cpu:
            return PORTABLE
        return f"{self.name} ({self.cpu or '?'}: {self.key()})"

    # ---- where it comes from ----

    @classmethod
    def portable(cls, name: str = PORTABLE) -> "CpuFeatures":
        return cls(name=name)

    @classmethod
    def host_optimized(cls) -> "CpuFeatures":
        """The host as a target of the optimized kernels' plain-C path (tests verify it against TFLite)."""
        return cls(name="host", cpu="host")

    @classmethod
    def from_cpu(cls, cpu: str, name: str | None = None, dsp: bool | None = None,
                 mve: bool | None = None) -> "CpuFeatures":
        """From a CPU name as PlatformIO's build.cpu or GCC's -mcpu spell it. `dsp`/`mve` (e.g. from
        a board definition) decide for cores where the extension is optional; they never add an
        extension a core cannot have, and "+nodsp"/"+nomve" always win."""
        base, mods = _split_cpu(cpu)
        has_dsp = base in DSP_CPUS and "nodsp" not in mods
        if has_dsp and base in OPTIONAL_DSP and dsp is not None:
            has_dsp = bool(dsp)
        has_mve = base in MVE_CPUS and not any(m.startswith("nomve") for m in mods)
        if has_mve and mve is not None:
            has_mve = bool(mve)
        return cls(name=name or base or PORTABLE, cpu=(cpu or "").strip().lower(), dsp=has_dsp, mve=has_mve)

    @classmethod
    def from_board(cls, board: Any) -> "CpuFeatures":
        """From a board_defs `Board`: its dsp/mve fields, for Arm Cortex-M CPUs only."""
        if not is_cortex_m(board.cpu):
            return cls(name=board.id, cpu=board.cpu)
        # what the core can have, as far as the board file says the part has it (conservative: a
        # board file saying dsp: false wins; on M33/M35P it is the only authority)
        t = cls.from_cpu(board.cpu, name=board.id)
        return cls(name=board.id, cpu=t.cpu, dsp=t.dsp and bool(board.dsp), mve=t.mve and bool(board.mve))

    @classmethod
    def from_platformio(cls, board_config: Any, board_id: str = "") -> "CpuFeatures":
        """From PlatformIO's board configuration (env.BoardConfig() or the board JSON as a dict).

        A board that board_defs/boards also describes (by PlatformIO id) uses that description."""
        if board_id:
            entry = _board_defs_by_platformio_id(board_id)
            if entry is not None:
                return cls.from_board(entry)
        cpu = _config_get(board_config, "build.cpu") or ""
        if not cpu:
            return cls.portable(board_id or PORTABLE)
        return cls.from_cpu(str(cpu), name=board_id or None)

    @classmethod
    def for_board(cls, board: str) -> "CpuFeatures":
        """By board name: a board_defs board (id, name or PlatformIO id), else portable."""
        from .boards import load_board

        if board in ("", "host", PORTABLE):
            return cls.portable(board or PORTABLE)
        try:
            return cls.from_board(load_board(board))
        except TinymlError:
            return cls.portable(board)

    @classmethod
    def resolve(cls, target: "CpuFeatures | str | None") -> "CpuFeatures":
        """What `compile_model(target=...)` accepts: None / "portable" / "host", a CpuFeatures, a
        board (board_defs id, name or PlatformIO id) or a CPU name ("cortex-m4")."""
        if target is None:
            return cls.portable()
        if isinstance(target, CpuFeatures):
            return target
        if not isinstance(target, str):
            if hasattr(target, "cpu") and hasattr(target, "dsp"):
                return cls.from_board(target)
            raise TypeError(f"target must be a CpuFeatures, a board or a CPU name, not {type(target).__name__}")
        text = target.strip()
        if text.lower() in ("", PORTABLE, "host", "none", "generic"):
            return cls.portable()
        base, _ = _split_cpu(text)
        if base in DSP_CPUS or base in NO_DSP_CPUS or base in MVE_CPUS:
            return cls.from_cpu(text)
        from .boards import list_boards, load_board

        try:
            return cls.from_board(load_board(text))
        except TinymlError:
            raise UsageError(f"unknown target '{target}': neither a known CPU nor a board of board_defs/boards.",
                              hint="use portable, a CPU (" + ", ".join(sorted(DSP_CPUS | NO_DSP_CPUS)) + ") or one of: "
                              + ", ".join(b.id for b in list_boards())) from None


def _config_get(cfg: Any, key: str) -> Any:
    """PlatformIO's BoardConfig.get takes dotted keys; a plain dict (the board JSON) nests them."""
    if cfg is None:
        return None
    try:
        v = cfg.get(key)
    except Exception:  # pylint: disable=broad-except  (BoardConfig raises on some unknown keys)
        v = None
    if v is None and isinstance(cfg, dict):
        v = cfg
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
    return v


def _board_defs_by_platformio_id(board_id: str):
    try:
        from .boards import list_boards

        return next((b for b in list_boards() if b.platformio_board == board_id), None)
    except TinymlError:
        return None
