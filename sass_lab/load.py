"""Load a cubin for the SASS tools: a .cubin file, or a .sasm/.ptx file assembled on the way.

It sits above ``api`` (it assembles) and beside it, so ``sass/`` stays a reader of cubins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .api import DEFAULT_ARCH, assemble_file
from .errors import UsageError
from .files import check_kind, read_bytes
from .sass.disasm import cubin_arch, target


@dataclass(frozen=True, slots=True)
class Loaded:
    """A cubin, its arch and where it came from."""

    cubin: bytes
    arch: str
    origin: str
    sources: tuple[str, ...] = ()  # files read (the source and its includes)


def load(path: str | Path, arch: str | None = None, defines: dict | None = None) -> Loaded:
    """Read ``path`` (.cubin) or assemble it (.sasm/.ptx, through ``sass_lab.assemble_file``)."""
    path = Path(path)
    if path.suffix == ".cubin":
        cubin = read_bytes(path)
        if not cubin.startswith(b"\x7fELF"):
            raise UsageError(f"{path} is not a cubin (no ELF header)",
                             hint="give a .cubin written by `sass_lab assemble -o` or nvcc -cubin")
        if not _complete(cubin):
            raise UsageError(f"{path} is a truncated or damaged cubin (its ELF tables run past the "
                             f"{len(cubin)} bytes of the file)", hint="write it again (sass_lab assemble -o)")
        found = cubin_arch(cubin)
        if arch and arch.rstrip("a") != found:
            raise UsageError(f"{path} is a {found} cubin, not {arch}", hint="drop --arch for .cubin files")
        return Loaded(cubin, arch or target(cubin), str(path), (str(path),))
    check_kind(path)
    if path.suffix not in (".sasm", ".ptx"):
        raise UsageError(f"don't know how to read '{path}'", hint="give a .sasm, .ptx or .cubin file")
    mod = assemble_file(path, arch or DEFAULT_ARCH, defines=defines)
    return Loaded(mod.cubin, mod.arch, str(path), mod.sources)


def _complete(elf: bytes) -> bool:
    """Whether a 64-bit little-endian ELF's section and program header tables lie inside the file."""
    import struct

    if len(elf) < 64 or elf[4] != 2 or elf[5] != 1:
        return len(elf) >= 64
    phoff, shoff = struct.unpack_from("<QQ", elf, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", elf, 54)
    return phoff + phentsize * phnum <= len(elf) and shoff + shentsize * shnum <= len(elf)
