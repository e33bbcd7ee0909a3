"""``fence`` (``fence.proxy.async`` clears the generic-proxy marks of the fencing threads' shared writes,
see :mod:`.hopper`; every other fence orders nothing the emulator could reorder) and ``setmaxnreg``
(a warpgroup-wide register budget change: checked, otherwise no effect on PTX registers).
"""

from __future__ import annotations

from .. import ir
from .decode import Ctx, builder
from .ops_mem import lanes_of
from .ops_wgmma import _aligned, warpgroups


@builder("fence")
def fence(ctx: Ctx, ins: ir.Instr):
    if "proxy" in ins.mods and "async" in [m.split("::")[0] for m in ins.mods]:
        def hp(st, wm, gm):
            if st.hopper is not None:
                st.hopper.fence(lanes_of(st, gm))
        return hp
    if {"gpu", "sys"} & set(ins.mods) and not {"proxy", "mbarrier_init"} & set(m.split("::")[0] for m in ins.mods):
        def hf(st, wm, gm):  # __threadfence: publishes the block's global writes (see gmem)
            if st.gtrack is not None:
                st.gtrack.fence(lanes_of(st, gm))
        return hf
    return lambda st, wm, gm: None


@builder("setmaxnreg")
def setmaxnreg(ctx: Ctx, ins: ir.Instr):
    """``setmaxnreg.{inc,dec}.sync.aligned.u32 N``: N a multiple of 8 in [24, 256], all 128 threads of
    the warpgroup together (PTX ISA, setmaxnreg)."""
    if not ins.operands or not isinstance(ins.operands[0], ir.Imm) or len({"inc", "dec"} & set(ins.mods)) != 1 \
            or not set(ins.mods) <= {"inc", "dec", "sync", "aligned", "u32"}:
        raise ctx.error(f"'{ins.name}' needs .inc or .dec and an immediate register count")
    n = int(ins.operands[0].value)

    def h(st, wm, gm):
        lanes = lanes_of(st, gm)
        if n % 8 or not 24 <= n <= 256:
            st.report("setmaxnreg", lanes, f"setmaxnreg {n}: the count must be a multiple of 8 in [24, 256]",
                      key_extra="range")
        _aligned(st, lanes, warpgroups(st, lanes), "setmaxnreg", "setmaxnreg")
    return h



