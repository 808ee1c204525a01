"""Where a model's tensor arena lives: a static buffer (optionally in a named linker section), a
buffer the application defines (`extern`), or one buffer shared by the models of a group that run
one after the other. The planner's arena size does not change; only its declaration does, so the
choice is a code-generation setting that every front door (convert, PlatformIO, CMake) validates
the same way here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import TinymlError, UsageError

MODES = ("static", "extern")
_SECTION = re.compile(r"^\.?[A-Za-z_][A-Za-z0-9_.$]*$")
_GROUP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ArenaPlacement:
    """mode "static" (the generated source defines the arena), "extern" (the application does) or
    "shared" (a generated group file defines one buffer for `group`); `section` puts a static or
    shared arena in that linker section."""

    mode: str = "static"
    section: str | None = None
    group: str | None = None

    @property
    def symbol(self) -> str | None:
        """The shared buffer's C name (None unless shared)."""
        return f"tinyml_arena_{self.group}" if self.group else None


def _checked(name: str, pattern: re.Pattern[str], option: str, what: str, hint: str) -> str:
    name = name.strip()
    if not pattern.match(name):
        raise UsageError(f"{option} = '{name}' is not {what}.", hint=hint)
    return name


def check_section(name: str, option: str = "--arena-section") -> str:
    return _checked(name, _SECTION, option, "a linker section name",
                    "write a name such as .dtcm, .sram2 or .ext_ram (letters, digits, '_', '.', '$'), "
                    "one your linker script places.")


def check_group(name: str, option: str = "--shared-arena") -> str:
    return _checked(name, _GROUP, option, "a group name",
                    "a group is a C identifier (letters, digits, '_'), e.g. main; its buffer is named tinyml_arena_<group>.")


def make_placement(mode: str = "static", section: str | None = None, group: str | None = None,
                   options: tuple[str, str, str] = ("--arena", "--arena-section", "--shared-arena")) -> ArenaPlacement:
    """An ArenaPlacement from user settings, checked together; `options` names them in messages."""
    opt_mode, opt_section, opt_group = options
    mode = (mode or "static").strip().lower()
    if mode not in MODES:
        raise UsageError(f"{opt_mode} = '{mode}' is not one of {', '.join(MODES)}.",
                          hint="static: the generated source defines the arena; extern: your code defines "
                               "uint8_t <prefix>_arena[<PREFIX>_ARENA_SIZE].")
    section = check_section(section, opt_section) if section else None
    group = check_group(group, opt_group) if group else None
    if mode == "extern" and section:
        raise UsageError(f"{opt_section} = {section} cannot be combined with {opt_mode} = extern: the "
                          "application defines the arena, so its definition chooses the section.",
                          hint=f"drop {opt_section} and put __attribute__((section(\"{section}\"))) on your definition, "
                               f"or drop {opt_mode} = extern.")
    if mode == "extern" and group:
        raise UsageError(f"{opt_group} = {group} cannot be combined with {opt_mode} = extern: a shared arena "
                          "is defined by the generated group file.",
                          hint=f"use one of the two: {opt_group} for models that run in turn, {opt_mode} = extern "
                               "for your own buffer.")
    return ArenaPlacement("shared" if group else mode, section, group)


def shared_arena_source(group: str, members: list[tuple[str, int]], section: str | None) -> tuple[str, str]:
    """(file name, C source) defining group's buffer, sized for its largest member, with a
    compile-time check against every member header's <PREFIX>_ARENA_SIZE."""
    from . import _ENV

    size = max(n for _, n in members)
    name = f"tinyml_arena_{group}.c"
    text = _ENV.get_template("shared_arena.c.j2").render(group=group, size=size, section=section,
                                                         members=[p for p, _ in members])
    return name, text


def group_members(placements: dict[str, ArenaPlacement], arenas: dict[str, int],
                  option: str = "--shared-arena", section_option: str = "--arena-section") -> dict[str, list[tuple[str, int]]]:
    """{group: [(prefix, arena bytes)]} of the shared models, checked: two models or more per group,
    one section per group."""
    groups: dict[str, list[tuple[str, int]]] = {}
    sections: dict[str, set[str | None]] = {}
    for prefix, p in placements.items():
        if p.group:
            groups.setdefault(p.group, []).append((prefix, arenas[prefix]))
            sections.setdefault(p.group, set()).add(p.section)
    for g, members in groups.items():
        if len(members) < 2:
            raise TinymlError(f"{option}: group '{g}' has only the model {members[0][0]}; a shared arena serves "
                              "two models or more that run one after the other.",
                              hint=f"name the same group for the other models (e.g. {option} = yes for all of them), "
                                   "or drop the option for this one.")
        if len(sections[g]) > 1:
            raise TinymlError(f"the models of shared arena group '{g}' ask for different sections "
                              f"({', '.join(sorted(str(s or 'none') for s in sections[g]))}) in {section_option}.",
                              hint="one buffer lives in one section: give these models the same section.")
    return groups


def group_file_for_dir(outdir: str | Path, placement: ArenaPlacement, files: dict[str, str]) -> tuple[str, str]:
    """`convert --shared-arena G -o DIR`, one model at a time: (name, text) of DIR/tinyml_arena_G.c
    for every model of group G among DIR's headers and `files` (the ones about to be written, which
    take precedence), so converting the models of a firmware into one directory leaves a buffer
    sized for the largest of them. Checked before anything is written."""
    out = Path(outdir)
    headers = {h.name: h.read_text(errors="replace") for h in sorted(out.glob("*.h"))} if out.is_dir() else {}
    headers.update({k: v for k, v in files.items() if k.endswith(".h")})
    members, sections = [], set()
    for name, text in sorted(headers.items()):
        stem = name[:-2]
        pfx = stem.upper()
        if not re.search(rf'#define\s+{re.escape(pfx)}_ARENA_SHARED\s+"{re.escape(placement.group or "")}"', text):
            continue
        size = re.search(rf"#define\s+{re.escape(pfx)}_ARENA_SIZE\s+(\d+)", text)
        sec = re.search(rf'#define\s+{re.escape(pfx)}_ARENA_SECTION\s+"([^"]*)"', text)
        members.append((stem, int(size.group(1)) if size else 0))
        sections.add(sec.group(1) if sec else None)
    if len(sections) > 1:
        raise UsageError(f"the models of shared arena group '{placement.group}' in {out} ask for different sections "
                         f"({', '.join(sorted(str(s or 'none') for s in sections))}).",
                         hint="convert them all with the same --arena-section (or none).")
    return shared_arena_source(placement.group or "", members, placement.section)
