"""Regression tests for issue 13's defects: each failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
from ptxkit import kernel
from test_emu_instructions import LOAD, STORE, run

from sass_lab.emulator import EmulatorCheckError, emulate

N = 64


def test_statement_split_over_lines_and_constant_expressions():
    body = ("add.u32\n        %r6,\n        %r5,\n        ((128 >> 4) << 16);\n"
            "shl.b32 %r7, %r5, (1 + 1);\n    add.u32 %r6, %r6, %r7;")
    vals = np.arange(N, dtype=np.uint32)
    np.testing.assert_array_equal(run(LOAD + body + STORE, vals), vals + (8 << 16) + vals * 4)


CONST_ODD = """.version 8.0
.target sm_80
.address_size 64
.const .align 1 .b8 bytes[5] = {1, 2, 3, 4, 5};
.visible .entry k(.param .u64 out_param)
{
    .reg .b16 %rs<2>; .reg .b32 %r<8>; .reg .b64 %rd<6>;
    mov.u32 %r0, %tid.x;
    cvt.u64.u32 %rd1, %r0;
    mov.u64 %rd2, bytes;
    add.s64 %rd3, %rd2, %rd1;
    ld.const.u8 %rs1, [%rd3];
    cvt.u32.u16 %r1, %rs1;
    ld.param.u64 %rd0, [out_param]; mul.wide.u32 %rd4, %r0, 4; add.s64 %rd5, %rd0, %rd4;
    st.global.u32 [%rd5], %r1;
    ret;
}
"""


def test_ld_const_with_an_odd_sized_const_bank():
    out = np.zeros(5, np.uint32)
    emulate(CONST_ODD, "k", 1, 5, [out])
    np.testing.assert_array_equal(out, [1, 2, 3, 4, 5])


# threads past n branch to the final ret; the rest meet at a warp collective (sm_70+: exited threads
# are not waited for), so a correct grid-stride style kernel has no finding
EARLY_EXIT = "setp.ge.u32 %p5, %r0, 40; @%p5 bra EXIT_NOW;"


@pytest.mark.parametrize("op", [
    "bar.warp.sync -1; mov.u32 %r6, %r5;",
    "vote.sync.ballot.b32 %r6, %p5, -1;",
    "redux.sync.add.u32 %r6, %r5, -1;",
    "shfl.sync.bfly.b32 %r6, %r5, 1, 31, -1;",
])
def test_lanes_at_ret_are_not_members_of_warp_collectives(op):
    body = EARLY_EXIT + LOAD + op + STORE + "EXIT_NOW:"
    out = np.zeros(N, np.uint32)
    emulate(kernel(body), "k", 1, N, [out, np.arange(N, dtype=np.uint32), np.uint32(N)])
    assert out[40:].sum() == 0


def test_lanes_elsewhere_are_still_divergence():
    body = ("setp.ge.u32 %p5, %r0, 40; @%p5 bra LATER;" + LOAD + "shfl.sync.bfly.b32 %r6, %r5, 1, 31, -1;" + STORE
            + "LATER: bar.warp.sync -1;")
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel(body), "k", 1, N, [np.zeros(N, np.uint32), np.arange(N, dtype=np.uint32), np.uint32(N)])
    assert {f.kind for f in e.value.findings} == {"warp-divergence"}


def test_shfl_by_a_lane_outside_its_member_mask_is_a_finding():
    body = LOAD + "shfl.sync.idx.b32 %r6, %r5, 0, 31, 0xFFFF;" + STORE  # lanes 16..31 not in the mask
    with pytest.raises(EmulatorCheckError) as e:
        emulate(kernel(body), "k", 1, 32, [np.zeros(32, np.uint32), np.arange(32, dtype=np.uint32), np.uint32(32)])
    (f,) = e.value.findings
    assert f.kind == "membermask" and f.thread == (16, 0, 0) and f.count == 16


@pytest.mark.parametrize("arch, nsm", [("sm_80", 108), ("sm_90", 132)])
def test_special_registers_from_the_arch_tables(arch, nsm):
    body = ("mov.u32 %r6, %nsmid; mov.u32 %r7, %envreg3; add.u32 %r6, %r6, %r7;"
            "mov.u32 %r8, %reserved_smem_offset_cap; shl.b32 %r8, %r8, 8; add.u32 %r6, %r6, %r8;"
            "mov.u32 %r8, %total_smem_size; shl.b32 %r8, %r8, 20; add.u32 %r6, %r6, %r8;"
            "mov.u64 %rd10, %clock64; mov.u64 %rd11, %globaltimer; setp.lt.u64 %p1, %rd10, %rd11;"
            "selp.u32 %r9, 0, 1, %p1; add.u32 %r6, %r6, %r9;")
    ptx = kernel(body + STORE).replace(".target sm_80", f".target {arch}")
    out = np.zeros(32, np.uint32)
    emulate(ptx, "k", 1, 32, [out, np.zeros(32, np.uint32), np.uint32(32)])
    assert (out == nsm + (1024 << 8) + ((256 + 1024) << 20)).all()  # 256 bytes of sA + 1 KB reserved; time goes on


def test_unmodelled_special_registers_are_refused_at_decode_time():
    with pytest.raises(Exception, match="special register '%pm0' is not modelled"):
        emulate(kernel("mov.u32 %r6, %pm0;"), "k", 1, 32, [np.zeros(32, np.uint32)] * 2 + [np.uint32(1)])
