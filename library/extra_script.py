# PlatformIO extra script of the tinyml-pio library (library.json "build.extraScript").
#
# With custom_tinyml_model / custom_tinyml_models in the [env] section, the models are converted
# to C during `pio run` (into $BUILD_DIR/tinyml/) and compiled with the firmware; see
# tinyml_pio/platformio/extra.py for the options and targets (tinyml-plan, tinyml-verify).
# Without any custom_tinyml_* option this script does nothing and the library is just the kernels
# (one without a model, e.g. custom_tinyml_prefix alone or a misspelt name, stops the build with an error).
#
# The conversion runs in PlatformIO's own Python, which therefore needs the tinyml-pio package:
#   <PlatformIO's python> -m pip install tinyml-pio      (`pio system info` names that Python)
import os
import sys

Import("env")  # noqa: F821 (SCons)

try:
    Import("pio_lib_builder")  # noqa: F821
except Exception:  # pylint: disable=broad-except
    pio_lib_builder = None
try:
    Import("projenv")  # noqa: F821
except Exception:  # pylint: disable=broad-except
    projenv = None


def _library_dir():
    if pio_lib_builder is not None:
        return pio_lib_builder.path
    here = globals().get("__file__")
    return os.path.dirname(os.path.abspath(here)) if here else os.getcwd()


def _option(name):
    try:
        return str(env.GetProjectOption(name, "") or "").strip()
    except Exception:  # pylint: disable=broad-except
        return ""


def _tinyml_extra(library_dir):
    try:
        from tinyml_pio.platformio import extra
        return extra
    except ImportError:
        pass
    checkout = os.path.dirname(library_dir)  # a source checkout: library/ beside tinyml_pio/
    if os.path.isfile(os.path.join(checkout, "tinyml_pio", "platformio", "extra.py")):
        sys.path.insert(0, checkout)
        try:
            from tinyml_pio.platformio import extra
            return extra
        except ImportError:
            pass
    sys.stderr.write(
        "Error: custom_tinyml_* options are set but the tinyml-pio Python package is not installed in "
        "PlatformIO's Python (%s).\nWhat to do: %s -m pip install tinyml-pio\n" % (sys.executable, sys.executable))
    env.Exit(1)
    return None


def _tinyml_options():
    """Names of the custom_tinyml_* options of this environment: any of them (a model, or a prefix
    or a misspelt name without one) hands the build to the package, which checks them."""
    try:
        names = [k for k, _ in env.GetProjectConfig().items(env=env["PIOENV"])]
    except Exception:  # pylint: disable=broad-except  (no project config: a test double)
        names = list(getattr(env, "options", {}))
    return [n for n in names if n.startswith("custom_tinyml") and _option(n)]


if _tinyml_options():
    _dir = _library_dir()
    _tinyml_extra(_dir).main(env, projenv=projenv, library_dir=_dir)
