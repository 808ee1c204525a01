"""Long fuzz run over mutated models: prints an outcome table (ok / clean error / anything else).

    .venv/bin/python benchmarks/fuzz_models.py --mutants 4000            # convert (portable, cortex-m4), inspect, plan
    .venv/bin/python benchmarks/fuzz_models.py --mutants 300 --verify    # also verify (host C build)
    .venv/bin/python benchmarks/fuzz_models.py --mutants 300 --verify --sanitize   # ... under ASan/UBSan

Mutants come from tests/fuzz_models.py (the CI suite, tests/test_fuzz_models.py, runs a bounded
number of the same mutations). Exit code 1 if any mutant broke the contract (verify not bit-exact is listed too); each is listed with
its (model, kind, seed) so `--replay MODEL KIND SEED` reproduces it.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzz_models as fm  # noqa: E402


def _one(job: tuple[str, str, int, list[str]]) -> tuple[str, str, int, list[tuple[str, str, str]]]:
    model, kind, seed, commands = job
    data = fm.mutate(Path(model).read_bytes(), kind, seed)
    return model, kind, seed, fm.check_mutant_isolated(data, commands)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mutants", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verify", action="store_true", help="also run verify (builds C; much slower)")
    p.add_argument("--sanitize", action="store_true", help="verify under ASan/UBSan with the poisoned arena")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--replay", nargs=3, metavar=("MODEL", "KIND", "SEED"))
    a = p.parse_args()
    commands = ["convert", "convert-m4", "inspect", "plan"] + (["verify-sanitize" if a.sanitize else "verify"] if a.verify else [])
    if a.replay:
        for c, outcome, detail in _one((a.replay[0], a.replay[1], int(a.replay[2]), commands))[3]:
            print(f"{c}: {outcome} {detail}")
        return 0
    models = [str(m) for m in fm.seed_models()]
    jobs = [(models[i % len(models)], fm.KINDS[i % len(fm.KINDS)], a.seed + i, commands)
            for i in range(a.mutants)]
    import tinyml_pio.cli, tinyml_pio.ops  # noqa: E401  imported once here, not in every forked child

    tinyml_pio.ops.supported_ops()
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    broken = []
    start = time.monotonic()
    # threads, each forking one child per mutant (fuzz_models.check_mutant_isolated)
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for done, (model, kind, seed, results) in enumerate(pool.map(_one, jobs), 1):
            if done % 500 == 0:
                print(f"{done}/{len(jobs)} mutants, {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
            for c, outcome, detail in results:
                table[c][outcome] += 1
                if outcome != "ok" and outcome != "error":
                    broken.append((Path(model).name, kind, seed, c, outcome, detail))
    took = time.monotonic() - start
    print(f"{a.mutants} mutants of {len(models)} models ({', '.join(fm.KINDS)}), {took:.0f} s\n")
    print("| command | ok | clean error | verify not bit-exact | anything else |")
    print("|---|---:|---:|---:|---:|")
    for c in commands:
        t = table[c]
        other = sum(v for k, v in t.items() if k not in ("ok", "error", "fail"))
        print(f"| {c} | {t['ok']} | {t['error']} | {t['fail']} | {other} |")
    for b in broken[:40]:
        print("\nBROKEN", *b[:5], "\n", b[5])
    return 1 if any(b[4] != "fail" for b in broken) else 0


if __name__ == "__main__":
    sys.exit(main())
