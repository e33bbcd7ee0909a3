"""convfirst_block.sasm and mbconv_block.sasm on the emulator: ragged sizes, channel counts, tiles,
fp16/bf16, mutants. SASS_LAB_FULL_SWEEP=1 runs every channel count 32..256 and every valid tile."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from test_conv_helpers import KERNELS, needs_pipeline

from sass_lab.lab.spec import load_spec
from sass_lab.studies import blocks

FULL = bool(os.environ.get("SASS_LAB_FULL_SWEEP"))
FILES = {"convfirst": KERNELS / "convfirst_block.sasm", "mbconv": KERNELS / "mbconv_block.sasm"}
SPECS = {k: load_spec(p) for k, p in FILES.items()}
# CI: besides the TEST_SIZES' C = 32, 40 (a k8 tail) and 64: a tail with the 8×16 tile (72) and with the
# 8×8 tile (136), and the widest C (256; the defines pick the 8×8 tile above C = 128). The full sweep
# (SASS_LAB_FULL_SWEEP=1): every supported C.
CHANNELS = list(range(32, 257, 8)) if FULL else [72, 136, 256]
RAGGED = dict(N=1, H=3, W=5)        # one block, every pixel row and column ragged


def _verify(kind, size, defines=None, seed=2):
    from sass_lab.lab.verify import verify

    return verify(FILES[kind], size, emulate=True, defines=defines or {}, seed=seed)


@pytest.mark.parametrize("kind", FILES)
def test_lab_block_is_consistent(kind):
    spec = SPECS[kind]
    assert spec.kernel == f"{kind}_block" and spec.outputs == ["y"] and spec.peer_name == "torch"
    assert spec.ns["CHANNELS"] == list(range(32, 257, 8))
    assert {s["N"] for s in spec.test_sizes} >= {1, 3}
    assert any(s["H"] % spec.defines["TH"] or s["W"] % spec.defines["TW"] for s in spec.test_sizes)
    assert {s["N"] for s in spec.bench_sizes} == {1, 8, 32} and {s["C"] for s in spec.bench_sizes} == {64, 128}
    assert {(s["H"], s["W"]) for s in spec.bench_sizes} == {(56, 56), (28, 28)}
    s = dict(N=2, H=5, W=7, C=16)
    cg = 16 if kind == "convfirst" else 64
    assert spec.flops(s) == 2 * 2 * 5 * 7 * (72 * cg + 2 * 16 * 64)
    for c in spec.ns["CHANNELS"]:  # the default defines work at every supported C
        sized, d = spec.for_size(dict(N=1, H=4, W=4, C=c))
        assert d["C"] == c and sized.valid(sized.defines), c


@needs_pipeline
@pytest.mark.parametrize("kind", FILES)
@pytest.mark.parametrize("i", range(3))
def test_test_sizes(kind, i):
    """The lab block's ragged sizes (N = 1 and 3, H and W off the tile) with the default tile."""
    res = _verify(kind, SPECS[kind].test_sizes[i])
    assert res.ok, res.to_dict()
    assert 0 < res.max_rel_err < res.checks[0].tol


@needs_pipeline
@pytest.mark.parametrize("kind", FILES)
@pytest.mark.parametrize("c", CHANNELS)
def test_every_channel_count(kind, c):
    res = _verify(kind, dict(RAGGED, C=c))
    assert res.ok, res.to_dict()


def _space(kind):
    """Tile/chunk/type combinations at C = 64: every value of every define at least once besides the
    defaults (test_test_sizes runs those); SASS_LAB_FULL_SWEEP=1: every valid combination."""
    spec = SPECS[kind]
    combos = spec.combinations()
    if FULL:
        return combos
    chosen = [{k: spec.defines[k] for k in spec.tune}]
    seen = {(k, repr(v)) for k, v in chosen[0].items()}
    want = {(k, repr(v)) for c in combos for k, v in c.items()}
    while not want <= seen:
        best = max(combos, key=lambda c: len({(k, repr(v)) for k, v in c.items()} - seen))
        chosen.append(best)
        seen |= {(k, repr(v)) for k, v in best.items()}
    return chosen[1:]


@needs_pipeline
@pytest.mark.parametrize("kind,defines", [(k, d) for k in FILES for d in _space(k)],
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}{x}" for k, x in v.items()))
def test_tuning_space(kind, defines):
    res = _verify(kind, dict(N=1, H=9, W=10, C=64), defines)
    assert res.ok, res.to_dict()


def _mutant(tmp_path, kind, where, old, new):
    """A copy of the kernel (and its includes) with one edit in ``where`` ('kernel' or an include)."""
    shutil.copytree(KERNELS / "include", tmp_path / "include")
    dst = tmp_path / FILES[kind].name
    shutil.copy(FILES[kind], dst)
    target = dst if where == "kernel" else tmp_path / "include" / where
    src = target.read_text()
    assert src.count(old) >= 1, old
    target.write_text(src.replace(old, new))
    return dst


MUTANT_SIZE = dict(N=1, H=9, W=10, C=40)   # 2 blocks, ragged, 5 chunks, a k8 tail
MUTANTS = [
    ("convfirst", "kernel", "    add.u64         bngl, bng, gp\n", "    mov.b64         bngl, bng\n",
     "G's BN pairs without the lane's column offset"),
    ("convfirst", "fused_block.sasm", '(abase_b, TOFF[2] * row_bytes)', '(abase_a, TOFF[2] * row_bytes)',
     "taps 2/3 read at tap 2/2"),
    ("convfirst", "kernel", "    add.u64         wej, wej, ${CH * C * 2}\n    add.u64         wpj, wpj, ${CH * 2}\nno_prefetch:",
     "no_prefetch:", "the prefetch pointers never advance"),
    ("convfirst", "kernel", "    cp.async.wait_all\n    bar.sync        0                                       // chunk j",
     "    // chunk j", "no barrier before a chunk buffer is reused"),
    ("convfirst", "fused_block.sasm", '"    add.f32 xl, xl, tf"', '"    mov.f32 xl, tf"', "residual dropped"),
    ("mbconv", "kernel", '                emit(f"    selp.f32 {v}, {v}, 0f00000000, hv[{k}][{r // 2}]")\n', "",
     "G's zero padding replaced by SiLU(BN(E(0)))"),
    ("mbconv", "kernel", "    bar.sync        0                                       // hs complete\n", "",
     "no barrier between E's stores and G's loads"),
    ("mbconv", "kernel", "KH = cdiv(HM, NW)", "KH = cdiv(HM, NW) - 1", "the last halo m16 tiles skipped"),
    ("mbconv", "kernel", "[bngj+{g * 64}]", "[bnej+{g * 64}]", "G reads E's BN pairs"),
]


@needs_pipeline
@pytest.mark.parametrize("kind,where,old,new,why", MUTANTS, ids=[m[4] for m in MUTANTS])
def test_mutants_go_red(tmp_path, kind, where, old, new, why):
    """Plausible bugs must fail (wrong numbers, or an emulator finding), where the kernel passes."""
    from test_conv_helpers import red

    bad = _mutant(tmp_path, kind, where, old, new)
    assert red(bad, MUTANT_SIZE, 5), why


@needs_pipeline
@pytest.mark.parametrize("kind", FILES)
def test_unmutated_kernel_passes_at_the_mutant_size(kind):
    assert _verify(kind, MUTANT_SIZE, seed=5).ok

@needs_pipeline
def test_poisoned_output_is_caught(tmp_path):
    """A store that misses pixels leaves NaN: the check counts them."""
    from test_conv_helpers import red

    bad = _mutant(tmp_path, "convfirst", "fused_block.sasm", '"    add.u32 hh, hh, h0", "    add.u32 ww, ww, w0", "    setp.lt.u32 pin, hh, hin",',
                  '"    add.u32 hh, hh, h0", "    add.u32 ww, ww, w0", "    setp.lt.u32 pin, hh, 2",')  # rows 0, 1 only
    from sass_lab.lab.verify import verify

    res = verify(bad, dict(N=1, H=5, W=6, C=32), emulate=True, seed=1)
    assert not res.ok and res.checks[0].nonfinite > 0
    assert red(bad, dict(N=1, H=5, W=6, C=32), 1)


def test_size_fixes_c_and_conflicting_define_is_refused():
    from sass_lab.errors import UsageError

    spec = SPECS["convfirst"]
    sized, d = spec.for_size(dict(N=1, H=4, W=4, C=136))
    assert sized.defines["C"] == 136 and sized.defines["TW"] == 8 and d == {"C": 136}
    with pytest.raises(UsageError, match="contradicts the size"):
        spec.for_size(dict(N=1, H=4, W=4, C=136), {"C": "64"})
    assert spec.for_size(dict(N=1, H=4, W=4, C=64), {"C": "64"})[0] is spec


@needs_pipeline
def test_cli_verify_any_c(capsys):
    from sass_lab.cli.main import main

    assert main(["verify", str(FILES["mbconv"]), "--emulate", "--size", "N=1,H=4,W=3,C=48", "--seed", "3"]) == 0
    assert "PASS" in capsys.readouterr().out


@needs_pipeline
def test_fused_equals_unfused_model_closely():
    """The kernel rounds where the unfused layers store (G's output / SiLU(E), y): against the float64
    model that rounds at those points it differs by fp32 sum order only (a rare one-ulp flip)."""
    import copy

    import sass_lab as sl
    from sass_lab.lab.verify import order_args

    for kind in FILES:
        spec, d = SPECS[kind].for_size(dict(N=1, H=6, W=9, C=40))
        k = sl.assemble_file(FILES[kind], defines=d)[spec.kernel]
        size = dict(N=1, H=6, W=9, C=40)
        a = spec.inputs(size, np.random.default_rng(7))
        pristine = copy.deepcopy(a)
        k.emulate(spec.grid(size), spec.block(size), *order_args(k, a), dynamic_shared=spec.shared(size))
        x, p = blocks.load(pristine["x"], "f16"), blocks.block_params(pristine, "f16")
        got = blocks.load(a["y"], "f16")
        model = blocks.forward(kind, x, p, round_to="f16")
        exact = blocks.forward(kind, x, p)
        scale = blocks.block_scale(kind, pristine, dict(DTYPE="f16"))["y"]
        tol = blocks.tolerance("f16")
        assert np.mean(got == model) > 0.99, kind         # bit-equal to the rounding model but for
        assert np.max(np.abs(got - model) / scale) < tol, kind   # one-ulp flips (fp32 sum order)
        assert np.max(np.abs(got - exact) / scale) < tol and np.abs(got - exact).max() > 0


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("kind", FILES)
def test_on_the_gpu(kind, dtype):
    """The same checks on the device: every TEST_SIZES entry, C = 256 and a 56×56 feature map."""
    from sass_lab.lab.verify import verify, verify_sizes

    res = verify_sizes(FILES[kind], emulate=False, defines={"DTYPE": dtype}, seed=8)
    assert all(r.ok for r in res), [r.to_dict() for r in res if not r.ok]
    for size in (dict(N=1, H=9, W=13, C=256), dict(N=2, H=56, W=56, C=64)):
        r = verify(FILES[kind], size, emulate=False, defines={"DTYPE": dtype}, seed=8)
        assert r.ok, r.to_dict()
