"""Random control flow: block liveness against a per-statement reference, and sharing under loops."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from passes_ir import execute, kernel

from sass_lab import ir
from sass_lab.isa import defs_uses
from sass_lab.passes import run_passes
from sass_lab.passes.liveness import liveness, reg_units

REGS = ["a", "b", "c", "d", "e", "w"]
DECL = ".reg .u32 a, b, c, d, e\n.reg .u64 w\n.reg .pred p\n"


@st.composite
def cfg_programs(draw, init: bool = False) -> str:
    """Blocks L0..Ln with random bodies and exits: fall through, @p bra (any way), bra (forward)."""
    n = draw(st.integers(1, 6))
    lines = [f"mov.u32 {r}, {i + 1}" for i, r in enumerate(REGS[:-1])] + ["mov.u64 w, 9"] if init else []
    lines.append("setp.lt.u32 p, 1, 2")
    for b in range(n):
        lines.append(f"L{b}:")
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["alu", "alu", "st", "setp", "guarded", "wide"]))
            x, y, z = (draw(st.sampled_from(REGS[:-1])) for _ in range(3))
            if kind == "alu":
                lines.append(f"{draw(st.sampled_from(['add', 'sub', 'xor']))}.u32 {x}, {y}, {z}")
            elif kind == "st":
                lines.append(f"st.global.u32 [{4 * draw(st.integers(0, 5))}], {x}")
            elif kind == "setp":
                lines.append(f"setp.lt.u32 p, {x}, {y}")
            elif kind == "guarded":
                lines.append(f"@p mov.u32 {x}, {y}")
            else:
                lines.append(f"add.u64 w, w, {draw(st.integers(1, 3))}")
        exit_kind = draw(st.sampled_from(["fall", "cond", "jump", "ret"]))
        if exit_kind == "cond":
            lines.append(f"@{draw(st.sampled_from(['', '!']))}p bra L{draw(st.integers(0, n - 1))}")
        elif exit_kind == "jump" and b + 1 < n:
            lines.append(f"bra L{draw(st.integers(b + 1, n - 1))}")
        elif exit_kind == "ret":
            lines.append("@p ret")
    lines.append("st.global.u64 [64], w")
    return "\n".join(lines)


def _reference(k: ir.Kernel):
    """Per-statement dataflow over names, the obvious way: (live before, live after, maybe defined)."""
    body = k.body
    labels = {s.name: i for i, s in enumerate(body) if isinstance(s, ir.LabelDef)}
    n = len(body)
    succ, use, kill, gen = [], [], [], []
    for i, s in enumerate(body):
        nxt = [i + 1] if i + 1 < n else []
        if isinstance(s, ir.Instr):
            d, u = defs_uses(s)
            use.append({r.name for r in u})
            gen.append({r.name for r in d})
            kill.append(set() if s.guard is not None else {r.name for r in d})
            if s.opcode == "bra":
                nxt = [labels[s.operands[0].name]] + (nxt if s.guard is not None else [])
            elif s.opcode == "ret":
                nxt = nxt if s.guard is not None else []
        else:
            use.append(set())
            gen.append(set())
            kill.append(set())
        succ.append(nxt)
    live_in = [set() for _ in range(n)]
    live_out = [set() for _ in range(n)]
    defined = [set() for _ in range(n)]  # maybe defined after i
    changed = True
    while changed:
        changed = False
        for i in range(n - 1, -1, -1):
            out = set().union(*(live_in[j] for j in succ[i])) if succ[i] else set()
            new_in = use[i] | (out - kill[i])
            if out != live_out[i] or new_in != live_in[i]:
                live_out[i], live_in[i], changed = out, new_in, True
        for i in range(n):
            before = set().union(*(defined[j] for j in range(n) if i in succ[j]))
            after = before | gen[i]
            if after != defined[i]:
                defined[i], changed = after, True
    reach, todo = set(), [0] if n else []
    while todo:  # statements a path from the entry reaches; the others never execute and occupy nothing
        i = todo.pop()
        if i not in reach:
            reach.add(i)
            todo.extend(succ[i])
    defined = [d if i in reach else set() for i, d in enumerate(defined)]
    return live_in, live_out, defined, gen


@settings(max_examples=150, deadline=None)
@given(cfg_programs())
def test_block_liveness_matches_the_reference(text):
    k = kernel(DECL + text)
    p = liveness(k)
    live_in, live_out, defined, gen = _reference(k)
    for b, blk in enumerate(p.blocks):
        assert p.live_in[b] == live_in[blk.start]
        assert p.live_out[b] == live_out[blk.end - 1]
    types = {d.name: d.type for d in k.regs}
    for i in range(len(k.body)):
        occ = (live_out[i] | gen[i]) & defined[i]
        assert p.profile[i] == sum(reg_units(types[r]) for r in occ)
        assert p.pred_profile[i] == sum(types[r] == "pred" for r in occ)


UNREACHABLE_LOOP = """mov.u32 a, 1\nmov.u32 b, 2\nmov.u32 c, 3\nmov.u32 d, 4\nmov.u32 e, 5\nmov.u64 w, 9
setp.lt.u32 p, 1, 2\nL0:\n@p mov.u32 e, b\nbra L4\nL1:\nadd.u64 w, w, 2\nadd.u32 a, a, c\n@p ret\nL2:\n@!p bra L1
L3:\nsetp.lt.u32 p, c, e\nsub.u32 c, d, b\n@p mov.u32 e, b\n@p mov.u32 a, d\n@p ret\nL4:\nst.global.u64 [64], w"""


@settings(max_examples=150, deadline=None)
@example(UNREACHABLE_LOOP)  # found by Hypothesis: c, d, e merged inside a loop no path reaches (peak 3 -> 4)
@given(cfg_programs(init=True))
def test_sharing_preserves_every_step_under_loops(text):
    # Every register starts defined, so no path reads garbage; loops may not terminate, which is
    # fine: both versions run the same statements, so memory after the same step count must agree.
    k = kernel(DECL + text)
    k2, rep = run_passes(k, schedule=False)
    assert execute(k2, steps=400) == execute(k, steps=400)
    assert liveness(k2).peak == liveness(k).peak == rep.pressure.peak
