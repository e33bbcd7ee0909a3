"""Look tests of the console (textual snapshot testing over the fake model: fixed data, no paths).

Regenerate after an intended change of the look with ``pytest tests/ui/test_console_snapshots.py
--snapshot-update`` and review the SVGs under ``__snapshots__``. The pictures depend on textual's
renderer, so they are compared only under the textual version they were made with.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from console_fakes import FakeModel

from sass_lab.ui.console.app import LabConsole

RECORDED_WITH = "8.2"  # textual major.minor of the stored snapshots
SIZE = (150, 44)

pytestmark = pytest.mark.skipif(
    not version("textual").startswith(RECORDED_WITH + "."),
    reason=f"snapshots were recorded with textual {RECORDED_WITH}.x, this is textual {version('textual')}: "
           "run with --snapshot-update and review the pictures")


def show(tab: str, kernel: int = 1):
    async def before(pilot):
        pilot.app.query_one("#kernels").index = kernel
        pilot.app.query_one("#tabs").active = tab
        await pilot.pause()
    return before


def test_kernel_list_with_efficiency(snap_compare):
    assert snap_compare(LabConsole(FakeModel()), terminal_size=SIZE, run_before=show("tab-resources"))


def test_efficiency_gap_view(snap_compare):
    assert snap_compare(LabConsole(FakeModel()), terminal_size=SIZE, run_before=show("tab-efficiency"))


def test_empty_results_say_why(snap_compare):
    assert snap_compare(LabConsole(FakeModel(measured=False)), terminal_size=SIZE,
                        run_before=show("tab-results", kernel=0))


def test_tune_tab_names_its_database(snap_compare):
    assert snap_compare(LabConsole(FakeModel()), terminal_size=SIZE, run_before=show("tab-tune"))
