"""Operator order: the topological order with the smallest peak of live bytes.

In a chain there is one order. In a branched graph (residual ADDs, CONCATENATIONs of parallel
branches) the order decides which branch outputs wait in memory while the other branch runs.

The search is a dynamic program over *downsets* (sets of operators already executed, closed under
dependencies): the live bytes after a downset do not depend on how it was reached, so the best
peak to reach each downset is enough. Each step costs the bytes live while the next operator runs:
everything still needed, its new outputs and its scratch, minus what an in-place kernel saves.
The DP is exact while every level holds at most `max_states` downsets; beyond that it becomes a
beam search keeping the `beam` most promising downsets per level (peak so far, then live bytes).
A budget of `max_steps` transitions bounds the whole search: when the levels left would exceed
it, fewer downsets are kept per level, down to one (a greedy order: the ready operator that keeps
the peak, then the live bytes, lowest). The downset of the model's own order is always kept, so a
pruned search never returns an order worse than the model's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from ..ops import Layer
from .lifetimes import alias_roots, inplace_grow, inplace_scratch


@dataclass
class OrderResult:
    order: list[int]  # positions in `layers`
    peak: int  # raw bytes (no alignment), as the DP counts them
    exact: bool  # True if no level had to be pruned: `peak` is the minimum over all orders


class _Model:
    """The graph reduced to bitmasks over layer positions."""

    def __init__(self, g: Graph, layers: list[Layer]):
        self.n = n = len(layers)
        roots = alias_roots(layers)

        def root(t: int) -> int:
            return roots.get(t, t)

        producer: dict[int, int] = {}
        for li, l in enumerate(layers):
            for t in l.op.outputs:
                producer[t] = li
        self.size: dict[int, int] = {}
        consumers: dict[int, int] = {}
        self.deps = [0] * n
        self.new_out: list[list[int]] = [[] for _ in range(n)]
        self.uses: list[list[int]] = [[] for _ in range(n)]
        self.scratch = [l.scratch_bytes for l in layers]
        for li, l in enumerate(layers):
            for t in l.op.inputs:
                if t < 0 or not g.t(t).in_arena:
                    continue
                r = root(t)
                self.size[r] = g.t(r).nbytes
                consumers[r] = consumers.get(r, 0) | (1 << li)
                if r not in self.uses[li]:
                    self.uses[li].append(r)
                if t in producer and producer[t] != li:
                    self.deps[li] |= 1 << producer[t]
            for t in l.op.outputs:
                if not g.t(t).in_arena:
                    continue
                r = root(t)
                self.size[r] = g.t(r).nbytes
                if r == t:
                    self.new_out[li].append(r)
        self.consumers = consumers
        self.out_roots = {root(t) for t in g.outputs}
        produced_roots = {r for outs in self.new_out for r in outs}
        # always present: graph inputs and anything nobody produces (state)
        self.initial = [r for r in self.size if r not in produced_roots]
        self.inplace: list[tuple[int, int, int, bool] | None] = []
        for l in layers:
            ip = None
            if l.inplace and not l.alias:
                ti, to = l.inplace
                if ti >= 0 and g.t(ti).in_arena and g.t(to).in_arena and root(to) == to and root(ti) != to:
                    ip = (root(ti), to, inplace_scratch(l), inplace_grow(l))
            self.inplace.append(ip)
        self.full = (1 << n) - 1
        # per operator, what `step` sums, precomputed (it runs up to max_steps times)
        self.new_bytes = [sum(self.size[r] for r in outs) for outs in self.new_out]
        self.mortal = [[(self.size[r], consumers.get(r, 0)) for r in self.uses[v] + self.new_out[v]
                        if r not in self.out_roots] for v in range(n)]

    def alive(self, r: int, done: int) -> bool:
        return r in self.out_roots or bool(self.consumers.get(r, 0) & ~done)

    def initial_live(self) -> int:
        return sum(self.size[r] for r in self.initial if self.alive(r, 0))

    def step(self, done: int, live: int, v: int) -> tuple[int, int]:
        """(bytes while v runs, bytes live after v) given `live` bytes after `done`."""
        after_done = done | (1 << v)
        new = self.new_bytes[v]
        during = live + new + self.scratch[v]
        ip = self.inplace[v]
        if ip is not None:
            ri, to, extra, grow = ip
            saved = min(self.size[to], self.size[ri]) - extra
            if ri not in self.out_roots and not (self.consumers.get(ri, 0) & ~after_done) \
                    and (self.size[to] <= self.size[ri] or grow) and saved > 0:
                during -= saved
        died = 0
        for size, consumers in self.mortal[v]:
            if not consumers & ~after_done:
                died += size
        return during, live + new - died


def peak_of(g: Graph, layers: list[Layer], order: list[int]) -> int:
    m = _Model(g, layers)
    done, live, peak = 0, m.initial_live(), 0
    for v in order:
        during, live = m.step(done, live, v)
        peak = max(peak, during)
        done |= 1 << v
    return peak


def is_topological(g: Graph, layers: list[Layer], order: list[int]) -> bool:
    m = _Model(g, layers)
    done = 0
    for v in order:
        if m.deps[v] & ~done:
            return False
        done |= 1 << v
    return sorted(order) == list(range(len(layers)))


def best_order(g: Graph, layers: list[Layer], max_states: int = 4000, beam: int = 256,
               max_steps: int = 150_000) -> OrderResult:
    m = _Model(g, layers)
    n = m.n
    if n == 0:
        return OrderResult([], 0, True)
    succ: list[list[int]] = [[] for _ in range(n)]
    for w in range(n):
        d = m.deps[w]
        while d:
            low = d & -d
            succ[low.bit_length() - 1].append(w)
            d ^= low
    ready0 = 0
    for v in range(n):
        if not m.deps[v]:
            ready0 |= 1 << v
    # level: done-mask -> (peak, live, parent mask, op, ready mask)
    level: dict[int, tuple[int, int, int, int, int]] = {0: (0, m.initial_live(), -1, -1, ready0)}
    history: list[dict[int, tuple[int, int]]] = [{0: (-1, -1)}]
    exact = True
    steps = 0
    for depth in range(n):
        nxt: dict[int, tuple[int, int, int, int, int]] = {}
        level_steps = 0
        for done, (peak, live, _, _, ready) in level.items():
            r = ready
            while r:
                level_steps += 1
                low = r & -r
                r ^= low
                v = low.bit_length() - 1
                key = done | low
                during, after = m.step(done, live, v)
                p = max(peak, during)
                old = nxt.get(key)
                if old is None or p < old[0]:
                    rd = ready & ~low
                    for w in succ[v]:
                        if not (m.deps[w] & ~key):
                            rd |= 1 << w
                    nxt[key] = (p, after, done, v, rd)
        if not nxt:
            raise ValueError("the operator graph has a cycle")
        steps += level_steps
        # states the budget affords on each level left, at this level's transitions per state
        per_state = max(1, level_steps // max(1, len(level)))
        afford = max(1, (max_steps - steps) // (max(1, n - depth - 1) * per_state))
        keep_n = len(nxt)
        if keep_n > max_states:
            keep_n = beam
        keep_n = min(keep_n, afford)
        if keep_n < len(nxt):
            exact = False
            keep = dict(sorted(nxt.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))[:keep_n])
            natural = (1 << (depth + 1)) - 1  # the model's own order so far (topological: checked on import)
            if natural in nxt:
                keep[natural] = nxt[natural]  # so the result is never worse than the model's order
            nxt = keep
        level = nxt
        history.append({k: (st[2], st[3]) for k, st in level.items()})
    if m.full not in level:
        raise ValueError("the operator graph has a cycle")
    final = level[m.full]
    order: list[int] = []
    mask = m.full
    for depth in range(n, 0, -1):
        parent, v = history[depth][mask]
        order.append(v)
        mask = parent
    order.reverse()
    return OrderResult(order, final[0], exact)
