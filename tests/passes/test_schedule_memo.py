"""The scheduler remembers a run by its content: the same answer, applied to this kernel's objects."""

from __future__ import annotations

from passes_ir import instrs, kernel

from sass_lab.passes import run_passes
from sass_lab.passes import schedule as S

REGS = ".reg .u64 q\n.reg .f32 a, b, c, d, e\n"
RUN = """
.schedule
    ld.global.f32 a, [q]
    add.f32 b, a, a
    ld.global.f32 c, [q+4]
    add.f32 d, c, c
.end
    st.global.f32 [q], b
    st.global.f32 [q+8], d
"""


def test_a_remembered_run_gives_the_same_schedule_on_the_new_kernels_instructions():
    S._MEMO.clear()
    k1 = kernel(REGS + "    mov.u64 q, 0\n" + RUN)
    k2 = kernel(REGS + "    mov.u64 q, 0\n" + RUN + "    st.global.f32 [q+12], d\n")  # same run, more after
    a, ra = S.schedule(k1)
    n = len(S._MEMO)
    b, rb = S.schedule(k2)
    assert len(S._MEMO) == n == 1
    assert ra.regions[0].moved == rb.regions[0].moved == 2
    assert instrs(a)[1:5] == instrs(b)[1:5] == ["ld.global.f32 a, [q]", "ld.global.f32 c, [q+4]",
                                               "add.f32 b, a, a", "add.f32 d, c, c"]
    body = {id(x) for x in k2.body}
    assert all(id(x) in body for x in b.body)  # the new kernel's own objects, reordered
    assert ra.regions[0] == rb.regions[0]


def test_registers_passing_through_are_part_of_the_key():
    S._MEMO.clear()
    head = REGS + "    mov.u64 q, 0\n    mov.f32 e, 1.0\n"
    S.schedule(kernel(head + RUN))  # e is dead: nothing passes through the run
    S.schedule(kernel(head + RUN + "    st.global.f32 [q+12], e\n"))
    assert len(S._MEMO) == 2  # e occupies a register around the run: another pressure base


def test_a_different_limit_is_a_different_run():
    S._MEMO.clear()
    k = kernel(REGS + "    mov.u64 q, 0\n" + RUN)
    run_passes(k)
    run_passes(k, max_pressure=3)
    assert sum(len(v) for v in S._MEMO.values()) == 2


def test_a_limit_that_decided_nothing_serves_every_limit_above(monkeypatch):
    S._MEMO.clear()
    k = kernel(REGS + "    mov.u64 q, 0\n" + RUN)
    a, ra = run_passes(k, max_pressure=64)  # far above what the run needs
    (entry,) = next(iter(S._MEMO.values()))
    assert entry[1] is not None and entry[1] <= 64  # the limit never bound
    calls = []
    monkeypatch.setattr(S, "_schedule_run", lambda *a: calls.append(a))
    b, rb = run_passes(k, max_pressure=entry[1])  # the lowest limit it serves: no new schedule
    assert not calls and b.body == a.body and rb.schedule.regions == ra.schedule.regions
    monkeypatch.undo()
    c, rc = run_passes(k, max_pressure=entry[1] - 1)  # below it: scheduled again
    assert sum(len(v) for v in S._MEMO.values()) == 2
    fresh = S._MEMO.clear() or run_passes(k, max_pressure=entry[1] - 1)
    assert c.body == fresh[0].body and rc.schedule.regions == fresh[1].schedule.regions
