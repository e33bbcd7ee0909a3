"""mbarrier objects: phase, pending and expected arrivals, transaction count; waiting without hanging.

An mbarrier is an 8-byte object in shared memory. Its state lives beside the memory, in a table keyed
by the object's flat byte index in the wave's shared array (block slot × window size + offset), so each
block has its own barriers and any lane can name any barrier of the wave by its key:

- ``phase``: phases completed so far (its parity is the PTX phase parity),
- ``pending``: arrivals still missing in the current phase,
- ``expected``: arrivals per phase (``init`` sets it, ``arrive_drop`` lowers it),
- ``tx``: the transaction count (``expect_tx`` raises it, ``complete_tx`` lowers it; it may go
  negative when bytes land before they are expected),
- ``valid``: initialised and not invalidated.

A phase completes when ``pending == 0`` and ``tx == 0``: ``phase += 1``, ``pending = expected``. Arrivals
of one instruction apply in thread order (like atomics). The token an arrive returns is
``pending after the arrival << 32 | phase mod 2**32`` (``pending_count`` reads the first, ``test_wait``
compares the second).

Waiting: a lane whose ``test_wait``/``try_wait`` returns false parks right after the wait (its result
already written) until a phase of that barrier completes; it then resumes and, in nvcc's spin loops,
retries. So a spinning lane never blocks the warps that will arrive. When every live lane is parked
(``stall``), parked mbarrier lanes are released once to run their failure path; if they park again
with no barrier having changed state, the wait can never complete: a ``mbarrier-deadlock`` finding
names each barrier, its phase and counts, and the waiting threads stop (on the GPU the kernel hangs).

A completed phase also starts a new race-checking epoch of its block (the waiters are ordered after
every arrival), and tells the cp.async tracker which copies tracked by it are now complete.
"""

from __future__ import annotations

import numpy as np

from .machine import EXIT_PC

MBAR_WAIT = -2  # State.wait_bar of a lane parked at an mbarrier wait (named barriers use their id >= 0)
PHASE_MASK = 0xFFFFFFFF
MAX_COUNT = (1 << 20) - 1


class MBarriers:
    """The mbarrier table of one wave."""

    def __init__(self, st):
        self.st = st
        self.keys = np.zeros(0, np.int64)
        self.phase = np.zeros(0, np.int64)
        self.pending = np.zeros(0, np.int64)
        self.expected = np.zeros(0, np.int64)
        self.tx = np.zeros(0, np.int64)
        self.valid = np.zeros(0, bool)
        self.version = 0  # bumped on every state change: a stall with no change since the last is a deadlock
        self.stall_version = -1
        self.on_complete = []
        self.remote: dict[int, set[int]] = {}  # barrier index -> other blocks that arrived this phase  # callbacks(idx of completed barriers, their phase before completing)

    # ------------------------------------------------------------------ lookup
    def find(self, keys: np.ndarray, lanes: np.ndarray, what: str, allow_invalid: bool = False):
        """Table indexes of ``keys`` (one per lane); lanes naming no live barrier are reported and dropped."""
        n = len(self.keys)
        i = np.minimum(np.searchsorted(self.keys, keys), max(n - 1, 0))
        ok = (self.keys[i] == keys) if n else np.zeros(len(keys), bool)
        if not allow_invalid and n:
            ok &= self.valid[i]
        if not ok.all():
            bad = np.flatnonzero(~ok)
            off = int(keys[bad[0]]) % self.st.sh_size
            _var, where = self.st.shared_var(off)
            was = n and self.keys[i[bad[0]]] == keys[bad[0]]
            self.st.report("mbarrier", lanes[bad], f"{what} on shared {where} (offset {off:#x}), which is not an "
                           f"mbarrier: it was {'invalidated (mbarrier.inval)' if was else 'never initialised (mbarrier.init)'}",
                           address=off, key_extra=what)
            i, lanes = i[ok], lanes[ok]
        return i, lanes

    def describe(self, k: int) -> str:
        st = self.st
        key = int(self.keys[k])
        blk, _ = st.lane_coords((key // st.sh_size) * st.tp)
        _var, where = st.shared_var(key % st.sh_size)
        return (f"mbarrier {where} of block {blk} in phase {int(self.phase[k])} (parity {int(self.phase[k]) & 1}): "
                f"{int(self.pending[k])} of {int(self.expected[k])} arrivals pending, tx-count {int(self.tx[k])}")

    # ------------------------------------------------------------------ state changes
    def init(self, keys: np.ndarray, counts: np.ndarray, lanes: np.ndarray) -> bool:
        bad = (counts < 1) | (counts > MAX_COUNT)
        if bad.any():
            self.st.report("mbarrier", lanes[bad], f"mbarrier.init with count {int(counts[bad][0])}: the count "
                           f"must be in [1, {MAX_COUNT}]", key_extra="count")
            keys, counts, lanes = keys[~bad], counts[~bad], lanes[~bad]
        if not len(keys):
            return False
        new = np.union1d(self.keys, keys)
        if len(new) != len(self.keys):
            pos = np.searchsorted(new, self.keys)
            for name in ("phase", "pending", "expected", "tx", "valid"):
                old = getattr(self, name)
                arr = np.zeros(len(new), old.dtype)
                arr[pos] = old
                setattr(self, name, arr)
            self.keys = new
        i = np.searchsorted(self.keys, keys)  # repeated keys: the last lane's count wins (a race anyway)
        self.phase[i] = 0
        self.pending[i] = counts
        self.expected[i] = counts
        self.tx[i] = 0
        self.valid[i] = True
        self.version += 1
        return self._wake(np.unique(i))

    def inval(self, idx: np.ndarray) -> bool:
        self.valid[idx] = False
        self.version += 1
        return self._wake(np.unique(idx))

    def arrive(self, idx: np.ndarray, counts: np.ndarray, lanes: np.ndarray, drop: bool = False,
               no_complete: bool = False, tx: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """Arrive-on (after ``expect_tx`` of ``tx`` when given) for each lane in thread order.

        Returns (tokens per lane, whether waiting lanes were released)."""
        tokens = np.zeros(len(idx), np.uint64)
        if not len(idx):
            return tokens, False
        self.version += 1
        self._note_remote(idx, lanes)
        order = np.argsort(idx, kind="stable")
        si, sc = idx[order], counts[order]
        first = np.ones(len(si), bool)
        first[1:] = si[1:] != si[:-1]
        u = si[first]
        csum = np.cumsum(sc)
        starts = np.flatnonzero(first)
        base = np.repeat(csum[starts] - sc[starts], np.diff(np.append(starts, len(si))))
        excl = csum - sc - base  # arrivals of earlier lanes on the same barrier in this instruction
        ends = np.append(starts[1:], len(si)) - 1
        total = csum[ends] - base[ends]
        txs = None if tx is None else tx[order]
        tx_total = None if tx is None else np.add.reduceat(txs, starts)
        if (total <= self.pending[u]).all():
            if tx_total is not None:
                self.tx[u] += tx_total
            left = self.pending[si] - excl - sc
            tokens[order] = (left.astype(np.uint64) << np.uint64(32)) | (self.phase[si] & PHASE_MASK).astype(np.uint64)
            self.pending[u] -= total
            if drop:
                self.expected[u] -= total
            done = u[(self.pending[u] == 0) & (self.tx[u] == 0)]
            if no_complete and len(done):
                self._no_complete(lanes[order][np.isin(si, done) & (left == 0)])
                return tokens, False
            return tokens, self._complete(done)
        return self._arrive_serial(order, si, sc, txs, lanes, tokens, drop, no_complete)

    def _arrive_serial(self, order, si, sc, txs, lanes, tokens, drop, no_complete):
        """Arrivals that overshoot a phase, one at a time in thread order (rare: a count mismatch)."""
        released = False
        over = []
        for j in range(len(si)):
            k, c = int(si[j]), int(sc[j])
            if txs is not None:
                self.tx[k] += int(txs[j])
            if self.pending[k] < c:
                over.append(order[j])
            self.pending[k] -= c
            if drop:
                self.expected[k] -= c
            tokens[order[j]] = (np.uint64(max(int(self.pending[k]), 0)) << np.uint64(32)) | np.uint64(
                int(self.phase[k]) & PHASE_MASK)
            if self.pending[k] <= 0 and self.tx[k] == 0:
                if no_complete:
                    self._no_complete(lanes[[order[j]]])
                    continue
                self.pending[k] = max(int(self.pending[k]), 0)
                released |= self._complete(np.array([k]))
        if over:
            self.st.report("mbarrier", lanes[np.sort(over)], "more arrivals than the mbarrier's phase has pending "
                           "(its expected count is smaller than the number of arriving threads)", key_extra="over")
            self.pending[self.pending < 0] = 0
        return tokens, released

    def _no_complete(self, lanes) -> None:
        self.st.report("mbarrier", lanes, "mbarrier.arrive.noComplete makes the pending count reach zero "
                       "(undefined behaviour in the PTX ISA)", key_extra="noComplete")

    def expect_tx(self, idx: np.ndarray, tx: np.ndarray) -> bool:
        """``expect_tx`` (tx > 0) or ``complete_tx`` (tx < 0) of each lane; may complete phases."""
        if not len(idx):
            return False
        self.version += 1
        np.add.at(self.tx, idx, tx)
        u = np.unique(idx)
        return self._complete(u[(self.pending[u] == 0) & (self.tx[u] == 0)])

    def _note_remote(self, idx: np.ndarray, lanes: np.ndarray) -> None:
        """Remember blocks arriving on another block's barrier (a cluster's remote arrive): the phase's
        completion orders their earlier accesses too, so it starts a race epoch in their blocks as well."""
        st = self.st
        if st.races is None or not len(lanes):
            return
        mine = st.lane_blk[lanes]
        owner = self.keys[idx] // st.sh_size
        far = np.flatnonzero(mine != owner)
        for j in far:
            self.remote.setdefault(int(idx[j]), set()).add(int(mine[j]))

    def _complete(self, done: np.ndarray) -> bool:
        """Phases of barriers ``done`` complete: wake their waiters, new race epoch, async callbacks."""
        if not len(done):
            return False
        st = self.st
        before = self.phase[done].copy()
        self.phase[done] += 1
        self.pending[done] = self.expected[done]
        if st.races is not None:
            far = [b for k in done for b in self.remote.pop(int(k), ())]
            st.races.block_barrier(np.unique(np.concatenate([self.keys[done] // st.sh_size,
                                                             np.array(far, np.int64)])))
        for cb in self.on_complete:
            cb(done, before)
        return self._wake(done)

    def _wake(self, idx: np.ndarray) -> bool:
        st = self.st
        parked = np.flatnonzero(st.wait_bar == MBAR_WAIT)
        if not len(parked):
            return False
        hit = parked[np.isin(st.wait_key[parked], self.keys[idx])]
        if not len(hit):
            return False
        st.pcs[hit] = st.wait_next[hit]
        st.wait_bar[hit] = -1
        return True

    # ------------------------------------------------------------------ waiting
    def complete(self, idx: np.ndarray, token: np.ndarray, parity: bool) -> np.ndarray:
        """Has the phase named by ``token`` (or the phase parity) completed? (test_wait / try_wait)"""
        ph = self.phase[idx]
        if parity:
            return (ph & 1) != (token.astype(np.int64) & 1)
        return (ph & PHASE_MASK) != (token.astype(np.uint64) & np.uint64(PHASE_MASK)).astype(np.int64)

    def park(self, lanes: np.ndarray, idx: np.ndarray, pc: int) -> None:
        st = self.st
        st.wait_bar[lanes] = MBAR_WAIT
        st.wait_key[lanes] = self.keys[idx]
        st.wait_next[lanes] = pc + 1


def stall(st) -> bool:
    """Every live lane is parked. Release mbarrier waiters once to run their failure path; if they park
    again with no barrier state change in between, report each barrier's deadlock and stop its waiters.
    Returns False when no lane waits at an mbarrier (named barriers are handled by the caller)."""
    mb = st.mbar
    parked = np.flatnonzero(st.wait_bar == MBAR_WAIT)
    if mb is None or not len(parked):
        return False
    if mb.stall_version != mb.version:
        mb.stall_version = mb.version
        st.pcs[parked] = st.wait_next[parked]
        st.wait_bar[parked] = -1
        return True
    keys = st.wait_key[parked]
    for key in np.unique(keys):
        sel = parked[keys == key]
        k = int(np.searchsorted(mb.keys, key))
        st.pc = int(st.wait_next[sel[0]]) - 1
        st.report("mbarrier-deadlock", sel, f"threads wait on {mb.describe(k)}, and no thread can arrive or complete "
                  "a transaction any more (every other thread has exited or waits too): the kernel would hang",
                  address=int(key) % st.sh_size, key_extra=int(key) % st.sh_size)
    st.live[parked] = False
    st.pcs[parked] = EXIT_PC
    st.wait_bar[parked] = -1
    return True
