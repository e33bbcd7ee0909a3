"""Pressure-aware scheduling: the run-local value model, the limit, and the occupancy-neutral default."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passes_ir import execute, kernel
from passes_strategies import OPS, TABLES, program

from sass_lab import ir
from sass_lab.passes import run_passes
from sass_lab.passes.budget import schedule_limit
from sass_lab.passes.defuse import DefUse
from sass_lab.passes.liveness import flow, liveness
from sass_lab.passes.runpressure import run_pressure
from sass_lab.passes.schedule import schedule


def loads_then_fmas(n: int, temps: int, directives: str = "") -> ir.Kernel:
    """``n`` shared loads each feeding one FMA into 8 accumulators: hoisting loads costs registers."""
    lines = [directives, ".reg .f32 " + ", ".join(f"acc{i}" for i in range(8)),
             ".reg .f32 " + ", ".join(f"t{i}" for i in range(temps)), ".reg .u64 q", "  mov.u64 q, 0"]
    lines += [f"  mov.f32 acc{i}, 0.0" for i in range(8)]
    lines.append(".schedule")
    for i in range(n):
        lines += [f"  ld.shared.f32 t{i % temps}, [q+{4 * i}]",
                  f"  fma.rn.f32 acc{i % 8}, t{i % temps}, t{i % temps}, acc{i % 8}"]
    lines.append(".end")
    lines += [f"  st.global.f32 [q+{4 * i}], acc{i}" for i in range(8)]
    return kernel("\n".join(lines))


def _live_peak(k: ir.Kernel) -> int:
    fl = flow(k)
    return max(fl.regs.count(x) for x in fl.live_after)


def test_value_model_matches_liveness_on_the_original_order():
    k = loads_then_fmas(16, 16)
    du = DefUse()
    fl = flow(k, du)
    begin = next(i for i, s in enumerate(k.body) if isinstance(s, ir.ScheduleBegin))
    end = next(i for i, s in enumerate(k.body) if isinstance(s, ir.ScheduleEnd))
    run = list(k.body[begin + 1:end])
    types = dict(zip(fl.regs.names, fl.regs.types))
    m = run_pressure(run, du, fl.regs.decode(fl.live_after[begin]), fl.regs.decode(fl.live_after[end - 1]), types)
    assert m.base == fl.regs.count(fl.live_after[begin]) == 8 + 2
    assert m.peak(range(len(run))) == max(fl.regs.count(fl.live_after[i]) for i in range(begin, end)) == 11
    hoisted = [2 * i for i in range(16)] + [2 * i + 1 for i in range(16)]
    assert m.peak(hoisted) == 8 + 2 + 16


@pytest.mark.parametrize("directives, peak, limit", [
    ("", 67, 72),  # round up to the 8-register allocation step
    ("", 64, 64),
    (".maxntid 256", 67, 80),  # 72 regs x 256 threads -> 3 blocks; 3 blocks allow 85 -> 80
    (".maxntid 1024", 20, 32),  # 2 blocks of 32 warps fill the SM; 2 blocks allow 32
    (".maxntid 128\n.minnctapersm 8", 40, 40),  # 12 blocks at 40; more would cost blocks
    (".maxntid 128\n.minnctapersm 8", 70, 70),  # already over budget: never below the peak
    (".maxntid 128\n.minnctapersm 8", 20, 32),  # 16 blocks (warp limit) allow 32
    (".maxntid 64\n.minnctapersm 30", 20, 32),  # the 32-block limit binds: 32 regs, budget 32
    (".maxnreg 24\n.maxntid 256", 20, 24),  # 32 would be free for occupancy, but .maxnreg says 24
    (".maxntid 256", 250, 250),  # over the 248 budget already: the peak is the limit
])
def test_schedule_limit(directives, peak, limit):
    assert schedule_limit(kernel(directives), peak) == limit


def test_default_limit_keeps_the_peak_within_the_allocation_step():
    k = loads_then_fmas(64, 64)
    assert liveness(k).peak == 11
    k2, rep = schedule(k)
    assert rep.pressure_limit == 16 and _live_peak(k2) <= 16
    r = rep.regions[0]
    assert r.peak_before == 11 and r.peak_after <= 16 and r.cycles_after < r.cycles_before
    free, frep = schedule(k, pressure_aware=False)
    assert _live_peak(free) > 40 and frep.pressure_limit is None
    assert frep.regions[0].cycles_after <= r.cycles_after  # more registers never hurt the model


@pytest.mark.parametrize("limit", [11, 14, 20, 40])
def test_explicit_limit_is_respected(limit):
    k = loads_then_fmas(48, 48)
    k2, rep = schedule(k, max_pressure=limit)
    assert _live_peak(k2) <= limit and rep.regions[0].peak_after <= limit
    assert execute(k2)["mem"] == execute(k)["mem"]


def test_more_registers_buy_more_latency_hiding():
    k = loads_then_fmas(48, 48)
    cycles = [schedule(k, max_pressure=lim)[1].regions[0].cycles_after for lim in (11, 14, 20, 40)]
    assert cycles == sorted(cycles, reverse=True) and cycles[0] > cycles[-1]


def test_run_passes_uses_the_occupancy_neutral_limit():
    k = loads_then_fmas(64, 64, ".maxntid 256")
    k2, rep = run_passes(k)
    assert rep.schedule.pressure_limit == 32  # 8 blocks of 8 warps fill the SM at any count up to 32
    assert rep.pressure.peak <= 32 and rep.sharing.merged > 20


@settings(max_examples=120, deadline=None)
@given(st.lists(OPS, min_size=1, max_size=30), TABLES, st.integers(0, 12))
def test_pressure_aware_schedules_stay_under_the_limit(ops, table, extra):
    k = kernel(program(ops))
    base = _live_peak(k)
    k2, rep = schedule(k, table, max_pressure=base + extra)
    assert _live_peak(k2) <= base + extra
    assert execute(k2)["mem"] == execute(k)["mem"]
    r = rep.regions[0]
    assert r.peak_before <= base and r.peak_after <= base + extra
    assert schedule(k, table, max_pressure=base + extra)[0].body == k2.body


def regions_kernel(n_instr: int, temps: int = 400, region: int = 1000) -> ir.Kernel:
    """Named registers and ``.schedule`` regions of ``2 * region`` instructions, built directly."""
    acc = [ir.Reg(f"acc{i}", "f32") for i in range(64)]
    t = [ir.Reg(f"t{i}", "f32") for i in range(temps)]
    q = ir.Reg("q", "u64")
    regs = tuple(ir.RegDecl(r.name, r.type) for r in (*acc, *t, q))
    body: list[ir.Stmt] = [ir.Instr("mov", ("u64",), (q, ir.Imm(0, "0")))]
    body += [ir.Instr("mov", ("f32",), (a, ir.Imm(0.0, "0f00000000"))) for a in acc]
    i = 0
    while len(body) < n_instr:
        if i % region == 0:
            body.append(ir.ScheduleBegin())
        x = t[i % temps]
        body.append(ir.Instr("ld", ("shared", "f32"), (x, ir.Mem(q, 4 * (i % 256)))))
        body.append(ir.Instr("fma", ("rn", "f32"), (acc[i % 64], x, x, acc[i % 64])))
        i += 1
        if i % region == 0:
            body.append(ir.ScheduleEnd())
    if i % region:
        body.append(ir.ScheduleEnd())
    body += [ir.Instr("st", ("global", "f32"), (ir.Mem(q, 4 * j), a)) for j, a in enumerate(acc)]
    return ir.Kernel("regions", (), regs, (), (ir.Directive("maxntid", (256,)),), tuple(body))


def test_twenty_thousand_instructions_through_run_passes():
    import time

    k = regions_kernel(20_000)
    t0 = time.process_time()
    k2, rep = run_passes(k)
    dt = time.process_time() - t0
    assert len(rep.schedule.regions) == 10 and rep.schedule.pressure_limit == 80
    assert rep.pressure.peak <= 80 and rep.sharing.merged > 300
    assert rep.schedule.cycles_after * 10 < rep.schedule.cycles_before
    assert dt < 10, f"run_passes took {dt:.2f}s of CPU"  # ~0.75 s measured; catches blow-ups


@pytest.mark.parametrize("kw, limit", [({}, 32), ({"max_pressure": 20}, 20), ({"pressure_aware": False}, None)])
def test_run_passes_forwards_pressure_options(kw, limit):
    k = loads_then_fmas(32, 32, ".maxntid 256")
    k2, rep = run_passes(k, **kw)
    assert rep.schedule.pressure_limit == limit
    assert rep.pressure.peak <= (limit or 99) and rep.pressure == liveness(k2)


def test_limit_below_the_peak_asks_for_relief():
    hoisted = loads_then_fmas(24, 24)
    begin = next(i for i, s in enumerate(hoisted.body) if isinstance(s, ir.ScheduleBegin))
    run = list(hoisted.body[begin + 1:begin + 49])
    body = list(hoisted.body)
    body[begin + 1:begin + 49] = run[0::2] + run[1::2]  # every load first: 24 temporaries live
    k = ir.Kernel("k", (), hoisted.regs, (), (), tuple(body))
    assert _live_peak(k) == 8 + 2 + 24
    k2, rep = schedule(k, max_pressure=12)
    r = rep.regions[0]
    assert r.peak_before == 34 and r.peak_after <= 12 and _live_peak(k2) <= 12
    assert r.moved > 0 and execute(k2)["mem"] == execute(k)["mem"]
    assert schedule(k)[0].body == k.body  # the default limit never asks for relief


def test_report_says_what_the_limit_cost():
    k = loads_then_fmas(64, 64)
    _, rep = schedule(k)
    r = rep.regions[0]
    free = schedule(k, pressure_aware=False)[1].regions[0]
    assert r.free_cycles == free.cycles_after < r.cycles_after and r.free_peak > rep.pressure_limit
    assert "held back by the register limit" in r.describe()
    _, roomy = schedule(k, max_pressure=200)
    assert roomy.regions[0].free_cycles == roomy.regions[0].cycles_after
    assert "held back" not in roomy.regions[0].describe()
