"""Spin-waits under the emulator's scheduler: a group that keeps branching back while other lanes could run
yields to them (sm_70+ independent thread scheduling), so locks and inter-block flags work; a spin on a
block that never runs here ends at the step limit with a message that says so."""

from __future__ import annotations

import numpy as np
import pytest

from sass_lab.emulator import emulate
from sass_lab.errors import EmulatorError

# Thread 0 of block b waits (volatile loads) until block b + 1 has set its flag, then sets flag[b] and
# records the order; the last block goes first. On a GPU this needs every block resident at once.
REVERSE_CHAIN = """.version 8.0
.target sm_80
.address_size 64
.visible .entry chain(.param .u64 flags_param, .param .u64 seq_param, .param .u64 ticket_param)
{
    .reg .pred %p<4>;
    .reg .b32 %r<12>;
    .reg .b64 %rd<12>;
    mov.u32 %r0, %tid.x;
    setp.ne.u32 %p0, %r0, 0;
    @%p0 bra DONE;
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %nctaid.x;
    ld.param.u64 %rd0, [flags_param];
    ld.param.u64 %rd1, [seq_param];
    ld.param.u64 %rd2, [ticket_param];
    add.u32 %r3, %r1, 1;
    setp.ge.u32 %p1, %r3, %r2;
    @%p1 bra SET;
    mul.wide.u32 %rd3, %r3, 4;
    add.s64 %rd4, %rd0, %rd3;
SPIN:
    ld.volatile.global.u32 %r4, [%rd4];
    setp.eq.u32 %p2, %r4, 0;
    @%p2 bra SPIN;
SET:
    atom.global.add.u32 %r5, [%rd2], 1;
    mul.wide.u32 %rd5, %r1, 4;
    add.s64 %rd6, %rd1, %rd5;
    st.global.u32 [%rd6], %r5;
    membar.gl;
    add.s64 %rd7, %rd0, %rd5;
    st.volatile.global.u32 [%rd7], 1;
DONE:
    ret;
}
"""


@pytest.mark.no_wave_audit  # whether the awaited block is resident depends on the wave: each size is chosen here
@pytest.mark.parametrize("grid, block", [(6, 32), (3, 64)])
def test_blocks_spinning_on_later_blocks_of_the_same_wave_finish(grid, block):
    flags, seq, ticket = np.zeros(grid, np.uint32), np.full(grid, 99, np.uint32), np.zeros(1, np.uint32)
    emulate(REVERSE_CHAIN, "chain", grid, block, [flags, seq, ticket], wave_lanes=grid * block)
    np.testing.assert_array_equal(seq, np.arange(grid)[::-1])
    assert (flags == 1).all() and ticket[0] == grid


@pytest.mark.no_wave_audit
def test_a_spin_on_a_block_of_a_later_wave_ends_at_the_step_limit_and_says_why():
    z = np.zeros(4, np.uint32)
    with pytest.raises(EmulatorError, match=r"ran past max_steps=5000") as e:
        emulate(REVERSE_CHAIN, "chain", 4, 32, [z, z.copy(), z[:1].copy()], wave_lanes=32, max_steps=5000)
    assert "spin-wait for a thread that never runs here (a block in a later wave" in e.value.hint
