"""Run ``nvdisasm -c -hex`` on a cubin and parse the listing into :class:`SassInstr` per function.

The listing is cut into ``.text.<name>`` sections, labels and instruction lines by a line scanner;
the instruction texts go through the Lark grammar (``parse.py``). Every function section is
returned, kernels and device functions alike, keyed by its name.
"""

from __future__ import annotations

import functools
import io
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

from ..errors import ToolchainError, UsageError
from .control import join_words
from .model import SassInstr
from .parse import parse_instructions

_SECTION = re.compile(r"^\s*\.section\s+\.text\.([^,\s]+)")
_OTHER_SECTION = re.compile(r"^\s*\.section\s+|^//-+ SYMBOLS")
_LABEL = re.compile(r"^([.\w$]+):\s*$")
_INSTR = re.compile(r"^\s*/\*([0-9a-fA-F]+)\*/\s*(.*?;)\s*/\* (0x[0-9a-fA-F]{16}) \*/")
_HI = re.compile(r"^\s*/\* (0x[0-9a-fA-F]{16}) \*/\s*$")
_ENTRY = re.compile(r"^\s*\.other\s+([^,\s]+),\s*@\"STO_CUDA_ENTRY")


@dataclass(frozen=True, slots=True)
class RawInstr:
    """One scanned instruction line pair before operand parsing."""

    address: int
    text: str
    lo: int
    hi: int
    labels: tuple[str, ...]


WHEEL_BINS = ("nvidia/cu13/bin", "nvidia/cuda_nvdisasm/bin")  # nvidia-cuda-nvdisasm wheel layouts


def wheel_nvdisasm(paths: list[str] | None = None) -> str | None:
    """nvdisasm from an nvidia-cuda-nvdisasm wheel in any import path entry, site-packages or not.

    ``pip install --target DIR`` + ``PYTHONPATH=DIR`` (how the device machine gets its wheels) puts the
    wheel where cuda.pathfinder does not look; the import path is where Python itself finds packages.
    """
    import sys

    for entry in paths if paths is not None else sys.path:
        for sub in WHEEL_BINS:
            cand = os.path.join(entry or ".", sub, "nvdisasm")
            if os.path.isfile(cand):
                if not os.access(cand, os.X_OK):
                    try:
                        os.chmod(cand, os.stat(cand).st_mode | 0o111)
                    except OSError:
                        continue
                return cand
    return None


def nvdisasm_path() -> str:
    """The wheel's nvdisasm on the import path first, then cuda.pathfinder's, then PATH's."""
    path = wheel_nvdisasm()
    if not path:
        try:
            from cuda.pathfinder import find_nvidia_binary_utility

            path = find_nvidia_binary_utility("nvdisasm")
        except Exception:  # noqa: BLE001 - pathfinder missing or failing: fall back to PATH
            path = None
    if not path:
        import shutil

        path = shutil.which("nvdisasm")
    if not path:
        raise ToolchainError("nvdisasm not found", hint="pip install nvidia-cuda-nvdisasm")
    return path


def run_nvdisasm(cubin: bytes, *flags: str) -> str:
    """nvdisasm's stdout for ``cubin`` (written to a temporary file)."""
    fd, path = tempfile.mkstemp(suffix=".cubin")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cubin)
        proc = subprocess.run([nvdisasm_path(), *flags, path], capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        text = proc.stderr or proc.stdout
        if "deprecated" in text.lower() or "unsupported" in text.lower():
            arch = _arch_or_none(cubin)
            raise ToolchainError(
                f"this nvdisasm (the CUDA 13 wheel, the only one on PyPI) no longer reads {arch} cubins, so "
                "the SASS view and patch cover sm_75 … sm_90a only",
                hint=f"{arch} still assembles (`sass_lab assemble --arch {arch} -o DIR` writes the cubin); "
                     "show its SASS with a CUDA 12 toolkit's `cuobjdump -sass FILE.cubin`") from None
        raise ToolchainError(f"nvdisasm failed (exit {proc.returncode})", log=text.replace(path, "<cubin>"))
    return proc.stdout


def _arch_or_none(cubin: bytes) -> str:
    try:
        return cubin_arch(cubin)
    except UsageError:
        return "these"


def scan(text: str) -> dict[str, list[RawInstr]]:
    """Instruction lines of each ``.text.<name>`` section, with the labels that precede them."""
    out: dict[str, list[RawInstr]] = {}
    cur: list[RawInstr] | None = None
    labels: list[str] = []
    pending: tuple[int, str, int, tuple[str, ...]] | None = None
    for line in text.splitlines():
        if pending is not None:
            m = _HI.match(line)
            if not m:
                raise ToolchainError("unexpected nvdisasm listing: no high word after an instruction",
                                     log=line)
            a, text, lo, labs = pending
            cur.append(RawInstr(a, text, lo, int(m.group(1), 16), labs))
            pending = None
            continue
        m = _SECTION.match(line)
        if m:
            cur = out.setdefault(m.group(1), [])
            labels = []
            continue
        if _OTHER_SECTION.match(line):
            cur = None
            continue
        if cur is None:
            continue
        m = _INSTR.match(line)
        if m:
            pending = (int(m.group(1), 16), m.group(2).strip(), int(m.group(3), 16), tuple(labels))
            labels = []
            continue
        m = _LABEL.match(line.strip())
        if m:
            labels.append(m.group(1))
    return out


def _label_name(text: str) -> str:
    return text[2:-1] if text.startswith("`(") else text


def build(name: str, raws: list[RawInstr]) -> list[SassInstr]:
    """Parse one section's scanned lines into instructions and resolve local branch labels."""
    parsed = parse_instructions([r.text for r in raws], where=f"function {name}")
    where = {lab: r.address for r in raws for lab in r.labels}
    out = []
    for r, (guard, opfull, ops) in zip(raws, parsed):
        opcode, *mods = opfull.split(".")
        target = None
        for o in ops:
            if o.kind == "label":
                lab = _label_name(o.text)
                target = where.get(lab)
        out.append(SassInstr(address=r.address, text=r.text, guard=guard, opcode=opcode,
                             modifiers=tuple(mods), operands=ops, word=join_words(r.lo, r.hi),
                             labels=r.labels, target=target))
    return out


def cubin_arch(cubin: bytes) -> str:
    """``sm_XY`` from the cubin's ELF header (UsageError for anything that is not a CUDA ELF)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(cubin))
        machine, flags = elf.header.e_machine, elf.header.e_flags
        abi = elf.header.e_ident["EI_ABIVERSION"]
    except (ELFError, ValueError, KeyError) as e:
        raise UsageError(f"not a cubin (ELF): {e}") from None
    if machine != "EM_CUDA":
        raise UsageError(f"not a CUDA ELF (machine {machine})")
    sm = (flags >> 8) & 0xFF if abi >= 8 else flags & 0xFF
    return f"sm_{sm}"


def _check_arch(cubin: bytes, arch: str | None) -> None:
    if arch is None:
        return
    found = cubin_arch(cubin)
    if re.sub(r"[a-z]+$", "", arch.removeprefix("sm_")) != found.removeprefix("sm_"):
        raise UsageError(f"cubin is for {found}, not {arch}")


@functools.lru_cache(maxsize=64)
def listing(cubin: bytes) -> str:
    """``nvdisasm -c -hex -ndf`` text of ``cubin`` (cached). The data-flow pass (off with -ndf) only
    adds inferred labels for indirect branches and takes ~40 % of nvdisasm's time."""
    return run_nvdisasm(cubin, "-c", "-hex", "-ndf")


def target(cubin: bytes) -> str:
    """The ``.target`` nvdisasm reports (``sm_90a`` for arch-specific cubins, which the ELF header
    does not tell apart from ``sm_90``)."""
    m = re.search(r"^\s*\.target\s+(sm_\w+)", listing(bytes(cubin)), re.M)
    return m.group(1) if m else cubin_arch(cubin)


def entries(cubin: bytes) -> list[str]:
    """Names of the kernels (entry functions, not device functions), in listing order."""
    return [m.group(1) for line in listing(bytes(cubin)).splitlines() if (m := _ENTRY.match(line))]


@functools.lru_cache(maxsize=64)
def _disassemble(cubin: bytes) -> tuple[tuple[str, tuple[SassInstr, ...]], ...]:
    listing_text = listing(cubin)
    return tuple((name, tuple(build(name, raws))) for name, raws in scan(listing_text).items())


def disassemble(cubin: bytes, arch: str | None = None) -> dict[str, list[SassInstr]]:
    """Instructions of every function in ``cubin``, keyed by name (kernels and device functions)."""
    if not isinstance(cubin, (bytes, bytearray)):
        raise UsageError("disassemble() needs the cubin as bytes")
    cubin = bytes(cubin)
    _check_arch(cubin, arch)
    return {name: list(instrs) for name, instrs in _disassemble(cubin)}
