"""One way to run a kernel: the emulator and the GPU answer the same call (findings come back)."""

from __future__ import annotations

import numpy as np
import pytest

import sass_lab as sl
import sass_lab.runtime as rt
from sass_lab.device import GPU, Device, Emulator, Launch, device

# each thread writes out[tid + 1]: the last thread writes one element past the end
OOB = """
.kernel k(.u64 out)
    .reg .u32 t
    .reg .u64 a
    mov.u32 t, %tid.x
    add.u32 t, t, 1
    mul.wide.u32 a, t, 4
    add.u64 a, out, a
    st.global.u32 [a], t
    ret
"""


def test_both_devices_answer_the_protocol():
    for cls in (Emulator, GPU):
        assert all(callable(getattr(cls, m)) for m in ("launch",)) and set(Device.__annotations__) <= set(dir(cls))
    assert isinstance(device(True), Emulator)


def test_emulator_returns_outputs_and_findings():
    k = sl.assemble(OOB)["k"]
    out = np.zeros(8, np.uint32)
    run = Emulator().launch(k, (1, 1, 1), (8, 1, 1), [out])
    assert isinstance(run, Launch) and run.device == "emulator" and not run.ok
    assert [f.kind for f in run.findings] == ["oob-global"]
    assert list(out[1:]) == list(range(1, 8))  # written back although a check failed
    ok = Emulator().launch(k, (1, 1, 1), (7, 1, 1), [out])
    assert ok.ok and ok.findings == () and ok.seconds > 0


@pytest.mark.skipif(rt.available(), reason="a GPU is present: the no-GPU path cannot be shown")
def test_gpu_device_without_a_gpu_is_one_sentence():
    with pytest.raises(sl.NoGPUError):
        device(False)


def test_a_finding_fails_verification(tmp_path):
    from sass_lab.lab.verify import verify
    from sass_lab.ui.verify import verify_table

    f = tmp_path / "oob.sasm"
    f.write_text(OOB + '''
%% lab
OUTPUTS = ["out"]
SIZE = dict(n=8)
TEST_SIZES = [dict(n=8)]
def grid(s, d): return (1, 1, 1)
def block(s, d): return (s["n"], 1, 1)
def inputs(s, d, rng): return {"out": np.zeros(s["n"], np.uint32)}
def reference(a, s, d): return {"out": np.arange(s["n"], dtype=np.float64)}
def flops(s): return 0
def nbytes(s): return 4 * s["n"]
TOL = 0
TOL_WHY = "integers"
%%
''')
    r = verify(f, seed=1)
    assert all(c.ok for c in r.checks) and r.findings and not r.ok
    assert r.to_dict()["findings"][0].startswith("k: out-of-bounds global access")
    from rich.console import Console

    con = Console(width=200, record=True)
    con.print(verify_table(r))
    assert "out-of-bounds global access" in con.export_text()
