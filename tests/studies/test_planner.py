"""The planner: the fused kernels' shared layout, live registers, traffic, fit and waterline."""

from __future__ import annotations

import pytest

from sass_lab.studies import planner as P
from sass_lab.studies.blocks import block_flops


def _regions(kind, c, t):
    lay = P.layout(kind, c, 4, t)
    hp, hm = t.halo, -(-t.halo // 16) * 16
    out = [("x", lay.x, hp * lay.rx)]
    if kind == "convfirst":
        out += [("gs", lay.gs, t.pix * lay.rx), ("wg", lay.wg, c * 144)]
    else:
        out += [("hs", lay.hs, hm * lay.rp)]
    for b in (0, 1):
        base = b * lay.buf
        out += [(f"we{b}", lay.we + base, t.ch * lay.rx), (f"wp{b}", lay.wp + base, c * lay.rp)]
        if kind == "mbconv":
            out.append((f"wgc{b}", lay.wgc + base, t.ch * 144))
    return lay, out


@pytest.mark.parametrize("kind", ["convfirst", "mbconv"])
@pytest.mark.parametrize("c", [32, 40, 64, 136, 256])
@pytest.mark.parametrize("tile", [P.Tile(8, 16, 4, 32), P.Tile(8, 8, 4, 16), P.Tile(4, 8, 2, 64)])
def test_layout_regions_are_aligned_and_disjoint(kind, c, tile):
    lay, regions = _regions(kind, c, tile)
    assert all(off % 16 == 0 and size % 16 == 0 for _, off, size in regions)
    assert max(off + size for _, off, size in regions) <= lay.total
    live = [r for r in regions if r[0] != "wg"]  # ConvFirst's filter may wait in chunk buffer 1
    spans = sorted((off, off + size) for _, off, size in live)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    if kind == "convfirst" and lay.wg >= lay.we + lay.buf:
        assert lay.wg + c * 144 <= lay.we + 2 * lay.buf  # inside buffer 1


def test_valid_tile_reasons():
    assert P.valid_tile("convfirst", 64, 4, P.Tile()) is None
    assert "TW" in P.valid_tile("convfirst", 64, 4, P.Tile(8, 12, 4, 32))
    assert "m16" in P.valid_tile("convfirst", 64, 4, P.Tile(4, 8, 4, 32))
    assert "CH" in P.valid_tile("convfirst", 40, 4, P.Tile(8, 16, 4, 64))
    assert "shared" in P.valid_tile("convfirst", 256, 4, P.Tile(16, 16, 4, 64), "sm_80")
    assert "registers" in P.valid_tile("convfirst", 256, 4, P.Tile(8, 8, 2, 32))


@pytest.mark.parametrize("kind,c,tile", [("convfirst", 64, P.Tile()), ("convfirst", 256, P.Tile(8, 8, 4, 32)),
                                         ("mbconv", 64, P.Tile()), ("mbconv", 128, P.Tile(8, 8, 4, 32))])
def test_register_estimate_tracks_the_liveness_pass(kind, c, tile):
    import sass_lab as sl
    from sass_lab.paths import KERNELS

    k = sl.assemble_file(KERNELS / f"{kind}_block.sasm", defines=dict(C=c, TH=tile.th, TW=tile.tw, NW=tile.nw,
                                                                            CH=tile.ch))[f"{kind}_block"]
    assert abs(P.registers_estimate(kind, c, tile) - k.pressure.peak) <= 12
    assert k.resources.spill_stores == 0  # (ptxas may go below the DSL's live peak: it reorders)


def test_traffic_counts():
    t = P.Tile(8, 8, 4, 32)
    f = P.fused_traffic("convfirst", 2, 16, 16, 64, t)
    act = 2 * 16 * 16 * 64 * 2
    assert f.in_bytes == f.out_bytes == act and f.dram_bytes == 2 * act + P.block_weight_bytes("convfirst", 64)
    assert f.flops == f.useful_flops == block_flops("convfirst", dict(N=2, H=16, W=16, C=64))  # 16 = 2 tiles
    m = P.fused_traffic("mbconv", 2, 16, 16, 64, t)
    assert m.flops > m.useful_flops  # E on the 10×10 halo: 112 rows per 64 pixels
    g, e, p = P.unfused_traffic("convfirst", 2, 16, 16, 64)
    assert (g.in_bytes, g.out_bytes) == (act, act) and e.out_bytes == 4 * act and p.in_bytes == 5 * act
    assert g.flops + e.flops + p.flops == f.useful_flops
    assert [x.name for x in P.unfused_traffic("mbconv", 1, 4, 4, 8)][1] == "grouped3x3+silu"


def test_plan_at_the_bench_size():
    p = P.plan("convfirst", 32, 56, 56, 64, P.Tile(8, 8, 4, 32), "sm_90")
    assert p.fits and p.registers_source == "estimate" and p.blocks_per_sm >= 1
    assert p.dram_ratio > 5 and p.waterline_fused_s < p.waterline_unfused_s
    assert p.peak_flops == 989e12 and p.bandwidth == 3.35e12 and p.device == "H100-SXM"
    assert P.plan("mbconv", 32, 56, 56, 64, arch="sm_80").device == "A100-SXM"
    d = p.to_dict()
    assert d["dram_ratio"] == p.dram_ratio and d["tile"]["th"] == 8


def test_kernel_plan_uses_ptxas_and_the_kernels_default_tile():
    p = P.kernel_plan("mbconv", 8, 28, 28, 136)
    assert p.registers_source == "ptxas" and (p.tile.tw, p.tile.nw) == (8, 4) and p.fits


def test_rank_tiles_sorted_and_fitting():
    plans = P.rank_tiles("convfirst", 32, 56, 56, 64)
    assert plans and all(p.fits for p in plans)
    floors = [p.waterline_fused_s for p in plans]
    assert floors == sorted(floors)
    assert plans[0].fused.flops / plans[0].fused.useful_flops == pytest.approx(1.0)  # 56 = 7·8: no padding
