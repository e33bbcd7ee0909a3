"""conv_direct.sasm on the emulator: every TEST_SIZES entry, 3×3 and 1×1, several tilings."""

from __future__ import annotations

import numpy as np
import pytest
from test_conv_helpers import KERNELS, covering, module, needs_pipeline, pick, red

from sass_lab.lab.spec import load_spec
from sass_lab.studies.accuracy import direct32
from sass_lab.studies.winograd import conv2d_direct

PATH = KERNELS / "conv_direct.sasm"
SPEC = load_spec(PATH)
TILINGS = [dict(), dict(BM=64, BN=64, TM=4, TN=4), dict(BM=32, BN=64, TM=4, TN=8), dict(BM=64, BN=32, TM=8, TN=4)]
FILTERS = [dict(R=3, S=3), dict(R=1, S=1)]
COMBOS = [dict(**t, **f) for t in TILINGS for f in FILTERS]


def test_lab_block_is_consistent():
    assert SPEC.kernel == "conv_direct" and SPEC.outputs == ["y"] and SPEC.peer_name == "cudnn"
    assert len(pick(SPEC, COMBOS)) == len(COMBOS), "every tested tiling must be valid"
    s = dict(N=2, C=3, H=5, W=5, K=4, stride=1, pad=1)
    assert SPEC.flops(s) == 2 * 2 * 4 * 25 * 3 * 9
    assert any(sz["stride"] > 1 for sz in SPEC.test_sizes) and any(sz["pad"] == 0 for sz in SPEC.test_sizes)
    assert {sz["N"] for sz in SPEC.bench_sizes} == {1, 8, 32, 64}


def _run(defines, size, seed=0):
    spec = load_spec(PATH, defines)
    mod = module("conv_direct.sasm", defines)
    from sass_lab.lab.verify import order_args

    k = mod["conv_direct"]
    args = spec.inputs(size, np.random.default_rng(seed))
    ref = spec.reference({n: v.copy() if isinstance(v, np.ndarray) else v for n, v in args.items()}, size)
    pristine = {n: v.copy() if isinstance(v, np.ndarray) else v for n, v in args.items()}
    k.emulate(spec.grid(size), spec.block(size), *order_args(k, args))
    return spec, args, pristine, ref["y"]


@needs_pipeline
@pytest.mark.parametrize("defines", COMBOS, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()) or "default")
@pytest.mark.parametrize("size", SPEC.test_sizes, ids=lambda s: "N{N}C{C}H{H}W{W}K{K}s{stride}p{pad}".format(**s))
def test_verify_on_emulator(defines, size):
    from sass_lab.lab.verify import verify

    res = verify(PATH, size, emulate=True, defines=defines, seed=1,
                 module=module("conv_direct.sasm", defines))
    assert res.ok, res.to_dict()


@needs_pipeline
@pytest.mark.parametrize("rs", [3, 1])
def test_matches_fp32_model(rs):
    size = dict(N=2, C=10, H=6, W=7, K=9, stride=1, pad=rs // 2)
    spec, got, a, ref = _run(dict(R=rs, S=rs), size)
    model = direct32(a["x"], a["w"], 1, rs // 2)
    y = got["y"]
    assert not np.isnan(y).any()
    np.testing.assert_allclose(y, model, rtol=0, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(y, conv2d_direct(a["x"], a["w"], 1, rs // 2), rtol=0,
                               atol=spec.tolerance(size) * np.abs(ref).max() * 10)


@needs_pipeline
@pytest.mark.parametrize("defines", covering(SPEC), ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_tuning_space_pairwise(defines):
    """Every pair of define values in the tuning space, at one ragged strided size."""
    from sass_lab.lab.verify import verify

    res = verify(PATH, dict(N=1, C=5, H=5, W=6, K=7, stride=2, pad=1), emulate=True, defines=defines, seed=4)
    assert res.ok, res.to_dict()


@needs_pipeline
@pytest.mark.parametrize("old,new,size", [
    ('"setp.lt.and.u32 colok, ww, win, colok",', "", dict(N=1, C=3, H=5, W=4, K=2, stride=1, pad=1)),
    ("    mul.lo.s32      hb, cc, stride\n", "    mul.lo.s32      hb, cc, 1\n",
     dict(N=1, C=3, H=7, W=7, K=2, stride=2, pad=1)),
    ('f"add.u32 c0, c0, {BK}"', 'f"add.u32 c0, c0, {2 * BK}"',
     dict(N=1, C=20, H=4, W=4, K=3, stride=1, pad=1)),
    ("    bar.sync        0\n    mov.u32         cura, oa\n", "    mov.u32         cura, oa\n",
     dict(N=2, C=20, H=6, W=6, K=5, stride=1, pad=1)),
], ids=["no-column-padding-check", "stride-ignored", "channels-skipped", "no-barrier-between-buffers"])
def test_mutants_go_red(tmp_path, old, new, size):
    """Plausible bugs must fail verification (and the shipped kernel must pass the same size)."""
    from sass_lab.lab.verify import verify

    src = PATH.read_text()
    assert old in src
    bad = tmp_path / "conv_direct.sasm"
    bad.write_text(src.replace(old, new))
    assert red(bad, size, 6)
    assert verify(PATH, size, emulate=True, seed=6).ok


@pytest.mark.gpu
@pytest.mark.parametrize("defines", [dict(), dict(R=1, S=1), dict(BM=128, BN=128, TM=8, TN=8)],
                         ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()) or "default")
def test_on_the_gpu(defines):
    from sass_lab.lab.verify import verify, verify_sizes

    assert all(r.ok for r in verify_sizes(PATH, emulate=False, defines=defines, seed=8))
    big = dict(N=8, C=128, H=56, W=56, K=128, stride=1, pad=1)
    assert verify(PATH, big, emulate=False, defines=defines, seed=8).ok
