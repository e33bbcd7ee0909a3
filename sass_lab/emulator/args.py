"""Kernel arguments → the parameter bank, and numpy buffers → one global heap with fake addresses.

Arrays (for 64-bit pointer parameters) are copied into one byte heap, packed; each gets its own device
address region ``GUARD`` bytes after the previous one, so overruns land in a guard zone between buffers;
the same array passed twice shares one region. Scalars must match the ``.param`` types (same width; float for ``.f*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..errors import EmulatorError
from ..hw.launch import pack_struct
from ..hw.tensormap import TensorMap
from . import values as V
from .decode import Program

GUARD = 1 << 32  # device bytes between two argument buffers


def _param_error(i: int, p, got: str, hint: str | None = None) -> EmulatorError:
    return EmulatorError(f"argument {i} ('{p.name}'): expected .{p.type}, got {got}", p.span,
                         hint=hint or f"pass a numpy scalar such as np.{_suggest(p.type)}(...) or an array for a pointer")


def _suggest(t: str) -> str:
    d = V.dtype(t)
    return {"f": "float", "i": "int", "u": "uint"}.get(d.kind, "uint") + str(d.itemsize * 8)


def bind_args(prog: Program, args) -> tuple[bytearray, list[tuple[int | None, np.ndarray, str]], list]:
    """→ (param bytes with pointers left to patch, [(param offset or None, array, name)], tensor maps).

    A :class:`~sass_lab.hw.tensormap.TensorMap` fits a by-value ``.param .align 128 .b8 p[128]``
    (``__grid_constant__ CUtensorMap``; its encoding goes in the parameter) or a 64-bit pointer (the
    encoding goes in a 128-byte global buffer the pointer names). Its array becomes a global buffer,
    written back like any other. Tensor maps: [(where, offset, map, buffer index of its array)].
    """
    params = prog.params
    if isinstance(args, dict):
        names = {p.name for p in params}
        # the assembler names parameters <name>_param: accept the short name too
        args = {k if k in names or f"{k}_param" not in names else f"{k}_param": v for k, v in args.items()}
        unknown = set(args) - names
        if unknown:
            raise EmulatorError(f"no parameter named {', '.join(sorted(unknown))} in '{prog.name}'",
                                hint=f"parameters: {', '.join(p.name for p in params)}")
        missing = [p.name for p in params if p.name not in args]
        if missing:
            raise EmulatorError(f"missing argument(s) for {', '.join(missing)}")
        args = [args[p.name] for p in params]
    args = list(args)
    if len(args) != len(params):
        raise EmulatorError(f"'{prog.name}' takes {len(params)} argument(s), got {len(args)}",
                            hint=f"parameters: {', '.join(f'{p.name} .{p.type}' for p in params)}")
    pb = bytearray(max(prog.layout.param_size, 1) + 16)
    bufs: list = []
    maps: list = []
    for i, (p, a) in enumerate(zip(params, args)):
        off = prog.layout.params[p.name][0]
        if isinstance(a, TensorMap):
            _tensor_map_arg(i, p, a, off, bufs, maps)
            continue
        if p.array and isinstance(a, dict):  # a struct by value: {byte offset: numpy scalar or array}
            _struct_arg(i, p, a, off, pb, bufs, prog)
            continue
        if p.array:
            raw = a.tobytes() if isinstance(a, np.ndarray) else bytes(a) if isinstance(a, (bytes, bytearray)) else None
            if raw is None or len(raw) != p.size:
                raise _param_error(i, p, type(a).__name__, hint=f"pass {p.size} bytes (bytes or a numpy array)")
            pb[off:off + p.size] = raw
            continue
        dt = V.dtype(p.type) if p.type != "pred" else np.dtype(np.uint8)
        if isinstance(a, np.ndarray):
            if a.dtype.hasobject or a.dtype.fields is not None:
                raise _param_error(i, p, f"a numpy array of {a.dtype}", hint="buffers must hold plain numbers")
            if dt.itemsize != 8 or dt.kind == "f":
                raise _param_error(i, p, f"a numpy array ({a.dtype}, shape {a.shape})",
                                   hint="arrays stand for global buffers: pass them to 64-bit pointer params")
            bufs.append((off, a, p.name))
            continue
        if isinstance(a, np.generic):
            ok = a.dtype.itemsize == dt.itemsize and (a.dtype.kind == "f") == (dt.kind == "f") and a.dtype.kind in "fiu"
            if not ok:
                raise _param_error(i, p, f"np.{a.dtype.name}")
            val = np.asarray(a).view(V.UINT[dt.itemsize]) if dt.kind != "f" else np.asarray(a, dt)
        elif isinstance(a, bool) or not isinstance(a, (int, float)):
            raise _param_error(i, p, type(a).__name__)
        elif isinstance(a, float):
            if dt.kind != "f":
                raise _param_error(i, p, "a Python float")
            val = np.asarray(a, dt)
        else:
            if dt.kind == "f":
                raise _param_error(i, p, "a Python int", hint=f"pass np.{_suggest(p.type)}({a})")
            bits = dt.itemsize * 8
            if not -(1 << (bits - 1)) <= a < (1 << bits):
                raise _param_error(i, p, f"{a} (out of range for {bits} bits)")
            val = V.const(a, dt)
        pb[off:off + dt.itemsize] = np.asarray(val).tobytes()
    return pb, bufs, maps


def _struct_arg(i: int, p, fields: dict, off: int, pb: bytearray, bufs: list, prog: Program) -> None:
    """A by-value struct given as ``{byte offset: value}``: scalars stored, pointer members become buffers.
    An array where the kernel reads the struct's bytes as anything but one 64-bit value at that offset
    (an array stored inside the struct, not a pointer) is refused rather than passed as an address."""
    try:
        raw, pointers = pack_struct(p.size, fields)
    except ValueError as e:
        raise EmulatorError(f"argument {i} ('{p.name}', a {p.size}-byte struct): {e}", p.span,
                            hint="pass {offsetof(member): numpy scalar, or a numpy array for a pointer}") from None
    reads = _param_reads(prog, p.name) if pointers else None
    for k, _ in pointers:
        o, w = next(((o, w) for o, w in reads or () if o < k + 8 and k < o + w and (o, w) != (k, 8)), (None, 0))
        if o is not None:
            raise EmulatorError(
                f"argument {i} ('{p.name}', a {p.size}-byte struct): the numpy array at offset {k} stands for a "
                f"pointer member, but the kernel reads {w} byte(s) at offset {o} there", p.span,
                hint="an array stored inside the struct goes in element by element as numpy scalars "
                     "({offset: np.float32(x), ...}) or as the struct's bytes")
    pb[off:off + p.size] = raw
    bufs.extend((off + k, v, f"{p.name}+{k}") for k, v in pointers)


def _param_reads(prog: Program, name: str) -> list[tuple[int, int]] | None:
    """(offset, bytes) of every ``ld.param`` of parameter ``name``; None when the kernel also uses it
    otherwise (its address taken: what it reads cannot be told)."""
    out = []
    for ins in prog.instrs:
        for j, op in enumerate(ins.operands):
            base = op.base if isinstance(op, ir.Mem) else op
            if getattr(base, "name", None) != name:
                continue
            if ins.opcode != "ld" or "param" not in ins.mods or j != 1 or not isinstance(op, ir.Mem):
                return None
            vec = next((int(m[1:]) for m in ins.mods if m in ("v2", "v4", "v8")), 1)
            out.append((op.offset, ir.type_bytes(ins.mods[-1]) * vec))
    return out


def _tensor_map_arg(i: int, p, tm: TensorMap, off: int, bufs: list, maps: list) -> None:
    if tm.interleave != "none" or tm.dtype in ("float32_ftz", "tfloat32", "tfloat32_ftz"):
        what = f"interleave {tm.interleave}" if tm.interleave != "none" else f"the {tm.dtype} conversion"
        raise EmulatorError(f"argument {i} ('{p.name}'): a tensor map with {what} is not modelled by the emulator",
                            p.span, hint="it is valid on the GPU; the emulator copies tile boxes of plain types")
    if p.array and p.size == 128:
        maps.append(("param", off, tm, len(bufs)))
        bufs.append((None, tm.array, f"{p.name} (tensor)"))
    elif not p.array and p.type != "pred" and V.dtype(p.type).itemsize == 8 and V.dtype(p.type).kind != "f":
        maps.append(("heap", len(bufs), tm, len(bufs) + 1))
        bufs.append((off, np.zeros(128, np.uint8), f"{p.name} (CUtensorMap)"))
        bufs.append((None, tm.array, f"{p.name} (tensor)"))
    else:
        raise _param_error(i, p, "a TensorMap", hint="a tensor map goes to a .param .align 128 .b8 p[128] (by value) "
                           "or a 64-bit pointer parameter")


def place_tensor_maps(maps, offs, addrs, pb: bytearray, heap: np.ndarray, base: int) -> None:
    """Write each tensor map's emulator encoding, now that its array has a device address (``addrs``;
    ``offs`` are heap offsets, where a by-pointer map's 128 bytes live)."""
    for where, at, tm, ai in maps:
        raw = tm.emulated_bytes(base + addrs[ai])
        if where == "param":
            pb[at:at + 128] = raw
        else:
            heap[offs[at]:offs[at] + 128] = np.frombuffer(raw, np.uint8)


# ---------------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class Heap:
    """The global byte heap and where each buffer lives: ``starts``/``ends`` are device offsets (address
    − ``GLOBAL_BASE``) sorted by start, ``deltas`` device offset − heap offset per buffer, ``names`` the
    parameter (or module variable) names; ``offs``/``addrs`` the heap and device offsets of each bound
    array in argument order."""

    heap: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    deltas: np.ndarray
    names: list[str]
    offs: list[int]
    addrs: list[int]


def build_heap(prog: Program, bufs) -> Heap:
    """Module ``.global`` variables first (device offset = heap offset), then each argument array in its own
    region of the device address space, ``GUARD`` bytes after the previous one, so that an overflow
    lands in a guard zone (an out-of-bounds finding naming both neighbours), never inside another
    buffer. In the heap itself the arrays are packed (256-byte aligned)."""
    lay = prog.layout
    starts, ends, deltas, names, offs, addrs = [], [], [], [], [], []
    for gname, (off, size, _init) in lay.globals_.items():
        starts.append(off)
        ends.append(off + size)
        deltas.append(0)
        names.append(gname)
    pos = _align256(lay.global_size)
    dev = _align256(lay.global_size) + GUARD
    seen: list[tuple[np.ndarray, int, int, int]] = []  # (array, heap offset, device offset, index into names)
    for _poff, arr, name in bufs:
        same = next(((o, d, k) for a, o, d, k in seen if a is arr), None)
        if same is not None:  # one array passed for several pointers: one region, both names
            offs.append(same[0])
            addrs.append(same[1])
            names[same[2]] += "/" + name
            continue
        for a, _o, _d, k in seen:
            if arr.nbytes and a.nbytes and np.shares_memory(a, arr):
                raise EmulatorError(f"arguments '{names[k]}' and '{name}' are different arrays over the same "
                                    "memory", hint="pass the same array object for aliased pointers, or copies")
        seen.append((arr, pos, dev, len(names)))
        starts.append(dev)
        ends.append(dev + arr.nbytes)
        deltas.append(dev - pos)
        names.append(name)
        offs.append(pos)
        addrs.append(dev)
        pos = _align256(pos + arr.nbytes)
        dev = _align256(dev + arr.nbytes) + GUARD
    heap = np.zeros(pos + 64, np.uint8)
    for _gname, (off, size, init) in lay.globals_.items():
        heap[off:off + size] = np.frombuffer(init, np.uint8)[:size]
    for (_poff, arr, _name), o in zip(bufs, offs):
        heap[o:o + arr.nbytes] = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    order = np.argsort(starts, kind="stable")
    return Heap(heap, np.asarray(starts, np.int64)[order], np.asarray(ends, np.int64)[order],
                np.asarray(deltas, np.int64)[order], [names[i] for i in order], offs, addrs)


def _align256(n: int) -> int:
    return (n + 255) // 256 * 256


# ---------------------------------------------------------------------------------- symbols


def bind_symbols(prog: Program, symbols, heap: np.ndarray, const: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Host-set ``__constant__`` / ``__device__`` variables (``cudaMemcpyToSymbol``) before the run.

    ``symbols`` maps a module variable's PTX name to an array (or bytes) of at most its size, copied
    to the variable's start. Returns [(array, heap offset)] for the ``.global`` ones, which are read
    back after the run (``cudaMemcpyFromSymbol``).
    """
    lay = prog.layout
    back = []
    for name, value in (symbols or {}).items():
        data = np.ascontiguousarray(value) if isinstance(value, np.ndarray) else \
            np.frombuffer(bytes(value), np.uint8) if isinstance(value, (bytes, bytearray)) else \
            np.asarray(value) if isinstance(value, np.generic) else None
        if data is None or data.dtype.hasobject:
            raise EmulatorError(f"symbol '{name}': pass a numpy array, scalar or bytes, not {type(value).__name__}")
        raw = data.reshape(-1).view(np.uint8)
        if name in lay.globals_:
            off, size, _ = lay.globals_[name]
            where = heap
        elif name in lay.const:
            off = lay.const[name]
            size = lay.const_sizes[name]
            where = const
        else:
            known = ", ".join(sorted([*lay.globals_, *lay.const])) or "(none)"
            raise EmulatorError(f"no __constant__ or __device__ variable '{name}' in the PTX",
                                hint=f"module variables: {known}")
        if len(raw) > size:
            raise EmulatorError(f"symbol '{name}' is {size} bytes; {len(raw)} bytes given")
        where[off:off + len(raw)] = raw
        if name in lay.globals_ and isinstance(value, np.ndarray) and value.flags.writeable:
            back.append((value, off))
    return back
