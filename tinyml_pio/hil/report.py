"""HIL reports: one record per (model, board), saved as JSON and printed as a markdown table.

A run that failed has a record too: its board, model, `error` (the message) and bit_exact "error";
the table shows it with "-" for what was not measured and lists the errors below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = [
    ("model", "model"), ("board", "board"), ("kernels", "kernels"), ("clock", "clock"), ("latency (min/med/max)", "latency"),
    ("MACs/cycle", "macs_per_cycle"), ("arena B", "arena_bytes"), ("stack peak B", "stack_peak_bytes"),
    ("RAM B", "ram_bytes"), ("flash B", "flash_bytes"), ("bit-exact", "bit_exact"),
]


def _cell(rec: dict[str, Any], key: str) -> str:
    if rec.get("error") and key not in ("model", "board", "bit_exact"):
        return "-"
    if key == "clock":
        c = rec["clock"]
        return f"{c['source']} @ {c['hz'] / 1e6:g} MHz" + (" (icount)" if c.get("deterministic") else "")
    if key == "latency":
        lat = rec["latency_cycles"]
        return f"{lat['min']}/{lat['median']}/{lat['max']}"
    if key == "macs_per_cycle":
        return f"{rec['macs_per_cycle']:.3f}"
    v = rec.get(key)
    return "-" if v is None else str(v)


def _one_line(text: str, limit: int = 400) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


def markdown(records: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(c for c, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = ["| " + " | ".join(_cell(r, k) for _, k in COLUMNS) + " |" for r in records]
    out = [head, sep, *rows]
    failed = [r for r in records if r.get("error")]
    if failed:
        out.append("\nerrors:")
        out += [f"- {r['model']} on {r['board']}: {_one_line(r['error'])}" for r in failed]
    for r in records:
        if r.get("accuracy"):
            from ..accuracy import text

            out.append(f"\n{r['model']} on {r['board']}, " + text(r["accuracy"]))
    for r in records:
        if r.get("per_layer_cycles"):
            layers = ", ".join(f"#{i}:{c}" for i, c in enumerate(r["per_layer_cycles"]))
            out.append(f"\nper-layer cycles, {r['model']} on {r['board']}: {layers}")
    return "\n".join(out)


def record_filename(rec: dict[str, Any]) -> str:
    """A file name unique per (board, model): the model's name and the start of its sha256 (two
    models with the same file name in different folders do not overwrite each other)."""
    sha = str(rec.get("model_sha256") or "")[:12] or "nosha"
    return f"{_safe(rec['board'])}__{_safe(rec['model'])}__{sha}.json"


def _safe(name: object) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(name))


def save(records: list[dict[str, Any]], path: str | Path) -> None:
    Path(path).write_text(json.dumps({"results": records}, indent=2) + "\n")
