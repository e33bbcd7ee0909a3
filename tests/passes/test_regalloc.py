"""Register sharing: who may share, renaming, declarations, and semantics kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passes_ir import execute, instrs, kernel

from sass_lab import ir
from sass_lab.passes.liveness import liveness
from sass_lab.passes.regalloc import share_registers


def _names(k: ir.Kernel) -> list[str]:
    return [d.name for d in k.regs]


def test_disjoint_ranges_share_and_keep_the_first_name():
    k = kernel(""".reg .f32 a, b, c
    mov.f32 a, 1.0
    st.global.f32 [0], a
    mov.f32 b, 2.0
    st.global.f32 [4], b
    mov.f32 c, 3.0
    st.global.f32 [8], c
""")
    k2, rep = share_registers(k)
    assert rep.merged == 2 and rep.groups == (("a", "b", "c"),) and rep.candidates == 3
    assert rep.renames == {"b": "a", "c": "a"}
    assert _names(k2) == ["a"]
    assert instrs(k2)[2:4] == ["mov.f32 a, 2.0", "st.global.f32 [4], a"]
    assert execute(k2)["mem"] == execute(k)["mem"]


def test_overlapping_ranges_do_not_share():
    k = kernel(".reg .f32 a, b\n  mov.f32 a, 1.0\n  mov.f32 b, 2.0\n  add.f32 a, a, b\n"
               "  st.global.f32 [0], a")
    k2, rep = share_registers(k)
    assert rep.merged == 0 and k2 is k


@pytest.mark.parametrize("ta, tb, shared", [
    ("f32", "f32", True), ("f32", "b32", False), ("u32", "s32", False), ("u64", "u32", False),
    ("pred", "pred", True),
])
def test_only_same_type_shares(ta, tb, shared):
    k = kernel(f""".reg .{ta} a
.reg .{tb} b
    mov.{ta} a, 1
    st.global.{ta} [0], a
    mov.{tb} b, 2
    st.global.{tb} [4], b
""")
    assert share_registers(k)[1].merged == int(shared)


def test_range_registers_are_never_touched():
    k = kernel(".reg .b32 %r<4>\n  mov.b32 %r1, 1\n  st.global.b32 [0], %r1\n  mov.b32 %r2, 2\n"
               "  st.global.b32 [4], %r2")
    k2, rep = share_registers(k)
    assert rep.merged == 0 and rep.candidates == 0 and k2 is k


def test_names_in_raw_lines_are_left_alone():
    k = kernel(".reg .f32 a, b\n  mov.f32 a, 1.0\n  st.global.f32 [0], a\n.raw { b }\n"
               "  mov.f32 b, 2.0\n  st.global.f32 [4], b")
    assert share_registers(k)[1].merged == 0


def test_registers_of_nested_scopes_are_never_shared():
    """nvcc's inline-asm blocks ({ .reg .f32 r0; ... }) get one hoisted name per block; sharing them
    would change what ptxas reads (and did change its SASS on a CUB kernel)."""
    from sass_lab.dsl import frontend

    src = """.version 9.0
.target sm_80
.address_size 64
.visible .entry k(.param .u64 out)
{
.reg .f32 %f<4>;
.reg .b64 %rd<2>;
ld.param.u64 %rd1, [out];
{ .reg .f32 r0; mov.f32 r0, 0f3F800000; st.global.f32 [%rd1], r0; }
{ .reg .f32 r0; mov.f32 r0, 0f40000000; st.global.f32 [%rd1+4], r0; }
ret;
}
"""
    k = frontend(src, "k.ptx", {}).module.kernels[0]
    assert [(d.name, d.scoped) for d in k.regs if not d.count] == [("r0", True), ("r0_1", True)]
    k2, rep = share_registers(k)
    assert rep.merged == 0 and rep.candidates == 0 and k2 is k


def test_dead_write_still_interferes():
    # x is written while y is live; sharing them would clobber y.
    k = kernel(".reg .u32 x, y\n  mov.u32 y, 5\n  mov.u32 x, 6\n  st.global.u32 [0], y")
    assert share_registers(k)[1].merged == 0


def test_guarded_write_keeps_the_old_value_live():
    k = kernel(""".reg .u32 x, y
.reg .pred p
    mov.u32 x, 1
    setp.ne.u32 p, 0, 0
    mov.u32 y, 9
    st.global.u32 [4], y
@p  mov.u32 x, 2
    st.global.u32 [0], x
""")
    k2, rep = share_registers(k)
    assert rep.merged == 0
    assert execute(k2)["mem"][("global", 0)] == 1


def test_loop_carried_value_interferes_with_body_temporaries():
    k = kernel(""".reg .u32 i, s, tmp, out
.reg .pred more
    mov.u32 i, 0
    mov.u32 s, 0
TOP:
    mul.u32 tmp, i, 3
    add.u32 s, s, tmp
    add.u32 i, i, 1
    setp.lt.u32 more, i, 5
@more bra TOP
    add.u32 out, s, 1
    st.global.u32 [0], out
    ret
""")
    k2, rep = share_registers(k)
    # out's range starts after the loop: it may join i (dead after the loop) but never s.
    assert all(not {"s", "out"} <= set(g) and not {"i", "tmp"} <= set(g) for g in rep.groups)
    assert rep.groups == (("i", "out"),)
    assert execute(k2)["mem"] == execute(k)["mem"] == {("global", 0): 31}
    assert liveness(k2).peak == liveness(k).peak


def test_greedy_order_is_declaration_order():
    k = kernel(""".reg .f32 c, a, b
    mov.f32 a, 1.0
    st.global.f32 [0], a
    mov.f32 b, 2.0
    st.global.f32 [4], b
    mov.f32 c, 3.0
    st.global.f32 [8], c
""")
    assert share_registers(k)[1].groups == (("c", "a", "b"),)


# --------------------------------------------------------------------------- property test

REGS = ["a", "b", "c", "d", "e", "f", "g", "h"]


@st.composite
def programs(draw) -> str:
    """Straight-line code that never reads a register before an unguarded write to it."""
    defined: list[str] = []
    lines = ["setp.lt.u32 p, 1, 2"]
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["mov", "alu", "alu", "st", "st", "setp", "guarded"]))
        dst = draw(st.sampled_from(REGS))
        if kind == "mov" or not defined:
            lines.append(f"mov.u32 {dst}, {draw(st.integers(0, 9))}")
            defined.append(dst)
        elif kind == "alu":
            op = draw(st.sampled_from(["add", "sub", "mul", "xor"]))
            a, b = draw(st.sampled_from(defined)), draw(st.sampled_from(defined))
            lines.append(f"{op}.u32 {dst}, {a}, {b}")
            defined.append(dst)
        elif kind == "st":
            lines.append(f"st.global.u32 [{4 * draw(st.integers(0, 7))}], {draw(st.sampled_from(defined))}")
        elif kind == "setp":
            a, b = draw(st.sampled_from(defined)), draw(st.sampled_from(defined))
            lines.append(f"setp.lt.u32 p, {a}, {b}")
        else:
            d, a = draw(st.sampled_from(defined)), draw(st.sampled_from(defined))
            lines.append(f"@{draw(st.sampled_from(['', '!']))}p mov.u32 {d}, {a}")
    return "\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(programs())
def test_sharing_preserves_stores(body):
    k = kernel(".reg .u32 a, b, c, d, e, f, g, h\n.reg .pred p\n" + body)
    k2, rep = share_registers(k)
    assert execute(k2)["mem"] == execute(k)["mem"]
    assert len(k2.regs) == len(k.regs) - rep.merged
    assert liveness(k2).peak == liveness(k).peak


def test_wgmma_operands_are_never_shared():
    # The fragment `fa` is dead after the mma_async as far as liveness can tell, but the tensor core
    # reads it until wait_group: `t` must not take its register.
    k = kernel(""".reg .f32 acc0, acc1, fa, t
.reg .u64 db
    mov.f32 fa, 1.0
    mov.u64 db, 0
    mov.f32 acc0, 0.0
    mov.f32 acc1, 0.0
    wgmma.mma_async.sync.aligned.m64n8k8.f32.tf32.tf32 {acc0, acc1}, {fa}, db, 1, 1, 1
    mov.f32 t, 2.0
    st.global.f32 [0], t
    wgmma.wait_group.sync.aligned 0
    st.global.f32 [4], acc0
    st.global.f32 [8], acc1
""")
    groups = share_registers(k)[1].groups
    assert all(not {"fa", "t"} <= set(g) for g in groups)
    assert all(not {"acc0", "acc1", "fa", "db"} & set(g) for g in groups)


@settings(max_examples=100, deadline=None)
@given(programs())
def test_renaming_from_the_flow_is_renaming_from_scratch(body):
    """``rename`` told which instructions touch a register by the kernel's solved flow gives the
    same kernel as finding them itself."""
    from sass_lab.passes.defuse import DefUse
    from sass_lab.passes.liveness import flow
    from sass_lab.passes.regalloc import rename

    k = kernel(".reg .u32 a, b, c, d, e, f, g, h\n.reg .pred p\n" + body)
    _, rep = share_registers(k)
    du = DefUse()
    fl = flow(k, du)
    assert rename(k, rep.renames, du, fl) == rename(k, rep.renames)


@settings(max_examples=60, deadline=None)
@given(programs())
def test_the_renamed_body_keeps_its_control_flow_graph(body):
    """After sharing, liveness reuses the CFG of the body before renaming: the same as building it."""
    from sass_lab.passes.defuse import DefUse
    from sass_lab.passes.liveness import flow

    k = kernel(".reg .u32 a, b, c, d, e, f, g, h\n.reg .pred p\nTOP:\n" + body + "\n@p bra TOP\n    ret")
    du = DefUse()
    fl = flow(k, du)
    k2, _ = share_registers(k, fl, du)
    assert flow(k2, du, fl.blocks) == flow(k2, du)
