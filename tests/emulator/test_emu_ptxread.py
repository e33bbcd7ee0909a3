"""The fast PTX reader builds exactly the IR the Lark parser builds (spans included), and gives way to
Lark on what it does not handle."""

from __future__ import annotations

from pathlib import Path

import pytest

from sass_lab.emulator import ptx as P
from sass_lab.emulator.ptxread import Fallback, read

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.ptx"))


def both(text: str):
    lines = text.splitlines()
    b = P._Build()
    b.lines = lines
    return read(text, b), P._parse_lark(text, lines)


def spans(m):
    out = []
    for k in m.kernels:
        out.append(k.span)
        for x in (*k.params, *k.regs, *k.vars, *k.directives, *k.body):
            out.append(getattr(x, "span", None))
    return out + [v.span for v in m.vars]


def same(text: str) -> None:
    fast, lark = both(text)
    assert repr(fast) == repr(lark)  # repr: NaN immediates compare unequal
    assert spans(fast) == spans(lark)


@pytest.mark.parametrize("name", FILES)
def test_fast_reader_matches_lark(name):
    text = (ROOT / name).read_text()
    try:
        same(text)
    except Fallback:
        pytest.skip("the fast reader hands this file to Lark")


def test_fallbacks_and_errors_stay_larks():
    # a statement split over lines and block comments still read the same; odd forms fall back to Lark
    text = (".version 9.0\n.target sm_80\n.address_size 64\n.visible .entry k(.param .u64 p)\n{\n"
            "  .reg .b32 %r<3>; /* note */\n  mov.u32\n   %r1,\n  7;\n  @!%r2 bra L;\nL:\n  ret;\n}\n")
    same(text)
    with pytest.raises(Fallback):
        both(text.replace("ret;", ".attribute(.managed) ret;"))
    with pytest.raises(Exception, match="PTX syntax error"):
        P.parse_ptx(text.replace("7;", "7 7;"))


def test_most_files_are_read_fast():
    fell = []
    for name in FILES:
        try:
            both((ROOT / name).read_text())
        except Fallback:
            fell.append(name)
    assert len(fell) <= 1, fell
