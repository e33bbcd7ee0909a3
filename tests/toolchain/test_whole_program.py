"""The default build is the ptxas command line's whole-program code, byte for byte.

For every shipped kernel and every PTX file the tests carry, the cubin ``assemble`` returns is compared
with what ``ptxas -arch=<arch> -O3`` from the pinned CUDA 13.0 wheel makes of the same PTX, run here
directly: the register counts and the SASS (every ``.text.<kernel>`` section) must be identical.
nvJitLink, the option, compiles relocatable code and may differ (more registers on several of them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ptxas_cli import command_line, texts

from sass_lab.api import assemble, assemble_file
from sass_lab.errors import SasmError
from sass_lab.toolchain.cubin import read_cubin
from sass_lab.toolchain.options import CompileOptions
from sass_lab.toolchain.ptxas import ptxas_path, ptxas_version

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "kernels_asm").glob("*.sasm"))
PTX = sorted(p for d in ("dsl/data", "emulator/data", "sass/data") for p in (ROOT / "tests" / d).glob("*.ptx"))


def _target(text: str) -> str:
    m = re.search(r"^\s*\.target\s+(sm_\w+)", text, re.M)
    return m.group(1) if m else "sm_90"


def _same(mod, tmp: Path) -> None:
    ref = command_line(mod.ptx, mod.arch, tmp)
    assert mod.compiler == f"ptxas {ptxas_version(ptxas_path(mod.arch))}"
    ours = {n: k.registers for n, k in read_cubin(mod.cubin).items()}
    theirs = {n: k.registers for n, k in read_cubin(ref).items()}
    assert ours == theirs
    assert texts(mod.cubin) == texts(ref) and texts(ref)


def test_the_pinned_ptxas_is_cuda_13_0():
    assert ptxas_version(ptxas_path("sm_90")).startswith("13.0.")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_kernels_equal_the_ptxascommand_line(path, tmp_path):
    _same(assemble_file(path), tmp_path)


@pytest.mark.parametrize("path", PTX, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_test_kernels_equal_the_ptxascommand_line(path, tmp_path):
    text = path.read_text()
    arch = _target(text)
    try:
        mod = assemble(text, arch, file=str(path))
    except SasmError as e:  # e.g. an emulator fixture the assembler refuses on purpose
        pytest.skip(f"not assembled: {e.message}")
    _same(mod, tmp_path)


def test_whole_program_differs_from_relocatable_where_it_matters():
    """The reason for the default: nvJitLink (relocatable, like ``ptxas -c``) uses more registers."""
    a = assemble_file(ROOT / "kernels_asm/sgemm_tiled.sasm")
    b = assemble_file(ROOT / "kernels_asm/sgemm_tiled.sasm", options=CompileOptions(compiler="nvjitlink"))
    assert b.compiler.startswith("nvJitLink 13.0.")
    assert a["sgemm_tiled"].resources.registers < b["sgemm_tiled"].resources.registers
