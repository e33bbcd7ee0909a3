"""Values written for people: times in µs/ms, sizes in KB, shares in %, and the efficiency figures of
a kernel summary (``lab.report.KernelSummary``). Every table and the console format through here."""

from __future__ import annotations

from typing import Any

DASH = "-"

# people's names for the resource and occupancy fields the model hands over
LABELS = {
    "registers": "registers per thread", "pressure_peak": "register pressure (peak)",
    "shared_static": "static shared memory", "shared_dynamic": "dynamic shared memory",
    "local_bytes": "local memory per thread", "stack_bytes": "stack per thread",
    "spill_stores": "spill stores per thread", "spill_loads": "spill loads per thread",
    "const_bytes": "constant banks", "barriers": "named barriers", "max_threads": "max threads per block",
    "reqntid": "required block shape", "reserved_shared": "shared memory the driver reserves",
    "maxnreg": "register cap ptxas honoured", "param_bytes": "parameter block", "code_bytes": "SASS code size",
    "cluster": "cluster shape", "block": "threads per block", "blocks_per_sm": "blocks per SM",
    "warps_per_sm": "warps per SM", "percent": "occupancy", "limiters": "limited by",
}
_BYTES = {"shared_static", "shared_dynamic", "local_bytes", "stack_bytes", "spill_stores", "spill_loads",
          "reserved_shared", "param_bytes", "code_bytes"}


def size_bytes(n: float | None) -> str:
    if n is None:
        return DASH
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KB"
    return f"{int(n)} B"


def seconds(s: float | None) -> str:
    """``12.3 µs``, ``4.56 ms``, ``1.2 s``."""
    if s is None:
        return DASH
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def percent(x: float | None, digits: int = 1) -> str:
    return DASH if x is None else f"{x * 100:.{digits}f} %"


def ratio(x: float | None) -> str:
    return DASH if x is None else f"{x:.2f}×"


def flops(x: float | None) -> str:
    """FLOP/s: ``12.3 TFLOP/s``, ``456 GFLOP/s``."""
    if x is None:
        return DASH
    return f"{x / 1e12:.2f} TFLOP/s" if x >= 1e12 else f"{x / 1e9:.1f} GFLOP/s"


def words(items: Any) -> str:
    """A list of names as words: ``registers, shared``; nothing as a dash."""
    items = list(items or ())
    return ", ".join(str(i) for i in items) if items else DASH


def shape(dims: Any) -> str:
    dims = tuple(dims or ())
    return "×".join(map(str, dims)) if dims else DASH


def size_dict(d: dict | None) -> str:
    """``M=64 N=128`` (a problem size or a define set)."""
    return " ".join(f"{k}={v}" for k, v in (d or {}).items()) or DASH


def resource(name: str, value: Any) -> tuple[str, str]:
    """(label, value) of one resource or occupancy field for people."""
    label = LABELS.get(name, name.replace("_", " "))
    if value is None:
        return label, DASH
    if name in _BYTES:
        return label, size_bytes(value)
    if name == "percent":
        return label, f"{value:.0f} %"
    if name == "limiters":
        return label, words(value)
    if name in ("reqntid", "cluster"):
        return label, shape(value)
    if name == "const_bytes":
        return label, words(f"bank {b}: {size_bytes(n)}" for b, n in sorted(value.items())) if value else DASH
    if name == "maxnreg" and value in (0, 255):
        return label, "none"
    return label, str(value)


def static_eff(s: Any) -> str:
    """The static efficiency of a kernel summary: the math share of the main loop when it is
    compute-bound, the global bytes per instruction issued when it is memory-bound."""
    if s.static_eff is None:
        return DASH
    if s.bound == "memory":
        return f"{s.bytes_per_instr:.2f} B/instr"
    return f"{s.static_eff * 100:.1f} % math"


def measured(s: Any) -> str:
    """The best stored run against the peak that bounds the kernel."""
    if s.best_efficiency is None:
        return DASH
    return f"{s.best_efficiency * 100:.1f} % {'BW' if s.bound == 'memory' else 'FP32'}"


def limiter(s: Any) -> str:
    """What limits a kernel: its bound and its occupancy limiter."""
    parts = [s.bound] if s.bound else []
    parts += [f"occ: {words(s.limiters)}"] if s.limiters else []
    return ", ".join(parts) or DASH
