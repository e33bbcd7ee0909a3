"""The ptxas command line as the reference build: what ``ptxas -arch=<arch> -O3`` (the pinned CUDA 13.0 wheel)
makes of a PTX text, and a cubin's SASS sections for comparing two builds."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from elftools.elf.elffile import ELFFile

from sass_lab.toolchain.ptxas import ptxas_path


def command_line(ptx: str, arch: str, tmp: Path) -> bytes:
    """The cubin of ``ptxas -arch=<arch> -O3`` on ``ptx`` (run in ``tmp``)."""
    src, out = tmp / "k.ptx", tmp / "k.cubin"
    src.write_text(ptx)
    subprocess.run([ptxas_path(arch), f"-arch={arch}", "-O3", str(src), "-o", str(out)], check=True,
                   capture_output=True, timeout=300)
    return out.read_bytes()


def texts(cubin: bytes) -> dict[str, bytes]:
    """Every ``.text.<kernel>`` section (the SASS) of ``cubin``."""
    return {s.name: s.data() for s in ELFFile(io.BytesIO(cubin)).iter_sections() if s.name.startswith(".text.")}
