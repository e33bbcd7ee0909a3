"""Rich listing and JSON records for ``sass_lab sass`` (no CLI parsing here).

Listing columns: address, control code (``wait:read:write:yield:stall``, see ``control.py``), live
R registers after the instruction, ``!n`` for ``n`` bank-conflict cycles under the chosen model,
a bar marking the hottest loop, and the instruction coloured by class: memory cyan, FFMA/DFMA
green, HMMA/HGMMA bold magenta, barriers and waits red, branches yellow.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .model import SassInstr
from .stats import KernelStats, op_class

STYLES = {"memory": "cyan", "math": "green", "tensor": "bold magenta", "barrier": "bold red",
          "branch": "yellow", "other": ""}


def kernel_record(name: str, instrs: list[SassInstr], stats: KernelStats, entry: bool, arch: str) -> dict:
    """The JSON object of one function: name, arch, entry flag, stats and instructions."""
    recs = []
    for i, ins in enumerate(instrs):
        r = ins.to_dict()
        r["live"] = stats.live[i]
        r["bank_conflicts"] = stats.conflicts[i]
        recs.append(r)
    return {"name": name, "arch": arch, "entry": entry, "stats": stats.to_dict(), "instructions": recs}


def _instr_text(ins: SassInstr) -> Text:
    t = Text()
    if ins.guard:
        t.append(f"{ins.guard} ", style="dim")
    t.append(ins.op, style=STYLES[op_class(ins)] or None)
    ops = ins.body.split(" ", 2 if ins.guard else 1)[-1] if ins.operands else ""
    if ops:
        t.append(" " + ops)
    return t


def listing_table(instrs: list[SassInstr], stats: KernelStats) -> Table:
    """The instruction table of one function."""
    lp = stats.hot_loop
    tab = Table(box=None, show_header=True, header_style="bold", pad_edge=False, padding=(0, 1))
    for col, just in (("addr", "right"), ("ctrl", "left"), ("live", "right"), ("bank", "right"),
                      ("", "left"), ("instruction", "left")):
        tab.add_column(col, justify=just, no_wrap=True)
    for i, ins in enumerate(instrs):
        for lab in ins.labels:
            if lab.startswith(".L"):
                tab.add_row("", "", "", "", "", Text(f"{lab}:", style="dim"))
        in_loop = lp is not None and lp.start <= i <= lp.end
        conf = stats.conflicts[i]
        tab.add_row(f"{ins.address:04x}", ins.ctrl.notation(), str(stats.live[i]),
                    Text(f"!{conf}", style="red") if conf else "", Text("│", style="magenta") if in_loop else "",
                    _instr_text(ins))
    return tab


def summary(stats: KernelStats, top: int = 12) -> Table:
    """Key figures and the instruction mix."""
    tab = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2))
    tab.add_column(style="bold")
    tab.add_column()
    lp = stats.hot_loop
    rows = [
        ("instructions", str(stats.instructions)),
        ("hot loop", f"0x{lp.start_address:04x}-0x{lp.end_address:04x} ({lp.size} instructions)" if lp
         else "none (whole function used)"),
        ("hot-loop math share", f"{100 * stats.hot_loop_math_share:.1f} % of issue slots (FFMA/HMMA/HGMMA/DFMA)"),
        ("stall cycles", f"{stats.stall_cycles} (hot loop {stats.hot_loop_stall_cycles})"),
        (f"bank conflicts ({stats.bank_model.name}: {stats.bank_model.banks} banks, "
         f"{stats.bank_model.ports} ports)", f"{stats.bank_conflicts} cycles (hot loop {stats.hot_loop_bank_conflicts})"),
        ("reuse-flag rate", f"{100 * stats.reuse_rate:.1f} % of R source reads "
                            f"(hot loop {100 * stats.hot_loop_reuse_rate:.1f} %)"),
        ("live registers (peak)", str(stats.live_peak)),
        ("mix", ", ".join(f"{op} {n}" for op, n in list(stats.mix.items())[:top])),
    ]
    for k, v in rows:
        tab.add_row(k, v)
    return tab


def render(name: str, instrs: list[SassInstr], stats: KernelStats, arch: str, entry: bool,
           show_listing: bool = True) -> Group:
    """Heading, listing and summary of one function."""
    head = Text(f"{'kernel' if entry else 'function'} {name}", style="bold underline")
    head.append(f"  ({arch}; ctrl = wait:read:write:yield:stall)", style="dim")
    parts = [head]
    if show_listing:
        parts.append(listing_table(instrs, stats))
    parts.append(summary(stats))
    return Group(*parts, Text(""))
