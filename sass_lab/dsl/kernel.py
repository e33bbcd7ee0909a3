"""Lowering one kernel: header, declarations, body statements, DSL parameter loads."""

from __future__ import annotations

from .. import ir
from ..isa.roles import NO_DEST
from ..isa.specials import special_type
from ..isa.table import dest_type
from .checks import check, check_opcode
from .context import LowerCtx
from .names import Names
from .nodes import (
    MemRef,
    Name,
    NotRef,
    Num,
    ParenList,
    SAuto,
    SClose,
    SEnd,
    SEntry,
    SFunc,
    SInstr,
    SLabel,
    SOpen,
    SParam,
    SPerf,
    SPragma,
    SProto,
    SReg,
    SSchedule,
    STargets,
    SVar,
)
from .parse import strip_comments

_BRANCHES = ("bra", "brx")


def _body_range(lw: LowerCtx, i: int, dsl: bool) -> tuple[int, int, int, list[SPerf | SPragma]]:
    """(first body index, end index (exclusive), next index, header directives)."""
    stmts = lw.stmts
    hdr = stmts[i]
    j = i + 1
    head: list[SPerf | SPragma] = []
    while j < len(stmts) and type(stmts[j]) in (SPerf, SPragma):
        head.append(stmts[j])
        j += 1
    if j < len(stmts) and type(stmts[j]) is SOpen:
        end = lw.match(j)
        return j + 1, end, end + 1, head
    if not dsl:
        raise lw.err(hdr, f"expected '{{' to start the body of '{hdr.name}'",
                     hint="PTX kernels are '.entry name(...) { ... }'; the DSL's .kernel needs no braces")
    k = j
    depth = 0
    while k < len(stmts):
        t = type(stmts[k])
        if t in (SEntry, SFunc) and depth == 0:
            break
        if t is SOpen:
            depth += 1
        elif t is SClose:
            if depth == 0:
                raise lw.err(stmts[k], "unmatched '}'", hint="remove it or add the matching '{'")
            depth -= 1
        k += 1
    return j, k, k, head


def lower_kernel(lw: LowerCtx, i: int) -> tuple[ir.Kernel, int]:
    """Lower the kernel whose header is ``lw.stmts[i]``; returns it and the next statement index."""
    stmts = lw.stmts
    hdr: SEntry = stmts[i]
    dsl = hdr.dsl
    names = Names(err=lw.err, auto=lw.auto)
    names.symbols = set(lw.symbols)
    params: list[ir.Param] = []
    seen_params: set[str] = set()
    for p in hdr.params:
        if p.name in seen_params:
            raise lw.err(p, f"duplicate parameter '{p.name}'")
        seen_params.add(p.name)
        span = lw.span(p)
        if dsl and p.type == "tensormap":  # .param .align 128 .b8 NAME[128]; NAME is its generic address
            params.append(ir.Param(f"{p.name}_param", "b8", 128, 128, span))
            names.params[p.name] = ir.Reg(p.name, "u64")
            names.symbols.add(f"{p.name}_param")
        elif dsl:
            params.append(ir.Param(f"{p.name}_param", p.type, p.align, p.array, span))
            names.params[p.name] = ir.Reg(p.name, p.type)
            names.symbols.add(f"{p.name}_param")
        else:
            params.append(ir.Param(p.name, p.type, p.align, p.array, span))
            names.symbols.add(p.name)
    start, end, nxt, head = _body_range(lw, i, dsl)
    directives = [_directive(lw, s) for s in head if type(s) is SPerf]
    directives += [ir.Directive("pragma", s.values, lw.span(s)) for s in head if type(s) is SPragma]
    for k in range(start, end):
        s = stmts[k]
        if type(s) is SLabel:
            if s.name in names.labels:
                raise lw.err(s, f"duplicate label '{s.name}'", hint=f"first defined at {names.labels[s.name]}")
            names.labels[s.name] = lw.span(s)
    body, kvars, dirs = _body(lw, names, start, end)
    directives += dirs
    prologue, pregs = _param_loads(names, params, hdr.params, lw)
    kernel = ir.Kernel(name=hdr.name, params=tuple(params), regs=tuple(pregs + names.decls),
                       vars=tuple(kvars), directives=tuple(directives), body=tuple(prologue + body),
                       entry=True, visible=hdr.visible, span=lw.span(hdr))
    return kernel, nxt


def _directive(lw: LowerCtx, s: SPerf) -> ir.Directive:
    return ir.Directive(s.name, s.values, lw.span(s))


def _body(lw: LowerCtx, names: Names, start: int, end: int):
    stmts = lw.stmts
    body: list[ir.Stmt] = []
    kvars: list[ir.VarDecl] = []
    dirs: list[ir.Directive] = []
    scopes: list[list[tuple[str, object]]] = []
    sched: SSchedule | None = None
    lower_instr = _instr
    for k in range(start, end):
        s = stmts[k]
        t = type(s)
        if t is SInstr:  # the common case first
            ins = lower_instr(lw, names, s)
            if type(ins) is tuple:
                body.extend(ins)
            else:
                body.append(ins)
            continue
        match s:
            case SLabel():
                body.append(ir.LabelDef(s.name, lw.span(s)))
            case SReg():
                _regs(lw, names, s, scopes)
            case SOpen():
                scopes.append([])
                body.append(ir.Raw("{", lw.span(s)))
            case SClose():
                for name, prev in reversed(scopes.pop()):
                    names.restore(name, prev)
                body.append(ir.Raw("}", lw.span(s)))
            case SAuto():
                names.auto = True
                names.version += 1
            case SVar():
                if s.space not in ("shared", "local", "param"):
                    raise lw.err(s, f".{s.space} variables are declared at module scope",
                                 hint="move it above the kernel")
                for v in lw.vars(s):
                    kvars.append(v)
                    names.symbols.add(v.name)
            case SPerf():
                dirs.append(_directive(lw, s))
            case SPragma():
                body.append(ir.Raw(lw.pragma_text(s), lw.span(s)))
            case STargets():
                for name, li, col, end in s.targets:
                    if name not in names.labels:
                        raise lw.err(SLabel(name, li, col, end), f"undefined label '{name}'",
                                     hint=_label_hint(names, name))
                body.append(ir.Raw(".branchtargets " + ", ".join(t[0] for t in s.targets) + ";", lw.span(s)))
            case SProto():
                names.symbols.add(s.name)
                body.append(ir.Raw(s.text, lw.span(s)))
            case SParam():
                names.symbols.add(s.decl.name)
                body.append(ir.Raw(lw.ex.lines[s.li].strip(), lw.span(s)))
            case SSchedule():
                if sched is not None:
                    raise lw.err(s, "'.schedule' inside a '.schedule' region",
                                 hint=f"close the region opened at {lw.span(sched)} with '.end'")
                sched = s
                body.append(ir.ScheduleBegin(lw.span(s)))
            case SEnd():
                if sched is None:
                    raise lw.err(s, "'.end' without '.schedule'", hint="remove it")
                sched = None
                body.append(ir.ScheduleEnd(lw.span(s)))
            case SEntry() | SFunc():
                raise lw.err(s, "a kernel cannot be defined inside another", hint="close the body with '}'")
    if sched is not None:
        raise lw.err(sched, "'.schedule' region is not closed", hint="end it with '.end'")
    return body, kvars, dirs


def _regs(lw: LowerCtx, names: Names, s: SReg, scopes) -> None:
    scoped = bool(scopes)
    for n in s.names:
        span = lw.span(n)
        if n.count:
            names.declare_counted(n, n.name, s.type, n.count, span)
            continue
        prev = names.regs.get(n.name) if scoped else None
        if scoped and any(name == n.name for name, _ in scopes[-1]):
            raise lw.err(n, f"duplicate name '{n.name}' in this scope")
        names.declare(n, n.name, s.type, tuple(n.dims), s.vec, span, scoped=scoped)
        if scoped:
            scopes[-1].append((n.name, prev))


def _instr(lw: LowerCtx, names: Names, s: SInstr):
    """One instruction (or a tuple of them when special registers need a ``mov`` first)."""
    lw.base = s.base
    # identical fast-path lines share their ops/guard objects; Lark results are fresh objects
    key = (id(s.ops), id(s.guard), s.opcode, s.mods)
    hit = names.icache.get(key)
    if hit is not None and hit[0] == names.version:
        ins = ir.Instr(s.opcode, s.mods, hit[1], hit[2], lw.span(s))
        return _materialize_specials(names, ins, ins.span) if hit[3] else ins
    opcode = s.opcode
    check_opcode(opcode, lw.err, s, s.mods)
    ops = s.ops
    if opcode == "call" and any(type(o) is ParenList for o in ops):
        return ir.Raw(_call_text(lw.ex.lines, s.li), lw.span(s))
    guard = None
    if s.guard is not None:
        g = names.name(s.guard, None, False)
        if not isinstance(g, ir.Reg) or g.type != "pred":
            what = f".{g.type}" if isinstance(g, ir.Reg) else type(g).__name__.lower()
            raise lw.err(s.guard, f"guard '{s.guard.text}' is not a predicate (it is {what})",
                         hint="guards are .pred registers: @p or @!p")
        guard = ir.Guard(g, s.negate)
    writes = bool(ops) and opcode not in NO_DEST and type(ops[0]) is not MemRef
    dt = dest_type(opcode, s.mods) if (writes and names.auto) else None
    if opcode in _BRANCHES:
        last = ops[-1] if ops else None
        if type(last) is Name and last.text not in names.labels and last.text not in names.regs \
                and not last.text.startswith("%"):
            raise lw.err(last, f"undefined label '{last.text}'", hint=_label_hint(names, last.text))
    operand = names.operand
    ocache = names.ocache
    version = names.version
    res = []
    pre: list[ir.Stmt] = []
    for k, o in enumerate(ops):
        if type(o) is Num:  # immediates need no lookup (and are often unique)
            res.append(ir.Imm(o.value, o.text))
            continue
        if type(o) is NotRef:
            res.append(_negate(lw, names, o, pre))
            continue
        hit = ocache.get(id(o))  # fast-path operand nodes are shared between lines
        if hit is not None and hit[0] == version:
            res.append(hit[1])
            continue
        r = operand(o, dt) if (k == 0 and dt is not None) else operand(o)
        version = names.version
        ocache[id(o)] = (version, r, o)  # keep o alive: its id must not be reused
        res.append(r)
    span = lw.span(s)
    ins = ir.Instr(opcode, s.mods, tuple(res), guard, span)
    check(ins, ops, lw.err, s)
    special = opcode != "mov" and any(type(o) is ir.Special and o.name != "WARP_SZ" for o in res)
    if pre:  # '!p' operands: the not.pred instructions go first (never cached)
        body = _materialize_specials(names, ins, span) if special else (ins,)
        return (*(ir.Instr(p.opcode, p.mods, p.operands, None, span) for p in pre), *body)
    names.icache[key] = (names.version, ins.operands, guard, special)
    return _materialize_specials(names, ins, span) if special else ins


def _negate(lw: LowerCtx, names: Names, o: NotRef, pre: list) -> ir.Reg:
    """``!p`` → ``not.pred not_p, p`` before the instruction; the operand becomes ``not_p``."""
    r = names.name(o.name, None, False)
    if not isinstance(r, ir.Reg) or r.type != "pred":
        what = f".{r.type}" if isinstance(r, ir.Reg) else type(r).__name__.lower()
        raise lw.err(o, f"'!{o.name.text}' negates a predicate, but '{o.name.text}' is {what}",
                     hint="only .pred registers can be negated")
    tname = "not_" + r.name.lstrip("%")
    if tname not in names.flat:
        names.flat[tname] = None
        names.decls.append(ir.RegDecl(tname, "pred", 0, lw.span(o)))
    tmp = names.reg(tname, "pred")
    pre.append(ir.Instr("not", ("pred",), (tmp, r)))
    return tmp


def _materialize_specials(names: Names, ins: ir.Instr, span) -> tuple[ir.Stmt, ...]:
    """PTX reads special registers only with mov: ``add r, %tid.x, 1`` → ``mov`` to a register first."""
    pre: list[ir.Stmt] = []
    ops = []
    for o in ins.operands:
        if type(o) is ir.Special and o.name != "WARP_SZ":
            typ = special_type(o.name)
            rname = "sr_" + o.name[1:].replace(".", "_")
            if rname not in names.flat:
                names.flat[rname] = span
                names.decls.append(ir.RegDecl(rname, typ, 0, span))
            reg = names.reg(rname, typ)
            pre.append(ir.Instr("mov", (typ,), (reg, o), None, span))
            o = reg
        ops.append(o)
    return (*pre, ir.Instr(ins.opcode, ins.mods, tuple(ops), ins.guard, span))


def _call_text(lines, li: int) -> str:
    """The whole ``call`` statement starting at expanded line ``li`` (nvcc spreads it over lines)."""
    parts, depth, seen = [], 0, False
    texts = [line.strip() for line in strip_comments(lines[li:li + 64])]
    for j, text in enumerate(texts):
        depth += text.count("(") - text.count(")")
        seen = seen or "(" in text
        if text:
            parts.append(text)
        if seen and depth <= 0 and (text.endswith(";") or text.endswith(")")):
            after = next((t for t in texts[j + 1:] if t), "")
            if text.endswith(";") or not after.startswith(","):  # ", prototype_0;" still belongs to it
                break
    return " ".join(parts).split(";")[0].rstrip() + ";"


def _label_hint(names: Names, text: str) -> str:
    import difflib

    close = difflib.get_close_matches(text, list(names.labels), n=1)
    return f"did you mean '{close[0]}'?" if close else "define it with 'name:' in this kernel"


def _param_loads(names: Names, params: list[ir.Param], decls, lw: LowerCtx):
    """``ld.param`` (+ ``cvta.to.global.u64`` for .u64) for each DSL parameter the body used; a
    ``.tensormap`` parameter gets its generic address (``mov.b64`` + ``cvta.param.u64``)."""
    prologue: list[ir.Stmt] = []
    regs: list[ir.RegDecl] = []
    for p, decl in zip(params, decls):
        reg = names.params.get(decl.name)
        if reg is None or decl.name not in names.used_params:
            continue
        span = lw.span(decl)
        regs.append(ir.RegDecl(reg.name, reg.type, 0, span))
        if decl.type == "tensormap":  # the map stays in the parameter space: take its generic address
            prologue.append(ir.Instr("mov", ("b64",), (reg, ir.Sym(p.name)), None, span))
            prologue.append(ir.Instr("cvta", ("param", "u64"), (reg, reg), None, span))
            continue
        prologue.append(ir.Instr("ld", ("param", reg.type), (reg, ir.Mem(ir.Sym(p.name))), None, span))
        if reg.type == "u64":
            prologue.append(ir.Instr("cvta", ("to", "global", "u64"), (reg, reg), None, span))
    return prologue, regs
