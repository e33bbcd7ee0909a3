"""Winograd matrices: the Toom-Cook construction against the paper's tables and exact convolution."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from sass_lab.lab.winograd import (
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
