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

GLOBAL_BASE = 0x7F00_0000_0000
SHARED_WINDOW = 0x1000_0000_0000
LOCAL_WINDOW = 0x2000_0000_0000
WINDOW_SIZE = 1 << 32
ATOMIC = -3  # writer id recorded for atomic updates
MULTI = 6  # reader id "several threads" (-2) + TID_BIAS
TID_BITS, TID_BIAS, TID_MASK = 11, 8, (1 << 11) - 1
EPOCH_MASK = (1 << 20) - 1
RLOG_LIMIT = 1 << 22  # logged shared reads before they are folded
SHIFT = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4}
UVIEW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def views(buf: np.ndarray) -> dict[int, np.ndarray]:
    return {s: buf.view(UVIEW[s]) for s in (1, 2, 4, 8)}


class State:
    """Mutable machine state of one wave (not a dataclass: it is the interpreter's hot object)."""

    __slots__ = ("L", "tp", "nb", "regs", "heap", "hv", "buf_starts", "buf_ends", "buf_names",
                 "shared", "sv", "sh_size", "sh_limit", "local", "lv", "local_size", "param", "const",
                 "lane_blk", "lane_tid", "epoch", "check", "gran", "wr", "rd", "stamp", "rlog", "rlog_len", "findings", "pc", "prog", "kernel", "grid", "block", "first_block",
                 "steps", "live", "line_map", "bar_arrived", "all_lanes")

    # ------------------------------------------------------------------ findings
    def lane_coords(self, lane: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        bx, by, _ = self.block
        gx, gy, _ = self.grid
        b = self.first_block + lane // self.tp
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

    # ------------------------------------------------------------------ global memory
    def global_index(self, addr: np.ndarray, size: int, lanes: np.ndarray, what: str):
        """Heap byte offsets of ``addr`` (u64, one per lane in ``lanes``); drops bad lanes."""
        off = addr.view(np.int64) - GLOBAL_BASE if addr.dtype == np.uint64 else addr.astype(np.int64) - GLOBAL_BASE
        if off.size == 0:
            return lanes, off
        lo, hi = int(off.min()), int(off.max())
        starts, ends = self.buf_starts, self.buf_ends
        b = int(np.searchsorted(starts, lo, side="right")) - 1
        if not (b >= 0 and hi + size <= ends[b]):
            bi = np.searchsorted(starts, off, side="right") - 1
            bic = np.maximum(bi, 0)
            ok = (bi >= 0) & (off + size <= ends[bic])
            bad = np.flatnonzero(~ok)
            self._oob_global(off[bad], bi[bad], lanes[bad], size, what)
            lanes, off = lanes[ok], off[ok]
        if size > 1 and off.size and (off & (size - 1)).any():
            mis = (off & (size - 1)) != 0
            self.report("misaligned", lanes[mis], lambda _: f"{size}-byte global {what} at "
                        f"{int(off[mis][0]) + GLOBAL_BASE:#x} is not {size}-byte aligned")
            lanes, off = lanes[~mis], off[~mis]
        return lanes, off

    def _oob_global(self, off, bi, lanes, size, what):
        for name in np.unique(bi):
            sel = bi == name
            o = int(off[sel][0])
            if name < 0:
                buf, msg = None, f"{size}-byte {what} at {o + GLOBAL_BASE:#x} is below every buffer"
            else:
                buf = self.buf_names[name]
                start, end = int(self.buf_starts[name]), int(self.buf_ends[name])
                past = o + size - end
                msg = (f"{size}-byte {what} at {o + GLOBAL_BASE:#x} is {past} byte(s) past the end of "
                       f"'{buf}' ({end - start} bytes)")
            self.report("oob-global", lanes[sel], msg, buffer=buf, address=o + GLOBAL_BASE)

    # ------------------------------------------------------------------ shared memory
    def shared_index(self, off: np.ndarray, size: int, lanes: np.ndarray, what: str):
        """Flat byte indexes into the wave's shared array for shared-space offsets; drops bad lanes."""
        off = off.astype(np.int64, copy=False)
        if off.size and (int(off.min()) < 0 or int(off.max()) + size > self.sh_limit):
            ok = (off >= 0) & (off + size <= self.sh_limit)
            bad = np.flatnonzero(~ok)
            o = int(off[bad][0])
            self.report("oob-shared", lanes[bad], f"{size}-byte shared {what} at offset {o:#x} is outside "
                        f"the block's {self.sh_limit} bytes of shared memory", address=o)
            lanes, off = lanes[ok], off[ok]
        if size > 1 and off.size and (off & (size - 1)).any():
            mis = (off & (size - 1)) != 0
            self.report("misaligned", lanes[mis], f"{size}-byte shared {what} at offset "
                        f"{int(off[mis][0]):#x} is not {size}-byte aligned")
            lanes, off = lanes[~mis], off[~mis]
        blk = self.lane_blk if len(lanes) == self.L else self.lane_blk[lanes]
        return lanes, blk * self.sh_size + off

    def _units(self, flat: np.ndarray, size: int, lanes: np.ndarray):
        g = self.gran
        u = flat >> SHIFT[g]
        n = size // g if size > g else 1
        if n > 1:
            u = (u[:, None] + np.arange(n)).ravel()
            lanes = np.repeat(lanes, n)
        me = self.stamp if len(lanes) == self.L else self.stamp[lanes]
        return u, lanes, me

    def bump_epoch(self, blocks) -> None:
        """A barrier completed in ``blocks``: new epoch, new per-lane stamps."""
        if self.rlog:
            if len(blocks) == self.nb:
                self.rlog.clear()
                self.rlog_len = 0
            else:
                self.fold_reads()
        self.epoch[blocks] += 1
        if self.check:
            self.stamp = ((self.epoch[self.lane_blk] & EPOCH_MASK) << TID_BITS) | (self.lane_tid + TID_BIAS)

    def track_read(self, flat: np.ndarray, size: int, lanes: np.ndarray) -> None:
        """Race and initialisation checks for a shared read (``check=True`` only).

        Per tracking unit, ``wr``/``rd`` hold a stamp ``epoch << 11 | (tid + 8)`` of the last writer and
        reader (-1: none; reader tid -2 = several threads; writer tid -3 = an atomic).
        """
        u, ln, me = self._units(flat, size, lanes)
        w = self.wr[u]
        if (w < 0).any():
            i = np.flatnonzero(w < 0)
            o = int(u[i[0]] * self.gran % self.sh_size)
            self.report("uninit-shared", ln[i], f"shared offset {o:#x} is read but was never written",
                        address=o)
        ep = me >> TID_BITS
        race = ((w >> TID_BITS) == ep) & (w != me)
        if race.any():
            i = np.flatnonzero(race)
            self._race(ln[i], u[i[0]], int(w[i[0]] & TID_MASK) - TID_BIAS, "read after write")
        self.rlog.append((u, me))
        self.rlog_len += len(u)
        if self.rlog_len > RLOG_LIMIT:
            self.fold_reads()

    def fold_reads(self) -> None:
        """Fold the logged reads of the current epochs into the per-unit reader stamps.

        Reads are only needed to catch a later write in the same epoch (write after read), so they are
        logged and folded lazily: a barrier that starts a new epoch in every block just drops the log.
        """
        if not self.rlog:
            return
        u = np.concatenate([x[0] for x in self.rlog])
        me = np.concatenate([x[1] for x in self.rlog])
        self.rlog.clear()
        self.rlog_len = 0
        ep = me >> TID_BITS
        r = self.rd[u]
        multi = (ep << TID_BITS) | MULTI
        new = np.where(((r >> TID_BITS) == ep) & (r != me), multi, me)
        self.rd[u] = new
        dup = self.rd[u] != new
        if dup.any():
            self.rd[u[dup]] = multi[dup]

    def track_write(self, flat: np.ndarray, size: int, lanes: np.ndarray, atomic: bool = False) -> None:
        """Race checks for a shared write or atomic; marks the units written."""
        self.fold_reads()
        u, ln, me = self._units(flat, size, lanes)
        ep = me >> TID_BITS
        w = self.wr[u]
        r = self.rd[u]
        wsame = (w >> TID_BITS) == ep
        mark = (ep << TID_BITS) | (ATOMIC + TID_BIAS) if atomic else me
        waw = wsame & (w != me) & (w != mark) if atomic else wsame & (w != me)
        war = ((r >> TID_BITS) == ep) & (r != me)
        if waw.any():
            i = np.flatnonzero(waw)
            self._race(ln[i], u[i[0]], int(w[i[0]] & TID_MASK) - TID_BIAS, "write after write")
        if war.any():
            i = np.flatnonzero(war)
            self._race(ln[i], u[i[0]], int(r[i[0]] & TID_MASK) - TID_BIAS, "write after read")
        self.wr[u] = mark
        if not atomic:
            dup = self.wr[u] != me
            if dup.any():
                i = np.flatnonzero(dup)
                self._race(ln[i], u[i[0]], int(self.wr[u[i[0]]] & TID_MASK) - TID_BIAS, "two threads write")

    def _race(self, lanes, unit, other: int, what: str) -> None:
        o = int(unit) * self.gran % self.sh_size
        who = ("an atomic" if other == ATOMIC else "several threads" if other == -2
               else f"thread {self.lane_coords(other)[1]}")
        self.report("race-shared", lanes, lambda _: f"{what}: shared offset {o:#x} also accessed by {who} "
                    "with no barrier in between", address=o, key_extra=what)


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
    return src[start:end + 1 if end >= 0 else len(src)].strip()
