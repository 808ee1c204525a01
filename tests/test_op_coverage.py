"""Operators added for issue 13, each as small one-op models over several shapes and options
(tests/op_models.py writes them; tflite-runtime's reference kernels are the reference): the
generated C must be bit-exact with TFLite on every input."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import missing_toolchain
from op_models import Net, coverage_chains
from tinyml_pio.boards import list_boards
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_model

N_INPUTS = 12
Q_IN, Q_OUT = (0.05, 3), (0.05, 3)  # byte-moving ops keep the quantization


def _unary(kind: str, in_shape, out_shapes, consts=(), order=None, in_q=Q_IN, out_q=Q_OUT, out_dtype="int8",
           **options) -> Net:
    """x -> kind(x, *consts) -> outputs; `order` places "x" among the const names (default first)."""
    n = Net()
    n.input("x", in_shape, scale=in_q[0], zp=in_q[1])
    names = []
    for i, c in enumerate(consts):
        names.append(n.const(f"c{i}", c) if not isinstance(c, tuple) else n.const(f"c{i}", c[0], c[1], **c[2]))
    ins = ["x", *names] if order is None else [("x" if o == "x" else names[o]) for o in order]
    outs = []
    for i, s in enumerate(out_shapes):
        kw = dict(scale=out_q[0], zp=out_q[1]) if out_dtype == "int8" else {}
        outs.append(n.tensor(f"y{i}", s, out_dtype, **kw))
    n.op(kind, ins, outs, **options)
    n.outputs = outs
    return n


# tflite-runtime 2.14's BUILTIN_REF resolver has no ELU kernel and a broken int8 SUM
# (tinyml_pio/reference.py); tflite-micro is the reference there
MICRO_REFERENCE = {"ELU", "SUM"}


def _check(net: Net, tmp_path, name: str) -> None:
    path = net.write(tmp_path / f"{name}.tflite", net.outputs)
    r = verify_model(str(path), n=N_INPUTS, seed=1)
    micro = any(kind in MICRO_REFERENCE for kind, *_ in net.ops)
    assert r.reference == ("tflite-micro" if micro else "tflite-runtime")
    assert (r.identical, r.total) == (N_INPUTS, N_INPUTS), r.mismatch


SLICING = {
    "strided_slice_basic": lambda: _unary("STRIDED_SLICE", [1, 8, 6, 5], [[1, 3, 2, 5]],
                                          [[0, 1, 0, 0], [1, 8, 6, 5], [1, 3, 3, 1]]),
    "strided_slice_masks_neg": lambda: _unary("STRIDED_SLICE", [4, 7, 3], [[2, 4, 3]], [[1, -1, 0], [3, 0, 3], [1, -2, 1]],
                                              begin_mask=0, end_mask=2),
    "strided_slice_shrink": lambda: _unary("STRIDED_SLICE", [3, 5, 4], [[5]], [[1, 0, 2], [2, 5, 3], [1, 1, 1]],
                                           shrink_axis_mask=5),
    "strided_slice_partial_spec": lambda: _unary("STRIDED_SLICE", [6, 4, 3], [[2, 4, 3]], [[-3], [-1], [1]]),
    "strided_slice_clamped_reverse": lambda: _unary("STRIDED_SLICE", [9, 2], [[5, 2]], [[20, 0], [-100, 2], [-2, 1]]),
    "slice_4d": lambda: _unary("SLICE", [2, 5, 6, 3], [[1, 3, 4, 2]], [[1, 1, 2, 1], [1, 3, -1, 2]]),
    "slice_1d": lambda: _unary("SLICE", [17], [[9]], [[5], [9]]),
    "depth_to_space_2": lambda: _unary("DEPTH_TO_SPACE", [1, 3, 4, 8], [[1, 6, 8, 2]], block_size=2),
    "depth_to_space_3": lambda: _unary("DEPTH_TO_SPACE", [2, 2, 3, 9], [[2, 6, 9, 1]], block_size=3),
    "space_to_depth_2": lambda: _unary("SPACE_TO_DEPTH", [1, 6, 4, 3], [[1, 3, 2, 12]], block_size=2),
    "space_to_depth_3": lambda: _unary("SPACE_TO_DEPTH", [2, 3, 6, 1], [[2, 1, 2, 9]], block_size=3),
    "split_last": lambda: _unary("SPLIT", [2, 3, 8], [[2, 3, 2]] * 4, [[-1]], order=[0, "x"], num_splits=4),
    "split_first": lambda: _unary("SPLIT", [6, 5], [[3, 5]] * 2, [[0]], order=[0, "x"], num_splits=2),
    "split_v": lambda: _unary("SPLIT_V", [2, 9, 3], [[2, 2, 3], [2, 4, 3], [2, 3, 3]], [[2, -1, 3], [1]],
                              num_splits=3),
    "unpack_mid": lambda: _unary("UNPACK", [2, 3, 4], [[2, 4]] * 3, num=3, axis=1),
    "unpack_neg": lambda: _unary("UNPACK", [3, 2], [[3]] * 2, num=2, axis=-1),
    "gather_axis0": lambda: _unary("GATHER", [5, 4], [[7, 4]], [[4, 0, 0, 2, 1, 3, 4]], axis=0),
    "gather_axis1_2d_idx": lambda: _unary("GATHER", [2, 6, 3], [[2, 2, 2, 3]], [[[5, 1], [0, 5]]], axis=1),
    "gather_last_int64": lambda: _unary("GATHER", [3, 4], [[3, 3]], [([3, 3, 0], "int64", {})], axis=-1),
}


@pytest.mark.parametrize("name", sorted(SLICING))
def test_slicing_ops_bit_exact(name, tmp_path):
    _check(SLICING[name](), tmp_path, name)


@pytest.mark.parametrize("axis,shape", [(0, [3, 4]), (1, [2, 5]), (2, [2, 3])])
def test_pack_bit_exact(axis, shape, tmp_path):
    n = Net()
    xs = [n.input(f"x{i}", shape, scale=0.05, zp=3) for i in range(3)]
    y = n.tensor("y", shape[:axis] + [3] + shape[axis:], scale=0.05, zp=3)
    n.op("PACK", xs, [y], values_count=3, axis=axis)
    n.outputs = [y]
    _check(n, tmp_path, f"pack{axis}")


def _binary(kind: str, s1, s2, so, q1=(0.05, 3), q2=(0.07, -5), qo=(0.09, 2), const2=None, **options) -> Net:
    n = Net()
    a = n.input("a", s1, scale=q1[0], zp=q1[1])
    if const2 is None:
        b = n.input("b", s2, scale=q2[0], zp=q2[1])
    else:
        b = n.const("b", np.asarray(const2, np.int8).reshape(s2), "int8", scale=q2[0], zp=q2[1])
    y = n.tensor("y", so, scale=qo[0], zp=qo[1])
    n.op(kind, [a, b], [y], **options)
    n.outputs = [y]
    return n


ALPHA = np.random.default_rng(5).integers(-128, 128, size=64)
BINARY = {
    "sub_same": lambda: _binary("SUB", [2, 3, 4], [2, 3, 4], [2, 3, 4], fused_activation_function=0),
    "sub_broadcast_relu": lambda: _binary("SUB", [2, 3, 4], [1, 3, 1], [2, 3, 4], fused_activation_function=1),
    "sub_broadcast_5d": lambda: _binary("SUB", [2, 1, 3, 2, 2], [1, 2, 1, 2, 1], [2, 2, 3, 2, 2], q2=(0.2, 0),
                                        qo=(0.3, -7), fused_activation_function=3),
    "sub_const_scalar": lambda: _binary("SUB", [4, 5], [1], [4, 5], const2=[17], qo=(0.02, 0),
                                        fused_activation_function=0),
    "sqdiff_same": lambda: _binary("SQUARED_DIFFERENCE", [3, 7], [3, 7], [3, 7], qo=(0.2, -128)),
    "sqdiff_broadcast": lambda: _binary("SQUARED_DIFFERENCE", [1, 4, 4, 3], [1, 1, 1, 3], [1, 4, 4, 3], q1=(0.1, -2),
                                        q2=(0.03, 10), qo=(0.05, -100)),
    "prelu_channel_alpha": lambda: _binary("PRELU", [1, 4, 4, 3], [1, 1, 3], [1, 4, 4, 3], q2=(0.004, 0),
                                           const2=ALPHA[:3]),
    "prelu_full_alpha": lambda: _binary("PRELU", [2, 5, 6], [2, 5, 6], [2, 5, 6], q1=(0.02, -10), q2=(0.01, 5),
                                        qo=(0.03, 7), const2=np.resize(ALPHA, 60)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_bit_exact(name, tmp_path):
    _check(BINARY[name](), tmp_path, name)


UNARY = {
    "elu": lambda: _unary("ELU", [4, 64], [[4, 64]], in_q=(0.04, 10), out_q=(0.03, -90)),
    "elu_wide": lambda: _unary("ELU", [256], [[256]], in_q=(0.1, -20), out_q=(0.1, -118)),
    "rsqrt": lambda: _unary("RSQRT", [4, 64], [[4, 64]], in_q=(0.05, -128), out_q=(0.02, -128)),
    "rsqrt_small_scale": lambda: _unary("RSQRT", [256], [[256]], in_q=(0.0004, -128), out_q=(0.5, -128)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_bit_exact(name, tmp_path):
    _check(UNARY[name](), tmp_path, name)


REDUCE = {
    "sum_last": lambda: _unary("SUM", [3, 4, 10], [[3, 4]], [[-1]], in_q=(0.05, 3), out_q=(0.3, -4), keep_dims=False),
    "sum_hw_keep": lambda: _unary("SUM", [1, 5, 6, 3], [[1, 1, 1, 3]], [[1, 2]], in_q=(0.02, -128), out_q=(0.5, -100),
                                  keep_dims=True),
    "sum_all_axes_keep": lambda: _unary("SUM", [4, 6], [[1, 1]], [[0, 1]], in_q=(0.01, 7), out_q=(0.4, 0), keep_dims=True),
    "sum_same_quant": lambda: _unary("SUM", [2, 3, 4], [[2, 4]], [[1]]),
    "reduce_max_last": lambda: _unary("REDUCE_MAX", [2, 3, 7], [[2, 3]], [[2]]),
    "reduce_max_hw_keep": lambda: _unary("REDUCE_MAX", [2, 4, 5, 3], [[2, 1, 1, 3]], [[1, -2]], keep_dims=True),
    "reduce_max_size1_gap": lambda: _unary("REDUCE_MAX", [3, 1, 4, 2], [[3, 2]], [[1, 2]]),
    "reduce_max_all": lambda: _unary("REDUCE_MAX", [5, 7], [[]], [[0, 1]]),
    "arg_max_last_i32": lambda: _unary("ARG_MAX", [3, 10], [[3]], [[1]], out_dtype="int32", output_type=2),
    "arg_max_first_i64": lambda: _unary("ARG_MAX", [4, 3, 2], [[3, 2]], [[0]], out_dtype="int64", output_type=4),
    "arg_min_mid_i32": lambda: _unary("ARG_MIN", [2, 5, 3], [[2, 3]], [[-2]], out_dtype="int32", output_type=2),
}


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_reduce_ops_bit_exact(name, tmp_path):
    _check(REDUCE[name](), tmp_path, name)


def test_arg_max_picks_the_first_of_tied_values(tmp_path):
    """int8 inputs over a wide axis tie often: the lowest index must win, as in TFLite."""
    _check(_unary("ARG_MAX", [8, 200], [[8]], [[1]], out_dtype="int32", output_type=2), tmp_path, "ties")


L2 = (1 / 128, 0)
NORM = {
    "l2norm_rows": lambda: _unary("L2_NORMALIZATION", [6, 16], [[6, 16]], in_q=(0.05, 3), out_q=L2),
    "l2norm_4d": lambda: _unary("L2_NORMALIZATION", [1, 3, 3, 5], [[1, 3, 3, 5]], in_q=(0.1, -128), out_q=L2),
    "l2norm_depth1": lambda: _unary("L2_NORMALIZATION", [7, 1], [[7, 1]], in_q=(0.02, 0), out_q=L2),
    "l2norm_wide": lambda: _unary("L2_NORMALIZATION", [2, 1000], [[2, 1000]], in_q=(0.02, 1), out_q=L2),
}


@pytest.mark.parametrize("name", sorted(NORM))
def test_l2_normalization_bit_exact(name, tmp_path):
    _check(NORM[name](), tmp_path, name)



CASTS = {
    "cast_s8_s32": lambda: _unary("CAST", [3, 5], [[3, 5]], out_dtype="int32"),
    "cast_s8_f32": lambda: _unary("CAST", [70], [[70]], out_dtype="float32"),
    "cast_s8_s16": lambda: _unary("CAST", [2, 2, 9], [[2, 2, 9]], out_dtype="int16"),
}


@pytest.mark.parametrize("name", sorted(CASTS))
def test_cast_bit_exact(name, tmp_path):
    _check(CASTS[name](), tmp_path, name)



def _matmul(sa, sb, so, const_b=False, **options) -> Net:
    n = Net()
    a = n.input("a", sa, scale=0.05, zp=3)
    if const_b:
        b = n.const("b", np.random.default_rng(2).integers(-127, 128, size=sb), "int8", scale=0.02, zp=0)
    else:
        b = n.input("b", sb, scale=0.04, zp=-6)
    y = n.tensor("y", so, scale=0.6, zp=-2)
    n.op("BATCH_MATMUL", [a, b], [y], **options)
    n.outputs = [y]
    return n


MATMUL = {
    "bmm_2d": lambda: _matmul([5, 7], [7, 3], [5, 3]),
    "bmm_batched_adj_y": lambda: _matmul([2, 4, 6], [2, 5, 6], [2, 4, 5], adj_y=True),
    "bmm_adj_x_const": lambda: _matmul([3, 6, 4], [6, 2], [3, 4, 2], const_b=True, adj_x=True),
    "bmm_broadcast_4d": lambda: _matmul([2, 1, 3, 5], [1, 3, 5, 4], [2, 3, 3, 4]),
}


@pytest.mark.parametrize("name", sorted(MATMUL))
def test_batch_matmul_bit_exact(name, tmp_path):
    _check(MATMUL[name](), tmp_path, name)


def _tconv(in_shape, oc, k, stride, padding, per_channel=True, bias=True, act=0) -> Net:
    rng = np.random.default_rng(sum(in_shape) + oc + k)
    n_, ih, iw, ic = in_shape
    if padding == "SAME":
        oh, ow = ih * stride, iw * stride
    else:
        oh, ow = (ih - 1) * stride + k, (iw - 1) * stride + k
    n = Net()
    x = n.input("x", in_shape, scale=0.05, zp=-7)
    scales = rng.uniform(0.005, 0.02, oc) if per_channel else np.array([0.01])
    wt = n.tensor("w", [oc, k, k, ic], "int8", scale=scales, zp=np.zeros(scales.size, np.int64).tolist(),
                  data=rng.integers(-127, 128, size=(oc, k, k, ic)))
    n.tables.tensors[n.names[wt]]["qdim"] = 0
    ins = [n.const("shape", [n_, oh, ow, oc]), wt, x]
    if bias:
        ins.append(n.tensor("bias", [oc], "int32", scale=0.05 * scales, zp=[0] * scales.size,
                            data=rng.integers(-2000, 2000, size=oc)))
    y = n.tensor("y", [n_, oh, ow, oc], scale=0.15, zp=4)
    n.op("TRANSPOSE_CONV", ins, [y], padding={"SAME": 0, "VALID": 1}[padding], stride_w=stride, stride_h=stride,
         fused_activation_function=act)
    n.outputs = [y]
    return n


TCONV = {
    "tconv_same_s2": lambda: _tconv([1, 4, 5, 3], 4, 3, 2, "SAME"),
    "tconv_valid_s2": lambda: _tconv([2, 3, 3, 2], 5, 3, 2, "VALID", act=1),
    "tconv_same_s1_per_tensor": lambda: _tconv([1, 5, 4, 6], 3, 3, 1, "SAME", per_channel=False),
    "tconv_valid_s3_k2_nobias": lambda: _tconv([1, 3, 4, 1], 2, 2, 3, "VALID", bias=False),
}


@pytest.mark.parametrize("name", sorted(TCONV))
def test_transpose_conv_bit_exact(name, tmp_path):
    _check(TCONV[name](), tmp_path, name)


# ---- every new operator in a model run on every emulated board ------------------------------------

NEW_OPS = {"SUB", "SQUARED_DIFFERENCE", "PRELU", "RSQRT", "ELU", "SUM", "REDUCE_MAX", "ARG_MAX", "ARG_MIN",
           "STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "PACK", "UNPACK", "GATHER", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH",
           "L2_NORMALIZATION", "CAST", "BATCH_MATMUL", "TRANSPOSE_CONV",
           "FULLY_CONNECTED"}  # FULLY_CONNECTED: its 16x8 version
EMULATED = [b.id for b in list_boards() if b.id.startswith("qemu_")]
needs_qemu = pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None,
                                reason=str(missing_toolchain("tflite_runtime")))


@pytest.fixture(scope="module")
def chains(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("op-chains")
    fc16 = _fc16_float_io(seed=7).write(d / "fc_16x8.tflite", ["yf"])
    return {**coverage_chains(d), "fc_16x8": fc16}


def test_chains_cover_every_new_operator(chains):
    seen = {l.op.type for p in chains.values() for l in compile_model(p, "m").layers}
    assert NEW_OPS <= seen, NEW_OPS - seen


@pytest.mark.parametrize("name", ["ops_chain_runtime", "ops_chain_micro"])
def test_chains_bit_exact_on_host(name, chains):
    r = verify_model(str(chains[name]), n=N_INPUTS, seed=2)
    assert r.reference == ("tflite-micro" if name.endswith("micro") else "tflite-runtime")
    assert r.ok, r.mismatch


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
@pytest.mark.parametrize("name", ["ops_chain_runtime", "ops_chain_micro", "fc_16x8"])
def test_chains_bit_exact_in_qemu(name, board, chains, hil_env):
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    c = compile_model(chains[name], "model", target=target.cpu)
    rec = run_on_target(c, target, n_inputs=4, seed=3)
    assert rec["identical"] == rec["inputs"] == 4, f"{name} on {board}: {rec['bit_exact']}"


# ---- constant folding ---------------------------------------------------------------------------

def test_shape_arithmetic_and_fill_are_folded(tmp_path):
    """SHAPE -> STRIDED_SLICE -> MUL -> PACK -> RESHAPE (a converter's dynamic reshape) and FILL of a
    constant feeding an ADD: no kernel for the folded operators, bit-exact with TFLite."""
    from tinyml_pio.inspect import inspect_model

    n = Net()
    x = n.input("x", [2, 4, 6], scale=0.05, zp=3)
    n.op("SHAPE", [x], [n.tensor("shape", [3], "int32")], out_type=2)
    n.op("STRIDED_SLICE", ["shape", n.const("b", [1]), n.const("e", [2]), n.const("s", [1])],
         [n.tensor("h", [], "int32")], shrink_axis_mask=1)
    n.op("MUL", ["h", n.const("six", 6)], [n.tensor("h6", [], "int32")], fused_activation_function=0)
    n.op("PACK", [n.const("two", 2), "h6"], [n.tensor("new_shape", [2], "int32")], values_count=2, axis=0)
    n.op("RESHAPE", [x, "new_shape"], [n.tensor("flat", [2, 24], scale=0.05, zp=3)])
    n.op("FILL", [n.const("dims", [2, 24]), n.const("v", np.array(40, np.int8), "int8", scale=0.05, zp=3)],
         [n.tensor("bias", [2, 24], scale=0.05, zp=3)])
    n.op("ADD", ["flat", "bias"], [n.tensor("y", [2, 24], scale=0.08, zp=-4)], fused_activation_function=0)
    n.outputs = ["y"]
    path = n.write(tmp_path / "fold.tflite", n.outputs)
    c = compile_model(path, "m")
    assert [l.op.type for l in c.layers] == ["RESHAPE", "ADD"]
    assert c.graph.folded == {0, 1, 2, 3, 5}
    assert "(folded" in inspect_model(str(path))
    _check(n, tmp_path, "fold")


# ---- float tails ------------------------------------------------------------------------------------

def test_float_tail_bit_exact_on_host(tmp_path):
    """Every float32 kernel after a DEQUANTIZE: the host build (glibc, TFLite's libm) is bit-exact."""
    from op_models import float_tail

    c = compile_model(float_tail(tmp_path), "m")
    assert {l.func for l in c.layers} >= {"tinyml_softmax_f32", "tinyml_log_softmax_f32", "tinyml_tanh_f32",
                                           "tinyml_logistic_f32", "tinyml_add_f32", "tinyml_mul_f32",
                                           "tinyml_fully_connected_f32", "tinyml_mean_f32", "tinyml_concat_f32"}
    r = verify_model(str(float_tail(tmp_path)), n=N_INPUTS, seed=4)
    assert (r.identical, r.total, r.max_ulp) == (N_INPUTS, N_INPUTS, 0), r.mismatch


@pytest.mark.parametrize("kind,options", [("LOG_SOFTMAX", {}), ("SOFTMAX", {"beta": 0.5}), ("TANH", {}),
                                          ("LOGISTIC", {})])
def test_pytorch_style_dequantize_then_float_op(kind, options, tmp_path):
    n = Net()
    x = n.input("x", [3, 40], scale=0.3, zp=-1)  # wide range: LOGISTIC's cutoffs and large exps are reached
    n.op("DEQUANTIZE", [x], [n.tensor("f", [3, 40], "float32")])
    n.op(kind, ["f"], [n.tensor("y", [3, 40], "float32")], **options)
    n.outputs = ["y"]
    path = n.write(tmp_path / "tail.tflite", n.outputs)
    r = verify_model(str(path), n=N_INPUTS, seed=5)
    assert (r.identical, r.max_ulp) == (N_INPUTS, 0), r.mismatch


def test_float_ulps():
    from tinyml_pio.verify import float_ulps

    a = np.array([1.0, -2.0, 0.0, np.nan], np.float32)
    b = a.copy()
    assert float_ulps([a], [b]) == 0
    b[0] = np.nextafter(np.float32(1.0), np.float32(2.0))
    b[1] = np.nextafter(np.nextafter(np.float32(-2.0), np.float32(0)), np.float32(0))
    assert float_ulps([a], [b]) == 2
    assert float_ulps([np.array([-0.0], np.float32)], [np.array([np.float32(1e-45)], np.float32)]) == 1
    assert float_ulps([np.array([1, 2], np.int8)], [np.array([1, 3], np.int8)]) is None
    assert float_ulps([a, np.array([1], np.int8)], [a, np.array([1], np.int8)]) == 0


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
def test_float_tail_in_qemu(board, tmp_path, hil_env):
    """On a board the libm is newlib's: integer outputs identical, float outputs identical or within
    FLOAT_ULP_BOUND (the record says how far)."""
    from op_models import float_tail
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    rec = run_on_target(compile_model(float_tail(tmp_path), "model", target=target.cpu), target, n_inputs=4, seed=3)
    assert rec["identical"] + rec["float_within_bound"] == rec["inputs"] == 4, rec
    print(f"{board}: {rec['identical']}/4 identical, largest float difference {rec['max_float_ulp']} ULP")


# ---- refusals name the closest supported operator -----------------------------------------------------

def test_alternatives_are_supported_operators():
    from tinyml_pio.ops import supported_ops
    from tinyml_pio.ops.alternatives import ALTERNATIVES

    supported = set(supported_ops()) | {"FILL"}  # FILL: folded, never lowered
    for op_type, (uses, _) in ALTERNATIVES.items():
        assert op_type not in supported, f"{op_type} is supported now: drop it from ALTERNATIVES"
        assert set(uses) <= supported, (op_type, set(uses) - supported)


def test_inspect_lists_every_unsupported_operator_with_its_alternative(tmp_path):
    from tinyml_pio.inspect import inspect_model

    n = Net()
    x = n.input("x", [1, 4, 4, 2])
    n.op("NEG", [x], [n.tensor("neg", [1, 4, 4, 2])])
    n.op("ABS", ["neg"], [n.tensor("abs", [1, 4, 4, 2])])
    n.op("RESIZE_BILINEAR", ["abs", n.const("size", [8, 8])], [n.tensor("y", [1, 8, 8, 2])])
    path = n.write(tmp_path / "refused.tflite", ["y"])
    text = inspect_model(str(path))
    assert "cannot compile: 3 problem(s)" in text
    for i, (kind, alt) in enumerate([("NEG", "SUB from zero"), ("ABS", "MAXIMUM of x and 0 - x"),
                                     ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")]):
        line = next(l for l in text.splitlines() if f"operator #{i} ({kind})" in l)
        assert f"closest supported alternative: {alt}" in line, line


# ---- 16x8 -----------------------------------------------------------------------------------------------

def _fc16(batches, depth, out_depth, per_channel, bias, act=0, seed=0) -> Net:
    rng = np.random.default_rng(seed)
    n = Net()
    x = n.input("x", [batches, depth], "int16", scale=0.001, zp=0)
    scales = rng.uniform(0.002, 0.02, out_depth) if per_channel else np.array([0.01])
    w = n.tensor("w", [out_depth, depth], "int8", scale=scales, zp=[0] * scales.size,
                 data=rng.integers(-127, 128, size=(out_depth, depth)))
    ins = [x, w]
    if bias:
        ins.append(n.tensor("b", [out_depth], "int64", data=rng.integers(-200000, 200000, size=out_depth)))
    y = n.tensor("y", [batches, out_depth], "int16", scale=0.002 * np.sqrt(depth), zp=0)
    n.op("FULLY_CONNECTED", ins, [y], fused_activation_function=act)
    n.outputs = [y]
    return n


@pytest.mark.parametrize("kw", [dict(batches=1, depth=16, out_depth=8, per_channel=False, bias=True),
                                dict(batches=3, depth=7, out_depth=5, per_channel=True, bias=True, act=1),
                                dict(batches=2, depth=250, out_depth=3, per_channel=True, bias=False, act=3)],
                         ids=["per_tensor", "per_channel_relu", "wide_nobias_relu6"])
def test_fully_connected_16x8_bit_exact(kw, tmp_path):
    _check(_fc16(**kw), tmp_path, "fc16")


def _fc16_float_io(seed: int = 3) -> Net:
    """A float model quantized 16x8: QUANTIZE float -> int16, FULLY_CONNECTED 16x8, DEQUANTIZE int16 -> float."""
    n = _fc16(batches=2, depth=12, out_depth=4, per_channel=True, bias=True, act=1, seed=seed)
    n.inputs = []
    n.input("xf", [2, 12], "float32")
    n.ops.insert(0, ("QUANTIZE", ["xf"], ["x"], {}))
    n.op("DEQUANTIZE", ["y"], [n.tensor("yf", [2, 4], "float32")])
    n.outputs = ["yf"]
    return n


def test_16x8_model_with_float_io(tmp_path):
    n = _fc16_float_io()
    c = compile_model(n.write(tmp_path / "q16.tflite", n.outputs), "m")
    assert [l.func for l in c.layers] == ["tinyml_quantize_f32_s16", "tinyml_fully_connected_s16",
                                          "tinyml_dequantize_s16_f32"]
    _check(n, tmp_path, "q16")
