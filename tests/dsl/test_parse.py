"""The grammar and the fast path: every construct, numbers, comments, locations, syntax errors."""

from __future__ import annotations

import pytest

from sass_lab.dsl import fastparse
from sass_lab.dsl.expand import expand
from sass_lab.dsl.nodes import MemRef, Name, Num, Pair, ParenList, SinkRef, SInstr, SLabel, VecRef
from sass_lab.dsl.parse import parse, parse_logical, strip_comments
from sass_lab.errors import SourceError
from sass_lab.isa.literals import number


def stmts(text: str):
    ex, _ = expand(text, "t.sasm", {})
    return parse(ex)


def one(text: str):
    out = stmts(text)
    assert len(out) == 1, out
    return out[0]


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("42", 42), ("-7", -7), ("7U", 7), ("0x1F", 31), ("0XffU", 255), ("017", 15), ("0b101", 5),
    ("1.5", 1.5), ("-2.5e3", -2500.0), (".5", 0.5), ("1e-2", 0.01), ("0f3F800000", 1.0), ("0fBF800000", -1.0),
    ("0d3FF0000000000000", 1.0), ("-0f40000000", -2.0),
])
def test_numbers(text, value):
    assert number(text) == value
    ins = one(f"mov.b32 r, {text}")
    assert ins.ops[1] == Num(value, text, 0, 12, 12 + len(text))


INSTR_LINES = [
    "add.f32 x, y, z",
    "add.f32 x, y, z;",
    "@p bra done",
    "@!p bra.uni $L__BB0_2;",
    "@ok[2] st.global.f32 [p], x",
    "@!v.y bra done",
    "@ !p ret",
    "ld.global.v4.f32 {a, b, c, d}, [p+16];",
    "ld.global.v4.f32 q, [p];",
    "st.shared.v2.f32 [sa+-8], {x, _};",
    "ld.shared::cta.f32 x, [sa-4]",
    "ld.param.u64 %rd1, [foo_param_0];",
    "ld.global.nc.L1::no_allocate.v4.u32 {a, b, c, d}, [p];",
    "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f1,%f2,%f3,%f4}, {%r1,%r2,%r3,%r4}, {%r5,%r6}, {%f1,%f2,%f3,%f4};",
    "shfl.sync.down.b32 %r17|%p3, %r12, %r15, %r14, %r16;",
    "setp.lt.f32 p|q, x, 0f00000000",
    "fma.rn.f32 acc[3][4], a[1][3], b[1][4], acc[3][4]",
    "mov.u32 r, %tid.x",
    "mov.f32 q.x, q[2]",
    "ld.global.f32 x, [12]",
    "bar.sync 0",
    "ret;",
    "exit",
    "cvta.to.global.u64 %rd4, %rd3;",
    "atom.global.add.u32 old, [p], 1",
    "red.shared.add.f32 [s+4], v",
    "mov.u32 %r30, warp_sums;",
    "cp.async.cg.shared.global [sa], [p], 16;",
    "mov.b64 {lo, hi}, x",
]


@pytest.mark.parametrize("line", INSTR_LINES)
def test_fast_path_agrees_with_the_grammar(line):
    fastparse._cache.clear()
    fast = fastparse.parse_line(line, 3)
    assert fast is not None, "expected the fast path to take this line"
    slow = parse_logical(line, 3)
    assert [fast] == slow


@pytest.mark.parametrize("line", ["call.uni (retval0), vprintf, (param0, param1);", "{ cvt.f32.f16 %f1, %rs1;}",
                                  ".reg .f32 x", "add.f32 x, y,", "add.f32 x, y z"])
def test_fast_path_declines_other_lines(line):
    assert fastparse.parse_line(line, 0) is None


def test_operand_kinds_and_columns():
    line = "  @!p ld.global.v4.f32 {a, _, c[1], q.y}, [p+-4]"
    ins = one(line)

    def col(s):
        return line.index(s) + 1

    assert isinstance(ins, SInstr)
    assert (ins.opcode, ins.mods, ins.negate, ins.col) == ("ld", ("global", "v4", "f32"), True, 3)
    assert ins.guard == Name("p", (), None, 0, 5, 6)
    vec, mem = ins.ops
    assert isinstance(vec, VecRef) and isinstance(vec.items[1], SinkRef)
    assert vec.items[2] == Name("c", (1,), None, 0, col("c[1]"), col("c[1]") + 4)
    assert vec.items[3] == Name("q", (), "y", 0, col("q.y"), col("q.y") + 3)
    assert mem == MemRef(Name("p", (), None, 0, col("p+"), col("p+") + 1), -4, 0, col("[p"), len(line) + 1)


def test_pair_operand():
    ins = one("setp.ne.s32 p|q, a, b")
    assert ins.ops[0] == Pair(Name("p", (), None, 0, 13, 14), Name("q", (), None, 0, 15, 16), 0, 13, 16)


@pytest.mark.parametrize("text, kind", [
    ("foo:", "label"), ("$L__BB0_2:", "label"), ("{", "open"), ("}", "close"), (".schedule", "schedule"),
    (".end", "end"), (".reg auto", "auto"), (".maxntid 256, 1, 1", "perf"), (".reqntid 128", "perf"),
    (".minnctapersm 2", "perf"), (".maxnreg 64", "perf"), ('.pragma "nounroll";', "pragma"),
    (".param .b64 param0;", "param"),
])
def test_statement_kinds(text, kind):
    s = one(text)
    got = "label" if isinstance(s, SLabel) else s.kind
    assert got == kind


@pytest.mark.parametrize("text", [".version 9.0", ".target sm_90", ".address_size 64", ".loc 1 5 3",
                                  '.file 1 "x.cu"', "// only a comment", "/* block */", "   "])
def test_ignored_lines(text):
    assert stmts(text) == []


def test_reg_declarations():
    s = one(".reg .v4 .f32 q, acc[8][8], %f<34>")
    assert (s.kind, s.type, s.vec) == ("reg", "f32", 4)
    q, acc, f = s.names
    assert (q.name, q.dims, q.count) == ("q", (), 0)
    assert (acc.name, acc.dims) == ("acc", (8, 8))
    assert (f.name, f.count) == ("%f", 34)


def test_entry_header_across_lines():
    src = ".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .align 8 .b8 k_param_1[16]\n)\n{\nret;\n}\n"
    hdr, o, r, c = stmts(src)
    assert hdr.kind == "entry" and hdr.visible and not hdr.dsl
    p0, p1 = hdr.params
    assert (p0.name, p0.type, p0.li) == ("k_param_0", "u64", 1)
    assert (p1.name, p1.type, p1.align, p1.array) == ("k_param_1", "b8", 8, 16)
    assert (o.kind, r.opcode, c.kind) == ("open", "ret", "close")


def test_dsl_kernel_header():
    s = one(".kernel saxpy(.u64 y, .u64 x, .f32 a, .u32 n)")
    assert s.dsl and [(p.name, p.type) for p in s.params] == [
        ("y", "u64"), ("x", "u64"), ("a", "f32"), ("n", "u32")]


@pytest.mark.parametrize("text, space, names", [
    (".shared .align 16 .f32 sA[2][8][128], sB[4];", "shared", [("sA", (2, 8, 128), None), ("sB", (4,), None)]),
    (".extern .shared .align 16 .b8 smem[];", "shared", [("smem", (0,), None)]),
    (".global .align 4 .u32 counter;", "global", [("counter", (), None)]),
    (".const .align 4 .b8 t[4] = {0, 0, 128, 63};", "const", [("t", (4,), "{0, 0, 128, 63}")]),
    (".global .f32 one = 0f3F800000;", "global", [("one", (), "0f3F800000")]),
])
def test_variables(text, space, names):
    s = one(text)
    assert s.kind == "var" and s.space == space
    assert [(n.name, n.dims, n.init) for n in s.names] == names


def test_func_and_call_lines():
    src = (".func (.param .b32 func_retval0) add1(\n.param .b32 add1_param_0\n)\n{\nret;\n}\n"
           "call.uni (retval0), add1, (param0);\n")
    f, o, r, c, call = stmts(src)
    assert f.kind == "func" and f.name == "add1" and (f.first_li, f.last_li) == (0, 2)
    assert call.opcode == "call" and isinstance(call.ops[0], ParenList)


def test_several_statements_on_one_line():
    out = stmts("{  cvt.rn.f16.f32 %rs1, %f1;}")
    assert [getattr(s, "kind", getattr(s, "opcode", None)) for s in out] == ["open", "cvt", "close"]


def test_comments_keep_columns():
    out = strip_comments(["a /* x */ b // c", "d /* e", "f */ g", 'h ".pragma // no" i'])
    assert out == ["a         b", "d", "     g", 'h ".pragma // no" i']
    ins = one("add.f32 /* c */ x, y, z  // trailing")
    assert ins.ops[0].col == 17


_SYNTAX = [
    ("add.f32 x, y z", 1, 14, "unexpected 'z'"),
    ("ret\n.reg .f32", 2, 10, "unexpected end of line"),
    ("ld.global.f32 x, [p+]", 1, 21, "unexpected ']'"),
    ("mov.u32 r, #3", 1, 12, "unexpected character '#'"),
    (".entry k(\n.param .u64 a\n.param .u64 b)\n{\n}", 3, 1, "unexpected '.param'"),
]


def test_negated_predicate_operand():
    ins = one("vote.sync.any.pred p, !q, 0xffffffff")
    assert type(ins.ops[1]).__name__ == "NotRef" and ins.ops[1].col == 23 and ins.ops[1].name.text == "q"


@pytest.mark.parametrize("text, line, col, msg", _SYNTAX)
def test_syntax_errors_have_exact_locations(text, line, col, msg):
    with pytest.raises(SourceError) as e:
        stmts(text)
    assert msg in e.value.message
    assert (e.value.span.line, e.value.span.col) == (line, col)
    assert e.value.hint.startswith("expected")


def test_label_and_instruction_on_one_line():
    out = stmts("L1: add.f32 x, y, z\n$L__BB0_2:  @p bra L1;")
    assert [type(s).__name__ for s in out] == ["SLabel", "SInstr", "SLabel", "SInstr"]
    assert (out[1].col, out[3].col, out[3].guard.text) == (5, 13, "p")


def test_texture_and_surface_instructions_parse():
    tex, sust = stmts("tex.1d.v4.f32.s32 {a, b, c, d}, [t, {x}];\nsust.b.2d.b32.trap [s, {x, y}], {v};")
    assert (tex.opcode, sust.opcode) == ("tex", "sust")
    assert len(tex.ops) == 2 and len(sust.ops) == 2 and tex.ops[1].coords and sust.ops[0].coords


def test_unexpanded_splice_from_emit_has_a_hint():
    with pytest.raises(SourceError) as e:
        stmts('% emit("mov.f32 acc[${i}], 0f00000000")')
    assert "emit()" in e.value.hint


def test_statement_split_over_lines_like_nvcc_call():
    """nvcc writes a void call as 'call.uni', '__assertfail,' and '(' on separate lines."""
    src = "call.uni \n\t__assertfail, \n\t(\n\tparam0, \n\tparam1\n\t);\nret;\n"
    call, ret = stmts(src)
    assert call.opcode == "call" and call.ops[0].text == "__assertfail"
    assert [x.text for x in call.ops[1].items] == ["param0", "param1"]
    assert ret.opcode == "ret"


def test_opcode_alone_on_its_line():
    add, bra, ret, bar = stmts("add.s32\n   r1, r2, 3;\n@p bra\n  done;\nret\nbar.sync 0\n")
    assert add.opcode == "add" and [o.text for o in add.ops] == ["r1", "r2", "3"]
    assert bra.ops[0].text == "done" and bra.guard.text == "p"
    assert ret.opcode == "ret" and not ret.ops and bar.opcode == "bar"


@pytest.mark.parametrize("expr, value", [
    ("((128 >> 4) << 16)", 524288), ("(1 + 2 * 3)", 7), ("(-7 / 2)", -3), ("(-7 % 2)", -1), ("(~0)", -1),
    ("(0xFFFFFFFFU + 1)", 1 << 32), ("(1 ? 5 : 6)", 5), ("((1 << 63) >> 63)", -1), ("((1U << 63) >> 63)", 1),
])
def test_ptx_constant_expressions(expr, value):
    s = one(f"mov.u64 r1, {expr};")
    assert s.ops[1].value == value
    assert s.ops[1].col == len("mov.u64 r1, ") + 1


def test_constant_expression_in_an_address():
    s = one("ld.global.u32 r1, [rd1+(4*8)];")
    assert s.ops[1].offset == 32


def test_parse_logical_needs_no_lock():
    """The Lark transformer is stateless: threads parsing at once each get their own lines."""
    from concurrent.futures import ThreadPoolExecutor

    from sass_lab.dsl.transform import ToNodes

    assert not hasattr(ToNodes(), "base")
    text = ".reg .f32 a,\n  b"

    def at(li: int):
        (reg,) = parse_logical(text, li)
        return reg.li, reg.names[0].li, reg.names[1].li

    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(at, range(0, 4000, 7)))
    assert got == [(li, li, li + 1) for li in range(0, 4000, 7)]
