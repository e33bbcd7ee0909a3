"""Operand roles on IR the front end builds: what each instruction writes and reads."""

from __future__ import annotations

import pytest

from sass_lab import ir
from sass_lab.dsl import frontend
from sass_lab.isa import defs_uses, is_barrier, is_branch, state_space, writes_register

HEAD = """\
.kernel k(.u64 p)
.reg .f32 x, y, z, acc[2][2]
.reg .v4 .f32 q
.reg .b32 a, b, m, %r<8>
.reg .b64 st64
.reg .pred pr, pq
.reg .u32 sa
"""


def one(line: str) -> ir.Instr:
    k = frontend(HEAD + line + "\n    ret\n", "t.sasm", {}).module.kernels[0]
    body = [s for s in k.body if isinstance(s, ir.Instr)]
    return body[-2]


def names(regs) -> list[str]:
    return [r.name for r in regs]


@pytest.mark.parametrize("line, defs, uses", [
    ("    fma.rn.f32 x, y, z, x", ["x"], ["y", "z", "x"]),
    ("    ld.global.v4.f32 q, [p+16]", ["q_x", "q_y", "q_z", "q_w"], ["p"]),
    ("    ld.global.v2.f32 {x, _}, [p]", ["x"], ["p"]),
    ("    st.global.v4.f32 [p], q", [], ["p", "q_x", "q_y", "q_z", "q_w"]),
    ("@!pr st.shared.f32 [sa+4], x", [], ["sa", "x", "pr"]),
    ("    setp.lt.f32 pr|pq, x, y", ["pr", "pq"], ["x", "y"]),
    ("    shfl.sync.down.b32 a|pr, b, 1, 31, m", ["a", "pr"], ["b", "m"]),
    ("    atom.global.add.u32 a, [p], b", ["a"], ["p", "b"]),
    ("    red.global.add.f32 [p], x", [], ["p", "x"]),
    ("    mov.b64 {a, b}, st64", ["a", "b"], ["st64"]),
    ("    mov.b64 st64, {a, b}", ["st64"], ["a", "b"]),
    ("    mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {acc[0][0], acc[0][1], acc[1][0], acc[1][1]}, "
     "{a, b, m, %r1}, {%r2, %r3}, {acc[0][0], acc[0][1], acc[1][0], acc[1][1]}",
     ["acc_0_0", "acc_0_1", "acc_1_0", "acc_1_1"],
     ["a", "b", "m", "%r1", "%r2", "%r3", "acc_0_0", "acc_0_1", "acc_1_0", "acc_1_1"]),
    ("    cp.async.ca.shared.global [sa], [p], 16", [], ["sa", "p"]),
    ("    bar.sync 0", [], []),
    ("    mbarrier.init.shared.b64 [sa], a", [], ["sa", "a"]),
    ("    mbarrier.arrive.shared.b64 st64, [sa]", ["st64"], ["sa"]),
])
def test_defs_and_uses(line, defs, uses):
    ins = one(line)
    d, u = defs_uses(ins)
    assert names(d) == defs
    assert names(u) == uses
    assert writes_register(ins) == bool(defs)


def test_special_register_copies_are_ordinary_defs():
    k = frontend(HEAD + "    add.u32 sa, %tid.x, 4\n    ret\n", "t.sasm", {}).module.kernels[0]
    mov, add = [s for s in k.body if isinstance(s, ir.Instr)][-3:-1]
    assert names(defs_uses(mov)[0]) == ["sr_tid_x"] and names(defs_uses(add)[1]) == ["sr_tid_x"]


@pytest.mark.parametrize("line, branch, barrier, space", [
    ("    bra done\ndone:", True, False, None),
    ("    bar.sync 0", False, True, None),
    ("    membar.gl", False, True, None),
    ("    ld.shared::cta.f32 x, [sa]", False, False, "shared"),
    ("    ld.f32 x, [p]", False, False, "generic"),
    ("    ld.param.u64 st64, [p_param]", False, False, "param"),
    ("    cvta.to.global.u64 st64, st64", False, False, "global"),
    ("    add.f32 x, x, y", False, False, None),
])
def test_branch_barrier_and_space(line, branch, barrier, space):
    k = frontend(HEAD + line + "\n    ret\n", "t.sasm", {}).module.kernels[0]
    ins = next(s for s in reversed(k.body) if isinstance(s, ir.Instr) and s.opcode == line.split()[0].split(".")[0])
    assert is_branch(ins) is branch
    assert is_barrier(ins) is barrier
    assert state_space(ins) == space
