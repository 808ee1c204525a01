"""Command line: argument parsing only; every command calls the shared pipeline."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import TinymlError


def _cmd_convert(a: argparse.Namespace) -> int:
    from .pipeline import compile_model, write_output

    c = compile_model(a.model, a.prefix, target=a.target)
    for p in write_output(c.files, a.output):
        print(f"wrote {p}")
    print(f"arena {c.plan.arena_size} bytes, {c.macs} MACs, {len(c.graph.ops)} operators, kernels: {c.kernels}")
    return 0


def _cmd_verify(a: argparse.Namespace) -> int:
    from .verify import verify_model

    from .verify import FLOAT_ULP_BOUND

    r = verify_model(a.model, n=a.inputs, seed=a.seed, prefix=a.prefix, log=print)
    if r.float_within or r.max_ulp:
        print(f"float outputs within {FLOAT_ULP_BOUND} ULP (not bit-exact): {r.float_within}/{r.total} inputs, "
              f"largest difference {r.max_ulp} ULP")
    print(f"bit-exact: {r.identical}/{r.total} inputs")
    return 0 if r.ok else 1


def _cmd_inspect(a: argparse.Namespace) -> int:
    from .inspect import inspect_model

    print(inspect_model(a.model))
    return 0


def _cmd_plan(a: argparse.Namespace) -> int:
    from .plan_report import run

    return run(a.model, board=a.board, as_json=a.json, plot_path=a.plot, compare_tflm=a.compare_tflm)


def _cmd_setup_offline(a: argparse.Namespace) -> int:
    from .platformio.offline import setup_offline

    return setup_offline(python=a.python, force=a.force, check_only=a.check)


def _cmd_hil_run(a: argparse.Namespace) -> int:
    import os
    import signal
    import threading
    from pathlib import Path

    from .cpu import CpuFeatures
    from .hil.report import markdown, save
    from .hil.runner import run_models

    # what can be checked before a long run is checked now (--inputs: by argparse)
    if a.report:
        if Path(a.report).is_dir():
            raise TinymlError(f"--report {a.report} is a directory; give the JSON file's path.")
        parent = Path(a.report).resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise TinymlError(f"--report {a.report}: the directory {parent} does not exist or is not writable.",
                              hint="create the directory or write the report elsewhere.")
    missing = [m for m in a.model if not Path(m).is_file()]
    if missing:
        raise TinymlError(f"model file not found: {', '.join(missing)}")

    def _terminated(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)  # one is enough: let the cleanup run
        print("tinyml-pio hil run: terminated; stopping the board", file=sys.stderr)
        raise SystemExit(128 + signum)

    # `kill`, a CI timeout: unwind, so the board (QEMU) is stopped
    previous = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() else None
    try:
        cpu = CpuFeatures.portable() if a.kernels == "portable" else None
        records = run_models(a.model, a.board, port=a.port, n_inputs=a.inputs, seed=a.seed, per_layer=a.per_layer,
                             log=print if a.verbose else (lambda s: None), cpu=cpu,
                             on_error=lambda model, e: print(f"error: {model} on {a.board}: {e}", file=sys.stderr))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if a.report:
        save(records, a.report)
        print(f"wrote {a.report}")
    print(markdown(records))
    return 0 if all(not r.get("error") and r["identical"] == r["inputs"] for r in records) else 1


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
_seed = _int_at_least(0, "the seed")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyml-pio", description="int8 TFLite models -> bit-exact, memory-planned C.")
    p.add_argument("--version", action="version", version=f"tinyml-pio {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("convert", help="generate C sources for a model")
    c.add_argument("model")
    c.add_argument("-o", "--output", required=True, help="output directory")
    c.add_argument("--prefix", default="model", help="C identifier prefix (default: model)")
    c.add_argument("--target", default=None,
                   help="the CPU the code is for, choosing kernel variants: portable (default), a CPU "
                   "(cortex-m4, cortex-m0plus, ...) or a board of board_defs (nano33ble, qemu_mps2_an386, ...)")
    c.set_defaults(fn=_cmd_convert)

    v = sub.add_parser("verify", help="compile on the host and compare with TFLite bit for bit")
    v.add_argument("model")
    v.add_argument("--inputs", type=_count, default=20)
    v.add_argument("--seed", type=_seed, default=0)
    v.add_argument("--prefix", default="model")
    v.set_defaults(fn=_cmd_verify)

    i = sub.add_parser("inspect", help="operators, tensors, MACs, weights and arena bytes")
    i.add_argument("model")
    i.set_defaults(fn=_cmd_inspect)

    pl = sub.add_parser("plan", help="the memory plan: live bytes per operator, arena vs lower bound, board fit")
    pl.add_argument("model")
    pl.add_argument("--board", help="check the plan against a board's budget (board_defs/boards/*.json)")
    pl.add_argument("--json", action="store_true", help="machine-readable output")
    pl.add_argument("--plot", metavar="FILE.png", help="draw the memory timeline (needs matplotlib)")
    pl.add_argument("--compare-tflm", action="store_true", help="run TFLite Micro's allocator and compare arenas")
    pl.set_defaults(fn=_cmd_plan)

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
    hr.add_argument("--inputs", type=_count, default=10)
    hr.add_argument("--seed", type=_seed, default=0)
    hr.add_argument("--per-layer", action="store_true", help="also record cycles per operator")
    hr.add_argument("--report", help="write the JSON report here")
    hr.add_argument("--kernels", choices=("auto", "portable"), default="auto",
                    help="auto: the kernel variants the board's CPU can run (default); portable: none")
    hr.add_argument("-v", "--verbose", action="store_true")
    hr.set_defaults(fn=_cmd_hil_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except TinymlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
