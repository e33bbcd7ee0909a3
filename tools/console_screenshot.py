"""Render the console headless over the shipped kernels and save docs/console.svg.

    python tools/console_screenshot.py [--tab tab-resources] [--out docs/console.svg]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from sass_lab.lab.report import shipped_kernels
from sass_lab.ui.console import ConsoleModel
from sass_lab.ui.console.app import LabConsole


async def shoot(out: Path, tab: str, kernel: str) -> None:
    model = ConsoleModel([str(p) for p in shipped_kernels()])
    app = LabConsole(model)
    async with app.run_test(size=(150, 48)) as pilot:
        lv = app.query_one("#kernels")
        for i, item in enumerate(lv.children):
            if item.ref.name == kernel:
                lv.index = i
        await pilot.pause()
        app.query_one("#tabs").active = tab
        await pilot.pause()
        out.write_text(app.export_screenshot())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/console.svg")
    ap.add_argument("--tab", default="tab-resources")
    ap.add_argument("--kernel", default="sgemm_nn_128x128")
    a = ap.parse_args()
    asyncio.run(shoot(Path(a.out), a.tab, a.kernel))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
