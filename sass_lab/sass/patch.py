"""Edit control fields of chosen instructions and write a new cubin, with checks.

``patch_cubin(cubin, edits)`` rewrites 16-byte instruction words in place inside the kernels'
``.text.<name>`` sections (file offsets from pyelftools); nothing else in the file moves. Unless
``verify=False`` it then proves the result:

1. the patched cubin equals the original with exactly the intended words replaced (so every byte
   outside ``.text`` and every bit outside the edited control fields is unchanged);
2. nvdisasm re-disassembles it to the same instructions, same text modulo ``.reuse`` markers, and
   to the intended control fields at every edited address.

The built-in pass :func:`interleave_ffma` is DeepGEMM-style FFMA interleaving (see its docstring).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from ..errors import ToolchainError, UsageError
from .control import FIELDS, REUSE_SLOTS, decode, encode, parse_value, with_field
from .disasm import disassemble
from .model import SassInstr


class PatchError(ToolchainError):
    """A patched cubin failed its checks (nvdisasm disagrees or bytes changed unexpectedly)."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Set control ``field`` (stall, yield, write_barrier, read_barrier, wait_mask, reuse) of the
    instruction at ``address`` (section-relative, as in the listing) of function ``kernel``."""

    kernel: str
    address: int
    field: str
    value: int | bool | None


@dataclass(frozen=True, slots=True)
class Change:
    """One rewritten instruction word."""

    kernel: str
    address: int
    offset: int  # file offset of the 16-byte word
    text: str
    before: int
    after: int

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "address": self.address, "text": " ".join(self.text.split()),
                "before": f"{self.before:032x}", "after": f"{self.after:032x}",
                "before_ctrl": decode(self.before).notation(), "after_ctrl": decode(self.after).notation()}


@dataclass(frozen=True, slots=True)
class Patched:
    """The new cubin and the words that changed (``verified`` when the checks ran and passed)."""

    cubin: bytes
    changes: tuple[Change, ...]
    verified: bool


def text_sections(cubin: bytes) -> dict[str, tuple[int, int]]:
    """``{function name: (file offset, size)}`` of every ``.text.<name>`` section."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(cubin))
        return {s.name[len(".text."):]: (s["sh_offset"], s["sh_size"]) for s in elf.iter_sections()
                if s.name.startswith(".text.")}
    except (ELFError, ValueError) as e:
        raise UsageError(f"not a cubin (ELF): {e}") from None


def parse_set(spec: str, kernel: str) -> Edit:
    """``ADDR:field=value`` (ADDR in hex as in the listing, ``0x`` optional) → :class:`Edit`."""
    try:
        addr_s, rest = spec.split(":", 1)
        field, value = rest.split("=", 1)
        address = int(addr_s, 16)
    except ValueError:
        raise UsageError(f"bad --set '{spec}'", hint="write ADDR:field=value, e.g. 0x1a0:stall=4") from None
    field = field.strip()
    if field not in FIELDS:
        raise UsageError(f"unknown control field '{field}'", hint=f"fields: {', '.join(FIELDS)}")
    return Edit(kernel, address, field, parse_value(field, value))


def ffma_runs(instrs: list[SassInstr]) -> list[list[int]]:
    """Maximal runs of consecutive FFMA instructions (indices); a branch target starts a new run."""
    targets = {i.target for i in instrs if i.target is not None}
    runs: list[list[int]] = []
    cur: list[int] = []
    for k, ins in enumerate(instrs):
        if ins.opcode == "FFMA" and not (cur and ins.address in targets):
            cur.append(k)
            continue
        if cur:
            runs.append(cur)
        cur = [k] if ins.opcode == "FFMA" else []
    if cur:
        runs.append(cur)
    return runs


def chosen(n: int, fraction: Fraction) -> list[int]:
    """Positions ``k`` in a run of ``n`` with ``floor((k+1)·f) > floor(k·f)``: ``floor(n·f)`` of
    them, evenly spread and ending each full period (f = 1/2 picks 1, 3, 5, …)."""
    return [k for k in range(n) if (k + 1) * fraction // 1 > k * fraction // 1]


def interleave_ffma(instrs: list[SassInstr], kernel: str, fraction: float | Fraction,
                    min_run: int = 2, drop_reuse: str = "B") -> list[Edit]:
    """DeepGEMM-style interleaving: in every run of at least ``min_run`` consecutive FFMAs, the
    instructions at :func:`chosen` positions get the yield bit set (bit 109 cleared: the warp may
    be switched out after them) and the reuse bits of ``drop_reuse`` slots cleared (a cached
    operand does not survive a warp switch). Reuse bits already clear and yields already set are
    left as they are, so the edits list only real changes."""
    f = Fraction(fraction).limit_denominator(1000)
    if not 0 <= f <= 1:
        raise UsageError(f"interleave fraction {fraction} is not in [0, 1]")
    if not set(drop_reuse.upper()) <= set(REUSE_SLOTS):
        raise UsageError(f"bad reuse slots '{drop_reuse}'", hint="a subset of ABC")
    mask = sum(1 << REUSE_SLOTS.index(c) for c in set(drop_reuse.upper()))
    edits = []
    for run in ffma_runs(instrs):
        if len(run) < min_run:
            continue
        for k in chosen(len(run), f):
            ins = instrs[run[k]]
            if not ins.yield_:
                edits.append(Edit(kernel, ins.address, "yield", True))
            if ins.reuse & mask:
                edits.append(Edit(kernel, ins.address, "reuse", ins.reuse & ~mask))
    return edits


def _words(cubin: bytes, arch: str | None) -> tuple[dict[str, list[SassInstr]], dict[str, tuple[int, int]]]:
    return disassemble(cubin, arch), text_sections(cubin)


def patch_cubin(cubin: bytes, edits: Iterable[Edit], arch: str | None = None, verify: bool = True) -> Patched:
    """Apply ``edits`` and return the new cubin (checked unless ``verify=False``)."""
    cubin = bytes(cubin)
    funcs, sections = _words(cubin, arch)
    new_ctrl: dict[tuple[str, int], object] = {}
    by_addr = {name: {i.address: i for i in ins} for name, ins in funcs.items()}
    for e in edits:
        if e.kernel not in by_addr or e.kernel not in sections:
            raise UsageError(f"no function '{e.kernel}' in the cubin", hint=f"functions: {', '.join(funcs)}")
        ins = by_addr[e.kernel].get(e.address)
        if ins is None:
            raise UsageError(f"no instruction at 0x{e.address:x} in {e.kernel}",
                             hint="addresses are section-relative hex, as in the listing")
        key = (e.kernel, e.address)
        new_ctrl[key] = with_field(new_ctrl.get(key, ins.ctrl), e.field, e.value)
    out = bytearray(cubin)
    changes = []
    for (kernel, address), ctrl in sorted(new_ctrl.items()):
        ins = by_addr[kernel][address]
        off = sections[kernel][0] + address
        old = int.from_bytes(cubin[off:off + 16], "little")
        if old != ins.word:
            raise PatchError(f"cubin bytes at {kernel}+0x{address:x} do not match nvdisasm's word",
                             log=f"file {old:032x}\nnvdisasm {ins.word:032x}")
        new = encode(ctrl, old)
        if new != old:
            out[off:off + 16] = new.to_bytes(16, "little")
            changes.append(Change(kernel, address, off, ins.text, old, new))
    patched = bytes(out)
    if verify:
        verify_patch(cubin, patched, changes, arch)
    return Patched(patched, tuple(changes), verify)


def _norm(text: str) -> str:
    return " ".join(text.replace(".reuse", "").rstrip(" ;").split())  # nvdisasm prints "NOP;" or "NOP ;"


def verify_patch(original: bytes, patched: bytes, changes: Iterable[Change], arch: str | None = None) -> None:
    """Raise :class:`PatchError` unless ``patched`` is ``original`` with exactly ``changes`` applied
    (bytes) and nvdisasm reads it back as the same code with the new control fields."""
    changes = list(changes)
    expect = bytearray(original)
    for c in changes:
        expect[c.offset:c.offset + 16] = c.after.to_bytes(16, "little")
    if len(patched) != len(original) or patched != bytes(expect):
        bad = [i for i, (a, b) in enumerate(zip(patched, expect)) if a != b][:10]
        raise PatchError("patched cubin differs from the intended edits",
                         log=f"length {len(patched)} vs {len(original)}; first bad offsets {bad}")
    before = disassemble(original, arch)
    try:
        after = disassemble(patched, arch)
    except ToolchainError as e:
        raise PatchError("nvdisasm cannot decode the patched cubin: a control value is not valid for that "
                         "instruction (e.g. reuse bits on one without register source slots, like LDC or NOP)",
                         log=e.log) from None
    problems = []
    if list(before) != list(after):
        problems.append(f"functions changed: {list(before)} -> {list(after)}")
    want = {(c.kernel, c.address): c.after for c in changes}
    for name, ins_b in before.items():
        ins_a = after.get(name, [])
        if len(ins_a) != len(ins_b):
            problems.append(f"{name}: {len(ins_b)} instructions became {len(ins_a)}")
            continue
        for b, a in zip(ins_b, ins_a):
            if a.address != b.address or _norm(a.text) != _norm(b.text):
                problems.append(f"{name}+0x{b.address:x}: '{b.body}' became '{a.body}'")
            if a.word != want.get((name, b.address), b.word):
                problems.append(f"{name}+0x{b.address:x}: word {a.word:032x}")
    if problems:
        raise PatchError("nvdisasm does not read the patched cubin back as intended",
                         log="\n".join(problems[:20]))


def interleave_cubin(cubin: bytes, fraction: float, kernels: Iterable[str] | None = None,
                     arch: str | None = None, min_run: int = 2, drop_reuse: str = "B",
                     verify: bool = True) -> Patched:
    """:func:`interleave_ffma` over ``kernels`` (default: every function) and :func:`patch_cubin`."""
    funcs = disassemble(cubin, arch)
    names = list(kernels) if kernels is not None else list(funcs)
    edits = []
    for name in names:
        if name not in funcs:
            raise UsageError(f"no function '{name}' in the cubin", hint=f"functions: {', '.join(funcs)}")
        edits += interleave_ffma(funcs[name], name, fraction, min_run=min_run, drop_reuse=drop_reuse)
    return patch_cubin(cubin, edits, arch, verify=verify)
