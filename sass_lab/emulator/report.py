"""What an emulation returns: structured findings, run statistics, and the check error.

A :class:`Finding` names the kernel, the first offending block/thread, the PTX instruction and line,
the ``.sasm`` span (when a line map is given), and the buffer or address involved; ``count`` says how
many thread-accesses hit the same problem at the same instruction (they are merged into one finding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import EmulatorError, Span

KINDS = {
    "oob-global": "out-of-bounds global access",
    "oob-shared": "out-of-bounds shared access",
    "oob-local": "out-of-bounds local access",
    "oob-const": "out-of-bounds const/param access",
    "misaligned": "misaligned access",
    "uninit-shared": "read of shared memory never written",
    "race-shared": "shared-memory race",
    "race-global": "global-memory race between blocks",
    "barrier-divergence": "barrier divergence",
    "warp-divergence": "warp divergence at a .sync warp instruction",
    "membermask": "a .sync warp instruction outside its member mask",
    "bad-address": "address in no state space",
    "assert": "device-side assertion failed",
    "mbarrier": "mbarrier misuse",
    "async-in-flight": "shared memory accessed while an asynchronous copy into it is in flight",
    "mbarrier-deadlock": "mbarrier wait that can never complete",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem the checks found (merged over threads: ``count`` accesses)."""

    kind: str
    kernel: str
    message: str
    block: tuple[int, int, int]
    thread: tuple[int, int, int]
    instruction: str
    ptx_line: int
    span: Span | None = None
    buffer: str | None = None
    address: int | None = None
    count: int = 1

    def render(self) -> str:
        head = f"{self.kernel}: {KINDS.get(self.kind, self.kind)}: {self.message}"
        where = f"    block {self.block} thread {self.thread}"
        if self.count > 1:
            where += f" (and {self.count - 1} more)"
        lines = [head, where, f"    PTX line {self.ptx_line}: {self.instruction}"]
        if self.span is not None:
            lines.append(f"    at {self.span}")
            c = self.span.caret()
            if c:
                lines.append(c)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Stats:
    steps: int  # instructions issued (one per scheduled PC, all lanes together)
    thread_instructions: int  # sum over steps of active lanes
    waves: int
    lanes: int  # lanes per wave
    seconds: float

    @property
    def rate(self) -> float:
        """Thread-instructions per second."""
        return self.thread_instructions / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    findings: tuple[Finding, ...]
    stats: Stats
    output: str = ""  # what the kernel's printf calls wrote, in thread order per instruction

    @property
    def ok(self) -> bool:
        return not self.findings

    def render(self) -> str:
        s = self.stats
        head = (f"{self.kernel} grid={self.grid} block={self.block}: {s.steps} steps, "
                f"{s.thread_instructions} thread-instructions, {len(self.findings)} finding(s)")
        return "\n".join([head, *(f.render() for f in self.findings), *([self.output.rstrip("\n")] if self.output else [])])


class EmulatorCheckError(EmulatorError):
    """Raised by ``emulate(check=True)`` when the checks found problems; ``findings`` lists them."""

    kind = "emulator check"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None,
                 log: str | None = None, findings: tuple[Finding, ...] = (), report: Report | None = None):
        super().__init__(message, span=span, hint=hint, log=log)
        self.findings = tuple(findings)
        self.report = report

    def __reduce__(self):
        return (_rebuild_check, (self.message, self.span, self.hint, self.log, self.findings))

    def render(self) -> str:
        base = super().render()
        return "\n".join([base, *(f.render() for f in self.findings)])


def _rebuild_check(message, span, hint, log, findings):
    return EmulatorCheckError(message, span=span, hint=hint, log=log, findings=findings)


@dataclass
class Collector:
    """Merges findings by (kind, pc, buffer); keeps the first thread's details."""

    kernel: str
    limit: int = 200
    items: dict = field(default_factory=dict)

    def add(self, key: tuple, make, count: int) -> None:
        old = self.items.get(key)
        if old is not None:
            self.items[key] = (old[0], old[1] + count)
        elif len(self.items) < self.limit:
            self.items[key] = (make(), count)

    def findings(self) -> tuple[Finding, ...]:
        out = []
        for f, n in self.items.values():
            out.append(Finding(f.kind, f.kernel, f.message, f.block, f.thread, f.instruction, f.ptx_line,
                               f.span, f.buffer, f.address, n))
        return tuple(out)
