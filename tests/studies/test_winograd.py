"""Winograd matrices: the Toom-Cook construction against the paper's tables and exact convolution."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from sass_lab.studies.winograd import (
    LAVIN,
    conv2d_direct,
    conv_flops,
    filter_from_transform,
    filter_transform,
    parse_points,
    row_products,
    toom_cook,
    winograd_conv2d,
)


@pytest.mark.parametrize("m", [2, 4])
def test_generated_matrices_match_paper_up_to_row_scaling(m):
    wg = toom_cook(m, 3, "0,1,-1" if m == 2 else "0,1,-1,2,-2")
    ref = {k: np.array(v, dtype=np.float64) for k, v in LAVIN[(m, 3)].items()}
    assert wg.AT.shape == ref["AT"].shape and wg.BT.shape == ref["BT"].shape
    np.testing.assert_allclose(row_products(wg.AT, wg.G, wg.BT),
                               row_products(ref["AT"], ref["G"], ref["BT"]), atol=1e-15)


def test_f43_matrices_equal_paper_exactly():
    wg = toom_cook(4, 3, "0,1,-1,2,-2")
    np.testing.assert_array_equal(wg.BT, np.array(LAVIN[(4, 3)]["BT"], dtype=np.float64))
    np.testing.assert_array_equal(wg.AT, np.array(LAVIN[(4, 3)]["AT"], dtype=np.float64))
    np.testing.assert_allclose(wg.G, np.array(LAVIN[(4, 3)]["G"]), rtol=1e-15)


def test_parse_points():
    assert parse_points("0,±5/8,±3/2") == (0, Fraction(5, 8), Fraction(-5, 8), Fraction(3, 2),
                                          Fraction(-3, 2))
    assert parse_points([0, 1, -1, 0.5]) == (0, 1, -1, Fraction(1, 2))


@pytest.mark.parametrize("m,points", [(2, "0,1,-1"), (4, "0,1,-1,2,-2"), (4, "0,±5/8,±3/2"),
                                      (4, "0,±1/2,±3"), (6, None), (3, "0,1,-1,2")])
def test_1d_correlation_exact(m, points):
    wg = toom_cook(m, 3, points)
    rng = np.random.default_rng(m)
    g, d = rng.standard_normal(3), rng.standard_normal(wg.alpha)
    y = wg.AT @ ((wg.G @ g) * (wg.BT @ d))
    want = np.array([d[i:i + 3] @ g for i in range(m)])
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m,points", [(2, None), (4, None), (4, "0,±5/8,±3/2")])
@pytest.mark.parametrize("shape", [(1, 3, 7, 5, 5), (2, 8, 6, 6, 4), (1, 2, 1, 9, 3)])
def test_2d_winograd_equals_direct(m, points, shape):
    n, c, h, w, k = shape
    rng = np.random.default_rng(1)
    x, f = rng.standard_normal((n, c, h, w)), rng.standard_normal((k, c, 3, 3))
    y = winograd_conv2d(x, f, m, points)
    np.testing.assert_allclose(y, conv2d_direct(x, f, 1, 1), rtol=1e-11, atol=1e-11)


def test_bad_points_rejected():
    with pytest.raises(ValueError):
        toom_cook(4, 3, "0,1,-1")
    with pytest.raises(ValueError):
        toom_cook(2, 3, "0,1,1")


def test_filter_roundtrip_and_flops():
    wg = toom_cook(4)
    f = np.random.default_rng(2).standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(filter_from_transform(filter_transform(f, wg), wg), f, atol=1e-12)
    assert conv_flops(1, 64, 224, 224, 64) == 2 * 64 * 224 * 224 * 64 * 9


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 2)])
def test_direct_reference_against_loops(stride, pad):
    rng = np.random.default_rng(3)
    x, f = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((3, 2, 3, 2))
    y = conv2d_direct(x, f, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    for k in range(3):
        for p in range(y.shape[2]):
            for q in range(y.shape[3]):
                win = xp[0, :, p * stride:p * stride + 3, q * stride:q * stride + 2]
                assert y[0, k, p, q] == pytest.approx(float((win * f[k]).sum()), abs=1e-12)


def test_lab_helpers_shapes_and_poison():
    from sass_lab.studies.winograd import conv_nbytes, vgg_sizes, wino_inputs, wino_reference

    s = dict(N=2, C=3, H=5, W=7, K=4)
    a = wino_inputs(s, 4, "0 ±5/8 ±3/2", np.random.default_rng(0))
    assert a["u"].shape == (36, 3, 4) and a["u"].dtype == np.float32 and np.isnan(a["y"]).all()
    assert (int(a["tilesh"]), int(a["tilesw"])) == (2, 2)
    assert wino_reference(a, s, 4, "0 ±5/8 ±3/2")["y"].shape == (2, 4, 5, 7)
    assert conv_nbytes(s) == 4 * (2 * 3 * 5 * 7 + 4 * 3 * 9 + 2 * 4 * 5 * 7)
    sizes = vgg_sizes((1, 64))
    assert len(sizes) == 18 and dict(N=64, C=512, H=14, W=14, K=512) in sizes


def test_torch_peer_calls_conv2d_with_the_layer():
    from sass_lab.studies.winograd import torch_conv_peer

    calls = []

    class X:
        def view(self, *shape):
            calls.append(("view", shape))
            return "x"

    class Lib:
        float32 = "f32"

        @staticmethod
        def randn(shape, device, dtype):
            calls.append(("randn", shape, device, dtype))
            return "w"

        class nn:  # noqa: N801 - mirrors torch.nn.functional
            class functional:  # noqa: N801
                @staticmethod
                def conv2d(x, w, stride, padding):
                    calls.append(("conv2d", x, w, stride, padding))

    s = dict(N=2, C=3, H=9, W=8, K=5)
    torch_conv_peer({"x": X()}, s, Lib, stride=2, pad=0, r=1, sw=1, _cache={})
    assert ("view", (2, 3, 9, 8)) in calls and ("randn", (5, 3, 1, 1), "cuda", "f32") in calls
    assert calls[-1] == ("conv2d", "x", "w", 2, 0)


def test_direct_reference_is_blas_not_einsum(monkeypatch):
    """The float64 reference of the three conv kernels: one BLAS product per tap (multi-threaded), the
    same numbers as the single-threaded einsum it replaced."""
    from sass_lab.studies import winograd as wmod

    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((2, 6, 9, 8)), rng.standard_normal((5, 6, 3, 3))
    want = np.zeros((2, 5, 9, 8))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(3):
        for j in range(3):
            want += np.einsum("ncpq,kc->nkpq", xp[:, :, i:i + 9, j:j + 8], w[:, :, i, j])

    def refuse(*a, **k):
        raise AssertionError("np.einsum in the reference (single-threaded)")

    monkeypatch.setattr(wmod.np, "einsum", refuse)
    got = wmod.conv2d_direct(x, w, 1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    assert got.flags.c_contiguous
