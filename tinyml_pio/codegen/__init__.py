"""Fill the jinja2 templates: one header (API + shape/quantization macros) and one source per model."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from .. import __version__
from ..errors import TinymlError
from ..ir import DTYPES, Graph, Tensor
from ..ops import ConstArg, Layer, ScratchArg, TensorArg, TensorListArg
from ..planner import Plan
from ..weights import weights_figure
from .placement import ArenaPlacement
from ..custom_ops import CustomOpArg
from .custom import descriptor, descriptor_name

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Bool _Complex _Imaginary".split())


def c_comment(text: object) -> str:
    """Text from the model (tensor names, file names) made safe inside a /* ... */ comment."""
    s = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return s.replace("*/", "*\\/").replace("/*", "/\\*").replace("??", "?\\?")


def c_string(text: object) -> str:
    """Text from the model made safe inside a C string literal (escapes, no trigraphs)."""
    out = []
    for ch in str(text):
        if ch in '\\"?':
            out.append("\\" + ch)
        elif ch.isascii() and ch.isprintable():
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode())
    return "".join(out)


_ENV.filters["c_comment"] = c_comment
_ENV.filters["c_string"] = c_string


def check_prefix(prefix: str) -> str:
    """A model prefix must be a C identifier whose names cannot collide with C or the library."""
    if not _C_IDENT.match(prefix):
        raise TinymlError(f"prefix '{prefix}' is not a valid C identifier.",
                          hint="use letters, digits and '_' only, not starting with a digit (e.g. --prefix kws).")
    if prefix in _C_KEYWORDS:
        raise TinymlError(f"prefix '{prefix}' is a C keyword.", hint="choose another prefix (e.g. --prefix kws).")
    if prefix.upper().startswith("TINYML"):
        raise TinymlError(f"prefix '{prefix}' starts with 'tinyml', which the kernel library reserves for its own names.",
                          hint="choose another prefix (e.g. --prefix kws).")
    return prefix


def c_literal(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        v = int(v)
        if v == -(1 << 31):
            return "INT32_MIN"
        return str(v)
    if isinstance(v, (float, np.floating)):
        f = np.float32(v)
        if not np.isfinite(f):
            return "INFINITY" if f > 0 else ("-INFINITY" if f < 0 else "NAN")
        text = "%.9g" % float(f)
        if "." not in text and "e" not in text and "inf" not in text:
            text += ".0"
        return text + "f"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(c_literal(x) for x in v) + "}"
    return str(v)


def c_array_body(data: np.ndarray, per_line: int = 16) -> str:
    flat = np.asarray(data).reshape(-1)
    if flat.dtype.kind == "f":
        items = [c_literal(x) for x in flat]
    else:  # c_literal of each integer, vectorized (a 1 MB model has a million of them)
        wide = flat.astype(np.int64)
        items = wide.astype(str).tolist()
        for i in np.flatnonzero(wide == -(1 << 31)):
            items[i] = "INT32_MIN"
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "    " + ",\n    ".join(lines) if lines else "    0"


def _ctype_of(arr: np.ndarray) -> str:
    for name, (ctype, npt) in DTYPES.items():
        if np.dtype(npt) == arr.dtype and name != "bool":
            return ctype
    raise TypeError(f"no C type for {arr.dtype}")


@dataclass
class _Ctx:
    graph: Graph
    plan: Plan
    prefix: str
    trainable: frozenset[int] = frozenset()  # constant tensors that live in the params struct (RAM)
    trainable_consts: frozenset[tuple[int, str]] = frozenset()  # (op index, const name) likewise

    def tensor_ptr(self, t: Tensor, const: bool) -> str:
        if t.is_const:
            if t.index in self.trainable:
                return f"{self.prefix}_params_data.w{t.index}"
            return f"{self.prefix}_w{t.index}"
        q = "const " if const else ""
        if t.variable:
            return f"({q}{t.ctype} *)({self.prefix}_state + {self.plan.state_offsets[t.index]})"
        return f"({q}{t.ctype} *)({self.prefix}_arena + {self.plan.tensor_offsets[t.index]})"


def _calls(ctx: _Ctx, layers: list[Layer], plan: Plan, weights: dict[int, Tensor]) -> list[dict[str, Any]]:
    """One entry per kernel call in the plan's order, its arguments rendered; collects the flash
    weights the calls read into `weights`."""
    g, prefix = ctx.graph, ctx.prefix
    calls = []
    inplace = set(plan.inplace_ops)
    for layer in plan.ordered(layers):  # execution order chosen by the planner
        in_place = layer.op.index in inplace
        func, layer_args = layer.call(in_place)
        if in_place:
            ti, to = layer.inplace or (-1, -1)
            if plan.tensor_offsets.get(ti) != plan.tensor_offsets.get(to):
                raise AssertionError(f"planner bug: op {layer.op.index} runs in place but its input and output "
                                     "start at different offsets")
            if func != layer.func:  # a dedicated in-place kernel: say so next to the call
                layer = dataclasses.replace(layer, func=func, comment=(layer.comment + ", " if layer.comment else "")
                                            + "in place")
        args = _render_args(ctx, layer, layer_args, weights)
        if layer.params_type:
            args.insert(0, f"&{prefix}_l{layer.op.index}_p")
        consts = _consts(ctx, layer)
        if any(isinstance(a, CustomOpArg) for a in layer_args):
            consts.append(descriptor(ctx, layer, weights))
        steps = []
        seen: set[int] = set()
        for k, st in enumerate(layer.steps):  # a patch stage: its kernel calls, each with its own params
            name = f"{prefix}_l{layer.op.index}_s{k}"
            steps.append(dict(func=st.func.replace("{prefix}", prefix), params_type=st.params_type, name=name,
                              params=[(key, c_literal(v)) for key, v in st.params.items()],
                              args=[f"&{name}", *_render_args(ctx, st, st.args, weights, layer.op.index)]))
            if st.consts and st.op.index not in seen:
                seen.add(st.op.index)
                consts += _consts(ctx, st)
        outs = [g.t(t) for t in layer.op.outputs]
        calls.append(dict(
            layer=layer,
            op=layer.op,
            args=args,
            consts=consts,
            params=[(k, c_literal(v)) for k, v in layer.params.items()],
            ins=", ".join(f"t{t} {list(g.t(t).shape)}" for t in layer.op.inputs if t >= 0 and not g.t(t).is_const),
            outs=[(t.index, ctx.tensor_ptr(t, True), t.nbytes) for t in outs],
            steps=steps,
        ))
    return calls


def _render_args(ctx: _Ctx, layer: Layer, layer_args: list[Any], weights: dict[int, Tensor],
                 scratch_op: int | None = None) -> list[str]:
    """C expressions for a kernel call's arguments; ScratchArgs point into `scratch_op`'s scratch
    (the layer's own unless it is a step of a patch stage)."""
    g, prefix, plan = ctx.graph, ctx.prefix, ctx.plan
    args = []
    for a in layer_args:
        if isinstance(a, TensorArg):
            t = g.t(a.tensor)
            if t.is_const:
                weights[t.index] = t
            ptr = ctx.tensor_ptr(t, a.const)
            args.append(f"({ptr} + {a.offset})" if a.offset else ptr)
        elif isinstance(a, TensorListArg):
            ts = [g.t(i) for i in a.tensors]
            for t in ts:
                if t.is_const:
                    weights[t.index] = t
            ctype = ts[0].ctype
            q = "const " if a.const else ""
            args.append(f"({q}{ctype} *const[]){{" + ", ".join(ctx.tensor_ptr(t, a.const) for t in ts) + "}")
        elif isinstance(a, ConstArg):
            name = (f"{prefix}_params_data.l{layer.op.index}_{a.name}"
                    if (layer.op.index, a.name) in ctx.trainable_consts else f"{prefix}_l{layer.op.index}_{a.name}")
            args.append(f"({a.cast}){name}" if a.cast else name)
        elif isinstance(a, CustomOpArg):
            args.append(descriptor_name(prefix, layer))
        elif isinstance(a, ScratchArg):
            op = layer.op.index if scratch_op is None else scratch_op
            q = "const " if a.const else ""
            args.append(f"({q}{a.ctype} *)({prefix}_arena + {plan.scratch_offsets[op] + a.offset})")
        else:
            args.append(str(a))
    return args


def _consts(ctx: _Ctx, layer: Layer) -> list[dict[str, Any]]:
    """The layer's constant arrays (not the trainable ones, which live in the params struct)."""
    return [
        dict(name=f"{ctx.prefix}_l{layer.op.index}_{n}", ctype=_ctype_of(arr), size=max(arr.size, 1),
             body=c_array_body(arr))
        for n, arr in layer.consts.items() if (layer.op.index, n) not in ctx.trainable_consts
    ]


def _train_env(g: Graph, plan: Plan, train: Any, prefix: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """What the training section of the templates needs: the params struct, the schedule, where
    the input moves from (inference plan) to (training plan)."""
    from ..training.spec import ROUNDINGS

    fields = [dict(key=p.key, ctype=DTYPES[p.dtype][0], size=max(p.data.size, 1), role=p.role, op=p.op,
                   body=c_array_body(p.data)) for p in train.params]
    x = g.inputs[0]
    return dict(
        fields=fields,
        calls=calls,
        arena_size=train.plan.arena_size,
        params_bytes=train.params_bytes,
        loss=train.loss,
        rounding=ROUNDINGS.index(train.spec.rounding),
        rounding_name=train.spec.rounding,
        qas=train.spec.qas,
        momentum=c_literal(float(train.spec.momentum)),
        scheme=train.spec.text,
        target_size=g.t(train.loss_tensor).size,
        input_from=plan.tensor_offsets[x],
        input_to=train.plan.tensor_offsets[x],
        input_bytes=g.t(x).nbytes,
    )


def _state_env(g: Graph, plan: Plan) -> list[dict[str, Any]]:
    """The state tensors and their initial values (TFLite's ResetVariableTensor: an int8 tensor's
    zero point, zero otherwise)."""
    res = []
    for ti, off in sorted(plan.state_offsets.items(), key=lambda kv: kv[1]):
        t = g.t(ti)
        init = t.quant.zp if t.dtype == "int8" and t.quant is not None else 0
        res.append(dict(index=ti, ctype=t.ctype, dtype=t.dtype, shape=list(t.shape), size=t.size, offset=off,
                        init=c_literal(float(init)) if t.dtype == "float32" else init))
    return res


def generate(g: Graph, layers: list[Layer], plan: Plan, prefix: str, kernels: str = "",
             train: Any = None, labels: list[str] | None = None,
             arena: ArenaPlacement | None = None) -> dict[str, str]:
    """Return {filename: text} for `<prefix>.h` and `<prefix>.c`; `kernels` (e.g. "dsp; target
    qemu_mps2_an386 (cortex-m4, features: dsp)") names the kernel variants in the source's header comment.
    `train` (a training.TrainProgram) adds the training step, its schedule planned in the same arena;
    `arena` says where the arena is defined (placement.py; None: a static buffer of the source's)."""
    check_prefix(prefix)
    trainable = frozenset(train.trainable_tensors) if train else frozenset()
    tconsts = frozenset(train.trainable_consts) if train else frozenset()
    ctx = _Ctx(g, plan, prefix, trainable, tconsts)
    weights: dict[int, Tensor] = {}
    calls = _calls(ctx, layers, plan, weights)
    train_calls: list[dict[str, Any]] = []
    if train is not None:
        inference_ops = {l.op.index for l in layers}
        train_calls = _calls(_Ctx(train.graph, train.plan, prefix, trainable, tconsts), train.layers, train.plan,
                             weights)
        n_ops = len(g.ops)
        for c in train_calls:
            c["emit"] = c["op"].index not in inference_ops  # forward layers' constants are already there
            # per-layer timing slots: forward ops as in invoke, backward steps after them (n_ops + op)
            fwd = train.backward_of.get(c["op"].index)
            c["timing"] = c["op"].index if c["op"].index < n_ops else (n_ops + fwd if fwd is not None else None)
        for t in trainable:
            weights.pop(t, None)
    weight_list = [
        dict(name=f"{prefix}_w{t.index}", index=t.index, ctype=t.ctype, size=max(t.size, 1), tname=t.name, shape=list(t.shape),
             body=c_array_body(t.data))
        for t in sorted(weights.values(), key=lambda t: t.index)
    ]

    def io(ts: list[int]) -> list[dict[str, Any]]:
        res = []
        for i, ti in enumerate(ts):
            t = g.t(ti)
            info = np.iinfo(DTYPES[t.dtype][1]) if t.dtype not in ("float32", "bool") else None
            in_arena = ti in plan.tensor_offsets  # not: an input read through the patch stage's callback
            res.append(dict(i=i, t=t, ptr=ctx.tensor_ptr(t, False) if in_arena else "NULL",
                            dims=c_literal(list(t.shape) or [1]),
                            rank=len(t.shape), qmin=int(info.min) if info else 0, qmax=int(info.max) if info else 0,
                            scale=c_literal(t.quant.s if t.quant else 0.0), zp=t.quant.zp if t.quant else 0))
        return res

    figure = weights_figure(g, weights.values(), layers)  # the one weights figure (weights.py)
    all_layers = list(layers) + (list(train.layers) if train is not None else [])
    headers = sorted({x.header for l in all_layers for x in (l, *l.steps) if x.header})
    env = dict(
        prefix=prefix,
        PREFIX=prefix.upper(),
        version=__version__,
        graph=g,
        model_file=Path(g.path).name if g.path else g.name,
        plan=plan,
        calls=calls,
        weights=weight_list,
        weights_bytes=figure.total,
        weights_parts=figure.parts(),
        macs=sum(l.macs for l in layers),
        headers=headers,
        kernels=kernels,
        inputs=io(g.inputs),
        input_callback=any(st.func == "{prefix}_read_input" for l in layers for st in l.steps),
        outputs=io(g.outputs),
        train=_train_env(g, plan, train, prefix, train_calls) if train is not None else None,
        arena_size=max(plan.arena_size, train.plan.arena_size if train is not None else 0),
        labels=list(labels or []),
        arena=arena or ArenaPlacement(),
        user_kernels=sorted({l.func for l in layers if l.returns_status and l.func}),
        state=_state_env(g, plan),
    )
    return {
        f"{prefix}.h": _ENV.get_template("model.h.j2").render(env),
        f"{prefix}.c": _ENV.get_template("model.c.j2").render(env),
    }
