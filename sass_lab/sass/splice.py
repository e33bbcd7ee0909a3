"""Splice new machine code into a ptxas cubin: section layout, ``.nv.info``, symbols, relocations.

``splice(skeleton, {function: Code})`` returns a new cubin in which each named function's
``.text.<name>`` holds ``Code.text``. When nothing but instruction words changed (same length,
same attributes) every other byte is untouched — the round trip of an unedited listing is
byte-identical. When the code changes length or order, the ELF is laid out again (each section keeps
its alignment and its original gap to the previous one; program headers follow their sections) and:

* ``.symtab``: the function symbol's size, and any symbol inside the section that is a label of
  the listing, move with the code;
* ``.rela.text.<name>``: each relocation belongs to an instruction with a symbolic operand
  (``32@lo((k + .L_x_0@srel))``, ```(__cuda_sm20_…)``); the n-th such operand of the new code takes the
  n-th relocation of the old, which must name the same operand; label addends follow their label;
* ``.nv.info.<name>``: ``EXIT_INSTR_OFFSETS`` and ``S2RCTAID_INSTR_OFFSETS`` are recomputed,
  ``NUM_BARRIERS`` set; the other lists of instruction offsets — 0x28 ``COOP_GROUP_INSTR_OFFSETS``,
  0x31 ``INT_WARP_WIDE_INSTR_OFFSETS``, 0x46 and 0x55 — name a *subset* of some opcode's instructions
  (ptxas lists some SHFL/VOTE/REDUX of a function, not all), so they cannot be recomputed: each listed
  instruction follows its text — the k-th instruction with that text in the old code is the k-th with
  that text in the new one (the same number of them, or the splice is refused). 0x39
  (``MBARRIER_INSTR_OFFSETS``) holds offsets inside records this module does not decode: its
  instructions must stay where they are;
* ``.nv.info``: ``EIATTR_REGCOUNT`` of the function; ``.nv.shared.<name>``: its size;
* ``.debug_frame``: an FDE whose address range equals the old code size gets the new size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import ToolchainError
from ..toolchain.cubin import EIFMT_BVAL, EIFMT_HVAL, EIFMT_NVAL, EIFMT_SVAL

ATTR_EXIT, ATTR_S2RCTAID, ATTR_REGCOUNT, ATTR_BARRIERS = 0x1C, 0x1D, 0x2F, 0x4C
# EIATTR_COOP_GROUP_INSTR_OFFSETS (0x28), EIATTR_INT_WARP_WIDE_INSTR_OFFSETS (0x31), 0x46 (CALL sites), 0x55
# (LDL/STL sites, two words each): attribute -> words per entry, the instruction offset last
OFFSET_ATTRS = {0x28: 1, 0x31: 1, 0x46: 1, 0x55: 2}
STRUCT_ATTRS = {0x39}  # offsets inside records we do not decode: code must be unchanged
SHT_NOBITS, SHT_RELA, SHT_REL, SHT_SYMTAB = 8, 4, 9, 2


class SpliceError(ToolchainError):
    """The new code cannot be placed in the skeleton (the message says what would be lost)."""


@dataclass(frozen=True)
class Code:
    """New code of one function: ``text`` bytes, instruction texts by address, the addresses of its
    EXIT and S2R SR_CTAID instructions, labels, symbolic operands in order ``(address, text)``, and
    resource settings (None keeps the skeleton's)."""

    text: bytes
    texts: dict[int, str]
    exits: tuple[int, ...]
    s2rctaid: tuple[int, ...]
    labels: dict[str, int]
    symbols: tuple[tuple[int, str], ...]
    registers: int | None = None
    barriers: int | None = None
    shared: int | None = None
    old_texts: dict[int, str] = field(default_factory=dict)
    old_labels: dict[str, int] = field(default_factory=dict)
    old_symbols: tuple[tuple[int, str], ...] = ()


@dataclass
class _Sec:
    name: str
    hdr: list  # name, type, flags, addr, offset, size, link, info, addralign, entsize
    data: bytearray

    @property
    def type(self) -> int:
        return self.hdr[1]


_SH = struct.Struct("<IIQQQQIIQQ")
_PH = struct.Struct("<IIQQQQQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")


def _read(cubin: bytes):
    if cubin[:4] != b"\x7fELF" or cubin[4] != 2:
        raise SpliceError("skeleton is not a 64-bit ELF cubin")
    eh = list(struct.unpack_from("<16sHHIQQQIHHHHHH", cubin, 0))
    shoff, phoff = eh[6], eh[5]
    shnum, phnum, shstrndx = eh[12], eh[10], eh[13]
    hdrs = [list(_SH.unpack_from(cubin, shoff + i * 64)) for i in range(shnum)]
    strtab = hdrs[shstrndx]
    names = cubin[strtab[4]:strtab[4] + strtab[5]]
    secs = []
    for h in hdrs:
        nm = names[h[0]:names.index(b"\0", h[0])].decode()
        data = bytearray() if h[1] == SHT_NOBITS else bytearray(cubin[h[4]:h[4] + h[5]])
        secs.append(_Sec(nm, h, data))
    phs = [list(_PH.unpack_from(cubin, phoff + i * 56)) for i in range(phnum)]
    return eh, secs, phs


def _align(x: int, a: int) -> int:
    return x if a <= 1 else (x + a - 1) // a * a


def _layout(cubin: bytes, eh, secs: list[_Sec], phs) -> bytes:
    """Write the ELF again: file blocks (sections, section and program header tables) in their
    original order, each keeping its gap to the previous one and its alignment."""
    blocks = []  # (old offset, old size, kind, payload ref, align)
    for i, s in enumerate(secs):
        if i == 0 or s.type == SHT_NOBITS:
            continue
        blocks.append((s.hdr[4], s.hdr[5], "sec", i, max(1, s.hdr[8])))
    shnum, phnum = len(secs), len(phs)
    blocks.append((eh[6], shnum * 64, "sh", None, 8))
    if phnum:
        blocks.append((eh[5], phnum * 56, "ph", None, 8))
    blocks.sort(key=lambda b: (b[0], b[2] != "sec"))
    newoff: dict[tuple, int] = {}
    cursor, prev_end = 64, 64
    for old, size, kind, ref, align in blocks:
        gap = max(0, old - prev_end)
        new = _align(cursor + gap, align)
        newoff[(kind, ref)] = new
        newsize = len(secs[ref].data) if kind == "sec" else size
        cursor, prev_end = new + newsize, old + size

    def new_size(kind: str, ref, size: int) -> int:
        return len(secs[ref].data) if kind == "sec" else size

    def shifted(old_off: int) -> int:
        """Where the file position ``old_off`` went: a block start moves with its block; a position
        after a block moves with that block's end."""
        for old, _size, kind, ref, _a in blocks:
            if old == old_off:
                return newoff[(kind, ref)]
        before = [b for b in blocks if b[0] < old_off]
        if not before:
            return old_off
        old, size, kind, ref, _a = max(before, key=lambda b: b[0])
        if old_off >= old + size:
            return newoff[(kind, ref)] + new_size(kind, ref, size) + (old_off - old - size)
        return newoff[(kind, ref)] + (old_off - old)

    for i, s in enumerate(secs):
        if i == 0:
            continue
        if s.type != SHT_NOBITS:
            s.hdr[4] = newoff[("sec", i)]
            s.hdr[5] = len(s.data)
        else:
            s.hdr[4] = shifted(s._old_nobits_off)
    new_phs = []
    for ph in phs:
        ph = list(ph)
        old_start, old_end = ph[2], ph[2] + ph[5]
        inside = [(i, s) for i, s in enumerate(secs) if i and s.type != SHT_NOBITS and s._old_off is not None
                  and old_start <= s._old_off and s._old_off + s._old_size <= old_end and s._old_size]
        if ph[0] == 6 or (not inside and ph[5] and old_start == eh[5]):  # PT_PHDR, or a load of the ph table
            ph[2] = newoff.get(("ph", None), ph[2])
        elif not ph[5]:  # no file bytes (NOBITS): keep its place relative to what precedes it; resize
            ph[2] = shifted(old_start)
            ph[6] += sum(s.hdr[5] - s._old_nobits for s in secs if s.type == SHT_NOBITS
                         and old_start <= s._old_nobits_off < old_start + max(1, ph[6]))
        elif inside:
            first = min(inside, key=lambda t: t[1]._old_off)
            last = max(inside, key=lambda t: t[1]._old_off + t[1]._old_size)
            # the segment keeps what ptxas put around its sections (a gap before the first, padding
            # after the last: 'p_filesz' 176 over sections ending at 175) and grows with them
            ph[2] = first[1].hdr[4] - (first[1]._old_off - old_start)
            old_span = last[1]._old_off + last[1]._old_size - first[1]._old_off
            grow = (last[1].hdr[4] + last[1].hdr[5] - first[1].hdr[4]) - old_span
            ph[5] += grow
            ph[6] += grow
        new_phs.append(ph)
    eh = list(eh)
    eh[6] = newoff[("sh", None)]
    if phnum:
        eh[5] = newoff[("ph", None)]
    out = bytearray(cursor)
    struct.pack_into("<16sHHIQQQIHHHHHH", out, 0, *eh)
    for i, s in enumerate(secs):
        if i and s.type != SHT_NOBITS:
            out[s.hdr[4]:s.hdr[4] + len(s.data)] = s.data
    for i, s in enumerate(secs):
        _SH.pack_into(out, eh[6] + i * 64, *s.hdr)
    for i, ph in enumerate(new_phs):
        _PH.pack_into(out, eh[5] + i * 56, *ph)
    return bytes(out)


# --------------------------------------------------------------------------- .nv.info


def _entries(data: bytes) -> list[tuple[int, int, bytes]]:
    out, i = [], 0
    while i + 2 <= len(data):
        fmt, attr = data[i], data[i + 1]
        if fmt == EIFMT_SVAL:
            (size,) = struct.unpack_from("<H", data, i + 2)
            out.append((fmt, attr, bytes(data[i + 4:i + 4 + size])))
            i += 4 + size
        elif fmt in (EIFMT_HVAL, EIFMT_BVAL, EIFMT_NVAL):
            out.append((fmt, attr, bytes(data[i + 2:i + 4])))
            i += 4
        else:
            raise SpliceError(f"unknown .nv.info entry format {fmt}")
    return out


def _pack(entries: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray()
    for fmt, attr, data in entries:
        if fmt == EIFMT_SVAL:
            out += bytes([fmt, attr]) + struct.pack("<H", len(data)) + data
        else:
            out += bytes([fmt, attr]) + data
    return bytes(out)


def _offsets(values: tuple[int, ...]) -> bytes:
    return b"".join(struct.pack("<I", v) for v in values)


def _norm(text: str) -> str:
    return " ".join(text.replace(".reuse", "").split())


def _move_sites(name: str, attr: int, offs: list[int], code: Code) -> list[int]:
    """Where each listed instruction (old offsets ``offs``) is in the new code: the k-th old
    instruction with its text is the k-th new one with that text (see the module docstring)."""
    old_at: dict[str, list[int]] = {}
    new_at: dict[str, list[int]] = {}
    for a in sorted(code.old_texts):
        old_at.setdefault(_norm(code.old_texts[a]), []).append(a)
    for a in sorted(code.texts):
        new_at.setdefault(_norm(code.texts[a]), []).append(a)
    out = []
    for off in offs:
        t = _norm(code.old_texts.get(off, "?"))
        olds, news = old_at.get(t, []), new_at.get(t, [])
        if off not in olds or len(olds) != len(news):
            raise SpliceError(
                f"{name}: .nv.info attribute 0x{attr:02x} lists the instruction at 0x{off:x} ('{t}'); the new "
                f"code has {len(news)} instruction(s) with that text where the old had {len(olds)}",
                hint="keep that instruction's text as it was (it may move; this attribute follows it by text)")
        out.append(news[olds.index(off)])
    return out


def _fix_info(name: str, ents, code: Code, changed_layout: bool) -> list:
    out = []
    for fmt, attr, data in ents:
        if attr == ATTR_EXIT and fmt == EIFMT_SVAL:
            data = _offsets(code.exits)
        elif attr == ATTR_S2RCTAID and fmt == EIFMT_SVAL:
            data = _offsets(code.s2rctaid)
        elif attr == ATTR_BARRIERS and fmt == EIFMT_BVAL and code.barriers is not None:
            data = bytes([code.barriers]) + data[1:]
        elif changed_layout and attr in OFFSET_ATTRS and fmt == EIFMT_SVAL:
            per = OFFSET_ATTRS[attr]
            words = list(struct.unpack(f"<{len(data) // 4}I", data))
            recs = [words[k:k + per] for k in range(0, len(words), per)]
            moved = _move_sites(name, attr, [r[-1] for r in recs], code)
            ascending = [r[-1] for r in recs] == sorted(r[-1] for r in recs)
            recs = [r[:-1] + [m] for r, m in zip(recs, moved)]
            if ascending:  # ptxas lists them in address order: so does the new list
                recs.sort(key=lambda r: r[-1])
            data = _offsets(tuple(w for r in recs for w in r))
        elif changed_layout and attr in STRUCT_ATTRS and fmt == EIFMT_SVAL:
            words = struct.unpack(f"<{len(data) // 4}I", data)
            for off in [w for w in words if w % 16 == 0 and w in code.old_texts]:
                if code.old_texts.get(off) != code.texts.get(off):
                    raise SpliceError(
                        f"{name}: .nv.info attribute 0x{attr:02x} marks the instruction at 0x{off:x} "
                        f"('{code.old_texts.get(off, '?')}'), which moved or changed",
                        hint="keep that instruction at its address (this attribute is not recomputed)")
        out.append((fmt, attr, data))
    if code.barriers and not any(a == ATTR_BARRIERS for _f, a, _d in out):
        out.append((EIFMT_BVAL, ATTR_BARRIERS, bytes([code.barriers, 0])))
    return out


# --------------------------------------------------------------------------- splice


def splice(skeleton: bytes, codes: dict[str, Code]) -> bytes:
    """The skeleton with every function in ``codes`` replaced (see the module docstring)."""
    eh, secs, phs = _read(skeleton)
    for s in secs:
        s._old_off, s._old_size = (s.hdr[4], s.hdr[5]) if s.type != SHT_NOBITS else (None, 0)
        s._old_nobits_off, s._old_nobits = s.hdr[4], s.hdr[5]
    index = {s.name: i for i, s in enumerate(secs)}
    symtab = next((s for s in secs if s.type == SHT_SYMTAB), None)
    strtab = secs[symtab.hdr[6]] if symtab is not None else None
    syms = [list(_SYM.unpack_from(symtab.data, k * 24)) for k in range(len(symtab.data) // 24)] if symtab else []

    def sym_name(k: int) -> str:
        o = syms[k][0]
        return strtab.data[o:strtab.data.index(b"\0", o)].decode()

    for name, code in codes.items():
        ti = index.get(f".text.{name}")
        if ti is None:
            raise SpliceError(f"the skeleton has no function '{name}'")
        text = secs[ti]
        old_size = len(text.data)
        same_layout = old_size == len(code.text) and code.old_texts.keys() == code.texts.keys() and all(
            _opname(code.old_texts[a]) == _opname(code.texts[a]) for a in code.texts)
        text.data = bytearray(code.text)
        # symbols in the section
        for k, sy in enumerate(syms):
            if sy[3] != ti:
                continue
            nm = sym_name(k)
            if nm == name:
                if sy[5] == old_size:
                    sy[5] = len(code.text)
            elif nm in code.labels:
                sy[4] = code.labels[nm]
            elif sy[4] != 0 and not same_layout:
                raise SpliceError(f"{name}: symbol '{nm}' at 0x{sy[4]:x} is no label of the listing",
                                  hint=f"keep a label '{nm}:' where it belongs")
        # relocations
        for s in secs:
            if s.type in (SHT_RELA, SHT_REL) and s.hdr[7] == ti:
                _fix_relocs(name, s, code, sym_name, same_layout)
        # .nv.info.<name>
        ii = index.get(f".nv.info.{name}")
        if ii is not None:
            secs[ii].data = bytearray(_pack(_fix_info(name, _entries(bytes(secs[ii].data)), code, not same_layout)))
        # register count (module .nv.info), shared memory
        if code.registers is not None:
            gi = index.get(".nv.info")
            fsym = next((k for k in range(len(syms)) if syms[k][3] == ti and sym_name(k) == name), None)
            if gi is not None and fsym is not None:
                ents = _entries(bytes(secs[gi].data))
                for j, (fmt, attr, data) in enumerate(ents):
                    if attr == ATTR_REGCOUNT and struct.unpack_from("<I", data)[0] == fsym:
                        ents[j] = (fmt, attr, struct.pack("<II", fsym, code.registers))
                secs[gi].data = bytearray(_pack(ents))
        si = index.get(f".nv.shared.{name}")
        if code.shared is not None:
            if si is None:
                raise SpliceError(f"{name}: the skeleton has no .nv.shared.{name} to resize",
                                  hint="declare static shared memory in the source the skeleton came from")
            secs[si].hdr[5] = code.shared
        # .debug_frame FDE ranges
        if old_size != len(code.text):
            for s in secs:
                if s.name == ".debug_frame":
                    _fix_frames(s, old_size, len(code.text))
    if symtab is not None:
        symtab.data = bytearray(b"".join(_SYM.pack(*sy) for sy in syms))
    out = _layout(skeleton, eh, secs, phs)
    return out


def _opname(text: str) -> str:
    t = text.strip()
    if t.startswith("@"):
        t = t.split(None, 1)[1] if " " in t else t
    return t.split()[0] if t else ""


def _fix_relocs(name: str, sec: _Sec, code: Code, sym_name, same_layout: bool) -> None:
    rela = sec.type == SHT_RELA
    size = 24 if rela else 16
    recs = [list(_RELA.unpack_from(sec.data, k * size)) if rela else list(struct.unpack_from("<QQ", sec.data, k * size))
            for k in range(len(sec.data) // size)]
    if same_layout and code.symbols == code.old_symbols and code.labels == code.old_labels:
        return
    old = list(code.old_symbols)
    new = list(code.symbols)
    if len(recs) != len(old):
        raise SpliceError(f"{name}: {len(recs)} relocations but {len(old)} symbolic operands in the old code",
                          hint="relocations not tied to an operand cannot follow edited code")
    by_addr = sorted(range(len(recs)), key=lambda k: recs[k][0])
    if [recs[k][0] for k in by_addr] != [a for a, _t in old]:
        raise SpliceError(f"{name}: relocation offsets do not match the symbolic operands")
    if [t for _a, t in old] != [t for _a, t in new]:
        raise SpliceError(f"{name}: symbolic operands changed or moved past each other",
                          hint="keep 32@lo/32@hi and CALL operands, in their order")
    inv_labels = {v: k for k, v in code.old_labels.items()}
    for k, (_oa, _t), (na, _t2) in zip(by_addr, old, new):
        recs[k][0] = na
        if rela and recs[k][2] in inv_labels and inv_labels[recs[k][2]] in code.labels:
            recs[k][2] = code.labels[inv_labels[recs[k][2]]]
    sec.data = bytearray(b"".join(_RELA.pack(*r) if rela else struct.pack("<QQ", *r) for r in recs))


def _fix_frames(sec: _Sec, old_size: int, new_size: int) -> None:
    """Patch the address range of FDEs (64-bit DWARF .debug_frame) that covered ``old_size``."""
    d = sec.data
    i = 0
    while i + 4 <= len(d):
        (length,) = struct.unpack_from("<I", d, i)
        if length == 0:
            break
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from("<Q", d, i + 4)
            body, idw = i + 12, 8
        else:
            body, idw = i + 4, 4
        cie_id = int.from_bytes(d[body:body + idw], "little")
        is_cie = cie_id == (0xFFFFFFFFFFFFFFFF if idw == 8 else 0xFFFFFFFF)
        if not is_cie:
            rng = body + idw + 8  # after initial_location (8 bytes)
            if rng + 8 <= len(d) and struct.unpack_from("<Q", d, rng)[0] == old_size:
                struct.pack_into("<Q", d, rng, new_size)
        i = body + length
