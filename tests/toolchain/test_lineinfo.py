"""SASS → PTX line tables decoded from the cubin, judged by nvdisasm's own annotation."""

from __future__ import annotations

import re
import subprocess

import pytest
from ir_samples import saxpy
from ptx_fixtures import HEAD, spill, two_kernels

from sass_lab.backend.ptx import emit
from sass_lab.toolchain.compile import compile_ptx
from sass_lab.toolchain.lineinfo import line_table, row_at, sass_spans
from sass_lab.toolchain.options import CompileOptions


def _nvdisasm() -> str | None:
    try:
        from cuda.pathfinder import find_nvidia_binary_utility

        return find_nvidia_binary_utility("nvdisasm")
    except Exception:  # noqa: BLE001
        return None


NVDISASM = _nvdisasm()


def _nvdisasm_lines(cubin: bytes, tmp_path, flag: str) -> dict[str, dict[int, int]]:
    """kernel → {SASS offset: line} as ``nvdisasm -c <flag>`` prints it."""
    path = tmp_path / "k.cubin"
    path.write_bytes(cubin)
    text = subprocess.run([NVDISASM, "-c", flag, str(path)], capture_output=True, text=True,
                          check=True).stdout
    out: dict[str, dict[int, int]] = {}
    kernel, line = None, None
    for ln in text.splitlines():
        if m := re.match(r"\s*\.section\s+\.text\.(\S+?),", ln):
            kernel = m.group(1)
            out[kernel] = {}
        elif m := re.search(r'//## File ".*", line (\d+)', ln):
            line = int(m.group(1))
        elif (m := re.match(r"\s*/\*([0-9a-f]{4,})\*/", ln)) and kernel and line is not None:
            out[kernel][int(m.group(1), 16)] = line
    return out


@pytest.mark.skipif(NVDISASM is None, reason="nvdisasm not installed")
@pytest.mark.parametrize("arch", ["sm_75", "sm_80", "sm_90"])  # REL (sm_75/80) and RELA (sm_90)
def test_ptx_lines_match_nvdisasm(tmp_path, arch):
    # two kernels in one cubin: each sequence must land on its own .text section
    ptx = spill(40) + two_kernels()[len(HEAD):]
    cubin = compile_ptx(ptx.replace("ARCH", arch), arch, options=CompileOptions(lineinfo=True, maxrregcount=24)).cubin
    tables = line_table(cubin)
    want = _nvdisasm_lines(cubin, tmp_path, "-gp")
    assert set(tables) == set(want) == {"spill", "shared", "barriers"}
    for name, rows in tables.items():
        assert want[name] and all(row_at(rows, off).line == line for off, line in want[name].items())


@pytest.mark.skipif(NVDISASM is None, reason="nvdisasm not installed")
def test_loc_lines_match_nvdisasm(tmp_path):
    em = emit(saxpy(), "sm_90", lineinfo=True)
    cubin = compile_ptx(em.text, "sm_90").cubin
    rows = line_table(cubin, ".debug_line")["saxpy"]
    assert {r.file for r in rows} == {"saxpy.sasm"}
    want = _nvdisasm_lines(cubin, tmp_path, "-g")["saxpy"]
    assert want and all(row_at(rows, off).line == line for off, line in want.items())


def test_sass_spans_reach_the_sasm():
    em = emit(saxpy(), "sm_90")
    cubin = compile_ptx(em.text, "sm_90", options=CompileOptions(lineinfo=True)).cubin
    spans = sass_spans(cubin, em.line_map)["saxpy"]
    sources = {s.source for s in spans.values()}
    assert "fma.rn.f32 yv, a, xv, yv;" in sources and "ld.global.f32 xv, [x];" in sources
    assert all(s.file == "saxpy.sasm" for s in spans.values())


def test_no_line_info_without_the_option():
    cubin = compile_ptx(emit(saxpy(), "sm_90").text, "sm_90").cubin
    assert line_table(cubin) == {} and line_table(cubin, ".debug_line") == {}


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_lineinfo_does_not_change_the_code(arch):
    from sass_lab.toolchain.cubin import elf_file

    ptx = spill(40).replace("ARCH", arch)
    plain = compile_ptx(ptx, arch, options=CompileOptions(maxrregcount=24)).cubin
    annotated = compile_ptx(ptx, arch, options=CompileOptions(maxrregcount=24, lineinfo=True)).cubin
    assert elf_file(plain).get_section_by_name(".text.spill").data() == \
        elf_file(annotated).get_section_by_name(".text.spill").data()
