"""FrontMemo: the front end reused between sources that differ only in a directive's value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sass_lab.api import Reuse, assemble, assemble_file
from sass_lab.dsl import frontend
from sass_lab.dsl.reuse import FrontMemo, directive_defines
from sass_lab.passes import PassMemo, run_passes

SGEMM = Path(__file__).resolve().parents[2] / "kernels_asm" / "sgemm.sasm"

SMALL = """\
.define N = 64, CAP = 32
.kernel k(.u64 out)
.maxnreg ${CAP}
.reg .u32 a, b
    mov.u32 a, ${N}
    add.u32 b, a, 1
    st.global.u32 [out], b
    ret
"""


def _directive_spans(mod):
    return [(d.name, d.values, d.span) for k in mod.kernels for d in k.directives]


def test_directive_only_change_reuses_the_lowered_module_exactly():
    text = SGEMM.read_text()
    memo = FrontMemo()
    for d in ({"BM": 64, "BN": 64, "MAXNREG": 128}, {"BM": 64, "BN": 64, "MAXNREG": 255},
              {"BM": 128, "BN": 128, "MAXNREG": 255}, {"BM": 128, "BN": 128, "MAXNREG": 128}):
        got = memo.frontend(text, str(SGEMM), d)
        fresh = frontend(text, str(SGEMM), d)
        assert got.module == fresh.module and got.defines == fresh.defines
        assert _directive_spans(got.module) == _directive_spans(fresh.module)
    assert memo.hits == 2  # the second of each pair


@pytest.mark.parametrize("first, second", [
    ({"N": 64, "CAP": 32}, {"N": 65, "CAP": 32}),  # a body line changed: lowered again
    ({"N": 64, "CAP": 32}, {"N": 64, "CAP": 128}),  # the directive changed width: lowered again
])
def test_other_changes_lower_again(first, second):
    memo = FrontMemo()
    memo.frontend(SMALL, "small.sasm", first)
    got = memo.frontend(SMALL, "small.sasm", second)
    assert memo.hits == 0
    assert got.module == frontend(SMALL, "small.sasm", second).module


def test_pass_memo_matches_fresh_passes_for_each_directive():
    memo, front = PassMemo(), FrontMemo()
    text = SGEMM.read_text()
    outs = []
    for d in ({"BM": 64, "BN": 64, "MAXNREG": 128}, {"BM": 64, "BN": 64, "MAXNREG": 255},
              {"BM": 128, "BN": 128, "MAXNREG": 255}, {"BM": 128, "BN": 128, "MAXNREG": 128}):
        k = front.frontend(text, str(SGEMM), d).module.kernels[0]
        outs.append(run_passes(k, memo=memo))
        assert outs[-1] == run_passes(k)
    # the second of each pair is the first's result: 128x128 has the same limit; 64x64's limits
    # (139, 144) differ, but the schedule under 139 was not decided by it
    assert outs[1][0].body is outs[0][0].body and outs[3][0].body is outs[2][0].body
    assert outs[1][1].schedule.pressure_limit == 144 and outs[0][1].schedule.same_from <= 139
    memo = PassMemo()
    k = frontend(text, str(SGEMM), {"MAXNREG": 255}).module.kernels[0]
    assert run_passes(k, memo=memo, pressure_aware=False) == run_passes(k, pressure_aware=False)
    assert run_passes(k, memo=memo, schedule=False) == run_passes(k, schedule=False)


def test_assemble_with_reuse_gives_the_same_ptx_and_line_map():
    reuse = Reuse()
    for d in ({"MAXNREG": 128}, {"MAXNREG": 255}):
        a = assemble_file(SGEMM, defines=d, reuse=reuse)
        b = assemble_file(SGEMM, defines=d)
        assert a.ptx == b.ptx and a.line_map == b.line_map and a.cubin == b.cubin
    assert reuse.front.hits == 1
    a, b = assemble(SMALL, defines={"CAP": 40}, reuse=reuse), assemble(SMALL, defines={"CAP": 40})
    assert a.ptx == b.ptx


def test_directive_defines():
    assert directive_defines(SGEMM.read_text(), str(SGEMM)) == {"MAXNREG"}
    assert directive_defines(SMALL, "small.sasm") == {"CAP"}
    assert directive_defines(SMALL.replace("mov.u32 a, ${N}", "mov.u32 a, ${CAP}"), "small.sasm") == set()
