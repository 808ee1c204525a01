"""Choose and apply the patch stage: an explicit `NxM@opK`; `auto`, which searches the split
operator and the grid for the smallest arena within a MAC-overhead budget; or `fit`, the least
MAC overhead whose arena fits a RAM budget (the board's). Both searches also try each grid with
halo caching (`+cache`: fewer MACs, the cache in the arena) where tiles overlap; `auto+cache` and
`fit+cache` try only cached grids.

The search sizes every (split, grid) candidate without generating code and ranks it by the
planner's lower bound for that layer list (the stage counts as one layer holding the input, the
split's output and the patch buffers); the best few are planned for real, and patches are used
only if they beat the layer-by-layer arena.
"""

from __future__ import annotations

from ..errors import TinymlError
from ..ir import Graph
from ..ops import Layer
from ..planner import Plan, plan_memory
from ..planner.lifetimes import compute_lifetimes
from .patch import PatchError, PatchSetting, PatchStage, build_stage, chain

GRIDS = sorted({(n, n) for n in range(2, 9)} | {(n, n + 1) for n in range(1, 8)} | {(n + 1, n) for n in range(1, 8)}
               | {(n, 1) for n in range(2, 9)})
PLANNED = 3  # candidates planned in full after ranking by lower bound


Key = tuple[int, int, int, bool]  # (split, rows, cols, halo cached)


def candidates(g: Graph, layers: list[Layer], max_overhead: float = float("inf"), input_callback: bool = False,
               only_cached: bool = False) -> list[tuple[int, int, Key]]:
    """(lower bound, MAC overhead in 1/10000, (split, rows, cols, cached)) of every valid candidate
    within the overhead budget, best first: each grid recomputing its halo and, where vertically
    adjacent tiles overlap, caching it."""
    found = []
    for layer in layers:
        try:
            chain(g, layers, layer.op.index)
        except PatchError:
            continue
        h, w = g.t(layer.op.outputs[0]).shape[1:3]
        for rows, cols in GRIDS:
            if rows > h or cols > w:
                continue
            try:
                stages = [build_stage(g, layers, layer.op.index, rows, cols, emit=False, input_callback=input_callback)]
                if rows > 1 and stages[0][1].macs > stages[0][1].layer_macs:  # tiles overlap: try the cache
                    stages.append(build_stage(g, layers, layer.op.index, rows, cols, emit=False,
                                              input_callback=input_callback, cache=True))
            except PatchError:
                continue
            for new, stage in stages[1:] if only_cached else stages:
                if stage.overhead <= max_overhead:
                    lb = compute_lifetimes(g, new, use_inplace=True, outside=stage.outside).lower_bound
                    found.append((lb, round(stage.overhead * 1e4), (layer.op.index, rows, cols, stage.cache)))
    return sorted(found)


def apply_patches(g: Graph, layers: list[Layer], layer_plan: Plan, setting: PatchSetting,
                  max_overhead: float, budget: int | None = None) -> tuple[list[Layer], Plan, PatchStage | None]:
    """The layers and plan with the patch stage `setting` asks for; (layers, layer_plan, None)
    for `auto` when no candidate within `max_overhead` gives a smaller arena, and for `fit` when
    the layer-by-layer arena already fits `budget` bytes."""
    cb = setting.input_callback
    if setting.mode == "grid":
        new, stage = build_stage(g, layers, setting.split, setting.rows, setting.cols, input_callback=cb,
                                 cache=setting.cache)
        stage.layer_arena = layer_plan.arena_size
        return new, plan_memory(g, new, outside=stage.outside), stage
    if setting.mode == "fit":
        return _fit(g, layers, layer_plan, budget, cb, setting.cache)
    if max_overhead < 0:
        raise TinymlError(f"--max-overhead {max_overhead} is negative.", hint="give a fraction such as 0.2 (20 % more MACs).")
    best: tuple[int, list[Layer], Plan, PatchStage] | None = None
    for _, _, (split, rows, cols, cache) in candidates(g, layers, max_overhead, cb, setting.cache)[:PLANNED]:
        new, stage = build_stage(g, layers, split, rows, cols, input_callback=cb, cache=cache)
        plan = plan_memory(g, new, outside=stage.outside)
        if best is None or plan.arena_size < best[0]:
            best = (plan.arena_size, new, plan, stage)
    if best is None or best[0] >= layer_plan.arena_size:
        return layers, layer_plan, None
    _, new, plan, stage = best
    stage.layer_arena = layer_plan.arena_size
    return new, plan, stage


def _fit(g: Graph, layers: list[Layer], layer_plan: Plan, budget: int | None,
         cb: bool = False, only_cached: bool = False) -> tuple[list[Layer], Plan, PatchStage | None]:
    """The candidate with the least MAC overhead whose planned arena is within `budget`."""
    if budget is None:
        raise TinymlError("--patches fit needs a RAM budget to fit.", path=g.path,
                          hint="name the board (convert --target BOARD or --budget BYTES; plan --board BOARD; "
                          "in PlatformIO the env's board), or use --patches auto.")
    if layer_plan.arena_size <= budget:
        return layers, layer_plan, None
    found = sorted((over, lb, key) for lb, over, key in candidates(g, layers, input_callback=cb, only_cached=only_cached)
                   if lb <= budget)
    best = None
    for _, _, (split, rows, cols, cache) in found:
        new, stage = build_stage(g, layers, split, rows, cols, input_callback=cb, cache=cache)
        plan = plan_memory(g, new, outside=stage.outside)
        if best is None or plan.arena_size < best[0]:
            best = (plan.arena_size, stage.text)
        if plan.arena_size <= budget:
            stage.layer_arena = layer_plan.arena_size
            return new, plan, stage
    raise TinymlError(f"no patch setting fits the arena into {budget} bytes (layer by layer {layer_plan.arena_size} bytes"
                      + (f"; the smallest tried: {best[0]} bytes with {best[1]})." if best else
                         "; no operator chain from the input can be patched)."),
                      path=g.path, hint="use a board with more RAM or a smaller model (`tinyml-pio plan --patches auto` "
                      "shows the patch stage and the peak).")
