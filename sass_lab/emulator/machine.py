"""The state of one wave of blocks: registers over lanes, memories, and the checked accesses.

Lanes: a wave holds ``nb`` blocks of ``tp`` lanes each (threads per block rounded up to a warp; pad
lanes start exited), so lane ``l`` is thread ``l % tp`` of block slot ``l // tp`` and warps are lanes
``32w … 32w+31``. Global memory is one byte heap at fake device address ``GLOBAL_BASE`` holding every
buffer (with guard gaps); shared memory is ``nb`` windows of ``sh_size`` bytes; local memory ``L``
windows. Generic addresses put shared at ``SHARED_WINDOW`` and local at ``LOCAL_WINDOW``.
"""

from __future__ import annotations

import numpy as np

from .report import Finding

EXIT_PC = 1 << 30  # the PC of exited lanes (after every real PC)
GLOBAL_BASE = 0x7F00_0000_0000
SHARED_WINDOW = 0x1000_0000_0000
LOCAL_WINDOW = 0x2000_0000_0000
PARAM_WINDOW = 0x3000_0000_0000  # kernel parameters (cvta.param: a __grid_constant__ CUtensorMap's address)
CONST_WINDOW = 0x4000_0000_0000  # the constant bank (cvta.const: a pointer to __constant__ data)
WINDOW_SIZE = 1 << 32
SHIFT = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4}
UVIEW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def views(buf: np.ndarray) -> dict[int, np.ndarray]:
    return {s: buf.view(UVIEW[s]) for s in (1, 2, 4, 8)}


class State:
    """Mutable machine state of one wave (not a dataclass: it is the interpreter's hot object)."""

    __slots__ = ("L", "tp", "nb", "regs", "heap", "hv", "buf_starts", "buf_ends", "buf_names",
                 "buf_deltas", "shared", "sv", "sh_size", "sh_limit", "local", "lv", "local_size", "param", "const",
                 "lane_blk", "lane_tid", "check", "gran", "races", "findings", "pc", "prog", "kernel", "grid",
                 "block", "first_block", "steps", "live", "line_map", "all_lanes", "sh_base", "pcs", "bar_count",
                 "wait_bar", "wait_next", "wait_mask", "output", "hopper", "mbar", "wait_key", "asyncs", "gtrack", "cluster",
                 "block_ids", "memo", "scratch", "envregs", "sh_reserved",
                 "nthreads")

    def buffer(self, key, shape: tuple, dtype) -> np.ndarray:
        """A scratch array of this wave for one use at a time (``key`` names the use): a handler's
        temporaries reused instead of fresh megabyte allocations on every instruction."""
        a = self.scratch.get(key)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self.scratch[key] = np.empty(shape, dtype)
        return a

    # ------------------------------------------------------------------ findings
    def lane_coords(self, lane: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        bx, by, _ = self.block
        gx, gy, _ = self.grid
        b = int(self.block_ids[lane // self.tp])
        t = lane % self.tp
        return ((b % gx, (b // gx) % gy, b // (gx * gy)), (t % bx, (t // bx) % by, t // (bx * by)))

    def report(self, kind: str, lanes: np.ndarray, message, buffer: str | None = None,
               address: int | None = None, key_extra: object = None) -> None:
        """Record a finding for ``lanes`` (message: str or callable(first lane) → str)."""
        if len(lanes) == 0:
            return
        pc = self.pc
        first = int(lanes[0])

        def make() -> Finding:
            blk, thr = self.lane_coords(first)
            ins = self.prog.instrs[pc]
            span = None
            line = ins.span.line if ins.span else 0
            if self.line_map is not None and 0 < line <= len(self.line_map):
                span = self.line_map[line - 1]
            text = instr_text(ins)
            msg = message(first) if callable(message) else message
            return Finding(kind, self.kernel, msg, blk, thr, text, line, span, buffer, address)

        self.findings.add((kind, pc, buffer, key_extra), make, len(lanes))

    def shared_var(self, offset: int) -> tuple[str | None, str]:
        """(variable name, "name+0x10") of the shared variable holding byte ``offset``."""
        best = None
        for name, start in self.prog.layout.shared.items():
            if start <= offset and (best is None or start > best[1]):
                best = (name, start)
        if best is None:
            return None, f"offset {offset:#x}"
        return best[0], f"'{best[0]}'+{offset - best[1]:#x}"

    # ------------------------------------------------------------------ global memory
    def global_index(self, addr: np.ndarray, size: int, lanes: np.ndarray, what: str, align: int = 0):
        """Heap byte offsets of ``addr`` (u64, one per lane in ``lanes``); drops bad lanes. Accesses must
        be aligned to ``align`` (default: their size)."""
        off = addr.view(np.int64) - GLOBAL_BASE if addr.dtype == np.uint64 else addr.astype(np.int64) - GLOBAL_BASE
        if off.size == 0:
            return lanes, off
        lo, hi = int(off.min()), int(off.max())
        starts, ends = self.buf_starts, self.buf_ends
        b = int(np.searchsorted(starts, lo, side="right")) - 1
        if b >= 0 and hi + size <= ends[b]:
            delta = self.buf_deltas[b]
        else:
            bi = np.searchsorted(starts, off, side="right") - 1
            bic = np.maximum(bi, 0)
            ok = (bi >= 0) & (off + size <= ends[bic]) if len(starts) else np.zeros(len(off), bool)
            bad = np.flatnonzero(~ok)
            if len(bad):
                self._oob_global(off[bad], bi[bad], lanes[bad], size, what)
            lanes, off = lanes[ok], off[ok]
            delta = self.buf_deltas[bic[ok]] if len(starts) else 0
        align = align or size
        if align > 1 and off.size and (off & (align - 1)).any():
            mis = (off & (align - 1)) != 0
            self.report("misaligned", lanes[mis], lambda _: f"{size}-byte global {what} at "
                        f"{int(off[mis][0]) + GLOBAL_BASE:#x} is not {align}-byte aligned")
            lanes, off = lanes[~mis], off[~mis]
            if np.ndim(delta):
                delta = delta[~mis]
        return lanes, off - delta

    def _oob_global(self, off, bi, lanes, size, what):
        """Report bad global accesses, each against the buffer it is nearest to."""
        n = len(self.buf_starts)
        if n == 0:
            self.report("oob-global", lanes, f"{size}-byte {what} at {int(off[0]) + GLOBAL_BASE:#x}: the kernel "
                        "has no global buffers", address=int(off[0]) + GLOBAL_BASE)
            return
        nxt = np.minimum(bi + 1, n - 1)
        before_next = (bi + 1 < n) & (self.buf_starts[nxt] - (off + size) < off - self.buf_ends[np.maximum(bi, 0)])
        near = np.where((bi < 0) | before_next, np.minimum(bi + 1, n - 1), bi)
        for b in np.unique(near):
            sel = near == b
            o = int(off[sel][0])
            buf = self.buf_names[b]
            start, end = int(self.buf_starts[b]), int(self.buf_ends[b])
            where = "before the start" if o < start else "past the end"
            msg = (f"{size}-byte {what} at {o + GLOBAL_BASE:#x} is {where} of '{buf}': byte offset "
                   f"{o - start} of a {end - start}-byte buffer")
            nb = b + 1 if o >= start else b - 1
            if 0 <= nb < n:  # in the guard zone between two buffers: on a GPU it may land in the other one
                msg += (f", in the guard zone between '{self.buf_names[min(b, nb)]}' and "
                        f"'{self.buf_names[max(b, nb)]}' (on the GPU it may silently hit '{self.buf_names[nb]}')")
            self.report("oob-global", lanes[sel], msg, buffer=buf, address=o + GLOBAL_BASE)

    # ------------------------------------------------------------------ shared memory
    def shared_index(self, off: np.ndarray, size: int, lanes: np.ndarray, what: str, align: int = 0):
        """Flat byte indexes into the wave's shared array for shared-space offsets; drops bad lanes."""
        off = off.astype(np.int64, copy=False)
        slot = None
        if self.cluster is not None and off.size and int(off.max()) >= (1 << 24):  # another CTA of the cluster
            lanes, slot, off = self.cluster.resolve(self, off, lanes)
        if off.size and (int(off.min()) < 0 or int(off.max()) + size > self.sh_limit):
            ok = (off >= 0) & (off + size <= self.sh_limit)
            bad = np.flatnonzero(~ok)
            o = int(off[bad][0])
            self.report("oob-shared", lanes[bad], f"{size}-byte shared {what} at offset {o:#x} is outside "
                        f"the block's {self.sh_limit} bytes of shared memory", address=o)
            lanes, off = lanes[ok], off[ok]
            slot = slot[ok] if slot is not None else None
        if self.sh_limit != self.sh_reserved and self.check and off.size and int(off.max()) + size > self.sh_reserved:
            self.cg_scratch_unchecked(lanes[off + size > self.sh_reserved])
        align = align or size
        if align > 1 and off.size and (off & (align - 1)).any():
            mis = (off & (align - 1)) != 0
            self.report("misaligned", lanes[mis], f"{size}-byte shared {what} at offset "
                        f"{int(off[mis][0]):#x} is not {align}-byte aligned")
            lanes, off = lanes[~mis], off[~mis]
            slot = slot[~mis] if slot is not None else None
        if slot is not None:
            return lanes, slot * self.sh_size + off
        base = self.sh_base if lanes is self.all_lanes else self.sh_base[lanes]
        return lanes, base + off

    def cg_scratch_unchecked(self, lanes: np.ndarray) -> None:
        """An access to cooperative groups' scratch with the checks on: refused, naming why."""
        from ..errors import EmulatorError

        ins = self.prog.instrs[self.pc]
        blk, thr = self.lane_coords(int(lanes[0]))
        raise EmulatorError(
            f"'{self.kernel}': block {blk} thread {thr} accesses cooperative groups' scratch in reserved shared "
            f"memory (%reserved_smem_offset_1) at PTX line {ins.span.line if ins.span else '?'}: a thread block "
            "tile of more than 32 threads synchronises its warps there with release/acquire atomics and spin "
            "loops, an ordering the race checker does not model, so check=True would report false races",
            ins.span, hint="run it with check=False: the values are exact (the tile's barrier and exchange slots are "
                           "modelled), but shared-memory races, initialisation and the other checks are off")


def instr_text(ins) -> str:
    """The instruction's own text (one statement, even when a PTX line holds several)."""
    sp = ins.span
    if sp is None or not sp.source:
        return ins.name
    src = sp.source
    start = sp.col - 1
    g = src.rfind("@", 0, start)
    if g >= 0 and src[g:start].strip().split()[0:1] and ";" not in src[g:start]:
        start = g
    end = src.find(";", start)
    return " ".join(src[start:end + 1 if end >= 0 else len(src)].split())
