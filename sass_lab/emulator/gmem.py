"""Global-memory races between the blocks of one launch (``check=True``).

Blocks run in no defined order and cannot wait for each other, so two accesses to the same global
bytes by different blocks, at least one a plain (non-atomic) write, race: ``race-global`` (write/write
or read/write), whatever the order the emulator happened to run them in.

Each tracking unit of the heap (the kernel's smallest plain global access, vectors whole, at most 16
bytes) keeps
order-free summaries, so the findings do not depend on the wave size:

- ``wr``: the lowest block that wrote it with a plain store, + 1, negated once several blocks did
  (0: never written); ``rd``: the same for plain loads;
- ``wpc``: ``pc << 10 | thread`` of the lowest writer block's first write (where the finding points).

At the end of the launch a unit with several writers is a write/write race, a unit with one writer
and a reader from another block a read/write race; findings are merged per kind and writing
instruction, ``count`` = racing units. Atomics are not tracked (they never race with each other).

One cross-block handoff is modelled, the "last block" pattern (threadfence reduction): a read by block
R of data written by block W is ordered when W executed a gpu- or system-scope fence (``membar.gl``,
``fence.sc/acq_rel.gpu``), a release store or a release atomic (``atom.add.release.gpu``: how a block
arrives at cooperative groups' grid barrier) after its store to the data, and R executed an atomic, an
``ld.acquire`` or such a fence after that fence: W's first fence after the store is the one that
published it (a log of the fences that followed a store of their block, and each unit's store step,
kept from the first fence on), so W fencing again later — spinning on a look-back of its own — does not
unorder R's read.
Such reads are not recorded. A lock handoff is modelled the same way for stores: a plain store by block R
to a unit whose one writer W executed such a fence, where R executed an atomic or an ``ld.acquire`` (not
just a fence) after W's fence — the critical section of a spin lock (``atomicCAS`` … ``__threadfence()``
… ``atomicExch``) — makes R the unit's writer instead of a second one (readers other than W stay).

Cooperative groups' grid barrier (``this_grid().sync()`` in a cooperative launch) orders everything:
each block arrives with a release atomic on the launch's grid workspace once all its threads passed a
``bar.sync``, and leaves only after it observed the last arrival (acquire) and another ``bar.sync``;
between arriving and leaving its threads touch nothing but the barrier word. So when the last block
arrives, every access recorded so far precedes the barrier and every later one follows it: the
summaries are judged then (their findings kept) and start afresh, and accesses on the two sides of a
grid barrier never race (``arrive``). Until every block has arrived nothing is reset.
"""

from __future__ import annotations

import numpy as np

from .report import Finding

TID_BITS = 10


class GlobalRaces:
    def __init__(self, st, heap_bytes: int, gran: int, nblocks: int):
        self.st = st
        self.shift = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4}[gran]
        n = (heap_bytes >> self.shift) + 1
        self.wr = np.zeros(n, np.int32)
        self.rd = np.zeros(n, np.int32)
        self.wpc = np.zeros(n, np.int32)
        self.acq_at = np.zeros(nblocks, np.int64)  # step of each block's last acquire (atomic, ld.acquire, fence)
        self.sync_at = np.zeros(nblocks, np.int64)  # step of each block's last atomic or ld.acquire
        self.dirty = np.zeros(nblocks, bool)  # blocks that stored since their last logged fence
        self.log_step: list[np.ndarray] = []  # fences that published stores: steps, and (log_block) blocks
        self.log_block: list[np.ndarray] = []
        self.wstep: np.ndarray | None = None  # step of each unit's last plain store (kept from the first fence)
        self.n_units = n
        self.fenced = False
        self.workspace: tuple[int, int] | None = None  # a cooperative launch's grid workspace: [lo, hi) addresses
        self.arrived = np.zeros(nblocks, bool)  # blocks that arrived at the current grid barrier

    def _units(self, idx, size, lanes):
        st = self.st
        u = idx >> self.shift
        b = (st.first_block + st.lane_blk[lanes] + 1).astype(np.int32)
        n = size >> self.shift
        if n > 1:
            u = (u[:, None] + np.arange(n)).ravel()
            b = np.repeat(b, n)
            lanes = np.repeat(lanes, n)
        return u, b, lanes

    # ------------------------------------------------------------------ events
    def access(self, idx: np.ndarray, size: int, lanes: np.ndarray, write: bool) -> None:
        """Plain loads (``write`` False) or stores of ``size`` bytes at heap offsets ``idx`` by ``lanes``."""
        if not len(idx):
            return
        u, b, lanes = self._units(idx, size, lanes)
        if not write:
            if self.fenced:  # reads of data published by a fence and acquired since: ordered
                ok = self._published(u, b, self.acq_at)
                if ok.any():
                    u, b = u[~ok], b[~ok]
            _merge(self.rd, u, b)
            return
        self.dirty[b - 1] = True
        if self.fenced:  # stores after acquiring what the unit's one writer published: a lock handoff
            stored = u
            u, b, lanes = self._handoff(u, b, lanes)
            self.wstep[stored] = self.st.steps
        first = _merge(self.wr, u, b)
        mine = np.flatnonzero(first)
        if len(mine):
            st = self.st
            code = (np.int32(st.pc) << TID_BITS) | st.lane_tid[lanes[mine]].astype(np.int32)
            self.wpc[u[mine][::-1]] = code[::-1]  # the lowest thread of the lowest block

    def _published(self, u, b, since) -> np.ndarray:
        """Per access: did the unit's one writer W (another block than ``b``) fence after its last store to
        the unit, and block ``b`` acquire (``since``: acq_at or sync_at) after that fence? W's first such
        fence published the store; a later fence of W (a spin loop's) must not count for it."""
        w = self.wr[u]
        ok = (w > 0) & (w != b)
        k = np.flatnonzero(ok)
        if not len(k) or not self.log_step:
            return np.zeros(len(u), bool)
        steps, blocks = np.concatenate(self.log_step), np.concatenate(self.log_block)
        wb, ws, t = w[k] - 1, self.wstep[u[k]], since[b[k] - 1]
        res = np.zeros(len(k), bool)
        for blk in np.unique(wb):
            sel = np.flatnonzero(wb == blk)
            fs = steps[blocks == blk]  # ascending
            if not len(fs):
                continue
            j = np.searchsorted(fs, ws[sel], side="right")
            first = np.where(j < len(fs), fs[np.minimum(j, len(fs) - 1)], np.iinfo(np.int64).max)
            res[sel] = first < t[sel]
        ok[k] = res
        return ok

    def _handoff(self, u, b, lanes):
        """Hand units over to the storing block where it acquired after the one writer's fence; the rest."""
        ok = self._published(u, b, self.sync_at)
        if not ok.any():
            return u, b, lanes
        k = np.flatnonzero(ok)
        uq, inv = np.unique(u[k], return_inverse=True)
        lo = np.full(len(uq), np.iinfo(np.int32).max, np.int32)
        hi = np.zeros(len(uq), np.int32)
        np.minimum.at(lo, inv, b[k])
        np.maximum.at(hi, inv, b[k])
        k = k[(lo == hi)[inv]]  # two blocks storing to one unit at once are no handoff: merged (a race)
        if not len(k):
            return u, b, lanes
        uk = u[k]
        self.rd[uk] = np.where(self.rd[uk] == self.wr[uk], 0, self.rd[uk])  # W's own reads precede its fence
        self.wr[uk] = b[k]
        st = self.st
        self.wpc[uk[::-1]] = ((np.int32(st.pc) << TID_BITS) | st.lane_tid[lanes[k]].astype(np.int32))[::-1]
        rest = np.ones(len(u), bool)
        rest[k] = False
        return u[rest], b[rest], lanes[rest]

    def fence(self, lanes: np.ndarray) -> None:
        blocks = np.unique(self.st.first_block + self.st.lane_blk[lanes])
        self.acq_at[blocks] = self.st.steps
        pub = blocks[self.dirty[blocks]]  # only a fence after a store publishes anything: log those
        if len(pub):
            self.log_step.append(np.full(len(pub), self.st.steps, np.int64))
            self.log_block.append(pub)
            self.dirty[pub] = False
        if not self.fenced:  # stores before the first fence precede every fence: step 0
            self.wstep = np.zeros(self.n_units, np.int64)
        self.fenced = True

    def arrive(self, lanes: np.ndarray, addresses: np.ndarray) -> None:
        """Release atomics by ``lanes`` at ``addresses``: those on the grid workspace arrive at the grid
        barrier; the last block's arrival judges the accesses so far and resets the summaries."""
        lo, hi = self.workspace
        at = (addresses >= lo) & (addresses < hi)
        if not at.any():
            return
        self.arrived[np.unique(self.st.first_block + self.st.lane_blk[lanes[at]])] = True
        if self.arrived.all():
            self.report()
            self.wr[:] = 0
            self.rd[:] = 0
            self.arrived[:] = False

    def acquire(self, lanes: np.ndarray) -> None:
        if self.fenced:
            blocks = np.unique(self.st.first_block + self.st.lane_blk[lanes])
            self.acq_at[blocks] = self.sync_at[blocks] = self.st.steps

    # ------------------------------------------------------------------ findings
    def report(self) -> None:
        wr, rd = self.wr, self.rd
        ww = np.flatnonzero(wr < 0)
        rw = np.flatnonzero((wr > 0) & (rd != 0) & (rd != wr))  # (a reader summary rd < 0 is != wr > 0)
        for kind, units in (("write/write", ww), ("read/write", rw)):
            if not len(units):
                continue
            codes = self.wpc[units]
            for c in np.unique(codes):
                sel = units[codes == c]
                self._finding(kind, int(sel[0]), int(c), len(sel))

    def _finding(self, kind: str, unit: int, code: int, count: int) -> None:
        st = self.st
        pc, tid = code >> TID_BITS, code & ((1 << TID_BITS) - 1)
        heap_off = unit << self.shift
        name, dev = _buffer_of(st, heap_off)
        writer = abs(int(self.wr[unit])) - 1
        if kind == "write/write":
            other = "at least one other block also writes it"
        else:
            r = int(self.rd[unit])
            other = (f"block {_coords(st.grid, abs(r) - 1)} reads it" if abs(r) - 1 != writer
                     else "another block reads it")
        words = f" (and {count - 1} more {1 << self.shift}-byte words)" if count > 1 else ""
        msg = (f"{kind} race on global '{name}' byte offset {dev}{words}: block {_coords(st.grid, writer)} writes "
               f"it and {other}, with no atomic between them (blocks run in no defined order)")

        def make() -> Finding:
            ins = st.prog.instrs[pc]
            line = ins.span.line if ins.span else 0
            span = st.line_map[line - 1] if st.line_map is not None and 0 < line <= len(st.line_map) else None
            from .machine import instr_text
            return Finding("race-global", st.kernel, msg, _coords(st.grid, writer), _coords(st.block, tid),
                           instr_text(ins), line, span, name, None)
        st.findings.add(("race-global", pc, name, kind), make, count)


def _merge(arr: np.ndarray, u: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fold blocks ``b`` (lanes ascend by block) into the summaries ``arr[u]``; per lane: did the unit's
    lowest block change (a first access by the new lowest block)?"""
    cur = arr[u]
    if np.array_equal(cur, b):  # the same blocks again (a block re-reading its own data): nothing new
        return np.zeros(len(u), bool)
    arr[u[::-1]] = b[::-1]  # the last store per unit is its lowest block in this instruction
    mn = arr[u]
    if not cur.any() and np.array_equal(mn, b):  # first touch, one block per unit (streaming kernels)
        return np.ones(len(u), bool)
    acur = np.abs(cur)
    first = (cur == 0) | (mn < acur)
    low = np.where(first, mn, acur)
    several = (cur < 0) | ((cur != 0) & (acur != mn)) | (mn != b)
    arr[u] = np.where(several, -low, low)
    s = np.flatnonzero(several)
    if len(s):
        arr[u[s]] = -low[s]
    return first & (b == mn)


def _coords(dims, i: int) -> tuple[int, int, int]:
    x, y, _ = dims
    return (i % x, (i // x) % y, i // (x * y))


def _buffer_of(st, heap_off: int) -> tuple[str, int]:
    """(buffer name, byte offset in it) of a heap offset."""
    heap_starts = st.buf_starts - st.buf_deltas
    order = np.argsort(heap_starts)
    k = order[max(int(np.searchsorted(heap_starts[order], heap_off, side="right")) - 1, 0)]
    return st.buf_names[k], heap_off - int(heap_starts[k])
