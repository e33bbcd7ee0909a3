"""saxpy on the emulator: every define combination of its tuning space at every test size."""

from __future__ import annotations

import pytest

from sass_lab.lab.spec import load_spec

PATH = "kernels_asm/saxpy.sasm"
COMBOS = [dict(c, VEC=v) for c in load_spec(PATH).combinations() for v in (1, 4)]


def failures(results):
    return [(r.size, [(c.name, c.max_rel_err, c.tol, c.nonfinite, c.worst) for c in r.checks])
            for r in results if not r.ok]


@pytest.mark.parametrize("defines", COMBOS, ids=lambda d: "-".join(f"{k}{v}" for k, v in d.items()))
def test_saxpy_verifies(defines):
    from sass_lab.lab.verify import verify_sizes

    results = verify_sizes(PATH, defines=defines, seed=1)
    assert len(results) == 4 and any(r.size["n"] % 4 for r in results)
    assert not failures(results)


@pytest.mark.parametrize("old, new, vec", [
    ("% for j in range(ITEMS):", "% for j in range(ITEMS - 1):", 1),   # each thread's last group unwritten
    ("    setp.lt.u32     full, e, n", "    setp.le.u32     full, e, n", 4),  # 128-bit past the end
    ("@p  st.global.f32   [py+${4 * v}]", "    st.global.f32   [py+${4 * v}]", 4),  # tail writes past n
], ids=["lost-group", "quad-past-end", "tail-unguarded"])
def test_saxpy_mutants_go_red(tmp_path, old, new, vec):
    from sass_lab.errors import EmulatorError
    from sass_lab.lab.verify import verify

    src = open(PATH).read()
    assert old in src
    bad = tmp_path / "saxpy.sasm"
    bad.write_text(src.replace(old, new))
    try:
        assert not verify(bad, size={"n": 1003}, defines={"VEC": vec}, seed=1).ok
    except EmulatorError:
        pass  # the emulator caught the access past the end


@pytest.mark.gpu
@pytest.mark.parametrize("vec", [1, 4])
@pytest.mark.parametrize("n", [1, 1003, 1 << 24])
def test_saxpy_on_the_gpu(n, vec):
    from sass_lab.lab.verify import verify

    assert not failures([verify(PATH, size={"n": n}, emulate=False, defines={"VEC": vec}, seed=2)])
