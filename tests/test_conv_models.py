"""The awkward CONV_2D / DEPTHWISE_CONV_2D chains of tests/conv_models.py: tflite-runtime loads and runs
each one (it is verify's reference), and the generated C, built for the host, is bit-exact with it."""

from __future__ import annotations

import numpy as np
import pytest

from conv_models import ACTIVATIONS, AWKWARD_CONV, chain_shapes, conv_chain
from tinyml_pio.verify import verify_model

N_INPUTS = 20


@pytest.mark.parametrize("name", sorted(AWKWARD_CONV))
def test_awkward_conv_chain_bit_exact(name, tmp_path):
    path = conv_chain(tmp_path / f"{name}.tflite", **AWKWARD_CONV[name])
    r = verify_model(str(path), n=N_INPUTS, seed=0)
    assert r.reference == "tflite-runtime"  # it loaded and ran the model (no fallback to tflite-micro)
    assert (r.identical, r.total) == (N_INPUTS, N_INPUTS), r.mismatch


@pytest.mark.parametrize("name", sorted(AWKWARD_CONV))
def test_awkward_conv_chain_is_small(name):
    """Small enough for an emulated Cortex-M: under 300k MACs, every tensor under 20 KB."""
    kw = AWKWARD_CONV[name]
    rows = chain_shapes(kw["input_shape"], kw["layers"])
    assert sum(r["macs"] for r in rows) < 300_000
    assert max(int(np.prod(s)) for r in rows for s in (r["input"], r["output"], r["weights"])) < 20_000


def test_awkward_conv_coverage():
    """The chains together still cover the edge cases they are there for."""
    seen: dict[str, set] = {k: set() for k in ("in_c", "out_c", "width", "act", "zp", "batch", "dw_k", "pw", "conv3",
                                               "dw3", "dil", "mult", "flags")}
    for kw in AWKWARD_CONV.values():
        seen["zp"].add(kw["in_zp"])
        for r in chain_shapes(kw["input_shape"], kw["layers"]):
            L, (n, _, w, c), oc = r["layer"], r["input"], r["output"][3]
            seen["in_c"].add(c), seen["out_c"].add(oc), seen["width"].add(w), seen["act"].add(L["act"])
            seen["batch"].add(n)
            seen["flags"] |= {("per_channel", L["per_channel"]), ("bias", L["bias"]), ("extreme", L["extreme"])}
            if L["dilation"] != (1, 1):
                seen["dil"].add(L["op"])
            key = (L["padding"], L["stride"])
            if L["op"] == "conv" and (L["kh"], L["kw"], L["stride"]) == (1, 1, (1, 1)):
                seen["pw"].add(("in", c)), seen["pw"].add(("out", oc))
            elif L["op"] == "conv" and (L["kh"], L["kw"]) == (3, 3):
                seen["conv3"].add(key)
            elif L["op"] == "dw":
                seen["dw_k"].add(L["kh"])
                seen["mult"].add((c if c == 1 else "any", L["mult"]))
                if (L["kh"], L["kw"]) == (3, 3):
                    seen["dw3"].add(key)
            if L["op"] == "conv" and c == 1:
                seen["flags"].add("conv_in1")
    channels = seen["in_c"] | seen["out_c"]
    assert {1, 3, 5, 7, 13, 17, 8, 16, 32} <= channels
    assert {7, 9, 11, 13} <= seen["width"]
    assert {("in", c) for c in (3, 8, 13, 32)} | {("out", c) for c in (1, 2, 5, 16)} <= seen["pw"]
    all_windows = {(p, s) for p in ("SAME", "VALID") for s in ((1, 1), (2, 2))}
    assert all_windows <= seen["conv3"] and all_windows <= seen["dw3"]
    assert {3, 5, 7} <= seen["dw_k"] and {"conv", "dw"} <= seen["dil"]
    assert {("any", 2), (1, 8)} <= seen["mult"]
    assert 2 in seen["batch"] and {-128, 0, 5} <= seen["zp"]
    assert set(ACTIVATIONS) <= seen["act"]
    assert {("per_channel", True), ("per_channel", False), ("bias", False), ("extreme", True),
            "conv_in1"} <= seen["flags"]


def test_conv_without_bias_is_refused(tmp_path):
    """tflite-runtime 2.14's CONV_2D requires a bias (it could not be the reference), so the writer says so."""
    with pytest.raises(ValueError, match="without a bias"):
        conv_chain(tmp_path / "m.tflite", [1, 5, 5, 3], [dict(op="conv", bias=False)])
