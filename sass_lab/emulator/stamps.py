"""Shared-memory access stamps: the packed int64 that the race tracker (:mod:`.races`) keeps per
tracking unit for its last writer and its readers, and the elementwise algebra on them::

    block epoch << 31 | warp epoch << 11 | (code + 8)

``code`` is a thread id (0..1023), ``1024 + w`` for "several threads of warp w", ``-2`` for several
warps, ``-3`` for an atomic; ``0`` (the whole stamp) means never accessed: the block epoch field of a
stamp counts from 1, so untouched stamps are the zero pages of a fresh allocation (the operating system
supplies them on first touch: a large shared window costs nothing until used). Two accesses of one unit
conflict when they are in the same block epoch, by different threads, at least one a write, and not
ordered by a warp sync (same warp, different warp epoch). Also here: the row helpers that let one copy
store or gather an aligned row of n stamps.
"""

from __future__ import annotations

import numpy as np

TID_BITS, BIAS, CODE_MASK = 11, 8, (1 << 11) - 1
WEP_SHIFT, BEP_SHIFT, EP_MASK = 11, 31, (1 << 20) - 1
SEVERAL_WARPS, ATOMIC, WARP_GROUP = -2, -3, 1024
MERGE_SKIP = True  # a read merged over reader stamps of other epochs only is its own stamp (False: the formula)


def code(x):
    return (x & CODE_MASK) - BIAS


def rows_of(a: np.ndarray, n: int) -> np.ndarray:
    """``a``'s aligned n-element rows as one opaque item each: a row is stored or gathered with one copy
    (numpy's 2-D row indexing with a broadcast value loops over the n elements of every row)."""
    return a[:len(a) // n * n].view(np.dtype((np.void, n * a.itemsize)))


def spread(a: np.ndarray, n: int) -> np.ndarray:
    """Each element of ``a`` n times over, as rows for :func:`rows_of` (``a[:, None]`` broadcast, contiguous)."""
    return np.repeat(a, n).view(np.dtype((np.void, n * a.itemsize)))


def expand(u: np.ndarray, n: int) -> np.ndarray:
    """The n consecutive units from each first unit of ``u``, lane-major: ``(u[:, None] + arange(n)).ravel()``
    (a broadcast with an n-wide inner loop is 3-8x slower than n strided passes)."""
    if n == 1:
        return u
    out = np.empty((len(u), n), u.dtype)
    for k in range(n):
        np.add(u, k, out=out[:, k])
    return out.reshape(-1)


def warp_of(c):
    return np.where(c >= WARP_GROUP, c - WARP_GROUP, np.where(c >= 0, c >> 5, -1))


def wep(x):
    return (x >> WEP_SHIFT) & EP_MASK


def conflict(prev, me):
    """Per element: does the access stamped ``me`` race with the earlier access ``prev``?"""
    same = (prev >> BEP_SHIFT) == (me >> BEP_SHIFT)
    if not same.any():
        return same
    pc, mc = code(prev), code(me)
    ordered = (warp_of(pc) == (mc >> 5)) & (wep(prev) != wep(me))
    return same & (pc != mc) & ~ordered


def merge(r, me):
    """Reader stamp after the read ``me`` given the earlier reader stamp ``r`` (elementwise)."""
    same_b = (r >> BEP_SHIFT) == (me >> BEP_SHIFT)
    if MERGE_SKIP and not same_b.any():  # every earlier reader stamp is of another block epoch: the read's own
        return me
    pc, mc = code(r), code(me)
    pw, mw = warp_of(pc), mc >> 5
    keep_me = ~same_b | (pc == mc) | ((pw == mw) & (wep(r) != wep(me)))
    in_warp = (pw == mw)
    base = me & ~CODE_MASK
    several = np.where(in_warp, base | (WARP_GROUP + mw + BIAS), base | (SEVERAL_WARPS + BIAS))
    return np.where(keep_me, me, several)
