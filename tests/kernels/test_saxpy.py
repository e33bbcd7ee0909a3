"""saxpy on the emulator: every define combination of its tuning space at every test size."""

from __future__ import annotations

import pytest

from sass_lab.lab.spec import load_spec

PATH = "kernels_asm/saxpy.sasm"
COMBOS = load_spec(PATH).combinations()


def failures(results):
    return [(r.size, [(c.name, c.max_rel_err, c.tol, c.nonfinite, c.worst) for c in r.checks])
            for r in results if not r.ok]


@pytest.mark.parametrize("defines", COMBOS, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_saxpy_verifies(defines):
    from sass_lab.lab.verify import verify_sizes

    results = verify_sizes(PATH, defines=defines, seed=1)
    assert len(results) == 4
    assert not failures(results)


def test_saxpy_mutant_goes_red(tmp_path):
    from sass_lab.lab.verify import verify

    bad = tmp_path / "saxpy.sasm"  # the last element of each thread's group is never written
    bad.write_text(open(PATH).read().replace("% for j in range(ITEMS):", "% for j in range(ITEMS - 1):"))
    r = verify(bad, size={"n": 1000}, seed=1)
    assert not r.ok


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 1000, 1 << 24])
def test_saxpy_on_the_gpu(n):
    from sass_lab.lab.verify import verify

    assert not failures([verify(PATH, size={"n": n}, emulate=False, seed=2)])
