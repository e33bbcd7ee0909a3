"""Per-wave state of Hopper's asynchronous machinery (one object, ``State.hopper``).

- **wgmma groups**, per warpgroup: the ``wgmma.mma_async`` operations issued since the last
  ``commit_group`` (open), and the committed groups not yet retired by a ``wait_group``. The math is
  done at issue, so the registers already hold the final values; what the groups record is which
  registers the tensor cores would still own on the GPU. Touching one of them before the covering
  ``wait_group`` is a ``wgmma-async`` finding; so is an ``mma_async`` whose registers were accessed
  since the warpgroup's last ``wgmma.fence`` (``wgmma-fence``).
- **proxy tracking**: each 16-byte chunk of shared memory remembers the lane that last wrote it with
  an ordinary (generic-proxy) store; ``fence.proxy.async`` by that lane clears it, an async-proxy
  write (TMA) clears it too. An async-proxy read (TMA store source, wgmma operand) of a chunk still
  marked is a ``fence-proxy-async`` finding.
- **bulk groups** (``cp.async.bulk.commit_group``/``wait_group``): bulk stores complete at issue; the
  groups are counted only so that waits match commits.
"""

from __future__ import annotations

import numpy as np

CHUNK = 16


def whole_rows(addr: np.ndarray, eb: int) -> np.ndarray | None:
    """The first addresses of the aligned 16-byte rows that the element addresses ``addr`` (of ``eb``
    bytes each) run through whole and in order (a swizzled tile permutes rows, never their bytes), or
    None. The race tracker then checks one 16-byte access per row: the same units, lanes and order."""
    k = CHUNK // eb
    a = addr.reshape(-1)
    if len(a) % k:
        return None
    first = a[::k]
    if (first % CHUNK).any() or not (a.reshape(-1, k) == first[:, None] + eb * np.arange(k)).all():
        return None
    return first


class WgGroup:
    __slots__ = ("pc", "regs")

    def __init__(self, pc: int, regs: frozenset[int]):
        self.pc = pc
        self.regs = regs


class HopperState:
    """Async state of one wave (created lazily by the first Hopper instruction that needs it)."""

    def __init__(self, st):
        self.st = st
        nwg = max(1, -(-st.L // 128))
        self.open: list[list[WgGroup]] = [[] for _ in range(nwg)]
        self.committed: list[list[list[WgGroup]]] = [[] for _ in range(nwg)]
        self.dirty = np.ones(nwg, bool)  # registers accessed since the warpgroup's last wgmma.fence
        self.busy_any = False
        n = len(st.shared) // CHUNK + 1
        self.writer = np.full(n, -1, np.int32)  # lane of the last generic write of each chunk (-1: clean)
        self.marked = False  # some chunk may be marked (False: none is)
        self.bulk_groups = np.zeros(st.L, np.int64)

    # ------------------------------------------------------------------ wgmma
    def busy(self, wgs: np.ndarray) -> dict[int, int]:
        """register index → PTX pc of the mma_async still owning it, over warpgroups ``wgs``."""
        out: dict[int, int] = {}
        for w in wgs:
            for g in self.open[w]:
                for r in g.regs:
                    out.setdefault(r, g.pc)
            for grp in self.committed[w]:
                for g in grp:
                    for r in g.regs:
                        out.setdefault(r, g.pc)
        return out

    def issue(self, wgs: np.ndarray, pc: int, regs: frozenset[int]) -> None:
        for w in wgs:
            self.open[w].append(WgGroup(pc, regs))
        self.busy_any = True

    def commit(self, wgs: np.ndarray) -> None:
        for w in wgs:
            if self.open[w]:
                self.committed[w].append(self.open[w])
                self.open[w] = []

    def wait(self, wgs: np.ndarray, n: int) -> None:
        for w in wgs:
            keep = self.committed[w][len(self.committed[w]) - n:] if n else []
            self.committed[w] = keep
        self.busy_any = any(self.open) or any(self.committed)

    # ------------------------------------------------------------------ proxies
    def generic_write(self, flat: np.ndarray, size: int, lanes: np.ndarray) -> None:
        """Ordinary stores of ``size`` bytes at shared flat indexes ``flat`` by ``lanes``."""
        self.marked = True
        first = flat // CHUNK
        last = (flat + size - 1) // CHUNK
        self.writer[first] = lanes
        if (last != first).any():
            self.writer[last] = lanes

    def async_write(self, flat: np.ndarray) -> None:
        self.writer[flat // CHUNK] = -1

    def fence(self, lanes: np.ndarray) -> None:
        marked = np.flatnonzero(self.writer >= 0)
        if len(marked):
            hit = np.isin(self.writer[marked], lanes)
            self.writer[marked[hit]] = -1
            self.marked = not hit.all()
        else:
            self.marked = False

    def unfenced(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flat indexes, writer lanes) among ``flat`` still holding an unfenced generic write."""
        if not self.marked or (np.take(self.writer, flat // CHUNK) < 0).all():  # nothing marked, or not here
            return flat[:0], self.writer[:0]
        ch = np.unique(flat // CHUNK)
        w = self.writer[ch]
        bad = w >= 0
        return ch[bad] * CHUNK, w[bad]


def hopper(st) -> HopperState:
    h = st.hopper
    if h is None:
        h = st.hopper = HopperState(st)
    return h


def report_unfenced(st, flat: np.ndarray, lanes: np.ndarray, reader: str) -> None:
    """An async-proxy read of ``flat`` (by ``lanes``): report chunks written without fence.proxy.async."""
    h = st.hopper
    if h is None:
        return
    bad, writers = h.unfenced(flat)
    if not len(bad):
        return
    off = int(bad[0]) % st.sh_size
    _var, where = st.shared_var(off)
    who = st.lane_coords(int(writers[0]))[1]
    st.report("fence-proxy-async", lanes, f"{reader} reads shared {where} (offset {off:#x}), which thread {who} "
              "wrote with an ordinary store and no fence.proxy.async since: the async proxy may not see it",
              buffer=_var, address=off)
