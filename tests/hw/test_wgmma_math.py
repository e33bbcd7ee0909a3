"""wgmma shapes, fragment layouts, fp8 decoding and the multiply, against numpy and the PTX ISA."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.hw.wgmma import (
    E4M3,
    E5M2,
    FLOAT_N,
    a_coords,
    acc_coords,
    decode,
    multiply,
    parse_shape,
    split_words,
)


def test_legal_shapes():
    s = parse_shape(("mma_async", "sync", "aligned", "m64n256k16", "f32", "bf16", "bf16"))
    assert (s.n, s.k, s.dtype, s.acc_regs) == (256, 16, "f32", 128)
    assert parse_shape(("m64n8k8", "f32", "tf32", "tf32")).k == 8
    assert parse_shape(("m64n64k32", "f16", "e4m3", "e5m2")).acc_regs == 16
    assert parse_shape(("m64n48k32", "s32", "s8", "u8")).n == 48
    assert len(FLOAT_N) == 32


@pytest.mark.parametrize("mods,why", [
    (("m64n64k16", "f16", "bf16", "bf16"), "D .f16"),
    (("m64n64k8", "f32", "bf16", "bf16"), "k16"),
    (("m64n12k16", "f32", "f16", "f16"), "N=12"),
    (("m64n40k32", "s32", "s8", "s8"), "N=40"),
    (("m64n64k16", "f32", "f16", "bf16"), "same type"),
    (("m64n64k32", "f32", "e4m3", "s8"), "do not combine"),
    (("m32n64k16", "f32", "f16", "f16"), "m64"),
    (("m64n64k16", "f32", "f16"), "dtype.atype.btype"),
])
def test_illegal_shapes_say_why(mods, why):
    with pytest.raises(ValueError, match=why.replace(".", r"\.")):
        parse_shape(mods)


@pytest.mark.parametrize("n", [8, 24, 128, 256])
def test_accumulator_fragment_covers_d_once(n):
    r, c = acc_coords(n)
    cells = r * n + c
    assert sorted(cells.ravel().tolist()) == list(range(64 * n))
    # thread 0 holds D[0][0], D[0][1], D[8][0], D[8][1], D[0][8] ...; thread 37 (warp 1, g 1, q 1) starts at D[17][2]
    want = [(0, 0), (0, 1), (8, 0), (8, 1), (0, 8)]
    assert list(zip(r[0, :5], c[0, :5])) == want[:min(5, n // 2)]
    assert (r[37, 0], c[37, 0]) == (17, 2)


@pytest.mark.parametrize("atype,k", [("bf16", 16), ("tf32", 8), ("e4m3", 32)])
def test_a_fragment_covers_a_once_like_mma_sync(atype, k):
    r, c = a_coords(atype)
    assert sorted((r * k + c).ravel().tolist()) == list(range(64 * k))
    lane = 5  # g = 1, q = 1
    if atype == "bf16":  # mma.m16n8k16 A: a0,a1 (g, 2q..), a2,a3 (g+8, ..), a4,a5 (g, 2q+8..)
        assert list(zip(r[lane], c[lane]))[:6] == [(1, 2), (1, 3), (9, 2), (9, 3), (1, 10), (1, 11)]
    elif atype == "tf32":  # m16n8k8 tf32: a0 (g, q), a1 (g+8, q), a2 (g, q+4), a3 (g+8, q+4)
        assert list(zip(r[lane], c[lane])) == [(1, 1), (9, 1), (1, 5), (9, 5)]
    else:  # m16n8k32 8-bit: a0..a3 (g, 4q..4q+3), a4..a7 (g+8, ..), a8.. (g, 16+4q..)
        assert list(zip(r[lane], c[lane]))[:9] == [(1, 4), (1, 5), (1, 6), (1, 7), (9, 4), (9, 5), (9, 6), (9, 7),
                                                  (1, 20)]
    assert r[64 + lane, 0] == 32 + 1  # warp 2 of the warpgroup holds rows 32..47


def test_fp8_tables():
    assert E4M3[0x7E] == 448 and np.isnan(E4M3[0x7F]) and np.isnan(E4M3[0xFF]) and E4M3[0x78] == 256
    assert E4M3[0x01] == 2.0 ** -9 and E4M3[0x08] == 2.0 ** -6 and E4M3[0xB8] == -1.0
    assert E5M2[0x7B] == 57344 and E5M2[0x7C] == np.inf and np.isnan(E5M2[0x7D]) and E5M2[0x01] == 2.0 ** -16
    assert E5M2[0x3C] == 1.0 and E4M3[0x38] == 1.0
    # every finite e4m3 value round-trips through the float table's ordering
    fin = E4M3[:0x7F]
    assert np.all(np.diff(fin) > 0)


def test_decode_and_split():
    w = np.array([[0x3F80_4000]], np.uint32)  # bf16 pair: low 2.0, high 1.0
    np.testing.assert_array_equal(decode(split_words(w, "bf16"), "bf16"), [[2.0, 1.0]])
    assert decode(np.array([0x3F801FFF], np.uint32), "tf32")[0] == 1.0  # low 13 bits ignored
    np.testing.assert_array_equal(split_words(np.array([0x04030201], np.uint32), "e4m3"), [1, 2, 3, 4])
    assert decode(np.array([0xFF]), "s8")[0] == -1


def bits_of(x: np.ndarray, t: str) -> np.ndarray:
    if t == "f16":
        return x.astype(np.float16).view(np.uint16)
    if t == "bf16":
        return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    if t == "tf32":
        return x.astype(np.float32).view(np.uint32)
    table = E4M3 if t == "e4m3" else E5M2
    fin = np.flatnonzero(np.isfinite(table))
    return fin[np.abs(table[fin][None, :] - x.ravel()[:, None]).argmin(1)].reshape(x.shape).astype(np.uint8)


@pytest.mark.parametrize("atype,btype,dtype", [("f16", "f16", "f32"), ("f16", "f16", "f16"), ("bf16", "bf16", "f32"),
                                               ("tf32", "tf32", "f32"), ("e4m3", "e4m3", "f32"),
                                               ("e5m2", "e4m3", "f16"), ("e5m2", "e5m2", "f32")])
def test_multiply_matches_float64_numpy(atype, btype, dtype):
    from sass_lab.hw.wgmma import K_OF
    k = K_OF[atype]
    s = parse_shape((f"m64n32k{k}", dtype, atype, btype))
    rng = np.random.default_rng(3)
    A = decode(bits_of(rng.standard_normal((64, k)), atype), atype)
    B = decode(bits_of(rng.standard_normal((32, k)), btype), btype)
    C = rng.standard_normal((64, 32)).astype(np.float16 if dtype == "f16" else np.float32).astype(np.float64)
    D = multiply(s, A, B, C, scale_a=-1)
    want = -A @ B.T + C
    tol = 1e-3 if dtype == "f16" else 1e-6
    np.testing.assert_allclose(D.astype(np.float64), want, rtol=tol, atol=tol * np.abs(want).max())
    assert D.dtype == (np.float16 if dtype == "f16" else np.float32)
    D0 = multiply(s, A, B, None)  # scale-d false: D = A·B
    np.testing.assert_allclose(D0.astype(np.float64), A @ B.T, rtol=tol, atol=tol * np.abs(A @ B.T).max())


def test_integer_multiply_wraps_or_saturates():
    s = parse_shape(("m64n8k32", "s32", "s8", "s8"))
    A = np.full((64, 32), 127, np.int64)
    B = np.full((8, 32), 127, np.int64)
    C = np.full((64, 8), (1 << 31) - 100, np.int64)
    assert multiply(s, A, B, C)[0, 0] == ((1 << 31) - 100 + 127 * 127 * 32) - (1 << 32)
    sat = parse_shape(("m64n8k32", "satfinite", "s32", "s8", "s8"))
    assert multiply(sat, A, B, C)[0, 0] == (1 << 31) - 1
