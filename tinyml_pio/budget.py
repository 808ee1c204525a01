"""The arena budget check every build front door runs before compiling (PlatformIO, CMake), so a
model too large for its board fails the build with one message wherever it is built."""

from __future__ import annotations

from .boards import Board
from .errors import TinymlError, UsageError


def board_arena_budget(board: Board) -> tuple[int, str]:
    """(bytes the arenas may use on a board_defs board, where that figure comes from)."""
    return board.arena_budget, (f"{board.sram_bytes} B SRAM - {board.reserved_sram_bytes} B reserved for stack "
                                f"and firmware, board_defs/boards/{board.id}.json")


def arena_budget_error(arenas: list[tuple[str, int]], board: str | None, limit: int, where: str,
                       raise_hint: str) -> TinymlError | None:
    """The error for arenas (prefix, bytes) that together exceed `limit` on `board` (None: a budget
    given without a board), else None.

    `where` says where the limit comes from; `raise_hint` names the front door's own way to give
    the rest of the firmware less RAM (a PlatformIO option, a CMake argument)."""
    total = sum(n for _, n in arenas)
    if not arenas or total <= limit:
        return None
    several = len(arenas) > 1
    parts = " + ".join(f"{p} {n}" for p, n in arenas)
    return TinymlError(
        f"the tensor arena{'s need' if several else ' needs'} {total} B{f' ({parts})' if several else ''} but "
        f"{f'board {board!r}' if board else 'the budget'} has {max(limit, 0)} B for {'them' if several else 'it'} "
        f"({where}): {total - limit} B over.",
        hint=f"use a smaller model or a board with more RAM (`tinyml-pio plan MODEL --board {board or 'BOARD'}` shows "
             f"where the memory goes), or {raise_hint}.")


def convert_budget(budget: str, target: str | None) -> tuple[int, str | None, str, str]:
    """`tinyml-pio convert --budget auto|BYTES --target T` -> (limit, board, where, raise_hint)."""
    from .boards import load_board

    board = None
    if target:
        try:
            board = load_board(target)
        except TinymlError:
            board = None  # a CPU name: no board budget
    if budget.strip().lower() == "auto":
        if board is None:
            raise UsageError(f"--budget auto needs a board of board_defs/boards as --target (got {target or 'none'}).",
                              hint="give the board (--target qemu_mps2_an386; BOARD in tinyml_add_model) or a "
                              "budget in bytes (--budget 65536; BUDGET in tinyml_add_model).")
        limit, where = board_arena_budget(board)
        return (limit, board.id, where, "give a budget in bytes (BUDGET in tinyml_add_model, --budget of "
                "tinyml-pio convert) if the rest of the firmware needs less RAM than the board reserves")
    from .platformio.extra import parse_bytes

    return (parse_bytes(budget, "--budget"), board.id if board else None, "BUDGET / --budget",
            "raise the budget (BUDGET in tinyml_add_model, --budget of tinyml-pio convert) if the rest of the "
            "firmware needs less RAM")


def check_generated(headers: list[str], budget: str, target: str | None) -> None:
    """The arenas of several generated models of one firmware (their headers' <PREFIX>_ARENA_SIZE)
    against one budget, as `pio run` checks all the models of an env together."""
    import re
    from pathlib import Path

    arenas = []
    for h in headers:
        prefix = Path(h).stem
        try:
            text = Path(h).read_text()
        except OSError as e:
            raise TinymlError(f"cannot read the generated header {h}: {e.strerror}.") from None
        m = re.search(rf"#define\s+{re.escape(prefix.upper())}_ARENA_SIZE\s+(\d+)", text)
        if not m:
            raise TinymlError(f"{h} is not a header tinyml-pio generated (no {prefix.upper()}_ARENA_SIZE).")
        params = re.search(rf"#define\s+{re.escape(prefix.upper())}_PARAMS_BYTES\s+(\d+)", text)  # training: RAM too
        arenas.append((prefix, int(m.group(1)) + (int(params.group(1)) if params else 0)))
    check_arenas(arenas, budget, target)


def check_arenas(arenas: list[tuple[str, int]], budget: str, target: str | None) -> None:
    """Raise the budget error for `--budget auto|BYTES` and `--target`, if the arenas exceed it."""
    limit, board, where, raise_hint = convert_budget(budget, target)
    error = arena_budget_error(arenas, board, limit, where, raise_hint)
    if error is not None:
        raise error
