"""Static memory planning: every activation tensor and kernel scratch gets an arena offset.

Steps (each in its own module):

- `ordering`: choose the operator order. Candidates are the model's own order and the order with
  the smallest peak of live bytes (exact DP over downsets for small graphs, beam search beyond).
- `lifetimes`: buffers over that order. RESHAPE/SQUEEZE outputs alias their input; a layer with
  `inplace=(input, output)` writes its output over its input when the input dies there, the
  output is not larger (or the kernel allows it: `inplace_grow`) and the in-place kernel's extra
  scratch (`inplace_scratch_bytes`, e.g. a depthwise channel plane) costs less than it saves;
  kernel scratch is a buffer live for its layer only. `Plan.inplace_ops` tells codegen which
  layers to call in place.
- `placement`: offsets. TFLite Micro's largest-first first fit, best fit, other sequences and
  seeded random restarts; the smallest arena wins. The search stops at the lower bound.

The lower bound is the most bytes that must be live at one operator (with 16-byte aligned offsets).
Every plan is checked: no two buffers live at the same time share a byte, all inside the arena.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import TinymlError
from ..ir import Graph
from ..ops import Layer
from ..validate import MAX_ARENA_BYTES
from .lifetimes import ALIGN, Buffer, Lifetimes, align, alias_roots, compute_lifetimes, scratch_ops
from .ordering import best_order, is_topological, peak_of
from .placement import (Placement, place, place_two_sided, search, sequences, time_neighbours, tflm_greedy,
                        two_sided_targets)

__all__ = ["ALIGN", "Buffer", "Plan", "alias_roots", "buffers_for", "check_plan", "plan_memory", "align"]


@dataclass
class Plan:
    arena_size: int
    buffers: list[Buffer]
    tensor_offsets: dict[int, int]  # every non-constant tensor (aliases and in-place outputs resolved)
    scratch_offsets: dict[int, int]  # op index -> scratch offset
    live_bytes: list[int] = field(default_factory=list)  # per position in `order`: bytes live during it
    order: list[int] = field(default_factory=list)  # op indices in execution order
    lower_bound: int = 0  # arena bytes any placement of this order needs (16-byte aligned offsets)
    lower_bounds: list[int] = field(default_factory=list)  # per position
    inplace_ops: list[int] = field(default_factory=list)  # op indices running in place
    strategy: str = ""  # which placement won
    tflm_greedy_arena: int = 0  # TFLM's greedy planner on the model order, no in-place (for comparison)
    order_exact: bool = True  # the order search was exhaustive
    tensor_buffers: dict[int, str] = field(default_factory=dict)  # tensor -> buffer key
    tensor_spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # alias-root tensor -> (first, last) step
    # state (variable) tensors: outside the arena, in their own static buffer that persists across invokes
    state_size: int = 0
    state_offsets: dict[int, int] = field(default_factory=dict)

    @property
    def peak_position(self) -> int:
        """Position in `order` that sets the lower bound (most live bytes; the first one on ties)."""
        if not self.live_bytes:
            return 0
        lbs = self.lower_bounds or self.live_bytes
        return max(range(len(self.live_bytes)), key=lambda p: (lbs[p], self.live_bytes[p], -p))

    @property
    def peak_op(self) -> int:
        return self.order[self.peak_position] if self.order else -1

    @property
    def reordered(self) -> bool:
        return self.order != sorted(self.order)

    def ordered(self, layers: list[Layer]) -> list[Layer]:
        """The layers in execution order (codegen emits them in this order)."""
        by_op = {l.op.index: l for l in layers}
        if not self.order or set(self.order) != set(by_op):
            return list(layers)
        return [by_op[i] for i in self.order]


def buffers_for(g: Graph, layers: list[Layer]) -> tuple[list[Buffer], dict[int, int]]:
    """Buffers in the model's own order without in-place (kept for callers of the old planner)."""
    lt = compute_lifetimes(g, layers, use_inplace=False)
    return lt.buffers, alias_roots(layers)


def check_plan(buffers: list[Buffer], arena_size: int) -> None:
    """Our own invariant: every buffer inside the arena, aligned, and no two live at the same time
    sharing a byte (only buffers live at a common step can conflict: their time neighbours)."""
    for i, nb in enumerate(time_neighbours(buffers)):
        a = buffers[i]
        if a.size == 0:
            continue
        assert 0 <= a.offset and a.offset + a.size <= arena_size, f"{a.key} outside the arena"
        assert a.offset % ALIGN == 0, f"{a.key} offset {a.offset} not {ALIGN}-byte aligned"
        for j in nb:
            b = buffers[j]
            if j > i and b.size and a.conflicts(b):
                raise AssertionError(f"planner bug: {a.key} and {b.key} overlap")


@dataclass
class _Candidate:
    lt: Lifetimes
    placement: Placement
    rank: int  # tie-break: lower is preferred (model order, in-place on)


def plan_memory(g: Graph, layers: list[Layer], *, reorder: bool = True, inplace: bool = True,
                seed: int = 0, outside: frozenset[int] = frozenset()) -> Plan:
    n = len(layers)
    natural = list(range(n))
    orders: list[tuple[list[int], bool]] = [(natural, True)]
    if reorder and n > 1:
        res = best_order(g, layers)
        if res.order != natural and peak_of(g, layers, res.order) < peak_of(g, layers, natural):
            assert is_topological(g, layers, res.order)
            orders.append((res.order, res.exact))
        order_exact = res.exact
    else:
        order_exact = True
    cands: list[_Candidate] = []
    rank = 0
    for order, _ in orders:
        for ip in ((True, False) if inplace else (False,)):
            lt = compute_lifetimes(g, layers, order, use_inplace=ip, outside=outside)
            best: Placement | None = None
            for name, seq in sequences(lt.buffers):
                for bf in (False, True):
                    arena = place(lt.buffers, seq, bf)
                    if best is None or arena < best.arena:
                        best = Placement(arena, [b.offset for b in lt.buffers], f"{name}/{'best' if bf else 'first'}-fit")
                    if arena <= lt.lower_bound:
                        break
                if best is not None and best.arena <= lt.lower_bound:
                    break
            for target in two_sided_targets(lt.lower_bound):
                if best is None or best.arena <= lt.lower_bound:
                    break
                arena = place_two_sided(lt.buffers, target)
                if arena < best.arena:
                    best = Placement(arena, [b.offset for b in lt.buffers], "two-sided")
            assert best is not None or not lt.buffers
            cands.append(_Candidate(lt, best or Placement(0, [], "empty"), rank))
            rank += 1
            if not ip or not lt.inplace_ops:
                if ip:  # no in-place layer applies: the variant without would be identical
                    break
    cands.sort(key=lambda c: (c.placement.arena, c.rank))
    win = cands[0]
    lt = win.lt
    placement = win.placement
    if placement.arena > lt.lower_bound:
        found = search(lt.buffers, lt.lower_bound, seed=seed)
        if found.arena < placement.arena:
            placement = found
    for b, off in zip(lt.buffers, placement.offsets):
        b.offset = off
    arena = placement.arena
    if arena > MAX_ARENA_BYTES:
        raise TinymlError(f"the planned arena is {arena} bytes, more than the limit of {MAX_ARENA_BYTES} bytes "
                          "(MAX_ARENA_BYTES).", path=g.path,
                          hint="a microcontroller model needs far less; check the tensor shapes or re-export the model.")
    check_plan(lt.buffers, arena)

    tflm = tflm_greedy(compute_lifetimes(g, layers, natural, use_inplace=False).buffers).arena

    by_key = {b.key: b for b in lt.buffers}
    offsets: dict[int, int] = {}
    tensor_buffers: dict[int, str] = {}
    for t, grp in lt.roots.items():
        offsets[t] = by_key[f"t{grp}"].offset
        tensor_buffers[t] = f"t{grp}"
    scratch = {int(b.key[1:]): b.offset for b in lt.buffers if b.key.startswith("s")}
    for op_index in scratch_ops(layers, lt.inplace_ops):
        scratch.setdefault(op_index, 0)  # the kernel takes a pointer but needs no bytes this time
    return Plan(
        arena_size=arena,
        buffers=lt.buffers,
        tensor_offsets=offsets,
        scratch_offsets=scratch,
        live_bytes=lt.live_bytes,
        order=[layers[i].op.index for i in lt.order],
        lower_bound=lt.lower_bound,
        lower_bounds=lt.lower_bounds,
        inplace_ops=lt.inplace_ops,
        strategy=placement.strategy,
        tflm_greedy_arena=tflm,
        order_exact=order_exact,
        tensor_buffers=tensor_buffers,
        tensor_spans=lt.spans,
        **plan_state(g, layers),
    )


def plan_state(g: Graph, layers: list[Layer]) -> dict:
    """Offsets of the state tensors the layers read, one after the other (16-byte aligned) in the
    state buffer: they live for the whole program, so nothing can share their bytes."""
    used = sorted({t for l in layers for t in l.op.inputs if t >= 0 and g.t(t).variable})
    offsets: dict[int, int] = {}
    size = 0
    for t in used:
        offsets[t] = size
        size += align(g.t(t).nbytes)
    return dict(state_size=size, state_offsets=offsets)
