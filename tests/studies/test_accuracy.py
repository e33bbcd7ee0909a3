"""The FP32 accuracy model: FMA emulation, float32 transforms, and the paper's ordering of errors."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.studies.accuracy import Setup, direct32, markdown, study, winograd32
from sass_lab.studies.winograd import conv2d_direct, fma32, toom_cook, transform32


def test_fma32_single_rounding():
    a, b = np.float32(1 + 2 ** -13), np.float32(1 - 2 ** -13)
    c = np.float32(-1)
    assert fma32(a, b, c) == np.float32(-(2 ** -26))  # a*b-1 exactly; mul then add would give 0
    assert (a * b) + c == 0


def test_transform32_is_float32_and_close():
    t = toom_cook(4).BT
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    y = transform32(t, x, 0)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, t @ x.astype(np.float64), rtol=0, atol=1e-5)


@pytest.mark.parametrize("m,points", [(2, None), (4, None), (4, "0,±5/8,±3/2")])
def test_float32_algorithms_close_to_reference(m, points):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 7, 6)).astype(np.float32)
    w = rng.standard_normal((3, 5, 3, 3)).astype(np.float32)
    ref = conv2d_direct(x, w, 1, 1)
    for got in (direct32(x, w), winograd32(x, w, toom_cook(m, 3, points))):
        assert got.dtype == np.float32 and got.shape == ref.shape
        assert np.abs(got - ref).max() < 1e-4 * np.abs(ref).max()


@pytest.fixture(scope="module")
def rows():
    return {r.name: r for r in study(Setup(h=16, w=16, k=16))}


def test_study_reproduces_the_papers_ordering(rows):
    d, f2 = rows["direct"], rows["F(2x2,3x3)"]
    f4, f4b = rows["F(4x4,3x3) 0,±1,±2"], rows["F(4x4,3x3) 0,±5/8,±3/2"]
    assert 1e-7 < d.max_rel < 1e-5 and f2.max_rel < 3 * d.max_rel
    assert f4.max_abs > 3 * d.max_abs          # F(4x4) with 0,±1,±2 is clearly the worst ...
    assert f4b.max_abs < f4.max_abs / 2        # ... and better points cut its error by 2× or more
    assert f4.mean_abs > f4b.mean_abs > f2.mean_abs


def test_markdown_lists_every_algorithm(rows):
    text = markdown(list(rows.values()), Setup())
    for name in rows:
        assert name in text
    assert "9.0e-07" in text and "1.1e-05" in text


def test_summary_over_seeds():
    from sass_lab.studies.accuracy import summary

    text = summary(Setup(c=8, h=8, w=8, k=4), 2)
    assert "seeds 0..1" in text and text.count("\n| ") == 5  # header + four algorithms


@pytest.mark.skipif(not __import__("importlib").util.find_spec("sass_lab.emulator.run"),
                    reason="emulator not landed yet")
def test_dsl_kernels_reproduce_the_model():
    """The four DSL kernels on the emulator compute exactly what the numpy FP32 model computes."""
    from sass_lab.studies.accuracy import kernel_markdown, kernel_study

    st = Setup(c=6, h=6, w=7, k=3, seed=1)
    rows = kernel_study(st)
    for r in rows:
        assert r.extra["kernel_vs_model"] <= 1e-6 * r.max_abs / r.max_rel  # i.e. 1e-6 of max |y|
        assert r.max_abs == pytest.approx(r.extra["model_max_abs"], rel=1e-3)
    assert "kernel max abs error" in kernel_markdown(rows, st)
