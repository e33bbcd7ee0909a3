"""The lowering context: one file's statements and expansion, and what every lowering step asks of
them (spans, errors, brace matching, declarations). ``dsl.lower`` walks the module scope and
``dsl.kernel`` each kernel; both take this context explicitly."""

from __future__ import annotations

from .. import ir
from ..errors import SourceError, Span
from ..hw.arch import STATIC_SHARED_MAX
from .nodes import OPERANDS, SClose, SOpen, SPragma, Stmt, SVar
from .sourcemap import ChainCache, Expanded


class LowerCtx:
    """One file's statements, its expansion, and the module-scope facts kernels need."""

    def __init__(self, stmts: list[Stmt], ex: Expanded, file: str):
        self.stmts = stmts
        self.ex = ex
        self.file = file
        self.chains = ChainCache(ex)
        self.symbols: set[str] = set()  # module-scope variables and .func names
        self.auto = False  # a module-scope '.reg .auto' seen
        self.base = 0  # expanded line of the instruction being lowered (operand nodes are relative)

    def span(self, node) -> Span:
        li = node.li
        if type(node) in OPERANDS:
            li += self.base
        ex = self.ex
        src = ex.sources[ex.origins[li]]
        return Span(src.file, src.line, node.col, node.end, ex.lines[li], self.chains(li))

    def err(self, node, message: str, hint: str | None = None) -> SourceError:
        return SourceError(message, self.span(node), hint=hint)

    def match(self, j: int) -> int:
        """Index of the '}' that closes the '{' at statement ``j``."""
        depth = 0
        stmts = self.stmts
        for k in range(j, len(stmts)):
            t = type(stmts[k])
            if t is SOpen:
                depth += 1
            elif t is SClose:
                depth -= 1
                if depth == 0:
                    return k
        raise self.err(stmts[j], "'{' is not closed", hint="add the matching '}'")

    def vars(self, s: SVar) -> list[ir.VarDecl]:
        out = []
        for n in s.names:
            dims = tuple(n.dims) + ((s.vec,) if s.vec else ())
            if 0 in dims[1:] or (0 in dims[:1] and not s.extern):
                raise self.err(n, f"'{n.name}' has an empty dimension",
                               hint="only '.extern .shared' arrays may be unsized: .extern .shared .b8 smem[]")
            v = ir.VarDecl(s.space, n.name, s.type, dims, s.align, s.extern, n.init, self.span(n), s.attrs)
            if v.space == "shared" and not v.extern and v.size > STATIC_SHARED_MAX:
                raise self.err(n, f"shared array '{n.name}' is {v.size:,} bytes; a block can have at most "
                               f"{STATIC_SHARED_MAX:,} bytes (48 KB) of static shared memory",
                               hint="declare less, or use dynamic shared memory (.extern .shared, up to 227 KB "
                                    "per block on sm_90 with the opt-in)")
            out.append(v)
        return out

    def statement_text(self, li: int) -> str:
        """The text of the statement starting at expanded line ``li`` up to its ';'."""
        out = []
        for line in self.ex.lines[li:li + 256]:
            out.append(line)
            if ";" in line:
                break
        return "\n".join(out).strip()

    def pragma_text(self, s: SPragma) -> str:
        return ".pragma " + ", ".join(f'"{v}"' for v in s.values) + ";"
