"""The maxas-style sgemm on the emulator: all 64 tile/transpose/register-cap/raster combinations at every test size
(ragged M=67 N=45 K=33 with beta != 0 and beta = 0, aligned ragged, exact multiples), and mutants."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.errors import EmulatorError
from sass_lab.lab.spec import load_spec

PATH = "kernels_asm/sgemm.sasm"
COMBOS = load_spec(PATH).combinations()


def failures(results):
    return [(r.size, [(c.name, c.max_rel_err, c.tol, c.nonfinite, c.worst) for c in r.checks])
            for r in results if not r.ok]


def ident(d):
    return f"{d['BM']}x{d['BN']}-{'nt'[d['TRANS_A']]}{'nt'[d['TRANS_B']]}-r{d['MAXNREG']}-g{d['GROUP']}"


def test_tuning_space_is_complete():
    assert len(COMBOS) == 64
    assert {(d["TRANS_A"], d["TRANS_B"]) for d in COMBOS} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert {(d["MAXNREG"], d["GROUP"]) for d in COMBOS} == {(128, 1), (128, 8), (255, 1), (255, 8)}


def test_grouped_raster_covers_every_tile_once():
    """GROUP=3 over a 7x4 tile grid: three bands, the last one short; C poisoned (beta = 0)."""
    from sass_lab.lab.verify import verify_sizes

    size = dict(M=64 * 6 + 5, N=64 * 3 + 1, K=12, beta=0)
    (r,) = verify_sizes(PATH, sizes=[size], defines={"BM": 64, "BN": 64, "GROUP": 3}, seed=5)
    assert not failures([r])


@pytest.mark.parametrize("defines", COMBOS, ids=ident)
def test_sgemm_verifies(defines):
    from sass_lab.lab.verify import verify_sizes

    results = verify_sizes(PATH, defines=defines, seed=7)
    assert {(r.size["M"], r.size["N"], r.size["K"]) for r in results} >= {(67, 45, 33)}
    assert not failures(results)


def red(path, size, defines=None) -> bool:
    from sass_lab.lab.verify import verify

    try:
        return not verify(path, size=size, defines=defines or {}, seed=7).ok
    except EmulatorError:
        return True  # the emulator's memory checks caught it


@pytest.mark.parametrize("old, new, size", [
    # the ragged first K-slice reads four k < 0 (the previous row of A, or before A) instead of zeros
    ("setp.ge.and.s32 pe, t1, 0,", "setp.ge.and.s32 pe, t1, -4,", dict(M=67, N=45, K=33)),
    # the epilogue forgets the row bound: stores past the last row of C
    ('emit(f"    and.pred        pv, pt, cv[{hj}]")', 'emit(f"    mov.pred        pv, cv[{hj}]")',
     dict(M=67, N=64, K=16)),
    # beta is ignored
    ('emit(f"    fma.rn.f32      o[{e}], ci[{e}], beta, o[{e}]")',
     'emit(f"    add.f32         o[{e}], ci[{e}], o[{e}]")', dict(M=8, N=8, K=8)),
], ids=["negative-k", "no-row-bound", "beta-ignored"])
def test_sgemm_mutants_go_red(tmp_path, old, new, size):
    src = open(PATH).read()
    assert old in src
    bad = tmp_path / "sgemm.sasm"
    bad.write_text(src.replace(old, new))
    assert red(bad, dict(size, beta=1), {"BM": 64, "BN": 64})
    assert not red(PATH, dict(size, beta=1), {"BM": 64, "BN": 64})


@pytest.mark.gpu
@pytest.mark.parametrize("defines", COMBOS, ids=ident)
def test_sgemm_on_the_gpu(defines):
    from sass_lab.lab.verify import verify_sizes

    assert not failures(verify_sizes(PATH, emulate=False, defines=defines, seed=8))


@pytest.mark.gpu
@pytest.mark.parametrize("size", [dict(M=4096, N=4096, K=4096, beta=1), dict(M=1000, N=1003, K=997, beta=0)])
def test_sgemm_large_on_the_gpu(size):
    from sass_lab.lab.verify import verify

    r = verify(PATH, size=size, emulate=False, seed=9)
    assert r.ok, failures([r])


def random_sizes(seed, count=8):
    rng = np.random.default_rng(seed)
    return [dict(M=int(rng.integers(1, 150)), N=int(rng.integers(1, 150)), K=int(rng.integers(0, 40)),
                 beta=int(rng.integers(0, 2))) for _ in range(count)] + [dict(M=1, N=1, K=0, beta=1)]


@pytest.mark.parametrize("defines", [
    dict(BM=64, BN=64, TRANS_A=0, TRANS_B=0, MAXNREG=255, GROUP=1),
    dict(BM=128, BN=64, TRANS_A=1, TRANS_B=0, MAXNREG=128, GROUP=8),
    dict(BM=64, BN=128, TRANS_A=0, TRANS_B=1, MAXNREG=128, GROUP=1),
    dict(BM=128, BN=128, TRANS_A=1, TRANS_B=1, MAXNREG=255, GROUP=8)], ids=ident)
def test_sgemm_random_sizes(defines):
    """Fixed-seed random shapes, K = 0 included (C = beta*C)."""
    from sass_lab.lab.verify import verify_sizes

    assert not failures(verify_sizes(PATH, sizes=random_sizes(defines["BM"] + defines["TRANS_A"]),
                                     defines=defines, seed=10))
