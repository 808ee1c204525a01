# tinyml-pio dev-platform "tinyml-qemu": build for the emulated Cortex-M boards and boot in QEMU.
#
# Toolchain: arm-none-eabi-gcc/newlib-nano from PATH (no registry package). Targets:
#   (default)        compile + link + size check against the board's flash/RAM
#   upload           start qemu-system-arm in the background, UART0 on socket://127.0.0.1:PORT
#                    (the CPU starts when the first client connects: `-t monitor`, pyserial, ...)
#   exec             run to completion: UART0 to stdout, the firmware's exit code fails the target
#   qemu-stop        stop the QEMU started by `upload`
#   size             print section sizes
# The QEMU logic lives in tinyml_pio.platformio.qemu (shared with the tests and the HIL harness).

import os
import re
import shutil
import sys
from os.path import isabs, isfile, join

from SCons.Script import COMMAND_LINE_TARGETS, AlwaysBuild, Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()
board_id = env.subst("$BOARD")

PLATFORM_DIR = platform.get_dir()
BSP_DIR = join(PLATFORM_DIR, "bsp")
PREFIX = "arm-none-eabi-"


def _fail(message):
    sys.stderr.write("Error: %s\n" % message)
    env.Exit(1)


def _qemu_module():
    """tinyml_pio.platformio.qemu from PlatformIO's Python, else from the checkout holding this platform."""
    try:
        from tinyml_pio.platformio import qemu  # pylint: disable=import-outside-toplevel
        return qemu
    except ImportError:
        repo = os.path.abspath(join(PLATFORM_DIR, "..", ".."))
        if isfile(join(repo, "tinyml_pio", "platformio", "qemu.py")):
            sys.path.insert(0, repo)
            from tinyml_pio.platformio import qemu  # pylint: disable=import-outside-toplevel
            return qemu
    _fail("the Python package tinyml-pio is not installed in PlatformIO's Python (%s).\n"
          "What to do: %s -m pip install tinyml-pio" % (sys.executable, sys.executable))
    return None


# ---- toolchain --------------------------------------------------------------------------------

_only_tool_targets = COMMAND_LINE_TARGETS and set(COMMAND_LINE_TARGETS) <= {"qemu-stop", "envdump", "idedata", "__idedata"}
if not _only_tool_targets and not shutil.which(PREFIX + "gcc", path=env["ENV"].get("PATH")):
    _fail("%sgcc was not found on PATH.\nWhat to do: install the GNU Arm Embedded toolchain with newlib "
          "(Debian/Ubuntu: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi; or Arm's "
          "arm-gnu-toolchain release) and put its bin/ on PATH." % PREFIX)

env.Replace(
    AR=PREFIX + "gcc-ar",
    AS=PREFIX + "as",
    CC=PREFIX + "gcc",
    CXX=PREFIX + "g++",
    GDB=PREFIX + "gdb",
    OBJCOPY=PREFIX + "objcopy",
    RANLIB=PREFIX + "gcc-ranlib",
    SIZETOOL=PREFIX + "size",
    ARFLAGS=["rc"],
    SIZEPROGREGEXP=r"^(?:\.isr_vector|\.text|\.rodata|\.ARM\.extab|\.ARM\.exidx|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.noinit|\.stack)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGSUFFIX=".elf",
)
if env.get("PROGNAME", "program") == "program":
    env.Replace(PROGNAME="firmware")

# ---- flags from the board manifest ------------------------------------------------------------

machine_flags = ["-mthumb", "-mcpu=%s" % board.get("build.cpu")]
fpu = board.get("build.fpu", "")
float_abi = board.get("build.float_abi", "hard" if fpu else "soft")
if fpu and fpu != "none" and float_abi != "soft":
    machine_flags += ["-mfpu=%s" % fpu, "-mfloat-abi=%s" % float_abi]
else:
    machine_flags += ["-mfloat-abi=soft"]

env.Append(
    ASFLAGS=machine_flags,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=machine_flags + ["-O2", "-ffunction-sections", "-fdata-sections", "-Wall"],
    CFLAGS=["-std=gnu11"],
    CXXFLAGS=["-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"],
    CPPDEFINES=[("F_CPU", "$BOARD_F_CPU"), ("TINYML_BSP_BOARD", env.StringifyMacro(board_id))],
    # the board-support API (tinyml_board.h) is the library's: every board implements it
    CPPPATH=[join(PLATFORM_DIR, "..", "..", "library", "include")],
    LINKFLAGS=machine_flags + [
        "-Wl,--gc-sections",
        "--specs=nano.specs",
        "--specs=nosys.specs",
        "-Wl,-Map,%s" % join("$BUILD_DIR", "${PROGNAME}.map"),
    ],
    LIBPATH=[join(BSP_DIR, "ldscripts")],
    LIBS=["c", "m", "gcc", "nosys"],
)



def _sized_ldscript(path):
    """The platform's board script with the FLASH and RAM lengths of upload.maximum_size and
    upload.maximum_ram_size (board_upload.* in platformio.ini overrides them), written into the
    build directory (only when its text changes, so an unchanged build does not relink)."""
    with open(path) as f:
        text = f.read()
    sizes = {"FLASH": board.get("upload.maximum_size", 0), "RAM": board.get("upload.maximum_ram_size", 0)}

    def length(m):
        n = int(sizes[m.group(2)] or 0)
        return "%sLENGTH = %d" % (m.group(1), n) if n else m.group(0)

    text = re.sub(r"^(\s*(FLASH|RAM)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*\w+,\s*)LENGTH\s*=\s*\w+", length, text,
                  flags=re.M)
    text = ("/* Generated by the tinyml-qemu builder from %s: lengths from upload.maximum_size and "
            "upload.maximum_ram_size. */\n" % os.path.basename(path)) + text
    out_dir = env.subst(join("$BUILD_DIR", "ldscript"))
    out = join(out_dir, os.path.basename(path))
    if not isfile(out) or open(out).read() != text:
        os.makedirs(out_dir, exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
    return out


# linker script: board_build.ldscript may point to a project file; else the platform's own, sized
ldscript = board.get("build.ldscript", "")
if ldscript and not isabs(ldscript):
    project_ld = join(env.subst("$PROJECT_DIR"), ldscript)
    ldscript = project_ld if isfile(project_ld) else _sized_ldscript(join(BSP_DIR, "ldscripts", ldscript))
env.Replace(LDSCRIPT_PATH=ldscript)


def _print_configuration(e):
    """PlatformIO's build header without its board page link, which does not exist for a local
    platform's boards; the platform's README describes them instead."""
    import contextlib  # pylint: disable=import-outside-toplevel
    import io  # pylint: disable=import-outside-toplevel

    from platformio.builder.tools import pioplatform  # pylint: disable=import-error,import-outside-toplevel

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        pioplatform.PrintConfiguration(e)
    for line in buf.getvalue().splitlines():
        if line.startswith("CONFIGURATION: https://docs.platformio.org/"):
            line = "CONFIGURATION: %s (board %s)" % (join(PLATFORM_DIR, "README.md"), board_id)
        print(line)


env.AddMethod(_print_configuration, "PrintConfiguration")

# board support (startup, UART, cycle counter, syscalls) is linked as objects, not an archive,
# so the vector table and the syscalls newlib needs are always kept
env.BuildSources(join("$BUILD_DIR", "tinyml_bsp"), join(BSP_DIR, "src"))

# ---- program ----------------------------------------------------------------------------------

target_elf = env.BuildProgram()

AlwaysBuild(env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))


def _qemu_target():
    qemu = _qemu_module()
    machine = board.get("qemu.machine", "")
    if not machine:
        _fail("board '%s' has no qemu.machine in its manifest." % board_id)
    return qemu, qemu.QemuTarget(machine=machine, icount_shift=int(board.get("qemu.icount_shift", 5)), board=board_id)


def _uart_endpoint(qemu):
    """upload_port (or a socket:// monitor_port) when given, else the board's default port."""
    for value in (env.subst("$UPLOAD_PORT"), env.GetProjectOption("monitor_port", "")):
        parsed = qemu.parse_port(value)
        if parsed:
            return parsed
    return qemu.DEFAULT_HOST, int(board.get("qemu.port", 4321))


def _upload_flags():
    """upload_flags understood by the qemu protocol: nowait (start the CPU at once, output before a
    client connects is lost) and semihosting (exit() ends QEMU; a monitor then sees the socket close)."""
    flags = env.GetProjectOption("upload_flags", []) or []
    if isinstance(flags, str):
        flags = flags.split()
    known = {"nowait", "semihosting"}
    given = {f.strip().lstrip("-") for f in flags if f.strip()}
    unknown = given - known
    if unknown:
        _fail("upload_flags %s not understood by upload_protocol = qemu (known: --nowait, --semihosting)"
              % ", ".join(sorted(unknown)))
    return given


def _state_dir():
    # not $BUILD_DIR: PlatformIO deletes the build directories when platformio.ini changes
    return join(env.subst("$PROJECT_WORKSPACE_DIR"), "qemu", env.subst("$PIOENV"))


def upload_qemu(target, source, env):  # pylint: disable=unused-argument,redefined-outer-name
    qemu, tgt = _qemu_target()
    host, port = _uart_endpoint(qemu)
    flags = _upload_flags()
    try:
        d = qemu.start_detached(str(source[0]), tgt, _state_dir(), port=port, host=host,
                                wait="nowait" not in flags, semihosting="semihosting" in flags, log=print)
    except qemu.QemuError as e:
        sys.stderr.write("Error: %s\n" % e)
        return 1
    print("QEMU %s (pid %d) holds %s; UART0 on %s" % (tgt.machine, d.pid, os.path.basename(str(source[0])), d.url))
    if "nowait" in flags:
        print("The CPU is running; connect with: pio device monitor --port %s" % d.url)
    else:
        print("The CPU starts when a client connects: pio device monitor --port %s  (or pio run -t upload -t monitor)"
              % d.url)
    print("Stop it with: pio run -e %s -t qemu-stop   (log: %s)" % (env.subst("$PIOENV"), d.log_file))
    return 0


def exec_qemu(target, source, env):  # pylint: disable=unused-argument,redefined-outer-name
    qemu, tgt = _qemu_target()
    timeout = float(env.GetProjectOption("custom_qemu_timeout", "60"))
    try:
        r = qemu.run(str(source[0]), tgt, timeout=timeout, echo=print)
    except qemu.QemuError as e:
        sys.stderr.write("Error: %s\n" % e)
        return 1
    if r.timed_out:
        sys.stderr.write("Error: the firmware did not exit within %g s (custom_qemu_timeout)\n" % timeout)
        return 1
    if r.exit_code:
        sys.stderr.write("Error: the firmware exited with code %d\n" % r.exit_code)
    return r.exit_code


def stop_qemu(target, source, env):  # pylint: disable=unused-argument,redefined-outer-name
    qemu = _qemu_module()
    stopped = qemu.stop(_state_dir(), print)
    host, port = _uart_endpoint(qemu)
    stopped = qemu.stop_serving(port, host, print) or stopped
    if not stopped:
        print("no QEMU from this environment is running")
    return 0


env.AddPlatformTarget("upload", target_elf, env.VerboseAction(upload_qemu, "Booting $SOURCE in QEMU"), "Upload",
                      "Start QEMU in the background with UART0 on a TCP socket (the CPU waits for a client)")
env.AddPlatformTarget("exec", target_elf, env.VerboseAction(exec_qemu, "Running $SOURCE in QEMU"),
                      "Run in QEMU", "Boot in QEMU, print UART0, fail on a non-zero exit code")
env.AddPlatformTarget("qemu-stop", None, env.VerboseAction(stop_qemu, "Stopping QEMU"), "Stop QEMU",
                      "Stop the QEMU started by upload")

Default([target_elf])
