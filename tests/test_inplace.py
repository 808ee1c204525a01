"""In-place convolutions (TinyEngine-style): DEPTHWISE_CONV_2D with multiplier 1 writes its output over its
input with one channel plane of scratch, a 1x1 stride-1 CONV_2D with one input pixel of scratch (walking
pixels backwards when the output has more channels than the input).

The zoo and the third-party models verify bit-exact against TFLite with the in-place kernels (the planner
uses them by default). Here: the memory figures for person_detect, and hand-made graphs whose in-place
plan is run against the same graph planned without in place (the ordinary kernels, themselves bit-exact
with TFLite), covering growing/shrinking 1x1 convs, groups, batches, strides, dilations and padding.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_or_skip
from tinyml_pio.codegen import generate
from tinyml_pio.hostbuild import HostModel
from tinyml_pio.ir import Graph, Op, Quant, Tensor
from tinyml_pio.ops import ScratchArg, lower_graph
from tinyml_pio.planner import plan_memory

# ------------------------------------------------------------------------------------------------
# person_detect


def test_person_detect_arena_drops_below_the_plain_bound():
    """13 of the 14 depthwise convs (all but the first, multiplier 8) and 13 of the 14 pointwise convs run in
    place (the last 1x1 conv has one pixel: its 256-byte input pixel of scratch would not save anything). 39168 B is what `benchmarks/memory.py
    --what-if-conv-inplace` predicted before the kernels existed; TFLite Micro's arena head is 55296 B."""
    from tinyml_pio.plan_report import layers_for_planning
    from tinyml_pio.tflite_import import load_model

    g = load_model(shared_or_skip("tflm__person_detect.tflite"))
    layers, problems = layers_for_planning(g)
    assert not problems
    plain = plan_memory(g, layers, inplace=False)
    plan = plan_memory(g, layers)
    assert plain.lower_bound == plain.arena_size == 55296  # input + output of the first 1x1 conv
    assert plan.arena_size == plan.lower_bound == 39168 < plain.lower_bound
    by_op = {l.op.index: l for l in layers}
    dw = {i for i, l in by_op.items() if l.op.type == "DEPTHWISE_CONV_2D"}
    pw = {i for i, l in by_op.items() if l.op.type == "CONV_2D"}
    assert len(dw) == 14 and len(pw) == 14
    assert dw - set(plan.inplace_ops) == {0}  # the first one has depth multiplier 8 (1 -> 8 channels)
    assert pw - set(plan.inplace_ops) == {28}
    for i in plan.inplace_ops:  # every in-place conv has its scratch planned
        if i in dw | pw:
            size = next(b.size for b in plan.buffers if b.key == f"s{i}")
            assert size == by_op[i].inplace_scratch_bytes > 0


# ------------------------------------------------------------------------------------------------
# Hand-made graphs


class Net:
    """A tiny int8 graph built directly in the IR (the shapes and options tflite_import would produce)."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.scale: dict[int, float] = {}

    def _q(self, scale: float, zp: int = 0) -> Quant:
        return Quant(np.array([scale], np.float32), np.array([zp], np.int64))

    def _tensor(self, shape, dtype="int8", quant=None, data=None) -> int:
        i = len(self.tensors)
        self.tensors.append(Tensor(i, f"t{i}", tuple(shape), dtype, quant=quant, data=data))
        return i

    def input(self, shape) -> int:
        return self._act(shape, 0.05)

    def _act(self, shape, scale) -> int:
        i = self._tensor(shape, quant=self._q(scale, int(self.rng.integers(-20, 21))))
        self.scale[i] = scale
        return i

    def _weights(self, shape, channels: int, axis: int) -> tuple[int, np.ndarray]:
        w = self.rng.integers(-127, 128, size=shape).astype(np.int8)
        ws = self.rng.uniform(0.005, 0.02, channels).astype(np.float32)
        q = Quant(ws, np.zeros(channels, np.int64), axis=axis)
        return self._tensor(shape, quant=q, data=w), ws

    def _bias(self, channels: int) -> int:
        b = self.rng.integers(-3000, 3000, size=channels).astype(np.int32)
        return self._tensor((channels,), dtype="int32", quant=self._q(1e-4), data=b)

    def _op(self, kind, ins, out_shape, taps, ws, **options) -> int:
        x = ins[0]
        out_scale = float(self.scale[x] * ws.mean() * 135 * np.sqrt(taps))
        y = self._act(out_shape, out_scale)
        options.setdefault("fused_activation_function", "NONE")
        self.ops.append(Op(len(self.ops), kind, list(ins), [y], options))
        return y

    def conv1x1(self, x: int, out_c: int, groups: int = 1, act: str = "NONE") -> int:
        n, h, w, in_c = self.tensors[x].shape
        wt, ws = self._weights((out_c, 1, 1, in_c // groups), out_c, 0)
        return self._op("CONV_2D", [x, wt, self._bias(out_c)], (n, h, w, out_c), in_c // groups, ws,
                        padding="SAME", stride_h=1, stride_w=1, dilation_h_factor=1, dilation_w_factor=1,
                        fused_activation_function=act)

    def depthwise(self, x: int, k=(3, 3), stride=(1, 1), dilation=(1, 1), padding="SAME", act="NONE",
                  bias: bool = True) -> int:
        from tinyml_pio.ops.conv import compute_out_size

        n, h, w, c = self.tensors[x].shape
        oh = compute_out_size(padding, h, k[0], stride[0], dilation[0])
        ow = compute_out_size(padding, w, k[1], stride[1], dilation[1])
        wt, ws = self._weights((1, k[0], k[1], c), c, 3)
        ins = [x, wt, self._bias(c) if bias else -1]
        return self._op("DEPTHWISE_CONV_2D", ins, (n, oh, ow, c), k[0] * k[1], ws, padding=padding,
                        stride_h=stride[0], stride_w=stride[1], dilation_h_factor=dilation[0],
                        dilation_w_factor=dilation[1], depth_multiplier=1, fused_activation_function=act)

    def graph(self, inputs: list[int], outputs: list[int]) -> Graph:
        return Graph(self.tensors, self.ops, inputs, outputs, name="handmade")


def run_both(g: Graph, n_samples: int = 4):
    """Plan with and without in place, generate, build and run both on the same random inputs."""
    layers = lower_graph(g)
    plans = {"inplace": plan_memory(g, layers), "plain": plan_memory(g, layers, inplace=False)}
    rng = np.random.default_rng(1)
    samples = [[rng.integers(-128, 128, size=g.t(t).shape).astype(np.int8) for t in g.inputs]
               for _ in range(n_samples)]
    in_specs = [(g.t(t).shape, np.int8) for t in g.inputs]
    out_specs = [(g.t(t).shape, np.int8) for t in g.outputs]
    results, sources = {}, {}
    with tempfile.TemporaryDirectory(prefix="tinyml-inplace-") as tmp:
        for name, plan in plans.items():
            files = generate(g, layers, plan, "net")
            sources[name] = files["net.c"]
            host = HostModel(files, "net", Path(tmp) / name, in_specs, out_specs)
            results[name] = host.run(samples)
    for a, b in zip(results["inplace"], results["plain"]):
        for x, y in zip(a, b):
            assert np.array_equal(x, y)
            assert len(np.unique(x)) > 8  # not saturated: the test would notice a wrong value
    return layers, plans, sources


def test_1x1_grow_walks_backwards():
    """3 -> 8 channels over 5x7 pixels: output pixel p (bytes 8p .. 8p+7) covers the inputs of pixels
    ~8p/3 .. 8p/3+2; walking forwards would overwrite pixels 1, 2, ... before reading them."""
    net = Net(seed=1)
    x = net.input((1, 5, 7, 3))
    y = net.conv1x1(x, 8)
    g = net.graph([x], [y])
    layers, plans, src = run_both(g)
    layer = layers[0]
    assert layer.inplace == (x, y) and layer.inplace_grow and layer.inplace_scratch_bytes == 3
    plan = plans["inplace"]
    assert plan.inplace_ops == [0]
    assert plan.tensor_offsets[x] == plan.tensor_offsets[y]
    # one 280-byte buffer (input and output share it) plus the 3-byte pixel of scratch
    assert plan.arena_size == 288 + 3 < plans["plain"].arena_size == 112 + 280
    assert "tinyml_conv1x1_inplace_s8(" in src["inplace"] and "tinyml_conv1x1_inplace_s8(" not in src["plain"]


def test_1x1_shrink_walks_forwards_and_groups_and_batches():
    net = Net(seed=2)
    x = net.input((2, 4, 6, 16))
    a = net.conv1x1(x, 5, act="RELU")  # 16 -> 5: shrinks, forwards
    b = net.conv1x1(a, 12)  # 5 -> 12: grows, backwards
    c = net.conv1x1(b, 20, groups=4)  # 3 channels per group -> 5 per group: grows, backwards
    d = net.conv1x1(c, 10, groups=2)  # shrinks, forwards
    g = net.graph([x], [d])
    layers, plans, src = run_both(g)
    assert [l.inplace_grow for l in layers] == [False, True, True, False]
    assert plans["inplace"].inplace_ops == [0, 1, 2, 3]
    assert src["inplace"].count("tinyml_conv1x1_inplace_s8(") == 4


@pytest.mark.parametrize("spec", [
    dict(shape=(1, 10, 14, 16), k=(3, 3), stride=(2, 2)),  # shrinks in place (SAME, pad 0 before, 1 after)
    dict(shape=(1, 11, 9, 12), k=(3, 3), dilation=(2, 2), padding="VALID", act="RELU6"),
    dict(shape=(1, 9, 12, 10), k=(3, 5), stride=(1, 2), act="RELU"),  # rectangular filter and stride
    dict(shape=(1, 7, 7, 24), k=(5, 5), stride=(3, 3), bias=False),
    dict(shape=(1, 8, 8, 9), k=(3, 3), stride=(1, 1), dilation=(3, 2)),
], ids=["s2", "valid-dilated", "rect", "s3-no-bias", "same-dilated"])
def test_depthwise_in_place(spec):
    net = Net(seed=3)
    shape = spec.pop("shape")
    x = net.input(shape)
    y = net.depthwise(x, **spec)
    g = net.graph([x], [y])
    layers, plans, src = run_both(g)
    layer = layers[0]
    assert layer.inplace == (x, y) and not layer.inplace_grow
    assert layer.inplace_scratch_bytes == shape[1] * shape[2]
    assert any(isinstance(a, ScratchArg) for a in layer.inplace_args) and not any(isinstance(a, ScratchArg) for a in layer.args)
    plan = plans["inplace"]
    assert plan.inplace_ops == [0]
    scratch = next(b for b in plan.buffers if b.key == "s0")
    assert scratch.size == shape[1] * shape[2]
    assert plan.arena_size < plans["plain"].arena_size
    assert "tinyml_depthwise_conv2d_inplace_s8(" in src["inplace"]
    assert "tinyml_depthwise_conv2d_inplace_s8(" not in src["plain"]


def test_mobilenet_chain_runs_in_one_buffer():
    """dw s2 (shrinks) -> 1x1 grow -> dw -> 1x1 shrink: every layer in place, the tensors all in one buffer."""
    net = Net(seed=4)
    x = net.input((1, 16, 16, 8))
    a = net.depthwise(x, stride=(2, 2), act="RELU6")
    b = net.conv1x1(a, 24, act="RELU6")
    c = net.depthwise(b, act="RELU6")
    d = net.conv1x1(c, 8)
    g = net.graph([x], [d])
    layers, plans, src = run_both(g)
    plan = plans["inplace"]
    assert plan.inplace_ops == [0, 1, 2, 3]
    assert len({plan.tensor_offsets[t] for t in (x, a, b, c, d)}) == 1
    # largest piece (2048 B input at step 0, 1536 B after the grow) + the 256-byte plane scratch of op 0
    assert plan.arena_size == 2048 + 256 < plans["plain"].arena_size


def test_inplace_only_where_the_kernel_allows_it():
    net = Net(seed=5)
    x = net.input((1, 6, 6, 4))
    y = net.conv1x1(x, 4)
    layers = lower_graph(net.graph([x], [y]))
    assert layers[0].inplace_func == "tinyml_conv1x1_inplace_s8" and not layers[0].inplace_grow
    # a 3x3 conv and a depthwise with multiplier 2 have no in-place kernel
    from tinyml_pio.ops.conv import lower_conv, lower_depthwise

    net = Net(seed=6)
    x = net.input((1, 6, 6, 4))
    wt, ws = net._weights((5, 3, 3, 4), 5, 0)
    y = net._op("CONV_2D", [x, wt, -1], (1, 6, 6, 5), 36, ws, padding="SAME", stride_h=1, stride_w=1)
    g = net.graph([x], [y])
    l = lower_conv(g, g.ops[0])
    assert l.inplace is None and l.inplace_func is None and l.call(True)[0] == "tinyml_conv2d_s8"
    net = Net(seed=7)
    x = net.input((1, 6, 6, 4))
    wt, ws = net._weights((1, 3, 3, 8), 8, 3)
    y = net._op("DEPTHWISE_CONV_2D", [x, wt, -1], (1, 6, 6, 8), 9, ws, padding="SAME", stride_h=1, stride_w=1,
                depth_multiplier=2)
    g = net.graph([x], [y])
    l = lower_depthwise(g, g.ops[0])
    assert l.inplace is None and l.inplace_func is None and l.inplace_scratch_bytes == 0
