"""The one pipeline every front door (CLI, PlatformIO script, tests) calls: import -> lower -> plan -> C."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codegen import check_prefix, generate
from .console import step
from .custom_ops import op_key, parse_custom_ops, unused_specs
from .cpu import CpuFeatures
from .errors import TinymlError
from .ir import Graph
from .ops import Layer, lower_graph
from .passes import apply_variants, kernels_label
from .passes.fold import fold_constants
from .passes.patch import parse_patches
from .passes.patch_search import apply_patches
from .passes.variants import specializes
from .planner import Plan, plan_memory
from .tflite_import import load_model


@dataclass
class Compiled:
    graph: Graph
    layers: list[Layer]
    plan: Plan
    files: dict[str, str]
    prefix: str
    target: CpuFeatures = field(default_factory=CpuFeatures.portable)
    variants: dict[int, str] = field(default_factory=dict)  # op index -> CPU feature of its kernel variant
    train: Any = None  # training.TrainProgram when compiled with an update scheme
    patches: Any = None  # passes.patch.PatchStage when the prefix runs patch by patch

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)

    @property
    def weights(self) -> Any:
        """The weights figure (weights.WeightsFigure): the header's WEIGHTS_BYTES and its breakdown."""
        from .weights import layers_weights

        return layers_weights(self.graph, self.layers, self.train.trainable_tensors if self.train is not None else ())

    @property
    def kernels(self) -> str:
        """The kernel variants the generated code calls: "portable", "dsp", ..."""
        return kernels_label(self.variants)


def compile_model(path: str | os.PathLike[str], prefix: str = "model",
                  target: CpuFeatures | str | None = None, train: Any = None,
                  labels: list[str] | str | os.PathLike[str] | None = None, patches: Any = None,
                  max_overhead: float = 0.2, budget: int | None = None, arena: Any = None,
                  custom_ops: Any = None) -> Compiled:
    """Import, lower, pick kernel variants, plan and generate; raises TinymlError for anything wrong
    with the model.

    `target` is the CPU the code will run on (a `CpuFeatures`, a board or CPU name): kernels with a
    variant for one of its features (passes/variants.py) call that variant. None or "portable"
    (the default, and what host verification uses) calls only the portable kernels.

    `train` (an update scheme: "bias+last", a TOML path, or a training.UpdateSpec) adds the
    on-device training step; layers whose parameters train keep the portable kernels (the
    optimized ones fold weights into constants).

    `patches` ("off", "auto", "NxM@opK" or a passes.patch.PatchSetting) runs the prefix up to a
    split operator patch by patch (passes/patch.py); "auto" picks the split and grid with the
    smallest arena whose MAC overhead is at most `max_overhead`, "fit" the least overhead whose
    arena fits `budget` bytes. `arena` (a codegen.placement.ArenaPlacement) says where the arena is defined.

    `custom_ops` (NAME=c_function[:scratch] specs, or custom_ops.parse_custom_ops's dict) names user
    kernels for custom or unsupported operators (custom_ops.py)."""
    check_prefix(prefix)
    custom = custom_ops if isinstance(custom_ops, dict) else parse_custom_ops(custom_ops)
    cpu = CpuFeatures.resolve(target)
    graph = load_model(path)
    step(f"read {path}: {len(graph.ops)} operators, {len(graph.tensors)} tensors")
    check_io(graph)
    fold_constants(graph)
    check_custom_specs(graph, custom)
    layers = lower_graph(graph, custom)
    step(f"lowered to {len(layers)} kernel calls")
    portable = list(layers)
    spec = None
    if train is not None:
        from .training import resolve_update

        spec = resolve_update(train, graph, portable)
    layers, variants = apply_variants(layers, cpu, graph)
    if spec is not None:  # trainable layers: the portable kernels, which read the weights as they are
        keep = set(spec.ops)
        layers = [p if p.op.index in keep else l for p, l in zip(portable, layers)]
        variants = {k: v for k, v in variants.items() if k not in keep}
    plan = plan_memory(graph, layers)
    step(f"kernels for {cpu.name}: {kernels_label(variants)}; memory plan: arena {plan.arena_size} bytes")
    stage = None
    setting = parse_patches(patches)
    if setting.mode != "off":
        if spec is not None:
            raise TinymlError("--patches cannot be combined with on-device training (--train): the training step "
                              "needs the prefix's activations layer by layer.", path=graph.path,
                              hint="compile with --patches off, or without --train.")
        layers, plan, stage = apply_patches(graph, layers, plan, setting, max_overhead, budget)
    program = None
    if spec is not None:
        from .training import build_program

        program = build_program(graph, layers, spec, prefix)
    note = ""
    if specializes(cpu):  # a known CPU: say what was chosen for it
        note = (f"{kernels_label(variants)}; target {cpu.name} ({cpu.cpu or '?'}, "
                f"features: {', '.join(cpu.features) or 'none'})")
    files = generate(graph, layers, plan, prefix, kernels=note, train=program, labels=read_labels(labels, graph),
                     arena=arena)
    step(f"generated {', '.join(sorted(files))}")
    return Compiled(graph=graph, layers=layers, plan=plan, files=files, prefix=prefix, target=cpu, variants=variants,
                    train=program, patches=stage)


def read_labels(labels: list[str] | str | os.PathLike[str] | None, g: Graph) -> list[str]:
    """Class labels: a list, or a text file with one label per line (blank lines ignored); as many
    as the first output has values."""
    if labels is None:
        return []
    if not isinstance(labels, list):
        try:
            labels = [l.strip() for l in Path(labels).read_text(encoding="utf-8").splitlines() if l.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise TinymlError(f"cannot read the labels file {labels}: {e}.", hint="give a UTF-8 text file, one label per line.") from None
    n = g.t(g.outputs[0]).size
    if len(labels) != n:
        raise TinymlError(f"{len(labels)} labels for an output of {n} values.", path=g.path,
                          hint=f"give exactly {n} labels, one per line, in output order.")
    return list(labels)


def check_custom_specs(g: Graph, custom: dict[str, Any]) -> None:
    """A user kernel named for an operator the model does not have is a typo until shown otherwise."""
    unused = unused_specs(g, custom)
    if unused:
        present = sorted({op_key(op) for op in g.ops if op.type.startswith("CUSTOM:")})
        raise TinymlError(f"--custom-op names {', '.join(unused)}, which no operator of the model is.", path=g.path,
                          hint="name a custom operator's code or a builtin type the model has"
                          + (f" (its custom operators: {', '.join(present)})." if present else
                             "; the model has no custom operators."))


def check_io(g: Graph) -> None:
    activations = [t for t in g.tensors if not t.is_const]
    custom = any(op.type.startswith("CUSTOM:") for op in g.ops)
    if activations and not custom and not any(t.dtype in ("int8", "uint8", "int16") for t in activations):
        raise TinymlError("is a float model: no operator works on quantized integer tensors.", path=g.path,
                          hint="convert with full integer quantization (converter.optimizations = [tf.lite.Optimize.DEFAULT], "
                          "a representative_dataset, target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]).")
    for kind, ts in (("input", g.inputs), ("output", g.outputs)):
        for i, t in enumerate(ts):
            tensor = g.t(t)
            allowed = ("int8", "uint8", "float32", "int16") + (("int32", "int64") if kind == "output" else ())
            if tensor.dtype not in allowed:
                raise TinymlError(f"model {kind} {i} '{tensor.name}' has type {tensor.dtype}; supported are "
                                  f"{', '.join(allowed)}.",
                                  path=g.path, hint="quantize the model's inputs and outputs to int8, or wrap them in QUANTIZE/DEQUANTIZE.")
            if tensor.is_const:
                raise TinymlError(f"model {kind} {i} '{tensor.name}' is a constant tensor.", path=g.path,
                                  hint="re-export the model so its inputs are real inputs.")


def write_output(files: dict[str, str], outdir: str | os.PathLike[str]) -> list[Path]:
    """Write all files or none: check every destination, render into a temporary directory beside
    them, then move into place; directories this call created are removed again on failure."""
    out = Path(outdir)
    hint = "choose a writable -o directory."
    if out.exists() and not out.is_dir():
        raise TinymlError(f"output path {out} exists and is not a directory.", hint="choose another -o directory.")
    for name in files:
        dest = out / name
        if dest.exists() and not dest.is_file():
            raise TinymlError(f"cannot write {dest}: it exists and is not a regular file.", hint="remove it or " + hint)
    created = next((p for p in [out, *out.parents][::-1] if not p.exists()), None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".tinyml-") as tmp:
            for name, text in files.items():
                Path(tmp, name).write_text(text)
            for name in files:
                os.replace(Path(tmp, name), out / name)
    except OSError as e:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        where = e.filename or out
        raise TinymlError(f"cannot write the generated files to {out}: {e.strerror} ({where}).", hint=hint) from None
    return [out / name for name in files]
