"""HIL reports: one record per (model, board), saved as JSON and printed as a markdown table."""

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


def markdown(records: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(c for c, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = ["| " + " | ".join(_cell(r, k) for _, k in COLUMNS) + " |" for r in records]
    out = [head, sep, *rows]
    for r in records:
        if r.get("per_layer_cycles"):
            layers = ", ".join(f"#{i}:{c}" for i, c in enumerate(r["per_layer_cycles"]))
            out.append(f"\nper-layer cycles, {r['model']} on {r['board']}: {layers}")
    return "\n".join(out)


def save(records: list[dict[str, Any]], path: str | Path) -> None:
    Path(path).write_text(json.dumps({"results": records}, indent=2) + "\n")
