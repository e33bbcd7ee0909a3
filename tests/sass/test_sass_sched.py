"""The scoreboard model: hazards the checker must report (and must not), and auto control codes
that leave none — on small hand-written programs and on ptxas's own code."""

from __future__ import annotations

import pytest
from sass_fixtures import compile_fixture

from sass_lab.errors import Span
from sass_lab.sass import disassemble
from sass_lab.sass.control import encode
from sass_lab.sass.disasm import RawInstr, build
from sass_lab.sass.sassfile import parse_ctrl
from sass_lab.sass.sched import check_hazards, deps, schedule_control


def prog(*lines: str):
    """Instructions from ``"CTRL TEXT"`` lines (``NAME:`` lines label the next one)."""
    raws, labels, addr = [], [], 0
    for line in lines:
        if line.endswith(":"):
            labels.append(line[:-1])
            continue
        ctrl, text = line.split(None, 1)
        word = encode(parse_ctrl(ctrl, Span("t", 1)) or parse_ctrl("--:-:-:-:0", Span("t", 1)), 0)
        raws.append(RawInstr(addr, text if text.endswith(";") else text + " ;", word & (2**64 - 1), word >> 64,
                             tuple(labels)))
        labels, addr = [], addr + 16
    return build("t", raws)


def kinds(instrs):
    return [(h.kind, h.producer, h.consumer, h.reg) for h in check_hazards(instrs)]


def test_raw_through_a_load_needs_its_barrier():
    bad = prog("--:-:0:-:2 LDG.E R2, desc[UR4][R4.64]", "--:-:-:-:4 FADD R6, R2, R3")
    assert kinds(bad) == [("RAW", 0, 1, "R2")]
    good = prog("--:-:0:-:2 LDG.E R2, desc[UR4][R4.64]", "01:-:-:-:4 FADD R6, R2, R3")
    assert kinds(good) == []
    wrong_bar = prog("--:-:0:-:2 LDG.E R2, desc[UR4][R4.64]", "02:-:-:-:4 FADD R6, R2, R3")
    assert kinds(wrong_bar) == [("RAW", 0, 1, "R2")]
    unset = prog("--:-:-:-:2 LDG.E R2, desc[UR4][R4.64]", "3f:-:-:-:4 FADD R6, R2, R3")
    assert kinds(unset) == [("RAW", 0, 1, "R2")]
    assert "sets no barrier" in check_hazards(unset)[0].describe()


def test_war_on_a_store_source_and_waw_on_a_load():
    war = prog("--:1:-:-:1 STG.E desc[UR4][R4.64], R6", "--:-:-:-:4 MOV R6, R7")
    assert kinds(war) == [("WAR", 0, 1, "R6")]
    assert kinds(prog("--:1:-:-:2 STG.E desc[UR4][R4.64], R6", "02:-:-:-:4 MOV R6, R7")) == []
    waw = prog("--:-:0:-:2 LDG.E R2, desc[UR4][R4.64]", "--:-:-:-:4 MOV R2, R7")
    assert kinds(waw) == [("WAW", 0, 1, "R2")]


def test_fixed_latency_read_too_early():
    bad = prog("--:-:-:-:1 FFMA R1, R2, R3, R4", "--:-:-:-:4 FFMA R5, R1, R3, R4")
    (h,) = check_hazards(bad)
    assert (h.kind, h.reg) == ("RAW", "R1") and h.cycles >= 3
    assert kinds(prog("--:-:-:-:4 FFMA R1, R2, R3, R4", "--:-:-:-:4 FFMA R5, R1, R3, R4")) == []


def test_barrier_waited_too_soon():
    from sass_lab.sass.latency import table

    tab = table()  # the shipped, measured setup: ptxas never waits on a barrier 1 cycle after setting it
    assert tab.setup == 2 and tab.setup_of("LDG") == 2
    bad = prog("--:-:0:-:1 LDG.E R2, desc[UR4][R4.64]", "01:-:-:-:4 FADD R6, R2, R3")
    (h,) = check_hazards(bad)
    assert h.kind == "EARLY" and h.cycles == 1 and "too soon" in h.describe()
    ok = prog("--:-:0:-:2 LDG.E R2, desc[UR4][R4.64]", "01:-:-:-:4 FADD R6, R2, R3")
    assert check_hazards(ok) == []
    # auto control leaves the setup time
    out = schedule_control(prog("auto LDG.E R2, desc[UR4][R4.64]", "auto FADD R6, R2, R3"))
    assert out[0].stall >= 2 and check_hazards(out) == []


def test_setup_exception_of_a_stall_0_setter():
    from sass_lab.sass.latency import table

    tab = table()  # ptxas waits on USETMAXREG's barrier at once (its stall is 0: outside the cycle model)
    assert tab.setup_of("USETMAXREG") == 0 < tab.setup
    ok = prog("--:-:1:-:0 USETMAXREG.DEALLOC.CTAPOOL 0x28", "02:-:-:-:1 LDC R2, c[0x0][0x380]")
    assert check_hazards(ok) == []


MUFU = "--:-:-:-:{} MUFU.RCP64H R19, 3"


def _mufu_read_after(cycles: int):
    """An unbarriered MUFU.RCP64H (as ptxas writes it in the Hopper fixture) read ``cycles`` later."""
    fill = []
    left = cycles - 1
    while left > 0:
        fill.append(f"--:-:-:-:{min(left, 15)} NOP")
        left -= min(left, 15)
    return prog(MUFU.format(1), *fill, "--:-:-:-:1 DFMA R20, R18, -R2, 1")


def test_unbarriered_variable_latency_bound_is_measured_and_a_short_distance_is_still_a_hazard():
    from sass_lab.sass.latency import table

    bound = table().bound["MUFU.RCP64H R"]  # the least distance ptxas ever leaves (measured)
    assert 15 < bound <= 92  # 92: the Hopper fixture's own distance, part of the harvest
    assert kinds(_mufu_read_after(bound)) == []
    (h,) = check_hazards(_mufu_read_after(bound - 1))
    assert (h.kind, h.reg) == ("RAW", "R19") and h.age == bound - 1
    assert f"issued {bound - 1} cycle(s) before" in h.describe()
    (h,) = check_hazards(_mufu_read_after(4))  # a genuinely short distance
    assert (h.kind, h.reg, h.age) == ("RAW", "R19", 4)
    # the bound holds only for the variant measured, and only without a barrier
    assert kinds(prog("--:-:-:-:1 MUFU.BOGUS R19, R3", *["--:-:-:-:15 NOP"] * 60, "--:-:-:-:1 FADD R20, R19, R2"))
    barred = prog("--:-:0:-:1 MUFU.RCP64H R19, 3", *["--:-:-:-:15 NOP"] * 10, "--:-:-:-:1 DFMA R20, R18, -R2, 1")
    assert kinds(barred) == [("RAW", 0, 11, "R19")]


def test_unbarriered_bounds_over_a_branch_take_the_shortest_path():
    from dataclasses import replace

    from sass_lab.sass.latency import table
    from sass_lab.sass.sched import unbarriered_bounds

    code = prog(MUFU.format(2), "--:-:-:-:5 @P0 BRA `(.L_x_0)", "--:-:-:-:15 NOP", ".L_x_0:",
                "--:-:-:-:1 DFMA R20, R18, -R2, 1")
    assert unbarriered_bounds([code], table()) == {"MUFU.RCP64H R": 7}  # 2 + 5, the branch taken
    assert check_hazards(code, replace(table(), bound={"MUFU.RCP64H R": 8}))
    assert check_hazards(code, replace(table(), bound={"MUFU.RCP64H R": 7})) == []
    # an overwrite proves no bound (the producer need only land before the overwriter does)
    assert unbarriered_bounds([prog(MUFU.format(2), "--:-:-:-:1 MOV R19, RZ")], table()) == {}


def test_unbarriered_bounds_are_per_result_class():
    """ptxas reads ATOM's predicate result 5 cycles later without a barrier: that bounds predicates
    only; its register result read as soon stays a hazard."""
    from dataclasses import replace

    from sass_lab.sass.latency import table
    from sass_lab.sass.sched import unbarriered_bounds

    atom = "--:-:-:-:5 ATOM.E.ADD.F16x2.RN.STRONG.GPU P1, R3, desc[UR6][R6.64], R13"
    assert unbarriered_bounds([prog(atom, "--:-:-:-:5 @P1 BRA `(.L_x_0)", ".L_x_0:", "--:-:-:-:5 EXIT")], table()) \
        == {"ATOM.E.ADD.F16x2.RN.STRONG.GPU P": 5}
    tab = replace(table(), bound={"ATOM.E.ADD.F16x2.RN.STRONG.GPU P": 5})
    assert check_hazards(prog(atom, "--:-:-:-:5 @P1 BRA `(.L_x_0)", ".L_x_0:", "--:-:-:-:5 EXIT"), tab) == []
    (h,) = check_hazards(prog(atom, "--:-:-:-:1 IADD3 R4, R3, R3, RZ"), tab)
    assert (h.kind, h.reg, h.age) == ("RAW", "R3", 5)


def test_in_order_queue_covers_an_earlier_load():
    ok = prog("--:-:-:-:1 LDS R1, [R8]", "--:-:0:-:2 LDS R2, [R8+0x4]", "01:-:-:-:4 FADD R6, R1, R2")
    assert kinds(ok) == []
    other_queue = prog("--:-:-:-:1 LDG.E R1, desc[UR4][R4.64]", "--:-:0:-:2 LDS R2, [R8+0x4]",
                       "01:-:-:-:4 FADD R6, R1, R2")
    assert kinds(other_queue) == [("RAW", 0, 2, "R1")]


def test_depbar_keeps_the_newest():
    p = ["--:-:0:-:1 LDS R1, [R8]", "--:-:0:-:2 LDS R2, [R8+0x4]", "--:-:-:-:2 DEPBAR.LE SB0, 0x1"]
    assert kinds(prog(*p, "--:-:-:-:4 FADD R6, R1, R1")) == []
    assert kinds(prog(*p, "--:-:-:-:4 FADD R6, R2, R2")) == [("RAW", 1, 3, "R2")]


def test_hazard_around_a_loop():
    loop = prog(".L_x_0:", "--:-:-:-:4 FADD R6, R2, R3", "--:-:0:-:2 LDG.E R2, desc[UR4][R4.64]",
                "--:-:-:-:2 ISETP.NE.AND P0, PT, R6, RZ, PT", "--:-:-:-:5 @P0 BRA `(.L_x_0)")
    assert ("RAW", 1, 0, "R2") in kinds(loop)


def test_deps_include_predicates_and_uniform_registers():
    (i,) = prog("--:-:-:-:1 @!P1 IADD3 R0, P2, R1, UR4, RZ")
    d, u = deps(i)
    assert {"R0", "P2"} <= d and {"R1", "UR4", "P1"} <= u


def test_auto_control_leaves_no_hazard():
    body = prog("auto LDG.E R2, desc[UR4][R4.64]", "auto LDS R3, [R8]", "auto FFMA R6, R2, R3, R6",
                "auto FFMA R7, R6, R3, R7", "auto STG.E desc[UR4][R4.64], R7", "auto MOV R7, RZ",
                "auto EXIT")
    out = schedule_control(body)
    assert check_hazards(out) == []
    assert out[2].wait_mask and out[0].write_barrier is not None and out[1].write_barrier is not None


@pytest.mark.parametrize("name,arch", [("sgemm", "sm_90"), ("misc", "sm_90"), ("hopper", "sm_90a")])
def test_ptxas_code_has_no_hazards_and_auto_control_agrees(name, arch):
    for fn, instrs in disassemble(compile_fixture(name, arch), arch).items():
        assert check_hazards(instrs) == [], fn
        assert check_hazards(schedule_control(instrs)) == [], fn
