"""The ISA table: latency classes, FLOPs, destination types, operand rules."""

from __future__ import annotations

import pytest

from sass_lab import ir
from sass_lab.dsl.checks import compatible, relaxed
from sass_lab.isa.table import (
    LATENCY_CLASSES,
    OPS,
    dest_type,
    flops,
    instr_type,
    latency_class,
    spec,
    types_of,
)


def ins(name: str) -> ir.Instr:
    op, *mods = name.split(".")
    return ir.Instr(op, tuple(mods), ())


@pytest.mark.parametrize("name, cls", [
    ("add.s32", "alu"), ("add.f32", "fma"), ("fma.rn.f32", "fma"), ("mad.lo.s32", "fma"), ("mul.lo.u32", "fma"),
    ("mul.f32", "fma"), ("fma.rn.f64", "fp64"), ("add.f64", "fp64"), ("ex2.approx.f32", "mufu"),
    ("rcp.approx.ftz.f32", "mufu"), ("div.rn.f32", "mufu"), ("div.u32", "alu"), ("cvt.rn.f32.s32", "conv"),
    ("ld.global.f32", "mem_global"), ("ld.f32", "mem_global"), ("st.local.u32", "mem_global"),
    ("ld.shared.v4.f32", "mem_shared"), ("atom.shared.add.u32", "mem_shared"), ("ld.param.u64", "mem_const"),
    ("ld.const.f32", "mem_const"), ("shfl.sync.down.b32", "mem_shared"), ("ldmatrix.sync.aligned.m8n8.x4.shared.b16",
                                                                          "mem_shared"),
    ("cp.async.cg.shared.global", "mem_global"), ("bra.uni", "branch"), ("ret", "branch"), ("bar.sync", "barrier"),
    ("membar.gl", "barrier"), ("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", "tensor"),
    ("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16", "tensor"), ("setp.lt.f32", "alu"), ("mov.u32", "alu"),
    ("nosuchop", "alu"),
])
def test_latency_class(name, cls):
    assert latency_class(ins(name)) == cls
    assert cls in LATENCY_CLASSES


@pytest.mark.parametrize("name, n", [
    ("fma.rn.f32", 2), ("mad.rn.f32", 2), ("add.f32", 1), ("sub.f64", 1), ("mul.rn.f32", 1), ("fma.rn.f16x2", 4),
    ("add.bf16x2", 2), ("add.s32", 0), ("mad.lo.s32", 0), ("ex2.approx.f32", 0), ("ld.global.f32", 0),
    ("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", 2 * 16 * 8 * 16 // 32),
    ("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", 2 * 16 * 8 * 8 // 32),
    ("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16", 2 * 64 * 128 * 16 // 128),
])
def test_flops_per_lane(name, n):
    assert flops(ins(name)) == n


@pytest.mark.parametrize("name, t", [
    ("setp.lt.f32", "pred"), ("cvt.rn.f16.f32", "f16"), ("mul.wide.u32", "u64"), ("mad.wide.s32", "s64"),
    ("ld.global.v4.f32", "f32"), ("popc.b64", "u32"), ("add.u32", "u32"), ("mov", None), ("bar.sync", None),
])
def test_dest_type(name, t):
    op, *mods = name.split(".")
    assert dest_type(op, tuple(mods)) == t


def test_types_of_and_instr_type():
    assert types_of(("rn", "f32", "s32")) == ("f32", "s32")
    assert instr_type(("sync", "aligned", "m16n8k16", "row", "col", "f32", "f16", "f16", "f32")) == "f32"
    assert instr_type(("uni",)) is None


@pytest.mark.parametrize("reg, want, ok", [
    ("f32", "f32", True), ("b32", "f32", True), ("f32", "b32", True), ("u32", "s32", True), ("s64", "u64", True),
    ("u32", "f32", False), ("f32", "u32", False), ("f16", "f32", False), ("f32", "f16x2", False),
    ("b32", "f16x2", True), ("b16", "f16", True), ("bf16", "f16", False), ("u64", "u32", False),
    ("pred", "pred", True), ("pred", "b32", False), ("b32", "pred", False),
])
def test_ptx_type_compatibility(reg, want, ok):
    assert compatible(reg, want) is ok


@pytest.mark.parametrize("reg, want, ok", [
    ("u32", "u8", True), ("b16", "u8", True), ("u64", "s32", True), ("u32", "u64", False), ("f32", "u8", False),
    ("f64", "f32", False),
])
def test_relaxed_ld_st_cvt(reg, want, ok):
    assert relaxed(reg, want) is ok


def test_table_rows_are_consistent():
    for name, row in OPS.items():
        assert row.opcode == name
        assert 0 <= row.min_ops <= row.max_ops <= 9
        assert row.latency in LATENCY_CLASSES
        assert set(row.kinds) <= set("dDsSmla")
        assert row.rule in {"none", "same", "count", "shift", "bfe", "bfi", "setp", "selp", "testp", "cvt", "mem",
                            "mov", "cvta"}
    assert spec("fma").min_ops == 4 and spec("nosuch") is None
