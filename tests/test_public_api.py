"""The public API: assemble/assemble_file → Module of Kernels with ptx, cubin, resources, occupancy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import sass_lab as sl
from sass_lab.paths import KERNELS

SAXPY = KERNELS / "saxpy.sasm"


def test_assemble_file_module_shape():
    mod = sl.assemble_file(SAXPY, arch="sm_90")
    assert len(mod) == 1 and list(mod.kernels) == ["saxpy"]
    k = mod["saxpy"]
    assert k.ptx.startswith("//") or ".version 9.0" in k.ptx
    assert ".version 9.0" in k.ptx and ".target sm_90" in k.ptx
    assert k.cubin[:4] == b"\x7fELF"
    assert k.resources.registers > 0 and k.resources.spill_stores == 0
    occ = k.occupancy(block=256)
    assert occ.block == 256 and 0 < occ.percent <= 100
    assert k.pressure.peak > 0
    assert [p.name for p in k.params][:1] and len(k.params) == 4


def test_defines_override_changes_the_binary():
    a = sl.assemble_file(SAXPY, defines={"ITEMS": 1})
    b = sl.assemble_file(SAXPY, defines={"ITEMS": 4})
    assert a.defines["ITEMS"] == 1 and b.defines["ITEMS"] == 4
    assert a.ptx.count("fma.rn.f32") == 1 and b.ptx.count("fma.rn.f32") == 4


def test_unknown_kernel_and_arch_are_user_errors():
    mod = sl.assemble_file(SAXPY)
    with pytest.raises(sl.UsageError, match="no kernel 'nope'"):
        mod["nope"]
    with pytest.raises(sl.UsageError, match="unknown arch"):
        sl.assemble_file(SAXPY, arch="sm_42")
    with pytest.raises(sl.UsageError, match="cannot read"):
        sl.assemble_file(KERNELS / "missing.sasm")


def test_source_error_has_location_and_caret():
    src = ".kernel k(.u64 p)\n.reg .f32 x\n    mov.f32 y, 0f00000000\n    ret\n"
    with pytest.raises(sl.SourceError) as ei:
        sl.assemble(src, file="bad.sasm")
    e = ei.value
    assert e.span.file == "bad.sasm" and e.span.line == 3
    text = e.render()
    assert text.startswith("bad.sasm:3:") and "mov.f32 y" in text and "^" in text
    assert pickle.loads(pickle.dumps(e)).render() == text


def test_emulate_through_the_kernel_object():
    k = sl.assemble_file(SAXPY)["saxpy"]
    n = 1000
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    want = (np.float64(2.5) * x + y).astype(np.float32)
    k.emulate((-(-n // 1024), 1, 1), (256, 1, 1), y, x, np.float32(2.5), np.uint32(n))
    np.testing.assert_allclose(y, want, rtol=1e-6)


def test_sass_through_the_kernel_object():
    k = sl.assemble_file(SAXPY)["saxpy"]
    ops = [i.opcode for i in k.sass]
    assert "FFMA" in ops and "EXIT" in ops


@pytest.mark.parametrize("arch", sl.ARCHS)
def test_every_target(arch):
    mod = sl.assemble_file(KERNELS / "reduce.sasm", arch=arch)
    assert f".target {arch}" in mod.ptx and mod.cubin[:4] == b"\x7fELF"
