"""Patch-based inference (MCUNetV2): run the graph prefix up to a split operator S tile by tile.

Layer by layer, the arena can never be smaller than the largest operator's input + output, and on
vision models that peak sits in the first high-resolution layers. Here the prefix (every operator
S depends on, back to one graph input) runs once per tile of S's output on an n x m grid: each
tensor's region is the union (bounding box) of what its readers need, computed back from the
tile (halo included); every prefix kernel runs on its window and the result is copied into the
full S output. Only the input, S's output and the per-tile buffers are live, so the peak drops;
the halo is recomputed, which costs MACs (`PatchStage.overhead`).

Halo caching (`+cache`, as StreamNet does): tiles run in raster order, so the rows of each
intermediate tensor that the tile below (same column) needs again are saved after computing them
into a per-column cache buffer of the stage's scratch (it lives for the whole stage) and copied
back for the next tile, which computes only the rows below them. The regions held are the same as
without the cache; only what is computed shrinks, so the cached values are the same integers.

Branches are handled where they meet: a residual ADD (or another same-shape binary element-wise
op) and a channel CONCATENATION read the same region of each input. A reader that needs less
than its input's region reads it in place when only rows differ (whole rows are contiguous);
otherwise its window is first copied out (an ADD copies it into its own output and adds in place).

Bit-exact because each kernel sees its window exactly as the full layer would: a window clipped
at a real border keeps that border's padding (the kernel's top/left `pad_h`/`pad_w` become the
amount of real padding above/left of the window, taps beyond the window's bottom/right are real
padding too), and interior windows hold every input row and column their taps read. The kernels
are the normal ones (portable or optimized) with per-tile params structs.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ..errors import TinymlError
from ..ir import Graph, Op
from ..ops import Layer, ScratchArg, TensorArg
from ..ops.elementwise import broadcast_plan
from ..planner.lifetimes import Buffer, align
from ..planner.placement import place

SPATIAL = ("in_h", "in_w", "out_h", "out_w", "pad_h", "pad_w")  # window fields every windowed kernel's params have
WINDOWED = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"}
SIZED = {"tinyml_lut_s8", "tinyml_requantize_lut8"}  # element-wise kernels taking (..., size)
TILE = dict(func="tinyml_copy_tile_s8", header="tinyml/datamove.h", params_type="tinyml_tile_params_t")
# input callback mode: the application's `<prefix>_read_input` (codegen fills in the prefix)
READ_INPUT = dict(func="{prefix}_read_input", header="tinyml/datamove.h", params_type="tinyml_input_window_t")
CALLBACK = "+callback"
CACHE = "+cache"


class PatchError(TinymlError):
    """A split operator or grid the patch pass cannot run (the reason says why)."""


@dataclass(frozen=True)
class PatchSetting:
    """What `--patches` asked for: "off", "auto", "fit" or an explicit grid at a split operator;
    `+callback` (input callback mode): the stage asks the application for each window of the
    input, which is then not in the arena."""

    mode: str = "off"  # "off" | "auto" | "fit" | "grid"
    rows: int = 0
    cols: int = 0
    split: int = -1
    input_callback: bool = False
    cache: bool = False  # halo caching between vertically adjacent tiles (`+cache`)

    @property
    def text(self) -> str:
        base = f"{self.rows}x{self.cols}@op{self.split}" if self.mode == "grid" else self.mode
        return base + (CACHE if self.cache else "") + (CALLBACK if self.input_callback else "")


_GRID = re.compile(r"^(\d+)x(\d+)@op(\d+)$")


def parse_patches(text: str | PatchSetting | None) -> PatchSetting:
    """Parse `off`, `auto`, `fit` or `NxM@opK` (N rows by M columns of tiles of operator K's output),
    each but `off` optionally followed by `+cache` (halo caching; for `auto`/`fit`: the search may
    use it) and/or `+callback` (input callback mode)."""
    if text is None:
        return PatchSetting()
    if isinstance(text, PatchSetting):
        return text
    t = str(text).strip().lower()
    if t in ("", "off", "none"):
        return PatchSetting()
    base, *extras = t.split("+")
    flags = {"+" + e for e in extras}
    cb, cache = CALLBACK in flags, CACHE in flags
    if base in ("auto", "fit") and flags <= {CALLBACK, CACHE} and len(extras) == len(flags):
        return PatchSetting(base, input_callback=cb, cache=cache)
    m = _GRID.match(base)
    if not m or min(int(m.group(1)), int(m.group(2))) < 1 or not flags <= {CALLBACK, CACHE} \
            or len(extras) != len(flags):
        raise TinymlError(f"--patches '{text}' is not understood.",
                          hint="use off, auto, fit or NxM@opK (e.g. 4x4@op6: a 4 x 4 grid of operator 6's output), "
                          "optionally with +cache (halo rows kept for the tile below instead of recomputed) and/or "
                          "+callback (the input is read through a callback, not kept in the arena).")
    return PatchSetting("grid", int(m.group(1)), int(m.group(2)), int(m.group(3)), input_callback=cb, cache=cache)


Region = tuple[int, int, int, int]  # rows [r0, r1), columns [c0, c1) of a tensor
Window = tuple[int, int, int, int, int, int]  # a region plus the leading paddings (top, left)


@dataclass
class PatchStage:
    """The chosen patch stage: what `plan` reports and what codegen's steps implement."""

    split: int  # operator S
    rows: int
    cols: int
    ops: list[int]  # the prefix's operators, in execution order (S last)
    slot_bytes: tuple[int, ...]  # the per-tile buffers (activation windows and window copies)
    kernel_scratch: int  # the prefix kernels' scratch (the largest)
    macs: int  # the prefix's MACs with patches (halo recomputed)
    layer_macs: int  # the same operators layer by layer
    model_macs: int  # the whole model layer by layer
    scratch_bytes: int = 0  # the stage's scratch: its buffers and kernel scratch, placed by lifetime
    layer_arena: int = 0  # the layer-by-layer plan's arena (filled by the pipeline)
    tiles: list[Region] = field(default_factory=list)  # of S's output
    input_callback: int = -1  # input callback mode: the graph input read through the callback (not in the arena)
    cache_bytes: int = 0  # halo caching: the per-column row caches (part of scratch_bytes); 0 = recomputed
    macs_recompute: int = 0  # the prefix's MACs with the halo recomputed (== macs without the cache)
    cache: bool = False

    @property
    def overhead(self) -> float:
        """Extra MACs of the whole model, relative to layer by layer (0.1 = 10 % more)."""
        return (self.macs - self.layer_macs) / self.model_macs if self.model_macs else 0.0

    @property
    def overhead_recompute(self) -> float:
        """The overhead the same grid has without halo caching."""
        return (self.macs_recompute - self.layer_macs) / self.model_macs if self.model_macs else 0.0

    @property
    def text(self) -> str:
        return (f"{self.rows}x{self.cols}@op{self.split}" + (CACHE if self.cache else "")
                + (CALLBACK if self.input_callback >= 0 else ""))

    @property
    def outside(self) -> frozenset[int]:
        """Tensors the arena does not hold (the input in callback mode)."""
        return frozenset({self.input_callback} if self.input_callback >= 0 else ())

    def summary(self) -> dict[str, object]:
        return dict(split=self.split, grid=[self.rows, self.cols], setting=self.text, ops=self.ops,
                    patch_buffers=list(self.slot_bytes), kernel_scratch=self.kernel_scratch,
                    stage_scratch=self.scratch_bytes, macs=self.macs, layer_macs=self.layer_macs,
                    mac_overhead=round(self.overhead, 4), layer_arena_bytes=self.layer_arena,
                    halo="cached" if self.cache else "recomputed", cache_bytes=self.cache_bytes,
                    macs_recompute=self.macs_recompute, mac_overhead_recompute=round(self.overhead_recompute, 4),
                    input="callback" if self.input_callback >= 0 else "arena")


def _acts(g: Graph, op: Op) -> list[int]:
    return [t for t in op.inputs if t >= 0 and not g.t(t).is_const]


def chain(g: Graph, layers: list[Layer], split: int) -> list[Layer]:
    """The prefix ending at operator `split`, in execution order: every operator it depends on back
    to one graph input, each a spatial layer whose output is read inside the prefix only. Raises
    PatchError saying what breaks it."""
    by_op = {l.op.index: l for l in layers}
    if split not in by_op:
        raise PatchError(f"--patches: there is no operator #{split} (the model has {len(g.ops)}).", path=g.path,
                         hint="name an operator index from `tinyml-pio inspect`.")
    seen: set[int] = set()
    sources: set[int] = set()
    todo = [split]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        layer = by_op[i]
        _check_layer(g, layer)
        for x in _acts(g, layer.op):
            prod = g.producer(x)
            if x in g.inputs:
                sources.add(x)
            elif prod is None or prod.index not in by_op:
                raise _refuse(g, layer.op, f"its input tensor {x} is neither a graph input nor an operator's output")
            else:
                todo.append(prod.index)
    if len(sources) != 1:
        raise _refuse(g, by_op[split].op, f"the prefix reads {len(sources)} graph inputs (patches need exactly one)")
    for i in seen - {split}:
        y = by_op[i].op.outputs[0]
        outside = [o.index for o in g.consumers(y) if o.index not in seen]
        if outside or y in g.outputs:
            raise _refuse(g, by_op[split].op, f"tensor {y} (output of operator #{i}) is also read by operator(s) "
                          f"{outside} outside the prefix or is a graph output (a branch that leaves the prefix)")
    return [l for l in layers if l.op.index in seen]


def _refuse(g: Graph, op: Op, why: str) -> PatchError:
    return PatchError(f"cannot run the prefix up to {op.describe()} in patches: {why}.", path=g.path,
                      hint="choose an earlier split operator (`--patches NxM@opK`), --patches auto, or --patches off.")


def _is_binary(layer: Layer) -> bool:
    """A two-input element-wise kernel: the broadcasting ones (a `bc` plan) and the same-shape optimized ADD."""
    return layer.func is not None and ("bc" in layer.params or layer.func == "tinyml_add_s8_opt")


def _is_concat(layer: Layer) -> bool:
    return layer.func == "tinyml_concat_s8"


def _check_layer(g: Graph, layer: Layer) -> None:
    op = layer.op
    acts = _acts(g, op)
    want = len([t for t in op.inputs if t >= 0]) if _is_concat(layer) else 2 if _is_binary(layer) else 1
    if len(acts) != want or len(op.outputs) != 1:
        raise _refuse(g, op, f"{op.type} has {len(acts)} activation inputs (patches need {want}"
                      + (", a constant operand is not patched" if _is_binary(layer) else "") + ")")
    y = g.t(op.outputs[0])
    for x in map(g.t, acts):
        if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1 or x.itemsize != 1 or y.itemsize != 1:
            raise _refuse(g, op, f"patches need 1-byte NHWC tensors with batch 1, got {list(x.shape)} -> {list(y.shape)}")
    x = g.t(acts[0])
    if layer.alias or layer.steps:
        raise _refuse(g, op, f"{op.type} is not a spatial operator")
    if op.type in WINDOWED:
        if not all(k in layer.params for k in SPATIAL):
            raise _refuse(g, op, f"kernel {layer.func} takes no window geometry")
    elif layer.func == "tinyml_pad_s8":
        if layer.params["before"][0] or x.shape[0] != y.shape[0]:
            raise _refuse(g, op, "PAD pads the batch axis")
    elif layer.func in SIZED:
        if tuple(x.shape) != tuple(y.shape) or str(x.size) not in layer.args:
            raise _refuse(g, op, f"{op.type} changes the shape")
    elif _is_binary(layer):
        if any(tuple(g.t(t).shape) != tuple(y.shape) for t in acts):
            raise _refuse(g, op, f"{op.type} broadcasts {[list(g.t(t).shape) for t in acts]} (patches need equal shapes)")
    elif _is_concat(layer):
        if any(tuple(g.t(t).shape[:3]) != tuple(y.shape[:3]) for t in acts):
            raise _refuse(g, op, "CONCATENATION joins on a spatial or batch axis (patches join channels only)")
    else:
        raise _refuse(g, op, f"{op.type} ({layer.func}) has no patch support (supported: CONV_2D, DEPTHWISE_CONV_2D, "
                      "pools, PAD, element-wise lookup-table operators, same-shape ADD/MUL/MAXIMUM/MINIMUM and "
                      "channel CONCATENATION)")


def _axis(layer: Layer, axis: str, o0: int, o1: int, size: int) -> tuple[int, int, int]:
    """Input window [i0, i1) that output rows/cols [o0, o1) read, and the window's leading
    padding (kernel pad_h/pad_w, or PAD's `before`)."""
    p = layer.params
    if layer.func == "tinyml_pad_s8":
        b = p["before"][1 if axis == "h" else 2]
        a, e = o0 - b, o1 - b
    elif layer.op.type not in WINDOWED:
        return o0, o1, 0
    else:
        s, pad = p[f"stride_{axis}"], p[f"pad_{axis}"]
        d, k = p.get(f"dilation_{axis}", 1), p[f"filter_{axis}"]
        a, e = o0 * s - pad, (o1 - 1) * s - pad + (k - 1) * d + 1
    i0, i1 = max(a, 0), min(e, size)
    return i0, i1, i0 - a


def _bbox(a: Region | None, b: Region) -> Region:
    return b if a is None else (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def _regions(g: Graph, prefix: list[Layer], tile: Region) -> tuple[dict[int, Region], dict[tuple[int, int], Window]]:
    """For one tile of S's output: each prefix tensor's region (the union of what its readers need)
    and each (operator, input tensor)'s window with its leading paddings."""
    y = prefix[-1].op.outputs[0]
    reg: dict[int, Region] = {y: tile}
    need: dict[tuple[int, int], Window] = {}
    for layer in reversed(prefix):
        for x in _acts(g, layer.op):
            win = _need(g, layer, x, reg[layer.op.outputs[0]])
            if win is None:
                raise _refuse(g, layer.op, f"a tile of the grid reads no input of {layer.op.type} (only its padding)")
            need[(layer.op.index, x)] = win
            reg[x] = _bbox(reg.get(x), win[:4])
    return reg, need


def _need(g: Graph, layer: Layer, x: int, out: Region) -> Window | None:
    """The window of input `x` that output region `out` of `layer` reads; None if only padding."""
    h, w = g.t(x).shape[1:3]
    i0, i1, pt = _axis(layer, "h", out[0], out[1], h)
    j0, j1, pl = _axis(layer, "w", out[2], out[3], w)
    return None if i1 <= i0 or j1 <= j0 else (i0, i1, j0, j1, pt, pl)


def _splits(n: int, parts: int) -> list[tuple[int, int]]:
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def _area(r: Region) -> int:
    return (r[1] - r[0]) * (r[3] - r[2])


@dataclass
class _Plan:
    """The stage's per-tile buffers: sizes (largest over the tiles) and lifetimes in stage time
    (operator k of the prefix runs at 2k + 1, the window copies before it at 2k)."""

    size: dict[str, int] = field(default_factory=dict)
    life: dict[str, tuple[int, int]] = field(default_factory=dict)
    offset: dict[str, int] = field(default_factory=dict)

    def use(self, key: str, nbytes: int, first: int, last: int) -> None:
        self.size[key] = max(self.size.get(key, 0), nbytes)
        f, l = self.life.get(key, (first, last))
        self.life[key] = (min(f, first), max(l, last))

    def place(self) -> int:
        keys = sorted(self.size, key=lambda k: -self.size[k])
        bufs = [Buffer(key=k, size=align(self.size[k]), first=self.life[k][0], last=self.life[k][1]) for k in keys]
        arena = place(bufs, list(range(len(bufs))))
        self.offset = {b.key: b.offset for b in bufs}
        return arena


@dataclass(frozen=True)
class _Loc:
    """Where a tensor's window lives during a tile: in the full graph tensor, or in buffer `key`."""

    region: Region
    width: int  # row length of the storage, in pixels
    channels: int
    tensor: int = -1
    key: str = ""

    def arg(self, plan: _Plan, at: Region | None = None, const: bool = True) -> object:
        """A pointer to the first pixel of rows `at` (default: the whole window)."""
        r0 = (at or self.region)[0]
        c0 = (at or self.region)[2]
        off = ((r0 - self.region[0]) * self.width + c0 - self.region[2]) * self.channels
        if self.key:
            return ScratchArg(offset=plan.offset.get(self.key, 0) + off, const=const)
        return TensorArg(self.tensor, const=const, offset=off)

    def holds_rows_of(self, r: Region) -> bool:
        """True if window `r` is whole rows of the storage (so it is contiguous there)."""
        return r[2] == self.region[2] and r[3] == self.region[2] + self.width


def _tile_copy(op: Op, src: object, dst: object, rows: int, row_bytes: int, src_stride: int, dst_stride: int) -> Layer:
    return Layer(op=op, params=dict(rows=rows, row_bytes=row_bytes, src_stride=src_stride, dst_stride=dst_stride),
                 args=[src, dst], comment="patch window copy", **TILE)


def _copy(op: Op, src: _Loc, dst: _Loc, r: Region, plan: _Plan) -> Layer:
    """Copy window `r` from `src`'s storage into `dst`'s."""
    c = src.channels
    return _tile_copy(op, src.arg(plan, r), dst.arg(plan, r, const=False), r[1] - r[0], (r[3] - r[2]) * c,
                      src.width * c, dst.width * c)


def _kernel(g: Graph, layer: Layer, ins: list[object], out: object, win: Window, oreg: Region,
            scratch: int) -> list[Layer]:
    """The layer's kernel call(s) on one window: params for the window's sizes, pointers into the
    patch buffers (`ins` per activation input, in operator order)."""
    op = layer.op
    acts = _acts(g, op)
    y = g.t(op.outputs[0])
    oh, ow = oreg[1] - oreg[0], oreg[3] - oreg[2]
    if _is_concat(layer):  # each input's channels into its slice of every output pixel
        steps, ch = [], 0
        for a, x in zip(ins, acts):
            cx = g.t(x).shape[3]
            dst = dataclasses.replace(out, offset=out.offset + ch)
            steps.append(_tile_copy(op, a, dst, oh * ow, cx, cx, y.shape[3]))
            ch += cx
        return steps
    x_shape = g.t(acts[0]).shape
    i0, i1, j0, j1, pt, pl = win
    ih, iw = i1 - i0, j1 - j0
    p = dict(layer.params)
    if layer.func == "tinyml_pad_s8":
        p.update(in_dims=[1, ih, iw, x_shape[3]], out_dims=[1, oh, ow, y.shape[3]], before=[0, pt, pl, p["before"][3]])
    elif _is_binary(layer) and "bc" in p:
        p.update(bc=broadcast_plan((1, oh, ow, y.shape[3]), (1, oh, ow, y.shape[3]), (1, oh, ow, y.shape[3])))
    elif _is_binary(layer):  # tinyml_add_s8_opt: the tile's element count
        p.update(count=oh * ow * y.shape[3])
    elif layer.func not in SIZED:
        p.update(in_h=ih, in_w=iw, out_h=oh, out_w=ow, pad_h=pt, pad_w=pl)
    args: list[object] = []
    pending = list(zip(acts, ins))  # by tensor: a kernel may take its inputs in another order (the optimized ADD)
    for a in layer.args:
        if isinstance(a, TensorArg) and a.tensor == y.index and not a.const:
            args.append(out)
        elif isinstance(a, TensorArg) and a.tensor in acts and a.const:
            args.append(pending.pop(next(i for i, (t, _) in enumerate(pending) if t == a.tensor))[1])
        elif isinstance(a, ScratchArg):
            args.append(dataclasses.replace(a, offset=scratch))
        elif a == str(x_shape[1] * x_shape[2] * x_shape[3]) and layer.func in SIZED:
            args.append(str(ih * iw * x_shape[3]))
        else:
            args.append(a)
    return [dataclasses.replace(layer, params=p, args=args, steps=[], inplace=None, inplace_func=None,
                                inplace_args=None)]


def _read_input(op: Op, src: _Loc, dst: _Loc, r: Region, plan: _Plan) -> Layer:
    """Ask the application for window `r` of the input (callback mode), into `dst`."""
    return Layer(op=op, params=dict(row0=r[0], rows=r[1] - r[0], col0=r[2], cols=r[3] - r[2], width=src.width,
                                    channels=src.channels), args=[dst.arg(plan, r, const=False)],
                 comment="patch input window from the application", **READ_INPUT)


@dataclass(frozen=True)
class _Halo:
    """Halo caching for one tile: the regions of the tiles above and below it (same column)."""

    col: int
    above: dict[int, Region] | None
    below: dict[int, Region] | None


def _computed(g: Graph, layer: Layer, r: Region, halo: _Halo | None) -> Region:
    """The rows of held region `r` the tile computes: those below the rows the tile above cached
    (all of `r` if there is no cache, or if the rest would read only padding)."""
    if halo is None or halo.above is None:
        return r
    comp = (max(r[0], halo.above[layer.op.outputs[0]][1]), r[1], r[2], r[3])
    if comp[0] < comp[1] and any(_need(g, layer, x, comp) is None for x in _acts(g, layer.op)):
        return r
    return comp


def _tile_steps(g: Graph, prefix: list[Layer], stage_op: Op, tile: Region, plan: _Plan,
                emit: bool, callback: bool = False, halo: _Halo | None = None) -> tuple[list[Layer], int]:
    """One tile: record its buffers in `plan` and (with `emit`) its steps; returns (steps, MACs).
    With `halo`, intermediate rows the tile above computed come from its cache."""
    reg, _ = _regions(g, prefix, tile)
    x0 = next(t for l in prefix for t in _acts(g, l.op) if t in g.inputs)
    y = prefix[-1].op.outputs[0]
    pos = {l.op.index: k for k, l in enumerate(prefix)}
    shape = lambda t: g.t(t).shape  # noqa: E731
    last_read = {t: 2 * max(pos[o.index] for o in g.consumers(t) if o.index in pos) + 1
                 for t in reg if t != y}
    loc: dict[int, _Loc] = {x0: _Loc((0, shape(x0)[1], 0, shape(x0)[2]), shape(x0)[2], shape(x0)[3], tensor=x0)}
    steps: list[Layer] = []
    macs = 0
    n = len(prefix)
    for k, layer in enumerate(prefix):
        op = layer.op
        t = op.outputs[0]
        r = reg[t]
        comp = r if t == y else _computed(g, layer, r, halo)
        macs += layer.macs * _area(comp) // (shape(t)[1] * shape(t)[2])
        if t == y and r[2] == 0 and r[3] == shape(y)[2]:
            out = _Loc((0, shape(y)[1], 0, shape(y)[2]), shape(y)[2], shape(y)[3], tensor=y)
        else:
            key = "out" if t == y else f"t{t}"
            out = _Loc(r, r[3] - r[2], shape(t)[3], key=key)
            plan.use(key, _area(r) * shape(t)[3], 2 * k + 1, 2 * n if t == y else last_read[t])
        if comp[0] > r[0]:  # the rows above come from the cache the tile above filled
            plan.use(out.key, 0, 2 * k, 2 * k)
            if emit:
                cached = _Loc((r[0], halo.above[t][1], r[2], r[3]), r[3] - r[2], shape(t)[3], key=f"c{t}_{halo.col}")
                steps.append(_copy(stage_op, cached, out, (r[0], comp[0], r[2], r[3]), plan))
        if comp[0] < comp[1]:
            steps += _compute(g, layer, stage_op, comp, out, loc, plan, emit, k, x0 if callback else -1)
        if t != y and halo is not None and halo.below is not None and halo.below[t][0] < r[1]:
            keep = (max(r[0], halo.below[t][0]), r[1], r[2], r[3])  # the rows the tile below reads again
            cache = _Loc(keep, r[3] - r[2], shape(t)[3], key=f"c{t}_{halo.col}")
            plan.use(cache.key, _area(keep) * shape(t)[3], 0, 2 * n)
            if emit:
                steps.append(_copy(stage_op, out, cache, keep, plan))
        loc[t] = out
        if t == y and out.key and emit:
            full = _Loc((0, shape(y)[1], 0, shape(y)[2]), shape(y)[2], shape(y)[3], tensor=y)
            steps.append(_copy(stage_op, out, full, r, plan))
    return steps, macs


def _compute(g: Graph, layer: Layer, stage_op: Op, comp: Region, out: _Loc, loc: dict[int, _Loc], plan: _Plan,
             emit: bool, k: int, from_app: int) -> list[Layer]:
    """The steps computing rows `comp` of the layer's output into `out`: its input windows (read
    in place, copied out, or asked from the application for input `from_app`) and its kernel."""
    op = layer.op
    shape = lambda t: g.t(t).shape  # noqa: E731
    steps: list[Layer] = []
    ins: list[object] = []
    copied_into_out = False
    wins = {x: _need(g, layer, x, comp) for x in _acts(g, op)}
    for x in _acts(g, op):
        w = wins[x][:4]
        src = loc[x]
        app = x == from_app  # every window of the input comes from the application
        if not app and (src.region == w or src.holds_rows_of(w)):
            ins.append(src.arg(plan, w))
        elif _is_binary(layer) and not copied_into_out and not app:  # copy into the output, add in place
            copied_into_out = True
            if out.key:
                plan.use(out.key, 0, 2 * k, 2 * k)
            if emit:
                steps.append(_copy(stage_op, src, out, w, plan))
            ins.append(out.arg(plan, w))
        else:
            key = f"x{op.index}_{x}_{len(ins)}"
            plan.use(key, _area(w) * shape(x)[3], 2 * k, 2 * k + 1)
            dst = _Loc(w, w[3] - w[2], shape(x)[3], key=key)
            if emit:
                steps.append((_read_input if app else _copy)(stage_op, src, dst, w, plan))
            ins.append(dst.arg(plan))
    if layer.scratch_bytes:
        plan.use(f"s{op.index}", layer.scratch_bytes, 2 * k + 1, 2 * k + 1)
    if emit:
        scratch = plan.offset.get(f"s{op.index}", 0)
        steps += _kernel(g, layer, ins, out.arg(plan, comp, const=False), wins[_acts(g, op)[0]], comp, scratch)
    return steps


def build_stage(g: Graph, layers: list[Layer], split: int, rows: int, cols: int,
                emit: bool = True, input_callback: bool = False,
                cache: bool = False) -> tuple[list[Layer], PatchStage]:
    """Replace the prefix up to `split` by one patch-stage layer on a rows x cols grid; `emit=False`
    sizes the stage without generating its kernel calls (the search's estimate). `input_callback`:
    the stage reads its input windows through the application's callback (the input is then read
    by nothing else, so it need not be in the arena). `cache`: halo caching between vertically
    adjacent tiles."""
    prefix = chain(g, layers, split)
    last = prefix[-1]
    x0 = next(iter({t for l in prefix for t in _acts(g, l.op) if t in g.inputs}))
    y = last.op.outputs[0]
    ys = g.t(y).shape
    if not (1 <= rows <= ys[1] and 1 <= cols <= ys[2]):
        raise _refuse(g, last.op, f"a {rows}x{cols} grid does not fit its {ys[1]}x{ys[2]} output")
    tiles = [(r0, r1, c0, c1) for r0, r1 in _splits(ys[1], rows) for c0, c1 in _splits(ys[2], cols)]
    if input_callback:
        others = [o.index for o in g.consumers(x0) if o.index not in {l.op.index for l in prefix}]
        if others or x0 in g.outputs or len(g.inputs) != 1:
            raise PatchError(f"cannot run the prefix up to {last.op.describe()} with the input callback: it needs the "
                             f"input read by the patch stage only (also read by operator(s) {others}, or the model has "
                             "several inputs).", path=g.path,
                             hint="choose a later split operator whose prefix takes in every reader of the input, "
                             "or drop +callback.")
    stage_op = Op(index=last.op.index, type="PATCHES", inputs=[] if input_callback else [x0], outputs=[y],
                  options=dict(split=split, grid=[rows, cols]))
    regs = [_regions(g, prefix, t)[0] for t in tiles] if cache else []
    halos = [_Halo(i % cols, regs[i - cols] if i >= cols else None, regs[i + cols] if i + cols < len(tiles) else None)
             if cache else None for i in range(len(tiles))]
    plan = _Plan()
    macs = sum(_tile_steps(g, prefix, stage_op, t, plan, False, input_callback, h)[1] for t, h in zip(tiles, halos))
    recompute = sum(_tile_steps(g, prefix, stage_op, t, _Plan(), False, input_callback)[1]
                    for t in tiles) if cache else macs
    scratch = plan.place()
    steps: list[Layer] = []
    if emit:
        for t, h in zip(tiles, halos):
            steps += _tile_steps(g, prefix, stage_op, t, plan, True, input_callback, h)[0]
    layer_macs = sum(l.macs for l in prefix)
    buffers = tuple(v for k, v in sorted(plan.size.items()) if not k.startswith(("s", "c")))
    stage = PatchStage(split=split, rows=rows, cols=cols, ops=[l.op.index for l in prefix],
                       slot_bytes=buffers, kernel_scratch=align(max(l.scratch_bytes for l in prefix)), macs=macs,
                       layer_macs=layer_macs, model_macs=sum(l.macs for l in layers), scratch_bytes=scratch,
                       tiles=tiles, input_callback=x0 if input_callback else -1, cache=cache,
                       cache_bytes=sum(align(v) for k, v in plan.size.items() if k.startswith("c")),
                       macs_recompute=recompute)
    fused = Layer(op=stage_op, func="patches", header="tinyml/datamove.h",
                  args=([] if input_callback else [TensorArg(x0)]) + [TensorArg(y, const=False), ScratchArg()],
                  scratch_bytes=stage.scratch_bytes, macs=macs, steps=steps,
                  comment=f"{rows}x{cols} patches of ops {stage.ops[0]}..{split}, MAC overhead {stage.overhead:.1%}"
                  + (f" (halo cached: {stage.cache_bytes} bytes)" if cache else ""))
    in_prefix = set(stage.ops)
    out: list[Layer] = []
    for l in layers:
        if l.op.index == split:
            out.append(fused)
        elif l.op.index not in in_prefix:
            out.append(l)
    return out, stage
