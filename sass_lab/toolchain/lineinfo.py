"""SASS offset → PTX line → .sasm span, from the line tables ptxas writes into a cubin.

Compile with ``compile_ptx(..., options=CompileOptions(lineinfo=True))`` and the cubin carries ``.nv_debug_line_sass``: a
DWARF (v2) line program mapping each SASS instruction of ``.text.<kernel>`` to a line of the PTX
text. With the emitter's ``line_map`` that line becomes the .sasm span, loop chain included. PTX
with ``.loc`` directives (``emit(..., lineinfo=True)``) also gets ``.debug_line``: SASS → the files
and lines named by ``.file``/``.loc``.

pyelftools cannot apply CUDA's relocations, so the line program is decoded here; each
``DW_LNE_set_address`` is resolved through ``.rela<section>`` (sm_90) or ``.rel<section>`` (sm_80) to
the kernel whose ``.text`` it names.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Span
from .cubin import elf_file


@dataclass(frozen=True, slots=True)
class LineRow:
    """One row of a line table: from ``offset`` (bytes into ``.text.<kernel>``) on, ``file:line``."""

    kernel: str
    offset: int
    file: str
    line: int
    column: int = 0


def _uleb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _sleb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                value -= 1 << shift
            return value, i


def _cstr(data: bytes, i: int) -> tuple[str, int]:
    end = data.index(b"\0", i)
    return data[i:end].decode(errors="replace"), end + 1


def _header(data: bytes, unit: int) -> tuple[int, int, int, int, bytes, list[str], int]:
    """(min_inst, line_base, line_range, opcode_base, std_lengths, files, program start)."""
    (header_len,) = struct.unpack_from("<I", data, unit + 6)
    i = unit + 10
    min_inst, _default_stmt, line_base, line_range, opcode_base = struct.unpack_from("<BBbBB", data, i)
    i += 5
    std_lengths = data[i:i + opcode_base - 1]
    i += opcode_base - 1
    while data[i]:  # include directories
        _, i = _cstr(data, i)
    i += 1
    files = [""]
    while data[i]:
        name, i = _cstr(data, i)
        for _ in range(3):  # directory, mtime, length
            _, i = _uleb(data, i)
        files.append(name)
    return min_inst, line_base, line_range, opcode_base, std_lengths, files, unit + 10 + header_len


def _unit_rows(data: bytes, unit: int, end: int, owners: dict[int, tuple[str, int | None]]) -> list[LineRow]:
    """Run one unit's line-number state machine."""
    min_inst, line_base, line_range, opcode_base, std_lengths, files, i = _header(data, unit)
    rows: list[LineRow] = []
    kernel, address, file, line, col = "", 0, 1, 1, 0
    while i < end:
        op = data[i]
        i += 1
        row = False
        if op >= opcode_base:
            adj = op - opcode_base
            address += (adj // line_range) * min_inst
            line += line_base + adj % line_range
            row = True
        elif op == 0:
            size, i = _uleb(data, i)
            sub = data[i]
            if sub == 1:  # end_sequence
                kernel, address, file, line, col = "", 0, 1, 1, 0
            elif sub == 2:  # set_address; SHT_REL keeps the addend in place, SHT_RELA in the entry
                kernel, addend = owners.get(i + 1, ("", None))
                stored = int.from_bytes(data[i + 1:i + size], "little")
                address = stored if addend is None else addend
            elif sub == 3:  # define_file
                files.append(_cstr(data, i + 1)[0])
            i += size
        elif op == 1:  # copy
            row = True
        elif op == 2:
            n, i = _uleb(data, i)
            address += n * min_inst
        elif op == 3:
            n, i = _sleb(data, i)
            line += n
        elif op == 4:
            file, i = _uleb(data, i)
        elif op == 5:
            col, i = _uleb(data, i)
        elif op == 8:  # const_add_pc
            address += ((255 - opcode_base) // line_range) * min_inst
        elif op == 9:  # fixed_advance_pc
            address += struct.unpack_from("<H", data, i)[0]
            i += 2
        else:  # negate_stmt, basic_block, prologue/epilogue, isa, unknown: skip their operands
            for _ in range(std_lengths[op - 1]):
                _, i = _uleb(data, i)
        if row and kernel:
            rows.append(LineRow(kernel, address, files[file] if file < len(files) else "?", line, col))
    return rows


def decode_line_program(data: bytes, address_owner: dict[int, tuple[str, int | None]]) -> list[LineRow]:
    """Rows of every unit in a ``.debug_line``-format section.

    ``address_owner`` maps a section offset holding a ``set_address`` operand to (kernel, addend);
    addend None means the operand itself holds it (SHT_REL, as sm_80 cubins use; sm_90 uses RELA).
    """
    rows: list[LineRow] = []
    unit = 0
    while unit + 4 <= len(data):
        end = unit + 4 + struct.unpack_from("<I", data, unit)[0]
        rows.extend(_unit_rows(data, unit, end, address_owner))
        unit = end
    return rows


def line_table(cubin: bytes, section: str = ".nv_debug_line_sass") -> dict[str, tuple[LineRow, ...]]:
    """Per kernel, the rows of ``section`` sorted by offset (empty without line info)."""
    elf = elf_file(cubin)
    sec = elf.get_section_by_name(section)
    if sec is None:
        return {}
    symtab = elf.get_section_by_name(".symtab")
    owners: dict[int, tuple[str, int | None]] = {}
    for rel in (elf.get_section_by_name(".rela" + section), elf.get_section_by_name(".rel" + section)):
        if rel is None or symtab is None:
            continue
        for r in rel.iter_relocations():
            sym = symtab.get_symbol(r["r_info_sym"])
            shndx = sym["st_shndx"]
            target = elf.get_section(shndx).name if isinstance(shndx, int) else ""
            if target.startswith(".text."):
                addend = r["r_addend"] + sym["st_value"] if rel.is_RELA() else None
                owners[r["r_offset"]] = (target[len(".text."):], addend)
    out: dict[str, list[LineRow]] = {}
    for row in decode_line_program(sec.data(), owners):
        out.setdefault(row.kernel, []).append(row)
    return {k: tuple(sorted(v, key=lambda r: r.offset)) for k, v in out.items()}


def row_at(rows: Sequence[LineRow], offset: int) -> LineRow | None:
    """The row in force at ``offset`` (the last row at or before it)."""
    best = None
    for r in rows:
        if r.offset > offset:
            break
        best = r
    return best


def sass_spans(cubin: bytes, line_map: Sequence[Span | None]) -> dict[str, dict[int, Span]]:
    """Per kernel, SASS offset → .sasm span for every offset where the PTX line changes.

    Offsets between two keys belong to the earlier key (see :func:`row_at`).
    """
    out: dict[str, dict[int, Span]] = {}
    for kernel, rows in line_table(cubin).items():
        spans = {}
        for r in rows:
            if 0 < r.line <= len(line_map) and line_map[r.line - 1] is not None:
                spans[r.offset] = line_map[r.line - 1]
        out[kernel] = spans
    return out
