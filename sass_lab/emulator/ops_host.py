"""The device runtime's host-visible calls: ``__assertfail`` (``assert()``) and ``vprintf`` (``printf``).

:mod:`.inline` turns ``call __assertfail, (…)`` into the pseudo-instruction ``__assertfail`` followed by
``exit`` (a failed assert stops its thread, as the GPU's trap does), and ``call (r), vprintf, (…)`` into
``__vprintf``. Their operands are the call's ``.param`` variables, which live in local memory.

An assert is an ``assert`` finding with the message, file, line and function nvcc passes, counted
over the failing threads. ``printf`` output is formatted from the PTX's format string and argument
buffer the way the device runtime does (arguments packed at their natural alignment, ``float``
promoted to ``double``, ``%s`` a generic pointer) and collected in thread order per instruction in
:attr:`Report.output`; ``printf`` returns the number of arguments, like CUDA's.
"""

from __future__ import annotations

import re

import numpy as np

from .. import ir
from .decode import Ctx, builder
from .machine import GLOBAL_BASE, LOCAL_WINDOW, SHARED_WINDOW, WINDOW_SIZE
from .ops_mem import lanes_of

MAX_STRING = 4096
_SPEC = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|L|z|j|t)?([diouxXeEfFgGaAcspn%])")


def _param_reader(ctx: Ctx, op, size: int):
    """A reader ``f(st, lanes) -> uint64 values`` of the call's ``.param`` variable ``op``."""
    off = ctx.layout.local[op.name]

    def read(st, lanes):
        idx = lanes.astype(np.int64)[:, None] * st.local_size + off + np.arange(size)
        raw = np.ascontiguousarray(st.local[idx])
        return raw.view(np.uint64 if size == 8 else np.uint32).ravel().astype(np.uint64)
    return read


def read_bytes(st, lane: int, addr: int, n: int) -> bytes | None:
    """``n`` bytes at generic address ``addr`` for ``lane`` (None when outside every space)."""
    if 0 <= addr - SHARED_WINDOW < WINDOW_SIZE:
        o = addr - SHARED_WINDOW
        base, buf, limit = int(st.sh_base[lane]), st.shared, st.sh_limit
    elif 0 <= addr - LOCAL_WINDOW < WINDOW_SIZE:
        o = addr - LOCAL_WINDOW
        base, buf, limit = lane * st.local_size, st.local, st.local_size
    else:
        o = addr - GLOBAL_BASE
        b = int(np.searchsorted(st.buf_starts, o, side="right")) - 1
        if b < 0 or o >= st.buf_ends[b]:
            return None
        base, buf, limit = -int(st.buf_deltas[b]), st.heap, int(st.buf_ends[b])
    if o < 0 or o >= limit:
        return None
    return bytes(buf[base + o:base + min(limit, o + n)])


def c_string(st, lane: int, addr: int) -> str | None:
    raw = read_bytes(st, lane, addr, MAX_STRING)
    if raw is None:
        return None
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


# ------------------------------------------------------------------------------ assert


@builder("__assertfail")
def assertfail(ctx: Ctx, ins: ir.Instr):
    msg, file, line, func = (_param_reader(ctx, o, s) for o, s in zip(ins.operands, (8, 8, 4, 8)))

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        if not len(lanes):
            return
        first = int(lanes[0])
        text = [c_string(st, first, int(r(st, lanes[:1])[0])) or "?" for r in (msg, file, func)]
        ln = int(line(st, lanes[:1])[0])

        def message(lane):
            blk, thr = st.lane_coords(lane)
            return (f"{text[1]}:{ln}: {text[2]}: block: [{blk[0]},{blk[1]},{blk[2]}], thread: "
                    f"[{thr[0]},{thr[1]},{thr[2]}] Assertion `{text[0]}` failed.")
        st.report("assert", lanes, message, key_extra=(text[0], ln))
    return h


# ------------------------------------------------------------------------------ printf


@builder("__vprintf")
def vprintf(ctx: Ctx, ins: ir.Instr):
    ret, fmt, buf = ins.operands
    rfmt, rbuf = _param_reader(ctx, fmt, 8), _param_reader(ctx, buf, 8)
    ret_off = ctx.layout.local[ret.name] if isinstance(ret, ir.Reg) else None

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        fa, ba = rfmt(st, lanes), rbuf(st, lanes)
        for k, lane in enumerate(lanes.tolist()):
            f = c_string(st, lane, int(fa[k]))
            if f is None:
                text, count = "", -1
            else:
                text, count = format_c(f, lambda a, n, lane=lane: read_bytes(st, lane, a, n),
                                       lambda a, lane=lane: c_string(st, lane, a), int(ba[k]))
            st.output.append(text)
            if ret_off is not None:
                i = lane * st.local_size + ret_off
                st.local[i:i + 4] = np.frombuffer(np.int32(count).tobytes(), np.uint8)
    return h


def c_integer(flags: str, width: str | None, prec: str | None, conv: str, v: int) -> str:
    """One integer conversion as C's printf writes it (Python's ``%`` differs: ``%#o`` → ``0o10``, ``%#x`` of 0
    → ``0x0``, ``%.0d`` of 0 → ``0``, ``%+u`` → ``+5``)."""
    digits = format(abs(v), {"d": "d", "i": "d", "u": "d", "o": "o", "x": "x", "X": "X"}[conv])
    if prec is not None:
        p = int(prec or 0)
        digits = "" if p == 0 and v == 0 else digits.zfill(p)
    prefix = ""
    if conv in "di":
        prefix = "-" if v < 0 else "+" if "+" in flags else " " if " " in flags else ""
    elif "#" in flags and conv == "o" and not digits.startswith("0"):
        digits = "0" + digits
    elif "#" in flags and conv in "xX" and v != 0:
        prefix = "0" + conv
    w = max(int(width or 0), 0)
    body = prefix + digits
    if len(body) >= w:
        return body
    if "-" in flags:
        return body.ljust(w)
    if "0" in flags and prec is None:
        return prefix + digits.rjust(w - len(prefix), "0")
    return body.rjust(w)


def c_hexfloat(flags: str, width: str | None, prec: str | None, conv: str, v: float) -> str:
    """``%a``/``%A`` as glibc writes it (the host formats device printf): ``0x1.8p+1``, trailing zeros
    dropped without a precision, the mantissa rounded to nearest-even hex digits with one."""
    sign = "-" if np.signbit(v) else "+" if "+" in flags else " " if " " in flags else ""
    if not np.isfinite(v):
        body, prefix = ("nan" if np.isnan(v) else "inf"), sign
        zero_pad = False
    else:
        m, e = np.frexp(abs(v))
        frac, lead, exp = 0, 0, 0
        if v != 0:
            if e - 1 < -1022:  # subnormal: 0x0.<52 bits>p-1022
                lead, frac, exp = 0, int(abs(v) / 2.0 ** -1074), -1022
            else:
                lead, frac, exp = 1, int((m * 2 - 1) * 2.0 ** 52), e - 1
        digits = f"{frac:013x}"
        if prec is None:
            digits = digits.rstrip("0")
        else:
            p = int(prec or 0)
            if p < 13:
                shift = 4 * (13 - p)
                q, r = divmod(frac, 1 << shift)
                half = 1 << (shift - 1)
                q += r > half or (r == half and (q if p else lead) & 1)
                lead, q = lead + (q >> (4 * p)), q & ((1 << (4 * p)) - 1)
                digits = f"{q:0{p}x}" if p else ""
            else:
                digits = digits.ljust(p, "0")
        point = "." if digits or "#" in flags else ""
        body = f"{lead}{point}{digits}p{'-' if exp < 0 else '+'}{abs(exp)}"
        prefix, zero_pad = sign + "0x", "0" in flags
    w = max(int(width or 0), 0)
    pad = w - len(prefix) - len(body)
    if pad > 0:
        if "-" in flags:
            body += " " * pad
        elif zero_pad:
            body = "0" * pad + body
        else:
            prefix = " " * pad + prefix
    out = prefix + body
    return out.upper() if conv == "A" else out


def format_c(fmt: str, read, string, buf: int) -> tuple[str, int]:
    """``fmt`` formatted like C's printf from the packed argument buffer at ``buf``; (text, arguments)."""
    out, pos, at, count = [], 0, buf, 0

    def take(size: int) -> bytes:
        nonlocal at
        at = (at + size - 1) // size * size
        raw = read(at, size) or bytes(size)
        at += size
        return raw.ljust(size, b"\0")

    for m in _SPEC.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, length, conv = m.groups()
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(int.from_bytes(take(4), "little", signed=True))
            count += 1
        if prec == "*":
            prec = str(int.from_bytes(take(4), "little", signed=True))
            count += 1
        spec = "%" + flags + (width or "") + ("." + prec if prec is not None else "")
        count += 1
        if conv in "eEfFgGaA":
            v = float(np.frombuffer(take(8), np.float64)[0])
            if conv in "aA":
                out.append(c_hexfloat(flags, width, prec, conv, v))
            else:
                out.append((spec + conv) % v)
        elif conv in "diouxXc":
            size = 8 if length in ("ll", "l", "j", "z", "t") else 4
            raw = take(size)
            signed = conv in "di"
            v = int.from_bytes(raw, "little", signed=signed)
            if length == "h":
                v = (v & 0xFFFF) - (0x10000 if signed and v & 0x8000 else 0)
            elif length == "hh":
                v = (v & 0xFF) - (0x100 if signed and v & 0x80 else 0)
            if conv == "c":
                out.append((spec + "c") % chr(v & 0xFF))
            else:
                out.append(c_integer(flags, width, prec, conv, v))
        elif conv == "s":
            s = string(int.from_bytes(take(8), "little"))
            out.append((spec + "s") % ("(null)" if s is None else s))
        elif conv == "p":
            out.append((spec.replace("%", "%#") + "x") % int.from_bytes(take(8), "little"))
        else:  # %n writes nothing on the device
            take(8)
    out.append(fmt[pos:])
    return "".join(out), count
