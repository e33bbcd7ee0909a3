"""PTX emission: text shape, operand printing, the line map, and a ptxas round trip per target."""

from __future__ import annotations

from pathlib import Path

import pytest
from ir_samples import kernel_from_lines, saxpy

from sass_lab import ir
from sass_lab.backend.ptx import emit, instr, operand
from sass_lab.errors import SourceError, Span, UsageError
from sass_lab.hw.arch import TARGETS
from sass_lab.toolchain.compile import compile_ptx

R = ir.Reg


@pytest.mark.parametrize("op, text", [
    (R("acc_3_4"), "acc_3_4"),
    (ir.Imm(1.0, "0f3F800000"), "0f3F800000"),
    (ir.Special("%tid.x"), "%tid.x"),
    (ir.Mem(R("a"), 0), "[a]"),
    (ir.Mem(R("a"), 16), "[a+16]"),
    (ir.Mem(R("a"), -4), "[a+-4]"),
    (ir.Mem(ir.Sym("sA"), 8), "[sA+8]"),
    (ir.Mem(None, 64), "[64]"),
    (ir.Vec((R("a"), ir.Sink(), R("c"))), "{a, _, c}"),
    (ir.PredPair(R("p"), R("q")), "p|q"),
    (ir.Label("LOOP"), "LOOP"),
    (ir.Imm(1.0, ""), "0f3F800000"),
    (ir.Imm(-3, ""), "-3"),
])
def test_operand_text(op, text):
    assert operand(op) == text


@pytest.mark.parametrize("guard, text", [
    (None, "fma.rn.f32 d, a, b, d;"),
    (ir.Guard(R("p")), "@p fma.rn.f32 d, a, b, d;"),
    (ir.Guard(R("p"), negate=True), "@!p fma.rn.f32 d, a, b, d;"),
])
def test_instr_guard(guard, text):
    ins = ir.Instr("fma", ("rn", "f32"), (R("d"), R("a"), R("b"), R("d")), guard)
    assert instr(ins) == text


def test_instr_without_operands():
    assert instr(ir.Instr("ret", (), ())) == "ret;"


@pytest.mark.parametrize("arch", TARGETS)
def test_header(arch):
    lines = emit(saxpy(), arch).text.splitlines()
    version = "8.0" if arch == "sm_70" else "9.0"  # CUDA 12 ptxas (the last with Volta) reads PTX 8.x
    assert f".version {version}" in lines and f".target {arch}" in lines and ".address_size 64" in lines


def test_unknown_arch():
    with pytest.raises(UsageError):
        emit(saxpy(), "sm_61")


def test_line_map_points_at_statements():
    em = emit(saxpy(), "sm_90")
    lines = em.text.splitlines()
    assert len(em.line_map) == len(lines)
    fma = next(i for i, t in enumerate(lines) if "fma.rn.f32" in t)
    span = em.line_map[fma]
    assert span.file == "saxpy.sasm" and "fma.rn.f32" in span.source
    assert em.span_of(fma + 1) == span
    assert em.line_map[lines.index(".version 9.0")] is None
    assert em.span_of(0) is None and em.span_of(10_000) is None
    assert em.kernel_lines[0][0] == "saxpy"


def test_reg_grouping_ranges_and_chunks():
    sp = Span("g.sasm", 3)
    regs = tuple(ir.RegDecl(f"acc_{i}", "f32", span=sp) for i in range(14))
    regs += (ir.RegDecl("%r", "b32", count=5), ir.RegDecl("p", "pred"))
    k = ir.Kernel("g", (), regs, (), (), (ir.Instr("ret", (), ()),))
    text = emit(ir.Module((k,)), "sm_90").text
    assert "\t.reg .b32 %r<5>;" in text
    assert "\t.reg .pred p;" in text
    f32 = [t for t in text.splitlines() if t.startswith("\t.reg .f32")]
    assert len(f32) == 2 and "acc_0, acc_1" in f32[0] and "acc_13" in f32[1]


def test_directives_vars_and_extern_hoisting():
    sh = ir.VarDecl("shared", "sA", "f32", (2, 64), align=16)
    dyn = ir.VarDecl("shared", "dyn", "b8", (0,), align=16, extern=True)
    dirs = (ir.Directive("maxntid", (128, 1, 1)), ir.Directive("minnctapersm", (2,)))
    k = ir.Kernel("k", (ir.Param("P", "u64"), ir.Param("S", "b8", align=8, array=16)), (),
                  (sh, dyn), dirs, (ir.Instr("ret", (), ()),))
    text = emit(ir.Module((k,)), "sm_90").text
    lines = text.splitlines()
    ext = lines.index(".extern .shared .align 16 .b8 dyn[];")
    entry = next(i for i, t in enumerate(lines) if t.startswith(".visible .entry k("))
    assert ext < entry
    assert "\t.shared .align 16 .f32 sA[2][64];" in lines
    assert ".maxntid 128, 1, 1" in lines and ".minnctapersm 2" in lines
    assert "\t.param .align 8 .b8 S[16]" in lines
    compile_ptx(text, "sm_90")


def test_conflicting_externs_rejected():
    a = ir.VarDecl("shared", "dyn", "b8", (0,), extern=True)
    b = ir.VarDecl("shared", "dyn", "f32", (0,), extern=True, span=Span("x.sasm", 9))
    ks = tuple(ir.Kernel(n, (), (), (v,), (), ()) for n, v in (("k1", a), ("k2", b)))
    with pytest.raises(SourceError) as e:
        emit(ir.Module(ks), "sm_90")
    assert e.value.span.line == 9


@pytest.mark.parametrize("bad", ["acc[3]", "1x", "a-b", "WARP_SZ", "%tid", "%clock64", "%lanemask_lt"])
def test_invalid_register_name(bad):
    sp = Span("n.sasm", 4)
    k = ir.Kernel("k", (), (ir.RegDecl(bad, "f32", span=sp),), (), (), ())
    with pytest.raises(SourceError) as e:
        emit(ir.Module((k,)), "sm_90")
    assert e.value.span == sp and e.value.hint


def test_schedule_markers_and_raw():
    body = (ir.ScheduleBegin(), ir.Raw(".pragma \"nounroll\";"), ir.ScheduleEnd(), ir.Instr("ret", (), ()))
    text = emit(ir.Module((ir.Kernel("k", (), (), (), (), body),)), "sm_90").text
    assert "// .schedule" in text and '.pragma "nounroll";' in text
    compile_ptx(text, "sm_90")


def test_module_vars_and_raw():
    g = ir.VarDecl("global", "table", "u32", (4,), align=4, init="{1, 2, 3, 4}")
    raw = ir.Raw(".global .u32 counter;")
    k = kernel_from_lines("k", [("P", "u64")], [("v", "u32"), ("a", "u64")], """\
mov.u64 a, table;
ld.global.u32 v, [a+4];
st.global.u32 [counter], v;
ret;""", vars=(), extra_syms=("table", "counter"))
    text = emit(ir.Module((k,), vars=(g,), raw=(raw,)), "sm_90").text
    assert ".global .align 4 .u32 table[4] = {1, 2, 3, 4};" in text
    compile_ptx(text, "sm_90")


# sm_70 is emitted, but CUDA 13 dropped Volta: its PTX is checked by compiling for sm_75
# (a lower .target is valid input for a newer -arch).
@pytest.mark.parametrize("arch", TARGETS)
def test_round_trip_every_target(arch):
    em = emit(saxpy(), arch)
    res = compile_ptx(em.text, "sm_75" if arch == "sm_70" else arch, line_map=em.line_map)
    r = res.resources["saxpy"]
    assert 4 <= r.registers <= 32 and r.param_bytes == 24 and res.warnings == ()


GOLDEN = Path(__file__).parent / "golden"


def test_golden_saxpy():
    """Byte-for-byte PTX for the saxpy sample (regenerate deliberately if the format changes)."""
    assert emit(saxpy(), "sm_90").text == (GOLDEN / "saxpy_sm_90.ptx").read_text()


def test_lineinfo_loc_once_per_source_line():
    body = "mov.u32 i, 1;\nadd.u32 i, i, 2;\nret;"
    k = kernel_from_lines("k", [], [("i", "u32")], body, file="a.sasm", first_line=4)
    # two statements from the same .sasm line (as an unrolled loop would produce) share one .loc
    k2 = ir.Kernel(k.name, k.params, k.regs, k.vars, k.directives, (k.body[0], k.body[1], k.body[1], k.body[2]))
    text = emit(ir.Module((k2,)), "sm_90", lineinfo=True).text
    assert text.count(".loc 1 5 1") == 1 and '.file 1 "a.sasm"' in text
    compile_ptx(text, "sm_90")


def test_lines_of_and_version():
    em = emit(saxpy(), "sm_90")
    (fma,) = em.lines_of("saxpy.sasm", 20)
    assert "fma.rn.f32" in em.text.splitlines()[fma - 1]
    assert em.lines_of("other.sasm", 19) == ()
    idx = em.by_source()
    assert idx[("saxpy.sasm", 20)] == (fma,) and all(em.span_of(n).line == ln for (_, ln), ns in idx.items()
                                                     for n in ns)
    old = emit(saxpy(), "sm_90", version="8.0").text
    assert ".version 8.0" in old
    assert ".version 9.0" in emit(saxpy(), "sm_70", version="9.0").text
    compile_ptx(old, "sm_90")
    with pytest.raises(UsageError):
        emit(saxpy(), "sm_90", version="nine")


def test_non_ascii_masked_in_comments_and_file_names():
    em = emit(saxpy(file="kérnels/sä×py.sasm"), "sm_90", lineinfo=True)
    assert em.text.isascii() and '.file 1 "k?rnels/s??py.sasm"' in em.text
    compile_ptx(em.text, "sm_90")
    body = (ir.Raw("// π ≈ 3.14", Span("u.sasm", 3)), ir.Instr("ret", (), ()))
    text = emit(ir.Module((ir.Kernel("k", (), (), (), (), body),)), "sm_90").text
    assert "// ? ? 3.14" in text


def test_non_ascii_code_is_a_source_error():
    body = (ir.Raw("mov.u32 é, 1;", Span("u.sasm", 7)),)
    with pytest.raises(SourceError) as e:
        emit(ir.Module((ir.Kernel("k", (), (), (), (), body),)), "sm_90")
    assert e.value.span.line == 7 and "ASCII" in e.value.hint


def test_a_kernel_block_is_printed_from_the_kernel_it_belongs_to():
    """Emit remembers the last kernel's block (declarations and body) for the next kernel with the
    very same body, registers and variables (a sweep's ``.maxnreg`` twins); any other kernel, even
    one equal in every field but one, prints its own."""
    from dataclasses import replace

    k = saxpy().kernels[0]
    text = lambda kern: emit(ir.Module(kernels=(kern,)), "sm_90").text  # noqa: E731
    first = text(k)
    twin = replace(k, directives=(ir.Directive("maxnreg", (255,)),))
    assert text(twin) == first.replace("{", ".maxnreg 255\n{", 1)
    body = tuple(s for s in k.body if not (isinstance(s, ir.Instr) and s.opcode == "fma"))
    assert "fma" not in text(replace(k, body=body)) and "fma" in text(k)
    regs = (*k.regs, ir.RegDecl("extra", "u32", 0))
    assert "extra" in text(replace(k, regs=regs)) and "extra" not in text(k)
    moved = Span("other.sasm", 9, 1, 2, "x")
    em = emit(ir.Module(kernels=(replace(k, span=moved),)), "sm_90")
    assert em.text == first and em.line_map[em.text.splitlines().index("{")] == moved
    fresh = replace(k, body=tuple(k.body))  # equal, not the same object: printed again, the same
    assert text(fresh) == first
