"""compile_ptx: nvJitLink and ptxas back ends, diagnostics mapped to .sasm lines, options."""

from __future__ import annotations

import pickle

import pytest
from ir_samples import SAXPY_BODY, kernel_from_lines, saxpy

from sass_lab import ir
from sass_lab.backend.ptx import emit
from sass_lab.errors import Span, ToolchainError, UsageError
from sass_lab.toolchain.compile import compile_ptx
from sass_lab.toolchain.options import CompileOptions


def _body_with(line_no: int, text: str) -> str:
    """SAXPY_BODY with statement ``line_no`` (1-based within the body) replaced."""
    lines = SAXPY_BODY.splitlines()
    lines[line_no - 1] = text
    return "\n".join(lines)


@pytest.mark.parametrize("compiler", ["ptxas", "nvjitlink"])
@pytest.mark.parametrize("body_line, text, needle", [
    (17, "fma.rn.f32 yv, a, xv, nosuch;", "nosuch"),
    (17, "fmaa.rn.f32 yv, a, xv, yv;", "fmaa"),
    (5, "mov.u32 i, %ctaid.x, 3;", "mov"),
    (22, "bra NOWHERE;", "NOWHERE"),
])
def test_error_maps_to_sasm_line(compiler, body_line, text, needle):
    em = emit(saxpy(body=_body_with(body_line, text)), "sm_90")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(em.text, "sm_90", line_map=em.line_map, options=CompileOptions(compiler=compiler))
    err = e.value
    assert err.span.file == "saxpy.sasm"
    assert err.span.line == body_line + 1  # the sample body starts at line 2
    assert needle in err.span.source
    assert any(c.startswith("PTX line") for c in err.span.chain)
    assert "(saxpy.sasm:" in err.log
    assert pickle.loads(pickle.dumps(err)).span == err.span


def test_several_errors_listed_in_hint():
    body = _body_with(17, "fma.rn.f32 yv, a, xv, nosuch;")
    body = "\n".join(ln if i != 4 else "foo.u32 i;" for i, ln in enumerate(body.splitlines()))
    em = emit(saxpy(body=body), "sm_90")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(em.text, "sm_90", line_map=em.line_map)
    also = e.value.hint.split("also: ")[1]
    lines = {e.value.span.line} | {int(x.split(":")[1]) for x in also.split("; ")}
    assert lines == {6, 18}


def test_error_without_line_map_points_at_ptx():
    em = emit(saxpy(body=_body_with(17, "fma.rn.f32 yv, a, xv, nosuch;")), "sm_90")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(em.text, "sm_90")
    assert e.value.span.file == "<ptx>"
    assert "nosuch" in e.value.span.source
    assert e.value.span.caret()


def _warn_kernel(directives):
    return ir.Module((kernel_from_lines("w", [("P", "u64")], [("a", "u64")], "ld.param.u64 a, [P];\nret;",
                                        file="w.sasm", first_line=5, directives=directives),),
                     file="w.sasm")


def test_line_warning_mapped_to_directive():
    d = ir.Directive("minnctapersm", (4,), span=Span("w.sasm", 3, 1, None, ".minnctapersm 4"))
    em = emit(_warn_kernel((d,)), "sm_90")
    res = compile_ptx(em.text, "sm_90", line_map=em.line_map)
    (w,) = res.warnings
    assert w.severity == "warning" and "minnctapersm" in w.message
    assert (w.span.file, w.span.line) == ("w.sasm", 3)


def test_lineless_warning_mapped_to_kernel():
    d = ir.Directive("maxnreg", (8,), span=Span("w.sasm", 3))
    em = emit(_warn_kernel((d,)), "sm_90")
    res = compile_ptx(em.text, "sm_90", line_map=em.line_map)
    (w,) = res.warnings
    assert "adjusting" in w.message and w.ptx_line is None
    assert w.span.file == "w.sasm" and w.span.line == 4  # the kernel's span
    assert str(w).startswith("w.sasm:4")


def test_sm90a_only_with_sm90a():
    em = emit(saxpy(), "sm_90a")
    assert compile_ptx(em.text, "sm_90a").arch == "sm_90a"
    with pytest.raises(ToolchainError):
        compile_ptx(em.text, "sm_90")


def test_sm70_is_reported_not_crashed(monkeypatch):
    import sass_lab.toolchain.compile as C

    monkeypatch.delenv("SASS_LAB_PTXAS", raising=False)
    monkeypatch.setattr(C, "ptxas_path", lambda arch=None: None)  # as if the CUDA 12 ptxas wheel were absent
    em = emit(saxpy(), "sm_70")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(em.text, "sm_70")
    assert "SASS_LAB_PTXAS" in e.value.hint


def test_sm70_compiles_with_the_cuda12_ptxas_wheel(monkeypatch):
    from elftools.elf.elffile import ELFFile

    import sass_lab.toolchain.compile as C

    monkeypatch.delenv("SASS_LAB_PTXAS", raising=False)
    assert C.find_ptxas("sm_70"), "nvidia-cuda-nvcc-cu12 is a dependency: its ptxas must be found"
    res = compile_ptx(emit(saxpy(), "sm_70").text, "sm_70")
    import io

    assert res.tool == "ptxas" and ELFFile(io.BytesIO(res.cubin))["e_flags"] & 0xFF == 70


def test_sm70_goes_to_the_configured_ptxas(monkeypatch, tmp_path):
    # a stand-in "CUDA 12 ptxas" that records its arguments and fails: proves the routing
    fake = tmp_path / "ptxas"
    fake.write_text("#!/bin/sh\necho \"$@\" > " + str(tmp_path / "args") + "\necho 'ptxas fatal : fake' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SASS_LAB_PTXAS", str(fake))
    with pytest.raises(ToolchainError):
        compile_ptx(emit(saxpy(), "sm_70").text, "sm_70")
    assert "-arch=sm_70" in (tmp_path / "args").read_text()


@pytest.mark.parametrize("arch, n", [("sm_61", None), ("sm_90", 8), ("sm_90", 300)])
def test_bad_options(arch, n):
    with pytest.raises(UsageError):
        compile_ptx(emit(saxpy(), "sm_90").text, arch, options=CompileOptions(maxrregcount=n))


def test_ptxas_is_the_default_and_both_are_named():
    text = emit(saxpy(), "sm_90").text
    a = compile_ptx(text, "sm_90")
    b = compile_ptx(text, "sm_90", options=CompileOptions(compiler="nvjitlink"))
    assert (a.tool, b.tool) == ("ptxas", "nvjitlink")
    assert a.compiler.startswith("ptxas 13.0.") and b.compiler.startswith("nvJitLink 13.0.")
    assert a.resources == b.resources  # saxpy: the same code either way


def test_missing_ptxas(monkeypatch):
    monkeypatch.setenv("SASS_LAB_PTXAS", "/nonexistent/ptxas")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(emit(saxpy(), "sm_90").text, "sm_90")
    assert "SASS_LAB_PTXAS" in e.value.hint


@pytest.mark.parametrize("compiler", ["ptxas", "nvjitlink"])
def test_warn_spills_maps_to_kernel(compiler):
    body = "\n".join(f"ld.volatile.global.f32 v{i}, [a+{4 * i}];" for i in range(64))
    body += "\n" + "\n".join(f"st.volatile.global.f32 [a+{4 * i}], v{63 - i};" for i in range(64))
    k = kernel_from_lines("sp", [("P", "u64")], [("a", "u64")] + [(f"v{i}", "f32") for i in range(64)],
                          "ld.param.u64 a, [P];\n" + body + "\nret;", file="sp.sasm", first_line=3)
    em = emit(ir.Module((k,), file="sp.sasm"), "sm_90")
    res = compile_ptx(em.text, "sm_90", line_map=em.line_map,
                      options=CompileOptions(maxrregcount=24, warn_spills=True, compiler=compiler))
    (w,) = res.warnings
    assert "spilled" in w.message and (w.span.file, w.span.line) == ("sp.sasm", 2)
    assert res.resources["sp"].spill_stores > 0
    assert compile_ptx(em.text, "sm_90", options=CompileOptions(maxrregcount=24)).warnings == ()


@pytest.mark.parametrize("compiler", ["ptxas", "nvjitlink"])
def test_lineinfo_reaches_the_cubin(compiler):
    # .loc alone makes ptxas write line tables; -lineinfo is accepted and harmless
    em = emit(saxpy(), "sm_90", lineinfo=True)
    assert '.file 1 "saxpy.sasm"' in em.text and "\t.loc 1 19 1" in em.text
    with_info = compile_ptx(em.text, "sm_90", options=CompileOptions(lineinfo=True, compiler=compiler)).cubin
    without = compile_ptx(emit(saxpy(), "sm_90").text, "sm_90", options=CompileOptions(compiler=compiler)).cubin
    assert b".debug_line" in with_info and b"saxpy.sasm" in with_info
    assert b".debug_line" not in without and b"saxpy.sasm" not in without


@pytest.mark.parametrize("line, needle", [
    ("setmaxnreg.inc.sync.aligned.u32 232;", "sm_90a"),
    ("fma.rn.f32 yv, a, xv, nosuch;", "declare"),
    ("fmaa.rn.f32 yv, a, xv, yv;", "spelling"),
    ("add.f32 yv, yv;", "operand"),
])
def test_error_hints(line, needle):
    em = emit(saxpy(body=_body_with(17, line)), "sm_90")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(em.text, "sm_90", line_map=em.line_map)
    assert needle in e.value.hint and e.value.span.line == 18


def test_compile_module():
    from sass_lab.toolchain.compile import compile_module

    em, res = compile_module(saxpy(), "sm_89", CompileOptions(lineinfo=True, maxrregcount=32))
    assert ".loc" in em.text and res.arch == "sm_89" and "-lineinfo" in res.options
    assert res.resources["saxpy"].maxnreg == 32


def test_link_error_maps_to_the_call():
    k = kernel_from_lines("k", [("A", "u64")], [("a", "u64")], """\
ld.param.u64 a, [A];
{
.param .u64 p;
st.param.u64 [p], a;
call.uni foo, (p);
}
ret;""", file="l.sasm", first_line=10)
    raw = ir.Raw(".extern .func foo(.param .u64 x);", Span("l.sasm", 2))
    em = emit(ir.Module((k,), raw=(raw,), file="l.sasm"), "sm_90")
    with pytest.raises(ToolchainError) as e:
        compile_ptx(em.text, "sm_90", line_map=em.line_map)
    assert "'foo'" in e.value.message  # ptxas: "Unresolved extern function"; nvJitLink: "Undefined reference"
    assert (e.value.span.file, e.value.span.line) == ("l.sasm", 14) and "define" in e.value.hint
