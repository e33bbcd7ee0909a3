"""Render the console headless over the shipped kernels and save its screenshots as SVG.

    python tools/console_screenshot.py [--kernel sgemm_nn_128x128] [--db PATH] [--out docs]

Writes ``console.svg`` (the kernel list with efficiency, Resources tab) and ``console-gap.svg`` (the
same list, Efficiency tab: the kernel's efficiency gap). Measured columns come from the results
database (``--db``, default: a fresh empty one, so nothing but static figures is claimed).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from sass_lab.lab.report import shipped_kernels
from sass_lab.ui.console import ConsoleModel
from sass_lab.ui.console.app import LabConsole

SHOTS = {"console.svg": "tab-resources", "console-gap.svg": "tab-efficiency"}


async def shoot(out: Path, tab: str, kernel: str, db: str) -> None:
    app = LabConsole(ConsoleModel([str(p) for p in shipped_kernels()], db=db))
    async with app.run_test(size=(160, 50)) as pilot:
        lv = app.query_one("#kernels")
        for i, item in enumerate(lv.children):
            if item.ref.name == kernel:
                lv.index = i
        await pilot.pause()
        app.query_one("#tabs").active = tab
        await pilot.pause()
        out.write_text(app.export_screenshot())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs", help="folder for the SVGs")
    ap.add_argument("--kernel", default="sgemm_nn_128x128")
    ap.add_argument("--db", help="results database (default: an empty one)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = a.db or str(Path(tmp) / "empty.db")
        for name, tab in SHOTS.items():
            asyncio.run(shoot(Path(a.out) / name, tab, a.kernel, db))
            print(f"wrote {Path(a.out) / name}")


if __name__ == "__main__":
    main()
