"""Asynchronous copies still in flight (``check=True``): a shared access to their bytes is a finding.

The emulator performs ``cp.async`` and the bulk copy at issue, but a program may rely on their data only
after it has waited for them: ``cp.async.wait_group N`` / ``wait_all`` by the issuing thread, or the
completion of the mbarrier phase that tracks them (``cp.async.mbarrier.arrive``, a bulk copy's
``complete_tx``). Until then the copy is *in flight*, and reading or overwriting its destination (with
any access, another copy included) is the classic bug of a pipeline with more stages in flight than
slots.

Each copy gets a per-thread sequence number; each tracking unit of shared memory (the race checker's)
remembers the copy into it (0: none; sequences start at 1): ``thread << 21 | sequence`` in an int32
while every copy lands in its own block's shared memory and sequences fit in 21 bits, else (from then
on) ``lane << 32 | sequence`` in an int64. A
thread's ``commit_group`` records the sequence number that closes the group (in a ring of the last ``RING`` groups), ``wait_group N``
raises the thread's *waited* mark to the close of its N-th newest group, and a completed mbarrier phase
raises the marks of the copies it tracked. A unit is in flight when its copy's sequence number is
above its thread's mark. Waits further back than the ring holds count as complete (no false finding).

A wait also clears the tags of the copies it completed (``sweep``: the units written by copies since the
last sweep, looked up once), so an access whose units all have tag 0 needs no further lookup: the common
case of a pipeline reading the stages it has waited for. Copies also come in *rounds*, a new one each
time nothing is in flight: a page of units last copied into in an earlier round needs no lookup at all.
"""

from __future__ import annotations

import numpy as np

from .races import PAGE_SHIFT
from .stamps import expand, rows_of, spread

RING = 16
SEQ_MASK = (1 << 32) - 1
NARROW_BITS = 21  # sequence bits of a narrow tag (thread << 21 | sequence, thread < 1024)


class AsyncCopies:
    def __init__(self, st, units: int):
        self.st = st
        L = st.L
        self.tag = np.zeros(units, np.int32)  # narrow until a copy does not fit (then int64)
        self.count = np.zeros(L, np.int64)  # copies issued per lane
        self.waited = np.zeros(L, np.int64)  # copies with sequence <= this are complete
        self.ncommit = np.zeros(L, np.int64)
        self.ring = np.zeros((L, RING), np.int64)  # sequence closing each of the last RING groups
        self.tracked: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # (idx, phase, lanes, upto)
        self.open = False  # some copy may still be in flight (some lane's count above its waited mark)
        self.pending: list[tuple[np.ndarray, int]] = []  # (units, 1) or (aligned rows, n) copied into since the last sweep
        self.npending = 0
        self.clear = True  # a wait clears the tags of the copies it completed (False: the general path)
        # rounds: a new one starts whenever no copy is in flight; per page of units, the round of its last copy
        # (a page last copied into in an earlier round holds no copy in flight)
        self.round = 1
        self.pg_round = np.zeros((units >> PAGE_SHIFT) + 1, np.int64)
        self.rounds = True  # (False: always look the tags up)

    # ------------------------------------------------------------------ issue / wait
    def write(self, units: np.ndarray, lanes: np.ndarray) -> None:
        """Copies by ``lanes`` into ``units`` (one row of units per lane, or one unit each)."""
        issued = np.zeros(self.st.L, bool)
        issued[lanes] = True
        self.count += issued
        seq = self.count[lanes]
        self.open = True
        self.pg_round[units >> PAGE_SHIFT] = self.round
        self._pend(units, 1)
        if self.tag.dtype == np.int32:
            if int(seq.max(initial=0)) < (1 << NARROW_BITS) and (self._block(units) == self.st.lane_blk[lanes]).all():
                self.tag[units] = (self.st.lane_tid[lanes] << NARROW_BITS) | seq.astype(np.int32)
                return
            self._widen()
        self.tag[units] = (lanes.astype(np.int64) << 32) | seq

    def write_rows(self, rows: np.ndarray, n: int, lanes: np.ndarray) -> bool:
        """Copies by ``lanes`` into aligned n-unit ``rows`` (one each) while tags are narrow and every copy
        lands in its own block: one store per row. False (nothing done): take :meth:`write`."""
        seq = self.count[lanes] + 1
        if self.tag.dtype != np.int32 or self.st.sh_size % (n * self.st.gran) or int(seq.max(initial=0)) >= (1 << NARROW_BITS) or \
                not (self._block(rows * n) == self.st.lane_blk[lanes]).all():
            return False
        issued = np.zeros(self.st.L, bool)
        issued[lanes] = True
        self.count += issued
        self.open = True
        self.pg_round[rows >> (PAGE_SHIFT - n.bit_length() + 1)] = self.round
        self._pend(rows, n)
        tag = (self.st.lane_tid[lanes] << NARROW_BITS) | seq.astype(np.int32)
        rows_of(self.tag, n)[rows] = spread(tag, n)
        return True

    def _pend(self, idx: np.ndarray, n: int) -> None:
        """Remember the units (n == 1) or aligned n-unit rows just copied into, for the next sweep."""
        if not self.clear:
            return
        self.pending.append((idx, n))
        self.npending += len(idx) * n
        if self.npending > len(self.tag):  # no wait for long: every unit with a tag
            live = np.flatnonzero(self.tag)
            self.pending, self.npending = [(live, 1), (idx, n)], len(live) + len(idx) * n

    def _block(self, units: np.ndarray) -> np.ndarray:
        """The block slot whose shared window holds each unit."""
        return units * self.st.gran // self.st.sh_size

    def _widen(self) -> None:
        """Narrow tags → ``lane << 32 | sequence`` (int64)."""
        t = self.tag.astype(np.int64)
        live = np.flatnonzero(t)
        lane = self._block(live) * self.st.tp + (t[live] >> NARROW_BITS)
        t[live] = (lane << 32) | (t[live] & ((1 << NARROW_BITS) - 1))
        self.tag = t

    def _source(self, units: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(issuing lane, sequence) of the tags ``t`` of ``units`` (lane 0, sequence 0: none)."""
        if t.dtype == np.int32:
            lane = np.minimum(self._block(units) * self.st.tp + (t >> NARROW_BITS), self.st.L - 1)
            return np.where(t == 0, 0, lane), t & ((1 << NARROW_BITS) - 1)
        return t >> 32, t & SEQ_MASK

    def _settle(self) -> None:
        was = self.open
        self.open = bool((self.count > self.waited).any())
        if was and not self.open:
            self.round += 1
        if self.pending:
            self.sweep()

    def sweep(self) -> None:
        """Clear the tags of the units written since the last sweep whose copy is complete (tag 0 reads as
        "no copy in flight", what a complete copy's tag says too: ``waited`` only grows)."""
        if not self.open:  # every copy is complete (a wait_all by every lane that copied): no lookup
            for idx, n in self.pending:
                if n == 1:
                    self.tag[idx] = 0
                else:
                    rows_of(self.tag, n)[idx] = np.zeros(len(idx), rows_of(self.tag, n).dtype)
            self.pending, self.npending = [], 0
            return
        u = np.concatenate([expand(idx * n, n) for idx, n in self.pending])
        t = self.tag[u]
        src, seq = self._source(u, t)
        done = seq <= self.waited[src]
        self.tag[u[done]] = 0
        rest = u[~done]
        self.pending = [(rest, 1)] if len(rest) else []
        self.npending = len(rest)

    def commit(self, lanes: np.ndarray) -> None:
        self.ncommit[lanes] += 1
        self.ring.reshape(-1)[lanes * RING + self.ncommit[lanes] % RING] = self.count[lanes]  # (1-D: faster)

    def wait(self, lanes: np.ndarray, n: int | None) -> None:
        """``wait_group n`` (``None``: ``wait_all``, which also commits the open group)."""
        if n is None:
            self.commit(lanes)
            self.waited[lanes] = self.count[lanes]
        elif n >= RING:
            self.waited[lanes] = self.count[lanes]
        else:
            g = self.ncommit[lanes] - n  # groups 1..g must be complete
            ok = g >= 1
            ln = lanes[ok]
            self.waited[ln] = np.maximum(self.waited[ln], self.ring[ln, g[ok] % RING])
        self._settle()

    def track(self, lanes: np.ndarray, idx: np.ndarray) -> None:
        """The copies issued so far by ``lanes`` complete with the current phase of mbarriers ``idx``."""
        if len(lanes):
            self.tracked.append((idx, self.st.mbar.phase[idx].copy(), lanes, self.count[lanes].copy()))

    def completed(self, done: np.ndarray, before: np.ndarray) -> None:
        """mbarrier phases completed (callback of :class:`~.mbarrier.MBarriers`)."""
        keep = []
        phase = self.st.mbar.phase
        for idx, ph, lanes, upto in self.tracked:
            fin = phase[idx] > ph
            if fin.any():
                np.maximum.at(self.waited, lanes[fin], upto[fin])
            if not fin.all():
                keep.append((idx[~fin], ph[~fin], lanes[~fin], upto[~fin]))
        self.tracked = keep
        self._settle()

    # ------------------------------------------------------------------ accesses
    def in_flight_rows(self, rows: np.ndarray, n: int) -> bool:
        """May a copy into the aligned n-unit rows ``rows`` be in flight (False: none is)?"""
        if not self.open:
            return False
        if self.rounds:
            rows = rows[self.pg_round[rows >> (PAGE_SHIFT - n.bit_length() + 1)] == self.round]
        return bool(np.take(self.tag[:len(self.tag) // n * n].reshape(-1, n), rows, axis=0).any())

    def access(self, units: np.ndarray, lanes: np.ndarray, write: bool) -> None:
        if not self.open:
            return
        t = np.take(self.tag, units)
        if not t.any():  # no copy into these units since the last sweep, or only completed ones
            return
        src, seq = self._source(units, t)
        flight = seq > self.waited[src]
        if not flight.any():
            return
        st = self.st
        i = np.flatnonzero(flight)
        o = int(units[i[0]]) * st.gran % st.sh_size
        var, where = st.shared_var(o)
        who = st.lane_coords(int(src[i[0]]))[1]
        verb = "overwrites" if write else "reads"
        st.report("async-in-flight", lanes[i], f"{verb} shared {where} (offset {o:#x}) while a copy into it by thread "
                  f"{who} is still in flight (not yet waited for with cp.async.wait_group/wait_all or the mbarrier "
                  "that tracks it): more stages in flight than slots?", buffer=var, address=o, key_extra=verb)
