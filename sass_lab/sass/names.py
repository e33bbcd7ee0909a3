"""maxas-style named registers in the listing, a bank-aware allocator and reuse flags.

Declarations, inside a ``.function`` block::

    .reg acc<0-63> R0-R63      # fixed: acc0 = R0 … acc63 = R63
    .reg ptr R40               # one fixed name
    .reg a<0-7>, b<0-7> auto   # allocated from the free registers, bank-aware
    .reg q<0-3> auto:4         # four consecutive registers, the first a multiple of 4

A name stands for ``Rn`` anywhere in the instruction text (``q0.64``, ``[ptr.64+0x10]`` …).
``auto`` names get registers that the function's text does not use otherwise, below the skeleton's
register count (so the count never grows; ``.registers N`` raises the ceiling). The allocator
(``allocate``) minimises register-bank conflicts of the instructions that read named registers —
greedily in order of first use, then by swapping pairs while that lowers the cost — under a
``stats.BankModel``. ``set_reuse`` then sets reuse flags wherever an instruction reads the register
the previous reader of the same slot read (not across labels or yields; only on opcodes whose reuse
flags ptxas sets). ``bank_report`` gives conflicts before (names assigned in declaration order, no
reuse) and after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..errors import SourceError, Span
from .control import encode
from .model import SassInstr
from .regs import access
from .sassfile import Function
from .stats import BANK_MODELS, BankModel

_NAME = re.compile(r"^(?P<base>[a-z_][A-Za-z0-9_]*)(?:<(?P<lo>\d+)-(?P<hi>\d+)>)?$")
_RANGE = re.compile(r"^R(?P<lo>\d+)(?:-R(?P<hi>\d+))?$")
RESERVED = {"c", "cx", "desc", "gdesc", "tmem"}
REUSE_OPS = frozenset({"FFMA", "FADD", "FMUL", "FMNMX", "FSEL", "FSETP", "IMAD", "IADD3", "LOP3", "ISETP", "IMNMX",
                       "HFMA2", "HADD2", "HMUL2", "DFMA", "DADD", "DMUL", "SHF", "LEA", "SEL", "PRMT", "IABS",
                       "IMAD.WIDE", "VIADD", "VIMNMX", "FFMA2", "FMUL2", "FADD2", "HMMA", "IDP"})


@dataclass(frozen=True)
class Named:
    """Instruction texts with names replaced, the name → register map, and which names were
    allocated (``auto``)."""

    texts: list[str]
    mapping: dict[str, int] = field(default_factory=dict)
    auto: tuple[str, ...] = ()
    banks: dict = field(default_factory=dict)
    reuse: bool = False


@dataclass(frozen=True)
class _Decl:
    names: tuple[str, ...]
    fixed: tuple[int, ...] | None
    group: int
    span: Span


def _expand(spec: str, span: Span) -> list[str]:
    m = _NAME.match(spec.strip())
    if not m:
        raise SourceError(f"bad register name '{spec.strip()}'", span,
                          hint="names start with a lower-case letter: acc, a<0-7>")
    if m.group("base") in RESERVED:
        raise SourceError(f"'{m.group('base')}' is reserved in SASS text", span, hint="choose another name")
    if m.group("lo") is None:
        return [m.group("base")]
    lo, hi = int(m.group("lo")), int(m.group("hi"))
    if hi < lo:
        raise SourceError(f"empty range in '{spec.strip()}'", span)
    return [f"{m.group('base')}{k}" for k in range(lo, hi + 1)]


def declarations(fn: Function) -> list[_Decl]:
    out = []
    for spec, _raw, span in fn.regs:
        left, _, right = spec.rpartition(" ")
        if not left:
            raise SourceError("a .reg needs names and a place", span, hint=".reg a<0-7> auto  or  .reg x R12")
        names = [n for part in left.split(",") for n in _expand(part, span)]
        right = right.strip()
        if right.startswith("auto"):
            group = int(right[5:]) if right.startswith("auto:") and right[5:].isdigit() else 1
            if right not in ("auto", f"auto:{group}") or group not in (1, 2, 4) or len(names) % group:
                raise SourceError(f"bad allocation '{right}'", span, hint="auto, auto:2 or auto:4 (names in whole groups)")
            out.append(_Decl(tuple(names), None, group, span))
            continue
        m = _RANGE.match(right)
        if not m:
            raise SourceError(f"bad register place '{right}'", span, hint="Rn, Rn-Rm or auto")
        lo = int(m.group("lo"))
        hi = int(m.group("hi")) if m.group("hi") else lo
        if hi - lo + 1 != len(names):
            raise SourceError(f"{len(names)} names but {hi - lo + 1} registers", span)
        if hi > 254:
            raise SourceError(f"R{hi} does not exist", span, hint="registers are R0-R254")
        out.append(_Decl(tuple(names), tuple(range(lo, hi + 1)), 1, span))
    seen: dict[str, Span] = {}
    for d in out:
        for n in d.names:
            if n in seen:
                raise SourceError(f"register name '{n}' declared twice", d.span)
            seen[n] = d.span
    return out


def substitute(text: str, mapping: dict[str, int]) -> str:
    """``text`` with each whole-word name replaced by its register."""
    if not mapping:
        return text
    pat = re.compile(r"(?<![\w.$])(" + "|".join(sorted(map(re.escape, mapping), key=len, reverse=True)) + r")(?![\w])")
    return pat.sub(lambda m: f"R{mapping[m.group(1)]}", text)


def used_registers(texts: list[str]) -> set[int]:
    out = set()
    for t in texts:
        out.update(int(x) for x in re.findall(r"(?<![\w.])R(\d+)\b", t))
    return out


def resolve(fn: Function, model: BankModel | str = "volta", ceiling: int | None = None) -> Named:
    """Replace names by registers, allocating the ``auto`` ones bank-aware."""
    decls = declarations(fn)
    texts = [it.text for it in fn.instructions]
    if not decls:
        return Named(texts)
    fixed = {n: r for d in decls if d.fixed for n, r in zip(d.names, d.fixed)}
    autos = [d for d in decls if d.fixed is None]
    if not autos:
        return Named([substitute(t, fixed) for t in texts], fixed)
    if isinstance(model, str):
        model = BANK_MODELS[model]
    plain = [substitute(t, fixed) for t in texts]
    taken = used_registers(plain) | set(fixed.values())
    # a wide access (R4.64, LDS.128) takes the following registers too: keep them out of the pool
    for t in plain:
        for m in re.finditer(r"(?<![\w.])R(\d+)\.64\b", t):
            taken.add(int(m.group(1)) + 1)
    top = ceiling if ceiling is not None else fn.settings.get("registers", (None,))[0]
    if top is None:
        top = 255
    else:
        top -= 2
    pool = [r for r in range(0, min(top, 255)) if r not in taken]
    naive = _naive(autos, pool, fn)
    mapping = allocate(autos, pool, plain, model, fn)
    return Named([substitute(t, {**fixed, **mapping}) for t in texts], {**fixed, **mapping},
                 tuple(n for d in autos for n in d.names),
                 {"model": model.name, "naive": {**fixed, **naive}}, reuse=True)


def _naive(autos: list[_Decl], pool: list[int], fn: Function) -> dict[str, int]:
    out, free = {}, list(pool)
    for d in autos:
        for k in range(0, len(d.names), d.group):
            r = next((x for x in free if x % d.group == 0 and all(x + j in free for j in range(d.group))), None)
            if r is None:
                raise SourceError(f"no free registers left for '{d.names[k]}'", d.span,
                                  hint="free some registers or raise the ceiling with .registers N")
            for j in range(d.group):
                out[d.names[k + j]] = r + j
                free.remove(r + j)
    return out


def _reads(texts: list[str]) -> list[list[str]]:
    """Source tokens per instruction in slot order (names or Rn), for the cost function."""
    out = []
    for t in texts:
        body = t.split(";")[0]
        if body.lstrip().startswith("@"):
            body = body.split(None, 1)[1]
        parts = body.split(None, 1)
        ops = [o.strip() for o in parts[1].split(",")] if len(parts) > 1 else []
        out.append([o for o in ops[1:] if re.fullmatch(r"-?\|?[A-Za-z_]\w*\|?", o)])
    return out


def _reg_of(tok: str, assign: dict[str, int]) -> int | None:
    t = tok.strip("-|")
    if t in assign:
        return assign[t]
    return int(t[1:]) if t[:1] == "R" and t[1:].isdigit() else None


def _cost(reads: list[list[str]], assign: dict[str, int], model: BankModel) -> int:
    """Bank-conflict cycles of the source lists under ``assign`` (names) and literal Rn."""
    total = 0
    for srcs in reads:
        regs = {_reg_of(s, assign) for s in srcs} - {None}
        if len(regs) < 2:
            continue
        per = {}
        for r in regs:
            per[r % model.banks] = per.get(r % model.banks, 0) + 1
        total += sum(max(0, -(-k // model.ports) - 1) for k in per.values())
    return total


def allocate(autos: list[_Decl], pool: list[int], texts: list[str], model: BankModel, fn: Function) -> dict[str, int]:
    """Bank-aware assignment of the ``auto`` names (greedy in first-use order, then pair swaps)."""
    names = [n for d in autos for n in d.names]
    group_of = {n: (d, k - k % d.group) for d in autos for k, n in enumerate(d.names)}
    reads = _reads(texts)
    fixed_regs = {}
    for srcs in reads:
        for s in srcs:
            m = re.fullmatch(r"R(\d+)", s.strip("-|"))
            if m:
                fixed_regs[s.strip("-|")] = int(m.group(1))
    first = {}
    for i, srcs in enumerate(reads):
        for s in srcs:
            first.setdefault(s.strip("-|"), i)
    order = sorted(names, key=lambda n: first.get(n, 1 << 30))
    free = list(pool)
    assign: dict[str, int] = dict(fixed_regs)
    relevant = [srcs for srcs in reads if any(s.strip("-|") in group_of for s in srcs)]
    for n in order:
        if n in assign:
            continue
        d, start = group_of[n]
        members = d.names[start:start + d.group]
        cands = [r for r in free if r % d.group == 0 and all(r + j in free for j in range(d.group))]
        if not cands:
            raise SourceError(f"no free registers left for '{n}'", d.span,
                              hint="free some registers or raise the ceiling with .registers N")
        best = min(cands, key=lambda r: (_cost(relevant, {**assign, **{m: r + j for j, m in enumerate(members)}}, model), r))
        for j, m in enumerate(members):
            assign[m] = best + j
            free.remove(best + j)
    singles = [n for n in names if group_of[n][0].group == 1]
    cost = _cost(relevant, assign, model)
    improved = True
    rounds = 0
    while improved and cost and rounds < 4:
        improved, rounds = False, rounds + 1
        for i, a in enumerate(singles):
            for b in singles[i + 1:]:
                if assign[a] % model.banks == assign[b] % model.banks:
                    continue
                assign[a], assign[b] = assign[b], assign[a]
                c = _cost(relevant, assign, model)
                if c < cost:
                    cost, improved = c, True
                else:
                    assign[a], assign[b] = assign[b], assign[a]
    return {n: assign[n] for n in names}


def set_reuse(instrs: list[SassInstr]) -> list[SassInstr]:
    """Reuse flags from scratch: slot ``s`` of an instruction is flagged when the next instruction
    that reads slot ``s`` reads the same register, with no label in between, neither yielding, and
    both of an opcode ptxas flags (``REUSE_OPS``)."""
    targets = {i.address for i in instrs if i.labels}
    out = list(instrs)
    last: list[tuple[int, int] | None] = [None, None, None]  # slot -> (instr index, register)
    masks = [0] * len(instrs)
    for k, ins in enumerate(instrs):
        if ins.address in targets:
            last = [None, None, None]
        ok = ins.opcode in REUSE_OPS and ins.guard is None
        slots = access(ins).slots if ok else ((), (), ())
        for s in range(3):
            regs = slots[s]
            if len(regs) != 1:
                if regs or not ok:
                    last[s] = None
                continue
            r = regs[0]
            prev = last[s]
            if prev is not None and prev[1] == r and not instrs[prev[0]].yield_:
                masks[prev[0]] |= 1 << s
            last[s] = (k, r) if not ins.yield_ else None
    for k, ins in enumerate(instrs):
        c = replace(ins.ctrl, reuse=masks[k])
        if c != ins.ctrl:
            out[k] = _with_word(ins, encode(c, ins.word))
    return out


def _with_word(ins: SassInstr, word: int) -> SassInstr:
    return SassInstr(address=ins.address, text=ins.text, guard=ins.guard, opcode=ins.opcode,
                     modifiers=ins.modifiers, operands=ins.operands, word=word, labels=ins.labels,
                     target=ins.target)


def bank_report(before: list[SassInstr], after: list[SassInstr], model: BankModel | str = "volta") -> dict:
    """Bank-conflict cycles and reuse rates of two versions of a function (``stats`` model)."""
    from .stats import kernel_stats

    a, b = kernel_stats(before, model), kernel_stats(after, model)
    return {"model": a.bank_model.name, "before": a.bank_conflicts, "after": b.bank_conflicts,
            "before_reuse": round(a.reuse_rate, 4), "after_reuse": round(b.reuse_rate, 4)}


def name_accumulators(fn: Function, loop_instrs: list[SassInstr], base: str = "acc") -> Function:
    """``fn`` with the FFMA accumulators of a loop (``FFMA Rd, a, b, Rd``) renamed ``acc<k>`` everywhere
    and declared ``auto`` (so the allocator places them); a ``CS2R Rk, SRZ`` that zeroes two of them as
    a pair becomes two ``MOV acc, RZ``, so that no accumulator stays tied to a pair. An accumulator
    whose register is also part of a pair or vector anywhere in the function keeps its number."""
    acc = []
    for ins in loop_instrs:
        ops = ins.operands
        if ins.opcode == "FFMA" and len(ops) == 4 and ops[0].reg is not None and ops[0].reg == ops[3].reg:
            if ops[0].reg not in acc:
                acc.append(ops[0].reg)
    wide_regs = set()  # a register also used as part of a pair or vector elsewhere keeps its number
    for it in fn.items:
        if not it.text:
            continue
        opcode = it.text.split()[1] if it.text.startswith("@") else it.text.split()[0]
        if re.search(r"\.(64|128)\b", opcode) or opcode.startswith("D") or "WIDE" in opcode \
                or re.search(r"R\d+\.64", it.text):
            wide_regs |= {int(x) for x in re.findall(r"(?<![\w.])R(\d+)", it.text)}
            wide_regs |= {int(x) + 1 for x in re.findall(r"(?<![\w.])R(\d+)", it.text)}
    acc = [r for r in acc if r not in wide_regs]
    name = {r: f"{base}{k}" for k, r in enumerate(acc)}
    pat = re.compile(r"(?<![\w.])R(\d+)(?![\w])(?!\.64)")
    items = []
    for it in fn.items:
        if not it.text:
            items.append(it)
            continue
        m = re.match(r"CS2R R(\d+), SRZ ;", it.text)
        if m and int(m.group(1)) in name:
            lo = int(m.group(1))
            for r in (lo, lo + 1):
                items.append(replace(it, text=f"MOV {name.get(r, f'R{r}')}, RZ ;", ctrl=None))
            continue
        used = {int(x) for x in re.findall(r"(?<![\w.])R(\d+)", it.text)}
        opcode = it.text.split()[1] if it.text.startswith("@") else it.text.split()[0]
        wide = re.search(r"\.(64|128)\b", opcode) or opcode.startswith(("D", "CS2R")) or "WIDE" in opcode \
            or re.search(r"R\d+\.64", it.text)
        if wide and used & set(name):
            raise SourceError(f"an accumulator is part of a wider operand in '{it.text}'", it.span,
                              hint="only accumulators used one register at a time can be renamed")
        items.append(replace(it, text=pat.sub(lambda m: name.get(int(m.group(1)), m.group(0)) if int(m.group(1)) in name
                                              else m.group(0), it.text)))
    span = fn.span
    regs = (*fn.regs, (f"{base}<0-{len(acc) - 1}> auto", "", span))
    return replace(fn, items=tuple(items), regs=regs)
