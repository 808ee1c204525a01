"""HIL reports: one record per (model, board), saved as JSON and printed as a markdown table.

Every time figure carries its unit (hil/units.py): executed instructions on emulated boards (with
a labelled per-core estimate in ms), cycles and ms on real boards, ns on the host.
A run that failed has a record too: its board, model, `error` (the message) and bit_exact "error";
the table shows it with "-" for what was not measured and lists the errors below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .units import fmt_ms

UNIT_SINGULAR = {"instructions": "instruction", "cycles": "cycle", "ns": "ns"}


def _columns(unit: str | None) -> list[tuple[str, str]]:
    u = unit or "unit"
    return [
        ("model", "model"), ("board", "board"), ("kernels", "kernels"), ("counter", "clock"),
        (f"latency, {u} (min/med/max)", "latency"), ("time (median)", "time"),
        (f"MACs/{UNIT_SINGULAR.get(u, u)}", "macs_per_unit"), ("arena B", "arena_bytes"),
        ("stack peak B", "stack_peak_bytes"), ("RAM B", "ram_bytes"), ("flash B", "flash_bytes"), ("bit-exact", "bit_exact"),
    ]


def _cell(rec: dict[str, Any], key: str, mixed: bool) -> str:
    if rec.get("error") and key not in ("model", "board", "bit_exact"):
        return "-"
    lat = rec.get("latency") or {}
    if key == "clock":
        c = rec["clock"]
        return f"{c['source']} @ {c['hz'] / 1e6:g} MHz" + (" (icount)" if c.get("deterministic") else "")
    if key == "latency":
        cell = f"{lat['min']:,}/{lat['median']:,}/{lat['max']:,}"
        return f"{cell} {lat['unit']}" if mixed else cell
    if key == "time":
        if "ms" in lat:
            return fmt_ms(lat["ms"]["median"])
        if "estimate_ms" in lat:
            return f"~{fmt_ms(lat['estimate_ms']['median'])} (estimate*)"
        return "-"
    if key == "macs_per_unit":
        return f"{rec['macs_per_unit']:.3f}"
    if key == "stack_peak_bytes" and rec.get(key) is None:
        return "not measured"
    v = rec.get(key)
    return "-" if v is None else str(v)


def _one_line(text: str, limit: int = 400) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


def markdown(records: list[dict[str, Any]]) -> str:
    units = {r["latency"]["unit"] for r in records if r.get("latency")}
    mixed = len(units) > 1
    cols = _columns(None if mixed or not units else next(iter(units)))
    head = "| " + " | ".join(c for c, _ in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    rows = ["| " + " | ".join(_cell(r, k, mixed) for _, k in cols) + " |" for r in records]
    out = [head, sep, *rows]
    notes = {}
    for r in records:
        if r.get("timing"):
            notes.setdefault(r["timing"]["how"], r["board"])
    out += [f"\n{board}: {how}." for how, board in notes.items()]
    assumptions = {r["latency"]["estimate_assumption"] for r in records if r.get("latency", {}).get("estimate_assumption")}
    out += [f"* {a}." for a in sorted(assumptions)]
    if any(r.get("stack_peak_bytes") is None and not r.get("error") for r in records):
        out.append("stack peak: not measured on the host (no stack painting there).")
    failed = [r for r in records if r.get("error")]
    if failed:
        out.append("\nerrors:")
        out += [f"- {r['model']} on {r['board']}: {_one_line(r['error'])}" for r in failed]
    for r in records:
        if r.get("accuracy"):
            from ..accuracy import text

            out.append(f"\n{r['model']} on {r['board']}, " + text(r["accuracy"]))
    for r in records:
        if r.get("per_layer"):
            out += ["", *per_layer_table(r)]
    return "\n".join(out)


def per_layer_table(rec: dict[str, Any]) -> list[str]:
    """The per-operator rows of one record: op, type, count in the record's unit, share of the layers' sum."""
    unit = rec["latency"]["unit"]
    lines = [f"per layer, {rec['model']} on {rec['board']}:", "", f"| op | type | {unit} | share |", "|---:|---|---:|---:|"]
    lines += [f"| {r['op']} | {r['type']} | {r[unit]:,} | {100 * r['share']:.1f} % |" for r in rec["per_layer"]]
    return lines


def record_filename(rec: dict[str, Any]) -> str:
    """A file name unique per (board, model): the model's name and the start of its sha256 (two
    models with the same file name in different folders do not overwrite each other)."""
    sha = str(rec.get("model_sha256") or "")[:12] or "nosha"
    return f"{_safe(rec['board'])}__{_safe(rec['model'])}__{sha}.json"


def _safe(name: object) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(name))


def save(records: list[dict[str, Any]], path: str | Path) -> None:
    Path(path).write_text(json.dumps({"results": records}, indent=2) + "\n")
