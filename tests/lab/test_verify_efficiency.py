"""Static efficiency: FFMA share of the main loop, from PTX text and (when nvdisasm runs) SASS."""

from __future__ import annotations

import pytest

from sass_lab.lab.efficiency import (
    MAXAS_ANCHOR,
    StaticEff,
    kernel_ptx_lines,
    ptx_loop_share,
    ptx_static_efficiency,
    static_efficiency,
)

PTX = """\
.version 9.0
.target sm_90
.address_size 64
.visible .entry other(.param .u64 p)
{
    fma.rn.f32 %f1, %f1, %f1, %f1;
    ret;
}
.visible .entry k(
    .param .u64 p
)
{
    .reg .f32 %f<9>;
    mov.f32 %f1, 0f00000000;
outer:
    add.u32 %r1, %r1, 1;
inner:
    fma.rn.f32 %f1, %f2, %f3, %f1;
    fma.rn.f32 %f4, %f2, %f3, %f4;
    fma.rn.f32 %f5, %f2, %f3, %f5;
    ld.shared.f32 %f2, [%r2];
@%p1 bra inner;
    setp.lt.u32 %p2, %r1, 9;
@%p2 bra.uni outer;
    ret;
}
"""


def test_kernel_lines_pick_the_entry():
    assert any("ret" in ln for ln in kernel_ptx_lines(PTX, "other"))
    assert sum("fma" in ln for ln in kernel_ptx_lines(PTX, "other")) == 1
    assert kernel_ptx_lines(PTX, "missing") == []


def test_hottest_loop_is_the_fma_loop_with_fewest_instructions():
    loop, ffma = ptx_loop_share(kernel_ptx_lines(PTX, "k"))
    assert (loop, ffma) == (5, 3)  # inner: 3 fma, ld, bra (the outer loop has the same FMAs but more)
    eff = ptx_static_efficiency(PTX, "k")
    assert eff == StaticEff(0.6, "PTX", 5, 3)
    assert eff.vs_anchor == pytest.approx(0.6 / MAXAS_ANCHOR)
    assert "60.0 % FFMA (3/5 PTX" in str(eff) and eff.to_dict()["anchor"] == 0.988


def test_no_loop_counts_the_whole_kernel():
    loop, ffma = ptx_loop_share(kernel_ptx_lines(PTX, "other"))
    assert (loop, ffma) == (2, 1)


def shipped(path, **defines):
    import sass_lab

    return sass_lab.assemble_file(path, defines=defines)


@pytest.mark.parametrize("defines, floor", [({}, 0.88), ({"BM": 64, "BN": 64}, 0.85)])
def test_sgemm_main_loop_is_mostly_ffma(defines, floor):
    mod = shipped("kernels_asm/sgemm.sasm", **defines)
    (k,) = list(mod)
    ptx = static_efficiency(k, prefer_sass=False)
    assert ptx.source == "PTX" and ptx.ffma == 1024 and ptx.share >= floor  # two unrolled K-slices
    sass = static_efficiency(k)
    assert sass.source in ("SASS", "PTX") and sass.share >= floor - 0.03
    if sass.source == "SASS":
        assert sass.ffma == 1024


def test_tiled_sgemm_is_less_efficient_than_the_maxas_one():
    tiled = static_efficiency(next(iter(shipped("kernels_asm/sgemm_tiled.sasm"))), prefer_sass=False)
    big = static_efficiency(next(iter(shipped("kernels_asm/sgemm.sasm"))), prefer_sass=False)
    assert 0.3 < tiled.share < big.share


def test_falls_back_to_ptx_without_a_sass_view(monkeypatch):
    from sass_lab.api import Kernel

    (k,) = list(shipped("kernels_asm/sgemm_tiled.sasm"))

    def no_nvdisasm(self):
        raise RuntimeError("nvdisasm not found")

    monkeypatch.setattr(Kernel, "sass", property(no_nvdisasm))
    eff = static_efficiency(k)
    assert eff.source == "PTX" and eff == static_efficiency(k, prefer_sass=False)
