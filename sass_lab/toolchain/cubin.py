"""Read kernel resources straight from a cubin (CUDA ELF) with pyelftools.

Sources, per kernel ``k`` (layout checked on cubins from nvJitLink/ptxas 13.0):

- ``.nv.info`` (module-wide): ``EIATTR_REGCOUNT`` / ``FRAME_SIZE`` / ``MIN_STACK_SIZE`` /
  ``MAX_STACK_SIZE`` as ``[symbol index u32][value u32]``;
- ``.nv.info.k``: ``MAX_THREADS`` / ``REQNTID`` (3 × u32), ``MAXREG_COUNT`` (u16),
  ``NUM_BARRIERS`` (0x4c, byte), ``CTA_PER_CLUSTER`` (3 × u32), ``EXPLICIT_CLUSTER``,
  ``MAX_CLUSTER_RANK``, ``PARAM_CBANK`` (``[sym u32][offset u16][size u16]``),
  ``CBANK_PARAM_SIZE``, ``KPARAM_INFO`` (one per parameter), ``EXIT_INSTR_OFFSETS``;
- ``.nv.shared.k`` (present only with static shared memory): on sm_90 its size is the static shared
  memory *plus* the 1 KB the driver reserves per block, and the ELF then defines the symbol
  ``.nv.reservedSmem.offset0``; on sm_75…sm_89 it is the static size alone (measured with 13.0:
  100 B → 1124 on sm_90, 100 on sm_80/86/89); ``.nv.constant0.k``: bank-0 bytes (driver area + params);
- ``.text.k``: machine code size; without ``NUM_BARRIERS`` (CUDA 12 ptxas for sm_70) the barrier
  count sits in its ``sh_flags`` bits 20–26.

Entries are ``[format u8][attribute u8]`` then a value: formats 1–3 (none, byte, half) take 4 bytes
in all, format 4 is ``[size u16]`` followed by ``size`` bytes.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from ..errors import ToolchainError

EIFMT_NVAL, EIFMT_BVAL, EIFMT_HVAL, EIFMT_SVAL = 1, 2, 3, 4

EIATTR = {
    0x04: "CTAIDZ_USED", 0x05: "MAX_THREADS", 0x0A: "PARAM_CBANK", 0x0F: "EXTERNS", 0x10: "REQNTID",
    0x11: "FRAME_SIZE", 0x12: "MIN_STACK_SIZE", 0x17: "KPARAM_INFO", 0x19: "CBANK_PARAM_SIZE",
    0x1B: "MAXREG_COUNT", 0x1C: "EXIT_INSTR_OFFSETS", 0x1D: "S2RCTAID_INSTR_OFFSETS",
    0x1E: "CRS_STACK_SIZE", 0x23: "MAX_STACK_SIZE", 0x2F: "REGCOUNT", 0x36: "SW_WAR",
    0x37: "CUDA_API_VERSION", 0x38: "NUM_MBARRIERS", 0x3D: "CTA_PER_CLUSTER",
    0x3E: "EXPLICIT_CLUSTER", 0x3F: "MAX_CLUSTER_RANK", 0x4C: "NUM_BARRIERS",
}


@dataclass(frozen=True, slots=True)
class NvAttr:
    """One ``.nv.info`` entry: attribute name (or ``0x..``), format, raw value bytes."""

    name: str
    fmt: int
    data: bytes

    @property
    def value(self) -> int:
        """Byte/half values as int; for blobs the first u32."""
        if self.fmt in (EIFMT_BVAL, EIFMT_HVAL):
            return int.from_bytes(self.data, "little")
        return struct.unpack_from("<I", self.data)[0] if len(self.data) >= 4 else 0

    def words(self) -> tuple[int, ...]:
        n = len(self.data) // 4
        return struct.unpack_from(f"<{n}I", self.data)


@dataclass(frozen=True, slots=True)
class KParam:
    """One kernel parameter as the cubin lays it out in constant bank 0."""

    ordinal: int
    offset: int  # from the start of the parameter area
    size: int


@dataclass(frozen=True, slots=True)
class CubinKernel:
    """Everything the cubin says about one entry."""

    name: str
    registers: int
    frame_size: int = 0
    min_stack: int = 0
    max_stack: int = 0
    max_threads: tuple[int, ...] = ()
    reqntid: tuple[int, ...] = ()
    maxreg_count: int = 0
    barriers: int = 0
    shared_section: int = 0  # size of .nv.shared.<k>
    reserved_in_section: bool = False  # .nv.reservedSmem.offset0 defined: shared_section has the 1 KB
    const0_bytes: int = 0
    param_offset: int = 0  # c[0x0][param_offset] = first parameter
    param_bytes: int = 0
    params: tuple[KParam, ...] = ()
    text_bytes: int = 0
    cluster: tuple[int, ...] = ()  # .reqnctapercluster (EIATTR_CTA_PER_CLUSTER)
    explicit_cluster: bool = False  # .explicitcluster
    max_cluster_rank: int = 0  # .maxclusterrank
    entry: bool = True  # False for a non-inlined device function (.func)
    attrs: tuple[NvAttr, ...] = ()


def parse_nv_info(data: bytes) -> list[NvAttr]:
    """Decode one ``.nv.info*`` section into entries (zero padding skipped)."""
    out, i = [], 0
    while i + 2 <= len(data):
        fmt, attr = data[i], data[i + 1]
        name = EIATTR.get(attr, f"0x{attr:02x}")
        if fmt == EIFMT_SVAL:
            (size,) = struct.unpack_from("<H", data, i + 2)
            out.append(NvAttr(name, fmt, bytes(data[i + 4:i + 4 + size])))
            i += 4 + size
        elif fmt == EIFMT_HVAL:
            out.append(NvAttr(name, fmt, bytes(data[i + 2:i + 4])))
            i += 4
        elif fmt == EIFMT_BVAL:
            out.append(NvAttr(name, fmt, bytes(data[i + 2:i + 3])))
            i += 4
        elif fmt == EIFMT_NVAL:
            out.append(NvAttr(name, fmt, b""))
            i += 4
        else:  # padding
            i += 1
    return out


def elf_file(cubin: bytes):
    """The cubin as a pyelftools ELFFile (ToolchainError if it is not an ELF)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        return ELFFile(io.BytesIO(cubin))
    except ELFError as e:
        raise ToolchainError(f"not a cubin: {e}", hint="pass the bytes nvJitLink/ptxas produced") from None


def read_cubin(cubin: bytes) -> dict[str, CubinKernel]:
    """Per-function resources from the ELF; ``CubinKernel.entry`` tells kernels from device functions
    (an entry has a ``.nv.constant0.<k>`` bank or a parameter bank). A cut or garbled ELF is a
    ToolchainError, never a parser's traceback."""
    from elftools.common.exceptions import ELFError

    elf = elf_file(cubin)
    try:
        return _read(elf)
    except (ELFError, struct.error, ValueError, IndexError, OverflowError, UnicodeDecodeError) as e:
        raise ToolchainError(f"not a cubin: {e}", hint="pass the bytes nvJitLink/ptxas produced") from None


def _read(elf) -> dict[str, CubinKernel]:
    sections = {s.name: s for s in elf.iter_sections()}  # once (each lookup by name walks them again)
    symtab = sections.get(".symtab")
    syms = list(symtab.iter_symbols()) if symtab is not None else []
    per_sym: dict[int, dict[str, int]] = {}
    info = sections.get(".nv.info")
    if info is not None:
        for a in parse_nv_info(info.data()):
            w = a.words()
            if a.name in ("REGCOUNT", "FRAME_SIZE", "MIN_STACK_SIZE", "MAX_STACK_SIZE") and len(w) >= 2:
                per_sym.setdefault(w[0], {})[a.name] = w[1]
    reserved = any(s.name.startswith(".nv.reservedSmem") for s in syms)
    out: dict[str, CubinKernel] = {}
    for name, sec in sections.items():
        if not name.startswith(".nv.info."):
            continue
        k = name[len(".nv.info."):]
        attrs = tuple(parse_nv_info(sec.data()))
        text = sections.get(f".text.{k}")
        idx = next((i for i, s in enumerate(syms) if s.name == k), -1)
        vals = per_sym.get(idx, {})
        regs = vals.get("REGCOUNT")
        if regs is None and text is not None:
            regs = text["sh_info"] >> 24  # pre-CUDA-12 layout
        fields: dict = {}
        params = []
        for a in attrs:
            if a.name in ("MAX_THREADS", "REQNTID"):
                fields[a.name.lower()] = a.words()[:3]
            elif a.name == "CTA_PER_CLUSTER":
                fields["cluster"] = a.words()[:3]
            elif a.name == "EXPLICIT_CLUSTER":
                fields["explicit_cluster"] = True
            elif a.name == "MAX_CLUSTER_RANK":
                fields["max_cluster_rank"] = a.value
            elif a.name == "MAXREG_COUNT":
                fields["maxreg_count"] = a.value
            elif a.name == "NUM_BARRIERS":
                fields["barriers"] = a.value
            elif a.name == "PARAM_CBANK" and len(a.data) >= 8:
                _, off, size = struct.unpack_from("<IHH", a.data)
                fields["param_offset"], fields["param_bytes"] = off, size
            elif a.name == "KPARAM_INFO" and len(a.data) >= 12:
                _, ordinal, off, flags = struct.unpack_from("<IHHI", a.data)
                params.append(KParam(ordinal, off, (flags >> 18) & 0x3FFF))
        if "barriers" not in fields and text is not None:
            fields["barriers"] = (text["sh_flags"] >> 20) & 0x7F  # CUDA 12 for sm_70: no NUM_BARRIERS
        shared = sections.get(f".nv.shared.{k}")
        const0 = sections.get(f".nv.constant0.{k}")
        out[k] = CubinKernel(
            name=k, registers=int(regs or 0), frame_size=vals.get("FRAME_SIZE", 0),
            min_stack=vals.get("MIN_STACK_SIZE", 0), max_stack=vals.get("MAX_STACK_SIZE", 0),
            shared_section=shared["sh_size"] if shared is not None else 0, reserved_in_section=reserved,
            const0_bytes=const0["sh_size"] if const0 is not None else 0,
            params=tuple(sorted(params, key=lambda p: p.ordinal)),
            text_bytes=text["sh_size"] if text is not None else 0,
            entry=const0 is not None or "param_offset" in fields, attrs=attrs, **fields)
    return out


def elf_arch(cubin: bytes) -> str:
    """``sm_XY`` from the ELF header flags (low byte of ``e_flags`` … best effort)."""
    flags = elf_file(cubin).header["e_flags"]
    sm = (flags >> 8) & 0xFF
    return f"sm_{sm}" if sm else "unknown"
