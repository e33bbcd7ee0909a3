"""``sass_lab console [FILE...]``: the interactive console (textual)."""

from __future__ import annotations

from ..api import ARCHS, DEFAULT_ARCH


def register(sub) -> None:
    p = sub.add_parser("console", help="interactive console: source, PTX, SASS, occupancy, verify, tune")
    p.add_argument("files", nargs="*", metavar="FILE", help="default: every kernels_asm/*.sasm")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("--db")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..files import check_input, read_bytes
    from ..lab.report import shipped_kernels
    from ..ui.console import ConsoleModel
    from ..ui.console.app import LabConsole

    for f in args.files:  # a wrong path or an unreadable file is said here; one that does not
        check_input(f)    # assemble (binary, a syntax error) is shown in the app
        read_bytes(f)
    files = args.files or [str(p) for p in shipped_kernels()]
    app = LabConsole(ConsoleModel(files, args.arch, args.db))
    app.run()
    return app.return_code or 0  # textual sets 1 when the app died of an exception
