"""reduce_sum on the emulator: every tuning combination, the grid-stride path, and mutants."""

from __future__ import annotations

import pytest

from sass_lab.lab.spec import load_spec

PATH = "kernels_asm/reduce.sasm"
COMBOS = load_spec(PATH).combinations()


def failures(results):
    return [(r.size, [(c.name, c.max_rel_err, c.tol, c.nonfinite) for c in r.checks])
            for r in results if not r.ok]


@pytest.mark.parametrize("defines", COMBOS, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_reduce_verifies(defines):
    from sass_lab.lab.verify import verify_sizes

    assert not failures(verify_sizes(PATH, defines=defines, seed=2))


@pytest.mark.parametrize("block, grid_max, n", [(64, 2, 1000), (32, 1, 77), (128, 3, 2000)])
def test_grid_stride_loop(block, grid_max, n):
    """GRID_MAX caps the grid, so each thread makes several passes."""
    from sass_lab.lab.verify import verify

    r = verify(PATH, size={"n": n}, defines={"BLOCK": block, "ITEMS": 2, "GRID_MAX": grid_max}, seed=4)
    assert r.grid == (grid_max, 1, 1) and r.ok, failures([r])


@pytest.mark.parametrize("old, new", [
    ("% for k in (16, 8, 4, 2, 1):", "% for k in (8, 4, 2, 1):"),     # half of each warp is lost
    ("    add.u32         base, base, stride", "    add.u32         base, base, stride\n"
     "    add.u32         base, base, stride"),                          # passes skip elements
], ids=["half-warp", "skipped-passes"])
def test_reduce_mutants_go_red(tmp_path, old, new):
    from sass_lab.lab.verify import verify

    src = open(PATH).read()
    assert old in src
    bad = tmp_path / "reduce.sasm"
    bad.write_text(src.replace(old, new))
    r = verify(bad, size={"n": 3000}, defines={"GRID_MAX": 1, "BLOCK": 64}, seed=4)
    assert not r.ok


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 5000, 1 << 24])
@pytest.mark.parametrize("defines", COMBOS, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_reduce_on_the_gpu(defines, n):
    from sass_lab.lab.verify import verify

    assert not failures([verify(PATH, size={"n": n}, emulate=False, defines=defines, seed=3)])


@pytest.mark.parametrize("defines", [{}, dict(BLOCK=32, ITEMS=1, GRID_MAX=3), dict(BLOCK=512, ITEMS=8, GRID_MAX=2)],
                         ids=["default", "b32-grid3", "b512-grid2"])
def test_reduce_random_sizes(defines):
    import numpy as np

    from sass_lab.lab.verify import verify_sizes

    sizes = [dict(n=int(n)) for n in np.random.default_rng(5).integers(1, 20000, 8)]
    assert not failures(verify_sizes(PATH, sizes=sizes, defines=defines, seed=2))
