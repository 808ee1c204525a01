"""The one "weights" figure: the flash bytes of the generated model's constant arrays, with its breakdown.

A model's constants show up as different byte counts depending on where one looks: the tensors
in the .tflite file, the tensors the kernels read, the arrays the generator writes (biases with
the input zero point folded in, per-channel requantization, lookup tables, weights repacked for
the optimized kernels). Every front door (inspect, plan, convert, the generated header, `pio run`)
prints this one figure, the generated arrays, and says what it is made of and how it differs
from the file's constants.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from .ir import Graph, Tensor

# per-layer constant arrays (Layer.consts) by name
_KIND = {"w": "weights", "bias": "bias", "mult": "requantization", "shift": "requantization", "q": "requantization"}


@dataclass(frozen=True)
class WeightsFigure:
    """Flash bytes of the generated constants (`total`), by kind, and the file's constant bytes."""

    weights: int  # filter/weight tensors as stored in the file, and weights repacked for a kernel
    bias: int  # int32 tensors of the file, and biases the generator folded
    requantization: int  # per-channel multipliers and shifts (or the optimized kernels' structs)
    tables: int  # lookup tables (softmax, sigmoid/tanh, quantize, ...)
    other: int  # index and size arrays (concatenation sizes, gather indices, resize maps)
    file_bytes: int  # every constant tensor in the .tflite file
    file_not_emitted: int  # file constants no kernel reads as they are: folded, repacked or unused

    @property
    def total(self) -> int:
        return self.weights + self.bias + self.requantization + self.tables + self.other

    def parts(self) -> str:
        """'weights 1,234 + bias 40 + ...': the kinds that are there."""
        kinds = [(k, getattr(self, k)) for k in ("weights", "bias", "requantization", "tables", "other")]
        return " + ".join(f"{k} {v:,}" for k, v in kinds if v) or "none"

    def text(self) -> str:
        """One line: the figure, its parts, and how it relates to the file's constants."""
        line = f"{self.total:,} bytes of flash ({self.parts()})"
        return line + f"; the file's constant tensors: {self.file_bytes:,} bytes" + (
            f", {self.file_not_emitted:,} of them not emitted as they are (folded, repacked or unused)"
            if self.file_not_emitted else "")

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), total=self.total)


def _kind(name: str) -> str:
    if name in _KIND:
        return _KIND[name]
    return "tables" if "table" in name or name.startswith("lut") else "other"


def weights_figure(g: Graph, used: Iterable[Tensor], layers: list[Any]) -> WeightsFigure:
    """The figure for the constant tensors `used` (read by the kernels as they are) and the
    layers' own arrays (Layer.consts; a patch stage's steps share their operator's, counted once)."""
    sums = dict(weights=0, bias=0, requantization=0, tables=0, other=0)
    used_ix = set()
    for t in used:
        used_ix.add(t.index)
        sums["bias" if t.dtype == "int32" else "weights"] += t.nbytes
    seen: set[int] = set()
    for l in layers:
        for x in (l, *l.steps):
            if x.consts and x.op.index not in seen:
                seen.add(x.op.index)
                for name, a in x.consts.items():
                    sums[_kind(name)] += a.nbytes
    const = [t for t in g.tensors if t.is_const]
    return WeightsFigure(**sums, file_bytes=sum(t.nbytes for t in const),
                         file_not_emitted=sum(t.nbytes for t in const if t.index not in used_ix))


def layers_weights(g: Graph, layers: list[Any], exclude: Iterable[int] = ()) -> WeightsFigure:
    """The figure of lowered `layers` (inspect, plan, convert's summary): the constant tensors their
    kernels read (all inputs of an unsupported operator's placeholder) plus their own arrays;
    `exclude`: tensors that live in RAM instead (trained parameters)."""
    from .ops import TensorArg

    used: set[int] = set()
    for l in layers:
        if l.func is None and l.alias is None:  # placeholder for an unsupported operator
            used |= {t for t in l.op.inputs if t >= 0 and g.t(t).is_const}
            continue
        for x in (l, *l.steps):  # a patch stage's steps read their operators' weights
            used |= {a.tensor for a in x.args if isinstance(a, TensorArg) and g.t(a.tensor).is_const}
    return weights_figure(g, [g.t(t) for t in sorted(used - set(exclude))], layers)
