"""Liveness over the CFG, pressure units and the profile."""

from __future__ import annotations

import time

import pytest
from passes_ir import kernel

from sass_lab import ir
from sass_lab.errors import SourceError
from sass_lab.passes.cfg import build_cfg
from sass_lab.passes.liveness import liveness, reg_units

STRAIGHT = """
.reg .f32 a, b, c
    mov.f32 a, 1.0
    mov.f32 b, 2.0
    add.f32 c, a, b
    mul.f32 c, c, c
    st.global.f32 [0], c
"""

DIAMOND = """
.reg .f32 a, b, c, x
.reg .pred p
    mov.f32 a, 1.0
    mov.f32 x, 3.0
    setp.lt.f32 p, a, 0.5
@p  bra ELSE
    add.f32 b, a, 1.0
    bra JOIN
ELSE:
    add.f32 b, a, 2.0
JOIN:
    add.f32 c, b, x
    st.global.f32 [0], c
    ret
"""

LOOP = """
.reg .u32 i, n, s, t, after
.reg .pred more
    mov.u32 n, 10
    mov.u32 s, 0
    mov.u32 i, 0
    mov.u32 t, 5
TOP:
    add.u32 s, s, i
    add.u32 i, i, 1
    setp.lt.u32 more, i, n
@more bra TOP
    add.u32 after, s, 1
    st.global.u32 [0], after
    ret
"""


def _block_of(p, index: int) -> int:
    return next(b for b, blk in enumerate(p.blocks) if blk.start <= index < blk.end)


def test_straight_line_profile():
    p = liveness(kernel(STRAIGHT))
    assert p.profile == (1, 2, 1, 1, 0)
    assert p.peak == 2 and p.peak_index == 1
    assert p.peak_span.line == 4 and p.peak_live == {"a", "b"}
    assert p.registers == 3 and len(p.blocks) == 1


def test_diamond_blocks_and_live_sets():
    k = kernel(DIAMOND)
    p = liveness(k)
    assert [(b.start, b.end) for b in p.blocks] == [(0, 4), (4, 6), (6, 8), (8, 12)]
    assert [b.succs for b in p.blocks] == [(1, 2), (3,), (3,), ()]
    assert p.blocks[3].preds == (1, 2)
    assert p.live_in[1] == p.live_in[2] == {"a", "x"}  # a used in both arms, x after the join
    assert p.live_out[1] == p.live_out[2] == {"b", "x"}
    assert p.live_in[3] == {"b", "x"} and p.live_out[3] == frozenset()
    assert p.live_in[0] == frozenset()
    assert p.pred_peak == 1 and p.pred_profile[2] == 1 and p.pred_profile[3] == 0


def test_loop_value_live_around_back_edge_and_dead_after():
    k = kernel(LOOP)
    p = liveness(k)
    top = _block_of(p, 4)
    assert p.blocks[top].succs == (top, top + 1)
    assert {"i", "s", "n"} <= p.live_in[top] and {"i", "s", "n"} <= p.live_out[top]
    assert "t" not in p.live_in[top]  # never read: dead from its definition
    exit_b = top + 1
    assert p.live_in[exit_b] == {"s"}  # i and n die when the loop ends
    assert p.profile[3] == 4  # n, s, i live and t written (dead) at the mov of t
    assert p.profile[4] == 3  # at the label: n, s, i


@pytest.mark.parametrize("t, units", [
    ("u64", 2), ("f64", 2), ("b64", 2), ("f32", 1), ("u32", 1), ("f16", 1), ("b16", 1), ("u8", 1),
    ("f16x2", 1), ("b128", 4), ("pred", 0),
])
def test_register_units(t, units):
    assert reg_units(t) == units
    k = kernel(f".reg .{t} x\n.reg .u32 y\n  mov.{t} x, 0\n  mov.u32 y, 1\n  st.global.{t} [y], x")
    p = liveness(k)
    assert p.peak == units + 1
    assert p.pred_peak == (1 if t == "pred" else 0)


def test_sixty_four_bit_counts_two_in_profile():
    k = kernel(".reg .u64 p, q\n.reg .f32 a\n  mov.u64 p, 0\n  mov.u64 q, 8\n  ld.global.f32 a, [p]\n"
               "  st.global.f32 [q], a")
    assert liveness(k).profile == (2, 4, 3, 0)


def test_guarded_write_does_not_kill():
    k = kernel(""".reg .u32 x, y
.reg .pred p
    mov.u32 x, 0
    setp.ne.u32 p, 7, 0
    mov.u32 y, 3
@p  mov.u32 x, y
    st.global.u32 [0], x
""")
    p = liveness(k)
    assert p.profile == (1, 1, 2, 1, 0)  # x stays live across the guarded write
    assert p.pred_profile == (0, 1, 1, 0, 0)


def test_reads_before_any_write_occupy_nothing():
    k = kernel(".reg .u32 ghost, a\n  mov.u32 a, 1\n  add.u32 a, a, ghost\n  st.global.u32 [0], a")
    p = liveness(k)
    assert p.profile == (1, 1, 0) and p.live_in[0] == {"ghost"}


def test_range_registers_take_the_range_type():
    k = kernel(".reg .b64 %rd<4>\n.reg .b32 %r<4>\n  mov.b64 %rd1, 0\n  mov.b32 %r1, 1\n"
               "  st.global.b32 [%rd1], %r1")
    assert liveness(k).peak == 3


def test_brx_may_reach_every_label():
    k = kernel(""".reg .u32 i, a, b
    mov.u32 a, 1
    mov.u32 b, 2
    brx.idx i, TABLE
A:
    st.global.u32 [0], a
    ret
B:
    st.global.u32 [0], b
    ret
""")
    p = liveness(k)
    assert p.blocks[0].succs == (1, 2)
    assert p.live_out[0] == {"a", "b"}


def test_undefined_label_is_a_source_error():
    k = kernel("  bra NOWHERE")
    with pytest.raises(SourceError) as e:
        liveness(k)
    assert e.value.span is not None and e.value.span.line == 1 and e.value.hint


def test_empty_body():
    p = liveness(ir.Kernel("k", (), (), (), (), ()))
    assert p.peak == 0 and p.peak_index == -1 and p.peak_span is None and p.blocks == ()


def test_unguarded_ret_ends_a_block_without_successors():
    k = kernel(".reg .u32 a\n  ret\n  mov.u32 a, 1\n  st.global.u32 [0], a")
    blocks = build_cfg(k.body)
    assert [(b.start, b.end, b.succs) for b in blocks] == [(0, 1, ()), (1, 3, ())]


def big_kernel(n_instr: int, n_regs: int = 256) -> ir.Kernel:
    """An unrolled loop body (built directly as IR): n_regs accumulators, loads and fmas, a back edge."""
    acc = [ir.Reg(f"acc{i}", "f32") for i in range(n_regs)]
    f = [ir.Reg(f"%f{i}", "f32") for i in range(64)]
    rd, p = ir.Reg("%rd1", "b64"), ir.Reg("%p1", "pred")
    regs = (ir.RegDecl("acc", "f32", n_regs), ir.RegDecl("%f", "f32", 64), ir.RegDecl("%rd", "b64", 4),
            ir.RegDecl("%p", "pred", 2))
    zero = ir.Imm(0.0, "0f00000000")
    body: list[ir.Stmt] = [ir.Instr("mov", ("u64",), (rd, ir.Imm(0, "0")))]
    body += [ir.Instr("mov", ("f32",), (a, zero)) for a in acc]
    body.append(ir.LabelDef("TOP"))
    i = 0
    while len(body) < n_instr:
        body.append(ir.Instr("ld", ("shared", "f32"), (f[i % 64], ir.Mem(rd, 4 * (i % 512)))))
        body.append(ir.Instr("fma", ("rn", "f32"), (acc[i % n_regs], f[i % 64], f[(i + 1) % 64], acc[i % n_regs])))
        i += 1
    body.append(ir.Instr("setp", ("lt", "u64"), (p, rd, ir.Imm(100, "100"))))
    body.append(ir.Instr("bra", (), (ir.Label("TOP"),), ir.Guard(p)))
    body += [ir.Instr("st", ("global", "f32"), (ir.Mem(rd, 4 * j), a)) for j, a in enumerate(acc)]
    return ir.Kernel("big", (), regs, (), (), tuple(body))


def test_twenty_thousand_instructions_fast():
    k = big_kernel(20_000)
    assert sum(isinstance(s, ir.Instr) for s in k.body) >= 20_000
    t0 = time.process_time()
    p = liveness(k)
    dt = time.process_time() - t0
    assert p.peak == 256 + 64 + 2
    assert dt < 2.0, f"liveness took {dt:.3f}s of CPU"  # ~0.1 s measured; headroom for busy CI


def test_line_profile_keeps_the_maximum_per_line():
    from sass_lab.passes import line_profile

    k = kernel(STRAIGHT)
    spans = [s.span for s in k.body]
    same = ir.Kernel("k", (), k.regs, (), (), tuple(
        ir.Instr(s.opcode, s.mods, s.operands, s.guard, spans[0]) if i < 2 else s for i, s in enumerate(k.body)))
    assert line_profile(k, liveness(k)) == {("t.sasm", 3): 1, ("t.sasm", 4): 2, ("t.sasm", 5): 1,
                                            ("t.sasm", 6): 1, ("t.sasm", 7): 0}
    assert line_profile(same, liveness(same))[("t.sasm", 3)] == 2


def test_describe():
    assert liveness(kernel(STRAIGHT)).describe() == "peak 2 live 32-bit registers at t.sasm:4 (0 predicates)"


@pytest.mark.parametrize("decls, extra", [
    (".reg .u32 a, b", ""),  # one width class
    (".reg .u32 a, b\n.reg .u64 w", "    mov.u64 w, 7\n    st.global.u64 [8], w\n"),  # two
    (".reg .u32 a, b\n.reg .u64 w\n.reg .b128 q",  # three: the general path
     "    mov.u64 w, 7\n    mov.b128 q, {w, w}\n    st.global.b128 [16], q\n"),
])
def test_profile_counts_every_width_class(decls, extra):
    """The profile is each statement's occupied registers weighted by their 32-bit units, whatever
    the number of width classes present (the one- and two-class cases have their own code)."""
    from sass_lab.passes.defuse import DefUse
    from sass_lab.passes.liveness import flow, pressure_of

    k = kernel(f"{decls}\n.reg .pred p\n    mov.u32 a, 1\n    add.u32 b, a, 2\n{extra}"
               "    setp.lt.u32 p, a, b\n    st.global.u32 [0], b\n")
    fl = flow(k, DefUse())
    want = [sum(reg_units(t) for t, bit in zip(fl.regs.types, range(len(fl.regs.names))) if occ >> bit & 1)
            for occ in fl.occupied]
    got = pressure_of(k, fl)
    assert list(got.profile) == want and max(want) == got.peak
    assert list(got.pred_profile) == [(occ & fl.regs.pred_mask).bit_count() for occ in fl.occupied]
    assert len(fl.regs.unit_masks) == decls.count(".reg")
