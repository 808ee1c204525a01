"""Command line: argument parsing only; every command calls the shared pipeline."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from . import __version__
from .console import NORMAL, QUIET, VERBOSE, configure, step
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, TinymlError, UsageError


def _cmd_convert(a: argparse.Namespace) -> int:
    from .pipeline import compile_model, write_output

    from .codegen.placement import group_file_for_dir, make_placement

    place = make_placement(a.arena, a.arena_section, a.shared_arena)
    c = compile_model(a.model, a.prefix, target="portable" if a.kernels == "portable" else a.target,
                      train=_train_spec(a) if a.train else None, labels=a.labels, patches=a.patches,
                      max_overhead=a.max_overhead, budget=_fit_budget(a), arena=place, custom_ops=a.custom_op)
    if a.budget:  # before anything is written: a build stops here, before compiling
        from .budget import check_arenas

        ram = c.plan.arena_size  # with training: the arena serves both plans, the parameters are RAM too
        if c.train is not None:
            ram = max(ram, c.train.plan.arena_size) + c.train.params_bytes
        check_arenas([(c.prefix, ram)], a.budget, a.target)
    files = dict(c.files)
    if place.group:  # with the other models of the group in -o: one buffer for all
        name, text = group_file_for_dir(a.output, place, files)
        files[name] = text
    for p in write_output(files, a.output):
        print(f"wrote {p}")
    print(f"arena {c.plan.arena_size} bytes, {c.macs} MACs, {len(c.graph.ops)} operators, kernels: {c.kernels}")
    print(f"weights: {c.weights.text()}")
    _print_patches(c.patches, a.patches)
    if c.train is not None:
        t = c.train
        print(f"training: '{t.spec.text}' on ops {', '.join(map(str, t.spec.ops))}, arena {max(t.plan.arena_size, c.plan.arena_size)} "
              f"bytes (training plan {t.plan.arena_size}), parameters in RAM {t.params_bytes} bytes, write-back {t.spec.rounding}")
    return 0


def _fit_budget(a: argparse.Namespace) -> int | None:
    """convert --patches fit: the arena budget of --budget (bytes or auto) and --target, if any."""
    if str(a.patches).strip().lower() != "fit" or not (a.budget or a.target):
        return None
    from .budget import convert_budget

    return convert_budget(a.budget or "auto", a.target)[0]


def _train_spec(a: argparse.Namespace, update: str | None = None):
    """The update scheme of --train/--update with --rounding and --no-qas applied."""
    from .tflite_import import load_model
    from .training import check_rounding, resolve_update

    data = None
    if getattr(a, "data", None):
        import numpy as np

        try:
            with np.load(a.data) as f:
                data = {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise TinymlError(f"--data {a.data}: cannot read it as a .npz file ({e}).",
                              hint="save the arrays with numpy.savez(path, x_train=..., y_train=...).") from None
    spec = resolve_update(update or a.train, load_model(a.model), None, data=data, log=(lambda s: print(s, file=sys.stderr)) if data is not None else (lambda s: None))
    if getattr(a, "rounding", None):
        spec.rounding = check_rounding(a.rounding)
    if getattr(a, "no_qas", False):
        spec.qas = False
    if getattr(a, "momentum", None) is not None:
        from .training.spec import check_momentum

        spec.momentum = check_momentum(a.momentum)
    return spec


def _cmd_boards(a: argparse.Namespace) -> int:
    import json

    from .boards import list_boards

    boards = list_boards()
    if a.json:
        print(json.dumps([dict(id=b.id, name=b.name, mcu=b.mcu, cpu=b.cpu, fpu=b.fpu, dsp=b.dsp, mve=b.mve,
                               clock_hz=b.clock_hz, sram_bytes=b.sram_bytes, arena_budget_bytes=b.arena_budget,
                               flash_bytes=b.flash_bytes, weights_budget_bytes=b.weights_budget,
                               platformio_board=b.platformio_board, emulated=b.emulated) for b in boards], indent=2))
        return 0
    print(f"{'id':<18} {'cpu':<14} {'extensions':<10} {'clock':>8} {'arena budget':>13} {'weights budget':>15}  name")
    for b in boards:
        ext = "+".join(x for x, on in (("dsp", b.dsp), ("mve", b.mve), ("fpu", b.fpu not in ("", "none", None))) if on) or "-"
        print(f"{b.id:<18} {b.cpu:<14} {ext:<10} {b.clock_hz / 1e6:>5.0f} MHz {b.arena_budget:>11,} B {b.weights_budget:>13,} B  "
              f"{b.name}{' (emulated: ' + str(b.emulates) + ')' if b.emulated else ''}")
    return 0


def _cmd_train_plan(a: argparse.Namespace) -> int:
    from .training.report import run

    spec = _train_spec(a, a.update)
    return run(a.model, spec, board=a.board, as_json=a.json, plot_path=a.plot)


def _cmd_train_check(a: argparse.Namespace) -> int:
    from pathlib import Path

    from .pipeline import compile_model
    from .training.check import run_check

    c = compile_model(a.model, "model", train=_train_spec(a, a.update))
    rep = run_check(c, steps=a.steps, seed=a.seed, lr=a.lr, reference_model=Path(a.model).read_bytes())
    print("\n".join(rep.lines))
    return 0 if rep.ok else 1


def _cmd_verify(a: argparse.Namespace) -> int:
    from .verify import FLOAT_ULP_BOUND, verify_model

    _check_report_path(a.report)
    data, load = _data_loader(a)
    r = verify_model(a.model, n=a.inputs or 20, seed=a.seed, prefix=a.prefix, log=print,
                     sanitize=a.sanitize, patches=a.patches, max_overhead=a.max_overhead,
                     on_patches=lambda st: _print_patches(st, a.patches), samples=load,
                     custom_ops=a.custom_op, custom_refs=a.custom_ref, custom_sources=a.custom_src)
    if r.skipped:
        print(f"bit-exact: skipped ({r.skipped})")
        return 0
    if r.float_within or r.max_ulp:
        print(f"float outputs within {FLOAT_ULP_BOUND} ULP (not bit-exact): {r.float_within}/{r.total} inputs, "
              f"largest difference {r.max_ulp} ULP")
    summary = {"model": a.model, "bit_exact": f"{r.identical}/{r.total}", "reference": r.reference}
    if data:
        summary["accuracy"] = _accuracy_report(a, data[0], data[1], [o[0] for o in r.outputs], "host",
                                               [o[0] for o in r.reference_outputs])
    if a.report:
        import json
        from pathlib import Path

        Path(a.report).write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {a.report}")
    print(f"bit-exact: {r.identical}/{r.total} inputs")
    return 0 if r.ok else 1


def _data_loader(a: argparse.Namespace):
    """verify/hil run --data: ([graph, EvalData] filled when the model is compiled, the loader), or (None, None)."""
    if not a.data:
        for opt in ("metric", "float_model", "labels"):
            if getattr(a, opt, None):
                raise UsageError(f"--{opt.replace('_', '-')} scores the model on --data, which is not given.")
        return None, None
    from .accuracy import load_data

    if a.labels:  # checked before anything is compiled
        from pathlib import Path

        if not Path(a.labels).is_file():
            raise UsageError(f"--labels {a.labels}: no such file.")
    got: list = []

    def load(g):
        d = load_data(a.data, g, a.metric, limit=a.inputs)
        got[:] = [g, d]
        return d.samples

    return got, load


def _accuracy_report(a: argparse.Namespace, g, d, generated, where: str, reference) -> dict:
    """Score the outputs (accuracy.evaluate), print the section as text and return it."""
    from .accuracy import evaluate, text
    from .pipeline import read_labels

    rep = evaluate(g, d, generated, where, reference, float_model=a.float_model,
                   labels=read_labels(a.labels, g) if a.labels else None)
    print(text(rep))
    return rep


def _cmd_inspect(a: argparse.Namespace) -> int:
    from .inspect import inspect_data, inspect_model

    if a.json:
        import json

        print(json.dumps(inspect_data(a.model, patches=a.patches, max_overhead=a.max_overhead, target=a.target), indent=2))
        return 0
    print(inspect_model(a.model, patches=a.patches, max_overhead=a.max_overhead, target=a.target))
    return 0


def _cmd_plan(a: argparse.Namespace) -> int:
    from .plan_report import run

    return run(a.model, board=a.board, as_json=a.json, plot_path=a.plot, compare_tflm=a.compare_tflm,
               patches=a.patches, max_overhead=a.max_overhead)


def _print_patches(stage, requested: str) -> None:
    """One line on the patch stage convert/verify compiled (nothing with --patches off)."""
    if stage is not None:
        print(f"patches: {stage.text} (ops {stage.ops[0]}..{stage.split}), arena {stage.layer_arena} bytes layer by layer, "
              f"MAC overhead {100 * stage.overhead:.1f}%")
    elif requested not in (None, "off"):
        print("patches: none within --max-overhead beats the layer-by-layer arena; running layer by layer")


def _cmd_budget(a: argparse.Namespace) -> int:
    from .budget import check_generated

    check_generated(a.header, a.budget, a.target)
    print(f"tinyml: the arenas of {', '.join(a.header)} fit the budget")
    return 0


def _cmd_cmake_dir(a: argparse.Namespace) -> int:
    from pathlib import Path

    print(Path(__file__).resolve().parent / "cmake")  # find_package(TinymlPio CONFIG): TinymlPio_DIR
    return 0


def _cmd_qemu(a: argparse.Namespace) -> int:
    from .platformio.qemu import main as qemu_main

    return qemu_main(a.args[1:] if a.args[:1] == ["--"] else a.args, prog="tinyml-pio qemu")


def _cmd_setup_offline(a: argparse.Namespace) -> int:
    from .platformio.offline import setup_offline

    return setup_offline(python=a.python, force=a.force, check_only=a.check)


def _check_report_path(report: str | None) -> None:
    """A --report path that cannot be written is a usage error before anything runs."""
    import os
    from pathlib import Path

    if report:
        if Path(report).is_dir():
            raise UsageError(f"--report {report} is a directory; give the JSON file's path.")
        parent = Path(report).resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise UsageError(f"--report {report}: the directory {parent} does not exist or is not writable.",
                             hint="create the directory or write the report elsewhere.")


def _cmd_hil_run(a: argparse.Namespace) -> int:
    import signal
    import threading
    from pathlib import Path

    from .cpu import CpuFeatures
    from .hil.report import markdown, save
    from .hil.runner import run_models

    # what can be checked before a long run is checked now (--inputs: by argparse)
    _check_report_path(a.report)
    missing = [m for m in a.model if not Path(m).is_file()]
    if missing:
        raise TinymlError(f"model file not found: {', '.join(missing)}")
    _data_loader(a)  # --metric/--float-model/--labels without --data, a missing labels file: usage errors now
    data = dict(data=a.data, metric=a.metric, float_model=a.float_model, labels=a.labels, limit=a.inputs) if a.data else None

    def _terminated(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)  # one is enough: let the cleanup run
        print("tinyml-pio hil run: terminated; stopping the board", file=sys.stderr)
        raise SystemExit(128 + signum)

    # `kill`, a CI timeout: unwind, so the board (QEMU) is stopped
    previous = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        cpu = CpuFeatures.portable() if a.kernels == "portable" else None
        records = run_models(a.model, a.board, port=a.port, n_inputs=a.inputs or 10, seed=a.seed, per_layer=a.per_layer,
                             log=step, cpu=cpu, patches=a.patches, data=data,
                             on_error=lambda model, e: print(f"error: {model} on {a.board}: {e}", file=sys.stderr))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if a.report:
        save(records, a.report)
        print(f"wrote {a.report}")
    print(markdown(records))
    return 0 if all(not r.get("error") and r["identical"] == r["inputs"] for r in records) else 1


def _cmd_hil_train(a: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .hil.training import markdown, plot, train_model

    if a.plot:
        from .plan_report import check_plot_path

        check_plot_path(a.plot)
    rec = train_model(a.model, a.board, _train_spec(a, a.update), a.data, port=a.port, epochs=a.epochs, lr=a.lr,
                      seed=a.seed, per_layer=a.per_layer, limit_train=a.train_samples, limit_test=a.test_samples,
                      log=step)
    if a.report:
        Path(a.report).write_text(json.dumps(rec, indent=2))
        print(f"wrote {a.report}")
    if a.plot:
        plot(rec, a.plot)
        print(f"wrote {a.plot}")
    print(markdown(rec))
    return 0 if rec["params_identical"] else 1


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= minimum (a clear usage error otherwise, not a traceback)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be {minimum} or more, got {n}")
        return n

    return parse


_count = _int_at_least(1, "the number of inputs")


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v


def _patch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patches", default="off", metavar="off|auto|fit|NxM@opK",
                   help="run the model's first operators patch by patch (smaller arena, some MACs recomputed): "
                   "auto searches the split operator and grid; fit: the fewest extra MACs that fit the board "
                   "(convert: --target/--budget, plan: --board); NxM@opK: an N x M grid of op K's output; "
                   "+cache: keep the halo rows the tile below needs instead of recomputing them")
    p.add_argument("--max-overhead", type=_fraction, default=0.2, metavar="FRACTION",
                   help="--patches auto: the most extra MACs allowed, relative to the model's (default 0.2)")


def _custom_op_options(p: argparse.ArgumentParser, verify: bool = False) -> None:
    p.add_argument("--custom-op", action="append", metavar="NAME=c_function[:scratch_bytes]",
                   help="call your C function for the custom (or unsupported) operator NAME, with scratch_bytes "
                   "of planned scratch (repeatable; library/include/tinyml/custom_op.h)")
    if verify:
        p.add_argument("--custom-ref", action="append", metavar="[NAME=]module.py:function",
                       help="the Python reference of a custom operator (repeatable): function(inputs, options, op) "
                       "returns its outputs; without it, models with custom operators are not verified")
        p.add_argument("--custom-src", action="append", metavar="FILE.c",
                       help="a C file with your custom operator kernels, built into the host check (repeatable)")


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' is not a fraction >= 0 (e.g. 0.2 for 20 % more MACs)")
    return v


def _train_options(p: argparse.ArgumentParser, data: bool = True) -> None:
    from .training.spec import DEFAULT_ROUNDING, ROUNDINGS

    p.add_argument("--rounding", choices=ROUNDINGS, default=None,
                   help=f"int8/int32 write-back of updates (default {DEFAULT_ROUNDING}; master keeps float32 copies)")
    p.add_argument("--no-qas", action="store_true", help="turn quantization-aware scaling of the steps off")
    p.add_argument("--momentum", type=float, default=None,
                   help="SGD momentum in [0, 1) (default 0: plain SGD; velocities cost 4 bytes per trainable value)")
    if data:
        p.add_argument("--data", metavar="DATA.npz",
                   help="auto:BYTES only: x_train/y_train for the contribution analysis on the host training simulator")
_seed = _int_at_least(0, "the seed")


def _data_options(p: argparse.ArgumentParser) -> None:
    from .accuracy import METRICS

    p.add_argument("--data", metavar="DATA.npz",
                   help="score the model on your samples: x (float, quantized with the input's scale and zero point, "
                   "or int8 as is) and optional y (class indices, float targets, or 0/1 for anomalies)")
    p.add_argument("--metric", choices=METRICS, default=None,
                   help="--data: accuracy (argmax), mse/mae (regression; no y: against the input), auc (anomaly "
                   "score or reconstruction error); default: chosen from y and the output shape")
    p.add_argument("--float-model", metavar="F.tflite", help="--data: also score the float model the int8 one came from")
    p.add_argument("--labels", metavar="FILE", help="--data: class names, one per line, for the confusion matrix "
                   "(default: the model's metadata, else 0..K-1)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyml-pio", description="int8 TFLite models -> bit-exact, memory-planned C.")
    p.add_argument("--version", action="version", version=f"tinyml-pio {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("convert", help="generate C sources for a model")
    c.add_argument("model", help="the .tflite model")
    c.add_argument("-o", "--output", required=True, help="output directory")
    c.add_argument("--prefix", default="model", help="C identifier prefix (default: model)")
    c.add_argument("--target", default=None,
                   help="the CPU the code is for, choosing kernel variants: portable (default), a CPU "
                   "(cortex-m4, cortex-m0plus, ...) or a board of board_defs (nano33ble, qemu_mps2_an386, ...)")
    c.add_argument("--labels", metavar="FILE", help="class labels, one per line: <PREFIX>_NUM_LABELS and <prefix>_labels[]")
    c.add_argument("--train", metavar="SCHEME",
                   help="also generate <prefix>_train_step(): last, bias, bias+last, last:K, full, auto:BYTES or a "
                   "sparse spec .toml (see train-plan)")
    _train_options(c)
    c.add_argument("--kernels", choices=("auto", "portable"), default="auto",
                   help="auto: the kernel variants --target can run (default); portable: none (--target then only "
                   "names the board of --budget auto)")
    c.add_argument("--budget", metavar="auto|BYTES",
                   help="fail (writing nothing) when the arena exceeds BYTES (4096, 64k), or with auto the budget of "
                   "the --target board (board_defs/boards: SRAM minus its reserve), as `pio run` does")
    _patch_options(c)
    c.add_argument("--arena", choices=("static", "extern"), default="static",
                   help="static: the generated source defines the arena (default); extern: your code defines "
                   "uint8_t <prefix>_arena[<PREFIX>_ARENA_SIZE] (a smaller one does not compile)")
    c.add_argument("--arena-section", metavar="NAME",
                   help="put the arena in this linker section (e.g. .dtcm), which your linker script places")
    c.add_argument("--shared-arena", metavar="GROUP",
                   help="share one arena with the other models of GROUP converted into the same -o directory "
                   "(for models that run one after the other): tinyml_arena_GROUP.c, sized for the largest")
    _custom_op_options(c)
    c.set_defaults(fn=_cmd_convert)

    v = sub.add_parser("verify", help="compile on the host and compare with TFLite bit for bit")
    v.add_argument("model", help="the .tflite model")
    v.add_argument("--inputs", type=_count, default=None,
                   help="random inputs to compare (default 20); with --data: only the first N samples")
    v.add_argument("--seed", type=_seed, default=0, help="seed of the random inputs (default 0)")
    v.add_argument("--prefix", default="model", help="C identifier prefix of the generated code (default: model)")
    v.add_argument("--sanitize", action="store_true",
                   help="build with ASan/UBSan, the arena poisoned outside each layer's own tensors and scratch")
    _data_options(v)
    v.add_argument("--report", metavar="FILE.json",
                   help="write the bit-exact count (with --data: metrics and confusion matrix) as JSON")
    _patch_options(v)
    _custom_op_options(v, verify=True)
    v.set_defaults(fn=_cmd_verify)

    i = sub.add_parser("inspect", help="operators, tensors, MACs, weights and arena bytes")
    i.add_argument("model", help="the .tflite model")
    i.add_argument("--json", action="store_true", help="machine-readable output (operators, tensors, weights breakdown, arena)")
    i.add_argument("--target", default=None,
                   help="a board or CPU (as for convert): the kernels, arena and weights of a build for it (default: portable)")
    _patch_options(i)
    i.set_defaults(fn=_cmd_inspect)

    pl = sub.add_parser("plan", help="the memory plan: live bytes per operator, arena vs lower bound, board fit")
    pl.add_argument("model", help="the .tflite model")
    pl.add_argument("--board", help="check the plan against a board's budget (board_defs/boards/*.json)")
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.add_argument("--plot", metavar="FILE.png", help="draw the memory timeline (needs matplotlib)")
    pl.add_argument("--compare-tflm", action="store_true", help="run TFLite Micro's allocator and compare arenas")
    _patch_options(pl)
    pl.set_defaults(fn=_cmd_plan)

    bo = sub.add_parser("boards", help="the boards of board_defs: CPU, extensions, clock, arena and weights budgets")
    bo.add_argument("--json", action="store_true", help="machine-readable output")
    bo.set_defaults(fn=_cmd_boards)

    tp = sub.add_parser("train-plan", help="on-device training: SRAM per scheme, its breakdown, the pruned backward graph")
    tp.add_argument("model", help="the .tflite model")
    tp.add_argument("--update", required=True, metavar="SCHEME",
                    help="last, bias, bias+last, last:K, full, auto:BYTES, or a sparse spec .toml")
    tp.add_argument("--board", help="check the training SRAM against a board's budget")
    tp.add_argument("--json", action="store_true", help="machine-readable output")
    tp.add_argument("--plot", metavar="FILE.png", help="draw live arena bytes over the training schedule")
    _train_options(tp)
    tp.set_defaults(fn=_cmd_train_plan)

    tc = sub.add_parser("train-check", help="run the training C on the host and compare each step with a float64 reference")
    tc.add_argument("model", help="the .tflite model")
    tc.add_argument("--update", required=True, metavar="SCHEME", help="as for train-plan")
    tc.add_argument("--steps", type=_count, default=10, help="training steps on random inputs and labels (default 10)")
    tc.add_argument("--seed", type=_seed, default=0, help="seed of the random inputs and labels (default 0)")
    tc.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate (default 0.01)")
    _train_options(tc)
    tc.set_defaults(fn=_cmd_train_check)

    bu = sub.add_parser("budget", help="check the arenas of several generated models of one firmware together")
    bu.add_argument("header", nargs="+", help="generated PREFIX.h files")
    bu.add_argument("--target", help="the board (board_defs/boards) of --budget auto")
    bu.add_argument("--budget", default="auto", metavar="auto|BYTES",
                    help="the limit: BYTES (4096, 64k) or auto, the --target board's budget (default)")
    bu.set_defaults(fn=_cmd_budget)

    cm = sub.add_parser("cmake-dir", help="print the CMake package's directory (TinymlPio_DIR for find_package)")
    cm.set_defaults(fn=_cmd_cmake_dir)

    q = sub.add_parser("qemu", help="run firmware on an emulated board: qemu run ELF --board B (start, stop)",
                       add_help=False)
    q.add_argument("args", nargs=argparse.REMAINDER, help="run ELF --board B | start ... | stop ... (see qemu --help)")
    q.set_defaults(fn=_cmd_qemu)

    so = sub.add_parser("setup-offline", help="make PlatformIO build without its registry (SCons from pip)")
    so.add_argument("--python", help="the Python PlatformIO runs in (default: found automatically)")
    so.add_argument("--force", action="store_true", help="replace an existing tool-scons package")
    so.add_argument("--check", action="store_true", help="only report; exit 1 if setup is needed")
    so.set_defaults(fn=_cmd_setup_offline)

    hil = sub.add_parser("hil", help="hardware-in-the-loop: run models on a board and measure them")
    hsub = hil.add_subparsers(dest="hil_cmd", required=True)
    hr = hsub.add_parser("run", help="build the HIL firmware, flash/boot it, run inputs, write a report")
    hr.add_argument("--board", required=True, help="host, an emulated board (qemu_mps2_an386, ...) or a PlatformIO board id")
    hr.add_argument("--port", help="serial port or pyserial URL of a real board (e.g. /dev/ttyACM0)")
    hr.add_argument("--model", required=True, action="append", help="a .tflite model (repeat for several)")
    hr.add_argument("--inputs", type=_count, default=None,
                    help="random inputs per model (default 10); with --data: only the first N samples")
    hr.add_argument("--seed", type=_seed, default=0, help="seed of the random inputs (default 0)")
    hr.add_argument("--per-layer", action="store_true",
                    help="also record each operator's count (instructions / cycles / ns, the board's unit), type and share")
    hr.add_argument("--report", help="write the JSON report here")
    _data_options(hr)
    hr.add_argument("--kernels", choices=("auto", "portable"), default="auto",
                    help="auto: the kernel variants the board's CPU can run (default); portable: none")
    hr.add_argument("--patches", default="off", metavar="off|auto|NxM@opK",
                    help="run the firmware's model with a patch stage (as for convert; auto within 20%% more MACs)")
    hr.set_defaults(fn=_cmd_hil_run)
    ht = hsub.add_parser("train", help="fine-tune a model on the board from streamed data; accuracy, memory, step time")
    ht.add_argument("--board", required=True, help="host, an emulated board (qemu_mps2_an386, ...) or a PlatformIO board id")
    ht.add_argument("--port", help="serial port or pyserial URL of a real board")
    ht.add_argument("--model", required=True, help="the .tflite model")
    ht.add_argument("--update", required=True, metavar="SCHEME", help="as for train-plan")
    ht.add_argument("--data", required=True, metavar="DATA.npz", help="x_train, y_train, x_test, y_test (float or int8)")
    ht.add_argument("--epochs", type=_count, default=1, help="passes over x_train (default 1)")
    ht.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate (default 0.01)")
    ht.add_argument("--seed", type=_seed, default=0, help="seed of the sample order")
    ht.add_argument("--train-samples", type=_count, default=None, help="use only the first N training samples")
    ht.add_argument("--test-samples", type=_count, default=None, help="score on only the first N test samples")
    ht.add_argument("--per-layer", action="store_true",
                    help="also record each operator's forward and backward count in the board's unit")
    ht.add_argument("--report", help="write the JSON report here")
    ht.add_argument("--plot", metavar="FILE.png", help="accuracy against samples seen")
    _train_options(ht, data=False)  # --data above also feeds auto:BYTES
    ht.set_defaults(fn=_cmd_hil_train)
    _add_verbosity(p, top=True)
    return p


def _add_verbosity(p: argparse.ArgumentParser, top: bool = False) -> None:
    """-q/-v on the program and on every command (`tinyml-pio -q verify m` or `tinyml-pio verify m -q`)."""
    g = p.add_mutually_exclusive_group()
    default = {} if top else {"default": argparse.SUPPRESS}  # a command's flag must not reset the program's
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only (the exit code says the rest)", **default)
    g.add_argument("-v", "--verbose", action="store_true",
                   help="print every step (hil run: every input's result; hil train: each epoch's score)", **default)
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if name != "qemu":  # the emulator runner parses its own arguments
                    _add_verbosity(child)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["qemu"]:  # the emulator runner's own parser (run/start/stop), options and all
        argv = ["qemu", "--", *argv[1:]]
    parser = build_parser()
    if not argv:  # a bare `tinyml-pio`: what it can do, not "the following arguments are required"
        parser.print_help()
        return EXIT_USAGE
    args = parser.parse_args(argv)
    if args.quiet and args.verbose:  # one given to the program, the other to the command
        parser.error("-q/--quiet and -v/--verbose contradict each other; give one")
    configure(QUIET if args.quiet else VERBOSE if args.verbose else NORMAL)
    quiet_out = open(os.devnull, "w") if args.quiet and not getattr(args, "json", False) else None  # --json: asked for
    try:
        with contextlib.redirect_stdout(quiet_out) if quiet_out else contextlib.nullcontext():
            return args.fn(args)
    except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback (cleanup already ran in finally blocks)
        print("tinyml-pio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TinymlError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 1
    finally:
        configure(NORMAL, bars=False)  # as before main(): library callers see no bars or steps
        if quiet_out:
            quiet_out.close()


if __name__ == "__main__":
    sys.exit(main())
