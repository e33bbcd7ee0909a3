"""The emulator corpus (tests/emulator/corpus/*.cu, our own CUDA C compiled by nvcc for sm_80 and
sm_90 with tools/build_corpus.py) against numpy: fresh random inputs, ragged sizes, poisoned outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sass_lab.emulator import EmulatorCheckError, emulate

CORPUS = Path(__file__).parent / "corpus"
ARCHS = ("sm_80", "sm_90")


def ptx(name: str, arch: str) -> str:
    return (CORPUS / f"{name}.{arch}.ptx").read_text()


@pytest.fixture(params=ARCHS)
def arch(request):
    return request.param


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------ checks.cu


def test_constant_symbols_set_from_the_host(arch):
    n = 1000
    x = rng(1).standard_normal(n).astype(np.float32)
    y = np.full(n, np.nan, np.float32)
    c = np.array([0.5, -1.0, 0.25, 2.0], np.float32)
    emulate(ptx("checks", arch), "poly", 3, 128, [x, y, np.int32(n)], symbols={"coeffs": c})
    v = x.astype(np.float64)
    want = ((c[3] * v + c[2]) * v + c[1]) * v + c[0] + np.array([1, 2, 3])[np.arange(n) % 3]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_symbols_are_checked(arch):
    args = [np.zeros(4, np.float32), np.zeros(4, np.float32), np.int32(4)]
    with pytest.raises(Exception, match="no __constant__ or __device__ variable 'nope'"):
        emulate(ptx("checks", arch), "poly", 1, 32, args, symbols={"nope": np.zeros(1)})
    with pytest.raises(Exception, match="16 bytes; 32 bytes given"):
        emulate(ptx("checks", arch), "poly", 1, 32, args, symbols={"coeffs": np.zeros(4)})


def test_device_symbol_read_back_and_warp_aggregated_atomic(arch):
    n = 3001
    x = rng(2).standard_normal(n).astype(np.float32)
    hits = np.array([5], np.uint32)
    emulate(ptx("checks", arch), "count_positive", 4, 256, [x, np.int32(n)], symbols={"hits": hits})
    assert hits[0] == 5 + np.count_nonzero(x > 0)


def test_assert_reports_message_file_line_and_lanes(arch):
    n = 300
    x = rng(3).random(n).astype(np.float32)
    x[[7, 150, 299]] = -1.0
    y = np.full(n, np.nan, np.float32)
    with pytest.raises(EmulatorCheckError) as e:
        emulate(ptx("checks", arch), "checked_sqrt", 3, 128, [x, y, np.int32(n)])
    (f,) = e.value.findings
    assert f.kind == "assert" and f.count == 3 and f.block == (0, 0, 0) and f.thread == (7, 0, 0)
    assert "checks.cu:20:" in f.message and "Assertion `x[i] >= 0.0f` failed." in f.message
    assert "checked_sqrt" in f.message and "block: [0,0,0], thread: [7,0,0]" in f.message
    ok = np.ones(n, bool)
    ok[[7, 150, 299]] = False
    np.testing.assert_array_equal(y[ok], np.sqrt(x[ok]))  # the other threads ran on
    assert np.isnan(y[~ok]).all()  # a failing thread stops at its assert


def test_printf_output_formatted_from_the_format_string(arch):
    v = np.array([7, 3, 14, -21, 5], np.int32)
    rep = emulate(ptx("checks", arch), "hello", 1, 32, [v, np.int32(len(v))])
    lines = rep.output.splitlines()
    want = []
    for i, x in enumerate(v.tolist()):
        if x % 7 == 0:
            want.append(f"block 0 thread {i}: v={x} hex={x & 0xFFFFFFFF:x} f={x * 0.5:.3f} s=ok c={chr(97 + i % 26)} "
                        f"{x:5d}|{i:<4d}|{x * 1000000000} {x * 1e10:e}")
    assert lines == want
