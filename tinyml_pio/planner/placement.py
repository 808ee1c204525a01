"""Placement: give every buffer an arena offset so that buffers live at the same time never share bytes.

Every strategy places buffers one at a time in some *sequence*, each at an offset chosen among the
gaps left by the already-placed buffers it conflicts with in time:

- first fit: the lowest offset that fits (TFLite Micro's GreedyMemoryPlanner with the
  largest-first sequence);
- best fit: the smallest bounded gap that fits, else the top.

`search` runs several deterministic sequences (by size, lifetime, area, breadth of the operator
that needs them, ...) with both fits, then seeded random perturbations of the best sequences, and
keeps the smallest arena; it stops as soon as an arena equals the lower bound.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from .lifetimes import ALIGN, Buffer, align


@dataclass
class Placement:
    arena: int
    offsets: list[int]  # per buffer (same order as the buffer list)
    strategy: str


def _forbidden(buf: Buffer, placed: list[Buffer]) -> list[tuple[int, int]]:
    """Offsets o with lo < o < hi that would collide with a placed buffer, as (lo, hi) pairs."""
    out = []
    for p in placed:
        if p.size == 0 or p.last < buf.first or buf.last < p.first:
            continue
        if len(buf.pieces) == 1 and len(p.pieces) == 1:
            out.append((p.offset - buf.size, p.offset + p.size))
            continue
        for f1, l1, s1 in buf.pieces:
            for f2, l2, s2 in p.pieces:
                if f1 <= l2 and f2 <= l1 and s1 > 0 and s2 > 0:
                    out.append((p.offset - s1, p.offset + s2))
    return out


def time_neighbours(buffers: list[Buffer]) -> list[list[int]]:
    """For each buffer, the buffers live at some common step (a sweep over first use), so placing
    one looks at its few neighbours rather than every placed buffer: long chains stay fast."""
    nb: list[list[int]] = [[] for _ in buffers]
    active: list[int] = []
    for i in sorted(range(len(buffers)), key=lambda i: buffers[i].first):
        b = buffers[i]
        active = [j for j in active if buffers[j].last >= b.first]
        for j in active:
            nb[i].append(j)
            nb[j].append(i)
        active.append(i)
    return nb


def _choose(buf: Buffer, placed: list[Buffer], best_fit: bool) -> int:
    if buf.size == 0:
        return 0
    intervals = sorted(_forbidden(buf, placed))
    # Walk the merged forbidden intervals; candidates are 0 and the aligned end of each interval.
    cand = 0
    gaps: list[tuple[int, int]] = []  # (first allowed offset, last allowed offset) of bounded gaps
    for lo, hi in intervals:
        if hi <= cand:
            continue
        if lo >= cand:  # offsets cand .. lo are allowed (o > lo is forbidden only for o < hi)
            last_ok = lo  # o == lo is allowed (strict inequality)
            last_ok = last_ok // ALIGN * ALIGN
            if last_ok >= cand:
                if not best_fit:
                    return cand
                gaps.append((cand, last_ok))
        cand = max(cand, align(hi))
    if best_fit and gaps:
        return min(gaps, key=lambda gap: (gap[1] - gap[0], gap[0]))[0]
    return cand


def place(buffers: list[Buffer], sequence: list[int], best_fit: bool = False) -> int:
    """Place buffers[i] for i in sequence (sets .offset); returns the arena size."""
    nb = time_neighbours(buffers)
    is_placed = [False] * len(buffers)
    for i in sequence:
        b = buffers[i]
        b.offset = _choose(b, [buffers[j] for j in nb[i] if is_placed[j]], best_fit)
        is_placed[i] = True
    return max((b.offset + b.size for b in buffers), default=0)


def _highest(buf: Buffer, placed: list[Buffer], ceiling: int) -> int | None:
    """The highest aligned offset o with o + size <= ceiling that collides with nothing placed, or None."""
    intervals = sorted(_forbidden(buf, placed), key=lambda iv: -iv[1])
    cand = (ceiling - buf.size) // ALIGN * ALIGN
    moved = True
    while moved and cand >= 0:
        moved = False
        for lo, hi in intervals:
            if lo < cand < hi:
                cand = lo // ALIGN * ALIGN if lo >= 0 else -1
                moved = True
    return cand if cand >= 0 else None


def two_sided_targets(lower_bound: int) -> list[int]:
    """Arena sizes to aim the two-sided placement at: the bound, then a little slack for alignment."""
    return sorted({lower_bound, align(lower_bound), align(lower_bound) + ALIGN, align(lower_bound) + 2 * ALIGN})


def place_two_sided(buffers: list[Buffer], target: int) -> int:
    """Ping-pong placement for chain-like graphs: walk buffers in time order; each goes to the side (bottom
    or top of a `target`-byte arena) opposite the buffer it meets that was placed last; scratch goes in the
    lowest gap. A chain of tensors (with scratch) lands exactly on its lower bound this way."""
    seq = sorted(range(len(buffers)), key=lambda i: (buffers[i].first, buffers[i].key.startswith("s"),
                                                     -buffers[i].size, i))
    nb = time_neighbours(buffers)
    side: dict[int, str] = {}
    for i in seq:
        b = buffers[i]
        placed = [buffers[j] for j in nb[i] if j in side]  # what b could collide with
        meets = [j for j in nb[i] if j in side and not buffers[j].key.startswith("s")]
        want = "bottom"
        if b.key.startswith("s"):
            want = "bottom"
        elif meets:
            last = max(meets, key=lambda j: (buffers[j].first, j))
            want = "top" if side[last] == "bottom" else "bottom"
        off = _highest(b, placed, target) if want == "top" else None
        if off is None:
            off = _choose(b, placed, best_fit=False)
            if want == "top" or off + b.size > target:
                top = _highest(b, placed, target)
                if top is not None:
                    off, want = top, "top"
        b.offset = off
        side[i] = want if off + b.size <= target else "bottom"
    return max((b.offset + b.size for b in buffers), default=0)


def _breadth_sequence(buffers: list[Buffer]) -> list[int]:
    """Greedy by breadth (Pisarchyk & Lee 2020): operators by live bytes, widest first; each operator's
    buffers largest first."""
    if not buffers:
        return []
    n_pos = max(b.last for b in buffers) + 1
    at: list[list[int]] = [[] for _ in range(n_pos)]
    width = [0] * n_pos
    for i, b in enumerate(buffers):
        for pos in range(b.first, b.last + 1):
            s = b.size_at(pos)
            if s:
                at[pos].append(i)
                width[pos] += s
    seen: set[int] = set()
    seq: list[int] = []
    for pos in sorted(range(n_pos), key=lambda p: (-width[p], p)):
        for i in sorted(at[pos], key=lambda i: (-buffers[i].size, buffers[i].first, i)):
            if i not in seen:
                seen.add(i)
                seq.append(i)
    seq += [i for i in range(len(buffers)) if i not in seen]
    return seq


def _conflict_weight(buffers: list[Buffer]) -> list[int]:
    """Per buffer, the bytes of the buffers live at some common step (its time neighbours)."""
    return [sum(buffers[j].size for j in nb) for nb in time_neighbours(buffers)]


def sequences(buffers: list[Buffer]) -> list[tuple[str, list[int]]]:
    """The deterministic buffer sequences tried, named."""
    idx = list(range(len(buffers)))
    B = buffers
    dur = [b.last - b.first + 1 for b in B]
    cw = _conflict_weight(B)
    keys: list[tuple[str, Callable[[int], tuple]]] = [
        ("largest-first", lambda i: (-B[i].size, B[i].first, i)),  # TFLite Micro
        ("largest-longest", lambda i: (-B[i].size, -dur[i], i)),
        ("longest-first", lambda i: (-dur[i], -B[i].size, i)),
        ("area", lambda i: (-B[i].size * dur[i], i)),
        ("conflicts", lambda i: (-(cw[i] + B[i].size), -B[i].size, i)),
        ("earliest", lambda i: (B[i].first, -B[i].size, i)),
        ("latest-end", lambda i: (-B[i].last, -B[i].size, i)),
    ]
    out = [(name, sorted(idx, key=key)) for name, key in keys]
    out.append(("breadth", _breadth_sequence(B)))
    return out


def tflm_greedy(buffers: list[Buffer]) -> Placement:
    """What TFLite Micro's greedy planner would do with these buffers."""
    seq = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, buffers[i].first, i))
    arena = place(buffers, seq, best_fit=False)
    return Placement(arena, [b.offset for b in buffers], "tflm-greedy")


def search(buffers: list[Buffer], lower_bound: int, seed: int = 0, restarts: int | None = None) -> Placement:
    """Try every deterministic sequence with first and best fit, then seeded perturbations; keep the best."""
    best: Placement | None = None
    ranked: list[tuple[int, int, list[int], bool]] = []

    def attempt(name: str, seq: list[int], best_fit: bool) -> bool:
        nonlocal best
        arena = place(buffers, seq, best_fit)
        ranked.append((arena, len(ranked), seq, best_fit))
        if best is None or arena < best.arena:
            best = Placement(arena, [b.offset for b in buffers], f"{name}/{'best' if best_fit else 'first'}-fit")
        return arena <= lower_bound

    for name, seq in sequences(buffers):
        for bf in (False, True):
            if attempt(name, seq, bf):
                return _apply(buffers, best)
    for target in two_sided_targets(lower_bound):
        arena = place_two_sided(buffers, target)
        if best is None or arena < best.arena:
            best = Placement(arena, [b.offset for b in buffers], "two-sided")
        if arena <= lower_bound:
            return _apply(buffers, best)
    n = len(buffers)
    if restarts is None:
        # keep the search to roughly a few million pair checks
        restarts = max(0, min(200, 4_000_000 // max(n * n, 1)))
    rng = random.Random(seed)
    ranked.sort(key=lambda r: (r[0], r[1]))
    elite = ranked[:4]
    for k in range(restarts):
        arena0, _, seq0, bf = elite[k % len(elite)]
        seq = list(seq0)
        if k % 2 == 0:
            # swap a few neighbours
            for _ in range(max(1, n // 8)):
                if n < 2:
                    break
                i = rng.randrange(n - 1)
                j = min(n - 1, i + rng.randint(1, 3))
                seq[i], seq[j] = seq[j], seq[i]
        else:
            # move one random buffer to the front
            if n:
                i = rng.randrange(n)
                seq.insert(0, seq.pop(i))
        if attempt(f"random#{k}", seq, bf):
            break
        arena = ranked[-1][0]
        if arena <= arena0:  # accept sideways moves to keep exploring
            elite[k % len(elite)] = (arena, 0, seq, bf)
    assert best is not None
    return _apply(buffers, best)


def _apply(buffers: list[Buffer], p: Placement | None) -> Placement:
    assert p is not None
    for b, off in zip(buffers, p.offsets):
        b.offset = off
    return p
