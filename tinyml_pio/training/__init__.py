"""On-device training, compiled: update schemes, the backward program, its memory, its checks."""

from __future__ import annotations

from typing import Any

from ..ir import Graph
from ..ops import Layer
from .program import TrainProgram, build_program, find_loss
from .spec import ROUNDINGS, UpdateSpec, check_rounding, parse_update, trainable_ops

__all__ = ["ROUNDINGS", "TrainProgram", "UpdateSpec", "build_program", "check_rounding", "find_loss",
           "parse_update", "resolve_update", "trainable_ops"]


def resolve_update(update: Any, g: Graph, layers: list[Layer] | None, data: dict | None = None,
                   log=lambda s: None) -> UpdateSpec:
    """An UpdateSpec from what the user gave (a scheme string, a TOML path, auto:BYTES, or a
    spec); `layers` (the portable lowering) and `data` serve auto:BYTES."""
    if isinstance(update, UpdateSpec):
        return update
    text = str(update).strip()
    if text.startswith("auto:"):
        from ..ops import lower_graph
        from .auto import choose, parse_budget

        budget = parse_budget(text[5:])
        cands = _candidates(g)
        if not cands:
            return parse_update(text, g, candidates=cands)  # the clear "nothing to train" error
        return choose(g, layers if layers is not None else lower_graph(g), cands, budget, text, data=data, log=log)
    return parse_update(text, g, candidates=_candidates(g))


def _candidates(g: Graph) -> list:
    """Trainable layers that lie on the path to the loss, in model order."""
    from .program import ancestors

    _, t, _ = find_loss(g)
    on_path = set(ancestors(g, t))
    return [op for op in trainable_ops(g) if op.index in on_path]
