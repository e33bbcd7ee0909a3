"""The TensorMap contract (cuTensorMapEncodeTiled's rules) and TMA tile-mode box semantics vs numpy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sass_lab.errors import UsageError
from sass_lab.hw.smem import swizzle
from sass_lab.hw.tensormap import TensorMap, TmaDesc
from sass_lab.hw.tma import box_map, gather


def ok_map(**kw):
    a = kw.pop("array", np.zeros((64, 64), np.uint16))
    args = dict(dtype="bfloat16", global_dim=(64, 64), global_strides=(128,), box_dim=(64, 32))
    args.update(kw)
    return TensorMap(a, **args)


def test_a_valid_map_and_its_derived_sizes():
    tm = ok_map(swizzle="128B")
    assert tm.rank == 2 and tm.elem_bytes == 2 and tm.box_bytes == 64 * 32 * 2 and tm.row_pitch == 128
    assert tm.driver_args()["dtype"] == 9 and tm.driver_args()["swizzle"] == 3
    d = TmaDesc.decode(tm.emulated_bytes(0x7F00_0000_1000))
    assert d == TmaDesc.of(tm, 0x7F00_0000_1000)
    assert TmaDesc.decode(bytes(128)) is None


@pytest.mark.parametrize("kw,rule", [
    (dict(dtype="bf16"), "tensorDataType is one of"),
    (dict(array=np.zeros((64, 64), np.float32)), "element is 2 bytes"),
    (dict(global_strides=(120,)), "multiple of 16 and less than 2^40"),
    (dict(global_strides=(1 << 40,)), "multiple of 16 and less than 2^40"),
    (dict(box_dim=(64, 257)), "less than or equal to 256"),
    (dict(box_dim=(4, 32)), "multiple of 16 bytes"),
    (dict(box_dim=(64, 32), swizzle="64B"), "inner dimension to be <= 64"),
    (dict(element_strides=(1, 9)), "less than or equal to 8"),
    (dict(global_dim=(64, 0)), "non-zero and less than or equal to 2^32"),
    (dict(global_dim=(64, 64, 1, 1, 1, 1), global_strides=(128, 128, 128, 128, 128), box_dim=(8,) * 6),
     "less than or equal to 5"),
    (dict(global_strides=()), "tensorRank - 1"),
    (dict(interleave="16B"), "tensorRank must be >= 3"),
    (dict(dtype="uint16", oob_fill="nan"), "floating-point"),
    (dict(swizzle="16B"), "swizzle '16B'"),
    (dict(global_dim=(64, 65)), "tensor spans"),
])
def test_invalid_maps_name_the_driver_rule(kw, rule):
    with pytest.raises(UsageError) as ei:
        ok_map(**kw)
    assert rule in ei.value.render()


def test_interleave_32B_needs_swizzle_32B_and_strides_of_32():
    a = np.zeros(4096, np.uint16)
    with pytest.raises(UsageError, match="interleave"):
        TensorMap(a, "float16", (16, 8, 8), (32, 256), (16, 8, 8), interleave="32B", swizzle="none")
    with pytest.raises(UsageError) as ei:
        TensorMap(a, "float16", (16, 8, 8), (48, 384), (16, 8, 8), interleave="32B", swizzle="32B")
    assert "multiple of 32" in ei.value.render()


def reference_box(g: np.ndarray, coords, box, es, fill):
    """Box elements in box order (innermost fastest) by plain numpy indexing; g indexed [..., d1, d0]."""
    rank = g.ndim
    counts = [box[0]] + [-(-box[i] // es[i]) for i in range(1, rank)]
    out = []
    for idx in itertools.product(*[range(c) for c in reversed(counts)]):
        idx = idx[::-1]
        x = [coords[0] + idx[0]] + [coords[i] + idx[i] * es[i] for i in range(1, rank)]
        inside = all(0 <= x[i] < g.shape[rank - 1 - i] for i in range(rank))
        out.append(g[tuple(reversed(x))] if inside else fill)
    return np.array(out, g.dtype)


@pytest.mark.parametrize("rank", [1, 2, 3, 5])
@pytest.mark.parametrize("mode", ["none", "32B", "128B"])
def test_tma_box_matches_numpy_with_oob_and_strides(rank, mode):
    rng = np.random.default_rng(rank)
    shape = tuple([5, 3, 4, 6][:rank - 1][::-1] + [24])  # numpy order: outermost first, 24 floats innermost
    g = rng.standard_normal(shape).astype(np.float32)
    dims = tuple(reversed(shape))
    strides = tuple(g.strides[::-1][1:])
    box0 = 16 if mode == "128B" else 8  # 64 or 32 bytes, within the swizzle width
    box = (box0,) + tuple(int(rng.integers(1, 5)) for _ in range(rank - 1))
    es = (1,) + tuple(int(rng.integers(1, 3)) for _ in range(rank - 1))
    tm = TensorMap(g, "float32", dims, strides, box, es, swizzle=mode, oob_fill="nan")
    d = TmaDesc.of(tm, 0)
    base = 2048
    for coords in [(0,) * rank, (20,) + (-1,) * (rank - 1), (-3,) + (2,) * (rank - 1)]:
        saddr, goff, inb = box_map(d, coords, base)
        vals = gather(d, g.view(np.uint8).reshape(-1), 0, goff, inb).view(np.float32).ravel()
        want = reference_box(g, coords, box, es, np.float32(np.nan))
        np.testing.assert_array_equal(vals, want)  # NaN == NaN for assert_array_equal
        # shared placement: dense rows of row_pitch bytes, swizzled by absolute address
        n = len(want)
        lin = np.arange(n)
        row, col = lin // box[0], lin % box[0]
        assert (saddr == swizzle(base + row * tm.row_pitch + col * 4, mode)).all()
        assert len(set(saddr.tolist())) == n


def test_oob_fill_zero_and_nan_bits():
    g = np.ones((4, 16), np.uint16) * 0x3F80
    for fill, bits in (("zero", 0), ("nan", 0x7FFF)):
        tm = TensorMap(g, "bfloat16", (16, 4), (32,), (8, 2), oob_fill=fill)
        d = TmaDesc.of(tm, 0)
        _, goff, inb = box_map(d, (12, 3), 0)
        vals = gather(d, g.view(np.uint8).reshape(-1), 0, goff, inb).view(np.uint16).ravel()
        assert vals.tolist() == [0x3F80] * 4 + [bits] * 4 + [bits] * 8
