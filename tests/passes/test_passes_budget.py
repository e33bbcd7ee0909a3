"""Register budgets implied by directives and the warnings PassReport carries."""

from __future__ import annotations

import pytest
from passes_ir import kernel

from sass_lab.passes import register_budget, run_passes


def _k(directives: str, live: int = 0, preds: int = 0):
    regs = ", ".join(f"v{i}" for i in range(max(live, 1)))
    ps = ", ".join(f"q{i}" for i in range(max(preds, 1)))
    lines = [directives, f".reg .f32 {regs}", f".reg .pred {ps}"]
    lines += [f"  mov.f32 v{i}, 1.0" for i in range(live)]
    lines += [f"  setp.lt.f32 q{i}, 1.0, 2.0" for i in range(preds)]
    lines += [f"  st.global.f32 [{4 * i}], v{i}" for i in range(live)]
    lines += [f"@q{i} st.global.f32 [0], 1.0" for i in range(preds)]
    return kernel("\n".join(lines))


@pytest.mark.parametrize("directives, budget", [
    ("", None),
    (".maxntid 256", 248),  # 65536/256 = 256, capped at 255, rounded down to 8
    (".maxntid 1024", 64),
    (".maxntid 16, 16, 1", 248),
    (".maxntid 256\n.minnctapersm 2", 128),
    (".maxntid 384\n.minnctapersm 1", 168),  # 65536/384 = 170.67 -> 170 -> 168
    (".reqntid 512", 128),
    (".maxnreg 40", 40),
    (".maxnreg 200\n.maxntid 512", 128),
    (".maxnreg 32\n.maxntid 128", 32),
    (".minnctapersm 4", None),  # blocks per SM without a thread count imply nothing
])
def test_register_budget(directives, budget):
    got = register_budget(_k(directives))
    assert (got[0] if got else None) == budget


@pytest.mark.parametrize("directives, live, warns", [
    (".maxntid 1024", 64, False),
    (".maxntid 1024", 65, True),
    (".maxnreg 24", 30, True),
    ("", 300, False),
])
def test_budget_warning(directives, live, warns):
    _, rep = run_passes(_k(directives, live))
    assert rep.pressure.peak == live
    assert bool(rep.warnings) == warns
    if warns:
        assert f"peak register pressure {live}" in rep.warnings[0] and "t.sasm:" in rep.warnings[0]


@pytest.mark.parametrize("preds, warns", [(7, False), (8, True)])
def test_predicate_warning(preds, warns):
    _, rep = run_passes(_k("", 1, preds))
    assert rep.pressure.pred_peak == preds
    assert any("predicates" in w for w in rep.warnings) == warns
