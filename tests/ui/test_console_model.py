"""The console's model over a real shipped kernel (no fakes): every tab's data without a GPU."""

from __future__ import annotations

import pytest

from sass_lab.paths import KERNELS
from sass_lab.ui.console.model import ConsoleModel


@pytest.fixture
def model(tmp_path):
    return ConsoleModel([str(KERNELS / "saxpy.sasm")], db=str(tmp_path / "r.db"))


def test_views(model):
    (ref,) = model.kernels()
    assert ref.name == "saxpy" and ref.label == "saxpy"
    assert ".kernel saxpy" in model.source(ref)
    assert ".entry saxpy" in model.ptx(ref)
    assert "FFMA" in model.sass(ref)
    res = model.resources(ref)
    assert res["registers"] > 0 and res["occupancy"]["blocks_per_sm"] > 0
    curves = model.occupancy_curves(ref)
    assert len(curves) == 3
    regs = next(v for k, v in curves.items() if k.startswith("registers"))
    blocks = [b for _, b in regs]
    assert blocks == sorted(blocks, reverse=True) and blocks[0] > blocks[-1]  # more regs, fewer blocks


def test_verify_tune_results(model):
    (ref,) = model.kernels()
    assert "pass" in model.verify(ref).lower()
    rows = model.tune(ref)
    assert len(rows) == 9 and any(r["status"] == "ok" for r in rows)
    assert len(model.results(ref)) == 9
    ok, why = model.gpu_status()
    assert ok or why


def test_defines_reassemble_and_errors_are_text(model, tmp_path):
    (ref,) = model.kernels()
    model.set_define(ref.file, "ITEMS", 1)
    assert model.ptx(ref).count("fma.rn.f32") == 1
    bad = tmp_path / "bad.sasm"
    bad.write_text(".kernel k()\n    bogus r1\n")
    m2 = ConsoleModel([str(bad)])
    (r2,) = m2.kernels()
    assert r2.name == "(error)" and "bad.sasm:2" in m2.ptx(r2)
