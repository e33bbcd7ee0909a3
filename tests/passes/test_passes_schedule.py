"""The dependency DAG, the list scheduler, region boundaries, latency overrides and the report."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from passes_ir import execute, instrs, kernel, render
from passes_strategies import OPS, TABLES, program

from sass_lab import ir
from sass_lab.errors import SourceError, UsageError
from sass_lab.passes.dag import build_dag, memory_kind
from sass_lab.passes.latency import DEFAULT_LATENCIES, check_table, classify, latency
from sass_lab.passes.schedule import is_boundary, list_schedule, schedule, simulate


def _body(k: ir.Kernel) -> list[ir.Instr]:
    return [s for s in k.body if isinstance(s, ir.Instr)]


def _dag(text: str, table=None):
    k = kernel(text)
    ins = _body(k)
    t = check_table(table)
    return build_dag(ins, [latency(x, t) for x in ins])


REGS = ".reg .f32 a, b, c, d, e\n.reg .u64 q\n.reg .pred p\n"


@pytest.mark.parametrize("text, edges", [
    ("add.f32 a, b, c\nadd.f32 d, a, a", {(0, 1)}),  # RAW
    ("add.f32 a, b, c\nadd.f32 b, d, d", {(0, 1)}),  # WAR
    ("add.f32 a, b, c\nadd.f32 a, d, d", {(0, 1)}),  # WAW
    ("add.f32 a, b, c\nadd.f32 d, b, c", set()),  # independent
    ("setp.lt.f32 p, a, b\n@p add.f32 c, a, b", {(0, 1)}),  # guard is a read
    ("@p add.f32 c, a, b\nsetp.lt.f32 p, a, b", {(0, 1)}),  # guard then redefinition (WAR)
    ("ld.shared.f32 a, [q]\nld.shared.f32 b, [q+4]", set()),  # loads may swap
    ("st.shared.f32 [q], a\nld.shared.f32 b, [q+4]", {(0, 1)}),  # same space keeps order
    ("ld.shared.f32 b, [q+4]\nst.shared.f32 [q], a", {(0, 1)}),
    ("st.shared.f32 [q], a\nst.shared.f32 [q+4], b", {(0, 1)}),
    ("st.global.f32 [q], a\nld.shared.f32 b, [q+4]", set()),  # different spaces do not alias
    ("st.f32 [q], a\nld.shared.f32 b, [q+4]", {(0, 1)}),  # generic conflicts with everything
    ("ld.global.f32 b, [q]\nst.f32 [q], a", {(0, 1)}),
    ("atom.shared.add.u32 a, [q], 1\nld.global.f32 b, [q]", {(0, 1)}),  # atomics order all memory
    ("ld.volatile.global.f32 a, [q]\nld.global.f32 b, [q]", {(0, 1)}),
    ("st.global.f32 [q], a\ncp.async.ca.shared.global [q], [q], 16", {(0, 1)}),  # cp.async reads global
    ("fma.rn.f32 a, b, c, a\nfma.rn.f32 a, d, e, a", {(0, 1)}),
    ("mov.u64 q, 0\nst.shared.f32 [q], a", {(0, 1)}),  # address register
    ("st.shared.f32 [q], a\nwmma.load.a.sync.aligned.row.m16n16k16.shared.f16 {b}, [q], 16", {(0, 1)}),
    ("wmma.store.d.sync.aligned.row.m16n16k16.global.f32 [q], {a}, 16\nld.global.f32 b, [q]", {(0, 1)}),
    ("wmma.store.d.sync.aligned.row.m16n16k16.global.f32 [q], {a}, 16\nld.shared.f32 b, [q]", set()),
    ("multimem.st.global.f32 [q], a\nld.shared.f32 b, [q]", {(0, 1)}),
])
def test_dag_edges(text, edges):
    assert _dag(REGS + text).edges() == edges


def test_dag_delays():
    dag = _dag(REGS + "ld.global.f32 a, [q]\nadd.f32 b, a, a\nadd.f32 a, c, c\nadd.f32 c, d, d")
    assert dict(dag.preds[1]) == {0: DEFAULT_LATENCIES["ld.global"]}  # RAW: producer latency
    assert dict(dag.preds[2]) == {0: 400 - 4 + 1, 1: 1}  # WAW lands later; WAR one slot
    assert dict(dag.preds[3]) == {2: 1}
    assert dag.heights()[0] == 400 + 1 + 1 + 4  # RAW, then WAR slots to the last add


@pytest.mark.parametrize("text, cls", [
    ("fma.rn.f32 a, b, c, d", "fma"), ("add.f32 a, b, c", "fma"), ("add.u32 a, b, c", "alu"),
    ("mul.lo.u32 a, b, c", "imad"), ("fma.rn.f64 a, b, c, d", "f64"), ("ex2.approx.f32 a, b", "mufu"),
    ("rcp.approx.f32 a, b", "mufu"), ("rcp.rn.f32 a, b", "div"), ("div.rn.f32 a, b, c", "div"),
    ("cvt.rn.f32.s32 a, b", "cvt"), ("ld.shared.f32 a, [q]", "ld.shared"),
    ("ld.global.f32 a, [q]", "ld.global"), ("ld.f32 a, [q]", "ld.global"),
    ("ld.param.u64 q, [P]", "ld.const"), ("ld.local.f32 a, [q]", "ld.local"),
    ("st.shared.f32 [q], a", "store"), ("shfl.sync.bfly.b32 a, b, 1, 31, -1", "shfl"),
    ("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {a, b}, {c}, {d}, {a, b}", "mma"),
    ("bra L", "control"), ("setp.lt.f32 p, a, b", "alu"), ("selp.f32 a, b, c, p", "alu"),
    ("mov.u32 a, %tid.x", "s2r"), ("mov.u32 a, b", "alu"),
    ("wmma.load.a.sync.aligned.row.m16n16k16.shared.f16 {b}, [q], 16", "ld.shared"),
    ("wmma.store.d.sync.aligned.row.m16n16k16.global.f32 [q], {a}, 16", "store"),
    ("wmma.mma.sync.aligned.row.col.m16n16k16.f32.f32 {a}, {b}, {c}, {d}", "mma"),
    ("szext.clamp.u32 a, b, 8", "alu"), ("frobnicate.u32 a, b", "alu"),  # unknown to us: the ISA says
    ("discard.global.L2 [q], 128", "store"),
])
def test_classify(text, cls):
    assert classify(_body(kernel(REGS + text))[0]) == cls


def test_latency_keys_most_specific_wins():
    ins = _body(kernel(REGS + "fma.rn.f32 a, b, c, d"))[0]
    assert latency(ins, check_table({"fma": 7})) == 7
    assert latency(ins, check_table({"fma": 7, "fma.rn.f32": 9})) == 9
    assert latency(ins, check_table(None)) == 4


@pytest.mark.parametrize("bad", [{"": 3}, {"Fma": 3}, {"fma": -1}, {"fma": 2.5}, {"fma": True}, {3: 3}])
def test_bad_latency_tables_are_usage_errors(bad):
    with pytest.raises(UsageError) as e:
        check_table(bad)
    assert e.value.message


def test_scheduler_hoists_loads_and_reports():
    k = kernel(REGS + """
    mov.u64 q, 0
.schedule
    ld.global.f32 a, [q]
    add.f32 b, a, a
    ld.global.f32 c, [q+4]
    add.f32 d, c, c
.end
    st.global.f32 [q], b
""")
    k2, rep = schedule(k)
    assert instrs(k2) == ["mov.u64 q, 0", "ld.global.f32 a, [q]", "ld.global.f32 c, [q+4]",
                          "add.f32 b, a, a", "add.f32 d, c, c", "st.global.f32 [q], b"]
    (r,) = rep.regions
    assert (r.instructions, r.moved, r.subregions, r.kept) == (4, 2, 1, 0)
    assert r.cycles_before == 401 + 400 + 4  # the second load issues behind the first add
    assert r.cycles_after == 401 + 4 and r.critical_path == 404
    assert r.span.line == 6 and r.speedup > 1.9
    assert rep.moved == 2 and rep.cycles_before == r.cycles_before
    assert dict(rep.latencies)["ld.global"] == 400
    assert isinstance(k2.body[1], ir.ScheduleBegin) and isinstance(k2.body[6], ir.ScheduleEnd)


def test_latency_override_changes_order():
    text = REGS + """
.schedule
    ex2.approx.f32 a, b
    ld.shared.f32 c, [q]
    add.f32 d, a, c
    add.f32 e, c, c
.end
"""
    default, _ = schedule(kernel(text))
    slow_mufu, _ = schedule(kernel(text), {"mufu": 100})
    assert instrs(default)[:2] == ["ld.shared.f32 c, [q]", "ex2.approx.f32 a, b"]
    assert instrs(slow_mufu)[:2] == ["ex2.approx.f32 a, b", "ld.shared.f32 c, [q]"]


@pytest.mark.parametrize("boundary", [
    "L1:", "bar.sync 0", ".raw .pragma \"nounroll\";", "membar.gl", "mov.u32 %r1, %clock",
    "cp.async.wait_group 0", "call foo", "@p bra L9",
])
def test_boundaries_split_regions_and_stay_put(boundary):
    k = kernel(".reg .u32 %r<4>\n" + REGS + f"""
.schedule
    ld.global.f32 a, [q]
    add.f32 b, a, a
    {boundary}
    ld.global.f32 c, [q]
    add.f32 d, c, c
    ld.global.f32 e, [q+8]
.end
L9:
""")
    k2, rep = schedule(k)
    body = [render(s) for s in k2.body]
    before = [render(s) for s in k.body]
    cut = next(i for i, s in enumerate(k.body) if s.span and s.span.line == 9)
    assert body[:cut + 1] == before[:cut + 1]  # nothing crosses the boundary, which stays put
    assert body[cut + 1:cut + 4] == ["ld.global.f32 c, [q]", "ld.global.f32 e, [q+8]",
                                      "add.f32 d, c, c"]
    assert rep.regions[0].subregions == 2 and rep.regions[0].instructions == 5 + isinstance(
        k.body[cut], ir.Instr)


def test_code_outside_regions_never_moves():
    text = REGS + "ld.global.f32 a, [q]\nadd.f32 b, a, a\nld.global.f32 c, [q+4]\nadd.f32 d, c, c"
    k = kernel(text)
    k2, rep = schedule(k)
    assert k2.body == k.body and rep.regions == ()


def test_no_gain_keeps_the_original_order():
    k = kernel(REGS + ".schedule\nadd.f32 a, b, c\nadd.f32 d, e, e\n.end")
    k2, rep = schedule(k)
    assert k2.body == k.body and rep.regions[0].moved == 0
    assert rep.regions[0].cycles_after == rep.regions[0].cycles_before == 5


@pytest.mark.parametrize("text, msg", [
    (".schedule\n.schedule\n.end\n.end", "nested"),
    (".end", "without"),
    (".schedule\nadd.f32 a, b, c", "never closed"),
])
def test_region_errors(text, msg):
    with pytest.raises(SourceError) as e:
        schedule(kernel(REGS + text))
    assert msg in e.value.message and e.value.span is not None and e.value.hint


def test_boundary_predicate():
    b = _body(kernel(REGS + "bar.sync 0\nadd.f32 a, b, c\nmov.u32 a, %clock64\nmov.u32 a, %tid.x"))
    assert [is_boundary(x) for x in b] == [True, False, True, False]
    assert is_boundary(ir.LabelDef("x")) and is_boundary(ir.Raw("{"))


def test_memory_kind():
    b = _body(kernel(REGS + "ld.shared.f32 a, [q]\nst.global.f32 [q], a\nred.shared.add.u32 [q], 1\n"
                            "add.f32 a, b, c\nld.acquire.gpu.global.f32 a, [q]"))
    assert [memory_kind(x) for x in b] == [("shared", False), ("global", True), ("generic", True), None,
                                           ("generic", True)]


# --------------------------------------------------------------------------- properties

@settings(max_examples=200, deadline=None)
@given(st.lists(OPS, min_size=1, max_size=30), TABLES)
def test_schedule_is_a_topological_order_and_preserves_semantics(ops, table):
    k = kernel(program(ops))
    k2, rep = schedule(k, table)
    assert execute(k2)["mem"] == execute(k)["mem"]
    region = [s for s in k.body if isinstance(s, ir.Instr)][6:-5]
    new = [s for s in k2.body if isinstance(s, ir.Instr)][6:-5]
    assert sorted(map(id, new)) == sorted(map(id, region))  # a permutation of the same statements
    pos = {id(s): i for i, s in enumerate(new)}
    t = check_table(table)
    dag = build_dag(region, [latency(x, t) for x in region])
    assert all(pos[id(region[i])] < pos[id(region[j])] for i, j in dag.edges())
    r = rep.regions[0]
    assert r.cycles_after <= r.cycles_before and r.critical_path <= r.cycles_after
    assert schedule(k, table)[0].body == k2.body  # deterministic


@settings(max_examples=150, deadline=None)
@given(st.lists(OPS, min_size=1, max_size=40), TABLES)
def test_list_schedule_respects_every_edge(ops, table):
    ins = _body(kernel(".reg .u32 a, b, c, d, e\n.reg .pred p\n" + "\n".join(ops)))
    t = check_table(table)
    dag = build_dag(ins, [latency(x, t) for x in ins])
    order = list_schedule(dag)
    assert sorted(order) == list(range(len(ins)))
    pos = {j: n for n, j in enumerate(order)}
    assert all(pos[i] < pos[j] for i, j in dag.edges())
    assert order == list_schedule(dag)
    assert simulate(dag, order) >= max(dag.heights())


@pytest.mark.parametrize("alias, covered", [
    ("mem_global", ("ld.global", "ld.local", "atom", "tex")), ("fp64", ("f64",)), ("conv", ("cvt",)),
    ("tensor", ("mma", "wgmma")), ("mem_shared", ("ld.shared", "shfl")),
])
def test_isa_class_names_are_accepted_as_aliases(alias, covered):
    t = check_table({alias: 123})
    assert all(t[c] == 123 for c in covered) and alias not in t
    assert check_table({alias: 123, covered[0]: 5})[covered[0]] == 5  # the exact class wins


def test_report_lines():
    k = kernel(REGS + "mov.u64 q, 0\n.schedule\nld.global.f32 a, [q]\nadd.f32 b, a, a\n"
                      "ld.global.f32 c, [q+4]\nadd.f32 d, c, c\n.end\nst.global.f32 [q], b\nst.global.f32 [q], d")
    _, rep = schedule(k)
    (line, limit) = rep.lines()
    assert line.startswith("t.sasm:5: .schedule: 4 instructions, 2 moved, 805 -> 405 cycles (critical path 404)")
    assert "live registers" in line and limit.endswith(str(rep.pressure_limit))


_bounded = st.lists(st.one_of(OPS, OPS, OPS, st.sampled_from(["bar.sync 0", "membar.gl", "B{n}:"])),
                    min_size=1, max_size=40)


@settings(max_examples=120, deadline=None)
@given(_bounded, TABLES)
def test_boundaries_never_move_and_nothing_crosses_them(ops, table):
    ops = [o.replace("{n}", str(i)) for i, o in enumerate(ops)]
    k = kernel(program(ops))
    k2, _ = schedule(k, table)
    assert execute(k2)["mem"] == execute(k)["mem"]

    def segments(body):
        out, cur = [], []
        for s in body:
            if is_boundary(s):
                out.append((render(s), sorted(map(id, cur))))
                cur = []
            else:
                cur.append(s)
        return out + [("", sorted(map(id, cur)))]

    assert segments(k2.body) == segments(k.body)
