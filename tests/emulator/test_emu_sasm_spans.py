"""Findings on assembled kernels name the .sasm line (Kernel.emulate passes the PTX → .sasm line map)."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.emulator import EmulatorCheckError

BUGGY = """\
.kernel scale(.u64 y, .u64 x, .f32 a, .u32 n)
.reg .u32  i
.reg .f32  xv
.reg .u64  off, px, py

    mov.u32         i, %tid.x
    mul.wide.u32    off, i, 4
    add.u64         px, x, off
    add.u64         py, y, off
    ld.global.f32   xv, [px]
    mul.f32         xv, xv, a
    st.global.f32   [py], xv
    ret
"""


def test_oob_finding_names_sasm_line():
    from sass_lab.api import assemble

    mod = assemble(BUGGY, file="buggy.sasm")
    k = mod["scale"]
    x = np.ones(40, np.float32)
    y = np.zeros(64, np.float32)
    with pytest.raises(EmulatorCheckError) as ei:
        k.emulate(1, 64, y, x, np.float32(2), np.uint32(40))  # no bounds check: threads 40..63 overrun x
    (f,) = ei.value.findings
    assert f.kind == "oob-global" and f.buffer == "x_param" and f.count == 24
    assert f.span is not None and f.span.file == "buggy.sasm" and f.span.line == 10
    assert "buggy.sasm:10" in ei.value.render()
    assert (y[:40] == 2).all()


def test_runtime_error_points_at_sasm_line():
    from sass_lab.api import assemble
    from sass_lab.errors import EmulatorError

    spin = BUGGY.replace("    ret\n", "spin:\n    bra             spin\n    ret\n")
    k = assemble(spin, file="spin.sasm")["scale"]
    with pytest.raises(EmulatorError) as ei:
        k.emulate(1, 32, np.zeros(32, np.float32), np.ones(32, np.float32), np.float32(2), np.uint32(32),
                  max_steps=200)
    assert "max_steps" in ei.value.message
    assert ei.value.span.file == "spin.sasm" and ei.value.span.line == 14  # the bra
    assert "PTX line" in ei.value.hint
