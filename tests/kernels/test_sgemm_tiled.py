"""sgemm_tiled on the emulator: ragged and exact sizes over a spread of tile shapes."""

from __future__ import annotations

import pytest

from sass_lab.errors import EmulatorError
from sass_lab.lab.spec import load_spec

PATH = "kernels_asm/sgemm_tiled.sasm"
SPEC = load_spec(PATH)
# the default, the smallest and largest register blocks, non-square tiles
PICK = [dict(BM=64, BN=64, TM=4, TN=4), dict(BM=32, BN=32, TM=2, TN=2), dict(BM=64, BN=128, TM=8, TN=8),
        dict(BM=128, BN=32, TM=8, TN=2), dict(BM=32, BN=64, TM=2, TN=8)]


def failures(results):
    return [(r.size, [(c.name, c.max_rel_err, c.tol, c.nonfinite, c.worst) for c in r.checks])
            for r in results if not r.ok]


def test_picks_are_valid():
    for d in PICK:
        assert SPEC.valid(dict(SPEC.defines, **d)), d


@pytest.mark.parametrize("defines", PICK, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_sgemm_tiled_verifies(defines):
    from sass_lab.lab.verify import verify_sizes

    results = verify_sizes(PATH, defines=defines, seed=5)
    assert any(r.size == dict(M=67, N=45, K=33) for r in results)
    assert not failures(results)


@pytest.mark.parametrize("defines", SPEC.combinations(), ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_every_tile_shape_at_the_ragged_size(defines):
    """All valid tile shapes of the tuning space, at the ragged M=67 N=45 K=33."""
    from sass_lab.lab.verify import verify

    assert not failures([verify(PATH, size=dict(M=67, N=45, K=33), defines=defines, seed=3)])


def test_sgemm_tiled_mutant_goes_red(tmp_path):
    from sass_lab.lab.verify import verify

    src = open(PATH).read()
    old = "    setp.lt.u32     p, kk, K\n    and.pred        p, p, rowa[${l}]"
    assert old in src  # without the k < K test, A's ragged K-slice reads past each row
    bad = tmp_path / "sgemm_tiled.sasm"
    bad.write_text(src.replace(old, "    mov.pred        p, rowa[${l}]"))
    try:
        assert not verify(bad, size=dict(M=67, N=45, K=33), seed=5).ok
    except EmulatorError:
        pass  # the emulator caught the read past the end of A


@pytest.mark.gpu
@pytest.mark.parametrize("defines", PICK, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_sgemm_tiled_on_the_gpu(defines):
    from sass_lab.lab.verify import verify, verify_sizes

    assert not failures(verify_sizes(PATH, emulate=False, defines=defines, seed=6))
    assert not failures([verify(PATH, size=dict(M=1000, N=999, K=1001), emulate=False, defines=defines)])


def test_sgemm_tiled_random_sizes():
    """Fixed-seed random shapes, K = 0 included (C = 0)."""
    import numpy as np

    from sass_lab.lab.verify import verify_sizes

    rng = np.random.default_rng(4)
    sizes = [dict(M=int(rng.integers(1, 200)), N=int(rng.integers(1, 200)), K=int(rng.integers(1, 50)))
             for _ in range(8)] + [dict(M=3, N=5, K=0)]
    assert not failures(verify_sizes(PATH, sizes=sizes, seed=2))
