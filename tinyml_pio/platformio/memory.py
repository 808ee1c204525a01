"""Memory of a `pio run`: where each model's arena goes (custom_tinyml_arena, _arena_section,
_shared_arena), and the RAM and flash checks made before anything is compiled, against the board's
figures as platformio.ini may override them (board_upload.maximum_ram_size / maximum_size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..budget import arena_budget_error, board_arena_budget
from ..codegen.placement import ArenaPlacement, group_members, make_placement, shared_arena_source
from ..errors import TinymlError

OPT_ARENA = "custom_tinyml_arena"
OPT_SECTION = "custom_tinyml_arena_section"
OPT_SHARED = "custom_tinyml_shared_arena"
OPT_FLASH_MARGIN = "custom_tinyml_flash_margin"
DEFAULT_FLASH_MARGIN = 65536  # code of the firmware and the kernels, for boards board_defs does not list
SHARED_DEFAULT_GROUP = "shared"
_YES = ("yes", "true", "on", "1")
_NO = ("no", "false", "off", "0")


def board_defs_entry(board_id: str):
    """The board_defs/boards entry whose platformio_board is this board (None if none)."""
    try:
        from ..boards import list_boards

        return next((b for b in list_boards() if b.platformio_board == board_id), None)
    except TinymlError:
        return None


def _board(env) -> tuple[str, Any]:
    board_id = env.subst("$BOARD") if "BOARD" in env else ""
    return board_id, (env.BoardConfig() if board_id else None)


# ---- placement -------------------------------------------------------------------------------

def parse_placements(env, specs, option: Any) -> dict[str, ArenaPlacement]:
    """{prefix: ArenaPlacement} from the three arena options (one value for every model or
    PREFIX:VALUE entries), checked together."""
    from .extra import parse_per_model

    prefixes = [s.prefix for s in specs]
    mode = parse_per_model(option(OPT_ARENA), specs, OPT_ARENA, "extern", names_file=lambda v: False)
    section = parse_per_model(option(OPT_SECTION), specs, OPT_SECTION, ".dtcm", names_file=lambda v: False)
    shared = parse_per_model(option(OPT_SHARED), specs, OPT_SHARED, "yes", names_file=lambda v: False)
    out = {}
    for p in prefixes:
        group = shared.get(p, "no")
        group = SHARED_DEFAULT_GROUP if group.lower() in _YES else None if group.lower() in _NO else group
        out[p] = make_placement(mode.get(p, "static"), section.get(p), group, (OPT_ARENA, OPT_SECTION, OPT_SHARED))
    return out


def write_shared_arenas(placements: dict[str, ArenaPlacement], arenas: dict[str, int], outdir: Path,
                        log=print) -> list[str]:
    """Write tinyml_arena_<group>.c for every shared group (only when its text changed, so an
    unchanged build is not recompiled); returns the file names. Stale group files are removed."""
    groups = group_members(placements, arenas, OPT_SHARED, OPT_SECTION)
    files = []
    for g, members in sorted(groups.items()):
        section = next(placements[p].section for p, _ in members)
        name, text = shared_arena_source(g, members, section)
        path = outdir / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        files.append(name)
        log(f"tinyml: shared arena '{g}': {max(n for _, n in members)} B for {', '.join(p for p, _ in members)} "
            f"(run them one after the other)")
    for stale in outdir.glob("tinyml_arena_*.c"):
        if stale.name not in files:
            stale.unlink()
    return files


def ram_entries(generated, placements: dict[str, ArenaPlacement]) -> list[tuple[str, int]]:
    """(name, bytes) the board's RAM holds: a shared group once at its largest member's size;
    arenas in a named section are left to the linker script's region for that section."""
    out: list[tuple[str, int]] = []
    groups: dict[str, int] = {}
    for g in generated:
        p = placements.get(g.spec.prefix, ArenaPlacement())
        if p.section:
            continue
        if p.group:
            groups[p.group] = max(groups.get(p.group, 0), g.arena)
        else:
            out.append((g.spec.prefix, g.arena))
    return out + [(f"shared '{k}'", v) for k, v in sorted(groups.items())]


# ---- RAM and flash budgets ---------------------------------------------------------------------

def ram_budget(env, margin_opt: str, margin_default: int, margin_option: str) -> tuple[int, str] | None:
    """(bytes the arenas may use, where that figure comes from); None when the board is unknown.
    board_defs' budget when it lists the board, with board_upload.maximum_ram_size in place of
    its SRAM when the project overrides that."""
    from .extra import parse_bytes

    board_id, cfg = _board(env)
    if not board_id:
        return None
    ram = int(cfg.get("upload.maximum_ram_size", 0) or 0)
    entry = None if margin_opt else board_defs_entry(board_id)
    if entry is not None:
        if ram and ram != entry.sram_bytes:
            return (ram - entry.reserved_sram_bytes,
                    f"{ram} B RAM (board_upload.maximum_ram_size) - {entry.reserved_sram_bytes} B reserved for stack "
                    f"and firmware, board_defs/boards/{entry.id}.json")
        return board_arena_budget(entry)
    if not ram:
        return None
    margin = parse_bytes(margin_opt, margin_option) if margin_opt else margin_default
    return ram - margin, f"{ram} B RAM (upload.maximum_ram_size) - {margin} B margin ({margin_option})"


def check_ram(env, entries: list[tuple[str, int]], budget: tuple[int, str] | None, raise_hint: str) -> None:
    if budget is None:
        return
    error = arena_budget_error(entries, env.subst("$BOARD"), *budget, raise_hint=raise_hint)
    if error is not None:
        raise error


def check_flash(env, generated, margin_opt: str) -> None:
    """Weights plus an estimate of the code against the flash the linker script gives (before
    linking, so an oversized model is one message instead of an `ld` region overflow)."""
    from .extra import parse_bytes

    board_id, cfg = _board(env)
    flash = int(cfg.get("upload.maximum_size", 0) or 0) if cfg is not None else 0
    if not flash or not generated:
        return
    entry = None if margin_opt else board_defs_entry(board_id)
    if margin_opt:
        code, where = parse_bytes(margin_opt, OPT_FLASH_MARGIN), OPT_FLASH_MARGIN
    elif entry is not None:
        code, where = entry.reserved_flash_bytes, f"reserved_flash_bytes of board_defs/boards/{entry.id}.json"
    else:
        code, where = DEFAULT_FLASH_MARGIN, f"the default of {OPT_FLASH_MARGIN}"
    weights = sum(g.weights for g in generated)
    if weights + code <= flash:
        return
    parts = " + ".join(f"{g.spec.prefix} {g.weights}" for g in generated)
    raise TinymlError(
        f"the weights need {weights} B of flash ({parts}) and the code about {code} B ({where}): "
        f"{weights + code} B, but board {board_id!r} has {flash} B of flash (upload.maximum_size): "
        f"{weights + code - flash} B over.",
        hint=f"use a smaller model or a board with more flash (`tinyml-pio plan MODEL` shows the weights), or set "
             f"{OPT_FLASH_MARGIN} = N if the rest of the firmware needs less than {code} B of code.")
