"""``sass_lab`` command line: a thin layer over the Python API.

Each sub-command lives in its own module under ``sass_lab.cli`` exposing ``register(subparsers)``,
which adds a parser whose ``func`` default takes the parsed args and returns an exit code.

Exit codes: 0 ok; 1 user error (message, no traceback); 2 internal error; 3 no GPU/driver.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import NoGPUError, SasmError

COMMANDS = ("assemble", "verify", "run", "bench", "sass", "patch", "tune", "results", "report",
            "analyze", "console")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1 like every other user error
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sass_lab", description="GPU assembler and tuning lab (Hopper first)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"sass_lab.cli.{name}").register(sub)
    return p


def print_error(err: SasmError) -> None:
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(err.render()))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NoGPUError as e:
        print_error(e)
        return 3
    except SasmError as e:
        print_error(e)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - an internal error: say so, exit 2
        if os.environ.get("SASS_LAB_DEBUG"):
            raise
        print(f"sass_lab: internal error: {type(e).__name__}: {e}\n"
              "  (this is a bug in sass_lab; rerun with SASS_LAB_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
