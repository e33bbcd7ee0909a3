"""verify.compare on synthetic outputs, and verify() end to end on the emulator."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sass_lab.errors import SourceError
from sass_lab.lab.verify import OutputCheck, VerifyResult, compare


def test_exact_and_within_tolerance():
    ref = {"y": np.array([1.0, -2.0, 4.0])}
    (c,) = compare({"y": np.array([1.0, -2.0, 4.0], np.float32)}, ref, 1e-6)
    assert c.ok and c.max_rel_err == 0 and c.nonfinite == 0
    (c,) = compare({"y": np.array([1.0, -2.0, 4.0 + 4e-6])}, ref, 1e-6)  # default scale: max|ref| = 4
    assert c.ok and c.max_rel_err == pytest.approx(1e-6)
    (c,) = compare({"y": np.array([1.0, -2.0, 4.0 + 8e-6])}, ref, 1e-6)
    assert not c.ok and c.worst == (2,) and c.got == pytest.approx(4.000008) and c.want == 4.0


def test_nan_left_is_a_failure_even_with_a_loose_tolerance():
    ref = {"C": np.ones((3, 4))}
    got = np.ones((3, 4), np.float32)
    got[2, 1] = np.nan
    (c,) = compare({"C": got}, ref, 1.0)
    assert not c.ok and c.nonfinite == 1 and c.worst == (2, 1)


def test_scale_normalises_elementwise():
    ref = {"C": np.array([[1e-3, 1.0]])}
    got = {"C": np.array([[2e-3, 1.0]])}
    (c,) = compare(got, ref, 1e-2, {"C": np.array([[1.0, 1.0]])})
    assert c.max_rel_err == pytest.approx(1e-3) and c.ok
    (c,) = compare(got, ref, 1e-2, {"C": np.array([[1e-3, 1.0]])})
    assert c.max_rel_err == pytest.approx(1.0) and not c.ok


def test_shape_mismatch_and_unknown_output():
    with pytest.raises(SourceError, match=r"the reference's 'y' has 4 value\(s\) \(\(4,\)\), the kernel's 3"):
        compare({"y": np.zeros(3)}, {"y": np.zeros(4)}, 1e-6)  # the lab block's mistake, not a failed run
    with pytest.raises(SourceError, match="not an output"):
        compare({"y": np.zeros(3)}, {"z": np.zeros(3)}, 1e-6)


def test_result_json_roundtrip():
    r = VerifyResult("k.sasm", "k", {"n": 3}, {"B": 1}, "emulator", (1, 1, 1), (32, 1, 1),
                     [OutputCheck("y", (3,), 0.0, 1e-6, 0, (0,), 1.0, 1.0)])
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ok"] and d["checks"][0]["ok"] and d["checks"][0]["worst"] == [0]
    assert VerifyResult("k", "k", {}, {}, "gpu", (1, 1, 1), (1, 1, 1), []).ok is False


def test_verify_saxpy_on_the_emulator():
    from sass_lab.lab.verify import verify, verify_sizes

    r = verify("kernels_asm/saxpy.sasm", seed=3)
    assert r.ok and r.device == "emulator" and r.size == {"n": 1} and r.kernel == "saxpy"
    assert set(r.times) == {"assemble_s", "run_s", "reference_s"}
    rs = verify_sizes("kernels_asm/saxpy.sasm", defines={"BLOCK": 128, "ITEMS": 2}, seed=0)
    assert len(rs) == 4 and all(x.ok for x in rs)
    assert rs[-1].size == {"n": 3 * 128 * 2 - 5} and rs[-1].grid == (3, 1, 1)
    assert rs[0].times["assemble_s"] > 0 and rs[1].times["assemble_s"] == 0


def test_partial_size_overrides_the_first_test_size_on_the_emulator():
    from sass_lab.lab.verify import verify

    r = verify("kernels_asm/sgemm.sasm", size="beta=0", defines={"BM": 64, "BN": 64}, seed=1)
    assert r.size == {"M": 67, "N": 45, "K": 33, "beta": 0} and r.ok


def test_verify_detects_a_broken_kernel(tmp_path):
    from sass_lab.lab.verify import verify

    src = open("kernels_asm/saxpy.sasm").read()
    bad = tmp_path / "saxpy_bad.sasm"
    old = "fma.rn.f32      yv[0], a, xv[0], yv[0]"
    assert old in src
    bad.write_text(src.replace(old, "fma.rn.f32      yv[0], a, xv[0], xv[0]"))
    r = verify(bad, size="n=300", seed=0)
    assert not r.ok and r.checks[0].max_rel_err > 1e-3


def test_unknown_size_name_is_reported():
    from sass_lab.lab.verify import verify

    with pytest.raises(SourceError, match="unknown size name"):
        verify("kernels_asm/saxpy.sasm", size={"m": 3})


def test_gpu_path_with_a_stand_in_device(monkeypatch):
    """Without --emulate verify checks for a GPU, then calls Kernel.launch (here: the emulator)."""
    import sass_lab.runtime as rt
    from sass_lab.api import Kernel
    from sass_lab.lab.verify import verify

    calls = []

    def launch(self, grid, block, *args, dynamic_shared=0, **kw):
        calls.append((self.name, grid, block, len(args)))
        return self.emulate(grid, block, *args, dynamic_shared=dynamic_shared)

    monkeypatch.setattr(rt, "require_gpu", lambda: None)
    monkeypatch.setattr(Kernel, "launch", launch)
    r = verify("kernels_asm/saxpy.sasm", size={"n": 3000}, emulate=False, seed=1)
    assert r.ok and r.device == "gpu" and calls == [("saxpy", (3, 1, 1), (256, 1, 1), 4)]


def test_default_sizes():
    from sass_lab.lab.spec import load_spec
    from sass_lab.lab.verify import _size

    spec = load_spec("kernels_asm/sgemm.sasm")
    assert _size(spec, None, True) == dict(M=67, N=45, K=33, beta=1)
    assert _size(spec, None, False) == dict(M=4096, N=4096, K=4096, beta=1)
    assert _size(spec, "K=8", True) == dict(M=67, N=45, K=8, beta=1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=40),
       st.floats(0, 1e-3), st.data())
def test_compare_reports_the_planted_error(values, delta, data):
    want = np.array(values)
    scale = np.abs(want) + 1.0
    i = data.draw(st.integers(0, len(values) - 1))
    got = want.copy()
    got[i] += delta * scale[i]
    (c,) = compare({"y": got}, {"y": want}, 1e-4, {"y": scale})
    assert c.max_rel_err == pytest.approx(delta, rel=1e-6, abs=1e-12)
    assert c.ok == (c.max_rel_err <= 1e-4) and c.nonfinite == 0
