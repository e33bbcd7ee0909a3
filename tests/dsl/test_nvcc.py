"""PTX written by nvcc is valid input: every instruction survives the front end verbatim, and the
.entry kernels assemble unchanged through the whole pipeline (nvJitLink, no GPU needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import sass_lab
from sass_lab import ir
from sass_lab.dsl import frontend
from sass_lab.dsl.parse import strip_comments
from sass_lab.errors import ToolchainError

DATA = Path(__file__).parent / "data"
PTX_FILES = sorted(DATA.glob("*.ptx"))
# the emulator's nvcc corpus (device functions, inline-asm scopes): every file assembles as nvcc wrote it
CORPUS = sorted((Path(__file__).parents[1] / "emulator" / "corpus").glob("*.ptx"))
TEXTURES = [p for p in CORPUS if p.name.startswith("textures.")]  # texture/surface objects (the emulator refuses them)
CDP = [p for p in CORPUS if p.name.startswith("tutorials_cdp.")]  # device-side launches: rejected, with why
CORPUS = [p for p in CORPUS if p not in CDP]
_SKIP = re.compile(r"^\s*($|\.|[{})]|\$?[\w$]+:|call)")


def show(op: ir.Operand) -> str:
    if isinstance(op, ir.Reg | ir.Special | ir.Sym | ir.Label):
        return op.name
    if isinstance(op, ir.Imm):
        return op.text
    if isinstance(op, ir.Mem):
        base = show(op.base) if op.base is not None else ""
        if op.coords:  # [handle, {c0, c1}]: texture/surface coordinates, TMA tensor coordinates
            return f"[{base},{{{','.join(show(c) for c in op.coords)}}}]"
        if base and op.offset:
            return f"[{base}+{op.offset}]"
        return f"[{base or op.offset}]"
    if isinstance(op, ir.Vec):
        return "{" + ",".join(show(i) for i in op.items) + "}"
    if isinstance(op, ir.PredPair):
        return f"{show(op.first)}|{op.second.name}"
    if isinstance(op, ir.Sink):
        return "_"
    raise AssertionError(op)


def show_instr(ins: ir.Instr) -> str:
    guard = f"@{'!' if ins.guard.negate else ''}{ins.guard.reg.name}" if ins.guard else ""
    return f"{guard} {ins.name} {', '.join(show(o) for o in ins.operands)};"


def instruction_lines(ptx: str) -> list[str]:
    """The instruction lines of the .entry bodies, whitespace removed."""
    out, in_func, in_call = [], False, False
    for line in strip_comments(ptx.split("\n")):
        if in_call or line.lstrip().startswith("call"):  # nvcc spreads call over several lines
            in_call = ";" not in line
            continue
        if ".func" in line.split("(")[0]:
            in_func = True
        elif line.lstrip().startswith(".visible .entry") or line.lstrip().startswith(".entry"):
            in_func = False
        line = line.strip().lstrip("{").rstrip("}")  # inline asm: '{  cvt.rn.f16.f32 %rs1, %f1;}'
        if in_func or _SKIP.match(line):
            continue
        text = re.sub(r"\s+", "", line).replace("+0]", "]")
        out.append(text if text.endswith(";") else text + ";")
    return out


def unrename(text: str, ptx: str) -> str:
    """Registers re-declared in nested scopes get a suffix (q → q_1): undo it for the comparison."""
    words = set(re.findall(r"[%\w$]+", ptx))
    text = re.sub(r"([%\w$]+)_\d+\b", lambda m: m.group(1) if m.group(0) not in words else m.group(0), text)
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("path", PTX_FILES, ids=[p.stem for p in PTX_FILES])
def test_every_instruction_round_trips(path):
    ptx = path.read_text()
    mod = frontend(ptx, str(path), {}).module
    got = [unrename(show_instr(s), ptx) for k in mod.kernels for s in k.body if isinstance(s, ir.Instr)]
    assert got == instruction_lines(ptx)
    assert all(k.entry for k in mod.kernels)


@pytest.mark.parametrize("path", PTX_FILES + CORPUS, ids=[p.stem for p in PTX_FILES + CORPUS])
def test_nvcc_ptx_assembles_unchanged(path):
    ptx = path.read_text()
    names = re.findall(r"\.entry\s+(\w+)", ptx)
    mod = sass_lab.assemble(ptx, file=str(path))
    assert sorted(mod.kernels) == sorted(names)
    for k in mod:
        assert k.resources.registers > 0
        assert len(k.ir.body) > 0


def built_as_ptxas_builds(path: Path, tmp_path: Path) -> dict[str, int]:
    """Assemble nvcc's PTX at ``path`` and check that every kernel's registers and every ``.text`` section
    equal what the ptxas command line makes of the same file; → registers per kernel."""
    from ptxas_cli import command_line, texts

    from sass_lab.toolchain.cubin import read_cubin

    ptx = path.read_text()
    arch = re.search(r"^\s*\.target\s+(sm_\w+)", ptx, re.M).group(1)
    mod = sass_lab.assemble(ptx, arch, file=str(path))
    ref = command_line(ptx, arch, tmp_path)
    theirs = {n: k.registers for n, k in read_cubin(ref).items() if k.entry}
    assert {k.name: k.resources.registers for k in mod} == theirs
    assert texts(mod.cubin) == texts(ref)
    return theirs


# what the ptxas command line builds as nvcc wrote it (-G builds lost their DWARF when committed;
# -rdc code needs the device runtime linked)
BUILDABLE = [p for p in CORPUS if ".G." not in p.name and "_cdp." not in p.name]


@pytest.mark.parametrize("path", BUILDABLE, ids=[p.stem for p in BUILDABLE])
def test_nvcc_corpus_builds_what_ptxas_builds(path, tmp_path):
    """Every kernel of every corpus build: the registers and every .text section equal what
    ``ptxas -arch=<its target> -O3`` makes of nvcc's own PTX (register sharing leaves nvcc's
    inline-asm scopes alone, module variables keep their order)."""
    assert built_as_ptxas_builds(path, tmp_path)


@pytest.mark.parametrize("path", TEXTURES, ids=[p.stem for p in TEXTURES])
def test_nvcc_texture_and_surface_ptx_assembles(path):
    """tex/tld4 (1-D fetch, 2-D, 3-D, layered, cubemap, LOD, gradients, gather, a sparse fetch's
    ``{…}|p``) and suld/sust (clamp, zero, trap; 2-D, 3-D, layered; vectors of b8/b16/b32) go through
    the front end (and build as ptxas builds them: above)."""
    ops = {ins.opcode for k in frontend(path.read_text(), str(path), {}).module.kernels for ins in k.body
           if isinstance(ins, ir.Instr)}
    assert {"tex", "tld4", "suld", "sust"} <= ops
    assert len(sass_lab.assemble(path.read_text(), file=str(path)).kernels) == 7


MODULE_VARS = [p for p in CORPUS if p.name.startswith("handoff.")]  # a __managed__ variable among tables


@pytest.mark.parametrize("path", MODULE_VARS, ids=[p.stem for p in MODULE_VARS])
def test_module_variables_keep_their_order(path):
    """Module-scope variables are emitted in nvcc's order, attributes kept (``.global .attribute(.managed)``
    first, then the tables): the order sets their places in the constant bank (the managed variable
    printed after the others moved its address: other SASS than ptxas on nvcc's PTX, see above)."""
    ptx = path.read_text()
    mod = sass_lab.assemble(ptx, file=str(path))
    order = [m.group(1) for m in re.finditer(r"^\.global[^;]*?\s([\w$]+)(?:\[\d*\])*(?: =[^;]*)?;", ptx, re.M)]
    ours = [m.group(1) for m in re.finditer(r"^\.global[^;]*?\s([\w$]+)(?:\[\d*\])*(?: =[^;]*)?;", mod.ptx, re.M)]
    assert ours == order and order[0] == "mcount"
    assert ".global .attribute(.managed) .align 4 .u32 mcount;" in mod.ptx


@pytest.mark.parametrize("path", CDP, ids=[p.stem for p in CDP])
def test_nvcc_dynamic_parallelism_ptx_is_rejected_with_the_reason(path):
    """A kernel launched from a kernel (nvcc -rdc=true): the kernel's address is taken as a symbol (it was
    "'_Z9cdp_childPiii' is not declared"), and the device runtime it calls is named as what is missing."""
    with pytest.raises(ToolchainError, match=r"Unresolved extern function '__cudaCDP2") as e:
        sass_lab.assemble(path.read_text(), file=str(path))
    assert "CUDA device runtime" in e.value.hint and "launch the kernels from the host" in e.value.hint


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")
@pytest.mark.parametrize("cu", ["reduce.cu", "mma.cu"])
def test_fresh_nvcc_output(tmp_path, cu):
    out = tmp_path / (Path(cu).stem + ".ptx")
    subprocess.run(["nvcc", "-ptx", "-arch=sm_90", str(DATA / cu), "-o", str(out)], check=True,
                   capture_output=True, timeout=120)
    ptx = out.read_text()
    mod = frontend(ptx, str(out), {}).module
    got = [unrename(show_instr(s), ptx) for k in mod.kernels for s in k.body if isinstance(s, ir.Instr)]
    assert got == instruction_lines(ptx)
    assert sorted(sass_lab.assemble(ptx, file=str(out)).kernels) == sorted(re.findall(r"\.entry\s+(\w+)", ptx))
