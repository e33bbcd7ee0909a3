"""A block over 1024 threads or over the kernel's ``.maxntid`` is refused at every layer with the same
words: at assembly (with the directive's line), at launch in the runtime (against the stand-in driver:
before any driver call that loads or launches), and in the emulator. Issue 11: ``-D BLOCK=4096``
assembled with exit 0, and the emulator ran a 32×16 block of a ``.maxntid 32,8`` kernel."""

from __future__ import annotations

import cuda.bindings
import numpy as np
import pytest

import sass_lab as sl
from sass_lab.errors import EmulatorError, ResourceError, SasmError, UsageError
from sass_lab.runtime import driver as drv_mod
from tests.runtime.runtime_fakes import FakeDriver

SRC = """.define NT = 32, NY = 8
.kernel fill(.u64 y)
.maxntid ${NT}, ${NY}
.reg .u32 i
.reg .u64 p
    mov.u32         i, %tid.x
    mul.wide.u32    p, i, 4
    add.u64         p, y, p
    st.global.f32   [p], 0f3F800000
    ret
"""


@pytest.fixture(scope="module")
def fill():
    return sl.assemble(SRC, file="fill.sasm")["fill"]


@pytest.fixture
def stand_in(monkeypatch):
    d = FakeDriver({})
    monkeypatch.setattr(cuda.bindings, "driver", d, raising=False)
    monkeypatch.setattr(drv_mod, "_CONTEXTS", {})
    return d


@pytest.mark.parametrize("nt, ny, words", [
    (4096, 1, ["fill.sasm:3:", ".maxntid 4096,1", "block.x = 4096 is outside 1..1024"]),
    (64, 32, ["fill.sasm:3:", ".maxntid 64,32", "2048 threads", "at most 1024"]),
    (0, 1, ["fill.sasm:3:", "block.x = 0"]),
])
def test_assembly_refuses_a_block_no_gpu_runs(nt, ny, words):
    with pytest.raises(SasmError) as e:
        sl.assemble(SRC.replace("NT = 32, NY = 8", f"NT = {nt}, NY = {ny}"), file="fill.sasm")
    text = e.value.render()
    for w in words:
        assert w in text, text


def test_the_cubin_carries_the_maxntid(fill):
    assert fill.resources.max_threads == 256


@pytest.mark.parametrize("block, words", [
    ((32, 16), ["fill", "512 threads", "limit of 256"]),
    ((2048,), ["2048", "1024"]),
    ((32, 1, 65), ["block.z = 65"]),
])
def test_runtime_refuses_before_loading(fill, stand_in, block, words):
    y = np.zeros(2048, np.float32)
    with pytest.raises((ResourceError, UsageError)) as e:
        fill.launch(1, block, y)
    for w in words:
        assert w in e.value.render(), e.value.render()
    assert not [c for c in stand_in.calls if c[0] in ("launch", "load")], stand_in.calls
    assert y.sum() == 0


@pytest.mark.parametrize("block, words", [
    ((32, 16), [".maxntid 32,8", "512 threads"]),
    ((2048,), ["2048", "1024"]),
])
def test_emulator_refuses(fill, block, words):
    y = np.zeros(2048, np.float32)
    with pytest.raises(EmulatorError) as e:
        fill.emulate(1, block, y)
    for w in words:
        assert w in e.value.render(), e.value.render()
    assert y.sum() == 0


def test_the_largest_allowed_block_runs(fill):
    y = np.zeros(256, np.float32)
    fill.emulate(1, (32, 8), y)
    assert (y[:32] == 1).all()  # every row writes the same 32 floats (tid.x only)
