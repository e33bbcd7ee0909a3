"""The console shows efficiency per kernel, an efficiency-gap view, values for people, empty tabs that
say why, the tune tab's database, and survives a file it cannot read (issue 11: no traceback, no exit 0)."""

from __future__ import annotations

import asyncio
import os
import types

import pytest
from console_fakes import FakeModel
from textual.widgets import ListView, TabbedContent, TextArea

from sass_lab.paths import KERNELS
from sass_lab.ui.console.app import LabConsole
from sass_lab.ui.console.model import ConsoleModel, KernelRef


def run(coro):
    return asyncio.run(coro)


def labels(app) -> list[str]:
    return [str(item.query_one("Label").render()) for item in app.query_one("#kernels", ListView).children]


def text(app, selector: str) -> str:
    """What a text area or a static shows, as plain text."""
    from rich.console import Console

    w = app.query_one(selector)
    if isinstance(w, TextArea):
        return w.text
    con = Console(width=400, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    con.print(w.content)
    return con.export_text()


def test_kernel_list_shows_efficiency_bound_and_limiter():
    async def go():
        app = LabConsole(FakeModel())
        async with app.run_test(size=(160, 45)):
            saxpy, sgemm = labels(app)
            assert "memory-bound" in saxpy and "0.86 B/instr" in saxpy and "83.0 % BW" in saxpy
            assert "0.0 %" not in saxpy
            assert "compute-bound, occupancy 25 % (registers)" in sgemm
            assert "static 91.2 % math" in sgemm and "meas 88.0 % FP32" in sgemm and "peer 0.97×" in sgemm
    run(go())


def test_efficiency_gap_view():
    async def go():
        app = LabConsole(FakeModel())
        async with app.run_test(size=(160, 45)) as pilot:
            app.query_one("#kernels", ListView).index = 1
            await pilot.press("e")
            await pilot.pause()
            assert app.query_one("#tabs", TabbedContent).active == "tab-efficiency"
            gap = text(app, "#gap")
            assert "sgemm against H200 (datasheet): 66.90 TFLOP/s FP32" in gap
            assert "o ideal  s static ceiling  x measured  p peer" in gap and "x" in gap.split("latency")[0]
            assert "M=8192 N=8192 K=8192" in gap and "80.0 %" in gap  # measured = ideal / 0.8
    run(go())


def test_values_for_people_and_empty_tabs_say_why():
    async def go():
        app = LabConsole(FakeModel(measured=False))
        async with app.run_test(size=(160, 45)) as pilot:
            for tab in ("tab-resources", "tab-efficiency", "tab-tune", "tab-results"):
                app.query_one("#tabs", TabbedContent).active = tab
                await pilot.pause()
            res = text(app, "#resources")
            assert "registers per thread" in res and "limited by" in res and "occupancy" in res
            assert "limiters" not in res and "blocks_per_sm" not in res and "{" not in res
            assert "No stored runs of a:saxpy in results.db" in text(app, "#results-msg")
            assert "written to the results database results.db" in text(app, "#tune-msg")
            assert "no measured runs stored yet" in text(app, "#gap")
            assert "checks every output against its float64 reference" in text(app, "#verify-out")
    run(go())


def test_real_model_efficiency(tmp_path):
    m = ConsoleModel([str(KERNELS / "saxpy.sasm"), str(KERNELS / "reduce.sasm"), str(KERNELS / "sgemm_tiled.sasm")],
                     db=str(tmp_path / "none.db"))
    by = {r.name: m.summary(r) for r in m.kernels()}
    assert by["saxpy"].bound == by["reduce_sum"].bound == "memory" and by["sgemm_tiled"].bound == "compute"
    assert by["reduce_sum"].bytes_per_instr > 0 and by["sgemm_tiled"].static_eff > 0.5
    gap = m.gap(KernelRef(str(KERNELS / "sgemm_tiled.sasm"), "sgemm_tiled"))
    assert gap.points and all(p.ideal_s <= p.floor_s <= p.static_s for p in gap.points)
    assert not (tmp_path / "none.db").exists()  # reading results never creates the database


def test_a_file_that_cannot_be_read_is_words_not_a_crash(tmp_path):
    gone = tmp_path / "gone.sasm"
    gone.write_text((KERNELS / "saxpy.sasm").read_text())
    binary = tmp_path / "noise.sasm"
    binary.write_bytes(bytes(range(256)) * 4)
    model = ConsoleModel([str(gone), str(binary)], db=str(tmp_path / "r.db"))

    async def go():
        app = LabConsole(model)
        async with app.run_test(size=(160, 45)) as pilot:
            gone.unlink()  # the file goes away while the console shows it
            lv = app.query_one("#kernels", ListView)
            for i in (1, 0, 1):
                lv.index = i
                await pilot.pause()
            assert "noise.sasm" in text(app, "#ptx")
            lv.index = 0
            await pilot.pause()
            assert "cannot read" in text(app, "#source") and "gone.sasm" in text(app, "#source")
            app.query_one("#tabs", TabbedContent).active = "tab-verify"
            await pilot.press("v")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "cannot read" in text(app, "#verify-out")
        assert app.return_code in (None, 0)
    run(go())


def test_console_command_exit_code_follows_the_app(monkeypatch):
    from sass_lab.cli.main import main
    from sass_lab.ui.console import app as console_app

    def dies(self):
        self._return_code = 1  # what textual records when the app ends with an exception

    monkeypatch.setattr(console_app.LabConsole, "run", dies)
    assert main(["console", str(KERNELS / "saxpy.sasm")]) == 1
    monkeypatch.setattr(console_app.LabConsole, "run", lambda self: None)
    assert main(["console", str(KERNELS / "saxpy.sasm")]) == 0


@pytest.fixture(autouse=True)
def _no_gpu_probe(monkeypatch):
    """The app asks for the GPU status once; keep it quick and the same everywhere."""
    monkeypatch.setattr(ConsoleModel, "gpu_status", lambda self: (False, "no GPU (test)"))
    yield types.SimpleNamespace()
