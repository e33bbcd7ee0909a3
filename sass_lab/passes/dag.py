"""The dependency DAG of a straight-line run of instructions (one scheduling sub-region).

Edges ``i → j`` (``i`` before ``j``) carry a delay: the cycles ``j`` must issue after ``i``.

* RAW through a register or predicate (guards count as reads): the latency of ``i``;
* WAW: ``max(1, lat(i) - lat(j) + 1)`` so the later write also lands later;
* WAR and memory order: 1 (an issue slot; in-order issue pays it anyway).

Memory: loads and stores (``wmma.load``/``wmma.store`` included) keep their order within a state
space; ``generic`` conflicts with every space; two loads may swap. Atomics, reductions, ``multimem``,
``mbarrier``, ``cp.async`` (it reads one space and writes another) and volatile/acquire/release/
relaxed accesses act as stores to ``generic``, so they keep their place among all memory operations;
so does ``wgmma.mma_async``, whose tensor cores read shared memory after it issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import Instr
from ..isa import state_space
from .defuse import DefUse

_LOADS = frozenset({"ld", "ldu", "ldmatrix", "prefetch", "prefetchu", "tex", "tld4", "suld", "txq", "suq"})
_MEMORY = frozenset({"st", "red", "atom", "cp", "stmatrix", "mbarrier", "sust", "sured"}) | _LOADS
_ORDERED_MODS = frozenset({"volatile", "acquire", "release", "relaxed", "sc", "mmio"})


@dataclass(frozen=True, slots=True)
class Dag:
    """``preds[j]``/``succs[i]``: tuples of (other node, delay); ``latency[i]`` of each node."""

    latency: tuple[int, ...]
    preds: tuple[tuple[tuple[int, int], ...], ...]
    succs: tuple[tuple[tuple[int, int], ...], ...]

    def __len__(self) -> int:
        return len(self.latency)

    def edges(self) -> set[tuple[int, int]]:
        return {(i, j) for j, ps in enumerate(self.preds) for i, _ in ps}

    def heights(self) -> list[int]:
        """Longest delay path from each node to the end, including its own latency."""
        h = [0] * len(self.latency)
        for i in range(len(h) - 1, -1, -1):
            best = self.latency[i]
            for s, d in self.succs[i]:
                best = max(best, d + h[s])
            h[i] = best
        return h


def _space_of(mods: tuple[str, ...]) -> str:
    for m in mods:
        base = m.split("::")[0]
        if base in ("global", "shared", "local", "param", "const", "generic"):
            return base
    return "generic"


def memory_kind(ins: Instr) -> tuple[str, bool] | None:
    """(state space, is-a-write) for a memory operation, or None."""
    if ins.opcode == "wmma":  # wmma.load / wmma.store touch memory; wmma.mma does not
        if "load" in ins.mods or "store" in ins.mods:
            return _space_of(ins.mods), "store" in ins.mods
        return None
    if ins.opcode == "multimem":  # ld_reduce / st / red across a multicast object
        return "generic", True
    if ins.opcode == "wgmma" and ins.mods[:1] == ("mma_async",):  # reads shared memory asynchronously
        return "generic", True
    if ins.opcode not in _MEMORY:
        return None
    space = state_space(ins) or "generic"
    if ins.opcode in _LOADS and not _ORDERED_MODS.intersection(ins.mods):
        return space, False
    if ins.opcode in ("atom", "red", "mbarrier", "cp") or _ORDERED_MODS.intersection(ins.mods):
        return "generic", True
    return space, True


def build_dag(instrs: Sequence[Instr], latency: Sequence[int], du: DefUse | None = None) -> Dag:
    """Dependencies among ``instrs`` (in program order) under the given per-instruction latencies."""
    du = du or DefUse()
    n = len(instrs)
    preds: list[dict[int, int]] = [{} for _ in range(n)]
    writer: dict[str, int] = {}
    readers: dict[str, list[int]] = {}
    last_store: dict[str, int] = {}
    loads: dict[str, list[int]] = {}

    def edge(i: int, j: int, d: int) -> None:
        if i != j and preds[j].get(i, -1) < d:
            preds[j][i] = d

    for j, ins in enumerate(instrs):
        defs, uses = du(ins)
        for r in uses:
            w = writer.get(r.name)
            if w is not None:
                edge(w, j, latency[w])
            readers.setdefault(r.name, []).append(j)
        for r in defs:
            w = writer.get(r.name)
            if w is not None:
                edge(w, j, max(1, latency[w] - latency[j] + 1))
            for i in readers.get(r.name, ()):
                edge(i, j, 1)
            writer[r.name] = j
            readers[r.name] = []
        mk = memory_kind(ins)
        if mk is None:
            continue
        space, write = mk
        spaces = list(last_store.keys() | loads.keys()) if space == "generic" else [space, "generic"]
        for s in spaces:
            if s in last_store:
                edge(last_store[s], j, 1)
            if write:
                for i in loads.get(s, ()):
                    edge(i, j, 1)
        if write:
            last_store[space] = j
            loads[space] = []
        else:
            loads.setdefault(space, []).append(j)
    succs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for j, ps in enumerate(preds):
        for i, d in ps.items():
            succs[i].append((j, d))
    return Dag(tuple(latency), tuple(tuple(p.items()) for p in preds), tuple(map(tuple, succs)))
