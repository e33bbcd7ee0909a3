"""TMA on the emulator: tensor loads (by-value and by-pointer maps, swizzles, OOB fill, element
strides, multicast to a cluster), stores and reductions, against numpy; and the findings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hopperkit import tma_load_kernel, tma_store_kernel

from sass_lab.emulator import EmulatorCheckError, emulate
from sass_lab.errors import EmulatorError
from sass_lab.hw.smem import SWIZZLE_WIDTH, swizzle
from sass_lab.hw.tensormap import TensorMap

SMEM = 8192


def expected_smem(g: np.ndarray, coords, box, es, mode: str, fill=0) -> np.ndarray:
    """The shared image a tile load leaves, by plain loops: box element (j0, j1, ...) of the tensor
    (OOB: fill) at row-major row R, column j0, rows padded to the swizzle width, then swizzled."""
    rank = g.ndim
    e = g.dtype.itemsize
    counts = [box[0]] + [-(-box[i] // es[i]) for i in range(1, rank)]
    pitch = box[0] * e if mode == "none" else SWIZZLE_WIDTH[mode]
    img = np.zeros(SMEM, np.uint8)
    for idx in itertools.product(*[range(c) for c in reversed(counts)]):
        idx = idx[::-1]
        x = [coords[0] + idx[0]] + [coords[i] + idx[i] * es[i] for i in range(1, rank)]
        inside = all(0 <= x[i] < g.shape[rank - 1 - i] for i in range(rank))
        v = g[tuple(reversed(x))] if inside else g.dtype.type(fill)
        row = 0
        for i in range(rank - 1, 0, -1):
            row = row * counts[i] + idx[i]
        a = swizzle(row * pitch + idx[0] * e, mode)
        img[a:a + e] = np.frombuffer(np.asarray(v, g.dtype).tobytes(), np.uint8)
    return img


@pytest.mark.parametrize("mode", ["none", "32B", "64B", "128B"])
@pytest.mark.parametrize("by_pointer", [False, True])
def test_tma_load_2d_swizzles_and_oob(mode, by_pointer):
    rng = np.random.default_rng(1)
    g = rng.integers(1, 60000, size=(40, 72), dtype=np.uint16)  # bf16 bit patterns, 40 rows of 72
    inner = min(64, SWIZZLE_WIDTH[mode] // 2) if mode != "none" else 24
    tm = TensorMap(g, "bfloat16", (72, 40), (144,), (inner, 16), swizzle=mode)
    for coords in ((8, 4), (60, 30), (-8, -3)):
        out = np.zeros(SMEM // 4, np.uint32)
        emulate(tma_load_kernel(2, tm.box_bytes, SMEM, by_pointer, dump=tm.smem_bytes), "k", 1, 128,
                [tm, out, np.uint32(coords[0] & 0xFFFFFFFF), np.uint32(coords[1] & 0xFFFFFFFF)])
        np.testing.assert_array_equal(out.view(np.uint8), expected_smem(g, coords, tm.box_dim, (1, 1), mode))


def test_tma_load_5d_with_element_strides_and_nan_fill():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((3, 2, 5, 6, 8)).astype(np.float32)
    dims = tuple(reversed(g.shape))
    strides = tuple(g.strides[::-1][1:])
    tm = TensorMap(g, "float32", dims, strides, (8, 4, 3, 2, 2), (1, 2, 2, 1, 1), oob_fill="nan")
    coords = (-4, 3, 1, 1, 2)
    out = np.zeros(SMEM // 4, np.uint32)
    emulate(tma_load_kernel(5, tm.box_bytes, SMEM), "k", 1, 64,
            [tm, out, *(np.uint32(c & 0xFFFFFFFF) for c in coords)])
    want = expected_smem(g, coords, tm.box_dim, tm.element_strides, "none", fill=np.float32(np.nan))
    got = out.view(np.uint8)[:tm.box_bytes].view(np.uint32)
    w = want[:tm.box_bytes].view(np.uint32)
    nan = w == np.float32(np.nan).view(np.uint32)
    assert (got[nan] == 0x7FFFFFFF).all() and np.array_equal(got[~nan], w[~nan]) and nan.any()


def test_tma_multicast_fills_every_cta_of_the_cluster():
    rng = np.random.default_rng(3)
    g = rng.integers(0, 255, size=(64, 64), dtype=np.uint8)
    tm = TensorMap(g, "uint8", (64, 64), (64,), (64, 32), swizzle="64B")
    out = np.zeros(4 * SMEM // 4, np.uint32)
    emulate(tma_load_kernel(2, tm.box_bytes, SMEM, multicast=True, dump=tm.smem_bytes), "k", 4, 128,
            [tm, out, np.uint32(0), np.uint32(16)], cluster=(2, 1, 1))
    want = expected_smem(g, (0, 16), tm.box_dim, (1, 1), "64B")
    for b in range(4):  # ranks 0 of both clusters multicast to their own two CTAs
        np.testing.assert_array_equal(out.view(np.uint8)[b * SMEM:(b + 1) * SMEM], want)


@pytest.mark.parametrize("reduce", [None, "add", "max"])
def test_tma_store_and_reduce_write_only_in_bounds_elements(reduce):
    rng = np.random.default_rng(4)
    g = rng.standard_normal((20, 36)).astype(np.float32)
    g0 = g.copy()
    tm = TensorMap(g, "float32", (36, 20), (144,), (16, 8), swizzle="64B")
    src = rng.standard_normal(SMEM // 4).astype(np.float32)
    coords = (28, 15)
    emulate(tma_store_kernel(2, SMEM, reduce), "k", 1, 128, [tm, src, np.uint32(coords[0]), np.uint32(coords[1])])
    want = g0.copy()
    img = src.view(np.uint8)
    for r, c in itertools.product(range(8), range(16)):
        y, x = coords[1] + r, coords[0] + c
        if y < 20 and x < 36:
            a = swizzle(r * 64 + c * 4, "64B")
            v = img[a:a + 4].view(np.float32)[0]
            want[y, x] = v if reduce is None else (want[y, x] + v if reduce == "add" else max(want[y, x], v))
    np.testing.assert_array_equal(g, want)


def test_tma_store_without_fence_proxy_async_is_a_finding():
    g = np.zeros((8, 32), np.float32)
    tm = TensorMap(g, "float32", (32, 8), (128,), (32, 8))
    with pytest.raises(EmulatorCheckError) as e:
        emulate(tma_store_kernel(2, 1024, fence=False), "k", 1, 32, [tm, np.ones(256, np.float32), np.uint32(0),
                                                                     np.uint32(0)])
    f = next(f for f in e.value.findings if f.kind == "fence-proxy-async")
    assert "TMA store" in f.message and "no fence.proxy.async" in f.message


def test_arrive_count_too_small_for_the_bytes_is_a_deadlock_finding():
    """expect_tx of fewer bytes than the box: the phase completes early... and one of more bytes than the
    box never completes: a finding naming the barrier, its phase and counts (never a hang)."""
    g = np.zeros((16, 16), np.float32)
    tm = TensorMap(g, "float32", (16, 16), (64,), (16, 16))
    with pytest.raises(EmulatorCheckError) as e:
        emulate(tma_load_kernel(2, tm.box_bytes, 1024, expect=tm.box_bytes + 16), "k", 1, 32,
                [tm, np.zeros(256, np.uint32), np.uint32(0), np.uint32(0)])
    f = next(f for f in e.value.findings if f.kind == "mbarrier-deadlock")
    assert "phase 0" in f.message and "tx-count 16" in f.message


def test_a_non_map_operand_and_bad_maps_are_refused():
    g = np.zeros((16, 16), np.float32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(tma_load_kernel(2, 1024, 1024, by_pointer=True), "k", 1, 32,
                [np.zeros(32, np.uint32), np.zeros(256, np.uint32), np.uint32(0), np.uint32(0)])
    assert any(f.kind == "tma" and "not a tensor map" in f.message for f in e.value.findings)
    tm = TensorMap(g, "float32", (16, 16), (64,), (16, 16), interleave="none")
    with pytest.raises(EmulatorError, match="expected"):
        emulate(tma_load_kernel(2, 1024, 1024), "k", 1, 32, [g, np.zeros(256, np.uint32), np.uint32(0), np.uint32(0)])
    del tm


def test_reading_a_tma_destination_before_its_mbarrier_phase_is_a_finding():
    """The copy completes at issue in the emulator, but until the mbarrier phase that tracks it completes
    it is in flight: reading its bytes first is an async-in-flight finding (on the GPU: stale data).
    Planted: thread 0 issues the load, reads the destination, and only then arms the barrier."""
    g = np.ones((16, 16), np.float32)
    tm = TensorMap(g, "float32", (16, 16), (64,), (16, 16))
    ptx = tma_load_kernel(2, tm.box_bytes, 1024)
    arm = f"    mbarrier.arrive.expect_tx.shared::cta.b64 %rd2, [%r3], {tm.box_bytes};\n"
    load = next(line for line in ptx.splitlines(True) if line.lstrip().startswith("cp.async.bulk.tensor"))
    early = ptx.replace(arm + load, load + "    ld.shared.u32 %r9, [%r2];\n" + arm)
    assert early != ptx
    with pytest.raises(EmulatorCheckError) as e:
        emulate(early, "k", 1, 32, [tm, np.zeros(256, np.uint32), np.uint32(0), np.uint32(0)])
    assert any(f.kind == "async-in-flight" and "still in flight" in f.message for f in e.value.findings)


def test_prefetch_tensor_and_cache_hints_are_no_ops():
    """cp.async.bulk.prefetch.tensor (even of a box outside the tensor) and prefetch.tensormap are L2
    hints: the load after them reads the same bytes, with no finding; an .L2::cache_hint operand
    changes nothing either."""
    rng = np.random.default_rng(4)
    g = rng.integers(1, 60000, size=(24, 64), dtype=np.uint16)
    tm = TensorMap(g, "bfloat16", (64, 24), (128,), (64, 8), swizzle="128B")
    ptx = tma_load_kernel(2, tm.box_bytes, SMEM, dump=tm.smem_bytes)
    load = next(line for line in ptx.splitlines(True) if line.lstrip().startswith("cp.async.bulk.tensor"))
    hinted = load.replace(".mbarrier::complete_tx::bytes", ".mbarrier::complete_tx::bytes.L2::cache_hint")
    hinted = hinted.replace("[%r3];", "[%r3], %rd9;")
    extra = ("    prefetch.tensormap [%rd1];\n"
             "    cp.async.bulk.prefetch.tensor.2d.L2.global.tile [%rd1, {%c0, %c1}];\n"
             "    mov.u32 %r12, 4096;\n"
             "    cp.async.bulk.prefetch.tensor.2d.L2.global [%rd1, {%r12, %r12}];\n"
             "    mov.b64 %rd9, 0x1000000000000000;\n")
    pre = ptx.replace(load, extra + hinted)
    assert pre != ptx
    want = expected_smem(g, (0, 8), tm.box_dim, (1, 1), "128B")
    for text in (ptx, pre):
        out = np.zeros(SMEM // 4, np.uint32)
        rep = emulate(text, "k", 1, 128, [tm, out, np.uint32(0), np.uint32(8)])
        assert rep.ok and not rep.findings
        np.testing.assert_array_equal(out.view(np.uint8), want)


@pytest.mark.parametrize("form", ["im2col", "tile::gather4"])
def test_im2col_and_gather4_are_refused_at_decode_time(form):
    g = np.zeros((16, 16), np.float32)
    tm = TensorMap(g, "float32", (16, 16), (64,), (16, 16))
    ptx = tma_load_kernel(2, tm.box_bytes, 1024).replace(".global.tile.mbarrier", f".global.{form}.mbarrier")
    with pytest.raises(EmulatorError, match=rf"'.{form}' of .* is not supported|only tile mode is modelled"):
        emulate(ptx, "k", 1, 32, [tm, np.zeros(256, np.uint32), np.uint32(0), np.uint32(0)])
