"""Time units of HIL measurements: what the board's counter really counts, said in the report.

The firmware returns raw counter readings (HELLO names the counter and its rate). They mean
different things per kind of board, so every report converts them here and names the unit:
- emulated boards (QEMU `-icount shift=N`): every instruction is 2**N ns of virtual time and SysTick
  counts at its own rate, so readings convert exactly to *executed instructions* (at shift 5 and a
  25 MHz SysTick: 0.8 tick per instruction). Not cycles: a silicon core also stalls on wait states,
  multi-cycle loads and branches. A time on the emulated part is given only as an estimate, with
  its assumption (one instruction per cycle at the part's clock from board_defs);
- real boards: DWT (or ESP32 CCOUNT) cycle counts, or SysTick at the core clock, and milliseconds
  at the clock board_defs gives for the board (else the rate the firmware reports); a board
  timing with micros() gets a time in ns;
- the host: nanoseconds of this machine (a time, not cycles); no stack is painted there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..boards import load_board
from ..errors import TinymlError


# counters that measure time, not cycles: the host's clock, and Arduino's micros() on cores
# without a cycle counter (RP2040's Cortex-M0+, library/src/boards/arduino_board.cpp)
TIME_COUNTERS = {"host-ns": "nanoseconds of this machine's monotonic clock (a time, not cycles)",
                 "micros()": "microseconds from Arduino's micros(), given in ns (a time, not cycles: no cycle counter)"}


@dataclass(frozen=True)
class Timing:
    """How to read one board's counter."""

    unit: str  # "instructions", "cycles" or "ns"
    per_tick: float  # units per raw counter reading
    how: str  # one sentence: what was counted and how
    ms_per_unit: float | None  # measured time (real boards at their clock, the host); None on emulators
    estimate_ms_per_unit: float | None = None  # emulated: one instruction per cycle at the part's clock
    estimate_assumption: str = ""

    @property
    def short(self) -> str:
        return {"instructions": "instr", "cycles": "cycles", "ns": "ns"}[self.unit]


def _board_clock(board: str) -> tuple[int | None, str]:
    """The clock and name of the part board_defs/boards says `board` is (or emulates)."""
    try:
        b = load_board(board)
    except TinymlError:
        return None, ""
    return b.clock_hz, (b.emulates or b.name).split(" (")[0]


def timing_for(board: str, counter: str, counter_hz: int, emulated: bool) -> Timing:
    """The Timing of `board`, whose firmware reported `counter` running at `counter_hz`."""
    if counter in TIME_COUNTERS:  # clocks, not cycle counters: a time in ns
        return Timing("ns", 1e9 / counter_hz, TIME_COUNTERS[counter], 1e-6)
    clock, part = _board_clock(board)
    if emulated:
        from ..platformio.qemu import QemuError, load_board as load_qemu_board

        try:
            shift = load_qemu_board(board).icount_shift
        except QemuError as e:
            raise TinymlError(str(e)) from None
        ns_per_instruction = 2 ** shift
        per_tick = 1e9 / counter_hz / ns_per_instruction  # 1.25 at 25 MHz, shift 5
        how = (f"executed instructions: QEMU -icount shift={shift} makes one instruction {ns_per_instruction} ns of "
               f"virtual time and {counter} counts at {counter_hz / 1e6:g} MHz ({1 / per_tick:g} tick per instruction); "
               "not silicon cycles")
        if not clock:
            return Timing("instructions", per_tick, how, None)
        return Timing("instructions", per_tick, how, None, 1e3 / clock,
                      f"estimate: one instruction per cycle at the {clock / 1e6:g} MHz of {part} (a real core takes "
                      "more cycles: wait states, multi-cycle loads and branches)")
    hz = clock or counter_hz
    where = f"{hz / 1e6:g} MHz ({'board_defs' if clock else 'reported by the firmware'})"
    return Timing("cycles", counter_hz and hz / counter_hz if counter.lower() == "systick" else 1.0,
                  f"CPU cycles from {counter}; milliseconds at {where}", 1e3 / hz)


def convert(t: Timing, ticks: int | float) -> int:
    """One raw counter reading in t's unit (instructions: exact up to the tick's rounding)."""
    return int(round(ticks * t.per_tick))


def latency(t: Timing, ticks: list[int]) -> dict[str, Any]:
    """The report's latency block: min/median/max in t's unit, ms where it is a time, an estimate on emulators."""
    import statistics

    vals = {"min": min(ticks), "median": statistics.median(ticks), "max": max(ticks)}
    out: dict[str, Any] = {"unit": t.unit, **{k: convert(t, v) for k, v in vals.items()}}
    if t.ms_per_unit is not None:
        out["ms"] = {k: out[k] * t.ms_per_unit for k in vals}
    if t.estimate_ms_per_unit is not None:
        out["estimate_ms"] = {k: out[k] * t.estimate_ms_per_unit for k in vals}
        out["estimate_assumption"] = t.estimate_assumption
    return out


def timing_record(t: Timing, counter: str, counter_hz: int) -> dict[str, Any]:
    """The report's `timing` block: the unit, how it was measured, the raw counter."""
    d = asdict(t)
    d.update(counter=counter, counter_hz=counter_hz)
    return d


def per_layer(t: Timing, ticks: list[int] | None, op_types: list[str]) -> list[dict[str, Any]] | None:
    """Per-operator rows: index, op type, count in t's unit, share of the sum of the layers."""
    if ticks is None:
        return None
    vals = [convert(t, v) for v in ticks[: len(op_types)]]
    total = sum(vals) or 1
    return [{"op": i, "type": op_types[i], t.unit: v, "share": v / total} for i, v in enumerate(vals)]


def fmt_count(v: float, unit: str) -> str:
    """A count with its unit, thousands separated: '12,345 instructions'."""
    return f"{int(round(v)):,} {unit}"


def fmt_ms(ms: float) -> str:
    """A time given in ms, readable from microseconds to minutes."""
    if ms < 1:
        return f"{ms * 1000:.1f} µs"
    return f"{ms:.3f} ms" if ms < 100 else f"{ms:,.1f} ms"
