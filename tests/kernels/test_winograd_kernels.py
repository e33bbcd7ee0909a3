"""Winograd kernels on the emulator: filter transform, main kernel (verify), the two chained, FP32 model."""

from __future__ import annotations

import numpy as np
import pytest
from test_conv_helpers import KERNELS, covering, module, needs_pipeline, pick, red

from sass_lab.lab.spec import load_spec
from sass_lab.studies.accuracy import winograd32
from sass_lab.studies.winograd import conv2d_direct, filter_transform, filter_transform32, tiles, toom_cook

FILES = {2: "winograd_2x2_3x3.sasm", 4: "winograd_4x4_3x3.sasm"}
SPECS = {m: load_spec(KERNELS / f) for m, f in FILES.items()}
ALT = "0 ±5/8 ±3/2"
COMBOS = {  # the default ("blocked" products), the "pairs" variant, ragged thread/tile slot counts
    2: [dict(), dict(GEMM="pairs", BKF=32, BT=32, TK=2, TT=2, CB=8), dict(BKF=16, BT=64, TK=4, TT=8, CB=2)],
    4: [dict(), dict(POINTS=ALT), dict(GEMM="pairs", BKF=32, BT=16, TK=2, TT=1, CB=2)],
}
CASES = [(m, d) for m in (2, 4) for d in COMBOS[m]]


def _ids(c):
    m, d = c
    return f"F{m}-" + ("-".join(f"{k}{v}" for k, v in d.items()) or "default")


@pytest.mark.parametrize("m", [2, 4])
def test_lab_blocks(m):
    spec = SPECS[m]
    assert spec.kernel == f"winograd_{m}x{m}_3x3" and spec.peer_name == "cudnn" and spec.outputs == ["y"]
    assert len(pick(spec, COMBOS[m])) == len(COMBOS[m]), "every tested combination must be valid"
    s = dict(N=1, C=3, H=7, W=5, K=5)
    a = spec.inputs(s, np.random.default_rng(0))
    assert a["u"].shape == ((m + 2) ** 2, 3, 5) and np.isnan(a["y"]).all()
    assert (int(a["tilesh"]), int(a["tilesw"])) == tiles(7, 5, m)
    ref = spec.reference(a, s)["y"]  # the filter recovered from u gives the same convolution
    np.testing.assert_allclose(ref, winograd32(a["x"], None, toom_cook(m), u=_kcaa(a["u"], m)),
                               atol=1e-5 * np.abs(ref).max())
    assert spec.flops(dict(N=1, C=64, H=224, W=224, K=64)) == 2 * 64 * 224 * 224 * 64 * 9
    assert {sz["N"] for sz in spec.bench_sizes} == {1, 8, 32, 64}


def _kcaa(u, m):
    a = m + 2
    return u.reshape(a, a, u.shape[1], u.shape[2]).transpose(3, 2, 0, 1)


def _emulate(mod, name, grid, block, *args):
    mod[name].emulate(grid, block, *args)


@needs_pipeline
@pytest.mark.parametrize("m,points", [(2, None), (4, None), (4, ALT)])
@pytest.mark.parametrize("k,c", [(5, 3), (33, 7)])
def test_filter_kernel(m, points, k, c):
    d = {} if points is None else dict(POINTS=points)
    spec, mod = load_spec(KERNELS / FILES[m], d), module(FILES[m], d)
    wg = toom_cook(m, 3, spec.defines["POINTS"])
    g = np.random.default_rng(k).standard_normal((k, c, 3, 3)).astype(np.float32)
    a2 = wg.alpha ** 2
    u = np.full((a2, c, k), np.nan, np.float32)
    s = dict(K=k, C=c)
    mod[f"winograd_{m}x{m}_3x3_filter"].emulate(spec.ns["filter_grid"](s, spec.defines),
                                               spec.ns["filter_block"](s, spec.defines),
                                               g, u, np.uint32(k), np.uint32(c))
    want32 = filter_transform32(g, wg).transpose(2, 3, 1, 0).reshape(a2, c, k)
    np.testing.assert_array_equal(u, want32)  # same float32 operation order as the numpy model
    want64 = filter_transform(g, wg).reshape(a2, k, c).transpose(0, 2, 1)
    np.testing.assert_allclose(u, want64, rtol=0, atol=4e-7 * np.abs(want64).max())


@needs_pipeline
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_verify_on_emulator(case):
    from sass_lab.lab.verify import verify

    m, d = case
    for size in SPECS[m].test_sizes:
        res = verify(KERNELS / FILES[m], size, emulate=True, defines=d, seed=2, module=module(FILES[m], d))
        assert res.ok, res.to_dict()


@needs_pipeline
@pytest.mark.parametrize("m,points", [(2, None), (4, None), (4, ALT)])
def test_filter_then_main_kernel(m, points):
    """The two kernels chained as a user runs them, against float64 direct convolution of the raw g."""
    d = {} if points is None else dict(POINTS=points)
    spec, mod = load_spec(KERNELS / FILES[m], d), module(FILES[m], d)
    wg = toom_cook(m, 3, spec.defines["POINTS"])
    s = dict(N=2, C=13, H=9, W=7, K=6)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 13, 9, 7)).astype(np.float32)
    g = rng.standard_normal((6, 13, 3, 3)).astype(np.float32)
    u = np.full((wg.alpha ** 2, 13, 6), np.nan, np.float32)
    mod[f"winograd_{m}x{m}_3x3_filter"].emulate(spec.ns["filter_grid"](s, spec.defines),
                                               spec.ns["filter_block"](s, spec.defines),
                                               g, u, np.uint32(6), np.uint32(13))
    y = np.full((2, 6, 9, 7), np.nan, np.float32)
    th, tw = tiles(9, 7, m)
    mod[f"winograd_{m}x{m}_3x3"].emulate(spec.grid(s), spec.block(s), x, u, y, *map(np.uint32, (2, 13, 9, 7, 6, th, tw)),
                                        dynamic_shared=spec.shared(s))
    ref = conv2d_direct(x, g, 1, 1)
    assert not np.isnan(y).any()
    assert np.abs(y - ref).max() <= spec.tolerance(s) * np.abs(ref).max()
    model = winograd32(x, g, wg)  # the FP32 model of docs/ACCURACY.md: same operations, same order
    np.testing.assert_allclose(y, model, rtol=0, atol=1e-6 * np.abs(ref).max())


@needs_pipeline
@pytest.mark.parametrize("case", [(m, d) for m in (2, 4) for d in covering(SPECS[m])], ids=_ids)
def test_tuning_space_pairwise(case):
    """Every pair of define values in the tuning space (POINTS included), at one ragged size."""
    from sass_lab.lab.verify import verify

    m, d = case
    res = verify(KERNELS / FILES[m], dict(N=1, C=5, H=5, W=7, K=6), emulate=True, defines=d, seed=4)
    assert res.ok, res.to_dict()


def _mutant(tmp_path, m, old, new):
    src = (KERNELS / "include" / "winograd.sasm").read_text()
    assert old in src
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "winograd.sasm").write_text(src.replace(old, new))
    top = tmp_path / FILES[m]
    top.write_text((KERNELS / FILES[m]).read_text())
    return top


@needs_pipeline
@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("old,new", [
    ("    mad.lo.s32      w0, tmp, ${M}, -1\n", "    mad.lo.s32      w0, tmp, ${M}, 0\n"),
    ("sandwich_lines(WG.bt,", "sandwich_lines(toom_cook(M, 3, '0 2 -2' if M == 2 else '0 1 -1 3 -3').bt,"),
    ('f"@pe st.global.f32 [yp+{4 * b}]', 'f"@pe st.global.f32 [yp+{4 * (b // 2)}]'),
    ("    add.u32         c0, c0, ${CB}\n", "    add.u32         c0, c0, ${2 * CB}\n"),
], ids=["tile-shifted", "data-transform-other-points", "columns-overwritten", "channels-skipped"])
def test_mutants_go_red(tmp_path, m, old, new):
    """Plausible bugs in the shared template fail verification; the shipped kernel passes."""
    from sass_lab.lab.verify import verify

    size = dict(N=1, C=11, H=6, W=7, K=4)
    assert red(_mutant(tmp_path, m, old, new), size, 7)
    assert verify(KERNELS / FILES[m], size, emulate=True, seed=7, module=module(FILES[m], {})).ok


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_on_the_gpu(case):
    from sass_lab.lab.verify import verify, verify_sizes

    m, d = case
    assert all(r.ok for r in verify_sizes(KERNELS / FILES[m], emulate=False, defines=d, seed=8))
    assert verify(KERNELS / FILES[m], dict(N=8, C=256, H=28, W=28, K=256), emulate=False, defines=d, seed=8).ok
