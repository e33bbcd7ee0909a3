"""Latencies and scoreboard classes for the control-code model: documented figures, and figures
measured from ptxas's own schedules over the harvested corpus.

* **variable latency**: an opcode whose results ptxas hands over through a write barrier (memory,
  S2R, MUFU, conversions through the XU …): ``measure`` counts, per opcode, how often ptxas set a
  write barrier on an instruction with a register result; more than half → variable;
* **reads late**: an opcode on which ptxas sets read barriers (stores, atomics …): its sources may be
  read after issue, so overwriting them waits for the read barrier;
* **fixed latency** of a producer/consumer opcode pair: the least number of issue cycles (sum of
  stall counts) ptxas ever leaves between the producer and an instruction of the consumer opcode
  that reads its result in the same basic block. ptxas is correct, so every distance it leaves is at
  least the true latency: the minimum is a safe (never too small) figure for that pair. A pair
  ptxas never scheduled takes the producer's ``*`` figure: the largest minimum over consumer opcodes
  seen at least 3 times at no more than 15 cycles (a stall field's limit) — an estimate, the one
  unmeasured part of the model. Where a published microbenchmark gives a figure it is listed under
  ``DOCUMENTED`` and the larger of the two is used;
* **barrier setup**: the least distance ptxas leaves between an instruction that sets a barrier and
  the first instruction that waits on it, over setters whose stall is at least 1 (2 cycles over the
  medium harvest: ptxas never waits on a barrier 1 cycle after setting it). A setter with stall 0
  (``USETMAXREG``, ``HMMA``, ``ERRBAR`` — outside the issue-cycle model) that was waited on sooner
  keeps its own least distance (``setup_exceptions``: USETMAXREG, 0);
* **unbarriered bound**: ptxas leaves some variable-latency results without a write barrier when the
  reader is far enough away (``MUFU.RCP64H R19, 3`` read ~100 cycles later, across a
  ``BAR.SYNC``) — it relies on the result being there by then. ``sched.unbarriered_bounds`` measures,
  per producer (opcode with modifiers), the least age (issue cycles since it, on every path) at which
  ptxas reads such a result where nothing else in the model covers it: a bound ptxas relies on, so
  never below the truth (overwrites are not counted: they prove a later completion). The checker takes such a result as complete at that age,
  only for producers without a barrier and only for the variants measured; anything sooner is still
  a hazard;
* **least stall** per opcode: the smallest stall ptxas ever gives an instruction of the opcode, kept
  as a floor when seen over at least ``STALL_SAMPLES`` instances (and always for branches: ptxas
  never gives BRA/EXIT/RET less than 5); and the opcodes on which ptxas sets reuse flags.

``table(arch)`` reads the measured table shipped in ``data/<arch>.sched.json`` (tools/harvest_sass.py
writes it). Opcodes missing from the table are treated as variable latency (safe).
"""

from __future__ import annotations

import functools
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .model import SassInstr

# cycles; Jia et al., "Dissecting the NVIDIA Volta GPU architecture via microbenchmarking" (2018) and
# "… Turing T4 …" (2019): dependent FP32 FFMA/FADD/FMUL issue 4 cycles apart. Assumed for Hopper; the
# minimum ptxas leaves on sm_90 agrees (see the shipped table's measured figures).
DOCUMENTED = {"FFMA": 4, "FADD": 4, "FMUL": 4}
# Variable-latency instructions of one queue complete in issue order: ptxas leaves loads without a
# barrier when a later load of the same queue has one and the consumer waits on that (checked: with
# these queues the hazard checker finds nothing to report in any harvested ptxas kernel).
QUEUES = {"shared": ("LDS", "LDSM", "STS", "STSM", "ATOMS"), "global": ("LDG", "STG", "ATOMG", "REDG", "RED", "LDGSTS"),
          "local": ("LDL", "STL"), "generic": ("LD", "ST", "ATOM"), "const": ("LDC",)}
QUEUE_OF = {op: q for q, ops in QUEUES.items() for op in ops}
MAX_STALL = 15
STALL_SAMPLES = 20  # a least stall seen over this many instances is kept as a floor (branches always)
BRANCH_FLOOR = ("BRA", "BRX", "JMP", "JMX", "CALL", "RET", "EXIT", "BSYNC", "BREAK", "WARPSYNC", "YIELD", "KILL")


@dataclass(frozen=True)
class Table:
    """The scoreboard model's facts for one architecture."""

    fixed: dict[str, dict[str, int]]  # producer opcode.modifiers -> {consumer opcode or "*": cycles}
    variable: frozenset[str]
    reads_late: frozenset[str]
    min_stall: dict[str, int]
    setup: int  # cycles between setting a barrier and waiting on it
    reuse_ops: frozenset[str]
    source: dict[str, str]  # opcode -> "measured" / "documented" / "documented+measured"
    base_star: dict[str, int] = field(default_factory=dict)  # opcode -> largest "*" over its modifiers
    setup_exceptions: dict[str, int] = field(default_factory=dict)  # setter opcode -> its own setup
    bound: dict[str, int] = field(default_factory=dict)  # unbarriered producer (op) -> cycles it relies on

    def setup_of(self, opcode: str) -> int:
        """The setup time of a barrier set by ``opcode``."""
        return self.setup_exceptions.get(opcode, self.setup)

    def latency(self, op: str, consumer: str = "*") -> int | None:
        """Cycles before an instruction of opcode ``consumer`` may read a result of ``op`` (opcode
        with modifiers, e.g. ``IMAD.MOV.U32``); None for variable latency. A pair ptxas never
        scheduled takes the producer's ``*`` figure; a producer never seen with these modifiers, the
        largest ``*`` of its opcode."""
        base = op.split(".")[0]
        if base in self.variable:
            return None
        row = self.fixed.get(op)
        if row is None:
            return self.base_star.get(base)
        return row.get(consumer, row["*"])

    def queue(self, opcode: str) -> str:
        """The in-order completion queue of a variable-latency opcode (see ``QUEUES``)."""
        return QUEUE_OF.get(opcode, opcode)

    def is_variable(self, opcode: str) -> bool:
        """Variable latency: measured so, or never seen as a producer (safe)."""
        return opcode in self.variable or opcode not in self.base_star


def _block_ends(instrs: list[SassInstr]) -> set[int]:
    from .flow import BRANCHES, ENDS

    return {k for k, i in enumerate(instrs) if i.opcode in BRANCHES | ENDS or i.opcode in ("CALL", "BSYNC", "BSSY",
                                                                                          "WARPSYNC", "BAR")}


def collect(functions) -> dict:
    """Raw figures over ``functions`` (lists of ``SassInstr`` from ptxas); ``merge`` adds two up,
    ``finish`` turns them into the table."""
    from .regs import deps

    wb: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # opcode -> [with defs, with write barrier]
    rb: dict[str, int] = defaultdict(int)
    lat: dict[str, list[int]] = {}  # "P>C" -> [min distance, samples]
    stall_min: dict[str, int] = {}
    stall_n: dict[str, int] = defaultdict(int)
    setup = 99
    setup0: dict[str, int] = {}  # setters with stall 0: opcode -> least distance to a wait
    reuse = set()
    for instrs in functions:
        ends = _block_ends(instrs)
        targets = {i.target for i in instrs if i.target is not None}
        writer: dict[str, int] = {}
        barrier_set: dict[int, int] = {}  # barrier -> index that set it
        t = 0
        times = []
        for k, ins in enumerate(instrs):
            if ins.address in targets:  # a branch target: the producer may be elsewhere
                writer, barrier_set = {}, {}
            times.append(t)
            d, u = deps(ins)
            op = ins.opcode
            if ins.target != ins.address and op != "NOP":  # not the end padding (BRA to itself, NOPs)
                stall_min[op] = min(stall_min.get(op, 99), ins.stall)
                stall_n[op] += 1
            if ins.reuse:
                reuse.add(op)
            for b in range(6):
                if ins.wait_mask >> b & 1 and b in barrier_set:
                    j = barrier_set.pop(b)
                    if instrs[j].stall:
                        setup = min(setup, t - times[j])
                    else:
                        setup0[instrs[j].opcode] = min(setup0.get(instrs[j].opcode, 99), t - times[j])
            for r in u:
                i = writer.get(r)
                if i is not None and instrs[i].write_barrier is None:
                    key = f"{instrs[i].op}>{op}"
                    cur = lat.setdefault(key, [99, 0])
                    cur[0] = min(cur[0], t - times[i])
                    cur[1] += 1
            if d:
                wb[op][0] += 1
                if ins.write_barrier is not None:
                    wb[op][1] += 1
            if ins.read_barrier is not None:
                rb[op] += 1
            for r in d:
                writer[r] = k
            for b in (ins.write_barrier, ins.read_barrier):
                if b is not None:
                    barrier_set[b] = k
            t += ins.stall
            if k in ends:
                writer, barrier_set = {}, {}
    return {"wb": dict(wb), "rb": dict(rb), "lat": lat, "stall_min": stall_min, "stall_n": dict(stall_n),
            "setup": setup, "setup0": setup0, "reuse": sorted(reuse)}


def merge(a: dict, b: dict) -> dict:
    out = {"wb": dict(a["wb"]), "rb": dict(a["rb"]), "lat": {k: list(v) for k, v in a["lat"].items()},
           "stall_min": dict(a["stall_min"]), "stall_n": dict(a["stall_n"]), "setup": min(a["setup"], b["setup"]),
           "setup0": dict(a.get("setup0", {})), "reuse": sorted(set(a["reuse"]) | set(b["reuse"]))}
    for op, (n, w) in b["wb"].items():
        cur = out["wb"].get(op, [0, 0])
        out["wb"][op] = [cur[0] + n, cur[1] + w]
    for op, v in b.get("setup0", {}).items():
        out["setup0"][op] = min(out["setup0"].get(op, 99), v)
    for op, n in b["rb"].items():
        out["rb"][op] = out["rb"].get(op, 0) + n
    for k, (v, n) in b["lat"].items():
        cur = out["lat"].get(k, [99, 0])
        out["lat"][k] = [min(cur[0], v), cur[1] + n]
    for op, v in b["stall_min"].items():
        out["stall_min"][op] = min(out["stall_min"].get(op, 99), v)
    for op, n in b["stall_n"].items():
        out["stall_n"][op] = out["stall_n"].get(op, 0) + n
    return out


def finish(raw: dict) -> dict:
    variable = sorted(op for op, (n, w) in raw["wb"].items() if w * 2 > n)
    fixed: dict[str, dict[str, int]] = {}
    samples: dict[str, int] = defaultdict(int)
    for key, (v, n) in sorted(raw["lat"].items()):
        p, c = key.split(">")
        if p.split(".")[0] not in variable:
            fixed.setdefault(p, {})[c] = v
            samples[p] += n
    for p, row in fixed.items():
        solid = [v for c, v in row.items() if raw["lat"][f"{p}>{c}"][1] >= 3 and v <= MAX_STALL]
        row["*"] = max(solid) if solid else min(MAX_STALL, max(row.values()))
    return {"fixed": fixed, "fixed_samples": dict(samples), "variable": variable,
            "reads_late": sorted(raw["rb"]),
            "min_stall": {op: v for op, v in sorted(raw["stall_min"].items())
                          if op in BRANCH_FLOOR or raw["stall_n"].get(op, 0) >= STALL_SAMPLES},
            "setup": raw["setup"],
            "setup_exceptions": {op: v for op, v in sorted(raw.get("setup0", {}).items()) if v < raw["setup"]},
            "reuse_ops": raw["reuse"],
            "write_barrier_share": {op: v for op, v in sorted(raw["wb"].items())}}


def measure(functions) -> dict:
    """The measured table over ``functions`` (lists of ``SassInstr`` from ptxas)."""
    return finish(collect(functions))


def from_measured(m: dict) -> Table:
    fixed, source = {}, {}
    for op, row in m["fixed"].items():
        doc = DOCUMENTED.get(op.split(".")[0])
        # a consumer ptxas never put after this producer takes the least distance ptxas left before
        # any consumer of it (the largest, the old fallback, flagged ptxas's own code)
        seen = [v for c, v in row.items() if c != "*"]
        row = {**row, "*": min(seen)} if seen else row
        fixed[op] = {c: max(v, doc) if doc is not None else v for c, v in row.items()}
        source[op] = "documented+measured" if doc is not None else "measured"
    for op, v in DOCUMENTED.items():
        if not any(k.split(".")[0] == op for k in fixed) and op not in m["variable"]:
            fixed[op], source[op] = {"*": v}, "documented"
    base_star: dict[str, int] = {}
    for op, row in fixed.items():
        b = op.split(".")[0]
        base_star[b] = max(base_star.get(b, 0), row["*"])
    return Table(fixed, frozenset(m["variable"]), frozenset(m["reads_late"]), dict(m["min_stall"]),
                 int(m["setup"]), frozenset(m["reuse_ops"]), source, base_star,
                 dict(m.get("setup_exceptions", {})), dict(m.get("bound", {})))


def data_path(arch: str) -> Path:
    env = os.environ.get("SASS_LAB_SCHED")
    if env:
        return Path(env)
    return Path(str(resources.files("sass_lab.sass") / "data" / "sm_90.sched.json"))


@functools.cache
def table(arch: str = "sm_90") -> Table:
    path = data_path(arch)
    return from_measured(json.loads(path.read_text()))
