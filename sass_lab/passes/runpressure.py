"""Register pressure inside one scheduling sub-region, for any order the DAG allows.

Each write in the run makes a *value*; each read uses the latest value of its register in the
original order (the DAG keeps every read between the same two writes, so that holds in any legal
order). A guarded write also reads the value it may leave in place. A value occupies its register
from its write until its last reader issues, or to the end when it is live after the run; values
live on entry are counted from the start. Units are 32-bit registers as in :mod:`.liveness`
(predicates are 0), so ``peak`` is comparable with ``Pressure.peak``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import Instr
from .defuse import DefUse
from .liveness import reg_units


@dataclass(frozen=True, slots=True)
class RunPressure:
    """Values of a run: who creates them, who reads them, their size, whether they outlive it."""

    base: int  # units live when the run starts (entry values and registers passing through)
    units: tuple[int, ...]  # per value
    readers: tuple[int, ...]  # per value: how many nodes read it
    reader_nodes: tuple[tuple[int, ...], ...]  # per value: the nodes that read it
    live_out: tuple[bool, ...]  # per value
    defs: tuple[tuple[int, ...], ...]  # per node: values it creates
    uses: tuple[tuple[int, ...], ...]  # per node: values it reads (each once)

    def start(self) -> list[int]:
        """Fresh per-value remaining-reader counts for a walk over an order."""
        return list(self.readers)

    def delta(self, j: int, remaining: Sequence[int]) -> int:
        """Change in live units if node ``j`` issues now."""
        d = 0
        for v in self.defs[j]:
            if self.readers[v] or self.live_out[v]:
                d += self.units[v]
        for v in self.uses[j]:
            if remaining[v] == 1 and not self.live_out[v]:
                d -= self.units[v]
        return d

    def issue(self, j: int, remaining: list[int]) -> None:
        for v in self.uses[j]:
            remaining[v] -= 1

    def peak(self, order: Sequence[int]) -> int:
        """Highest live units reached while issuing ``order``."""
        remaining = self.start()
        p = best = self.base
        for j in order:
            p += self.delta(j, remaining)
            self.issue(j, remaining)
            best = max(best, p)
        return best


def run_pressure(run: Sequence[Instr], du: DefUse, live_in: frozenset[str] | set[str],
                 live_out: frozenset[str] | set[str], types: dict[str, str]) -> RunPressure:
    """The value model of ``run``; ``live_in``/``live_out``: what occupies registers around it.

    A register read before any write in the run but not in ``live_in`` holds garbage (nothing wrote
    it on any path), so it counts as 0 units, as it does in :mod:`.liveness`.
    """
    current: dict[str, int] = {}
    units: list[int] = []
    readers: list[int] = []
    reader_nodes: list[list[int]] = []
    names: list[str] = []
    defs: list[tuple[int, ...]] = []
    uses: list[tuple[int, ...]] = []
    entry = 0

    def new(name: str) -> int:
        names.append(name)
        units.append(reg_units(types.get(name, "b32")))
        readers.append(0)
        reader_nodes.append([])
        return len(names) - 1

    for j, ins in enumerate(run):
        ds, us = du(ins)
        read = [r.name for r in us]
        if ins.guard is not None:
            read += [r.name for r in ds]
        mine: list[int] = []
        for name in dict.fromkeys(read):
            v = current.get(name)
            if v is None:
                v = current[name] = new(name)
                if name not in live_in:
                    units[v] = 0
                entry += units[v]
            readers[v] += 1
            reader_nodes[v].append(j)
            mine.append(v)
        uses.append(tuple(mine))
        made = []
        for r in ds:
            v = current[r.name] = new(r.name)
            made.append(v)
        defs.append(tuple(made))
    last = set(current.values())
    out = tuple(v in last and names[v] in live_out for v in range(len(names)))
    through = sum(reg_units(types.get(n, "b32")) for n in live_out if n not in current)
    return RunPressure(entry + through, tuple(units), tuple(readers), tuple(map(tuple, reader_nodes)), out,
                       tuple(defs), tuple(uses))
