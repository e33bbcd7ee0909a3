"""Named registers: declarations, substitution, the bank-aware allocator and reuse flags."""

from __future__ import annotations

import pytest
from test_sass_sched import prog

from sass_lab.errors import SourceError
from sass_lab.sass import sassfile
from sass_lab.sass.names import _cost, _reads, resolve, set_reuse, substitute
from sass_lab.sass.stats import BANK_MODELS, bank_conflicts

HEAD = ".arch sm_90\n.skeleton k.skel.cubin\n.function k\n"


def fn(body: str):
    return sassfile.read(HEAD + body, "k.sass").functions[0]


def outer_product(n=4):
    """An n×n FFMA outer product: acc[i][j] += a[i] * b[j]."""
    lines = [f"auto FFMA acc{i * n + j}, a{i}, b{j}, acc{i * n + j} ;" for i in range(n) for j in range(n)]
    return "\n".join(lines) + "\n"


def test_fixed_names_substitute_whole_words():
    f = fn(".reg ptr R40\n.reg v<0-1> R8-R9\nauto LDG.E.64 v0, desc[UR4][ptr.64+0x10] ;\nauto FADD v1, v0, v0 ;\n")
    named = resolve(f)
    assert named.texts == ["LDG.E.64 R8, desc[UR4][R40.64+0x10] ;", "FADD R9, R8, R8 ;"]
    assert substitute("FFMA a1, a10, a1, RZ", {"a1": 3, "a10": 7}) == "FFMA R3, R7, R3, RZ"


def test_allocation_avoids_the_conflicts_of_the_naive_order():
    model = BANK_MODELS["maxwell"]  # 4 banks, 1 port: every shared bank costs a cycle
    f = fn(".reg acc<0-15> auto\n.reg a<0-3> R0-R3\n.reg b<0-3> R4-R7\n" + outer_product())
    named = resolve(f, model, ceiling=64)
    reads = _reads(named.texts)
    naive = [substitute(it.text, named.banks["naive"]) for it in f.instructions]
    before, after = _cost(_reads(naive), {}, model), _cost(reads, {}, model)
    assert before > 0
    assert after < before
    regs = [named.mapping[f"acc{k}"] for k in range(16)]
    assert len(set(regs)) == 16 and all(8 <= r < 62 for r in regs)


def test_groups_are_aligned_and_consecutive():
    f = fn(".reg q<0-3> auto:4\n.reg x auto\nauto LDS.128 q0, [R2] ;\nauto FADD x, q1, q3 ;\n")
    named = resolve(f, ceiling=40)
    q = [named.mapping[f"q{k}"] for k in range(4)]
    assert q[0] % 4 == 0 and q == list(range(q[0], q[0] + 4))
    assert named.mapping["x"] not in q and 2 not in q  # R2 is taken by the text


@pytest.mark.parametrize("decl,msg", [(".reg a R1\n.reg a R2", "declared twice"), (".reg c R1", "reserved"),
                                      (".reg a<0-3> R1-R2", "4 names but 2 registers"),
                                      (".reg a<0-2> auto:2", "whole groups"), (".reg A R1", "bad register name"),
                                      (".reg a R300", "does not exist")])
def test_bad_declarations_point_at_their_line(decl, msg):
    f = fn(decl + "\nauto NOP ;\n")
    with pytest.raises(SourceError, match=msg) as e:
        resolve(f)
    assert e.value.span.line >= 4


def test_pool_exhausted():
    f = fn(".reg a<0-9> auto\n" + "".join(f"auto FADD a{k}, a{k}, a{k} ;\n" for k in range(10)))
    with pytest.raises(SourceError, match="no free registers"):
        resolve(f, ceiling=8)


def test_reuse_flags_follow_the_slot_and_stop_at_labels_and_yields():
    p = prog("--:-:-:-:4 FFMA R1, R2, R3, R1", "--:-:-:-:4 FFMA R4, R2, R5, R4", "--:-:-:-:4 FFMA R6, R7, R5, R6",
             ".L_x_0:", "--:-:-:-:4 FFMA R8, R7, R5, R8", "--:-:-:Y:4 FFMA R9, R7, R10, R9",
             "--:-:-:-:4 FFMA R11, R7, R10, R11")
    out = set_reuse(p)
    assert [i.reuse for i in out] == [0b001, 0b010, 0, 0b001, 0, 0]
    before = sum(bank_conflicts(p, BANK_MODELS["maxwell"]))
    after = sum(bank_conflicts(out, BANK_MODELS["maxwell"]))
    assert after <= before
