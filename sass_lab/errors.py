"""One error hierarchy for every stage.

Each error carries a source span (file, line, column, the line's text) or a tool log, so the CLI or
UI can render it as ``file:line:col: error: message`` with the line and a caret, and never a Python
traceback. Errors are picklable so tuning workers can send them back to the parent process.
"""

from __future__ import annotations

from dataclasses import field

from .frozen import frozen

_WINDOW = 240  # longest source excerpt a caret line shows


@frozen
class Span:
    """A place in a source file. ``line``/``col`` are 1-based; ``end_col`` is exclusive."""

    file: str
    line: int
    col: int = 1
    end_col: int | None = None
    source: str = ""  # the text of the source line
    chain: tuple[str, ...] = field(default=())  # "included from a.sasm:3", "loop i=2 at a.sasm:10"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def caret(self) -> str:
        """The source line with a caret (or carets) under the span."""
        if not self.source:
            return ""
        source, col = self.source.rstrip(), self.col
        width = max(1, (self.end_col or self.col + 1) - self.col)
        if len(source) > _WINDOW:  # a huge line: show a window around the caret
            start = max(0, min(col - 1 - _WINDOW // 3, len(source) - _WINDOW))
            tail = "…" if start + _WINDOW < len(source) else ""
            source = ("…" if start else "") + source[start:start + _WINDOW] + tail
            col -= start - (1 if start else 0)
            width = min(width, _WINDOW)
        lead = "".join(c if c == "\t" else " " for c in source[: col - 1])
        return f"    {source}\n    {lead}{'^' * width}"


class SasmError(Exception):
    """Base of every error sass_lab reports to a user."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None,
                 log: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.log = log

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.span, self.hint, self.log))

    def render(self) -> str:
        """Plain-text rendering: location, message, source line with caret, hint, tool log."""
        where = f"{self.span}: " if self.span else ""
        parts = [f"{where}{self.kind}: {self.message}"]
        if self.span is not None:
            c = self.span.caret()
            if c:
                parts.append(c)
            parts.extend(f"    ({link})" for link in self.span.chain)
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        if self.log:
            parts.append(self.log.rstrip())
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


def _rebuild(cls, message, span, hint, log):
    return cls(message, span=span, hint=hint, log=log)


class SourceError(SasmError):
    """Bad .sasm/PTX input: syntax, undeclared names, type mismatches, bad defines."""


class ToolchainError(SasmError):
    """ptxas/nvJitLink/nvdisasm failed; ``log`` holds the tool's text."""


class CompilerFault(ToolchainError):
    """The compiler itself failed on this input: it crashed, or ran past the compile timeout."""


class ResourceError(SasmError):
    """A kernel does not fit: shared memory, registers, threads per block."""


class EmulatorError(SasmError):
    """The PTX emulator cannot run a kernel (unsupported instruction, step limit, bad args)."""


class CudaError(SasmError):
    """A CUDA driver call failed."""


class NoGPUError(CudaError):
    """No CUDA driver or no GPU on this machine."""


class UsageError(SasmError):
    """Bad command-line or API arguments (not tied to a source line)."""
