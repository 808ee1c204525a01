"""Generate the HIL firmware sources for a compiled model (the glue between model and protocol)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from .. import __version__
from ..codegen import c_string
from ..pipeline import Compiled
from .protocol import DTYPE_CODES

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def hil_sources(c: Compiled) -> dict[str, str]:
    """The model's .h/.c plus hil_main.c; compile with library/src/hil and a board's tinyml_board_*."""
    g = c.graph

    def tensors(ts: list[int]) -> list[dict]:
        return [dict(code=DTYPE_CODES[g.t(t).dtype], rank=len(g.t(t).shape), dims=list(g.t(t).shape) or [1])
                for t in ts]

    files = dict(c.files)
    files["hil_main.c"] = _ENV.get_template("hil_glue.c.j2").render(
        prefix=c.prefix, PREFIX=c.prefix.upper(), version=__version__, name=c_string(g.name),
        inputs=tensors(g.inputs), outputs=tensors(g.outputs),
        train=None if c.train is None else dict(loss=c.train.loss, target_size=g.t(c.train.loss_tensor).size))
    return files


def host_board_source() -> str:
    return (Path(__file__).parent / "host_board.c").read_text()


def build_host_firmware(c: Compiled, workdir: Path, defines: tuple[str, ...] = (), opt: str = "-O2",
                        extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile the HIL firmware for the host board (protocol over stdin/stdout)."""
    from ..hostbuild import build_executable, library_dir

    files = hil_sources(c)
    files["host_board.c"] = host_board_source()
    for src in sorted((library_dir() / "src" / "hil").glob("*.c")):
        files[src.name] = src.read_text()
    return build_executable(files, workdir, name="hil_host", opt=opt, defines=tuple(defines) + tuple(extra_flags))
