"""Hopper helpers for ``%``/``%%`` Python in .sasm files: descriptors, wgmma and TMA lines by name.

Each ``*_lines`` function returns PTX lines; the expander binds the short names (``wgmma_desc``,
``desc_add``, ``wgmma``, ``tma_load``, ``tma_store``, ``mbar_wait``) to versions that emit them, and
``desc_bits``/``wgmma_layout`` return numbers for ``${...}``. Nobody packs descriptor bits by hand:
the field layout lives in :mod:`sass_lab.hw.smem`, legal wgmma variants in :mod:`sass_lab.hw.wgmma`.
"""

from __future__ import annotations

from ..hw.smem import SmemDescriptor, canonical, check_swizzle
from ..hw.wgmma import ELEM_BYTES, K_OF, parse_shape


def desc_bits(lbo: int = 16, sbo: int = 0, swizzle: str = "none", base_offset: int = 0, start: int = 0) -> int:
    """The 64-bit descriptor of a matrix at ``start`` (0: only the layout fields, to OR in an address)."""
    return SmemDescriptor(start, lbo, sbo, swizzle, base_offset).encode()


def wgmma_layout(rows: int, k: int, dtype: str = "bf16", major: str = "K", swizzle: str = "128B") -> tuple[int, int]:
    """(LBO, SBO) in bytes of a dense ``rows`` × ``k`` tile in the canonical layout (K- or MN-major);
    what a TMA box of one swizzle width per row writes, box after box."""
    if major not in ("K", "MN"):
        raise ValueError(f"major must be 'K' or 'MN', not {major!r}")
    return canonical(rows, k, ELEM_BYTES[dtype], major == "K", check_swizzle(swizzle))


def wgmma_desc_lines(dst: str, addr: str, lbo: int = 16, sbo: int = 0, swizzle: str = "none",
                     base_offset: int = 0) -> list[str]:
    """``dst`` (.b64) = the descriptor of the matrix at shared address ``addr`` (a .u32 register)."""
    bits = desc_bits(lbo, sbo, swizzle, base_offset)
    return [f"    cvt.u64.u32     {dst}, {addr}",
            f"    shr.u64         {dst}, {dst}, 4",
            f"    and.b64         {dst}, {dst}, 0x3FFF",
            f"    or.b64          {dst}, {dst}, {bits:#x}"]


def desc_add_lines(dst: str, src: str, nbytes: int) -> list[str]:
    """``dst`` = descriptor ``src`` moved ``nbytes`` further (its start field counts 16-byte units)."""
    if nbytes % 16:
        raise ValueError(f"a descriptor moves in 16-byte steps, not {nbytes} bytes")
    return [f"    add.s64         {dst}, {src}, {nbytes // 16}"]


def wgmma_lines(acc: str, a: str, b_desc: str, n: int, atype: str = "bf16", dtype: str = "f32",
                btype: str | None = None, scale_d: str | int = 1, scale_a: int = 1, scale_b: int = 1,
                trans_a: int = 0, trans_b: int = 0) -> list[str]:
    """One ``wgmma.mma_async`` of m64n{n}k{K}: ``acc`` the accumulators (a register array or a brace
    list), ``a`` a descriptor register or a brace list of A registers, ``b_desc`` B's descriptor."""
    btype = btype or atype
    shape = f"m64n{n}k{K_OF.get(atype, 0)}"
    parse_shape((shape, dtype, atype, btype))  # ValueError naming what is illegal
    acc_ops = acc if acc.startswith("{") else f"{{{acc}}}"
    regs_a = a.startswith("{")
    tail = [str(scale_d)]
    if atype in ("s8", "u8"):
        if (scale_a, scale_b, trans_a, trans_b) != (1, 1, 0, 0):
            raise ValueError("integer wgmma takes no scale or transpose immediates")
    else:
        tail += [str(scale_a), str(scale_b)]
        if atype in ("f16", "bf16"):
            tail += [str(trans_b)] if regs_a else [str(trans_a), str(trans_b)]
        elif trans_a or trans_b:
            raise ValueError(f"transpose is only supported for f16/bf16, not {atype}")
    return [f"    wgmma.mma_async.sync.aligned.{shape}.{dtype}.{atype}.{btype} {acc_ops}, {a}, {b_desc}, "
            + ", ".join(tail)]


def _coords(coords) -> str:
    c = [str(x) for x in coords]
    if not 1 <= len(c) <= 5:
        raise ValueError(f"a tensor has 1 to 5 coordinates, not {len(c)}")
    return "{" + ", ".join(c) + "}"


def tma_load_lines(dst: str, tmap: str, coords, mbar: str, multicast: str | None = None) -> list[str]:
    """Load the box at ``coords`` (innermost first) of map ``tmap`` into shared ``dst``, completing on
    ``mbar``; ``multicast`` (a 16-bit CTA mask register) writes every CTA of the mask."""
    n = len(list(coords))
    mc = ".multicast::cluster" if multicast else ""
    tail = f", {multicast}" if multicast else ""
    return [f"    cp.async.bulk.tensor.{n}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes{mc} "
            f"[{dst}], [{tmap}, {_coords(coords)}], [{mbar}]{tail}"]


def tma_store_lines(tmap: str, coords, src: str, reduce: str | None = None) -> list[str]:
    """Store (or ``reduce`` with .add/.min/...) shared ``src`` to the box at ``coords``; completes
    through ``cp.async.bulk.commit_group`` / ``wait_group``."""
    n = len(list(coords))
    if reduce:
        return [f"    cp.reduce.async.bulk.tensor.{n}d.global.shared::cta.{reduce}.tile.bulk_group "
                f"[{tmap}, {_coords(coords)}], [{src}]"]
    return [f"    cp.async.bulk.tensor.{n}d.global.shared::cta.tile.bulk_group [{tmap}, {_coords(coords)}], [{src}]"]


def mbar_wait_lines(bar: str, parity: str | int, pred: str, label: str) -> list[str]:
    """Spin until the phase of parity ``parity`` of mbarrier ``bar`` has completed."""
    return [f"{label}:",
            f"    mbarrier.try_wait.parity.shared::cta.b64 {pred}, [{bar}], {parity}",
            f"@!{pred} bra {label}"]


def namespace(emit) -> dict:
    """The helpers as the expander exposes them (line builders bound to ``emit``)."""
    def bind(f):
        def g(*a, **k):
            emit(*f(*a, **k))
        g.__name__ = f.__name__.removesuffix("_lines")
        g.__doc__ = f.__doc__
        return g
    return {"desc_bits": desc_bits, "wgmma_layout": wgmma_layout, "wgmma_desc": bind(wgmma_desc_lines),
            "desc_add": bind(desc_add_lines), "wgmma": bind(wgmma_lines), "tma_load": bind(tma_load_lines),
            "tma_store": bind(tma_store_lines), "mbar_wait": bind(mbar_wait_lines)}
