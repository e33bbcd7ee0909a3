"""Plain-text SASS listing (no markup) for text widgets such as the console's SASS tab.

``listing_text(instrs)`` gives one line per instruction — address, control code
(``wait:read:write:yield:stall``), live R registers, bank-conflict cycles (``!n``), a ``|`` on the
hottest loop, the instruction — with labels on their own lines, then the statistics summary.
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import SassInstr
from .stats import BankModel, KernelStats, kernel_stats


def summary_lines(st: KernelStats) -> list[str]:
    """The key figures of :class:`KernelStats` as ``name: value`` lines."""
    lp = st.hot_loop
    loop = f"0x{lp.start_address:04x}-0x{lp.end_address:04x} ({lp.size} instructions)" if lp else "none"
    mix = ", ".join(f"{op} {n}" for op, n in list(st.mix.items())[:12])
    return [
        f"instructions: {st.instructions}",
        f"hot loop: {loop}",
        f"hot-loop math share: {100 * st.hot_loop_math_share:.1f} % of issue slots",
        f"stall cycles: {st.stall_cycles} (hot loop {st.hot_loop_stall_cycles})",
        f"bank conflicts ({st.bank_model.name}): {st.bank_conflicts} (hot loop {st.hot_loop_bank_conflicts})",
        f"reuse-flag rate: {100 * st.reuse_rate:.1f} % (hot loop {100 * st.hot_loop_reuse_rate:.1f} %)",
        f"live registers (peak): {st.live_peak}",
        f"mix: {mix}",
    ]


def listing_text(instrs: list[SassInstr], model: BankModel | str = "volta", summary: bool = True,
                 where: Mapping[int, str] | None = None) -> str:
    """The listing of one function as plain text; ``where`` maps an address to the source line it
    came from (``toolchain.lineinfo``), shown after the instruction."""
    st = kernel_stats(instrs, model)
    lp = st.hot_loop
    out = ["addr  ctrl          live bank   instruction"]
    for i, ins in enumerate(instrs):
        out.extend(f"{'':31}{lab}:" for lab in ins.labels if lab.startswith(".L"))
        bar = "|" if lp is not None and lp.start <= i <= lp.end else " "
        conf = f"!{st.conflicts[i]}" if st.conflicts[i] else ""
        src = f"  // {where[ins.address]}" if where and ins.address in where else ""
        out.append(f"{ins.address:04x}  {ins.ctrl.notation():12s} {st.live[i]:4d} {conf:4s} {bar} {ins.body}{src}")
    if summary:
        out += ["", *summary_lines(st)]
    return "\n".join(out) + "\n"
