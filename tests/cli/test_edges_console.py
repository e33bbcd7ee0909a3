"""The edge suite, console part: the console started on a bad input, driven through textual's Pilot
over the real model (every tab, verify and a compile-only sweep on each entry). It must stay up, say
in words what is wrong with which file, and change no file; `sass_lab console` refuses a wrong path
before it starts (exit 1), like every other command."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest
from textual.widgets import ListView, Static, TabbedContent, TextArea

from sass_lab.cli import main as cli
from sass_lab.ui.console.app import LabConsole
from sass_lab.ui.console.model import ConsoleModel
from tests.cli.test_edges import _unreadable, snapshot, template  # noqa: F401 - the same inputs as the command-line cases

TABS = ("tab-source", "tab-ptx", "tab-sass", "tab-resources", "tab-efficiency", "tab-verify", "tab-tune",
        "tab-results")


def _shown(app) -> str:
    from rich.console import Console

    parts = []
    for w in app.query(TextArea):
        parts.append(w.text)
    for w in app.query(Static):
        con = Console(width=400, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        con.print(w.render())
        parts.append(con.export_text())
    return " ".join(" ".join(parts).split())


CASES = [  # (bad input, words the console must show about it)
    ("noise.sasm", ("noise.sasm", "binary")),
    ("nul.sasm", ("nul.sasm", "binary")),
    ("latin1.sasm", ("latin1.sasm", "UTF-8")),
    ("empty.sasm", ("empty.sasm", "no kernel")),
    ("syntax.sasm", ("syntax.sasm:13",)),
    ("raises.sasm", ("raises.sasm:23", "KeyError")),
    ("utf16.sasm", ("utf16.sasm", "UTF-16")),
    ("gone-while-open", ("gone.sasm", "cannot read")),
    ("locked.sasm", ("locked.sasm", "Permission denied")),
]


@pytest.mark.parametrize("bad, words", CASES, ids=[c[0] for c in CASES])
def test_console_on_a_bad_input(bad, words, template, tmp_path, monkeypatch):  # noqa: F811
    root = tmp_path / "w"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    monkeypatch.setattr(ConsoleModel, "gpu_status", lambda self: (False, "no GPU (test)"))
    if bad == "locked.sasm":
        _unreadable(root, monkeypatch)
    if bad == "gone-while-open":
        shutil.copy(root / "mini.sasm", root / "gone.sasm")
        bad = "gone.sasm"
    model = ConsoleModel(["mini.sasm", bad], db=str(root / "results.db"))
    before = snapshot(root)

    async def go():
        app = LabConsole(model)
        async with app.run_test(size=(160, 45)) as pilot:
            if bad == "gone.sasm":
                (root / "gone.sasm").unlink()
                before.pop("gone.sasm")
            lv = app.query_one("#kernels", ListView)
            seen = ""
            for i in (len(lv.children) - 1, 0, len(lv.children) - 1):  # the bad entry, the good one, back
                lv.index = i
                await pilot.pause()
                seen += " " + _shown(app)
            for tab in TABS:
                app.query_one("#tabs", TabbedContent).active = tab
                await pilot.pause()
                seen += " " + _shown(app)
            await pilot.press("v")
            await app.workers.wait_for_complete()
            await pilot.pause()
            seen += " " + _shown(app)
            for w in words:
                assert w in seen, f"{w!r} not shown"
            assert "Traceback" not in seen
        assert app.return_code in (None, 0)

    asyncio.run(go())
    changed = {p for p in before.keys() | snapshot(root).keys() if before.get(p) != snapshot(root).get(p)}
    assert not changed, f"the console changed {sorted(changed)}"


@pytest.mark.parametrize("argv, words", [
    ("console nope.sasm", ("nope.sasm", "No such file")),
    ("console dir", ("dir", "folder, not a file")),
    ("console k.cu", ("k.cu", "nvcc -ptx")),
    ("console mini.sasm --arch sm_1", ("invalid choice",)),
    ("console locked.sasm", ("locked.sasm", "Permission denied")),
])
def test_console_command_refuses_a_wrong_path(argv, words, template, tmp_path, monkeypatch, capsys):  # noqa: F811
    from sass_lab.ui.console import app as console_app

    root = tmp_path / "w"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    started = []
    monkeypatch.setattr(console_app.LabConsole, "run", lambda self: started.append(1))
    (root / "locked.sasm").write_text("// locked\n")
    _unreadable(root, monkeypatch)
    before = snapshot(root)
    try:
        rc = cli.main(argv.split())
    except SystemExit as e:
        rc = e.code
    text = " ".join(capsys.readouterr().err.split())
    assert rc == 1 and not started
    for w in words:
        assert w in text
    assert snapshot(root) == before
