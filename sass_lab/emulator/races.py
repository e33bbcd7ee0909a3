"""Shared-memory race and initialisation tracking for one wave (``check=True``).

Each tracking unit of shared memory (4 bytes, or the kernel's smallest shared access) keeps a stamp
(:mod:`.stamps`) of its last writer and of its readers in the current epoch. A block barrier starts a
new block epoch; ``bar.warp.sync`` a new warp epoch of that warp. Reads only matter to a later write of
the same epoch, so they are logged (the first unit of each lane's access, 4 bytes, with the lanes, the
units per access and the stamp array of their time) and folded into the reader stamps lazily: a write
folds only the logged reads of the units it writes (a per-unit generation byte says whether there can
be any), so double-buffered kernels that read one buffer and fill the other never fold; a barrier of
every block drops the log, and past ``limit`` entries it is folded chunk by chunk.

Aligned rows of 2, 4 or 8 units (ldmatrix, vector accesses, 8/16-byte copies) take row paths. Per
page of 256 units the tracker keeps upper bounds of the block epochs of the write and folded read stamps
in it: a row whose page holds no stamp of the lane's own epoch needs no look at its stamps. One byte per
unit says whether it was ever written.
"""

from __future__ import annotations

import numpy as np

from .stamps import (
    ATOMIC,
    BEP_SHIFT,
    BIAS,
    CODE_MASK,
    EP_MASK,
    SEVERAL_WARPS,
    WARP_GROUP,
    WEP_SHIFT,
    code,
    conflict,
    expand,
    merge,
    rows_of,
    warp_of,
    wep,
)

LOG_LIMIT = 1 << 22
PAGE_SHIFT = 8  # a page of 256 tracking units: the summaries the row paths consult before any stamp
SEEN_VIEW = {2: np.uint16, 4: np.uint32, 8: np.uint64}  # an aligned row of n seen bytes as one word
SEEN_FILL = {2: 0x0101, 4: 0x01010101, 8: 0x0101010101010101}


class RaceTracker:
    """Stamps, epochs and the read log of one wave."""

    def __init__(self, st, units: int):
        self.st = st
        self.wr = np.zeros(units, np.int64)  # 0: never accessed (see the module docstring)
        self.rd = np.zeros(units, np.int64)
        self.mark = np.zeros(units, bool)  # scratch: the units of one write
        # == gen: the unit may have logged reads (a wrapped match: a scan); whole 8-byte words, so that aligned
        # rows of 2, 4 or 8 units are marked with one store each
        self.seen = np.zeros(-(-units // 8) * 8, np.uint8)
        self.rows = True  # aligned multi-unit accesses take the row paths (False: the general path)
        self.gen = 1
        self.bep = np.zeros(st.nb, np.int64)
        self.wep = np.zeros(st.L // 32, np.int64)
        # logged reads, in program order: (units int32, lanes (None: every lane) or per-unit lanes, units per
        # lane, the stamp array of the time)
        self.log: list[list] = []
        self.log_len = 0
        self.log_pages: dict[int, tuple] = {}  # id of a logged chunk's units -> (units, the pages they touch)
        self.limit = max(LOG_LIMIT, 128 * st.L)
        self.stamp = np.zeros(st.L, np.int64)
        self.lane_bep = np.zeros(st.L, np.int64)
        self.asyncs = None  # AsyncCopies when the kernel issues asynchronous copies
        # per page of units: upper bounds of the block epochs of its write and read stamps (-1: none yet)
        pages = (units >> PAGE_SHIFT) + 1
        self.pg_w = np.full(pages, -1, np.int64)
        self.pg_r = np.full(pages, -1, np.int64)
        self.pages = True  # the row paths skip the stamps of rows their pages settle (False: always gather)
        self.done = np.zeros(len(self.seen), np.uint8)  # 1: the unit was written (wr >= 0), in words as `seen`
        self.restamp()

    def restamp(self) -> None:
        st = self.st
        self.stamp = (((self.bep[st.lane_blk] % EP_MASK + 1) << BEP_SHIFT)  # block epoch fields 1..EP_MASK
                      | ((self.wep[st.all_lanes >> 5] & EP_MASK) << WEP_SHIFT)
                      | (st.lane_tid.astype(np.int64) + BIAS))
        self.lane_bep = self.stamp >> BEP_SHIFT
        self.top = int(self.lane_bep.max(initial=0))  # no lane stamps a later block epoch until the next restamp
        self.spread = {}  # (name, n) -> a whole-wave per-lane array repeated n times (stale after a restamp)

    def _per_unit(self, name: str, lanes, n: int) -> np.ndarray:
        """The lanes' ``stamp`` or ``lane_bep`` repeated n times (one entry per unit of their n-unit rows)."""
        if lanes is not self.st.all_lanes:
            return np.repeat(getattr(self, name)[lanes], n)
        a = self.spread.get((name, n))
        if a is None:
            a = self.spread[(name, n)] = np.repeat(getattr(self, name), n)
        return a

    def block_barrier(self, blocks) -> None:
        # logged reads keep the stamps of their time, so they stay valid across epochs; a barrier of every
        # block makes them irrelevant (a race needs one epoch)
        if self.log and len(blocks) == self.st.nb:
            self.log.clear()
            self.log_pages.clear()
            self.log_len = 0
            self.gen = self.gen % 255 + 1
        self.bep[blocks] += 1
        self.restamp()

    def warp_sync(self, warps) -> None:
        self.wep[warps] += 1
        self.restamp()

    def _units(self, flat, size, lanes):
        g = self.st.gran
        u = flat >> {1: 0, 2: 1, 4: 2}[g]
        n = size // g if size > g else 1
        if n > 1:
            u = expand(u, n)
            lanes = np.repeat(lanes, n)
        me = self.stamp if lanes is self.st.all_lanes else self.stamp[lanes]
        return u, lanes, me

    # ------------------------------------------------------------------ accesses
    def read(self, flat, size, lanes) -> None:
        st = self.st
        g = st.gran
        n = size // g if size > g else 1
        u1 = flat >> {1: 0, 2: 1, 4: 2}[g]
        if n in SEEN_VIEW and self.rows and not (u1 & (n - 1)).any() and self._read_rows(u1, n, lanes):
            return
        u = expand(u1, n)
        if self.asyncs is not None:
            self.asyncs.access(u, np.repeat(lanes, n) if n > 1 else lanes, False)
        w = self.wr[u]
        wb = w >> BEP_SHIFT  # 0: never written
        never = wb == 0
        if never.any():
            i = np.flatnonzero(never)
            o = self._offset(u[i[0]])
            var, where = st.shared_var(o)
            st.report("uninit-shared", lanes[i // n], f"shared {where} (offset {o:#x}) is read but was never "
                      "written", buffer=var, address=o)
        me_bep = self.lane_bep if lanes is st.all_lanes else self.lane_bep[lanes]
        cur = (wb.reshape(-1, n) == me_bep[:, None]) if n > 1 else (wb == me_bep)
        if cur.any():  # written in this epoch: the full check
            ln = np.repeat(lanes, n) if n > 1 else lanes
            me = self.stamp[ln]
            race = conflict(w, me) & (code(w) != ATOMIC)  # reading what atomics update: see write()
            if race.any():
                i = np.flatnonzero(race)
                self._race(ln[i], u[i[0]], int(code(w[i[0]])), "read after write")
        # one entry per lane: its first unit (the access covers n)
        self.log.append([u1.astype(np.int32), None if lanes is st.all_lanes else lanes.astype(np.int32), n, self.stamp])
        self.seen[u] = self.gen
        self.log_len += len(u1)
        if self.log_len > self.limit:
            self.fold()

    def _read_rows(self, u1, n: int, lanes) -> bool:
        """A read of whole aligned n-unit rows (ldmatrix, vector loads) that meets no copy in flight, no
        unwritten unit and no unit written in this epoch: one gather of the rows' write stamps, then only
        the log (what :meth:`read` does then). False (nothing done): take the general path."""
        r = u1 >> (n.bit_length() - 1)
        if self.asyncs is not None and self.asyncs.in_flight_rows(r, n):
            return False
        if (self.done.view(SEEN_VIEW[n])[r] != SEEN_FILL[n]).any():  # a unit never written
            return False
        bad = self._unsettled(r, n, lanes, self.pg_w)  # the rows to look at: all, some or none
        if bad is not None:
            wb = self._epochs(self.wr, r if bad is ... else r[bad], n)  # the writers' block epochs
            if self._this_epoch(wb, lanes if bad is ... else lanes[bad], n):  # written in this epoch
                return False
        self.log.append([u1.astype(np.int32), None if lanes is self.st.all_lanes else lanes.astype(np.int32), n,
                         self.stamp])
        self.seen.view(SEEN_VIEW[n])[r] = self.gen * SEEN_FILL[n]
        self.log_len += len(u1)
        if self.log_len > self.limit:
            self.fold()
        return True

    def _wrote(self, pages: np.ndarray) -> None:
        """Units of ``pages`` were just stamped by lanes of this wave (block epochs at most ``top``)."""
        self.pg_w[pages] = np.maximum(self.pg_w[pages], self.top)

    def _unsettled(self, r: np.ndarray, n: int, lanes, bounds: np.ndarray):
        """Which aligned n-unit rows ``r`` (one per lane) need their write (``bounds`` = ``pg_w``) or folded
        read (``pg_r``) stamps looked at: ``...`` (all), the indexes of some, or None. A row is settled when
        its page holds no such stamp of the lane's block epoch."""
        if not self.pages:
            return ...
        p = r >> (PAGE_SHIFT - n.bit_length() + 1)
        bep = self.lane_bep if lanes is self.st.all_lanes else self.lane_bep[lanes]
        bad = bounds[p] >= bep
        if not bad.any():
            return None
        return ... if bad.all() else np.flatnonzero(bad)

    def _epochs(self, stamps: np.ndarray, r: np.ndarray, n: int) -> np.ndarray:
        """The block epochs of the stamps of aligned n-unit rows ``r``, one per unit (0: never accessed)."""
        b = np.take(stamps[:len(stamps) // n * n].reshape(-1, n), r, axis=0).reshape(-1)
        return np.right_shift(b, BEP_SHIFT, out=b)

    def _this_epoch(self, b: np.ndarray, lanes, n: int) -> bool:
        """Is any of the block epochs ``b`` (n per lane) the accessing lane's own current one?"""
        if lanes is self.st.all_lanes:  # (the whole wave: its repeated epochs are kept until the next restamp)
            return bool((b == self._per_unit("lane_bep", lanes, n)).any())
        return bool((b.reshape(-1, n) == self.lane_bep[lanes][:, None]).any())

    def _write_rows(self, u1, n: int, lanes, copy: bool) -> bool:
        """A plain write (or copy) of whole aligned n-unit rows that needs no fold, meets no copy in flight
        and no access of this epoch: the stamps' epochs checked per row, the rows stamped with one store
        each. False (nothing done): take the general path."""
        r = u1 >> (n.bit_length() - 1)
        if self.log and (self.seen.view(SEEN_VIEW[n])[r].view(np.uint8) == self.gen).any():
            return False  # logged reads to fold first
        if self.asyncs is not None and self.asyncs.in_flight_rows(r, n):
            return False
        for stamps, bounds in ((self.wr, self.pg_w), (self.rd, self.pg_r)):  # no write or read of this epoch:
            bad = self._unsettled(r, n, lanes, bounds)  # nothing to conflict with
            if bad is not None and self._this_epoch(self._epochs(stamps, r if bad is ... else r[bad], n),
                                                    lanes if bad is ... else lanes[bad], n):
                return False
        if copy and self.asyncs is not None and not self.asyncs.write_rows(r, n, lanes):
            return False
        me = self.stamp if lanes is self.st.all_lanes else self.stamp[lanes]
        rows_of(self.wr, n)[r] = self._per_unit("stamp", lanes, n).view(rows_of(self.wr, n).dtype)
        self._wrote(r >> (PAGE_SHIFT - n.bit_length() + 1))
        self.done.view(SEEN_VIEW[n])[r] = SEEN_FILL[n]
        back = self.wr[u1]  # a row is written whole: one stored by two lanes holds the later one's stamp
        if (back != me).any():
            u, ln = expand(u1, n), np.repeat(lanes, n)
            b = self.wr[u]
            i = np.flatnonzero(b != np.repeat(me, n))
            self._race(ln[i], u[i[0]], int(code(b[i[0]])), "two threads write")
        return True

    def write(self, flat, size, lanes, atomic: bool = False, copy: bool = False) -> None:
        """A write (``atomic``; ``copy``: an asynchronous copy, in flight until waited for)."""
        g = self.st.gran
        n = size // g if size > g else 1
        if n in SEEN_VIEW and self.rows and not atomic:
            u1 = flat >> {1: 0, 2: 1, 4: 2}[g]
            if not (u1 & (n - 1)).any() and self._write_rows(u1, n, lanes, copy):
                return
        u, ln, me = self._units(flat, size, lanes)
        if self.log and (self.seen[u] == self.gen).any():
            self.fold(u)
        if self.asyncs is not None:
            self.asyncs.access(u, ln, True)
            if copy:
                self.asyncs.write(u, ln)
        w, r = self.wr[u], self.rd[u]
        waw = conflict(w, me)
        if atomic and waw.any():
            waw &= code(w) != ATOMIC
        # a plain read of a word that atomics update is not reported (either order): it observes one of the
        # values, and the everyday idioms do it (a CAS loop's first guess `old = *addr`, polling a counter)
        war = conflict(r, me) if not atomic else np.zeros(len(u), bool)
        if waw.any():
            i = np.flatnonzero(waw)
            self._race(ln[i], u[i[0]], int(code(w[i[0]])), "write after write")
        if war.any():
            i = np.flatnonzero(war)
            self._race(ln[i], u[i[0]], int(code(r[i[0]])), "write after read")
        mark = (me & ~CODE_MASK) | (ATOMIC + BIAS) if atomic else me
        self.wr[u] = mark
        self._wrote(u >> PAGE_SHIFT)
        self.done[u] = 1
        if not atomic:
            back = self.wr[u]
            dup = back != me
            if dup.any():
                i = np.flatnonzero(dup)
                self._race(ln[i], u[i[0]], int(code(back[i[0]])), "two threads write")

    def fold(self, only: np.ndarray | None = None) -> None:
        """Merge logged reads (in program order, chunk by chunk) into the reader stamps: all of them, or
        those of the units ``only`` (the units a write is about to touch; the others stay logged)."""
        if not self.log:
            return
        hit = [None] * len(self.log)
        if only is not None:  # which logged reads touch `only`: a read of units u..u+n-1 does iff u is in
            near = self._near(only)  # `only` - k for some k < n (marked once per n), and only reads near it
            for n in {c[2] for c in self.log}:
                self._mark_back(only, n, True)
                for i, c in enumerate(self.log):
                    if c[2] == n:
                        hit[i] = np.take(self.mark, c[0]) if near(c) else False  # (take: 3x faster than [])
                self._mark_back(only, n, False)
        keep = []
        for chunk, m in zip(self.log, hit):
            u, lanes, n, stamp = chunk
            lane_of = _lane_of(chunk, self.st)
            if m is not None:  # a read is folded whole when the write touches any of its units
                if m is False or not m.any():
                    keep.append(chunk)
                    continue
                sel = np.flatnonzero(m)
                rest = np.flatnonzero(~m)
                if len(rest):  # the other reads stay logged
                    keep.append([u[rest], lane_of[rest].astype(np.int32, copy=False), n, stamp])
                u, lane_of = u[sel], lane_of[sel]
            uu = u.astype(np.int64)
            me = stamp[lane_of]
            if n > 1:
                uu = expand(uu, n)
                me = np.repeat(me, n)
            self._merge_reads(uu, me)
        self.log = keep
        self.log_len = sum(len(c[0]) for c in keep)
        ids = {id(c[0]) for c in keep}  # (an entry holds its units: no other array has its id meanwhile)
        self.log_pages = {k: v for k, v in self.log_pages.items() if k in ids}

    def _near(self, only: np.ndarray):
        """A test of logged reads: may one of the chunk's reads touch a unit of ``only``? (Per page of units:
        the pages each chunk's reads touch, found at its first test and kept while it is logged.)"""
        pages = np.zeros(len(self.pg_w), bool)
        pages[only >> PAGE_SHIFT] = True

        def near(chunk) -> bool:
            u, n = chunk[0], chunk[2]
            hit = self.log_pages.get(id(u))
            if hit is None or hit[0] is not u:
                mine = np.zeros(len(self.pg_w), bool)
                mine[u >> PAGE_SHIFT] = True
                mine[(u + (n - 1)) >> PAGE_SHIFT] = True  # a read may run into the next page
                hit = self.log_pages[id(u)] = (u, mine)
            return bool((hit[1] & pages).any())
        return near

    def _mark_back(self, only: np.ndarray, n: int, value: bool) -> None:
        """Set ``mark`` of the units ``only - k`` (k < n): the first units of n-unit reads that overlap ``only``
        (a negative one clamps to unit 0, whose read then covers that unit of ``only`` too)."""
        for k in range(n):
            self.mark[only if k == 0 else np.maximum(only - k, 0)] = value

    def _merge_reads(self, u: np.ndarray, me: np.ndarray) -> None:
        new = merge(self.rd[u], me)
        self.rd[u] = new
        if len(new):  # (fixed-up stamps below keep these epochs)
            pg = u >> PAGE_SHIFT
            self.pg_r[pg] = np.maximum(self.pg_r[pg], int(new.max()) >> BEP_SHIFT)
        back = self.rd[u]
        dup = np.flatnonzero(back != new)
        if len(dup):
            b, n = back[dup], new[dup]
            bc, nc = code(b), code(n)
            same_w = (warp_of(bc) == warp_of(nc)) & (warp_of(nc) >= 0)
            base = n & ~CODE_MASK
            fix_w = same_w & (wep(b) == wep(n))
            other = ~same_w
            sel = dup[fix_w]
            self.rd[u[sel]] = base[fix_w] | (WARP_GROUP + warp_of(nc[fix_w]) + BIAS)
            sel = dup[other]
            self.rd[u[sel]] = base[other] | (SEVERAL_WARPS + BIAS)

    # ------------------------------------------------------------------ reporting
    def _offset(self, unit) -> int:
        return int(unit) * self.st.gran % self.st.sh_size

    def _race(self, lanes, unit, other: int, what: str) -> None:
        o = self._offset(unit)
        if other == ATOMIC:
            who = "an atomic"
        elif other == SEVERAL_WARPS:
            who = "threads of several warps"
        elif other >= WARP_GROUP:
            who = f"several threads of warp {other - WARP_GROUP}"
        else:
            who = f"thread {self.st.lane_coords(other)[1]}"
        var, where = self.st.shared_var(o)
        warp = int(lanes[0]) % self.st.tp // 32  # the warp of the block (codes hold threads of the block)
        same = other != ATOMIC and other != SEVERAL_WARPS and (other - WARP_GROUP if other >= WARP_GROUP
                                                               else other >> 5) == warp
        hint = (" — in the same warp: since sm_70 the threads of a warp are not in lockstep, so warp-synchronous "
                "code (volatile shared memory without __syncwarp, as old tutorials reduce) races; put __syncwarp() "
                "between the steps") if same else ""
        self.st.report("race-shared", lanes, f"{what}: shared {where} (offset {o:#x}) also accessed by {who} with "
                       f"no barrier in between{hint}", buffer=var, address=o, key_extra=what)


def _lane_of(chunk, st) -> np.ndarray:
    """The reading lane of each logged read of ``chunk``."""
    lanes = chunk[1]
    return st.all_lanes if lanes is None else lanes
