"""The residual blocks in float64: layers against direct loops, storage rounding, the error scale."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.studies import blocks as B


def test_grouped3x3_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    n, h, w, c = 2, 4, 5, 16
    x = rng.standard_normal((n, h, w, c))
    wt = rng.standard_normal((c, 8, 3, 3))
    got = B.grouped3x3(x, wt)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros_like(got)
    for o in range(c):
        g = o // 8
        for i in range(8):
            for r in range(3):
                for s in range(3):
                    want[..., o] += wt[o, i, r, s] * xp[:, r:r + h, s:s + w, 8 * g + i]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_kernel_filter_layout_round_trips():
    wt = np.arange(16 * 8 * 9, dtype=np.float32).reshape(16, 8, 3, 3)
    k = B.kernel_filter(wt)
    assert k.shape == (16, 3, 3, 8) and k[5, 2, 1, 3] == wt[5, 3, 2, 1]
    a = {"wg": B.store(k, "f16"), "bng": np.ones((16, 2), np.float32), "we": B.store(np.ones((4, 2)), "f16"),
         "bne": np.ones((4, 2), np.float32), "wp": B.store(np.ones((2, 4)), "f16"), "bnp": np.ones((2, 2), np.float32)}
    np.testing.assert_array_equal(B.block_params(a, "f16")["wg"], wt.astype(np.float16).astype(np.float64))


def test_bf16_storage_rounds_to_nearest_even():
    v = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -9, -2.5, 1 + 2 ** -7 + 2 ** -8, np.inf], np.float32)
    got = B.load(B.store(v, "bf16"), "bf16")
    np.testing.assert_array_equal(got, [1.0, 1.0, 1 + 2 ** -7, -2.5, 1 + 2 ** -6, np.inf])
    assert np.isnan(B.load(B.poisoned((2,), "bf16"), "bf16")).all()
    assert B.poisoned((2,), "f16").dtype == np.float16
    with pytest.raises(ValueError):
        B.store(v, "f8")


@pytest.mark.parametrize("kind", B.KINDS)
def test_rounding_model_stays_within_the_error_scale(kind):
    """The float64 block rounded at the kernels' storage points (the unfused layers' model) is off
    the exact block by less than 1.01·u·scale, and by a sizeable part of it (the bound is tight)."""
    rng = np.random.default_rng(3)
    for dt in ("f16", "bf16"):
        p = {k: v.astype(np.float64) for k, v in B.make_params(kind, 24, 4, rng).items()}
        x = B.load(B.store(rng.standard_normal((2, 5, 6, 24)), dt), dt)
        exact = B.forward(kind, x, p)
        model = B.forward(kind, x, p, round_to=dt)
        ratio = np.max(np.abs(model - exact) / B.error_scale(kind, x, p, dt))
        assert 0.1 * B.tolerance(dt) < ratio < B.tolerance(dt), (dt, ratio)


@pytest.mark.parametrize("kind", B.KINDS)
def test_error_scale_is_first_order_sensitivity(kind):
    """Perturbing one stored intermediate by u relative moves y by at most u·scale: check against a
    finite-difference Jacobian on a tiny block (C = 8)."""
    rng = np.random.default_rng(5)
    p = {k: v.astype(np.float64) for k, v in B.make_params(kind, 8, 4, rng).items()}
    x = rng.standard_normal((1, 3, 3, 8))
    s = B.error_scale(kind, x, p, "f16")
    u = B.UNIT["f16"]
    # worst case sign pattern of the h = SiLU(...) rounding, for output (0, 1, 1, 0): δh = ±u|h|
    if kind == "convfirst":
        g = B.bn(B.grouped3x3(x, p["wg"]), p["bng"])
        h = B.silu(B.bn(B.pointwise(g, p["we"]), p["bne"]))
    else:
        e = B.silu(B.bn(B.pointwise(x, p["we"]), p["bne"]))
        h = B.silu(B.bn(B.grouped3x3(e, p["wg"]), p["bng"]))
    a = p["bnp"][0, 0] * p["wp"][0]
    worst = u * np.sum(np.abs(a) * np.abs(h[0, 1, 1]))
    assert worst <= u * s[0, 1, 1, 0]


def test_layer_scale_reduces_to_one_rounding():
    y = np.array([2.0, -0.5])
    s = B.layer_scale(y, y, np.zeros(2), 10, False, "f16")
    np.testing.assert_array_equal(s, np.abs(y))
    assert B.tolerance("f16") == pytest.approx(1.01 * 2 ** -11)


@pytest.mark.parametrize("kind", B.KINDS)
def test_flops_and_bytes(kind):
    s = dict(N=2, H=3, W=4, C=16)
    cg = 16 if kind == "convfirst" else 64
    assert B.block_flops(kind, s) == 2 * 24 * (72 * cg + 2 * 16 * 64)
    assert B.block_nbytes(kind, s) == 2 * 24 * 16 * 2 + 2 * (72 * cg + 2 * 16 * 64) + 8 * (cg + 64 + 16)


@pytest.mark.parametrize("kind", B.KINDS)
def test_split_jacobian_bound_covers_the_exact_one(kind):
    """The cheap bound used above EXACT_PIXELS (two matrix products, no per-pixel Jacobian) is an
    upper bound of the per-pixel one, and not a loose one."""
    rng = np.random.default_rng(9)
    p = {k: v.astype(np.float64) for k, v in B.make_params(kind, 32, 4, rng).items()}
    x = B.load(B.store(rng.standard_normal((2, 5, 7, 32)), "f16"), "f16")
    exact = B.error_scale(kind, x, p, "f16", exact=True)
    split = B.error_scale(kind, x, p, "f16", exact=False)
    assert np.all(split >= exact * (1 - 1e-12)) and np.median(split / exact) < 4
