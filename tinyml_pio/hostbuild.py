"""Compile generated C with the host compiler and run it: the engine behind `verify` and the tests.

The kernel library is compiled once per (compiler, flags, library sources) into a cached static
library, so verifying a zoo of models does not rebuild the kernels for each one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import TinymlError

WARN_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]
SANITIZE_FLAGS = ("-DTINYML_SANITIZE_LAYERS", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g",
                  "-fno-omit-frame-pointer")
RUN_TIMEOUT = 600  # seconds: far above any model's host run, so a bug cannot hang verify


def library_dir() -> Path:
    """The C library: $TINYML_PIO_LIBRARY, else `library/` beside the package (source checkout)."""
    env = os.environ.get("TINYML_PIO_LIBRARY")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent
    candidates += [here.parent / "library", here / "library"]
    for c in candidates:
        if (c / "include" / "tinyml" / "common.h").is_file():
            return c
    raise TinymlError("the tinyml C library was not found next to the tinyml_pio package.",
                      hint="install from a source checkout (pip install -e .) or set TINYML_PIO_LIBRARY.")


def kernel_sources() -> list[Path]:
    """The kernels, then the CPU-specific ones in subfolders (src/kernels/mve/, ...): every file builds
    everywhere (what needs an extension compiles only with it), so one library serves all."""
    kernels = library_dir() / "src" / "kernels"
    return sorted(kernels.glob("*.c")) + sorted(p for p in kernels.glob("*/*.c"))


def compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise TinymlError(f"no host C compiler ('{cc}') found.", hint="install gcc (apt-get install gcc) or set CC.")
    return cc


class HostBuildError(TinymlError):
    """Generated or library C failed to build or run on the host: a tinyml-pio bug, not a user mistake."""

    def __init__(self, message: str):
        super().__init__(message, hint="this is a bug in tinyml-pio: please report it with the model and this output.")


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-30:])
        raise HostBuildError(f"the host C build failed: {' '.join(cmd[:1])} ... exited with {r.returncode}:\n{tail}")


def kernel_archive(opt: str = "-O2", defines: tuple[str, ...] = ()) -> Path:
    """Build (or reuse) libtinyml.a for the host."""
    cc = compiler()
    srcs = kernel_sources()
    headers = sorted((library_dir() / "include").rglob("*.h"))
    h = hashlib.sha256()
    for p in srcs + headers:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    h.update(" ".join([cc, *version, opt, *defines]).encode())
    cache = Path(os.environ.get("TINYML_PIO_CACHE", Path.home() / ".cache" / "tinyml-pio")) / f"hostlib-{h.hexdigest()[:16]}"
    lib = cache / "libtinyml.a"
    if lib.is_file():
        return lib
    with tempfile.TemporaryDirectory() as tmp:
        objs = []
        for i, src in enumerate(srcs):
            obj = Path(tmp) / f"{i:02d}_{src.stem}.o"  # kernels/x.c and kernels/arm/x.c may share a stem
            _run([cc, *WARN_FLAGS, opt, *defines, "-I", str(library_dir() / "include"), "-c", str(src), "-o", str(obj)])
            objs.append(str(obj))
        _run(["ar", "rcs", str(Path(tmp) / "libtinyml.a"), *objs])
        cache.mkdir(parents=True, exist_ok=True)
        os.replace(Path(tmp) / "libtinyml.a", lib)
    return lib


def build_executable(sources: dict[str, str], workdir: Path, name: str = "model", opt: str = "-O2",
                     defines: tuple[str, ...] = ()) -> Path:
    """Write `sources` into workdir, compile the .c files with the kernel library, return the binary."""
    workdir.mkdir(parents=True, exist_ok=True)
    for fname, text in sources.items():
        (workdir / fname).write_text(text)
    lib = kernel_archive(opt, defines)  # the same flags (sanitizers, hooks) reach the kernels
    exe = workdir / name
    cfiles = [str(workdir / f) for f in sources if f.endswith(".c")]
    _run([compiler(), *WARN_FLAGS, opt, *defines, "-I", str(workdir), "-I", str(library_dir() / "include"),
          *cfiles, str(lib), "-lm", "-o", str(exe)])
    return exe


HARNESS = r"""
/* Host harness: reads samples (all inputs concatenated) from argv[1], writes outputs to argv[2].
 * With TINYML_TRACE, writes every layer output of the first sample to argv[3]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "PREFIX.h"

#ifdef PREFIX_INPUT_CALLBACK
/* input callback mode: the harness keeps the full image and hands out the windows asked for */
static int8_t harness_image[PREFIX_INPUT0_BYTES];
void PREFIX_read_input(const tinyml_input_window_t *w, int8_t *dst) { tinyml_copy_input_window(w, harness_image, dst); }
#define HARNESS_INPUT(i) ((void *)harness_image)
#else
#define HARNESS_INPUT(i) PREFIX_input(i)
#endif

#ifdef TINYML_TRACE
static FILE *trace_file;
void tinyml_trace(int op_index, int tensor_index, const void *data, size_t bytes);
void tinyml_trace(int op_index, int tensor_index, const void *data, size_t bytes) {
    int32_t hdr[3];
    hdr[0] = op_index; hdr[1] = tensor_index; hdr[2] = (int32_t)bytes;
    if (!trace_file) return;
    fwrite(hdr, sizeof hdr, 1, trace_file);
    fwrite(data, 1, bytes, trace_file);
}
#endif

int main(int argc, char **argv) {
    FILE *in, *out;
    int i, n = 0;
    if (argc < 3) return 2;
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (!in || !out) return 2;
#ifdef TINYML_TRACE
    if (argc > 3) trace_file = fopen(argv[3], "wb");
#endif
    for (;;) {
        for (i = 0; i < PREFIX_NUM_INPUTS; ++i) {
            if (fread(HARNESS_INPUT(i), 1, PREFIX_input_bytes(i), in) != PREFIX_input_bytes(i)) {
                fclose(in); fclose(out);
                return n > 0 ? 0 : 3;
            }
        }
        if (PREFIX_invoke() != 0) return 4;
        for (i = 0; i < PREFIX_NUM_OUTPUTS; ++i) fwrite(PREFIX_output(i), 1, PREFIX_output_bytes(i), out);
#ifdef TINYML_TRACE
        if (trace_file) { fclose(trace_file); trace_file = NULL; }
#endif
        ++n;
    }
}
"""


def harness_source(prefix: str) -> str:
    up = prefix.upper()
    return HARNESS.replace("PREFIX_NUM", up + "_NUM").replace("PREFIX_INPUT", up + "_INPUT").replace("PREFIX", prefix)


class HostModel:
    """A generated model compiled for the host; `run` feeds a batch of samples through it."""

    def __init__(self, files: dict[str, str], prefix: str, workdir: Path, in_specs: list[tuple[tuple[int, ...], np.dtype]],
                 out_specs: list[tuple[tuple[int, ...], np.dtype]], trace: bool = False, opt: str = "-O2",
                 sanitize_hooks: str | None = None):
        """`sanitize_hooks`: the C of codegen.sanitize.hooks_source; builds with ASan/UBSan and the
        arena poisoned outside each layer's own tensors and scratch."""
        self.workdir = workdir
        self.in_specs = in_specs
        self.out_specs = out_specs
        sources = dict(files)
        sources["harness_main.c"] = harness_source(prefix)
        defines = ("-DTINYML_TRACE",) if trace else ()
        if sanitize_hooks is not None:
            sources["sanitize_hooks.c"] = sanitize_hooks
            defines += SANITIZE_FLAGS
            opt = "-O1"
        name = ("model_trace" if trace else "model") + ("_asan" if sanitize_hooks is not None else "")
        self.exe = build_executable(sources, workdir, name=name, opt=opt, defines=defines)

    def run(self, samples: list[list[np.ndarray]], trace_path: Path | None = None) -> list[list[np.ndarray]]:
        inp = self.workdir / "in.bin"
        outp = self.workdir / "out.bin"
        with open(inp, "wb") as f:
            for s in samples:
                for x, (shape, dt) in zip(s, self.in_specs):
                    f.write(np.ascontiguousarray(x, dtype=dt).tobytes())
        cmd = [str(self.exe), str(inp), str(outp)] + ([str(trace_path)] if trace_path else [])
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise HostBuildError(f"the generated model ran for more than {RUN_TIMEOUT} s on {len(samples)} input(s)") from None
        if r.returncode != 0:
            raise HostBuildError(f"the generated model exited with {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
        raw = outp.read_bytes()
        res, pos = [], 0
        for _ in samples:
            outs = []
            for shape, dt in self.out_specs:
                n = int(np.prod(shape)) * np.dtype(dt).itemsize
                outs.append(np.frombuffer(raw[pos : pos + n], dtype=dt).reshape(shape))
                pos += n
            res.append(outs)
        return res


def read_trace(path: Path) -> list[tuple[int, int, bytes]]:
    data = path.read_bytes()
    pos, res = 0, []
    while pos + 12 <= len(data):
        op, t, n = np.frombuffer(data[pos : pos + 12], np.int32)
        pos += 12
        res.append((int(op), int(t), data[pos : pos + int(n)]))
        pos += int(n)
    return res
