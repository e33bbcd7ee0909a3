"""The unfused layers (grouped_conv3x3.sasm, pointwise_bn.sasm) on the emulator, and the unfused block
chained from them against the fused kernels."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from test_conv_helpers import KERNELS, needs_pipeline, red

from sass_lab.lab.spec import load_spec

FULL = bool(os.environ.get("SASS_LAB_FULL_SWEEP"))
FILES = {"grouped": KERNELS / "grouped_conv3x3.sasm", "pointwise": KERNELS / "pointwise_bn.sasm"}
SPECS = {k: load_spec(p) for k, p in FILES.items()}


def _verify(which, size, defines=None, seed=2):
    from sass_lab.lab.verify import verify

    return verify(FILES[which], size, emulate=True, defines=defines or {}, seed=seed)


def _cover(spec):
    """Every value of every define at least once beyond the defaults (all combinations when
    SASS_LAB_FULL_SWEEP is set)."""
    return spec.combinations() if FULL else spec.cover()


def _ids(d):
    return "-".join(f"{k}{v}" for k, v in d.items())


def test_lab_blocks_are_consistent():
    g, p = SPECS["grouped"], SPECS["pointwise"]
    assert g.kernel == "grouped_conv3x3" and p.kernel == "pointwise_bn"
    assert g.flops(dict(N=2, H=3, W=5, C=16)) == 2 * 2 * 3 * 5 * 16 * 72
    assert p.flops(dict(N=2, H=3, W=5, C=16, K=24)) == 2 * 2 * 3 * 5 * 16 * 24
    assert any(s["C"] % g.defines["CB"] for s in g.test_sizes)          # a ragged channel slice
    assert any(s["C"] % p.defines["BK"] for s in p.test_sizes)          # a ragged K slice
    assert any(s["K"] % p.defines["BN"] for s in p.test_sizes)
    assert any((s["N"] * s["H"] * s["W"]) % p.defines["BM"] for s in p.test_sizes)


@needs_pipeline
@pytest.mark.parametrize("act", [0, 1])
@pytest.mark.parametrize("i", range(3))
def test_grouped_test_sizes(i, act):
    res = _verify("grouped", SPECS["grouped"].test_sizes[i], dict(ACT=act))
    assert res.ok, res.to_dict()


@needs_pipeline
@pytest.mark.parametrize("epi", ["silu", "residual"])
@pytest.mark.parametrize("i", range(4))
def test_pointwise_test_sizes(i, epi):
    res = _verify("pointwise", SPECS["pointwise"].test_sizes[i], dict(EPI=epi))
    assert res.ok, res.to_dict()


@needs_pipeline
@pytest.mark.parametrize("which,defines", [(w, d) for w in FILES for d in _cover(SPECS[w])],
                         ids=lambda v: v if isinstance(v, str) else _ids(v))
def test_tuning_space(which, defines):
    size = dict(N=1, H=5, W=9, C=40) if which == "grouped" else dict(N=1, H=5, W=9, C=40, K=24)
    res = _verify(which, size, defines)
    assert res.ok, res.to_dict()


def _mutant(tmp_path, which, old, new):
    shutil.copytree(KERNELS / "include", tmp_path / "include")
    dst = tmp_path / FILES[which].name
    src = FILES[which].read_text()
    assert old in src, old
    dst.write_text(src.replace(old, new))
    return dst


MUTANTS = [
    ("grouped", "    mad.lo.u32      hh, ft, 2, c0", "    mov.u32         hh, c0", dict(N=1, H=5, W=9, C=40),
     "BN pairs without the lane's columns"),
    ("grouped", "    setp.le.u32     pin, cv, ${8 * g}\n@pin bra            ${skip}\n%   wg_frags",
     "%   wg_frags", dict(N=1, H=5, W=9, C=40), "groups past the slice's channels computed"),
    ("grouped", "    mul.wide.u32    wgs, c0, 144", "    mul.wide.u32    wgs, c0, 72", dict(N=1, H=5, W=9, C=40),
     "filter rows of the wrong slice"),
    ("pointwise", '"    setp.lt.and.u32 pin, ww, cin, pin", ', "", dict(N=1, H=5, W=9, C=40, K=24),
     "the ragged K slice is not zero-filled"),
    ("pointwise", "    bar.sync        0\n% if EPI", "% if EPI", dict(N=1, H=5, W=9, C=72, K=24),
     "the epilogue overwrites a stage still being read"),   # 3 K slices: the last one in stage 0
    ("pointwise", "    add.f32         ${a0}, xl, ${a0}", "    mov.f32         ${a0}, ${a0}",
     dict(N=1, H=5, W=9, C=40, K=24), "residual half dropped"),
]


@needs_pipeline
@pytest.mark.parametrize("which,old,new,size,why", MUTANTS, ids=[m[4] for m in MUTANTS])
def test_mutants_go_red(tmp_path, which, old, new, size, why):
    defines = {"EPI": "residual"} if which == "pointwise" else {}
    bad = _mutant(tmp_path, which, old, new)
    assert red(bad, size, 3, defines), why


@needs_pipeline
@pytest.mark.parametrize("kind", ["convfirst", "mbconv"])
def test_unfused_chain_equals_fused(kind):
    """Three layer kernels through 16-bit intermediates compute the fused kernel's y bit for bit: the
    same roundings at the same points and the same k16 order of every mma chain."""
    from sass_lab.studies.fusion_accuracy import accuracy_rows

    (row,) = accuracy_rows(kind, [dict(N=1, H=6, W=9, C=40)], seed=4)
    assert row.equal == 1.0 and row.fused == row.unfused
    assert 0 < row.fused < 1.01  # within the bound, in units of u·scale


@needs_pipeline
def test_chain_catches_a_broken_layer(tmp_path, monkeypatch):
    """The chain comparison is not vacuous: a layer with a wrong BN gives a different y."""
    import sass_lab.studies.fusion_accuracy as fa
    from sass_lab.lab.spec import load_spec as real_load

    bad_dir = tmp_path / "k"
    shutil.copytree(KERNELS, bad_dir)
    f = bad_dir / "pointwise_bn.sasm"
    f.write_text(f.read_text().replace("    fma.rn.f32      ${a0}, ${a0}, bs0, bb0", "    fma.rn.f32      ${a0}, ${a0}, bs1, bb0"))
    monkeypatch.setattr(fa, "KERNELS", bad_dir)
    size = dict(N=1, H=4, W=5, C=32)
    spec, _ = real_load(KERNELS / "convfirst_block.sasm").for_size(size)
    args = spec.inputs(size, np.random.default_rng(1))
    assert not np.array_equal(fa.run_fused("convfirst", size, args), fa.run_unfused("convfirst", size, args))


@pytest.mark.gpu
@pytest.mark.parametrize("which,defines", [("grouped", {"ACT": 0}), ("grouped", {"ACT": 1}),
                                           ("pointwise", {"EPI": "silu"}), ("pointwise", {"EPI": "residual"})])
def test_layers_on_the_gpu(which, defines):
    from sass_lab.lab.verify import verify_sizes

    res = verify_sizes(FILES[which], emulate=False, defines=defines, seed=8)
    assert all(r.ok for r in res), [r.to_dict() for r in res if not r.ok]
