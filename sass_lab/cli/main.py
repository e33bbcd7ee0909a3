"""``sass_lab`` command line: a thin layer over the Python API.

Each sub-command lives in its own module under ``sass_lab.cli`` exposing ``register(subparsers)``,
which adds a parser whose ``func`` default takes the parsed args and returns an exit code.

Exit codes: 0 ok; 1 user error (message, no traceback); 2 internal error; 3 no GPU/driver.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from pathlib import Path

from ..errors import NoGPUError, SasmError, UsageError

COMMANDS = ("assemble", "verify", "run", "bench", "sass", "patch", "tune", "results", "report",
            "analyze", "console")
BUILDS = ("assemble", "verify", "run", "bench", "sass", "patch", "tune", "report", "console")  # they compile


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1 like every other user error
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = _Parser(prog="sass_lab", description="GPU assembler and tuning lab (Hopper first)")
    p.add_argument("--version", action="version", version=f"sass_lab {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"sass_lab.cli.{name}").register(sub)
    for name in BUILDS:
        add_build_options(sub.choices[name])
    return p


def add_build_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("building")
    g.add_argument("--compiler", choices=("ptxas", "nvjitlink"), default=None,
                   help="ptxas: the CUDA 13.0 command line, whole-program code as nvcc builds it (default); "
                        "nvjitlink: relocatable code, in a worker process")
    g.add_argument("--compile-timeout", type=float, metavar="SECONDS", default=None,
                   help="kill a compile that runs longer (default 300; also per tuning candidate)")
    g.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                   help="raise a front-end limit (lines, bytes, include_depth, include_bytes, seconds, "
                        "reg_array); see docs/DSL.md")


def apply_build_options(args) -> None:
    """Hand --compiler/--compile-timeout/--limit to every layer (and to worker processes) via the
    environment variables that the API reads for its defaults."""
    from ..dsl.limits import parse_limits

    if getattr(args, "compiler", None):
        os.environ["SASS_LAB_COMPILER"] = args.compiler
    t = getattr(args, "compile_timeout", None)
    if t is not None:
        if not 0 < t < float("inf"):
            raise UsageError(f"--compile-timeout must be a positive number of seconds, got {t:g}")
        os.environ["SASS_LAB_COMPILE_TIMEOUT"] = repr(t)
    items = getattr(args, "limit", None)
    if items:
        merged = ",".join(x for x in (os.environ.get("SASS_LAB_LIMITS", ""), *items) if x)
        parse_limits(merged, "--limit")  # a bad name or value is a usage error now, not later
        os.environ["SASS_LAB_LIMITS"] = merged


def print_error(err: SasmError) -> None:
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(err.render()))


def _inputs(args) -> str:
    files = getattr(args, "files", None) or [getattr(args, "file", None)]
    return ", ".join(str(f) for f in files if f) or "an input file"


def user_error(e: BaseException, args) -> SasmError | None:
    """An OS, Unicode or SQLite error about the user's files or machine as a user error that names the
    path, what is wrong and what to do; None when ``e`` is a bug in sass_lab.

    This is the one place the CLI turns such errors into exit 1: readers and writers raise them with
    their paths already (``sass_lab.files``); this catches whatever slipped past them.
    """
    import sqlite3

    from ..files import USER_ERRNOS, os_error

    if isinstance(e, OSError) and (e.filename is not None or e.errno in USER_ERRNOS):
        return os_error(e)
    if isinstance(e, RecursionError):
        return UsageError(f"cannot read {_inputs(args)}: it nests too deeply for the parser "
                          "(parentheses, braces or includes thousands of levels deep)",
                          hint="simplify the nesting, e.g. compute the value in a '%' line")
    if isinstance(e, UnicodeError):
        return UsageError(f"cannot read {_inputs(args)}: not UTF-8 text ({e})",
                          hint="sass_lab reads UTF-8 text: save the file as UTF-8")
    if isinstance(e, sqlite3.Error) and not isinstance(e, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        from ..lab.store import default_db_path

        db = getattr(args, "db", None) or default_db_path()
        if Path(db).is_dir():
            return UsageError(f"cannot use the results database {db}: it is a folder",
                              hint="give --db a file name inside it, e.g. --db "
                                   f"{Path(db) / 'results.db'}")
        text = str(e)
        hint = ("another sass_lab may be writing it: wait and run again" if "locked" in text else
                "check that the file and its folder are writable" if "readonly" in text else
                "give --db a SQLite results file, or a new file name to start one")
        return UsageError(f"cannot use the results database {db}: {text}", hint=hint)
    return None


def check_input(args) -> None:
    """What a GPU command would find wrong with its input before the launch, found without a GPU:
    the file, the lab block, -D, --size and the launch shape against the kernel's limits."""
    from ..api import DEFAULT_ARCH, assemble_file
    from ..lab.spec import load_spec, parse_size
    from ..runtime.launch import check_geometry, dim3
    from .assemble import parse_defines

    if getattr(args, "command", None) not in ("verify", "run", "bench") or not getattr(args, "file", None):
        return
    defines = parse_defines(getattr(args, "defines", None) or [])
    mod = assemble_file(args.file, getattr(args, "arch", None) or DEFAULT_ARCH, defines=defines)
    spec = load_spec(args.file, resolved=mod.defines)
    size = spec.with_size(parse_size(getattr(args, "size", None)))
    name = getattr(args, "kernel", None) or spec.kernel_name(list(mod.kernels))
    kernel = mod[name]
    sized, _ = spec.for_size(size, defines)
    if sized is not spec:  # the size fixes a define: its own build has its own limits
        return
    res, shared = kernel.resources, sized.shared(size)
    g, b = dim3(sized.grid(size), "grid"), dim3(sized.block(size), "block")
    check_geometry(name, g, b, shared, max_threads=res.max_threads, shared_static=res.shared_static,
                   registers=res.registers)  # the launch's own rule, pure (no device needed)


def input_error(args) -> SasmError | None:
    """:func:`check_input`'s finding as an error to print, or None when the input is fine."""
    try:
        check_input(args)
    except SasmError as e:
        return e
    except Exception as e:  # noqa: BLE001 - only a user's mistake is reported here
        return user_error(e, args)
    return None


BUILD_ENV = ("SASS_LAB_COMPILER", "SASS_LAB_COMPILE_TIMEOUT", "SASS_LAB_LIMITS")


def _unraisable(hook, delivered):
    """``sys.unraisablehook`` that re-raises a Ctrl-C Python could not raise where it landed (a
    finalizer, an at-fork callback: Python would print "Exception ignored ... Traceback" and go on):
    the signal is sent again from another thread, until the command has seen it (``delivered`` set
    by its KeyboardInterrupt handler). A retry is needed: a signal that arrives while the main thread
    is still inside this hook is raised there and swallowed as well."""
    import threading

    def resend():
        for _ in range(20):  # ~10 s at most, for a main thread stuck in native code
            if delivered.wait(0.02 if _ == 0 else 0.5):  # first let the hook return
                return
            signal.raise_signal(signal.SIGINT)

    def reraise(u):
        if isinstance(u.exc_value, KeyboardInterrupt):
            try:
                threading.Thread(target=resend, daemon=True).start()
            except KeyboardInterrupt:  # a resend that landed in here: the next one will not
                pass
        else:
            hook(u)
    return reraise


def main(argv: list[str] | None = None) -> int:
    saved = {k: os.environ.get(k) for k in BUILD_ENV}
    import threading

    hook = sys.unraisablehook
    delivered = threading.Event()
    sys.unraisablehook = _unraisable(hook, delivered)
    interrupted = threading.Event()  # a Ctrl-C arrived: whatever fails after it is its consequence
    old_int = None
    if threading.current_thread() is threading.main_thread():
        def on_int(signum, frame):
            interrupted.set()
            signal.default_int_handler(signum, frame)
        old_int = signal.signal(signal.SIGINT, on_int)
    try:
        return _main(argv, delivered, interrupted)
    finally:
        delivered.set()  # no resend outlives the command  # a command's --compiler/--limit end with it (main() may be called again in-process)
        if old_int is not None:
            signal.signal(signal.SIGINT, old_int)
        sys.unraisablehook = hook
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _main(argv: list[str] | None, delivered=None, interrupted=None) -> int:
    args = None
    try:  # building the parser imports the pipeline: Ctrl-C there is an interruption too
        args = build_parser().parse_args(argv)
        apply_build_options(args)
        return int(args.func(args) or 0)
    except NoGPUError as e:  # one sentence, with the command's CPU alternative when it has one
        wrong = input_error(args)
        if wrong is not None:  # the input's own mistake first: the CPU alternative would meet it too
            print_error(wrong)
            return 1
        alt = getattr(importlib.import_module(f"sass_lab.cli.{args.command}"), "NO_GPU", "")
        msg = f"{e.message.rstrip('.')}; {alt.format(file=_inputs(args))}." if alt else e.message
        print_error(type(e)(msg, e.span, log=e.log))
        return 3
    except SasmError as e:
        print_error(e)
        return 1
    except KeyboardInterrupt:
        if delivered is not None:
            delivered.set()
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - a user's file or an internal error: say which
        if interrupted is not None and interrupted.is_set():  # e.g. an import the Ctrl-C cut short
            if delivered is not None:
                delivered.set()
            print("interrupted", file=sys.stderr)
            return 130
        err = user_error(e, args)
        if err is not None:
            print_error(err)
            return 1
        if os.environ.get("SASS_LAB_DEBUG"):
            raise
        print(f"sass_lab: internal error: {type(e).__name__}: {e}\n"
              "  (this is a bug in sass_lab; rerun with SASS_LAB_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
