"""Swizzles and wgmma shared-memory descriptors against the PTX ISA's tables and a numpy model."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.hw.smem import (
    SWIZZLE_WIDTH,
    SmemDescriptor,
    canonical,
    expected_base_offset,
    operand_addresses,
    swizzle,
    tile_offsets,
)
from sass_lab.hw.tensormap import TensorMap, TmaDesc
from sass_lab.hw.tma import box_map

# PTX ISA 5.5.7: the 16-byte chunk found at each position of 128-byte line r of the pattern
ISA_TABLE = {
    "32B": [[0, 1, 2, 3, 4, 5, 6, 7], [1, 0, 3, 2, 5, 4, 7, 6]],
    "64B": [[0, 1, 2, 3, 4, 5, 6, 7], [1, 0, 3, 2, 5, 4, 7, 6], [2, 3, 0, 1, 6, 7, 4, 5],
            [3, 2, 1, 0, 7, 6, 5, 4]],
    "128B": [[c ^ r for c in range(8)] for r in range(8)],
}


@pytest.mark.parametrize("mode", ["32B", "64B", "128B"])
def test_swizzle_matches_the_isa_pattern_tables(mode):
    for r, line in enumerate(ISA_TABLE[mode]):
        for pos, chunk in enumerate(line):
            # chunk `chunk` of line r (linear address) is stored at position `pos`
            assert swizzle(128 * r + 16 * chunk, mode) == 128 * r + 16 * pos
    # the pattern repeats and keeps the byte inside its chunk
    assert swizzle(1024 * 3 + 128 * 5 + 16 * 2 + 7, "128B") == 1024 * 3 + 128 * 5 + 16 * (2 ^ 5) + 7


@pytest.mark.parametrize("mode", ["none", "32B", "64B", "128B"])
def test_swizzle_is_a_permutation_of_each_repeat(mode):
    a = np.arange(4096)
    s = swizzle(a, mode)
    assert sorted(s.tolist()) == a.tolist()
    assert swizzle(swizzle(a, mode), mode).tolist() == a.tolist()  # an XOR: its own inverse


def test_descriptor_bit_fields_follow_the_isa():
    d = SmemDescriptor(start=0x1230, lbo=256, sbo=128, swizzle="none")
    # the ISA's tf32 K-major example: LBO 64*4 bytes encodes 16, SBO 32*4 encodes 8
    assert (d.encode() >> 16) & 0x3FFF == 16 and (d.encode() >> 32) & 0x3FFF == 8
    assert d.encode() & 0x3FFF == 0x123
    for mode, code in (("none", 0), ("128B", 1), ("64B", 2), ("32B", 3)):
        e = SmemDescriptor(start=1024, sbo=1024, swizzle=mode, base_offset=5).encode()
        assert e >> 62 == code and (e >> 49) & 7 == 5
    d2 = SmemDescriptor.decode(d.encode() | (0b11 << 14) | (0b111 << 46) | (0x3FF << 52))  # reserved bits ignored
    assert d2 == d


@pytest.mark.parametrize("bad", [dict(start=8), dict(lbo=24), dict(sbo=1 << 18), dict(base_offset=8),
                                 dict(swizzle="16B")])
def test_descriptor_refuses_unencodable_fields(bad):
    with pytest.raises(ValueError):
        SmemDescriptor(**{"start": 0, **bad})


def test_descriptor_round_trip_random():
    rng = np.random.default_rng(1)
    for _ in range(200):
        d = SmemDescriptor(int(rng.integers(0, 1 << 14)) * 16, int(rng.integers(0, 1 << 14)) * 16,
                           int(rng.integers(0, 1 << 14)) * 16, ["none", "32B", "64B", "128B"][rng.integers(4)],
                           int(rng.integers(0, 8)))
        assert SmemDescriptor.decode(d.encode()) == d


CASES = [(e, major, mode) for e in (2, 4, 1) for major in (True, False) for mode in ("none", "32B", "64B", "128B")
         if major or e == 2]


def place(tile: np.ndarray, offs: np.ndarray, base: int, mode: str, size: int = 1 << 16) -> np.ndarray:
    """Shared memory with ``tile``'s elements at swizzle(base + offs) (TMA's absolute swizzle)."""
    e = tile.dtype.itemsize
    smem = np.zeros(size, np.uint8)
    addr = swizzle(base + offs, mode)
    smem[addr.ravel()[:, None] + np.arange(e)] = tile.reshape(-1, 1).view(np.uint8).reshape(-1, e)
    return smem


def read(smem: np.ndarray, addr: np.ndarray, dt) -> np.ndarray:
    e = np.dtype(dt).itemsize
    return smem[addr.ravel()[:, None] + np.arange(e)].copy().view(dt).reshape(addr.shape)


@pytest.mark.parametrize("e,k_major,mode", CASES)
def test_canonical_tile_read_back_by_the_descriptor(e, k_major, mode):
    """A dense canonical tile of 128 rows × 64 K: every 32-byte K slice read through the descriptor the
    helpers give (start advanced per slice) returns exactly that slice of the matrix."""
    dt = {1: np.uint8, 2: np.uint16, 4: np.uint32}[e]
    rows, K = 128, 64 if e < 4 else 32
    rng = np.random.default_rng(e * 10 + k_major)
    mat = rng.integers(0, 1 << (8 * e), size=(rows, K), dtype=np.uint64).astype(dt)
    base = 4096
    offs = tile_offsets(rows, K, e, k_major, mode)
    smem = place(mat, offs, base, mode)
    lbo, sbo = canonical(rows, K, e, k_major, mode)
    kel = 32 // e
    W = SWIZZLE_WIDTH[mode]
    for ks in range(K // kel):
        if k_major:
            kb = ks * 32
            start = base + (kb * rows if mode == "none" else (kb // W) * rows * W + kb % W)
            if mode == "none":
                start = base + (kb // 16) * lbo
        else:
            start = base + (ks * kel // 8) * (lbo if mode == "none" else sbo)
        d = SmemDescriptor(start, lbo, sbo, mode, expected_base_offset(start & ~127, mode) if mode != "none" else 0)
        got = read(smem, operand_addresses(d, rows, e, k_major), dt)
        np.testing.assert_array_equal(got, mat[:, ks * kel:(ks + 1) * kel])


def test_k_step_rule_for_128B_k_major():
    """K-major 128B swizzle: the k-th k16 slice of bf16 is start + 32·k (pyptx's debugging guide)."""
    rows, K = 64, 64
    mat = np.arange(rows * K, dtype=np.uint16).reshape(rows, K)
    smem = place(mat, tile_offsets(rows, K, 2, True, "128B"), 0, "128B")
    for k in range(4):
        d = SmemDescriptor(32 * k, 16, 1024, "128B")
        np.testing.assert_array_equal(read(smem, operand_addresses(d, rows, 2, True), np.uint16),
                                      mat[:, 16 * k:16 * (k + 1)])
    wrong = SmemDescriptor(64 * 1, 16, 1024, "128B")  # a k-step of one full 64-byte chunk pair too far
    assert not np.array_equal(read(smem, operand_addresses(wrong, rows, 2, True), np.uint16), mat[:, 16:32])


@pytest.mark.parametrize("mode", ["32B", "64B", "128B"])
@pytest.mark.parametrize("k_major", [True, False])
def test_tma_box_layout_is_the_wgmma_canonical_layout(mode, k_major):
    """A TMA box of W bytes per row (rows = M/N for K-major, K for MN-major) lands exactly where the
    canonical descriptor reads: TMA and wgmma agree on the swizzle."""
    W = SWIZZLE_WIDTH[mode]
    inner = W // 2  # bf16 elements per line
    outer = 64
    g = np.arange(outer * inner, dtype=np.uint16).reshape(outer, inner)
    tm = TensorMap(g, "bfloat16", (inner, outer), (inner * 2,), (inner, outer), swizzle=mode)
    d = TmaDesc.of(tm, 0)
    base = 8192
    saddr, goff, inb = box_map(d, (0, 0), base)
    smem = np.zeros(1 << 15, np.uint8)
    smem[saddr[:, None] + np.arange(2)] = g.reshape(-1, 1).view(np.uint8).reshape(-1, 2)[goff // 2]
    if k_major:  # rows of the matrix are the box's outer dimension, K its inner one
        lbo, sbo = canonical(outer, inner, 2, True, mode)
        for ks in range(inner // 16):
            desc = SmemDescriptor(base + 32 * ks, lbo, sbo, mode)
            np.testing.assert_array_equal(read(smem, operand_addresses(desc, outer, 2, True), np.uint16),
                                          g[:, 16 * ks:16 * (ks + 1)])
    else:  # MN along the box's inner dimension, K its outer one: the matrix is gᵀ (MN × K)
        lbo, sbo = canonical(inner, outer, 2, False, mode)
        for ks in range(outer // 16):
            desc = SmemDescriptor(base + 2 * ks * sbo, lbo, sbo, mode)
            np.testing.assert_array_equal(read(smem, operand_addresses(desc, inner, 2, False), np.uint16),
                                          g.T[:, 16 * ks:16 * (ks + 1)])


def test_base_offset_reads_an_unaligned_pattern():
    """A 128B pattern starting 3 lines past a 1024-byte boundary: base offset 3 reads it, 0 does not."""
    rows, K = 64, 64
    mat = np.arange(rows * K, dtype=np.uint16).reshape(rows, K)
    base = 2048 + 3 * 128
    smem = place(mat, tile_offsets(rows, K, 2, True, "128B"), base, "128B")
    assert expected_base_offset(base, "128B") == 3
    good = SmemDescriptor(base, 16, 1024, "128B", base_offset=3)
    np.testing.assert_array_equal(read(smem, operand_addresses(good, rows, 2, True), np.uint16), mat[:, :16])
    bad = SmemDescriptor(base, 16, 1024, "128B", base_offset=0)
    assert not np.array_equal(read(smem, operand_addresses(bad, rows, 2, True), np.uint16), mat[:, :16])


def test_wrong_sbo_reads_the_wrong_rows():
    rows, K = 64, 16
    mat = np.arange(rows * K, dtype=np.uint16).reshape(rows, K)
    smem = place(mat, tile_offsets(rows, K, 2, True, "none"), 0, "none")
    lbo, sbo = canonical(rows, K, 2, True, "none")
    good = read(smem, operand_addresses(SmemDescriptor(0, lbo, sbo), rows, 2, True), np.uint16)
    np.testing.assert_array_equal(good, mat)
    bad = read(smem, operand_addresses(SmemDescriptor(0, lbo, sbo + 16), rows, 2, True), np.uint16)
    assert np.array_equal(bad[:8], mat[:8]) and not np.array_equal(bad[8:], mat[8:])
