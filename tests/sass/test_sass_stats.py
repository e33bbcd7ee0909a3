"""Loops, hot-loop math share, bank conflicts with the reuse cache, liveness with pairs/vectors."""

from __future__ import annotations

import pytest
from sass_fixtures import compile_fixture, make_instrs

from sass_lab.errors import UsageError
from sass_lab.sass import BankModel, disassemble, hot_loop_ffma_share, kernel_stats
from sass_lab.sass.flow import hottest_loop, live_counts, liveness, loops
from sass_lab.sass.regs import access
from sass_lab.sass.stats import bank_conflicts, op_class, trim

VOLTA, MAXWELL = BankModel("volta", 2, 2), BankModel("maxwell", 4, 1)


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_sgemm_hot_loop(arch):
    instrs = disassemble(compile_fixture("sgemm", arch))["sgemm"]
    lp = hottest_loop(instrs)
    assert lp is not None and lp.size > 500
    body = instrs[lp.start:lp.end + 1]
    assert sum(i.opcode == "FFMA" for i in body) == 512  # 8 k-steps x 8x8 outer product
    assert body[-1].opcode == "BRA" and body[-1].target == body[0].address
    share = hot_loop_ffma_share(instrs)
    assert 0.7 < share < 1.0
    st = kernel_stats(instrs)
    assert st.hot_loop_math_share == share
    assert st.live_peak >= 64 + 8 + 8  # 64 accumulators + an 8-wide A and B fragment
    assert st.stall_cycles >= st.hot_loop_stall_cycles > 0
    assert 0 < st.hot_loop_reuse_rate < 1


def test_no_loop_falls_back_to_function():
    instrs = make_instrs(["FFMA R0, R1, R2, R3 ;", "EXIT ;", ".L_x_1:", "BRA `(.L_x_1) ;", "NOP ;", "NOP ;"])
    assert hottest_loop(instrs) is None  # the BRA to itself is padding, not a loop
    assert len(trim(instrs)) == 2
    assert hot_loop_ffma_share(instrs) == 0.5
    assert hot_loop_ffma_share([]) == 0.0


def test_innermost_largest_loop():
    lines = [".L_x_0:", "MOV R0, R1 ;", ".L_x_1:", "FFMA R0, R1, R2, R0 ;", "FFMA R0, R1, R2, R0 ;",
             "@P0 BRA `(.L_x_1) ;", ".L_x_2:", "FFMA R0, R1, R2, R0 ;", "FFMA R0, R1, R2, R0 ;",
             "FFMA R0, R1, R2, R0 ;", "@P1 BRA `(.L_x_2) ;", "@P2 BRA `(.L_x_0) ;", "EXIT ;"]
    instrs = make_instrs(lines)
    assert len(loops(instrs)) == 3
    lp = hottest_loop(instrs)
    assert (lp.start, lp.end) == (4, 7)  # the inner loop with 3 FFMAs beats the one with 2
    assert hot_loop_ffma_share(instrs) == 0.75


@pytest.mark.parametrize("line,model,cost", [
    ("FFMA R0, R1, R3, R5 ;", VOLTA, 1),    # three odd registers: one bank, 2 ports
    ("FFMA R0, R1, R3, R4 ;", VOLTA, 0),
    ("FFMA R0, R1, R1, R1 ;", VOLTA, 0),    # one register read once
    ("FFMA R0, R1, R5, R2 ;", MAXWELL, 1),  # R1, R5 in bank 1 of 4
    ("FFMA R0, R1, R5, R9 ;", MAXWELL, 2),
    ("FFMA R0, R1, R2, R3 ;", MAXWELL, 0),
    ("FFMA R0, R1, RZ, R5 ;", MAXWELL, 1),
    ("FFMA R0, R1, c[0x0][0x10], R5 ;", MAXWELL, 1),
    ("DFMA R0, R2, R4, R6 ;", MAXWELL, 0),  # pairs are not scored
])
def test_bank_model(line, model, cost):
    assert bank_conflicts(make_instrs([line]), model) == [cost]


def test_reuse_cache_suppresses_conflict():
    # R1 in slot A is cached by the first FFMA (reuse bit A) and so is not read again by the second.
    cached = make_instrs(["FFMA R10, R1, R3, R10 |1,0,1", "FFMA R11, R1, R3, R5 ;"])
    assert bank_conflicts(cached, VOLTA) == [0, 0]
    plain = make_instrs(["FFMA R10, R1, R3, R10 ;", "FFMA R11, R1, R3, R5 ;"])
    assert bank_conflicts(plain, VOLTA) == [0, 1]
    # a slot read without reuse empties the cache; a different slot does not hit
    other_slot = make_instrs(["FFMA R10, R1, R3, R10 |1,0,1", "FFMA R11, R3, R1, R5 ;"])
    assert bank_conflicts(other_slot, VOLTA) == [0, 1]
    # a branch target empties the cache
    label = make_instrs(["FFMA R10, R1, R3, R10 |1,0,1", ".L_x_0:", "FFMA R11, R1, R3, R5 ;",
                         "@P0 BRA `(.L_x_0) ;"])
    assert bank_conflicts(label, VOLTA)[:2] == [0, 1]


def test_liveness_pairs_and_vectors():
    instrs = make_instrs([
        "LDG.E.128 R4, desc[UR4][R2.64] ;",   # reads R2:R3, writes R4..R7
        "DADD R8, R4, R6 ;",                  # reads R4:R5, R6:R7, writes R8:R9
        "STG.E.64 desc[UR4][R2.64], R8 ;",    # reads R2:R3 and R8:R9
        "EXIT ;",
    ])
    a = access(instrs[0])
    assert a.defs == {4, 5, 6, 7} and a.uses == {2, 3}
    assert access(instrs[1]).uses == {4, 5, 6, 7}
    live_in, live_out = liveness(instrs)
    assert live_in[0] == {2, 3}
    assert live_out[0] == {2, 3, 4, 5, 6, 7}
    assert live_out[1] == {2, 3, 8, 9}
    assert live_counts(instrs) == [6, 6, 4, 0]


def test_liveness_loop_and_guarded_def():
    instrs = make_instrs([
        "MOV R0, RZ ;",
        ".L_x_0:",
        "FFMA R0, R1, R2, R0 ;",
        "@P0 BRA `(.L_x_0) ;",
        "@P1 MOV R0, R3 ;",          # guarded: R0 stays live across it
        "STG.E desc[UR4][R4.64], R0 ;",
        "EXIT ;",
    ])
    live_in, _ = liveness(instrs)
    assert live_in[1] == {0, 1, 2, 3, 4, 5}  # the back edge keeps R1, R2 and the later uses live
    assert 0 in live_in[3] and 3 in live_in[3]


@pytest.mark.parametrize("line,defs,uses", [
    ("IMAD.WIDE R2, R5, 0x4, R8 ;", {2, 3}, {5, 8, 9}),
    ("CS2R R56, SRZ ;", {56, 57}, set()),
    ("SHFL.BFLY PT, R3, R8, 0x10, 0x1f ;", {3}, {8}),
    ("ISETP.GE.AND P0, PT, R2, R3, PT ;", set(), {2, 3}),
    ("HMMA.16816.F32 R4, R12, R20, R4 ;", {4, 5, 6, 7}, {4, 5, 6, 7, 12, 13, 14, 15, 20, 21}),
    ("F2F.F64.F32 R2, R5 ;", {2, 3}, {5}),
    ("I2F.F32.S64 R2, R4 ;", {2}, {4, 5}),
    # conversions as ptxas prints them: the int type is I2F's source, whatever the order or omissions
    ("I2F.S64 R19, R12 ;", {19}, {12, 13}),
    ("I2F.BF16.S64.RZ R25, R10 ;", {25}, {10, 11}),
    ("I2F.F64.S64 R22, R12 ;", {22, 23}, {12, 13}),
    ("I2F.F64 R2, R4 ;", {2, 3}, {4}),
    ("F2I.U64.FLOOR R4, R2 ;", {4, 5}, {2}),
    ("F2I.S64.F64 R4, R2 ;", {4, 5}, {2, 3}),
    ("F2F.F64.F16 R6, R2 ;", {6, 7}, {2}),
    ("FRND.F64.CEIL R6, R2 ;", {6, 7}, {2, 3}),
    ("LDSM.16.M88.4 R8, [R3] ;", {8, 9, 10, 11}, {3}),
    ("STS.128 [R3+0x10], R8 ;", set(), {3, 8, 9, 10, 11}),
    ("STSM.16.M88.2 [R0], R8 ;", set(), {0, 8, 9}),
    ("HGMMA.64x16x16.F32.BF16 R24, gdesc[UR8], R24, gsb0 ;", set(range(24, 32)), set(range(24, 32))),
])
def test_register_access(line, defs, uses):
    a = access(make_instrs([line])[0])
    assert (set(a.defs), set(a.uses)) == (defs, uses)


@pytest.mark.parametrize("line,cls", [("FFMA R0, R1, R2, R3 ;", "math"), ("LDS R0, [R1] ;", "memory"),
                                      ("HMMA.16816.F32 R4, R12, R20, R4 ;", "tensor"),
                                      ("BAR.SYNC.DEFER_BLOCKING 0x0 ;", "barrier"), ("EXIT ;", "branch"),
                                      ("LOP3.LUT R0, R1, R2, RZ, 0xc0, !PT ;", "other")])
def test_op_class(line, cls):
    assert op_class(make_instrs([line])[0]) == cls


def test_kernel_stats_dict_and_models():
    instrs = disassemble(compile_fixture("sgemm", "sm_90"))["sgemm"]
    v, m = kernel_stats(instrs, "volta"), kernel_stats(instrs, "maxwell")
    assert m.bank_conflicts > v.bank_conflicts  # 4 single-ported banks conflict more
    d = v.to_dict()
    for key in ("instructions", "mix", "hot_loop", "hot_loop_math_share", "stall_cycles", "bank_conflicts",
                "reuse_rate", "live_peak", "bank_model"):
        assert key in d
    assert d["mix"]["FFMA"] == 512
    assert len(v.live) == len(v.conflicts) == len(instrs)


@pytest.mark.parametrize("model", ["amd", BankModel("x", 0, 1)])
def test_bad_bank_model(model):
    with pytest.raises(UsageError):
        kernel_stats(make_instrs(["EXIT ;"]), model)


def test_tensor_share_counts_hgmma():
    instrs = disassemble(compile_fixture("wgmma", "sm_90a"))["wgmma_loop"]
    assert hot_loop_ffma_share(instrs) > 0
    assert kernel_stats(instrs).mix.get("HGMMA", 0) > 0


@pytest.mark.slow
def test_shipped_liveness_fits_allocation():
    from sass_fixtures import shipped_modules

    mods = shipped_modules()
    if not mods:
        pytest.skip("no kernels_asm/*.sasm assembles yet")
    for file, arch, mod in mods:
        for k in mod:
            st = kernel_stats(k.sass)
            regs = {r for i in k.sass for o in i.operands for q in o.registers() if (r := q.reg) is not None}
            assert st.live_peak <= k.resources.registers, (file, arch, k.name)
            assert max(regs, default=0) < k.resources.registers, (file, arch, k.name)
            assert 0 <= st.hot_loop_math_share <= 1


@pytest.mark.parametrize("branch,falls_through", [("BRA `(.L_x_0) ;", False), ("@P0 BRA `(.L_x_0) ;", True),
                                                  ("BRA P1, `(.L_x_0) ;", True),
                                                  ("BRA.DIV UR4, `(.L_x_0) ;", True),
                                                  ("@PT BRA `(.L_x_0) ;", False)])
def test_branch_successors(branch, falls_through):
    from sass_lab.sass.flow import successors

    instrs = make_instrs([".L_x_0:", "MOV R0, R1 ;", branch, "EXIT ;"])
    assert (2 in successors(instrs)[1]) == falls_through
    assert 0 in successors(instrs)[1]


def test_listing_text():
    from sass_lab.sass.render import listing_text

    instrs = disassemble(compile_fixture("sgemm", "sm_90"))["sgemm"]
    text = listing_text(instrs)
    lines = text.splitlines()
    assert lines[1].startswith("0000  --:-:-:-:1")
    assert sum(" | FFMA" in ln for ln in lines) == 512  # every hot-loop FFMA carries the loop bar
    assert "hot-loop math share: 88.9 %" in text  # whole-program code (ptxas); nvJitLink's: 76.5 %
    assert "[" not in lines[0]  # plain text, no markup
