"""The %% lab protocol: loading, errors at the right line, sizes, tolerances, tuning spaces."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.errors import SourceError, UsageError
from sass_lab.lab.spec import default_defines, lab_source, load_spec, parse_size

MINE = ["kernels_asm/saxpy.sasm", "kernels_asm/reduce.sasm", "kernels_asm/sgemm_tiled.sasm",
        "kernels_asm/sgemm.sasm"]

BLOCK = """\
.define N0 = 4
.kernel k(.u64 y)
    ret
%% lab
KERNEL = "k"
SIZE = dict(n=N0)
OUTPUTS = ["y"]
def grid(s, d): return s["n"]
def block(s, d): return (d["N0"], 2)
def TOL(s, d): return s["n"] * 1e-7
%%
"""


def write(tmp_path, text, name="k.sasm"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_block_is_found_with_its_first_line():
    body, line = lab_source(BLOCK)
    assert line == 5 and body.startswith("KERNEL")


def test_defaults_overrides_and_callables(tmp_path):
    spec = load_spec(write(tmp_path, BLOCK), {"N0": 8})
    assert spec.defines == {"N0": 8} and spec.kernel == "k"
    assert spec.size == {"n": 8}  # the block sees the resolved defines
    assert spec.grid({"n": 3}) == (3, 1, 1) and spec.block({}) == (8, 2, 1)
    assert spec.tolerance({"n": 10}) == pytest.approx(1e-6)
    assert np.isnan(spec.tol)  # a callable TOL has no size-free value
    assert spec.with_size({"n": 5}) == {"n": 5}
    with pytest.raises(SourceError, match="unknown size name 'm'"):
        spec.with_size({"m": 1})


@pytest.mark.parametrize("bad, line", [
    ("def grid(s, d): return s[\"n\"]\nx = 1 / 0\n", 6),
    ("y = undefined_name\n", 5),
    ("def f(:\n", 5),
])
def test_errors_point_at_the_sasm_line(tmp_path, bad, line):
    text = ".kernel k(.u64 y)\n    ret\n\n%% lab\n" + bad + "%%\n"
    with pytest.raises(SourceError) as ei:
        load_spec(write(tmp_path, text))
    assert ei.value.span.line == line
    assert "lab block" in ei.value.message


def test_missing_block_and_missing_function(tmp_path):
    with pytest.raises(SourceError, match="no '%% lab' block"):
        load_spec(write(tmp_path, ".kernel k()\n    ret\n"))
    spec = load_spec(write(tmp_path, BLOCK))
    with pytest.raises(SourceError, match="defines no 'inputs'"):
        spec.inputs({}, np.random.default_rng(0))


def test_kernel_name_default(tmp_path):
    spec = load_spec(write(tmp_path, BLOCK.replace('KERNEL = "k"\n', "")))
    assert spec.kernel_name(["only"]) == "only"
    with pytest.raises(SourceError, match="names none"):
        spec.kernel_name(["a", "b"])


def test_parse_size():
    assert parse_size("M=67, N=45,K=0x21") == {"M": 67, "N": 45, "K": 33}
    assert parse_size(None) == {}
    for bad in ("M", "M=x"):
        with pytest.raises(UsageError):
            parse_size(bad)


@pytest.mark.parametrize("path", MINE)
def test_shipped_blocks_are_complete(path):
    spec = load_spec(path)
    assert spec.outputs and spec.test_sizes and spec.size and spec.tol_why
    rng = np.random.default_rng(1)
    for s0 in spec.test_sizes:
        s = spec.with_size(s0)
        args = spec.inputs(s, rng)
        ref = spec.reference(args, s)
        assert set(ref) == set(spec.outputs)
        assert all(np.isfinite(r).all() for r in ref.values())
        assert 0 < spec.tolerance(s) < 1e-2
        assert spec.flops(s) > 0 and spec.nbytes(s) > 0
        assert all(g >= 1 for g in spec.grid(s)) and 1 <= np.prod(spec.block(s)) <= 1024
        sc = spec.scale(args, s)
        assert sc is None or all(np.all(np.asarray(v) >= 0) for v in sc.values())


def test_sgemm_block_matches_the_brief():
    spec = load_spec("kernels_asm/sgemm.sasm")
    assert spec.size == {"M": 4096, "N": 4096, "K": 4096, "beta": 1}
    assert dict(M=67, N=45, K=33, beta=1) in spec.test_sizes
    assert spec.peer_name == "cublas" and spec.peer() is not None
    assert len(spec.combinations()) == 64
    assert {(c["BM"], c["BN"]) for c in spec.combinations()} == {(64, 64), (64, 128), (128, 64), (128, 128)}
    assert spec.kernel == "sgemm_nn_128x128"
    assert load_spec("kernels_asm/sgemm.sasm", {"TRANS_A": 1, "BM": 64}).kernel == "sgemm_tn_64x128"
    s = spec.with_size({})
    assert spec.flops(s) == 2 * 4096 ** 3
    assert spec.nbytes(s) == 4 * (2 * 4096 ** 2 + 2 * 4096 ** 2)
    assert spec.nbytes(dict(s, beta=0)) == 4 * 3 * 4096 ** 2
    assert spec.block(s) == (256, 1, 1) and load_spec("kernels_asm/sgemm.sasm", {"BM": 64, "BN": 64}).block(s)[0] == 64


@pytest.mark.parametrize("ta, tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_sgemm_reference_honours_transposes(ta, tb):
    spec = load_spec("kernels_asm/sgemm.sasm", {"TRANS_A": ta, "TRANS_B": tb})
    s = spec.with_size(dict(M=5, N=3, K=4, beta=1))
    a = spec.inputs(s, np.random.default_rng(0))
    A = a["A"].T if ta else a["A"]
    B = a["B"].T if tb else a["B"]
    assert A.shape == (5, 4) and B.shape == (4, 3)
    want = 1.25 * (A.astype(np.float64) @ B) - 0.75 * a["C"].astype(np.float64)
    np.testing.assert_allclose(spec.reference(a, s)["C"], want, rtol=1e-12)


def test_poisoned_and_zeroed_outputs():
    spec = load_spec("kernels_asm/sgemm.sasm")
    a = spec.inputs(spec.with_size(dict(M=3, N=2, K=2, beta=0)), np.random.default_rng(0))
    assert np.isnan(a["C"]).all() and a["beta"] == 0
    assert np.isfinite(spec.reference(a, spec.with_size(dict(M=3, N=2, K=2, beta=0)))["C"]).all()
    t = load_spec("kernels_asm/sgemm_tiled.sasm")
    assert np.isnan(t.inputs(t.with_size(dict(M=2, N=2, K=2)), np.random.default_rng(0))["C"]).all()


def test_default_defines():
    # '//' starts a comment on a .define line (as in the expander), so halve with '>> 1'
    assert default_defines(".define BM = 128, BN = BM >> 1  // c\n.define T = 'x'\n") == {
        "BM": 128, "BN": 64, "T": "x"}


@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 1)])
def test_sgemm_peer_computes_the_same_gemm(ta, tb):
    """The peer's CuPy branch, with numpy standing in for cupy (same array API)."""
    import types

    spec = load_spec("kernels_asm/sgemm.sasm", {"TRANS_A": ta, "TRANS_B": tb})
    s = spec.with_size(dict(M=6, N=5, K=7, beta=1))
    a = spec.inputs(s, np.random.default_rng(2))
    want = spec.reference(a, s)["C"]
    spec.peer()(a, s, types.SimpleNamespace(__name__="cupy", matmul=np.matmul))
    np.testing.assert_allclose(a["C"], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["convfirst_block", "winograd_4x4_3x3", "sgemm"])
def test_cover_shows_every_tuning_value_in_valid_combinations(name):
    from pathlib import Path

    spec = load_spec(str(Path(__file__).resolve().parents[2] / "kernels_asm" / f"{name}.sasm"))
    combos, cover = spec.combinations(), spec.cover()
    assert cover and all(c in combos for c in cover) and len(cover) < len(combos)
    for k in spec.tune:
        shown = {repr(c[k]) for c in cover} | {repr(spec.defines[k])}
        assert shown >= {repr(c[k]) for c in combos}, k
