"""Kernel variants: call an optimized kernel where the target CPU has the extension it needs.

Two kinds. A *specializer* (passes/opt.py) rewrites a layer for an optimized kernel with its own
constant layout (folded biases, repacked weights, planned scratch): it is used for every known
microcontroller target, since its kernel compiles to DSP, MVE or plain C by what the compiler
announces, and its label is the best extension the target has ("mve", "dsp", or "opt" for plain
C). A registered *variant* (below) is a drop-in function with the portable kernel's signature.

A variant has the portable kernel's exact signature, parameters and results (bit for bit: it is a
faster way to compute the same integers, never an approximation), so swapping it in changes one
function name per layer and nothing else: not the arguments, the constants, the scratch or the
memory plan. The registry maps a portable function to its variants by CPU feature::

    register_variant("tinyml_fully_connected_s8", "dsp",
                     "tinyml_fully_connected_s8_dsp", "tinyml/arm/fully_connected_dsp.h")

The variant's header must declare the variant *and* include the portable kernel's header (the
parameter struct lives there); its source lives in library/src/kernels/arm/ and must build on every
target (without the extension it forwards to the portable kernel), so a library build never
depends on the CPU.

`apply_variants(layers, target)` is the pass: for each layer (its normal call and, if any, its
in-place call) it picks the variant for the target's best feature (`CpuFeatures.features`, e.g.
MVE before DSP) and records the choice in the layer's comment, which the generated C prints
above the call. A portable target (None, the host) leaves every layer untouched, so host
verification always exercises the portable kernels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..cpu import CpuFeatures
from ..ir import Graph
from ..ops import Layer
from .opt import SPECIALIZERS


@dataclass(frozen=True)
class Variant:
    portable: str  # the portable kernel it replaces
    feature: str  # "dsp", "mve": the CpuFeatures extension it needs
    func: str  # the variant's C function
    header: str  # declares func and includes the portable kernel's header


_REGISTRY: dict[str, dict[str, Variant]] = {}


def register_variant(portable: str, feature: str, func: str, header: str) -> Variant:
    if feature not in ("dsp", "mve"):
        raise ValueError(f"unknown CPU feature '{feature}' (known: dsp, mve)")
    v = Variant(portable, feature, func, header)
    _REGISTRY.setdefault(portable, {})[feature] = v
    return v


def registered_variants() -> list[Variant]:
    return [v for by_feature in _REGISTRY.values() for v in by_feature.values()]


def variant_for(func: str | None, target: CpuFeatures) -> Variant | None:
    """The variant of `func` for the target's best feature that has one, or None (stay portable)."""
    if func is None:
        return None
    by_feature = _REGISTRY.get(func, {})
    for feature in target.features:
        if feature in by_feature:
            return by_feature[feature]
    return None


def specializes(target: CpuFeatures) -> bool:
    """Whether layers are specialized for this target: any known CPU (not the portable host)."""
    return bool(target.cpu) or not target.is_portable


def specialized_label(target: CpuFeatures) -> str:
    return "mve" if target.mve else ("dsp" if target.dsp else "opt")


def apply_variants(layers: list[Layer], target: CpuFeatures | None,
                   graph: Graph | None = None) -> tuple[list[Layer], dict[int, str]]:
    """New layers using the target's variants, and {op index: feature} of the layers that changed.
    Specializers need the graph (weights); without it only drop-in variants apply."""
    target = CpuFeatures.resolve(target)
    if not specializes(target):
        return list(layers), {}
    out: list[Layer] = []
    used: dict[int, str] = {}
    for layer in layers:
        spec = SPECIALIZERS.get(layer.func or "") if graph is not None else None
        special = spec(layer, graph, target) if spec is not None else None
        if special is not None:
            out.append(special)
            used[layer.op.index] = specialized_label(target)
            continue
        main = variant_for(layer.func, target)
        inplace = variant_for(layer.inplace_func, target)
        if main is None and inplace is None:
            out.append(layer)
            continue
        headers = {v.header for v in (main, inplace) if v is not None}
        if len(headers) > 1:
            raise AssertionError(f"variants of one layer need one header, got {sorted(headers)}")
        features = sorted({v.feature for v in (main, inplace) if v is not None})
        note = f"kernel variant: {'+'.join(features)}"
        out.append(dataclasses.replace(
            layer,
            func=main.func if main else layer.func,
            inplace_func=inplace.func if inplace else layer.inplace_func,
            header=headers.pop(),
            comment=(layer.comment + ", " if layer.comment else "") + note,
        ))
        used[layer.op.index] = "+".join(features)
    return out, used


def kernels_label(used: dict[int, str]) -> str:
    """"dsp", "mve+dsp" ... for the variants a model uses; "portable" when it uses none."""
    feats = {f for v in used.values() for f in v.split("+")}
    order = ["mve", "dsp", "opt"]
    return "+".join(f for f in order if f in feats) or "portable"


# ---- drop-in variants ----------------------------------------------------------------------------
# None today: FULLY_CONNECTED's DSP variant gave way to the optimized matrix kernel (passes/opt.py),
# which is faster with the 32-bit requantization and needs no scratch for one batch.
