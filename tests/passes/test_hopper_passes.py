"""Passes on Hopper code: hard scheduling boundaries, the wgmma async window, per-role pressure."""

from __future__ import annotations

import pytest

from sass_lab import ir
from sass_lab.dsl import frontend
from sass_lab.passes import flow, run_passes
from sass_lab.passes.schedule import is_boundary

HEAD = """\
.kernel k(.u64 q)
.reg .f32 a, b, c, d, x[8], y[8]
.reg .f32 acc[8]
.reg .b64 da, db
.reg .b32 bar
.reg .pred p, ok
"""

BOUNDARIES = [
    "wgmma.fence.sync.aligned",
    "wgmma.commit_group.sync.aligned",
    "wgmma.wait_group.sync.aligned 0",
    "mbarrier.try_wait.parity.shared::cta.b64 ok, [bar], 0",
    "mbarrier.arrive.shared::cta.b64 da, [bar]",
    "fence.proxy.async.shared::cta",
    "barrier.cluster.arrive.release.aligned",
    "barrier.cluster.wait.acquire.aligned",
    "cp.async.bulk.commit_group",
    "cp.async.bulk.wait_group.read 0",
    "setmaxnreg.dec.sync.aligned.u32 40",
    "elect.sync _|p, 0xffffffff",
    "griddepcontrol.wait",
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_scheduler_never_moves_code_across_hopper_synchronisation(boundary):
    """Cheap adds before the boundary and long loads after it: a free scheduler would hoist the loads
    (their latency) above the adds; across the boundary it must not."""
    before = "\n".join(f"    add.f32 x[{i}], a, b" for i in range(4))
    after = "\n".join(f"    ld.global.f32 y[{i}], [q+{4 * i}]" for i in range(4))
    use = "\n".join(f"    add.f32 c, c, y[{i}]" for i in range(4)) + "\n    st.global.f32 [q], c"
    src = HEAD + ".schedule\n" + before + f"\n    {boundary}\n" + after + "\n" + use + "\n.end\n    ret\n"
    k = frontend(src, "s.sasm", {}).module.kernels[0]
    k2, rep = run_passes(k, share_registers=False)
    body = [s for s in k2.body if isinstance(s, ir.Instr)]
    cut = next(i for i, s in enumerate(body) if is_boundary(s))
    assert {s.operands[0].name for s in body[:cut] if s.opcode == "add"} == {f"x_{i}" for i in range(4)}
    assert not [s for s in body[:cut] if s.opcode == "ld" and "global" in s.mods]
    free, _ = run_passes(frontend(src.replace(boundary, "add.f32 d, a, b"), "s.sasm", {}).module.kernels[0],
                         share_registers=False)
    order = [s.opcode for s in free.body if isinstance(s, ir.Instr) and s.opcode in ("add", "ld")]
    assert order.index("ld", 1) < 4  # without the boundary a load does move up (the test can fail)


def test_wgmma_mma_async_keeps_its_place_among_shared_memory_operations():
    src = HEAD + """.schedule
    st.shared.f32 [bar], a
    wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {acc}, da, db, p, 1, 1, 0, 0
    st.shared.f32 [bar+4], b
.end
    ret
"""
    k2, _ = run_passes(frontend(src, "s.sasm", {}).module.kernels[0], share_registers=False)
    ops = [s.opcode for s in k2.body if isinstance(s, ir.Instr)]
    assert ops.index("st") < ops.index("wgmma") < len(ops) - 1 - ops[::-1].index("st")


WINDOW = HEAD + """\
    wgmma.fence.sync.aligned
    wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {acc}, da, db, p, 1, 1, 0, 0
    wgmma.commit_group.sync.aligned
    add.f32 c, a, b
    add.f32 d, c, a
    st.global.f32 [q], d
    wgmma.wait_group.sync.aligned 0
    ret
"""


def test_accumulators_stay_live_until_the_wait_group():
    """The accumulators are never read again, but the tensor cores write them until the wait: they stay
    live through the window, so register sharing gives c and d registers of their own."""
    k = frontend(WINDOW, "w.sasm", {}).module.kernels[0]
    fl = flow(k)
    at = next(i for i, s in enumerate(k.body) if isinstance(s, ir.Instr) and s.opcode == "add")
    live = fl.regs.decode(fl.live_after[at])
    assert {f"acc_{i}" for i in range(8)} <= live
    k2, rep = run_passes(k)
    body = [s for s in k2.body if isinstance(s, ir.Instr)]
    adds = [s for s in body if s.opcode == "add"]
    assert not any(s.operands[0].name.startswith("acc") for s in adds)
    wait = next(i for i, s in enumerate(k.body) if isinstance(s, ir.Instr) and s.mods[:1] == ("wait_group",))
    assert not {f"acc_{i}" for i in range(8)} & fl.regs.decode(fl.live_after[wait])


ROLES = """\
.kernel k(.u64 q)
.maxntid 384
.reg .f32 v[{N}]
.reg .b32 w
.reg .pred p
    mov.u32 w, %tid.x
    shr.u32 w, w, 7
    setp.eq.u32 p, w, 0
@p  bra producer
    setmaxnreg.inc.sync.aligned.u32 {INC}
% for i in range({N}):
    ld.global.f32 v[${{i}}], [q+${{4 * i}}]
% end
% for i in range(1, {N}):
    add.f32 v[0], v[0], v[${{i}}]
% end
    st.global.f32 [q], v[0]
    ret
producer:
    setmaxnreg.dec.sync.aligned.u32 {DEC}
% for i in range({M}):
    ld.global.f32 v[${{i}}], [q+${{4 * i}}]
% end
% for i in range(1, {M}):
    add.f32 v[0], v[0], v[${{i}}]
% end
    st.global.f32 [q+4], v[0]
    ret
"""


def test_pressure_is_reported_per_warpgroup_role():
    k = frontend(ROLES.format(N=100, M=16, INC=232, DEC=40), "r.sasm", {}).module.kernels[0]
    _, rep = run_passes(k)
    roles = rep.pressure.roles
    assert [(r.action, r.limit) for r in roles] == [("inc", 232), ("dec", 40)]
    consumer, producer = roles
    assert 100 <= consumer.peak <= 106 and consumer.fits
    assert 16 <= producer.peak <= 22 and producer.fits
    assert "setmaxnreg.dec 40" in producer.describe() and not rep.warnings


def test_a_role_over_its_registers_and_an_illegal_count_warn():
    k = frontend(ROLES.format(N=64, M=40, INC=232, DEC=24), "r.sasm", {}).module.kernels[0]
    _, rep = run_passes(k)
    assert any("setmaxnreg.dec 24" in w and "spill in that role" in w for w in rep.warnings)
    k = frontend(ROLES.format(N=64, M=8, INC=228, DEC=40), "r.sasm", {}).module.kernels[0]
    _, rep = run_passes(k)
    assert any("setmaxnreg 228" in w and "multiple of 8 in [24, 256]" in w for w in rep.warnings)
