"""Lowering: DSL kernels, registers, arrays, vectors, params, auto, scopes, .schedule, directives."""

from __future__ import annotations

import pytest

import sass_lab
from sass_lab import ir
from sass_lab.dsl import frontend
from sass_lab.errors import SourceError

SAXPY = """\
.kernel saxpy(.u64 y, .u64 x, .f32 a, .u32 n, .u64 unused)
.reg .u32  i
.reg .f32  xv, yv
.reg .u64  px, py
.reg .pred past_end
    mad.lo.u32      i, %ctaid.x, %ntid.x, %tid.x
    setp.ge.u32     past_end, i, n
@past_end bra       done
    mad.wide.u32    px, i, 4, x
    mad.wide.u32    py, i, 4, y
    ld.global.f32   xv, [px]
    ld.global.f32   yv, [py]
    fma.rn.f32      yv, a, xv, yv
    st.global.f32   [py], yv
done:
    ret
"""


def kernel(text: str, **defines) -> ir.Kernel:
    mod = frontend(text, "t.sasm", defines).module
    assert len(mod.kernels) == 1
    return mod.kernels[0]


def instrs(k: ir.Kernel) -> list[ir.Instr]:
    return [s for s in k.body if isinstance(s, ir.Instr)]


def test_dsl_params_are_loaded_once_only_when_used():
    k = kernel(SAXPY)
    assert [(p.name, p.type) for p in k.params] == [
        ("y_param", "u64"), ("x_param", "u64"), ("a_param", "f32"), ("n_param", "u32"), ("unused_param", "u64")]
    head = [i.name for i in instrs(k)[:7]]
    assert head == ["ld.param.u64", "cvta.to.global.u64", "ld.param.u64", "cvta.to.global.u64",
                    "ld.param.f32", "ld.param.u32", "mov.u32"]
    first = instrs(k)[0]
    assert first.operands == (ir.Reg("y", "u64"), ir.Mem(ir.Sym("y_param")))
    assert first.span.line == 1
    assert "unused" not in {d.name for d in k.regs}
    assert {"y", "x", "a", "n", "i", "px"} <= {d.name for d in k.regs}


def test_special_registers_are_moved_to_registers_outside_mov():
    ins = instrs(kernel(SAXPY))
    mad = next(i for i in ins if i.opcode == "mad" and "lo" in i.mods)
    assert mad.operands[1:] == (ir.Reg("sr_ctaid_x", "u32"), ir.Reg("sr_ntid_x", "u32"), ir.Reg("sr_tid_x", "u32"))
    movs = [i for i in ins if i.opcode == "mov"][:3]
    assert [m.operands[1] for m in movs] == [ir.Special("%ctaid.x"), ir.Special("%ntid.x"), ir.Special("%tid.x")]


def test_guards_labels_and_types():
    k = kernel(SAXPY)
    bra = next(i for i in instrs(k) if i.opcode == "bra")
    assert bra.guard == ir.Guard(ir.Reg("past_end", "pred"), False)
    assert bra.operands == (ir.Label("done"),)
    assert any(isinstance(s, ir.LabelDef) and s.name == "done" for s in k.body)
    fma = next(i for i in instrs(k) if i.opcode == "fma")
    assert [o.type for o in fma.operands] == ["f32"] * 4
    assert (fma.span.line, fma.span.col, fma.span.source.strip()) == (13, 5, "fma.rn.f32      yv, a, xv, yv")


ARRAYS = """\
.define TM = 2
.kernel k(.u64 p)
.reg .f32 acc[${TM}][3]
.reg .v4 .f32 q, w[2]
.reg .b32 %r<4>
.reg .u64 a
    ld.global.v4.f32 q, [p]
    ld.global.v4.f32 w[1], [p+16]
    add.f32 acc[1][2], q.x, q[3]
    add.f32 acc[0][0], w[1].y, w[1][2]
    mov.b32 %r3, acc[1][2]
    st.global.v4.f32 [p], {acc[0][0], _, q.z, w[0].w}
    ret
"""


def test_arrays_vectors_and_counted_registers_flatten():
    k = kernel(ARRAYS)
    names = {d.name: d for d in k.regs}
    assert {"acc_0_0", "acc_1_2", "q_x", "q_w", "w_0_x", "w_1_w"} <= set(names)
    assert "acc_2_0" not in names
    assert names["%r"].count == 4 and names["%r"].type == "b32"
    ld, ld2, add1, add2, mov, st = instrs(k)[2:-1]
    assert ld.operands[0] == ir.Vec(tuple(ir.Reg(f"q_{c}", "f32") for c in "xyzw"))
    assert ld2.operands[0].items[0] == ir.Reg("w_1_x", "f32")
    assert ld2.operands[1] == ir.Mem(ir.Reg("p", "u64"), 16)
    assert add1.operands == (ir.Reg("acc_1_2", "f32"), ir.Reg("q_x", "f32"), ir.Reg("q_w", "f32"))
    assert add2.operands[1:] == (ir.Reg("w_1_y", "f32"), ir.Reg("w_1_z", "f32"))
    assert mov.operands == (ir.Reg("%r3", "b32"), ir.Reg("acc_1_2", "f32"))
    assert st.operands[1] == ir.Vec((ir.Reg("acc_0_0", "f32"), ir.Sink(), ir.Reg("q_z", "f32"),
                                     ir.Reg("w_0_w", "f32")))


def test_reg_auto_takes_the_type_of_the_first_writer():
    k = kernel(""".kernel k(.u64 p)
.reg auto
    mov.u32 i, %tid.x
    mul.wide.u32 off, i, 4
    add.u64 q, p, off
    ld.global.f32 v, [q]
    setp.gt.f32 big|small, v, 0f00000000
    cvt.rn.f16.f32 h, v
    ret
""")
    types = {d.name: d.type for d in k.regs}
    assert types == {"p": "u64", "i": "u32", "off": "u64", "q": "u64", "v": "f32", "big": "pred",
                     "small": "pred", "h": "f16"}


def test_schedule_markers_scopes_and_directives():
    k = kernel(""".kernel k(.u64 p)
.maxntid 256
.minnctapersm 2
.reg .f32 x
.shared .align 16 .f32 tile[2][64]
    .pragma "nounroll";
.schedule
    mov.f32 x, 0f3F800000
    {
    .reg .f32 x
    add.f32 x, x, x
    }
    mov.f32 x, x
.end
    ret
""")
    kinds = [type(s).__name__ for s in k.body]
    assert kinds == ["Raw", "ScheduleBegin", "Instr", "Raw", "Instr", "Raw", "Instr", "ScheduleEnd", "Instr"]
    inner = k.body[4]
    assert inner.operands[0].name == "x_1"          # the nested scope's x is renamed
    assert k.body[6].operands == (ir.Reg("x", "f32"), ir.Reg("x", "f32"))
    assert [(d.name, d.values) for d in k.directives] == [("maxntid", (256,)), ("minnctapersm", (2,))]
    assert k.vars == (ir.VarDecl("shared", "tile", "f32", (2, 64), 16),)
    assert k.body[0].text == '.pragma "nounroll";'


def test_module_vars_funcs_and_entry_params():
    mod = frontend(""".version 9.0
.target sm_90
.address_size 64
.global .align 4 .u32 counter;
.const .align 4 .b8 table[8] = {0, 0, 128, 63, 0, 0, 0, 64};
.extern .shared .align 16 .b8 smem[];
.func (.param .b32 r) inc(.param .b32 a)
{
    .reg .b32 %t;
    ld.param.b32 %t, [a];
    add.s32 %t, %t, 1;
    st.param.b32 [r], %t;
    ret;
}
.visible .entry e(.param .u64 e_param_0, .param .align 8 .b8 e_param_1[16])
.maxntid 128, 1, 1
{
    .reg .b64 %rd<3>;
    .reg .b32 %r<3>;
    ld.param.u64 %rd1, [e_param_0];
    mov.u64 %rd2, counter;
    { // callseq 0, 0
    .param .b32 param0;
    st.param.b32 [param0], %r1;
    .param .b32 retval0;
    call.uni (retval0), inc, (param0);
    ld.param.b32 %r2, [retval0];
    }
    ret;
}
""", "m.ptx", {}).module
    assert [v.name for v in mod.vars] == ["counter", "table", "smem"]
    assert mod.vars[1].init == "{0, 0, 128, 63, 0, 0, 0, 64}" and mod.vars[2].extern and mod.vars[2].dims == (0,)
    assert len(mod.raw) == 1 and mod.raw[0].text.startswith(".func (.param .b32 r) inc(")
    assert mod.raw[0].text.rstrip().endswith("}")
    (k,) = mod.kernels
    assert [(p.name, p.type, p.align, p.array) for p in k.params] == [
        ("e_param_0", "u64", None, 0), ("e_param_1", "b8", 8, 16)]
    assert k.directives[0].values == (128, 1, 1)
    body = k.body
    assert body[1].operands[1] == ir.Sym("counter")
    raws = [s.text for s in body if isinstance(s, ir.Raw)]
    assert raws == ["{", ".param .b32 param0;", ".param .b32 retval0;",
                    "call.uni (retval0), inc, (param0);", "}"]
    st = next(s for s in body if isinstance(s, ir.Instr) and s.opcode == "st")
    assert st.operands[0] == ir.Mem(ir.Sym("param0"))


def test_two_kernels_without_braces_and_with_braces():
    mod = frontend(".kernel a()\n    ret\n.kernel b()\n{\n    exit\n}\n", "t.sasm", {}).module
    assert [(k.name, [s.opcode for s in k.body]) for k in mod.kernels] == [("a", ["ret"]), ("b", ["exit"])]


def test_front_result_carries_defines_and_expansion():
    res = frontend(".define BM = 64\n.kernel k_${BM}()\n    ret\n", "t.sasm", {"BM": 32})
    assert res.defines == {"BM": 32}
    assert res.module.kernels[0].name == "k_32"
    assert res.expanded.lines[0] == ".kernel k_32()"


def test_every_instruction_carries_its_span_and_chain():
    k = kernel(".kernel k()\n.reg .f32 a[4]\n% for i in range(4):\n    mov.f32 a[${i}], 0f00000000\n% end\n")
    spans = [i.span for i in instrs(k)]
    assert [(s.line, s.chain) for s in spans] == [(4, (f"in loop i={i} at t.sasm:3",)) for i in range(4)]
    assert spans[2].source.strip() == "mov.f32 a[2], 0f00000000"


def test_header_brace_on_the_same_line_and_ptr_params():
    mod = frontend(".visible .entry k(.param .u64 .ptr .global .align 16 k_p) .maxntid 64 {\n    ret;\n}\n"
                   ".kernel d() {\n    exit\n}\n", "t.ptx", {}).module
    assert [(k.name, [s.opcode for s in k.body]) for k in mod.kernels] == [("k", ["ret"]), ("d", ["exit"])]
    assert mod.kernels[0].params[0] == ir.Param("k_p", "u64", 16)


def test_module_level_auto_and_func_prototype():
    mod = frontend(".reg auto\n.extern .func (.param .b32 r) f(.param .b32 a);\n"
                   ".kernel k()\n    mov.u32 t, %laneid\n    ret\n", "t.sasm", {}).module
    assert mod.raw[0].text == ".extern .func (.param .b32 r) f(.param .b32 a);"
    assert {d.name: d.type for d in mod.kernels[0].regs} == {"t": "u32"}


def test_multi_line_statements_with_the_same_first_line_are_not_confused():
    k = kernel(".kernel k()\n.reg .f32 a, b, c\n"
               "    mov.b64 {a,\n      b}, 0\n"
               "    mov.b64 {a,\n      c}, 0\n"
               "    ret\n")
    first, second = instrs(k)[:2]
    assert first.operands[0].items[1].name == "b" and second.operands[0].items[1].name == "c"


def test_operand_and_guard_spans_on_demand():
    from sass_lab.dsl import guard_span, operand_span

    k = kernel(SAXPY)
    fma = next(i for i in instrs(k) if i.opcode == "fma")
    sp = operand_span(fma, 2)
    assert (sp.line, sp.col, sp.end_col) == (13, 28, 30) and sp.source[sp.col - 1:sp.end_col - 1] == "xv"
    bra = next(i for i in instrs(k) if i.opcode == "bra")
    g = guard_span(bra)
    assert (g.line, g.col, g.end_col) == (8, 2, 10)
    first = instrs(k)[0]  # an inserted parameter load: the parameter's span
    assert operand_span(first, 0) == first.span
    mad = next(i for i in instrs(k) if i.opcode == "mad" and "lo" in i.mods)
    assert operand_span(mad, 3).source[operand_span(mad, 3).col - 1:].startswith("%tid.x")


def test_array_and_vector_elements_as_guards():
    k = kernel(".kernel k()\n.reg .pred ok[2]\n.reg .v2 .pred v\n"
               "@ok[1] bra done\n@!v.y bra done\ndone:\n    ret\n")
    a, b = instrs(k)[:2]
    assert a.guard == ir.Guard(ir.Reg("ok_1", "pred"), False)
    assert b.guard == ir.Guard(ir.Reg("v_y", "pred"), True)


def test_front_end_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    from sass_lab.dsl import fastparse

    srcs = [SAXPY, ARRAYS] * 6
    want = [frontend(s, "t.sasm", {}).module for s in srcs]
    fastparse._cache.clear()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: frontend(s, "t.sasm", {}).module, srcs))
    assert got == want
    assert [[i.span for i in k.body] for m in got for k in m.kernels] == \
        [[i.span for i in k.body] for m in want for k in m.kernels]


def test_negated_predicate_operands_become_not_pred():
    k = kernel(".kernel k()\n.reg .pred p, q\n.reg .f32 x\n"
               "    setp.lt.and.f32 p, x, x, !q\n    vote.sync.any.pred p, !q, 0xffffffff\n    ret\n")
    ins = instrs(k)
    assert [i.name for i in ins] == ["not.pred", "setp.lt.and.f32", "not.pred", "vote.sync.any.pred", "ret"]
    assert ins[0].operands == (ir.Reg("not_q", "pred"), ir.Reg("q", "pred"))
    assert ins[1].operands[3] == ir.Reg("not_q", "pred") and ins[0].span.line == 4
    assert [d.name for d in k.regs].count("not_q") == 1


def test_brx_jump_tables():
    k = kernel(".kernel k()\n.reg .u32 i\n    mov.u32 i, %laneid\n$L_t: .branchtargets a, b\n"
               "    brx.idx i, $L_t\na:\n    ret\nb:\n    exit\n")
    raw = [s for s in k.body if isinstance(s, ir.Raw)]
    assert raw[0].text == ".branchtargets a, b;"
    brx = next(i for i in instrs(k) if i.opcode == "brx")
    assert brx.operands == (ir.Reg("i", "u32"), ir.Label("$L_t"))


def test_nested_scope_shadowing_a_counted_register_is_renamed():
    """nvcc's inline-asm wrappers declare `.reg .pred %p1;` inside `{ }` while `%p<8>` holds %p1 outside:
    the inner one must get its own name, or ptxas sees a duplicate definition."""
    mod = frontend(""".version 9.0
.target sm_90
.address_size 64
.visible .entry e(.param .u64 e_param_0)
{
    .reg .pred %p<3>;
    .reg .b32 %r<4>;
    setp.ne.u32 %p1, %r1, 0;
    {
    .reg .pred %p1;
    setp.ne.u32 %p1, %r2, 0;
    bar.red.popc.u32 %r3, 0, %p1;
    }
    @%p1 bra $L;
$L:
    ret;
}
""", "m.ptx", {}).module
    (k,) = mod.kernels
    ins = [s for s in k.body if isinstance(s, ir.Instr)]
    assert ins[0].operands[0].name == "%p1" and ins[1].operands[0].name not in ("%p1", "%p0", "%p2")
    assert ins[2].operands[-1].name == ins[1].operands[0].name and ins[3].guard.reg.name == "%p1"
    assert {d.name for d in k.regs} >= {"%p", ins[1].operands[0].name}
    sass_lab.assemble(""".version 9.0
.target sm_90
.address_size 64
.visible .entry e(.param .u64 e_param_0)
{
    .reg .pred %p<3>;
    .reg .b32 %r<4>;
    {
    .reg .pred %p1;
    setp.ne.u32 %p1, %r2, 0;
    bar.red.popc.u32 %r3, 0, %p1;
    }
    ret;
}
""", "sm_90", file="m.ptx")  # ptxas accepts the renamed module (it refused a duplicate %p1 before)


@pytest.mark.parametrize("body, msg", [
    ("    .reg .pred %p<3>;\n    .reg .pred %p1;\n", "duplicate name '%p1'"),
    ("    .reg .pred %p1;\n    .reg .pred %p<3>;\n", "'%p<3>' declares '%p1' again"),
])
def test_a_register_inside_a_counted_range_declared_twice_is_an_error(body, msg):
    text = ".version 9.0\n.target sm_90\n.address_size 64\n.visible .entry e()\n{\n" + body + "    ret;\n}\n"
    with pytest.raises(SourceError, match=msg):
        frontend(text, "m.ptx", {})


INDIRECT = """.version 9.0
.target sm_90
.address_size 64
.func (.param .b32 r) twice(.param .b32 a)
{
    .reg .b32 %t;
    ld.param.b32 %t, [a];
    add.s32 %t, %t, %t;
    st.param.b32 [r], %t;
    ret;
}
.visible .entry e(.param .u64 e_param_0)
{
    .reg .b32 %r<3>;
    .reg .b64 %rd<4>;
    ld.param.u64 %rd1, [e_param_0];
    mov.u64 %rd3, twice;
    ld.global.u32 %r1, [%rd1];
    { // callseq 0, 0
    .param .b32 param0;
    st.param.b32 [param0+0], %r1;
    .param .b32 retval0;
    prototype_0 : .callprototype (.param .b32 _) _ (.param .b32 _);
    call
    (retval0),
    %rd3,
    (
    param0
    )
    , prototype_0;
    ld.param.b32 %r2, [retval0+0];
    } // callseq 0
    st.global.u32 [%rd1], %r2;
    ret;
}
"""


def test_indirect_call_split_over_lines_as_nvcc_G_writes_it():
    """nvcc -G calls through a function pointer: a '.callprototype' label, the callee register alone on
    its line ('%rd3,' is PTX, not a Python '%' line) and ', prototype_0;' on the last line."""
    mod = frontend(INDIRECT, "m.ptx", {}).module
    (k,) = mod.kernels
    call = next(s for s in k.body if isinstance(s, ir.Raw) and s.text.startswith("call"))
    assert call.text == "call (retval0), %rd3, ( param0 ) , prototype_0;"
    assert any(isinstance(s, ir.Raw) and s.text.startswith("prototype_0 : .callprototype") for s in k.body)
    assert sass_lab.assemble(INDIRECT, "sm_90", file="m.ptx")["e"].resources.registers > 0  # ptxas agrees
    with pytest.raises(SourceError, match="belongs to a kernel"):
        frontend(INDIRECT.replace(".visible .entry e", "p : .callprototype ()_ ();\n.visible .entry e"), "m.ptx", {})


TEXTURED = """
.kernel blur(.u64 tex, .u64 surf, .u32 w)
.reg .u32 x, y, xb
.reg .f32 u, v, r, g, b, a, lod
.reg .pred resident
    mov.u32 x, %tid.x
    mov.u32 y, %ctaid.x
    cvt.rn.f32.u32 u, x
    cvt.rn.f32.u32 v, y
    mov.f32 lod, 0f3F000000
    tex.level.2d.v4.f32.f32 {r, g, b, a}, [tex, {u, v}], lod
    add.f32 r, r, g
    shl.b32 xb, x, 2
    sust.b.2d.b32.trap [surf, {xb, y}], {r}
    suld.b.2d.b32.clamp {a}, [surf, {xb, y}]
    add.f32 a, a, b
    sust.b.2d.b32.zero [surf, {xb, y}], {a}
    tex.2d.v4.f32.f32 {r, g, b, a}|resident, [tex, {v, u}]
@!resident mov.f32 r, 0f00000000
    sust.b.2d.b32.trap [surf, {xb, y}], {r}
    ret
"""


def test_texture_and_surface_instructions_with_named_registers():
    """Texture/surface objects as .u64 handles: named registers in the coordinates and the results are
    renamed, live across the fetch, the surface stores and load keep their order, and a sparse fetch
    writes its results and residency predicate ``{…}|p``."""
    import re

    mod = sass_lab.assemble(TEXTURED, "sm_90", file="blur.sasm")
    ptx = mod.ptx
    body = [ln.strip() for ln in ptx.splitlines() if re.match(r"\s*(tex|suld|sust)\.", ln)]
    assert [ln.split()[0] for ln in body] == ["tex.level.2d.v4.f32.f32", "sust.b.2d.b32.trap",
                                              "suld.b.2d.b32.clamp", "sust.b.2d.b32.zero", "tex.2d.v4.f32.f32",
                                              "sust.b.2d.b32.trap"]
    assert re.fullmatch(r"tex\S+ \{\w+, \w+, \w+, \w+\}\|resident, \[tex, \{\w+, \w+\}\];", body[4])
    assert re.fullmatch(r"tex\S+ \{\w+, \w+, \w+, \w+\}, \[tex, \{\w+, \w+\}\], \w+;", body[0])
    assert re.fullmatch(r"sust\S+ \[surf, \{\w+, y\}\], \{\w+\};", body[1])
    assert mod["blur"].resources.registers > 0
