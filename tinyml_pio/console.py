"""What the CLI prints besides its results: the global -q/-v level, step messages and progress bars.

Library code calls `step()` and `progress()`; both are silent until the CLI sets a level, so tests
and embedding programs see nothing they did not ask for. Quiet: errors only (stderr) and the exit
code. Verbose: every step, on stdout with the results (`hil run -v` always printed there). Progress bars (tqdm) on long loops, only on a terminal and never
with -q.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

QUIET, NORMAL, VERBOSE = -1, 0, 1
_state = {"level": NORMAL, "bars": False}  # the CLI turns bars on for the command it runs

T = TypeVar("T")


def configure(level: int, bars: bool = True) -> None:
    """Set by the CLI from -q/-v; `bars`: progress bars allowed (still only on a terminal)."""
    _state["level"] = level
    _state["bars"] = bars and level > QUIET


def level() -> int:
    return _state["level"]


def step(message: str) -> None:
    """A step of the work, printed with -v only."""
    if _state["level"] >= VERBOSE:
        print(message, flush=True)


def progress(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    """`items`, with a tqdm bar on stderr when the CLI allows bars, stderr is a terminal and
    there is more than one item."""
    n = total if total is not None else (len(items) if hasattr(items, "__len__") else None)  # type: ignore[arg-type]
    if not _state["bars"] or not sys.stderr.isatty() or (n is not None and n < 2):
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=n, desc=desc, unit="", leave=False, file=sys.stderr, dynamic_ncols=True)
