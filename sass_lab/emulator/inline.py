"""Direct ``call``s to ``.func``s of the same PTX, inlined at decode time.

Each call site gets a copy of the callee with its registers, labels and local variables renamed
(``name$<n>$reg``); the callee's parameters become the caller's ``.param`` argument variables, which
(like every ``.param`` variable declared inside a function body) live in per-thread local memory.
``ret`` in the callee branches to the end of its copy. Recursion and indirect calls are errors.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from .. import ir
from ..errors import EmulatorError
from .ptx import Paren, rename

MAX_DEPTH = 64  # calls nested deeper than this are refused (-G builds of thrust nest about 20 deep)
RUNTIME_CALLS = {"__assertfail": (5, 0), "vprintf": (2, 1)}  # device-runtime functions: (arguments, results)
# device-runtime functions the emulator refuses, with what they are (the error names it)
UNMODELLED_RUNTIME = {
    "malloc": "the device heap (in-kernel malloc/new)", "free": "the device heap (in-kernel free/delete)",
    "__cxa_vec_new": "the device heap (in-kernel new[])", "cudaMalloc": "the device heap (cudaMalloc in a kernel)",
    "cudaFree": "the device heap (cudaFree in a kernel)",
    "cudaGetParameterBufferV2": "dynamic parallelism (a kernel launched from a kernel)",
    "cudaGetParameterBuffer": "dynamic parallelism (a kernel launched from a kernel)",
    "cudaLaunchDeviceV2": "dynamic parallelism (a kernel launched from a kernel)",
    "cudaLaunchDevice": "dynamic parallelism (a kernel launched from a kernel)",
    "cudaDeviceSynchronize": "dynamic parallelism (cudaDeviceSynchronize in a kernel)",
    "cudaStreamCreateWithFlags": "dynamic parallelism (device-side streams)",
    "cudaStreamDestroy": "dynamic parallelism (device-side streams)",
    "cudaGetDevice": "the device runtime API (cudaGetDevice in a kernel)",
    "cudaDeviceGetAttribute": "the device runtime API (cudaDeviceGetAttribute in a kernel)",
    "cudaOccupancyMaxActiveBlocksPerMultiprocessor": "the device runtime API (occupancy queries in a kernel)",
    "cudaGetLastError": "the device runtime API (cudaGetLastError in a kernel)",
}


def unmodelled(fname: str) -> str | None:
    """What the device-runtime function ``fname`` is, when the emulator refuses it (else None). nvcc 12+ names
    the device runtime API ``__cudaCDP2<Name>`` (``cudaGetDevice`` is ``__cudaCDP2GetDevice``)."""
    if fname in UNMODELLED_RUNTIME:
        return UNMODELLED_RUNTIME[fname]
    base = fname.removeprefix("__cudaCDP2")
    if base == fname:
        return None
    return UNMODELLED_RUNTIME.get(f"cuda{base}", f"the device runtime API (cuda{base} in a kernel)")


def runtime_call(ins: ir.Instr, fname: str, rets, args, where: str) -> list:
    """``assert()`` and ``printf()``: pseudo-instructions for :mod:`.ops_host` (a failed assert exits)."""
    nargs, nrets = RUNTIME_CALLS[fname]
    if len(args) != nargs or len(rets) > nrets or not all(isinstance(a, ir.Reg) for a in (*args, *rets)):
        raise EmulatorError(f"call to '{fname}'{where}: expected {nargs} .param argument(s)", ins.span)
    if fname == "__assertfail":
        return [ir.Instr("__assertfail", (), tuple(args), ins.guard, ins.span),
                ir.Instr("exit", (), (), ins.guard, ins.span)]
    return [ir.Instr("__vprintf", (), (rets[0] if rets else ir.Sink(), *args), ins.guard, ins.span)]


def _localize(v: ir.VarDecl, name: str | None = None) -> ir.VarDecl:
    space = "local" if v.space == "param" else v.space
    return replace(v, space=space, name=name or v.name)


def _reg_names(r: ir.RegDecl) -> list[str]:
    return [f"{r.name}{i}" for i in range(r.count)] if r.count else [r.name]


def inline_calls(module: ir.Module, kernel: ir.Kernel) -> ir.Kernel:
    """``kernel`` with every call expanded (and body ``.param`` variables moved to local memory)."""
    funcs = {k.name: k for k in module.kernels if not k.entry and k.body}
    regs = list(kernel.regs)
    vars_ = [_localize(v) for v in kernel.vars]
    counter = itertools.count()

    def call_parts(ins: ir.Instr):
        ops = list(ins.operands)
        rets: tuple = ()
        if ops and isinstance(ops[0], Paren):
            rets = ops.pop(0).items
        if not ops or not isinstance(ops[0], ir.Reg):
            raise EmulatorError(f"'{ins.name}': indirect calls are not supported by the emulator", ins.span)
        fname = ops.pop(0).name
        if "%" in fname:  # a (renamed) register: a call through a function pointer (nvcc -G, virtual functions)
            raise EmulatorError(f"'{ins.name}' through the function pointer '{fname[fname.rfind('$') + 1:]}': "
                                "indirect calls are not supported by the emulator", ins.span,
                                hint="build without -G, or call the function directly")
        args = ops.pop(0).items if ops and isinstance(ops[0], Paren) else ()
        return rets, fname, args

    def expand(stmts, stack: tuple[str, ...]) -> list:
        out: list = []
        for s in stmts:
            if isinstance(s, ir.Instr) and s.opcode == "call":
                out.extend(inline_one(s, stack))
            else:
                out.append(s)
        return out

    def inline_one(ins: ir.Instr, stack: tuple[str, ...]) -> list:
        rets, fname, args = call_parts(ins)
        where = f" (PTX line {ins.span.line})" if ins.span else ""
        callee = funcs.get(fname)
        if callee is None and fname in RUNTIME_CALLS:
            return runtime_call(ins, fname, rets, args, where)
        if callee is None and (what := unmodelled(fname)):
            raise EmulatorError(f"'{ins.name}' to '{fname}'{where}: {what} is not modelled by "
                                "the emulator", ins.span, hint="the emulator inlines calls to functions defined in "
                                "the same PTX and runs assert() and printf()")
        if callee is None:
            raise EmulatorError(f"'{ins.name}' to '{fname}'{where}: no .func with a body of that name in the PTX",
                                ins.span, hint="the emulator inlines calls to functions defined in the same PTX")
        if fname in stack:
            raise EmulatorError(f"call to '{fname}'{where}: recursion is not supported by the emulator", ins.span)
        if len(stack) >= MAX_DEPTH:
            raise EmulatorError(f"call to '{fname}'{where}: calls nested more than {MAX_DEPTH} deep are not supported "
                                "by the emulator (it inlines every call)", ins.span)
        nret = next((int(d.values[0]) for d in callee.directives if d.name == "__ret__"), 0)
        formal_rets, formal_args = callee.params[:nret], callee.params[nret:]
        if len(rets) != len(formal_rets) or len(args) != len(formal_args):
            raise EmulatorError(f"call to '{fname}'{where}: {len(args)} argument(s) and {len(rets)} result(s) "
                                f"for {len(formal_args)} and {len(formal_rets)}", ins.span)
        pre = f"{fname}${next(counter)}$"
        names: dict[str, str] = {}
        for formal, actual in zip((*formal_rets, *formal_args), (*rets, *args)):
            if not isinstance(actual, ir.Reg):
                raise EmulatorError(f"call to '{fname}'{where}: arguments must be .param variables", ins.span)
            names[formal.name] = actual.name
        for r in callee.regs:
            regs.append(replace(r, name=pre + r.name))
            for n in _reg_names(r):
                names[n] = pre + n
        for v in callee.vars:
            names[v.name] = pre + v.name
            vars_.append(_localize(v, pre + v.name))
        end = pre + "$ret"
        for s in callee.body:
            if isinstance(s, ir.LabelDef):
                names[s.name] = pre + s.name
        body: list = []
        for s in callee.body:
            if isinstance(s, ir.LabelDef):
                body.append(ir.LabelDef(names[s.name], s.span))
            elif isinstance(s, ir.Instr):
                guard = s.guard and ir.Guard(rename(s.guard.reg, names), s.guard.negate)
                if s.opcode == "ret":
                    body.append(ir.Instr("bra", ("uni",) if guard is None else (), (ir.Reg(end),), guard, s.span))
                else:
                    body.append(ir.Instr(s.opcode, s.mods, tuple(rename(o, names) for o in s.operands), guard,
                                         s.span))
        body.append(ir.LabelDef(end))
        return expand(body, (*stack, fname))

    if not any(isinstance(s, ir.Instr) and s.opcode == "call" for s in kernel.body) and \
            all(v.space != "param" for v in kernel.vars):
        return kernel
    body = expand(kernel.body, (kernel.name,))
    return replace(kernel, regs=tuple(regs), vars=tuple(vars_), body=tuple(body))
