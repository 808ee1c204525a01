"""Static memory planning: every activation tensor and kernel scratch gets an arena offset.

Buffers have lifetimes [first, last] over the layer order (graph inputs are live from the start,
graph outputs to the end). Aliases (RESHAPE/SQUEEZE) share their source's buffer. Placement is
TFLite Micro's greedy planner: largest buffer first, lowest offset that overlaps no buffer whose
lifetime intersects. The plan is checked for overlaps before it is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph
from .ops import Layer

ALIGN = 16


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    key: str  # "t<tensor>" or "s<op>" (scratch)
    size: int
    first: int
    last: int
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return not (self.last < other.first or other.last < self.first)

    def overlaps_in_space(self, other: "Buffer") -> bool:
        return not (self.offset + self.size <= other.offset or other.offset + other.size <= self.offset)


@dataclass
class Plan:
    arena_size: int
    buffers: list[Buffer]
    tensor_offsets: dict[int, int]  # every non-constant tensor (aliases resolved)
    scratch_offsets: dict[int, int]  # op index -> scratch offset
    live_bytes: list[int] = field(default_factory=list)  # per layer, bytes live during it

    @property
    def lower_bound(self) -> int:
        return max(self.live_bytes, default=0)


def alias_roots(layers: list[Layer]) -> dict[int, int]:
    """Map each aliased tensor to the tensor whose memory it shares."""
    root: dict[int, int] = {}
    for layer in layers:
        if layer.alias:
            src, dst = layer.alias
            root[dst] = root.get(src, src)
    return root


def buffers_for(g: Graph, layers: list[Layer]) -> tuple[list[Buffer], dict[int, int]]:
    roots = alias_roots(layers)
    end = len(layers)
    spans: dict[int, list[int]] = {}

    def touch(t: int, pos: int) -> None:
        t = roots.get(t, t)
        if g.t(t).is_const:
            return
        span = spans.setdefault(t, [pos, pos])
        span[0] = min(span[0], pos)
        span[1] = max(span[1], pos)

    for t in g.inputs:
        touch(t, 0)
    for pos, layer in enumerate(layers):
        for t in layer.op.inputs:
            if t >= 0:
                touch(t, pos)
        for t in layer.op.outputs:
            touch(t, pos)
    for t in g.outputs:
        touch(t, end - 1 if end else 0)
    buffers = [Buffer(f"t{t}", g.t(t).nbytes, s[0], s[1]) for t, s in spans.items()]
    for pos, layer in enumerate(layers):
        if layer.scratch_bytes:
            buffers.append(Buffer(f"s{layer.op.index}", layer.scratch_bytes, pos, pos))
    return buffers, roots


def place_greedy(buffers: list[Buffer]) -> int:
    """Largest-first, first-fit placement (TFLM GreedyMemoryPlanner). Returns the arena size."""
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.key)):
        conflicts = sorted((p for p in placed if p.overlaps_in_time(buf)), key=lambda p: p.offset)
        offset = 0
        for p in conflicts:
            if offset + buf.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        buf.offset = offset
        placed.append(buf)
    return max((_align(b.offset + b.size) for b in buffers), default=0)


def check_plan(buffers: list[Buffer], arena_size: int) -> None:
    for i, a in enumerate(buffers):
        assert 0 <= a.offset and a.offset + a.size <= arena_size, f"{a.key} outside the arena"
        for b in buffers[i + 1 :]:
            if a.overlaps_in_time(b) and a.overlaps_in_space(b):
                raise AssertionError(f"planner bug: {a.key} and {b.key} overlap")


def plan_memory(g: Graph, layers: list[Layer]) -> Plan:
    buffers, roots = buffers_for(g, layers)
    arena = place_greedy(buffers)
    check_plan(buffers, arena)
    by_key = {b.key: b for b in buffers}
    offsets: dict[int, int] = {}
    for t in range(len(g.tensors)):
        r = roots.get(t, t)
        if f"t{r}" in by_key:
            offsets[t] = by_key[f"t{r}"].offset
    scratch = {int(b.key[1:]): b.offset for b in buffers if b.key.startswith("s")}
    live = [sum(b.size for b in buffers if b.first <= pos <= b.last) for pos in range(len(layers))]
    return Plan(arena_size=arena, buffers=buffers, tensor_offsets=offsets, scratch_offsets=scratch, live_bytes=live)
