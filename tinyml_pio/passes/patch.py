"""Patch-based inference (MCUNetV2): run the graph prefix up to a split operator S tile by tile.

Layer by layer, the arena can never be smaller than the largest operator's input + output, and on
vision models that peak sits in the first high-resolution layers. Here the prefix (a chain from a
graph input to S) runs once per tile of S's output on an n x m grid: each tile's receptive field is
computed back through the chain (halo included), the tile's input window is copied out of the full
input, every prefix kernel runs on the window, and the result is copied into the full S output.
Only the input, S's output and two patch buffers are live, so the peak drops; the halo is
recomputed, which costs MACs (`PatchStage.overhead`).

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
from ..planner.lifetimes import align

SPATIAL = ("in_h", "in_w", "out_h", "out_w", "pad_h", "pad_w")  # window fields every windowed kernel's params have
WINDOWED = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"}
SIZED = {"tinyml_lut_s8", "tinyml_requantize_lut8"}  # element-wise kernels taking (..., size)
TILE = dict(func="tinyml_copy_tile_s8", header="tinyml/datamove.h", params_type="tinyml_tile_params_t")


class PatchError(TinymlError):
    """A split operator or grid the patch pass cannot run (the reason says why)."""


@dataclass(frozen=True)
class PatchSetting:
    """What `--patches` asked for: "off", "auto" or an explicit grid at a split operator."""

    mode: str = "off"  # "off" | "auto" | "fit" | "grid"
    rows: int = 0
    cols: int = 0
    split: int = -1

    @property
    def text(self) -> str:
        return f"{self.rows}x{self.cols}@op{self.split}" if self.mode == "grid" else self.mode


_GRID = re.compile(r"^(\d+)x(\d+)@op(\d+)$")


def parse_patches(text: str | PatchSetting | None) -> PatchSetting:
    """Parse `off`, `auto`, `fit` or `NxM@opK` (N rows by M columns of tiles of operator K's output)."""
    if text is None:
        return PatchSetting()
    if isinstance(text, PatchSetting):
        return text
    t = str(text).strip().lower()
    if t in ("", "off", "none"):
        return PatchSetting()
    if t in ("auto", "fit"):
        return PatchSetting(t)
    m = _GRID.match(t)
    if not m or min(int(m.group(1)), int(m.group(2))) < 1:
        raise TinymlError(f"--patches '{text}' is not understood.",
                          hint="use off, auto, fit or NxM@opK (e.g. 4x4@op6: a 4 x 4 grid of operator 6's output).")
    return PatchSetting("grid", int(m.group(1)), int(m.group(2)), int(m.group(3)))


@dataclass
class PatchStage:
    """The chosen patch stage: what `plan` reports and what codegen's steps implement."""

    split: int  # operator S
    rows: int
    cols: int
    ops: list[int]  # the prefix's operators, in execution order (S last)
    slot_bytes: tuple[int, int]  # the two ping-pong patch buffers
    kernel_scratch: int  # the prefix kernels' scratch (the largest)
    macs: int  # the prefix's MACs with patches (halo recomputed)
    layer_macs: int  # the same operators layer by layer
    model_macs: int  # the whole model layer by layer
    layer_arena: int = 0  # the layer-by-layer plan's arena (filled by the pipeline)
    tiles: list[tuple[int, int, int, int]] = field(default_factory=list)  # (r0, r1, c0, c1) of S's output

    @property
    def scratch_bytes(self) -> int:
        return align(self.slot_bytes[0]) + align(self.slot_bytes[1]) + self.kernel_scratch

    @property
    def overhead(self) -> float:
        """Extra MACs of the whole model, relative to layer by layer (0.1 = 10 % more)."""
        return (self.macs - self.layer_macs) / self.model_macs if self.model_macs else 0.0

    @property
    def text(self) -> str:
        return f"{self.rows}x{self.cols}@op{self.split}"

    def summary(self) -> dict[str, object]:
        return dict(split=self.split, grid=[self.rows, self.cols], setting=self.text, ops=self.ops,
                    patch_buffers=list(self.slot_bytes), kernel_scratch=self.kernel_scratch,
                    stage_scratch=self.scratch_bytes, macs=self.macs, layer_macs=self.layer_macs,
                    mac_overhead=round(self.overhead, 4), layer_arena_bytes=self.layer_arena)


def chain(g: Graph, layers: list[Layer], split: int) -> list[Layer]:
    """The prefix ending at operator `split`: a chain of single-input spatial layers from a graph
    input, each intermediate read by the next layer only. Raises PatchError saying what breaks it."""
    by_op = {l.op.index: l for l in layers}
    if split not in by_op:
        raise PatchError(f"--patches: there is no operator #{split} (the model has {len(g.ops)}).", path=g.path,
                         hint="name an operator index from `tinyml-pio inspect`.")
    out: list[Layer] = []
    layer = by_op[split]
    while True:
        _check_layer(g, layer)
        out.append(layer)
        x = next(t for t in layer.op.inputs if t >= 0 and not g.t(t).is_const)
        if x in g.inputs:
            break
        prod = g.producer(x)
        if prod is None or prod.index not in by_op:
            raise _refuse(g, layer.op, f"its input tensor {x} is neither a graph input nor an operator's output")
        readers = [o.index for o in g.consumers(x)]
        if readers != [layer.op.index] or x in g.outputs:
            raise _refuse(g, layer.op, f"tensor {x} is also read by operator(s) {[r for r in readers if r != layer.op.index]}"
                          " or is a graph output (a branched prefix: residual blocks are not patched yet)")
        layer = by_op[prod.index]
    return out[::-1]


def _refuse(g: Graph, op: Op, why: str) -> PatchError:
    return PatchError(f"cannot run the prefix up to {op.describe()} in patches: {why}.", path=g.path,
                      hint="choose an earlier split operator (`--patches NxM@opK`), --patches auto, or --patches off.")


def _check_layer(g: Graph, layer: Layer) -> None:
    op = layer.op
    acts = [t for t in op.inputs if t >= 0 and not g.t(t).is_const]
    if len(acts) != 1 or len(op.outputs) != 1:
        raise _refuse(g, op, f"{op.type} has {len(acts)} activation inputs (patches need exactly one)")
    x, y = g.t(acts[0]), g.t(op.outputs[0])
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1 or x.itemsize != 1 or y.itemsize != 1:
        raise _refuse(g, op, f"patches need 1-byte NHWC tensors with batch 1, got {list(x.shape)} -> {list(y.shape)}")
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
    else:
        raise _refuse(g, op, f"{op.type} ({layer.func}) has no patch support (supported: CONV_2D, DEPTHWISE_CONV_2D, "
                      "pools, PAD and element-wise lookup-table operators)")


def _axis(layer: Layer, axis: str, o0: int, o1: int, size: int) -> tuple[int, int, int]:
    """Input window [i0, i1) that output rows/cols [o0, o1) read, and the window's leading
    padding (kernel pad_h/pad_w, or PAD's `before`)."""
    p = layer.params
    if layer.func == "tinyml_pad_s8":
        b = p["before"][1 if axis == "h" else 2]
        a, e = o0 - b, o1 - b
    elif layer.func in SIZED:
        return o0, o1, 0
    else:
        s, pad = p[f"stride_{axis}"], p[f"pad_{axis}"]
        d, k = p.get(f"dilation_{axis}", 1), p[f"filter_{axis}"]
        a, e = o0 * s - pad, (o1 - 1) * s - pad + (k - 1) * d + 1
    i0, i1 = max(a, 0), min(e, size)
    return i0, i1, i0 - a


def _windows(g: Graph, prefix: list[Layer], tile: tuple[int, int, int, int]) -> list[tuple[int, int, int, int, int, int]]:
    """Per prefix layer (in order): its input window (r0, r1, c0, c1) and leading paddings (top, left)
    for one tile of the last layer's output."""
    out = []
    r0, r1, c0, c1 = tile
    for layer in reversed(prefix):
        x = g.t(next(t for t in layer.op.inputs if t >= 0 and not g.t(t).is_const))
        i0, i1, pt = _axis(layer, "h", r0, r1, x.shape[1])
        j0, j1, pl = _axis(layer, "w", c0, c1, x.shape[2])
        if i1 <= i0 or j1 <= j0:
            raise _refuse(g, layer.op, f"a tile of the grid reads no input of {layer.op.type} (only its padding)")
        out.append((i0, i1, j0, j1, pt, pl))
        r0, r1, c0, c1 = i0, i1, j0, j1
    return out[::-1]


def _splits(n: int, parts: int) -> list[tuple[int, int]]:
    return [(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def _step(layer: Layer, x: int, x_arg: object, y_arg: object, win: tuple[int, ...], out_hw: tuple[int, int],
          x_shape: tuple[int, ...], y_shape: tuple[int, ...], kernel_scratch: int) -> Layer:
    """The layer's kernel call on one window: params for the window's sizes, pointers into the patch buffers."""
    i0, i1, j0, j1, pt, pl = win
    ih, iw = i1 - i0, j1 - j0
    p = dict(layer.params)
    if layer.func == "tinyml_pad_s8":
        p.update(in_dims=[1, ih, iw, x_shape[3]], out_dims=[1, *out_hw, y_shape[3]],
                 before=[0, pt, pl, p["before"][3]])
    elif layer.func not in SIZED:
        p.update(in_h=ih, in_w=iw, out_h=out_hw[0], out_w=out_hw[1], pad_h=pt, pad_w=pl)
    y = layer.op.outputs[0]
    args: list[object] = []
    for a in layer.args:
        if isinstance(a, TensorArg) and a.tensor == y:
            args.append(y_arg)
        elif isinstance(a, TensorArg) and a.tensor == x and a.const:
            args.append(x_arg)
        elif isinstance(a, ScratchArg):
            args.append(dataclasses.replace(a, offset=kernel_scratch))
        elif a == str(x_shape[1] * x_shape[2] * x_shape[3]) and layer.func in SIZED:
            args.append(str(ih * iw * x_shape[3]))
        else:
            args.append(a)
    return dataclasses.replace(layer, params=p, args=args, steps=[], inplace=None, inplace_func=None,
                               inplace_args=None)


def _tile_copy(op: Op, src: object, dst: object, rows: int, row_bytes: int, src_stride: int, dst_stride: int) -> Layer:
    return Layer(op=op, params=dict(rows=rows, row_bytes=row_bytes, src_stride=src_stride, dst_stride=dst_stride),
                 args=[src, dst], comment="patch window copy", **TILE)


def build_stage(g: Graph, layers: list[Layer], split: int, rows: int, cols: int,
                emit: bool = True) -> tuple[list[Layer], PatchStage]:
    """Replace the prefix up to `split` by one patch-stage layer on a rows x cols grid; `emit=False`
    sizes the stage without generating its kernel calls (the search's estimate)."""
    prefix = chain(g, layers, split)
    first, last = prefix[0], prefix[-1]
    x0 = next(t for t in first.op.inputs if t >= 0 and not g.t(t).is_const)
    y = last.op.outputs[0]
    ys = g.t(y).shape
    if not (1 <= rows <= ys[1] and 1 <= cols <= ys[2]):
        raise _refuse(g, last.op, f"a {rows}x{cols} grid does not fit its {ys[1]}x{ys[2]} output")
    acts = [next(t for t in l.op.inputs if t >= 0 and not g.t(t).is_const) for l in prefix] + [y]
    shapes = [g.t(t).shape for t in acts]
    kernel_scratch = align(max(l.scratch_bytes for l in prefix))
    tiles = [(r0, r1, c0, c1) for r0, r1 in _splits(ys[1], rows) for c0, c1 in _splits(ys[2], cols)]
    per_tile = [_windows(g, prefix, t) for t in tiles]
    # buffer k holds activation k's window; the full-width ones are read/written in place in the
    # full tensors (a window of whole rows is contiguous), so only the others take a slot
    slot = [0, 0]
    for t, wins in zip(tiles, per_tile):
        regions = [w[:4] for w in wins] + [t]
        for k, (r0, r1, c0, c1) in enumerate(regions):
            in_slot = not (k in (0, len(regions) - 1) and c0 == 0 and c1 == shapes[k][2])
            if in_slot:
                slot[k % 2] = max(slot[k % 2], (r1 - r0) * (c1 - c0) * shapes[k][3])
    base = (0, align(slot[0]), align(slot[0]) + align(slot[1]))
    stage_op = Op(index=last.op.index, type="PATCHES", inputs=[x0], outputs=[y],
                  options=dict(split=split, grid=[rows, cols]))
    steps: list[Layer] = []
    macs = 0
    for t, wins in zip(tiles, per_tile):
        regions = [w[:4] for w in wins] + [t]
        macs += sum(l.macs * (o[1] - o[0]) * (o[3] - o[2]) // (s[1] * s[2])
                    for l, o, s in zip(prefix, regions[1:], shapes[1:]))
        if not emit:
            continue
        args = []
        for k, (r0, r1, c0, c1) in enumerate(regions):
            w, c = shapes[k][2:]
            if k in (0, len(regions) - 1) and c0 == 0 and c1 == w:
                args.append(TensorArg(acts[k], const=k == 0, offset=r0 * w * c))
            else:
                args.append(ScratchArg(offset=base[k % 2]))
        r0, r1, c0, c1 = regions[0]
        if isinstance(args[0], ScratchArg):
            w, c = shapes[0][2], shapes[0][3]
            steps.append(_tile_copy(stage_op, TensorArg(x0, offset=(r0 * w + c0) * c), args[0],
                                    r1 - r0, (c1 - c0) * c, w * c, (c1 - c0) * c))
        for k, layer in enumerate(prefix):
            o = regions[k + 1]
            out_hw = (o[1] - o[0], o[3] - o[2])
            x_arg = args[k] if isinstance(args[k], TensorArg) else dataclasses.replace(args[k], const=True)
            steps.append(_step(layer, acts[k], x_arg, args[k + 1], wins[k], out_hw, shapes[k], shapes[k + 1],
                               base[2]))
        r0, r1, c0, c1 = regions[-1]
        if isinstance(args[-1], ScratchArg):
            w, c = shapes[-1][2], shapes[-1][3]
            steps.append(_tile_copy(stage_op, dataclasses.replace(args[-1], const=True),
                                    TensorArg(y, const=False, offset=(r0 * w + c0) * c),
                                    r1 - r0, (c1 - c0) * c, (c1 - c0) * c, w * c))
    layer_macs = sum(l.macs for l in prefix)
    stage = PatchStage(split=split, rows=rows, cols=cols, ops=[l.op.index for l in prefix],
                       slot_bytes=(slot[0], slot[1]), kernel_scratch=kernel_scratch, macs=macs,
                       layer_macs=layer_macs, model_macs=sum(l.macs for l in layers), tiles=tiles)
    fused = Layer(op=stage_op, func="patches", header="tinyml/datamove.h",
                  args=[TensorArg(x0), TensorArg(y, const=False), ScratchArg()],
                  scratch_bytes=stage.scratch_bytes, macs=macs, steps=steps,
                  comment=f"{rows}x{cols} patches of ops {stage.ops[0]}..{split}, MAC overhead {stage.overhead:.1%}")
    in_prefix = set(stage.ops)
    out: list[Layer] = []
    for l in layers:
        if l.op.index == split:
            out.append(fused)
        elif l.op.index not in in_prefix:
            out.append(l)
    return out, stage
