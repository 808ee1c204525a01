"""PlatformIO front door: convert the models named in platformio.ini during `pio run`.

The tinyml-pio PlatformIO library (library/library.json) runs library/extra_script.py, which calls
`main()` here. Options of the `[env:...]` section:

    custom_tinyml_model = models/kws.tflite          ; one model, C prefix "model" ...
    custom_tinyml_prefix = kws                       ; ... or this prefix
    custom_tinyml_models = kws:models/kws.tflite vww:models/vww.tflite   ; several (prefix:path)
    custom_tinyml_ram_margin = 8k                    ; RAM kept free besides the arenas (see below)
    custom_tinyml_verify_inputs = 20                 ; inputs `-t tinyml-verify` compares
    custom_tinyml_kernels = auto                     ; auto (the board's CPU picks) or portable
    custom_tinyml_train = bias+last                  ; on-device training: a scheme or a spec .toml, for
                                                     ; every model, or per model: kws:bias+last vww:last
    custom_tinyml_labels = labels.txt                ; class labels, one per line (or kws:kws.txt ...)
    custom_tinyml_patches = auto                     ; patch-based first stage: off, auto, fit or NxM@opK, for
                                                     ; every model or per model (kws:auto); see `plan --patches`
    custom_tinyml_max_overhead = 0.2                 ; patches auto: the most extra MACs allowed
    custom_tinyml_arena = extern                     ; static (default) or extern: the application defines the arena
    custom_tinyml_arena_section = .dtcm              ; a linker section for the (static or shared) arena
    custom_tinyml_shared_arena = yes                 ; one arena for models that run in turn (yes, a group, kws:g ...)
    custom_tinyml_flash_margin = 64k                 ; flash estimated for the code besides the weights
    custom_tinyml_custom_ops = SignalWindow=my_window:256  ; your C function for a custom or unsupported
                                                     ; operator (and its scratch bytes); several: comma or newline

For each model it runs the same pipeline as `tinyml-pio convert` (pipeline.compile_model) and writes
PREFIX.h / PREFIX.c into $BUILD_DIR/tinyml/, adds that directory to the include path and the .c files
to the build once. A stamp file keeps the hash of the model bytes, the prefix and the converter's
own sources and the kernel target: unchanged models are not converted again. A conversion error stops the build with the
CLI's message. Before anything is compiled the arenas are checked against the board's RAM: the
budget of board_defs/boards/<board>.json when the board is listed there (SRAM minus its reserve;
board_upload.maximum_ram_size in place of the SRAM when the project sets it), else
upload.maximum_ram_size minus custom_tinyml_ram_margin (default 4 KB); and the weights plus a code
estimate against upload.maximum_size (memory.py, which also handles the arena placement options).

Kernels: the generated code calls the optimized kernels (library/src/kernels/*_opt.c, mve/) for
the board's CPU (tinyml_pio/passes/variants.py and opt.py): their DSP-extension path on
Cortex-M4/M7/M33, Helium on the M55, plain C elsewhere. The CPU comes from board_defs/boards/<board>.json when the board is listed
there, else from PlatformIO's build.cpu (tinyml_pio/cpu.py); the summary line names the choice
("kernels: dsp", "mve" or "opt"). custom_tinyml_kernels = portable keeps every layer on the portable kernels.

Custom targets: `pio run -t tinyml-plan` prints each model's memory plan, `pio run -t tinyml-verify`
compiles the generated code on the host and compares it with TFLite bit for bit.

Without custom_tinyml_model(s) nothing happens: the library is then just the kernels.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..cpu import CpuFeatures
from ..errors import TinymlError
from . import memory

OPT_MODEL = "custom_tinyml_model"
OPT_MODELS = "custom_tinyml_models"
OPT_PREFIX = "custom_tinyml_prefix"
OPT_MARGIN = "custom_tinyml_ram_margin"
OPT_VERIFY_INPUTS = "custom_tinyml_verify_inputs"
OPT_KERNELS = "custom_tinyml_kernels"
OPT_TRAIN = "custom_tinyml_train"
OPT_LABELS = "custom_tinyml_labels"
OPT_PATCHES = "custom_tinyml_patches"
OPT_MAX_OVERHEAD = "custom_tinyml_max_overhead"
OPT_CUSTOM_OPS = "custom_tinyml_custom_ops"
DEFAULT_PREFIX = "model"
DEFAULT_MARGIN = 4096
GEN_DIR = "tinyml"
OBJ_DIR = "tinyml_obj"
STAMP = "tinyml-stamp.json"
TARGET_PLAN = "tinyml-plan"
TARGET_VERIFY = "tinyml-verify"


@dataclass(frozen=True)
class ModelSpec:
    prefix: str
    path: Path  # absolute
    written: str  # as written in platformio.ini
    option: str


@dataclass
class Generated:
    spec: ModelSpec
    files: list[str]
    arena: int
    weights: int
    macs: int
    fresh: bool  # converted in this run (False: the stamp said it is up to date)
    kernels: str = "portable"  # kernel variants the generated code calls ("dsp", ...)
    weights_parts: str = ""  # the weights figure's breakdown (weights.py), e.g. "weights 1,024 + bias 64"


@dataclass
class _BuildState:
    specs: list[ModelSpec]
    generated: list[Generated] = field(default_factory=list)
    sources_added: bool = False
    patches: dict[str, str] = field(default_factory=dict)  # prefix -> custom_tinyml_patches setting
    max_overhead: float = 0.2
    verify_inputs: int = 20
    placements: dict[str, Any] = field(default_factory=dict)  # prefix -> codegen.placement.ArenaPlacement
    shared_files: list[str] = field(default_factory=list)  # tinyml_arena_<group>.c
    custom_ops: dict[str, Any] = field(default_factory=dict)  # custom_tinyml_custom_ops, parsed


_STATE: dict[str, _BuildState] = {}  # per $BUILD_DIR, for the life of the SCons process


# ---- options --------------------------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    return str(value)


def _items(value: Any) -> list[str]:
    return [t for t in re.split(r"[\s,]+", _text(value)) if t]


def parse_models(model: Any = None, models: Any = None, prefix: Any = None,
                 project_dir: str | os.PathLike[str] = ".") -> list[ModelSpec]:
    """The models the options name, checked: valid unique prefixes, existing files."""
    from ..codegen import check_prefix

    base = Path(project_dir)
    specs: list[ModelSpec] = []
    single = _items(model)
    if len(single) > 1:
        raise TinymlError(f"{OPT_MODEL} names {len(single)} files ({' '.join(single)}); it takes one.",
                          hint=f"for several models use {OPT_MODELS} = kws:models/kws.tflite vww:models/vww.tflite")
    pfx = _text(prefix).strip()
    if pfx and not single:
        raise TinymlError(f"{OPT_PREFIX} = {pfx} is set but {OPT_MODEL} is not.",
                          hint=f"set {OPT_MODEL} = path/to/model.tflite, or use {OPT_MODELS} = {pfx}:path/to/model.tflite")
    if single:
        specs.append(ModelSpec(pfx or DEFAULT_PREFIX, Path(), single[0], OPT_MODEL))
    for item in _items(models):
        name, sep, path = item.partition(":")
        if not sep or not name or not path or re.match(r"^[A-Za-z]$", name) and path.startswith(("\\", "/")):
            raise TinymlError(f"{OPT_MODELS} entry '{item}' is not PREFIX:PATH.",
                              hint=f"write e.g. {OPT_MODELS} = kws:models/kws.tflite vww:models/vww.tflite")
        specs.append(ModelSpec(name, Path(), path, OPT_MODELS))
    out, seen = [], {}
    for s in specs:
        try:
            check_prefix(s.prefix)
        except TinymlError as e:
            raise TinymlError(f"{s.option}: {e.args[0]}", hint=e.hint) from None
        key = s.prefix.upper()  # macros are upper-case: kws and KWS would collide
        if key in seen:
            raise TinymlError(f"two models use the prefix '{s.prefix}' ({seen[key]} and {s.written}); prefixes "
                              "must differ in more than letter case.",
                              hint="give each model its own prefix: the generated files and C symbols are named after it.")
        seen[key] = s.written
        p = Path(s.written).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            raise TinymlError(f"{s.option}: model file '{s.written}' not found (looked for {p}).",
                              hint="paths are relative to the project directory (where platformio.ini is).")
        out.append(ModelSpec(s.prefix, p.resolve(), s.written, s.option))
    return out


def parse_bytes(value: Any, option: str = OPT_MARGIN) -> int:
    """'4096', '4k', '4 KB', '1M' -> bytes."""
    text = _text(value).strip()
    m = re.fullmatch(r"(\d+)\s*([kKmM]?)(?:[iI]?[bB])?", text)
    if not m:
        raise TinymlError(f"{option} = '{text}' is not a size.", hint="write bytes, e.g. 4096, 4k or 1M.")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]


def _option(env, name: str, default: Any = "") -> Any:
    try:
        return env.GetProjectOption(name, default)
    except Exception:  # pylint: disable=broad-except  (older cores: unknown option)
        return default


KNOWN_OPTIONS = (OPT_MODEL, OPT_MODELS, OPT_PREFIX, OPT_MARGIN, OPT_VERIFY_INPUTS, OPT_KERNELS, OPT_TRAIN, OPT_LABELS,
                 OPT_PATCHES, OPT_MAX_OVERHEAD, memory.OPT_ARENA, memory.OPT_SECTION, memory.OPT_SHARED,
                 memory.OPT_FLASH_MARGIN, OPT_CUSTOM_OPS)


def configured_options(env) -> list[str]:
    """The names of the options set for this environment (its section, what it extends, [env])."""
    try:
        cfg = env.GetProjectConfig()
        return [k for k, _ in cfg.items(env=env["PIOENV"])]
    except Exception:  # pylint: disable=broad-except  (no project config: e.g. a test double)
        return list(getattr(env, "options", {}))


def check_option_names(env) -> None:
    """A misspelt custom_tinyml_* option is an error naming the closest known one (else the build
    would quietly go on without a model)."""
    import difflib

    for name in configured_options(env):
        if name.startswith("custom_tinyml") and name not in KNOWN_OPTIONS:
            close = difflib.get_close_matches(name, KNOWN_OPTIONS, n=1, cutoff=0.6)
            raise TinymlError(f"unknown option {name} in platformio.ini.",
                              hint=(f"did you mean {close[0]}? " if close else "")
                              + "known: " + ", ".join(KNOWN_OPTIONS))


def wanted(env) -> bool:
    """Whether models are configured; any other custom_tinyml_* option without one is an error
    (it would otherwise be ignored without a word)."""
    if _text(_option(env, OPT_MODEL)).strip() or _text(_option(env, OPT_MODELS)).strip():
        return True
    alone = [n for n in configured_options(env) if n in KNOWN_OPTIONS and _text(_option(env, n)).strip()]
    if alone:
        raise TinymlError(f"{', '.join(alone)} {'is' if len(alone) == 1 else 'are'} set but no model is: "
                          f"{OPT_MODEL} and {OPT_MODELS} are empty.",
                          hint=f"add {OPT_MODEL} = path/to/model.tflite (or {OPT_MODELS} = PREFIX:PATH ...), "
                               "or remove the option.")
    return False


def parse_count(value: Any, option: str = OPT_VERIFY_INPUTS, default: int = 20) -> int:
    """A positive whole number ('' -> default)."""
    text = _text(value).strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise TinymlError(f"{option} = '{text}' is not a positive whole number.", hint=f"e.g. {option} = {default}")
    return int(text)


# ---- generation -----------------------------------------------------------------------------

def tool_fingerprint() -> str:
    """Version plus the converter's own sources: a changed generator regenerates every model."""
    from .. import __version__

    pkg = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(__version__.encode())
    for p in sorted(pkg.rglob("*")):
        if p.suffix in (".py", ".j2") and "__pycache__" not in p.parts and "platformio" not in p.relative_to(pkg).parts[:1]:
            h.update(str(p.relative_to(pkg)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _header_define(text: str, prefix: str, name: str) -> int:
    m = re.search(rf"#define\s+{re.escape(prefix.upper())}_{name}\s+(\d+)", text)
    return int(m.group(1)) if m else 0


def parse_per_model(value: Any, specs: list[ModelSpec], option: str, example: str,
                    project_dir: str | os.PathLike[str] = ".",
                    names_file: Callable[[str], bool] = lambda v: True) -> dict[str, str]:
    """{prefix: value} from an option that takes one value for every model, or PREFIX:VALUE entries;
    values that name a file (`names_file`) are checked and taken relative to the project directory."""
    items = _items(value)
    if not items:
        return {}
    prefixes = {s.prefix for s in specs}
    out: dict[str, str] = {}
    if len(items) == 1 and items[0].partition(":")[0] not in prefixes:
        out = {p: items[0] for p in prefixes}
    else:
        for item in items:
            name, sep, v = item.partition(":")
            if not sep or name not in prefixes or not v:
                raise TinymlError(f"{option} entry '{item}' is not PREFIX:VALUE for a configured model "
                                  f"({', '.join(sorted(prefixes))}).",
                                  hint=f"write {option} = {example} for every model, or e.g. {option} = "
                                  f"{sorted(prefixes)[0]}:{example}")
            out[name] = v
    for k, v in out.items():
        if names_file(v):
            p = Path(v).expanduser()
            p = p if p.is_absolute() else Path(project_dir) / p
            if not p.is_file():
                raise TinymlError(f"{option}: file '{v}' not found (looked for {p}).",
                                  hint="paths are relative to the project directory (where platformio.ini is).")
            out[k] = str(p.resolve())
    return out


def parse_patches_option(value: Any, specs: list[ModelSpec]) -> dict[str, str]:
    """{prefix: patch setting} from custom_tinyml_patches (off, auto or NxM@opK; checked here)."""
    from ..passes.patch import parse_patches

    return {k: parse_patches(v).text for k, v in parse_per_model(value, specs, OPT_PATCHES, "auto",
                                                                     names_file=lambda v: False).items()}


def parse_max_overhead(value: Any) -> float:
    text = _text(value).strip()
    try:
        v = float(text) if text else 0.2
    except ValueError:
        v = -1.0
    if not 0 <= v < float("inf"):
        raise TinymlError(f"{OPT_MAX_OVERHEAD} = {text} is not a fraction >= 0.", hint=f"e.g. {OPT_MAX_OVERHEAD} = 0.2")
    return v


def parse_train(value: Any, specs: list[ModelSpec], project_dir: str | os.PathLike[str] = ".") -> dict[str, str]:
    """{prefix: update scheme} from custom_tinyml_train (a .toml spec is a file)."""
    return parse_per_model(value, specs, OPT_TRAIN, "bias+last", project_dir, names_file=lambda v: v.endswith(".toml"))


def parse_labels(value: Any, specs: list[ModelSpec], project_dir: str | os.PathLike[str] = ".") -> dict[str, str]:
    """{prefix: labels file} from custom_tinyml_labels."""
    return parse_per_model(value, specs, OPT_LABELS, "labels.txt", project_dir)


def generate(specs: list[ModelSpec], outdir: Path, log: Callable[[str], None] = print,
             target: CpuFeatures | None = None, train: dict[str, str] | None = None,
             labels: dict[str, str] | None = None, patches: dict[str, str] | None = None,
             max_overhead: float = 0.2, budget: int | None = None,
             placements: dict[str, Any] | None = None, custom_ops: Any = None) -> list[Generated]:
    """Convert what changed since the stamp (model, prefix, converter, kernel target, training
    scheme, patch setting); remove files of models no longer configured. `target` picks the kernel
    variants (None: portable); `train` maps prefixes to update schemes, `patches` to patch settings,
    `placements` to arena placements (memory.parse_placements)."""
    from ..pipeline import compile_model, write_output

    target = CpuFeatures.resolve(target)

    outdir.mkdir(parents=True, exist_ok=True)
    stamp_path = outdir / STAMP
    try:
        old = json.loads(stamp_path.read_text()).get("models", {})
    except (OSError, ValueError):
        old = {}
    tool = tool_fingerprint()
    result, new = [], {}
    per_model = custom_ops_per_model(specs, custom_ops or {})
    for s in specs:
        user = per_model[s.prefix]
        scheme = (train or {}).get(s.prefix)
        scheme_bytes = (scheme or "").encode() + (Path(scheme).read_bytes() if scheme and scheme.endswith(".toml") else b"")
        label_file = (labels or {}).get(s.prefix)
        scheme_bytes += b"\0" + (Path(label_file).read_bytes() if label_file else b"")
        patch = (patches or {}).get(s.prefix, "off")
        place = (placements or {}).get(s.prefix)
        key = hashlib.sha256(s.path.read_bytes() + b"\0" + s.prefix.encode() + b"\0" + tool.encode()
                             + b"\0" + repr(target).encode() + b"\0" + scheme_bytes
                             + b"\0" + f"{patch}/{max_overhead}/{budget}/{place!r}".encode()
                             + b"\0" + repr(sorted(user.values(), key=repr)).encode()).hexdigest()
        prev = old.get(s.prefix)
        if prev and prev.get("key") == key and all((outdir / f).is_file() for f in prev.get("files", [])):
            g = Generated(s, prev["files"], prev["arena"], prev["weights"], prev["macs"], fresh=False,
                          kernels=prev.get("kernels", "portable"), weights_parts=prev.get("weights_parts", ""))
        else:
            c = compile_model(s.path, s.prefix, target=target, train=scheme, labels=label_file, patches=patch,
                              max_overhead=max_overhead, budget=budget, arena=place, custom_ops=user)
            write_output(c.files, outdir)
            if c.patches is not None:
                log(f"tinyml: {s.prefix}: patches {c.patches.text}, arena {c.patches.layer_arena} B layer by layer, "
                    f"MAC overhead {100 * c.patches.overhead:.1f}%")
            header = c.files.get(f"{s.prefix}.h", "")
            # with training the arena serves both plans and the trainable parameters are RAM too
            ram = _header_define(header, s.prefix, "ARENA_SIZE") + _header_define(header, s.prefix, "PARAMS_BYTES")
            g = Generated(s, sorted(c.files), ram, _header_define(header, s.prefix, "WEIGHTS_BYTES"),
                          c.macs, fresh=True, kernels=c.kernels, weights_parts=c.weights.parts())
        new[s.prefix] = {"key": key, "files": g.files, "arena": g.arena, "weights": g.weights, "macs": g.macs,
                         "kernels": g.kernels, "target": target.key(), "model": str(s.path),
                         "weights_parts": g.weights_parts}
        result.append(g)
        parts = f" ({g.weights_parts})" if g.weights_parts else ""
        log(f"tinyml: {s.prefix} <- {s.written}: arena {g.arena} B, weights {g.weights} B{parts}, {g.macs} MACs, "
            f"kernels: {g.kernels} ({'converted' if g.fresh else 'up to date'})")
    keep = {f for g in result for f in g.files}
    for prefix, prev in old.items():
        for f in prev.get("files", []):
            if f not in keep and (outdir / f).is_file():
                (outdir / f).unlink()
    stamp_path.write_text(json.dumps({"models": new}, indent=2))
    return result


def custom_ops_per_model(specs: list[ModelSpec], custom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{prefix: the custom_tinyml_custom_ops entries naming one of its operators}; an entry that
    names no operator of any model is an error (a typo, most likely)."""
    from ..custom_ops import op_key
    from ..tflite_import import load_model

    per_model, used = {}, set()
    for s in specs:
        keys = {op_key(op) for op in load_model(s.path).ops} if custom else set()
        per_model[s.prefix] = {k: v for k, v in custom.items() if k in keys}
        used |= set(per_model[s.prefix])
    unused = sorted(set(custom) - used)
    if unused:
        raise TinymlError(f"{OPT_CUSTOM_OPS} names {', '.join(unused)}, which no operator of the configured models is.",
                          hint="name a custom operator's code (e.g. SignalWindow) or a builtin type the model has; "
                          "`tinyml-pio inspect MODEL` lists them.")
    return per_model


# ---- kernel target ---------------------------------------------------------------------------

def kernel_target(env) -> CpuFeatures:
    """The CPU the generated code is for: board_defs/boards when it lists the board, else PlatformIO's
    build.cpu; portable without a board (native builds) or with custom_tinyml_kernels = portable."""
    choice = _text(_option(env, OPT_KERNELS)).strip().lower() or "auto"
    if choice not in ("auto", "portable"):
        raise TinymlError(f"{OPT_KERNELS} = {choice} is not auto or portable.",
                          hint="auto (default) uses the kernel variants the board's CPU can run; portable uses none.")
    board_id = env.subst("$BOARD") if "BOARD" in env else ""
    if choice == "portable" or not board_id:
        return CpuFeatures.portable()
    try:
        config = env.BoardConfig()
    except Exception:  # pylint: disable=broad-except  (no board configuration)
        config = None
    return CpuFeatures.from_platformio(config, board_id)


# ---- budget ---------------------------------------------------------------------------------

_board_defs_entry = memory.board_defs_entry


def ram_budget(env) -> tuple[int, str] | None:
    """(bytes the arenas may use, where that figure comes from); None when the board is unknown."""
    return memory.ram_budget(env, _text(_option(env, OPT_MARGIN)).strip(), DEFAULT_MARGIN, OPT_MARGIN)


def check_budget(env, generated: list[Generated], placements: dict[str, Any] | None = None) -> None:
    """The arenas the board's RAM holds (memory.ram_entries) against ram_budget()."""
    memory.check_ram(env, memory.ram_entries(generated, placements or {}), ram_budget(env),
                     raise_hint=f"set {OPT_MARGIN} = N if the rest of the firmware needs less RAM")


# ---- custom targets -------------------------------------------------------------------------

def _plan_action(specs: list[ModelSpec], board_id: str, patches: dict[str, str], max_overhead: float):
    def action(target, source, env):  # pylint: disable=unused-argument
        from .. import plan_report

        entry = _board_defs_entry(board_id) if board_id else None
        try:
            for s in specs:
                print(f"== {s.prefix} ({s.written}) ==")
                rep = plan_report.build_report(str(s.path), board=entry.id if entry else None,
                                               patches=patches.get(s.prefix), max_overhead=max_overhead)
                print(plan_report.format_text(rep))
                print()
        except TinymlError as e:
            sys.stderr.write(f"Error: {e}\n")
            return 1
        return 0

    return action


def _verify_action(specs: list[ModelSpec], n: int, patches: dict[str, str], max_overhead: float,
                   custom: dict[str, Any] | None = None):
    def action(target, source, env):  # pylint: disable=unused-argument
        from ..pipeline import compile_model

        failed = 0
        for s in specs:
            try:
                from ..verify import verify_compiled

                user = custom_ops_per_model([s], custom or {}) if custom else {s.prefix: {}}
                c = compile_model(s.path, s.prefix, patches=patches.get(s.prefix), max_overhead=max_overhead,
                                  custom_ops=user[s.prefix])
                r = verify_compiled(c, n=n, log=lambda m, p=s.prefix: print(f"{p}: {m}"))
                if r.skipped:  # user kernels: `tinyml-pio verify --custom-ref` checks them
                    print(f"{s.prefix}: bit-exact: skipped ({r.skipped})")
                    continue
            except TinymlError as e:
                sys.stderr.write(f"Error: {s.prefix}: {e}\n")
                failed += 1
                continue
            except ImportError as e:
                sys.stderr.write(f"Error: host verification needs the reference interpreter ({e}).\n"
                                 f"What to do: {sys.executable} -m pip install 'tinyml-pio[verify]'\n")
                return 1
            print(f"{s.prefix}: bit-exact {r.identical}/{r.total} inputs (reference: {r.reference})")
            if not r.ok:
                failed += 1
                if r.mismatch:
                    print(f"{s.prefix}: {r.mismatch}")
        return 1 if failed else 0

    return action


def _quiet(env, fn):
    """The action without SCons's `action([...], [...])` echo of a Python function."""
    return env.Action(fn, cmdstr=None) if hasattr(env, "Action") else fn


def _register_targets(default_env, specs: list[ModelSpec], board_id: str, verify_inputs: int,
                      patches: dict[str, str] | None = None, max_overhead: float = 0.2,
                      custom: dict[str, Any] | None = None) -> None:
    patches = patches or {}
    targets = default_env.get("__PIO_TARGETS") or {}
    if TARGET_PLAN not in targets:
        default_env.AddCustomTarget(name=TARGET_PLAN, dependencies=None,
                                    actions=[_quiet(default_env, _plan_action(specs, board_id, patches, max_overhead))],
                                    title="tinyml: memory plan", description="Print each model's arena plan")
    if TARGET_VERIFY not in targets:
        default_env.AddCustomTarget(name=TARGET_VERIFY, dependencies=None,
                                    actions=[_quiet(default_env, _verify_action(specs, verify_inputs, patches, max_overhead,
                                                                                custom))],
                                    title="tinyml: verify on host",
                                    description="Compile the generated code on the host and compare with TFLite")


# ---- entry points ---------------------------------------------------------------------------

def configure(env, default_env, projenv=None, library_dir: str | None = None,
              log: Callable[[str], None] = print) -> list[Generated]:
    """Everything the extra script does; raises TinymlError for the user's mistakes.

    `env` is the library's build environment, `default_env` PlatformIO's global one, `projenv`
    the project sources' one. Safe to call more than once per build (PlatformIO may construct the
    library builder again): conversion, sources and targets happen once, include paths are
    (re)applied to whatever environment is passed.
    """
    check_option_names(env)
    if not wanted(env):
        return []
    build_dir = env.subst("$BUILD_DIR")
    outdir = Path(build_dir) / GEN_DIR
    state = _STATE.get(build_dir)
    if state is None:
        specs = parse_models(_option(env, OPT_MODEL), _option(env, OPT_MODELS), _option(env, OPT_PREFIX),
                             env.subst("$PROJECT_DIR"))
        _check_versions(library_dir, log)
        state = _BuildState(specs)
        train = parse_train(_option(env, OPT_TRAIN), specs, env.subst("$PROJECT_DIR"))
        labels = parse_labels(_option(env, OPT_LABELS), specs, env.subst("$PROJECT_DIR"))
        state.patches = parse_patches_option(_option(env, OPT_PATCHES), specs)
        state.max_overhead = parse_max_overhead(_option(env, OPT_MAX_OVERHEAD))
        if _text(_option(env, OPT_MAX_OVERHEAD)).strip() and "auto" not in state.patches.values():
            raise TinymlError(f"{OPT_MAX_OVERHEAD} is set but no model has {OPT_PATCHES} = auto, the only setting it bounds.",
                              hint=f"add {OPT_PATCHES} = auto, or remove {OPT_MAX_OVERHEAD}.")
        state.verify_inputs = parse_count(_option(env, OPT_VERIFY_INPUTS))
        state.placements = memory.parse_placements(env, specs, lambda name: _option(env, name))
        fit = ram_budget(env) if "fit" in state.patches.values() else None
        from ..custom_ops import parse_custom_ops

        custom = parse_custom_ops(_text(_option(env, OPT_CUSTOM_OPS)), where=OPT_CUSTOM_OPS)
        state.generated = generate(specs, outdir, log, target=kernel_target(env), train=train, labels=labels,
                                   patches=state.patches, max_overhead=state.max_overhead,
                                   budget=fit[0] if fit else None, placements=state.placements, custom_ops=custom)
        state.custom_ops = custom
        state.shared_files = memory.write_shared_arenas(state.placements, {g.spec.prefix: g.arena for g in state.generated},
                                                        outdir, log)
        check_budget(env, state.generated, state.placements)
        memory.check_flash(env, state.generated, _text(_option(env, memory.OPT_FLASH_MARGIN)).strip())
        _STATE[build_dir] = state
    inc = [str(outdir)]
    if library_dir:
        inc.append(os.path.join(library_dir, "include"))
    for e in (env, projenv, default_env):
        if e is not None:
            e.AppendUnique(CPPPATH=inc)
    if not state.sources_added:
        c_files = [f for g in state.generated for f in g.files if f.endswith(".c")] + state.shared_files
        src_filter = "-<*> " + " ".join(f"+<{f}>" for f in c_files)
        env.BuildSources(os.path.join("$BUILD_DIR", OBJ_DIR), str(outdir), src_filter)
        state.sources_added = True
        board_id = env.subst("$BOARD") if "BOARD" in env else ""
        _register_targets(default_env, state.specs, board_id, state.verify_inputs, state.patches, state.max_overhead,
                          state.custom_ops)
    return state.generated


def _check_versions(library_dir: str | None, log: Callable[[str], None]) -> None:
    from .. import __version__

    if not library_dir:
        return
    try:
        lib_version = json.loads(Path(library_dir, "library.json").read_text()).get("version")
    except (OSError, ValueError):
        return
    if lib_version and lib_version != __version__:
        log(f"Warning: tinyml-pio library {lib_version} with the tinyml-pio Python package {__version__}: "
            "the generated code and the kernels may not match; install the same version of both.")


def main(env, projenv=None, library_dir: str | None = None, default_env=None) -> None:
    """Called by library/extra_script.py inside `pio run`; a TinymlError ends the build with its message."""
    if default_env is None:
        from SCons.Script import DefaultEnvironment  # pylint: disable=import-error,import-outside-toplevel

        default_env = DefaultEnvironment()
    try:
        configure(env, default_env, projenv=projenv, library_dir=library_dir)
    except TinymlError as e:
        sys.stderr.write(f"Error: {e}\n")
        env.Exit(1)
