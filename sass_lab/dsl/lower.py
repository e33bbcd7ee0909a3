"""Lowering: the flat statement list → ``ir.Module`` with every name resolved and checked.

Structure: module-scope variables, ``.func`` definitions (passed through verbatim as ``Module.raw``),
and kernels — PTX ``.entry name(.param ...) { ... }`` or the DSL's ``.kernel name(.u64 A, ...)`` whose
body runs to the next kernel (braces optional). DSL kernel parameters are PTX parameters named
``<name>_param``; the ones the body uses are loaded into registers named ``<name>`` at entry
(``ld.param``, plus ``cvta.to.global.u64`` for ``.u64`` pointers).
"""

from __future__ import annotations

from .. import ir
from ..errors import SourceError, Span
from .kernel import lower_kernel
from .nodes import OPERANDS, SDir, SInstr, Stmt
from .sourcemap import ChainCache, Expanded


class Lowerer:
    """Lowers one file's statements; ``run()`` returns the module."""

    def __init__(self, stmts: list[Stmt], ex: Expanded, file: str):
        self.stmts = stmts
        self.ex = ex
        self.file = file
        self.chains = ChainCache(ex)
        self.symbols: set[str] = set()
        self.auto = False
        self.base = 0  # expanded line of the instruction being lowered (operand nodes are relative)

    # ----------------------------------------------------------------- spans and errors

    def span(self, node) -> Span:
        li = node.li
        if type(node) in OPERANDS:
            li += self.base
        ex = self.ex
        src = ex.sources[ex.origins[li]]
        return Span(src.file, src.line, node.col, node.end, ex.lines[li], self.chains(li))

    def err(self, node, message: str, hint: str | None = None) -> SourceError:
        return SourceError(message, self.span(node), hint=hint)

    # ----------------------------------------------------------------- module scope

    def run(self) -> ir.Module:
        stmts = self.stmts
        for s in stmts:
            if type(s) is SDir and s.kind in ("var", "func"):
                if s.kind == "func":
                    self.symbols.add(s.data["name"])
                else:
                    self.symbols.update(n.name for n in s.data["names"])
        kernels: list[ir.Kernel] = []
        mvars: list[ir.VarDecl] = []
        raw: list[ir.Raw] = []
        seen: dict[str, Span] = {}
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if type(s) is SDir:
                kind = s.kind
                if kind == "entry":
                    k, i = self.kernel(i)
                    if k.name in seen:
                        raise self.err(s, f"duplicate kernel '{k.name}'",
                                       hint=f"first defined at {seen[k.name]}")
                    seen[k.name] = k.span
                    kernels.append(k)
                    continue
                if kind == "func":
                    r, i = self.func(i)
                    raw.append(r)
                    continue
                if kind == "var" and s.data.get("attrs"):
                    raw.append(ir.Raw(self._statement_text(s.li), self.span(s)))  # .attribute(.managed)
                elif kind == "var":
                    mvars.extend(self.vars(s))
                elif kind == "auto":
                    self.auto = True
                elif kind == "pragma":
                    raw.append(ir.Raw(self._pragma_text(s), self.span(s)))
                elif kind == "reg":
                    raise self.err(s, "registers are declared inside a kernel",
                                   hint="put .reg after the .kernel/.entry line")
                elif kind in ("open", "close"):
                    raise self.err(s, f"unexpected '{'{' if kind == 'open' else '}'}' outside a kernel")
                elif kind in ("schedule", "end"):
                    raise self.err(s, f"'.{'schedule' if kind == 'schedule' else 'end'}' outside a kernel")
                elif kind in ("perf", "param"):
                    raise self.err(s, "this directive belongs to a kernel", hint="put it after .kernel/.entry")
            else:
                what = "instruction" if type(s) is SInstr else "label"
                raise self.err(s, f"{what} outside a kernel",
                               hint="start a kernel with '.kernel name(.u64 A, ...)' or '.entry'")
            i += 1
        _check_var_names(mvars, self.err)
        return ir.Module(kernels=tuple(kernels), vars=tuple(mvars), raw=tuple(raw), file=self.file)

    def func(self, i: int) -> tuple[ir.Raw, int]:
        """A ``.func`` definition or prototype, kept verbatim."""
        s = self.stmts[i]
        first, last = s.data["first_li"], s.data["last_li"]
        j = i + 1
        if j < len(self.stmts) and type(self.stmts[j]) is SDir and self.stmts[j].kind == "open":
            end = self._match(j)
            last = self.stmts[end].li
            j = end + 1
        text = "\n".join(self.ex.lines[first:last + 1])
        if j == i + 1 and not text.rstrip().endswith(";"):
            text = text.rstrip() + ";"  # a prototype whose ';' stood on a line of its own
        return ir.Raw(text, self.span(s)), j

    def _match(self, j: int) -> int:
        depth = 0
        stmts = self.stmts
        for k in range(j, len(stmts)):
            s = stmts[k]
            if type(s) is SDir:
                if s.kind == "open":
                    depth += 1
                elif s.kind == "close":
                    depth -= 1
                    if depth == 0:
                        return k
        raise self.err(stmts[j], "'{' is not closed", hint="add the matching '}'")

    def vars(self, s: SDir) -> list[ir.VarDecl]:
        d = s.data
        out = []
        for n in d["names"]:
            dims = tuple(n.dims) + ((d["vec"],) if d["vec"] else ())
            if 0 in dims[1:] or (0 in dims[:1] and not d["extern"]):
                raise self.err(n, f"'{n.name}' has an empty dimension",
                               hint="only '.extern .shared' arrays may be unsized: .extern .shared .b8 smem[]")
            out.append(ir.VarDecl(d["space"], n.name, d["type"], dims, d["align"], d["extern"], n.init,
                                  self.span(n)))
        return out

    def _statement_text(self, li: int) -> str:
        """The text of the statement starting at expanded line ``li`` up to its ';'."""
        out = []
        for line in self.ex.lines[li:li + 256]:
            out.append(line)
            if ";" in line:
                break
        return "\n".join(out).strip()

    def _pragma_text(self, s: SDir) -> str:
        return ".pragma " + ", ".join(f'"{v}"' for v in s.data["values"]) + ";"

    # ----------------------------------------------------------------- kernels

    def kernel(self, i: int) -> tuple[ir.Kernel, int]:
        return lower_kernel(self, i)


def _check_var_names(vs: list[ir.VarDecl], err) -> None:
    seen: dict[str, ir.VarDecl] = {}
    for v in vs:
        if v.name in seen:
            raise SourceError(f"duplicate variable '{v.name}'", v.span,
                              hint=f"first declared at {seen[v.name].span}")
        seen[v.name] = v


def lower(stmts: list[Stmt], ex: Expanded, file: str) -> ir.Module:
    """Resolve and check ``stmts`` into an ``ir.Module``."""
    return Lowerer(stmts, ex, file).run()

