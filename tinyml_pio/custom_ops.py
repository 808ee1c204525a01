"""The custom-operator hook: the user names a C function (and its scratch) for a custom or
unsupported operator; the generator calls it with a constant `tinyml_custom_op_t` descriptor
(library/include/tinyml/custom_op.h) and plans its outputs and scratch like any layer's.

Spec syntax (CLI `--custom-op`, repeatable; platformio.ini `custom_tinyml_custom_ops`, one per
line or comma-separated): ``NAME=c_function[:scratch_bytes]``, NAME being the operator's custom
code (``SignalWindow``) or a builtin type (``ARG_MAX``), which it then replaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .errors import UsageError
from .ir import Graph, Op
from .ops import Layer

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPEC = re.compile(r"^\s*([^=\s]+)\s*=\s*([^:\s]+)\s*(?::\s*(\S+))?\s*$")
MAX_SCRATCH = 1 << 30


@dataclass(frozen=True)
class CustomOp:
    """One user kernel: the operator it implements, its C function, the scratch it wants."""

    name: str
    function: str
    scratch_bytes: int = 0


def parse_custom_ops(specs: Iterable[str] | str | None, where: str = "--custom-op") -> dict[str, CustomOp]:
    """Parse NAME=c_function[:scratch_bytes] entries (a string splits at commas and newlines);
    UsageError names the entry and what is wrong."""
    if specs is None:
        return {}
    if isinstance(specs, str):
        specs = [specs]
    entries = [e.strip() for s in specs for e in re.split(r"[,\n]", s) if e.strip()]
    result: dict[str, CustomOp] = {}
    for e in entries:
        m = _SPEC.match(e)
        form = "NAME=c_function[:scratch_bytes], e.g. SignalWindow=my_window:256"
        if not m:
            raise UsageError(f"{where} '{e}' is not of the form {form}.")
        name, fn, scratch = m.group(1), m.group(2), m.group(3)
        if not _C_IDENT.match(fn):
            raise UsageError(f"{where} '{e}': '{fn}' is not a C identifier (the function the generated code calls).")
        if fn.lower().startswith("tinyml"):
            raise UsageError(f"{where} '{e}': names starting with 'tinyml' are reserved for the kernel library.")
        n = 0
        if scratch is not None:
            if not scratch.isdigit() or int(scratch) > MAX_SCRATCH:
                raise UsageError(f"{where} '{e}': scratch '{scratch}' is not a byte count (0 to {MAX_SCRATCH}).")
            n = int(scratch)
        if name in result:
            raise UsageError(f"{where}: operator '{name}' is given twice.")
        result[name] = CustomOp(name, fn, n)
    return result


def op_key(op: Op) -> str:
    """The name a spec uses for `op`: its custom code, or its builtin type."""
    return op.type[len("CUSTOM:"):] if op.type.startswith("CUSTOM:") else op.type


def custom_for(custom: dict[str, CustomOp] | None, op: Op) -> CustomOp | None:
    return (custom or {}).get(op_key(op))


def lower_custom(g: Graph, op: Op, spec: CustomOp) -> Layer:
    """The call of the user's function; codegen/custom.py renders its descriptor."""
    return Layer(
        op=op,
        func=spec.function,
        header="tinyml/custom_op.h",
        args=[CustomOpArg(spec)],
        scratch_bytes=spec.scratch_bytes,
        comment=f"user kernel {spec.function} for {op_key(op)}",
        returns_status=True,
    )


@dataclass(frozen=True)
class CustomOpArg:
    """The pointer to the operator's constant descriptor (rendered by codegen/custom.py)."""

    spec: CustomOp


def unused_specs(g: Graph, custom: dict[str, CustomOp]) -> list[str]:
    """Spec names that match no operator of the model (most likely a typo)."""
    present = {op_key(op) for op in g.ops}
    return sorted(n for n in custom if n not in present)

