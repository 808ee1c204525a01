"""Command line: argument parsing only; every command calls the shared pipeline."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import TinymlError


def _cmd_convert(a: argparse.Namespace) -> int:
    from .pipeline import compile_model, write_output

    c = compile_model(a.model, a.prefix)
    for p in write_output(c.files, a.output):
        print(f"wrote {p}")
    print(f"arena {c.plan.arena_size} bytes, {c.macs} MACs, {len(c.graph.ops)} operators")
    return 0


def _cmd_verify(a: argparse.Namespace) -> int:
    from .verify import verify_model

    r = verify_model(a.model, n=a.inputs, seed=a.seed, prefix=a.prefix, log=print)
    print(f"bit-exact: {r.identical}/{r.total} inputs")
    return 0 if r.ok else 1


def _cmd_inspect(a: argparse.Namespace) -> int:
    from .inspect import inspect_model

    print(inspect_model(a.model))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyml-pio", description="int8 TFLite models -> bit-exact, memory-planned C.")
    p.add_argument("--version", action="version", version=f"tinyml-pio {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("convert", help="generate C sources for a model")
    c.add_argument("model")
    c.add_argument("-o", "--output", required=True, help="output directory")
    c.add_argument("--prefix", default="model", help="C identifier prefix (default: model)")
    c.set_defaults(fn=_cmd_convert)

    v = sub.add_parser("verify", help="compile on the host and compare with TFLite bit for bit")
    v.add_argument("model")
    v.add_argument("--inputs", type=int, default=20)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--prefix", default="model")
    v.set_defaults(fn=_cmd_verify)

    i = sub.add_parser("inspect", help="operators, tensors, MACs, weights and arena bytes")
    i.add_argument("model")
    i.set_defaults(fn=_cmd_inspect)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except TinymlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
