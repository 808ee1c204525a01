"""Buffers and their lifetimes over one execution order.

A *buffer* is one region of the arena: a tensor together with every tensor that shares its memory
(RESHAPE/SQUEEZE aliases, and outputs of in-place layers), or one layer's scratch. A buffer is a
stack of *pieces* (first, last, size) at the same offset: a plain tensor has one piece; when an
in-place layer writes its (possibly smaller) output over its dying input, the output continues the
input's buffer as a new piece, so a small output does not keep a large rectangle reserved.

Positions are indices into the execution order (0 .. len(order) - 1). Graph inputs (and any
non-constant tensor nobody produces) are live from position 0; graph outputs to the last position.

In-place contract (what a lowering promises when it sets these Layer fields):

- `inplace=(x, y)`: the kernel gives the right answer when `y` starts at the same address as `x`.
  The planner uses it only when `x` dies at this layer, is not a graph output, and `y` is not
  larger. Element-wise kernels that read element i before writing element i (LUT, QUANTIZE,
  ADD with the same shape) qualify as they are.
- `inplace_scratch_bytes=n`: extra scratch the kernel needs only when it runs in place; added to
  the layer's scratch buffer when in place is chosen, and in place is chosen only if n is smaller
  than what it saves. Such kernels have a separate in-place function (`Layer.inplace_func` with
  `Layer.inplace_args`, which holds a ScratchArg); codegen calls it for the ops in
  `Plan.inplace_ops`. TinyEngine's depthwise (multiplier 1, batch 1): for each channel c, copy
  input plane c (in_h*in_w bytes, stride in_c) to scratch, then compute output channel c from
  scratch into out[(oy*out_w+ox)*C + c]; only channel c's slots are written, and their input is
  already saved (any stride, dilation, padding).
- `inplace_grow=True`: the output may also be larger than the input (a 1x1 stride-1 conv writing
  pixel p at p*out_c after copying input pixel p to scratch; walking pixels from the last one
  when out_c > in_c, from the first otherwise; the argument is in library/src/kernels/conv.c).
  From this layer on the buffer is the output's size; before it, the input's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import Graph
from ..ops import Layer, ScratchArg

ALIGN = 16  # every buffer offset is a multiple of this (TFLite Micro uses 16 too)


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    key: str  # "t<root tensor>" or "s<op index>" (scratch)
    size: int  # the largest piece
    first: int
    last: int
    offset: int = -1
    pieces: list[tuple[int, int, int]] = field(default_factory=list)  # (first, last, size); empty = one piece
    tensors: tuple[int, ...] = ()  # graph tensors stored here (empty for scratch)

    def __post_init__(self) -> None:
        if not self.pieces:
            self.pieces = [(self.first, self.last, self.size)]

    @property
    def end(self) -> int:
        return self.offset + self.size

    def size_at(self, pos: int) -> int:
        for f, l, s in self.pieces:
            if f <= pos <= l:
                return s
        return 0

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return not (self.last < other.first or other.last < self.first)

    def overlaps_in_space(self, other: "Buffer") -> bool:
        return not (self.offset + self.size <= other.offset or other.offset + other.size <= self.offset)

    def conflicts(self, other: "Buffer") -> bool:
        """True if some live piece of each shares arena bytes at the same time (both placed)."""
        if not self.overlaps_in_time(other):
            return False
        for f1, l1, s1 in self.pieces:
            for f2, l2, s2 in other.pieces:
                if f1 <= l2 and f2 <= l1 and self.offset < other.offset + s2 and other.offset < self.offset + s1:
                    return True
        return False


@dataclass
class Lifetimes:
    """Everything the placement needs for one (order, in-place choice)."""

    order: list[int]  # positions in `layers` (not op indices), in execution order
    buffers: list[Buffer]
    roots: dict[int, int]  # tensor -> tensor whose buffer it lives in (aliases and in-place outputs)
    inplace_ops: list[int]  # op indices whose output was placed over their input
    spans: dict[int, tuple[int, int]]  # alias-root tensor -> (first, last) position, before in-place merging
    live_bytes: list[int]  # per position: bytes of live pieces
    lower_bounds: list[int]  # per position: bytes any 16-aligned placement needs

    @property
    def lower_bound(self) -> int:
        return max(self.lower_bounds, default=0)


def alias_roots(layers: list[Layer]) -> dict[int, int]:
    """Map each aliased tensor to the tensor whose memory it shares (RESHAPE/SQUEEZE chains)."""
    root: dict[int, int] = {}
    for layer in layers:
        if layer.alias:
            src, dst = layer.alias
            root[dst] = root.get(src, src)
    return root


def inplace_scratch(layer: Layer) -> int:
    """Extra scratch a kernel needs only when it runs in place (e.g. a depthwise channel plane)."""
    return int(layer.inplace_scratch_bytes or 0)


def inplace_grow(layer: Layer) -> bool:
    """The kernel can also write a *larger* output over its input (e.g. a 1x1 conv walking pixels
    backwards with one input pixel in scratch)."""
    return bool(layer.inplace_grow)


def position_lower_bound(sizes: list[int]) -> int:
    """Bytes needed to hold buffers of these sizes side by side with 16-aligned offsets.

    Sorted by offset, every buffer but the topmost occupies its size rounded up to ALIGN before
    the next one can start, so the arena is at least sum(align(s)) minus the largest padding."""
    sizes = [s for s in sizes if s > 0]
    if not sizes:
        return 0
    return sum(align(s) for s in sizes) - max(align(s) - s for s in sizes)


def compute_lifetimes(g: Graph, layers: list[Layer], order: list[int] | None = None,
                      use_inplace: bool = True, outside: frozenset[int] = frozenset()) -> Lifetimes:
    """`outside`: graph inputs that are not in the arena (a patch stage's input callback reads them
    from the application)."""
    if order is None:
        order = list(range(len(layers)))
    roots = alias_roots(layers)
    end = max(len(order) - 1, 0)

    def root(t: int) -> int:
        return roots.get(t, t)

    spans: dict[int, list[int]] = {}

    def touch(t: int, pos: int) -> None:
        if t < 0 or not g.t(t).in_arena or t in outside:
            return
        r = root(t)
        span = spans.setdefault(r, [pos, pos])
        span[0] = min(span[0], pos)
        span[1] = max(span[1], pos)

    produced = {t for l in layers for t in l.op.outputs}
    for t in g.inputs:
        touch(t, 0)
    for pos, li in enumerate(order):
        layer = layers[li]
        for t in layer.op.inputs:
            if t >= 0 and g.t(t).in_arena and t not in produced:
                touch(t, 0)  # graph input or state tensor: it must hold its value from the start
            touch(t, pos)
        for t in layer.op.outputs:
            touch(t, pos)
    out_roots = {root(t) for t in g.outputs}
    for t in g.outputs:
        touch(t, end)
    for t in list(spans):  # state tensors nobody produces keep their value to the end as well
        if t not in produced and t not in g.inputs:
            touch(t, end)

    # Groups: root tensor -> pieces. Start with one piece per root.
    pieces: dict[int, list[tuple[int, int, int]]] = {r: [(s[0], s[1], g.t(r).nbytes)] for r, s in spans.items()}
    members: dict[int, list[int]] = {r: [] for r in spans}
    for t in range(len(g.tensors)):
        r = root(t)
        if r in members:
            members[r].append(t)
    group_of: dict[int, int] = {r: r for r in spans}  # root tensor -> group (the first root of an in-place chain)
    inplace_ops: list[int] = []
    extra_scratch: dict[int, int] = {}

    if use_inplace:
        for pos, li in enumerate(order):
            layer = layers[li]
            if not layer.inplace or layer.alias:
                continue
            ti, to = layer.inplace
            if ti < 0 or not g.t(ti).in_arena or not g.t(to).in_arena:
                continue
            ri, ro = root(ti), root(to)
            if ri not in group_of or ro not in group_of or ro != to or group_of[ro] != ro or ro == ri:
                continue
            grp = group_of[ri]
            if grp in out_roots or any(group_of.get(r) == grp for r in out_roots):
                continue  # never overwrite a graph output
            p_in = pieces[grp]
            f_in, l_in, s_in = p_in[-1]
            extra = inplace_scratch(layer)
            size_out = pieces[ro][0][2]
            grow = inplace_grow(layer)
            if l_in != pos or (size_out > s_in and not grow) or extra >= min(size_out, s_in):
                continue  # the input lives on, or the output is larger, or in place would not save bytes
            f_out, l_out, _ = pieces[ro][0]
            if f_out != pos:
                continue
            if size_out == s_in:
                p_in[-1] = (f_in, l_out, s_in)
            elif size_out < s_in:
                if l_out > pos:
                    p_in.append((pos + 1, l_out, size_out))
            else:  # a larger output over its input, from `pos` on
                if f_in < pos:
                    p_in[-1] = (f_in, pos - 1, s_in)
                    p_in.append((pos, l_out, size_out))
                else:
                    p_in[-1] = (pos, l_out, size_out)
            del pieces[ro]
            group_of[ro] = grp
            members[grp].extend(members.pop(ro))
            inplace_ops.append(layer.op.index)
            if extra:
                extra_scratch[li] = extra

    buffers: list[Buffer] = []
    group_roots: dict[int, int] = {}
    for grp, ps in pieces.items():
        size = max(s for _, _, s in ps)
        if size <= 0:
            size = 0
        buffers.append(Buffer(f"t{grp}", size, ps[0][0], ps[-1][1], pieces=list(ps), tensors=tuple(sorted(members[grp]))))
        for t in members[grp]:
            group_roots[t] = grp
    for pos, li in enumerate(order):
        layer = layers[li]
        n = layer.scratch_bytes + extra_scratch.get(li, 0)
        if n:
            buffers.append(Buffer(f"s{layer.op.index}", n, pos, pos))

    n_pos = len(order)
    live = [0] * n_pos
    per_pos: list[list[int]] = [[] for _ in range(n_pos)]
    for b in buffers:
        for f, l, s in b.pieces:
            for pos in range(f, min(l, n_pos - 1) + 1):
                live[pos] += s
                per_pos[pos].append(s)
    lbs = [position_lower_bound(ss) for ss in per_pos]
    return Lifetimes(order=list(order), buffers=buffers, roots=group_roots, inplace_ops=inplace_ops,
                     spans={r: (s[0], s[1]) for r, s in spans.items()}, live_bytes=live, lower_bounds=lbs)


def scratch_ops(layers: list[Layer], inplace_ops: list[int] | tuple[int, ...] = ()) -> set[int]:
    """Op indices whose kernel call takes a scratch pointer (it needs an offset even if 0 bytes);
    for the ops in `inplace_ops`, the call of their in-place kernel (Layer.call)."""
    ip = set(inplace_ops)
    return {l.op.index for l in layers if any(isinstance(a, ScratchArg) for a in l.call(l.op.index in ip)[1])}
