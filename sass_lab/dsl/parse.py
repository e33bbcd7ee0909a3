"""Parsing: expanded lines → a flat list of statements (``dsl.nodes``) with locations.

Comments are blanked, physical lines are joined into logical lines (an open ``(``, a trailing ``,``),
plain instruction and label lines take the regex fast path (``fastparse``), and everything else goes
through the Lark LALR parser built once from ``sass_lab/grammars/sasm.lark`` with an inline transformer (no
parse tree). Structure (kernels, scopes) is left to ``dsl.lower``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .. import paths
from ..errors import SourceError
from ..isa import table
from ..isa.constexpr import fold
from . import fastparse
from .nodes import SEntry, SFunc, SInstr, SParam, SProto, SReg, STargets, Stmt, SVar
from .sourcemap import Expanded
from .transform import ToNodes

_IGNORED = re.compile(r"^\s*\.(version|target|address_size|loc|file|section|globl|weak_ref)\b")
_PROTO = re.compile(r"^(\s*)([A-Za-z_$][\w$]*)\s*:\s*\.(callprototype|calltargets)\b")
_COMMENT = re.compile(r'"[^"\n]*"|//[^\n]*|/\*|\*/')

_parser: Lark | None = None


def parser() -> Lark:
    """The Lark LALR parser, built once per process (Lark caches the tables on disk: ~10x faster)."""
    global _parser
    if _parser is None:
        opts = dict(parser="lalr", lexer="contextual", transformer=ToNodes(), maybe_placeholders=True)
        try:
            _parser = Lark(paths.grammar("sasm.lark"), cache=True, **opts)
        except OSError:  # unwritable temp dir: build without the cache
            _parser = Lark(paths.grammar("sasm.lark"), cache=False, **opts)
    return _parser


def strip_comments(lines: Sequence[str]) -> list[str]:
    """Blank out ``//`` and ``/* */`` comments (columns are kept; strings are left alone)."""
    out: list[str] = []
    in_block = False
    for line in lines:
        if not in_block and "/" not in line:
            out.append(line)
            continue
        buf, pos = [], 0
        while True:
            if in_block:
                j = line.find("*/", pos)
                if j < 0:
                    buf.append(" " * (len(line) - pos))
                    pos = len(line)
                    break
                buf.append(" " * (j + 2 - pos))
                pos = j + 2
                in_block = False
                continue
            m = _COMMENT.search(line, pos)
            if m is None:
                break
            tok = m.group(0)
            if tok.startswith('"'):
                buf.append(line[pos:m.end()])
                pos = m.end()
            elif tok.startswith("//"):
                buf.append(line[pos:m.start()])
                pos = len(line)
                break
            elif tok == "/*":
                buf.append(line[pos:m.start()] + "  ")
                pos = m.end()
                in_block = True
            else:  # a stray '*/'
                buf.append(line[pos:m.end()])
                pos = m.end()
        buf.append(line[pos:])
        out.append("".join(buf).rstrip())
    return out


_OPCODE_ALONE = re.compile(r"\s*(?:@!?[%$\w]+\s+)?([a-z][a-z0-9_]*)(?:\.[\w:]+)*\s*$")


def _opcode_alone(text: str) -> bool:
    """An instruction whose operands are on the next lines (nvcc's ``call.uni`` / ``__assertfail,`` / ``(``)."""
    m = _OPCODE_ALONE.match(text)
    if m is None:
        return False
    spec = table.spec(m.group(1))
    return spec is not None and spec.min_ops > 0


def _continues(text: str, depth: int) -> bool:
    s = text.rstrip()
    if depth > 0:
        return True
    if not s:
        return False
    last = s[-1]
    if last in ",=|":
        return True
    if last == "{":
        prev = s[:-1].rstrip()
        return bool(prev) and prev[-1] in ",=("
    return False


def parse(ex: Expanded, clean: list[str] | None = None) -> list[Stmt]:
    """All statements of an expansion, in order."""
    lines = clean if clean is not None else strip_comments(ex.lines)
    lines = [fold(x) if "(" in x else x for x in lines]  # PTX constant expressions: same columns
    out: list[Stmt] = []
    fast = fastparse.parse_line
    n = len(lines)
    i = 0
    skip_depth = 0
    while i < n:
        text = lines[i]
        if skip_depth:
            skip_depth += text.count("{") - text.count("}")
            i += 1
            continue
        if not text or text.isspace():
            i += 1
            continue
        if text.lstrip().startswith(".") and _IGNORED.match(text):
            skip_depth = max(0, text.count("{") - text.count("}"))
            if ".section" in text and "{" not in text:  # DWARF sections: '{' on the next line
                j = i + 1
                while j < n and not lines[j].strip():
                    j += 1
                if j < n and lines[j].lstrip().startswith("{"):
                    skip_depth = max(1, lines[j].count("{") - lines[j].count("}"))
                    i = j
            i += 1
            continue
        proto = _PROTO.match(text) if ".call" in text else None
        if proto:  # an indirect call's prototype or target list: kept verbatim, up to its ';'
            start, parts = i, [text.strip()]
            while ";" not in parts[-1] and i + 1 < n:
                i += 1
                parts.append(lines[i].strip())
            col = len(proto.group(1)) + 1
            out.append(SProto(proto.group(2), " ".join(parts), start, col, col + len(proto.group(2))))
            i += 1
            continue
        try:
            res = fast(text, i)
        except (ValueError, OverflowError) as e:
            raise _bad_number(e, ex, i, text) from None
        alone = False
        if res is not None:
            alone = type(res) is SInstr and not res.ops and _opcode_alone(text)
            if not alone:
                out.append(res)
                i += 1
                continue
        start = i
        parts = [text]
        depth = text.count("(") - text.count(")")
        while i + 1 < n and (alone or _continues(parts[-1], depth) or lines[i + 1].lstrip().startswith(("(", ","))):
            alone = False
            i += 1
            parts.append(lines[i])
            depth += lines[i].count("(") - lines[i].count(")")
        try:
            got = parse_logical("\n".join(parts), start, ex)
        except (ValueError, OverflowError) as e:
            raise _bad_number(e, ex, start, text) from None
        out.extend(st._replace(last_li=i) if type(st) is SFunc else st for st in got)  # the whole header
        i += 1
    return out


def _bad_number(e: Exception, ex: Expanded, li: int, text: str) -> SourceError:
    """A literal no number can hold (a 4,400-digit index, a NaN memory offset): exit 1 at its line."""
    msg = "an integer literal has more than 4,300 digits" if "digits" in str(e) else str(e)
    col = len(text) - len(text.lstrip()) + 1
    return SourceError(f"bad number: {msg}", ex.span(li, col, len(text.rstrip()) + 1),
                       hint="offsets, indices and sizes are finite integers")


_LOGICAL: dict[str, tuple] = {}  # text -> statements at line 0 (immutable nodes, so shared)
_LOGICAL_MAX = 4096


def parse_logical(text: str, li: int, ex: Expanded | None = None, file: str = "<string>") -> list[Stmt]:
    """Parse one logical line starting at expanded line ``li`` with Lark (remembered by its text:
    declarations and headers come back in every candidate of a tuning sweep)."""
    got = _LOGICAL.get(text)
    if got is None:
        try:
            tree = parser().parse(text)
        except UnexpectedInput as e:
            raise _syntax_error(e, text, li, ex, file) from None
        got = tuple(tree.children) if hasattr(tree, "children") else tuple(tree)
        if len(_LOGICAL) >= _LOGICAL_MAX:
            _LOGICAL.clear()
        _LOGICAL[text] = got
    return [_at(s, li) for s in got] if li else list(got)


def _at(s: Stmt, base: int) -> Stmt:
    """Statement ``s`` (lines counted from its logical line) moved to expanded line ``base``; operands
    stay relative to the instruction's ``base``."""
    t = type(s)
    if t is SInstr:
        return s._replace(li=s.li + base, base=base)
    if t is SEntry:
        return s._replace(li=s.li + base, params=tuple(p._replace(li=p.li + base) for p in s.params))
    if t is SReg or t is SVar:
        return s._replace(li=s.li + base, names=tuple(n._replace(li=n.li + base) for n in s.names))
    if t is SParam:
        return s._replace(li=s.li + base, decl=s.decl._replace(li=s.decl.li + base))
    if t is SFunc:
        return s._replace(li=s.li + base, first_li=s.first_li + base, last_li=s.last_li + base)
    if t is STargets:
        return s._replace(li=s.li + base, targets=tuple((n, li + base, c, e) for n, li, c, e in s.targets))
    return s._replace(li=s.li + base)


def _syntax_error(e: UnexpectedInput, text: str, li: int, ex: Expanded | None, file: str) -> SourceError:
    line = getattr(e, "line", 1) or 1
    col = getattr(e, "column", 1) or 1
    if line < 0:  # UnexpectedEOF
        phys = text.split("\n")
        line, col = len(phys), len(phys[-1]) + 1
    end = col + 1
    if isinstance(e, UnexpectedToken):
        tok: Token = e.token
        what = f"'{tok}'" if tok.type != "$END" else "end of line"
        if tok.type == "$END":
            phys = text.split("\n")
            line, col = len(phys), len(phys[-1].rstrip()) + 1
        end = col + max(1, len(str(tok)))
        expected = _expected(e.accepts or e.expected)
        msg = f"syntax error: unexpected {what}"
    elif isinstance(e, UnexpectedCharacters):
        ch = text.split("\n")[line - 1][col - 1]
        shown = (f"'{ch}'" if ch.isascii() and ch.isprintable() else
                 f"'{ch}' (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X} (invisible)")
        msg = f"syntax error: unexpected character {shown}"
        expected = _expected(e.allowed or ())

    elif isinstance(e, UnexpectedEOF):
        msg, expected = "syntax error: unexpected end of line", _expected(e.expected)
    else:  # pragma: no cover - lark has no other kinds
        msg, expected = f"syntax error: {e}", ""
    span = ex.span(li + line - 1, col, end) if ex is not None else None
    if span is None:
        from ..errors import Span
        span = Span(file, li + line, col, end, text.split("\n")[line - 1])
    hint = f"expected {expected}" if expected else None
    if "${" in text:
        hint = "a ${...} survived expansion: lines written by emit() are not expanded again (use an f-string)"
    return SourceError(msg, span, hint=hint)


_PRETTY = {"NAME": "a name", "INT": "an integer", "NUMBER": "a number", "TYPE": "a type (.f32, .u64, ...)",
           "OPCODE": "an instruction", "COMMA": "','", "SEMICOLON": "';'", "RSQB": "']'", "LSQB": "'['",
           "LBRACK": "'['", "RPAR": "')'", "LPAR": "'('", "LBRACE": "'{'", "RBRACE": "'}'", "MINUS": "'-'",
           "PLUS": "'+'", "VBAR": "'|'", "STRING": "a string", "LABEL": "a label", "$END": "end of line"}


def _expected(names) -> str:
    shown = sorted({_PRETTY.get(n, n.lower()) for n in names if not n.startswith("__")})
    if len(shown) > 6:
        shown = shown[:6] + ["..."]
    return ", ".join(shown)
