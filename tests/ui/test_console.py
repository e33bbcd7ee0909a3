"""The console, headless through textual's Pilot, over a fake model (and the real one)."""

from __future__ import annotations

import asyncio

import pytest
from console_fakes import FakeModel
from textual.widgets import Button, DataTable, ListView, Static, TabbedContent, TextArea

from sass_lab.ui.console.app import LabConsole
from sass_lab.ui.console.charts import bar_chart


def run(coro):
    return asyncio.run(coro)


def test_tabs_show_selected_kernel():
    async def go():
        app = LabConsole(FakeModel())
        async with app.run_test(size=(140, 45)) as pilot:
            assert "saxpy" in app.query_one("#source", TextArea).text
            app.query_one("#kernels", ListView).index = 1
            await pilot.pause()
            assert "sgemm" in app.query_one("#ptx", TextArea).text
            assert "FFMA" in app.query_one("#sass", TextArea).text
            for tab in ("tab-resources", "tab-verify", "tab-tune", "tab-results", "tab-sass"):
                app.query_one("#tabs", TabbedContent).active = tab
                await pilot.pause()
            assert app.query_one("#results-table", DataTable).row_count == 1
    run(go())


def test_gpu_actions_say_why_unavailable():
    async def go():
        app = LabConsole(FakeModel(gpu=False))
        async with app.run_test(size=(140, 45)) as pilot:
            assert app.query_one("#verify-gpu", Button).disabled
            assert "no CUDA driver" in str(app.query_one("#gpu", Static).render())
            app.query_one("#tabs", TabbedContent).active = "tab-verify"
            await pilot.pause()
            await pilot.click("#verify-emu")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "PASS saxpy" in str(app.query_one("#verify-out", Static).render())
    run(go())


def test_tune_tab_sets_define_and_sweeps():
    async def go():
        model = FakeModel()
        app = LabConsole(model)
        async with app.run_test(size=(160, 45)) as pilot:
            app.query_one("#tabs", TabbedContent).active = "tab-tune"
            await pilot.pause()
            await pilot.click("#define")
            await pilot.press(*"BM=128")
            await pilot.click("#set-define")
            await pilot.pause()
            assert model.defines == {"a.sasm": {"BM": 128}}
            await pilot.click("#sweep")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert model.tuned == 1
            assert app.query_one("#tune-table", DataTable).row_count == 1
    run(go())


def test_bar_chart():
    text = bar_chart([(0, 0), (1, 4), (2, 8)], "t", height=4)
    lines = text.splitlines()
    assert lines[0] == "t" and lines[1].endswith("  █") and lines[4].endswith(" ██")


@pytest.mark.parametrize("pts", [[]])
def test_bar_chart_empty(pts):
    assert "no data" in bar_chart(pts, "t")
