"""Assemble an editable listing (``sassfile``) into a cubin: names → registers, labels → addresses,
control codes (given, or ``--auto-control``), learned encodings, hazard check, splice.

``assemble(listing, skeleton, auto_control=False, check=True)`` returns :class:`Assembled`. Every
failure that a line of the listing causes is a ``SourceError`` at that line (file:line:col, the line,
a caret and what to do); an instruction whose variant was never seen names the nearest ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import SourceError, Span, UsageError
from .control import Control, encode
from .disasm import RawInstr, build, scan
from .disasm import listing as nvdisasm_listing
from .encoding import Refused, encoder
from .fields import split
from .model import SassInstr
from .sassfile import Function, Listing
from .splice import Code, splice

REG_SLACK = 2  # EIATTR_REGCOUNT = highest R + 1 + 2 on every harvested sm_90 kernel but one


@dataclass(frozen=True)
class FunctionResult:
    """One assembled function: instructions (with words and control), the listing line of each,
    hazards found, register and bank reports."""

    name: str
    instrs: tuple[SassInstr, ...]
    spans: tuple[Span, ...]
    hazards: tuple = ()
    registers: int = 0
    names: dict = field(default_factory=dict)
    banks: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Assembled:
    cubin: bytes
    functions: dict[str, FunctionResult]


def load_skeleton(listing: Listing, base: str | Path | None = None) -> bytes:
    """The skeleton cubin named by ``.skeleton`` (relative to the listing), checked by its sha1."""
    if listing.skeleton is None:
        raise SourceError("the listing names no skeleton cubin",
                          Span(listing.file, 1, 1, None, ""), hint="add '.skeleton FILE.cubin' (sass --edit writes it)")
    base = Path(base) if base is not None else Path(listing.file).parent
    path = Path(listing.skeleton)
    if not path.is_absolute():
        path = base / path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read skeleton {path}: {e.strerror}", listing.skeleton_span,
                          hint="keep the .skel.cubin that 'sass --edit' wrote next to the listing") from None
    if listing.skeleton_sha1 and hashlib.sha1(data).hexdigest() != listing.skeleton_sha1:
        raise SourceError(f"skeleton {path} changed since the listing was written", listing.skeleton_span,
                          hint="write the listing again with 'sass_lab sass FILE --edit', or fix sha1=")
    return data


def _error(item_span: Span, e: Refused) -> SourceError:
    hint = e.hint() or ("instructions must be of a variant seen in the harvest (tools/harvest_sass.py)"
                        if e.category != "syntax" else None)
    return SourceError(f"cannot encode: {e.message}", item_span, hint=hint)


def encode_function(fn: Function, arch: str, texts: list[str] | None = None) -> tuple[list[SassInstr], list[Span], dict]:
    """Instructions of ``fn`` with their words (control bits from the listing, 0 where 'auto'), the
    span of each and the label addresses. ``texts`` replaces the instruction texts (names resolved)."""
    enc = encoder(arch)
    labels: dict[str, int] = {}
    addr = 0
    for it in fn.items:
        if it.label:
            if it.label in labels:
                raise SourceError(f"label '{it.label}' defined twice", it.span)
            if it.label == fn.name and addr:
                raise SourceError(f"the entry label '{fn.name}:' is not at the start of the function", it.span,
                                  hint=f"'{fn.name}' names offset 0 (RET returns relative to it): "
                                       "put new instructions after this line")
            labels[it.label] = addr
        else:
            addr += 16
    raws, spans = [], []
    instrs = fn.instructions
    texts = texts if texts is not None else [it.text for it in instrs]
    addr = 0
    pending: list[str] = []
    k = 0
    for it in fn.items:
        if it.label:
            pending.append(it.label)
            continue
        text = texts[k]
        k += 1
        for tgt in _label_refs(text):
            if tgt not in labels and tgt.startswith(".L"):
                col = it.text.find(tgt)
                raise SourceError(f"unknown label '{tgt}'", replace(it.span, col=it.span.col + max(col, 0),
                                                                      end_col=it.span.col + max(col, 0) + len(tgt)),
                                  hint="define it with a line 'NAME:' before the target instruction")
        m = LABEL_MOV.match(text)
        if m and m.group(2) in labels:  # a return address (sassfile.return_labels)
            text = f"{m.group(1)}0x{labels[m.group(2)]:x}{m.group(3)}"
        try:
            word = enc.encode(text, addr, labels)
        except Refused as e:
            raise _error(it.span, e) from None
        ctrl = it.ctrl or Control(0, False, None, None, 0, 0)
        word = encode(ctrl, word)
        raws.append(RawInstr(addr, text, word & ((1 << 64) - 1), word >> 64, tuple(pending)))
        spans.append(it.span)
        pending = []
        addr += 16
    try:
        parsed = build(fn.name, raws)
    except Exception as e:  # noqa: BLE001 - the Lark operand grammar disagrees with fields.split
        raise SourceError(f"cannot parse an instruction of {fn.name}: {e}", fn.span) from None
    return parsed, spans, labels


def check_returns(fn: Function, texts: list[str], instrs: list[SassInstr], old_texts: dict[int, str]) -> None:
    """Every ``CALL.REL`` must return to the instruction after it: either a ``MOV Rk, `(label)``
    names that place (``sassfile.return_labels``), or the call is where the skeleton had it (its
    return address written as a number is then still right)."""
    named = set()
    where = fn.label_addresses()
    for t in texts:
        m = LABEL_MOV.match(t)
        if m and m.group(2) in where:
            named.add(where[m.group(2)])
    spans = [it.span for it in fn.instructions]
    for ins, span in zip(instrs, spans):
        if "CALL.REL" in ins.text and ins.address + 16 not in named \
                and " ".join(old_texts.get(ins.address, "").split()) != " ".join(ins.text.split()):
            raise SourceError("this call moved, and no instruction sets its return address by label", span,
                              hint="write the return address as a label: 'MOV Rk, `(L)' with 'L:' on the line after "
                                   "the call (Rk is the register the callee's RET.REL.NODEC reads)")


LABEL_MOV = re.compile(r"^((?:@!?U?P\w+\s+)?MOV\s+R\d+,\s*)`\(([^)]+)\)(\s*;?\s*)$")


def _label_refs(text: str) -> list[str]:
    return re.findall(r"`\(([^)]*)\)", text)


def old_function(skeleton: bytes, name: str, scanned: dict | None = None) -> tuple[dict[int, str], dict[str, int], tuple]:
    """Instruction texts by address, labels and symbolic operands of ``name`` in the skeleton
    (``scanned``: its nvdisasm listing, scanned already)."""
    raws = (scanned if scanned is not None else scan(nvdisasm_listing(skeleton))).get(name)
    if raws is None:
        return {}, {}, ()
    labels = {lab: r.address for r in raws for lab in r.labels}
    syms = []
    for r in raws:
        for s in split(r.text, labels).symbols:
            syms.append((r.address, s))
    return {r.address: " ".join(r.text.replace(".reuse", "").split()) for r in raws}, labels, tuple(syms)


def code_of(name: str, instrs: list[SassInstr], labels: dict[str, int], skeleton: bytes, settings: dict,
            old_registers: int, old_barriers: int = 0, old: tuple | None = None) -> Code:
    from .regs import access

    text = b"".join(i.word.to_bytes(16, "little") for i in instrs)
    top = max((r for i in instrs for r in (access(i).defs | access(i).uses)), default=-1)
    need = top + 1 + REG_SLACK
    registers = settings.get("registers", (None,))[0]
    if registers is None:
        registers = max(old_registers, need) if need > old_registers else None
    elif registers < need:
        raise SourceError(f".registers {registers} is below what the code uses ({need} = R{top} + 1 + "
                          f"{REG_SLACK})", settings["registers"][1])
    # the barrier is BAR's first operand ('BAR.SYNC 0x1, 0x80': barrier 1 for 128 threads)
    bars = [int(i.operands[0].value) for i in instrs if i.opcode == "BAR" and i.operands and i.operands[0].kind == "imm"]
    barriers = settings.get("barriers", (None,))[0]
    if barriers is None and bars and max(bars) + 1 > old_barriers:
        barriers = max(bars) + 1  # named barriers beyond the skeleton's count
    old_texts, old_labels, old_syms = old if old is not None else old_function(skeleton, name)
    syms = tuple((i.address, s) for i in instrs for s in split(i.text, labels).symbols)
    return Code(text=text, texts={i.address: " ".join(i.text.split()) for i in instrs},
                exits=tuple(i.address for i in instrs if i.opcode == "EXIT"),
                s2rctaid=tuple(i.address for i in instrs if i.opcode == "S2R"
                               and any((o.base or "").startswith("SR_CTAID") for o in i.operands)),
                labels=labels, symbols=syms, registers=registers, barriers=barriers,
                shared=settings.get("shared", (None,))[0], old_texts=old_texts, old_labels=old_labels,
                old_symbols=old_syms)


def assemble(listing: Listing, skeleton: bytes | None = None, auto_control: bool = False,
             check: bool = True, banks: str = "volta") -> Assembled:
    """Encode every function of ``listing`` and splice it into the skeleton cubin (named registers
    allocated under bank model ``banks``)."""
    from ..toolchain.cubin import read_cubin
    from .names import bank_report, resolve, set_reuse, substitute
    from .sched import check_hazards, schedule_control

    if listing.arch not in ("sm_90", "sm_90a"):
        raise UsageError(f"the listing is for {listing.arch}", hint="SASS encodings are learned for sm_90/sm_90a")
    skeleton = skeleton if skeleton is not None else load_skeleton(listing)
    info = read_cubin(skeleton)
    scanned = scan(nvdisasm_listing(skeleton))
    codes, results = {}, {}
    for fn in listing.functions:
        if fn.name not in info:
            raise SourceError(f"the skeleton has no function '{fn.name}'", fn.span,
                              hint=f"functions: {', '.join(info)}")
        named = resolve(fn, banks, ceiling=fn.settings.get("registers", (info[fn.name].registers,))[0])
        instrs, spans, labels = encode_function(fn, listing.arch, named.texts)
        missing = [sp for it, sp in zip(fn.instructions, spans) if it.ctrl is None]
        if auto_control:
            instrs = schedule_control(instrs, reuse=named.reuse)
        elif missing:
            raise SourceError("instruction without a control field", missing[0],
                              hint="write wait:read:write:yield:stall, or assemble with --auto-control")
        elif named.reuse:
            instrs = set_reuse(instrs)
        banks = {}
        if named.auto:
            naive = [substitute(it.text, named.banks["naive"]) for it in fn.instructions]
            before = encode_function(fn, listing.arch, naive)[0]
            before = [_no_reuse(i) for i in before]
            banks = bank_report(before, instrs, named.banks["model"])
        hazards = tuple(check_hazards(instrs))
        if check and hazards:
            h = hazards[0]
            more = "\n".join(f"    {spans[x.consumer].line}: {x.describe()}" for x in hazards[1:20])
            raise SourceError(f"hazard: {h.describe()}", spans[h.consumer],
                              hint="wait on the barrier the producer sets (or use --auto-control)",
                              log=(f"{len(hazards)} hazards in {fn.name}:\n{more}" if len(hazards) > 1 else None))
        old = old_function(skeleton, fn.name, scanned)
        check_returns(fn, named.texts, instrs, old[0])
        codes[fn.name] = code_of(fn.name, instrs, labels, skeleton, fn.settings, info[fn.name].registers,
                                 info[fn.name].barriers, old)
        results[fn.name] = FunctionResult(fn.name, tuple(instrs), tuple(spans), hazards,
                                          codes[fn.name].registers or info[fn.name].registers,
                                          named.mapping, banks)
    return Assembled(splice(skeleton, codes), results)


def _no_reuse(ins: SassInstr) -> SassInstr:
    word = encode(replace(ins.ctrl, reuse=0), ins.word)
    return SassInstr(address=ins.address, text=ins.text, guard=ins.guard, opcode=ins.opcode,
                     modifiers=ins.modifiers, operands=ins.operands, word=word, labels=ins.labels,
                     target=ins.target)


def canonical(text: str, address: int, labels: dict[str, int]) -> tuple:
    """An instruction as (variant, operand values) with labels as addresses and numbers as values,
    so that spelling (label names, 16 vs 0x10, spacing) does not matter."""
    from .fields import number_bits

    m = LABEL_MOV.match(text)
    if m and m.group(2) in labels:
        text = f"{m.group(1)}0x{labels[m.group(2)]:x}{m.group(3)}"
    sp = split(text, labels)
    atoms = []
    for kind, raw in sp.atoms:
        if kind == "L":
            atoms.append(("L", labels.get(raw)))
        elif kind == "N":
            v = number_bits(raw, "i")
            atoms.append(("N", v if v is not None else number_bits(raw, "d") if number_bits(raw, "f") is None
                          else number_bits(raw, "f")))
        else:
            atoms.append((kind, raw))
    return sp.key, tuple(atoms), sp.symbols


def readback(result: Assembled, listing: Listing) -> None:
    """nvdisasm must read the new cubin back as the listing that was assembled (texts as
    ``canonical``, control fields exactly); raise ToolchainError naming the first difference."""
    import hashlib

    from ..errors import ToolchainError
    from .sassfile import ctrl_text, read, write

    try:
        back = read(write(result.cubin, "new.cubin", hashlib.sha1(result.cubin).hexdigest(),
                          list(result.functions), listing.arch), "<nvdisasm>")
    except ToolchainError as e:
        raise ToolchainError("nvdisasm cannot read the assembled cubin back (a control value or an "
                             "encoding it rejects)", log=e.log) from None
    problems = []
    for name, fr in result.functions.items():
        fb = back.function(name)
        if fb is None:
            problems.append(f"{name}: missing in nvdisasm's listing")
            continue
        mine_labels = {lab: i.address for i in fr.instrs for lab in i.labels}
        their_labels = fb.label_addresses()
        theirs = fb.instructions
        if len(theirs) != len(fr.instrs):
            problems.append(f"{name}: {len(fr.instrs)} instructions became {len(theirs)}")
            continue
        for ins, it, span in zip(fr.instrs, theirs, fr.spans):
            a = canonical(ins.text, ins.address, mine_labels)
            b = canonical(it.text, ins.address, their_labels)
            if a != b or ctrl_text(ins.ctrl) != ctrl_text(it.ctrl):
                problems.append(f"{span.file}:{span.line}: '{ins.body}' [{ctrl_text(ins.ctrl)}] reads back as "
                                f"'{it.text}' [{ctrl_text(it.ctrl)}]")
    if problems:
        raise ToolchainError("nvdisasm reads the assembled cubin back differently (an encoding bug)",
                             log="\n".join(problems[:20]))
