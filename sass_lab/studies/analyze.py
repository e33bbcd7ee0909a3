"""The seed paper's analysis tools ("On the Efficiency of Convolutional Neural Networks", Lavin 2024).

- Efficiency gap: each kernel/layer/model at its actual latency and at its ideal latency
  (FLOPs / peak); E = ideal / actual, the gap is 1 / E.
- Waterline: each kernel's floor is max(FLOPs / peak, compulsory bytes / bandwidth); the waterline is
  the sum of floors; time above it is kernel quality; a floor set by memory calls for fusion.
- Fusion what-if: fusing kernels i..j keeps their FLOPs but their compulsory bytes become the first
  kernel's external inputs, every kernel's weights, and the last kernel's outputs (intermediates stay
  on chip).

Layers come from a network description (JSON, see ``networks/``) or from stored results.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

NETWORKS = Path(__file__).with_name("networks")


@dataclass(frozen=True)
class Layer:
    """One kernel in a sequence: FLOPs and compulsory bytes split into inputs/weights/outputs."""

    name: str
    flops: float
    in_bytes: float
    weight_bytes: float
    out_bytes: float
    time_s: float | None = None  # measured latency, when known
    kind: str = ""

    @property
    def bytes(self) -> float:
        return self.in_bytes + self.weight_bytes + self.out_bytes


@dataclass(frozen=True)
class Floor:
    layer: Layer
    compute_s: float
    memory_s: float

    @property
    def floor_s(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        return "memory" if self.memory_s > self.compute_s else "compute"

    @property
    def efficiency(self) -> float | None:
        """Achieved fraction of the compute peak (ideal latency / actual)."""
        t = self.layer.time_s
        return self.compute_s / t if t else None

    @property
    def above_s(self) -> float | None:
        t = self.layer.time_s
        return t - self.floor_s if t is not None else None


@dataclass(frozen=True)
class Waterline:
    floors: tuple[Floor, ...]
    peak_flops: float
    bandwidth: float

    @property
    def waterline_s(self) -> float:
        return sum(f.floor_s for f in self.floors)

    @property
    def ideal_s(self) -> float:
        return sum(f.compute_s for f in self.floors)

    @property
    def actual_s(self) -> float | None:
        ts = [f.layer.time_s for f in self.floors]
        return None if any(t is None for t in ts) else sum(ts)

    @property
    def memory_share(self) -> float:
        """Fraction of the waterline set by memory-bound floors."""
        w = self.waterline_s
        return sum(f.floor_s for f in self.floors if f.bound == "memory") / w if w else 0.0


def waterline(layers: list[Layer], peak_flops: float, bandwidth: float) -> Waterline:
    """Floors per layer and their sum, against ``peak_flops`` (FLOP/s) and ``bandwidth`` (B/s)."""
    if peak_flops <= 0 or bandwidth <= 0:
        raise ValueError("peak_flops and bandwidth must be positive")
    return Waterline(tuple(Floor(ly, ly.flops / peak_flops, ly.bytes / bandwidth) for ly in layers),
                     peak_flops, bandwidth)


def fuse(layers: list[Layer], first: int, last: int, name: str | None = None) -> list[Layer]:
    """Replace layers[first..last] (inclusive) by one fused layer with recomputed compulsory bytes."""
    if not 0 <= first <= last < len(layers):
        raise ValueError(f"fusion range {first}..{last} is outside 0..{len(layers) - 1}")
    group = layers[first:last + 1]
    fused = Layer(name=name or "+".join(ly.name for ly in group),
                  flops=sum(ly.flops for ly in group), in_bytes=group[0].in_bytes,
                  weight_bytes=sum(ly.weight_bytes for ly in group), out_bytes=group[-1].out_bytes,
                  time_s=None, kind="fused")
    return [*layers[:first], fused, *layers[last + 1:]]


def efficiency_gap(layers: list[Layer], peak_flops: float) -> list[tuple[Layer, float, float | None]]:
    """(layer, ideal latency, gap = actual / ideal) for each layer; gap None without a time."""
    out = []
    for ly in layers:
        ideal = ly.flops / peak_flops
        out.append((ly, ideal, (ly.time_s / ideal) if (ly.time_s and ideal) else None))
    return out


# --------------------------------------------------------------------------- network descriptions

def conv_layer(name: str, n: int, c: int, h: int, w: int, k: int, r: int = 3, s: int = 3,
               stride: int = 1, pad: int | None = None, groups: int = 1, dtype_bytes: int = 4,
               time_s: float | None = None) -> Layer:
    """A convolution layer; useful FLOPs 2·N·K·P·Q·(C/groups)·R·S as maxDNN counts them."""
    pad = (r // 2) if pad is None else pad
    p = (h + 2 * pad - r) // stride + 1
    q = (w + 2 * pad - s) // stride + 1
    flops = 2.0 * n * k * p * q * (c // groups) * r * s
    return Layer(name, flops, n * c * h * w * dtype_bytes, k * (c // groups) * r * s * dtype_bytes,
                 n * k * p * q * dtype_bytes, time_s, "conv")


def linear_layer(name: str, n: int, cin: int, cout: int, dtype_bytes: int = 4,
                 time_s: float | None = None) -> Layer:
    return Layer(name, 2.0 * n * cin * cout, n * cin * dtype_bytes, cin * cout * dtype_bytes,
                 n * cout * dtype_bytes, time_s, "linear")


def elementwise_layer(name: str, elems: int, inputs: int = 1, flops_per: float = 1.0,
                      dtype_bytes: int = 4, time_s: float | None = None, weights: int = 0) -> Layer:
    return Layer(name, flops_per * elems, inputs * elems * dtype_bytes, weights * dtype_bytes,
                 elems * dtype_bytes, time_s, "elementwise")


def pool_layer(name: str, n: int, c: int, h: int, w: int, k: int = 2, dtype_bytes: int = 4,
               time_s: float | None = None) -> Layer:
    out = n * c * (h // k) * (w // k)
    return Layer(name, float(out * k * k), n * c * h * w * dtype_bytes, 0, out * dtype_bytes, time_s, "pool")


_BUILDERS = {"conv": conv_layer, "linear": linear_layer, "elementwise": elementwise_layer,
             "pool": pool_layer}


def network_spec(name_or_path: str) -> dict:
    """The JSON description of a shipped network (``vgg16``, ``convnext_block``, ``convfirst``,
    ``mbconv``) or of a JSON file."""
    from ..errors import UsageError
    from ..files import read_text

    p = Path(name_or_path)
    if not p.exists():
        p = NETWORKS / f"{name_or_path}.json"
    if not p.exists():
        shipped = ", ".join(sorted(x.stem for x in NETWORKS.glob("*.json")))
        raise UsageError(f"no network '{name_or_path}'", hint=f"shipped networks: {shipped}; or give a .json")

    text = read_text(p)
    try:
        return json.loads(text)
    except ValueError as e:
        raise UsageError(f"{p} is not a network description: {e}",
                         hint='write {"layers": [{"op": "conv", "name": ..., ...}, ...]}; see docs/LAB.md') from None


def load_network(name_or_path: str, batch: int = 1, spec: dict | None = None) -> list[Layer]:
    """Layers of a network description.

    The JSON is ``{"layers": [{"op": "conv", "name": ..., <builder args, "n" defaults to batch>}]}``, or
    ``{"block": {"kind": "convfirst" | "mbconv", "c": .., "h": .., "w": .., "exp": 4}}`` for a residual
    block whose unfused layers come from the planner (studies/planner.py). An optional
    ``"fusion": {"first": name, "last": name}`` names the range a fused kernel (or a what-if) covers.
    """
    from ..errors import UsageError

    spec = spec if spec is not None else network_spec(name_or_path)
    try:
        if "block" in spec:
            return block_layers(spec["block"], batch)
        layers = []
        for item in spec["layers"]:
            item = dict(item)
            op = item.pop("op")
            if op in ("conv", "linear", "pool") and "n" not in item:
                item["n"] = batch
            if op == "elementwise" and "elems_per_image" in item:
                item["elems"] = item.pop("elems_per_image") * batch
            if "time_ms" in item:
                item["time_s"] = item.pop("time_ms") / 1e3
            layers.append(_BUILDERS[op](**item))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        why = f"unknown key {e}" if isinstance(e, KeyError) else str(e)
        raise UsageError(f"{name_or_path} is not a network description: {why}",
                         hint='write {"layers": [{"op": "conv", "name": ..., ...}, ...]} '
                              f"(ops: {', '.join(_BUILDERS)}) or {{\"block\": ...}}; see docs/LAB.md") from None
    return layers


def traffic_layer(t, kind: str = "conv") -> Layer:
    """A planner ``Traffic`` (executed FLOPs, predicted DRAM bytes) as a Layer."""
    return Layer(t.name, t.flops, t.in_bytes, t.weight_bytes, t.out_bytes, None, kind)


def block_layers(block: dict, batch: int = 1) -> list[Layer]:
    """The unfused layers of a residual block (grouped 3×3, 1×1 expansion, 1×1 projection; 16-bit)."""
    from .planner import unfused_traffic

    return [traffic_layer(t) for t in unfused_traffic(block["kind"], batch, block["h"], block["w"], block["c"],
                                                      block.get("exp", 4))]


def with_times(layers: list[Layer], times: dict[str, float]) -> list[Layer]:
    """Attach measured times (seconds) by layer name."""
    return [replace(ly, time_s=times.get(ly.name, ly.time_s)) for ly in layers]


def constant_efficiency_lines(efficiencies=(1.0, 0.5, 0.25, 0.1), peak_flops: float = 1.0,
                              flops_range=(1e6, 1e13)) -> dict[float, list[tuple[float, float]]]:
    """Points (latency, flops) of lines of constant efficiency for the gap plot (log-log)."""
    lo, hi = flops_range
    pts = [lo * (hi / lo) ** (i / 20) for i in range(21)]
    return {e: [(f / (e * peak_flops), f) for f in pts] for e in efficiencies}


def log_ticks(lo: float, hi: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
