"""The editable SASS listing (``.sass``): write it from a cubin, read it back with source spans.

Format (one statement per line; ``#`` or ``//`` start a comment)::

    .arch sm_90
    .skeleton k.skel.cubin sha1=1f2e…          # the ptxas cubin the code is spliced into
    .function sgemm                             # one block per function, in any order
    .reg acc<0-63> R0-R63                       # named registers (maxas style; see ``names.py``)
    .reg a<0-7> auto
    .L_x_3:                                     # a label (any name)
            01:-:1:Y:5      LDG.E R2, desc[UR4][R2.64] ;
            --:-:-:-:4:AB   FFMA acc0, a0, b0, acc0 ;

Each instruction line is a control field then nvdisasm's instruction text. The control field is
maxas-style ``wait:read:write:yield:stall`` (``control.py``) with an optional sixth part, the reuse
slots (``A``, ``B``, ``C``); ``auto`` (or no field at all) leaves it to ``--auto-control``. Branch
targets are labels, never offsets. The text is nvdisasm's with two changes that make it lossless:
``.reuse`` markers live in the control field, and NaN immediates (nvdisasm prints ``+QNAN`` for
several payloads) are written as their hex bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import SourceError, Span
from .control import Control, decode
from .disasm import listing as nvdisasm_listing
from .disasm import scan, target

_NAN = re.compile(r"(?<![\w.])[-+]?(?:QNAN|SNAN|NAN)\b")
_CTRL = re.compile(r"^(?P<wait>--|[0-9a-fA-F]{1,2}):(?P<read>[-0-7]):(?P<write>[-0-7]):(?P<yield>[-Y]):"
                   r"(?P<stall>\d{1,2})(?::(?P<reuse>[ABC]{1,3}|-))?$")
_LABEL_LINE = re.compile(r"^(?P<name>[.$\w]+):$")
_REUSE = re.compile(r"\.reuse\b")


@dataclass(frozen=True, slots=True)
class Item:
    """An instruction (``text`` set) or a label (``label`` set) of a function, with its place."""

    span: Span
    text: str = ""
    ctrl: Control | None = None
    ctrl_span: Span | None = None
    label: str = ""


@dataclass(frozen=True)
class Function:
    name: str
    span: Span
    items: tuple[Item, ...]
    regs: tuple[tuple[str, str, Span], ...] = ()  # (.reg spec, its text, span)
    settings: dict = field(default_factory=dict)  # .registers / .shared / .barriers overrides

    @property
    def instructions(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.text)

    def label_addresses(self) -> dict[str, int]:
        """Each label's byte offset in the function (16 bytes per instruction)."""
        addr, out = 0, {}
        for it in self.items:
            if it.label:
                out[it.label] = addr
            else:
                addr += 16
        return out


@dataclass(frozen=True)
class Listing:
    file: str
    arch: str
    skeleton: str | None
    skeleton_sha1: str | None
    skeleton_span: Span | None
    functions: tuple[Function, ...]

    def function(self, name: str) -> Function | None:
        return next((f for f in self.functions if f.name == name), None)


# --------------------------------------------------------------------------- writing


def ctrl_text(c: Control) -> str:
    """``wait:read:write:yield:stall`` plus ``:ABC`` when reuse bits are set."""
    reuse = "".join(s for k, s in enumerate("ABC") if c.reuse >> k & 1)
    return c.notation() + (f":{reuse}" if reuse else "")


def lossless_text(text: str, word: int, key_fields=None) -> str:
    """nvdisasm's text with ``.reuse`` removed and NaN immediates as hex bits (``nan_bits``)."""
    t = _REUSE.sub("", text)
    if _NAN.search(t) and key_fields is not None:
        bits = iter(key_fields(t, word))
        t = _NAN.sub(lambda m: next(bits, m.group(0)), t)
    return " ".join(t.split()).replace(" ;", " ;")


def nan_bits(arch: str):
    """A function (text, word) → hex tokens for its NaN immediates, read from the word through the
    learned field positions (an unseen variant keeps its NaN text, and will be refused)."""
    from .encoding import encoder
    from .fields import FieldError, split

    try:
        enc = encoder(arch)
    except Exception:  # noqa: BLE001 - no encodings shipped: leave the text alone
        return None

    def f(text: str, word: int) -> list[str]:
        try:
            sp = split(text)
        except FieldError:
            return []
        m = enc.model(sp.key)
        if m is None or m.unlearnable:
            return []
        out = []
        for (kind, raw), fa in zip(sp.atoms, m.fields):
            if kind != "N" or not _NAN.fullmatch(str(raw)):
                continue
            for mode, runs, fixed in fa:
                if mode not in ("f", "d", "h", "b"):
                    continue
                read: dict[int, set[int]] = {}  # value bit -> the word bits at its placements
                for k, p, n in runs:
                    for j in range(n):
                        read.setdefault(k + j, set()).add((word >> (p + j)) & 1)
                if any(len(b) > 1 for b in read.values()):
                    continue  # placements disagree on this word: no payload read (the encoder refuses)
                v = fixed
                for k, (bit,) in read.items():
                    v = (v & ~(1 << k)) | (bit << k)
                out.append(f"0x{v:x}")
                break
            else:
                out.append(str(raw))
        return out

    return f


RETURN_MOV = re.compile(r"^((?:@!?U?P\w+ )?MOV R\d+, )(0x[0-9a-f]+|\d+)( ;)?$")
_RET_REG = re.compile(r"\bRET\.REL\.NODEC (R\d+)\b")


def return_labels(raws: list) -> tuple[list, dict[int, str]]:
    """Return addresses as labels. Before ``CALL.REL`` at ``a`` ptxas writes ``MOV Rk, a+16``, and the
    callee returns with ``RET.REL.NODEC Rk`` to that offset from the function start: the nearest such
    MOV before the call (``Rk`` a register some RET returns through) gets the label of the instruction
    after the call instead of the number (``MOV R2, `(.L_x_3)``; a ``.L_ret_N`` label where it has none),
    so that code which moves keeps returning to the right place. Returns the instructions (labels
    added) and ``{MOV address: label}``."""
    regs = {m.group(1) for r in raws for m in [_RET_REG.search(r.text)] if m}
    by_addr = {r.address: k for k, r in enumerate(raws)}
    raws, out, n = list(raws), {}, 0
    for k, r in enumerate(raws):
        if "CALL.REL" not in r.text or r.address + 16 not in by_addr:
            continue
        for j in range(k - 1, -1, -1):
            m = RETURN_MOV.match(" ".join(raws[j].text.replace(";", "").split()))
            if m and int(m.group(2), 0) == r.address + 16 and m.group(1).split()[-1].rstrip(",") in regs:
                after = by_addr[r.address + 16]
                if not raws[after].labels:
                    while f".L_ret_{n}" in {lab for x in raws for lab in x.labels}:
                        n += 1
                    raws[after] = replace(raws[after], labels=(f".L_ret_{n}",))
                out[raws[j].address] = raws[after].labels[0]
                break
    return raws, out


def write(cubin: bytes, skeleton_name: str, sha1: str, functions: list[str] | None = None,
          arch: str | None = None) -> str:
    """The editable listing of ``functions`` (default: all) of ``cubin``."""
    from ..toolchain.cubin import read_cubin

    arch = arch or target(cubin)
    text = nvdisasm_listing(bytes(cubin))
    sections = scan(text)
    info = read_cubin(cubin)
    fix = nan_bits(arch)
    out = ["# sass_lab editable SASS listing (docs/SASS.md).",
           "# control = wait:read:write:yield:stall[:reuse]; 'auto' leaves it to --auto-control",
           f".arch {arch}", f".skeleton {skeleton_name} sha1={sha1}"]
    for name, raws in sections.items():
        if functions is not None and name not in functions:
            continue
        k = info.get(name)
        out += ["", f".function {name}"]
        if k is not None:
            out.append(f"# ptxas: {k.registers} registers, {k.barriers} barriers, "
                       f"{k.shared_section} bytes .nv.shared, {len(raws)} instructions")
        raws, returns = return_labels(raws)
        local = {lab for r in raws for lab in r.labels}
        used = set(returns.values())
        for r in raws:
            used.update(m.group(1) for m in re.finditer(r"`\(([^)]*)\)", r.text) if m.group(1) in local)
        for r in raws:
            out.extend(f"{lab}:" for lab in r.labels if lab in used)
            word = (r.hi << 64) | r.lo
            c = decode(word)
            text = lossless_text(r.text, word, fix)
            m = RETURN_MOV.match(text) if r.address in returns else None
            if m:
                text = f"{m.group(1)}`({returns[r.address]}){m.group(3) or ''}"
            out.append(f"        {ctrl_text(c):16s}{text}")
    return "\n".join(out) + "\n"


def dump(listing: Listing, ctrl: dict[str, list[Control | None]] | None = None) -> str:
    """A listing as text again (comments dropped); ``ctrl`` replaces the control fields of the named
    functions' instructions (None writes ``auto``)."""
    out = [f".arch {listing.arch}"]
    if listing.skeleton:
        out.append(f".skeleton {listing.skeleton}" + (f" sha1={listing.skeleton_sha1}" if listing.skeleton_sha1 else ""))
    for fn in listing.functions:
        out += ["", f".function {fn.name}"]
        out += [f".reg {spec}" for spec, _raw, _span in fn.regs]
        out += [f".{k} {v}" for k, (v, _span) in fn.settings.items()]
        given = (ctrl or {}).get(fn.name)
        k = 0
        for it in fn.items:
            if it.label:
                out.append(f"{it.label}:")
                continue
            c = given[k] if given is not None else it.ctrl
            k += 1
            out.append(f"        {ctrl_text(c) if c is not None else 'auto':16s}{it.text}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- reading


def _strip_comment(line: str) -> str:
    for mark in ("#", "//"):
        i = line.find(mark)
        if i >= 0:
            line = line[:i]
    return line.rstrip()


def parse_ctrl(tok: str, span: Span) -> Control | None:
    """A control field (None for ``auto``); SourceError with the span when malformed."""
    if tok == "auto":
        return None
    m = _CTRL.match(tok)
    if not m:
        raise SourceError(f"bad control field '{tok}'", span,
                          hint="write wait:read:write:yield:stall[:reuse], e.g. 01:-:2:Y:4:AB, or 'auto'")
    wait = 0 if m.group("wait") == "--" else int(m.group("wait"), 16)
    if wait > 0x3F:
        raise SourceError(f"wait mask {m.group('wait')} out of range", span, hint="barriers 0-5: mask 00-3f")
    stall = int(m.group("stall"))
    if stall > 15:
        raise SourceError(f"stall {stall} out of range", span, hint="stall is 0-15 cycles")
    for part in ("read", "write"):
        if m.group(part) in ("6", "7"):
            raise SourceError(f"{part} barrier {m.group(part)} out of range", span, hint="barriers are 0-5, '-' for none")
    reuse = m.group("reuse") or "-"
    return Control(stall=stall, yield_=m.group("yield") == "Y",
                   write_barrier=None if m.group("write") == "-" else int(m.group("write")),
                   read_barrier=None if m.group("read") == "-" else int(m.group("read")),
                   wait_mask=wait, reuse=sum(1 << "ABC".index(s) for s in reuse if s != "-"))


def _span(file: str, no: int, raw: str, start: int, end: int) -> Span:
    return Span(file, no, start + 1, end + 1, raw)


def read(text: str, file: str = "<listing>") -> Listing:
    """Parse a listing; every malformed line raises SourceError at its place."""
    arch, skel, sha, skel_span = None, None, None, None
    funcs: list[Function] = []
    cur: dict | None = None

    def close():
        if cur is not None:
            funcs.append(Function(cur["name"], cur["span"], tuple(cur["items"]), tuple(cur["regs"]), cur["settings"]))

    for no, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        body = line.strip()
        if not body:
            continue
        start = len(line) - len(line.lstrip())
        sp = _span(file, no, raw, start, len(line))
        if body.startswith("."):
            word, _, rest = body.partition(" ")
            rest = rest.strip()
            if word == ".arch":
                arch = rest
                continue
            if word == ".skeleton":
                parts = rest.split()
                if not parts:
                    raise SourceError(".skeleton needs a file name", sp, hint=".skeleton k.skel.cubin [sha1=…]")
                skel, skel_span = parts[0], sp
                sha = next((p[5:] for p in parts[1:] if p.startswith("sha1=")), None)
                continue
            if word == ".function":
                if not rest:
                    raise SourceError(".function needs a name", sp)
                close()
                cur = {"name": rest, "span": sp, "items": [], "regs": [], "settings": {}}
                continue
            if cur is None and not _LABEL_LINE.match(body):
                raise SourceError(f"'{word}' before any .function", sp, hint="start with .function NAME")
            if word == ".reg":
                cur["regs"].append((rest, raw, sp))
                continue
            if word in (".registers", ".shared", ".barriers"):
                try:
                    cur["settings"][word[1:]] = (int(rest, 0), sp)
                except ValueError:
                    raise SourceError(f"{word} needs a number", sp) from None
                continue
        m = _LABEL_LINE.match(body)
        if m:
            if cur is None:
                raise SourceError("label before any .function", sp, hint="start with .function NAME")
            cur["items"].append(Item(sp, label=m.group("name")))
            continue
        if body.startswith("."):
            raise SourceError(f"unknown directive '{body.split()[0]}'", sp,
                              hint="directives: .arch .skeleton .function .reg .registers .shared .barriers")
        if cur is None:
            raise SourceError("instruction before any .function", sp, hint="start with .function NAME")
        first, _, after = body.partition(" ")
        ctrl, ctrl_span, instr, col = None, None, body, start
        if first == "auto" or ":" in first and not first.startswith("@"):
            ctrl_span = _span(file, no, raw, start, start + len(first))
            ctrl = parse_ctrl(first, ctrl_span)
            instr = after.strip()
            col = raw.index(instr, start + len(first)) if instr else start
            if not instr:
                raise SourceError("control field without an instruction", ctrl_span)
        if _REUSE.search(instr):
            k = _REUSE.search(instr).start()
            raise SourceError("'.reuse' in the instruction text", _span(file, no, raw, col + k, col + k + 6),
                              hint="reuse flags go in the control field: wait:read:write:yield:stall:AB")
        if not instr.endswith(";"):
            instr += " ;"
        cur["items"].append(Item(_span(file, no, raw, col, len(line)), text=instr, ctrl=ctrl,
                                 ctrl_span=ctrl_span or _span(file, no, raw, col, col + 1)))
    close()
    if not funcs:
        raise SourceError("no .function in the listing", Span(file, 1, 1, None, text.splitlines()[0] if text else ""),
                          hint="write the listing with: sass_lab sass FILE --edit -o K.sass")
    return Listing(file, arch or "sm_90", skel, sha, skel_span, tuple(funcs))


def read_file(path: str | Path) -> Listing:
    from ..errors import UsageError

    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    return read(text, str(path))
