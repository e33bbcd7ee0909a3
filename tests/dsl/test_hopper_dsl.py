"""Hopper instructions in the DSL: parsing, lowering, register roles, helpers, and ptxas's verdict."""

from __future__ import annotations

import pytest

import sass_lab as sl
from sass_lab import ir
from sass_lab.dsl import frontend
from sass_lab.errors import SourceError
from sass_lab.hw.smem import SmemDescriptor
from sass_lab.isa import async_registers, defs_uses

HOPPER = """\
.kernel k(.u64 out, .tensormap tA)
.maxntid 384
.reg .f32 acc[64]
.reg .b32 afr[4]
.reg .b64 da, db, st
.reg .b32 sa, sb, c0, c1, r, rank
.reg .b16 mask
.reg .pred p, ok, leader
.shared .align 1024 .b8 smem[32768]
.shared .align 8 .b64 bar[2]
    mov.u32 sa, smem
    add.u32 sb, sa, 16384
    mov.u32 c0, %tid.x
    mov.u32 c1, %ctaid.x
    mov.u32 rank, %cluster_ctarank
    mov.b16 mask, 3
    elect.sync r|leader, 0xffffffff
    mbarrier.init.shared::cta.b64 [bar], 1
    fence.mbarrier_init.release.cluster
    fence.proxy.async.shared::cta
    barrier.cluster.arrive.release.aligned
    barrier.cluster.wait.acquire.aligned
% lbo, sbo = wgmma_layout(64, 64, "bf16", "K", "128B")
% wgmma_desc("da", "sa", lbo, sbo, "128B")
% wgmma_desc("db", "sb", lbo, sbo, "128B")
    mbarrier.arrive.expect_tx.shared::cta.b64 st, [bar], 16384
% tma_load("sa", "tA", ["c0", "c1"], "bar")
% tma_load("sb", "tA", ["c0", "c1"], "bar+8", multicast="mask")
% mbar_wait("bar", 0, "ok", "wait0")
    mapa.shared::cluster.u32 r, sa, rank
    mbarrier.arrive.release.cluster.shared::cluster.b64 _, [r]
    ld.shared::cluster.u32 r, [r]
    setp.ne.u32 p, c0, 0
    wgmma.fence.sync.aligned
% for k in range(4):
%   wgmma("acc", "da", "db", 128, scale_d="p")
%   desc_add("da", "da", 32)
%   desc_add("db", "db", 32)
% end
    wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {acc}, {afr}, db, p, 1, 1, 0
    wgmma.commit_group.sync.aligned
    wgmma.wait_group.sync.aligned 0
    stmatrix.sync.aligned.m8n8.x4.shared.b16 [sa], {afr}
    fence.proxy.async.shared::cta
% tma_store("tA", ["c0", "c1"], "sa")
    cp.async.bulk.commit_group
    cp.async.bulk.wait_group.read 0
    setmaxnreg.inc.sync.aligned.u32 232
    griddepcontrol.launch_dependents
    griddepcontrol.wait
    prefetch.tensormap [tA]
    mbarrier.inval.shared::cta.b64 [bar]
    ret
"""


def instrs(text: str) -> list[ir.Instr]:
    k = frontend(text, "h.sasm", {}).module.kernels[0]
    return [s for s in k.body if isinstance(s, ir.Instr)]


def test_tensormap_parameter_is_a_128_byte_param_with_a_generic_address():
    k = frontend(HOPPER, "h.sasm", {}).module.kernels[0]
    p = next(p for p in k.params if p.name == "tA_param")
    assert (p.type, p.align, p.array, p.size) == ("b8", 128, 128, 128)
    first = [s for s in k.body if isinstance(s, ir.Instr)][:2]
    assert [(i.opcode, i.mods) for i in first] == [("mov", ("b64",)), ("cvta", ("param", "u64"))]


def test_tma_operand_and_whole_array_braces():
    body = instrs(HOPPER)
    cp = next(i for i in body if i.opcode == "cp" and "tensor" in i.mods and "shared::cluster" in i.mods)
    src = cp.operands[1]
    assert isinstance(src, ir.Mem) and src.base.name == "tA" and [c.name for c in src.coords] == ["c0", "c1"]
    _, uses = defs_uses(cp)
    assert {"tA", "c0", "c1", "sa"} <= {r.name for r in uses}
    mma = next(i for i in body if i.opcode == "wgmma" and i.mods[0] == "mma_async")
    assert len(mma.operands[0].items) == 64 and mma.operands[0].items[5].name == "acc_5"
    regs_a = [i for i in body if i.opcode == "wgmma" and i.mods[0] == "mma_async"][-1]
    assert [r.name for r in async_registers(regs_a)][-4:] == ["afr_0", "afr_1", "afr_2", "afr_3"]
    d, u = defs_uses(regs_a)
    assert len(d) == 64 and {"acc_0", "afr_0", "db", "p"} <= {r.name for r in u}


def test_every_hopper_instruction_assembles_for_sm_90a():
    mod = sl.assemble(HOPPER, arch="sm_90a", file="h.sasm")
    ptx = mod.ptx
    for text in ("[tA, {c0, c1}], [bar]", ".multicast::cluster [sb], [tA, {c0, c1}], [bar+8], mask",
                 "cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [tA, {c0, c1}], [sa]",
                 "elect.sync r|", "cvta.param.u64 tA, tA", "setmaxnreg.inc.sync.aligned.u32 232"):
        assert text in ptx, text
    assert mod["k"].resources.registers > 0


def test_descriptor_helper_ors_the_encoded_fields():
    body = instrs(HOPPER)
    ors = [i for i in body if i.opcode == "or" and i.operands[0].name == "da"]
    want = SmemDescriptor(0, 16, 1024, "128B").encode()
    assert ors and ors[0].operands[2].value == want
    adds = [i for i in body if i.opcode == "add" and i.operands[0].name == "da"]
    assert adds[0].operands[2].value == 2  # 32 bytes in 16-byte units


@pytest.mark.parametrize("line,msg", [
    ('% wgmma("acc", "da", "db", 12)', "N=12"),
    ('% wgmma("acc", "da", "db", 64, atype="tf32", trans_b=1)', "transpose"),
    ('% desc_add("da", "da", 24)', "16-byte steps"),
    ('% wgmma_desc("da", "sa", 24, 1024, "128B")', "multiple of 16"),
    ('% tma_load("sa", "tA", [], "bar")', "1 to 5 coordinates"),
])
def test_helpers_refuse_at_the_sasm_line(line, msg):
    src = ".kernel k(.tensormap tA)\n.reg .f32 acc[64]\n.reg .b64 da, db\n.reg .b32 sa\n" + line + "\n    ret\n"
    with pytest.raises(SourceError) as e:
        frontend(src, "h.sasm", {})
    assert msg in e.value.message and e.value.span.line == 5
