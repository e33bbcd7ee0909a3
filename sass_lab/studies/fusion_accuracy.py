"""Fused vs unfused vs float64: the residual blocks run both ways on the emulator, on the same inputs.

``run_fused`` launches kernels_asm/{convfirst,mbconv}_block.sasm; ``run_unfused`` chains the layer
kernels (grouped_conv3x3.sasm, pointwise_bn.sasm with EPI = "silu" then "residual") through 16-bit
intermediates, as the unfused network stores them in DRAM. ``accuracy_rows`` measures both against
the float64 block (blocks.forward) in units of the error scale (blocks.error_scale) and of |y|.
docs/ACCURACY.md shows the table (tools/accuracy_blocks.py prints it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..paths import KERNELS
from . import blocks


def _launch(file: str, size: dict, defines: dict, args: dict) -> dict:
    """Assemble and emulate one lab kernel with ``args`` (written back in place)."""
    from ..api import assemble_file
    from ..lab.spec import load_spec
    from ..lab.verify import order_args

    spec, d = load_spec(KERNELS / file, defines).for_size(size, defines)
    k = assemble_file(KERNELS / file, defines=d)[spec.kernel_name([])]
    k.emulate(spec.grid(size), spec.block(size), *order_args(k, args), dynamic_shared=spec.shared(size))
    return args


def run_fused(kind: str, size: dict, args: dict, dtype: str = "f16") -> np.ndarray:
    a = copy.deepcopy(args)
    _launch(f"{kind}_block.sasm", size, {"DTYPE": dtype}, a)
    return blocks.load(a["y"], dtype)


def run_unfused(kind: str, size: dict, args: dict, dtype: str = "f16") -> np.ndarray:
    """The block as three layer kernels on the fused kernel's arguments."""
    n, h, w, c = size["N"], size["H"], size["W"], size["C"]
    ce = args["we"].shape[0]
    px = np.uint32(n * h * w)

    def grouped(x, ch, act):
        a = {"x": x, "wg": args["wg"], "bn": args["bng"], "y": blocks.poisoned((n, h, w, ch), dtype),
             "hin": np.uint32(h), "win": np.uint32(w), "cin": np.uint32(ch)}
        return _launch("grouped_conv3x3.sasm", dict(N=n, H=h, W=w, C=ch), {"DTYPE": dtype, "ACT": act}, a)["y"]

    def pointwise(x, wt, bn, cin, cout, epi, r=None):
        a = {"x": x, "w": wt, "bn": bn, "r": r if r is not None else np.zeros(1, np.uint16),
             "y": blocks.poisoned((n, h, w, cout), dtype), "npix": px, "cin": np.uint32(cin), "cout": np.uint32(cout)}
        return _launch("pointwise_bn.sasm", dict(N=n, H=h, W=w, C=cin, K=cout), {"DTYPE": dtype, "EPI": epi}, a)["y"]

    x = args["x"]
    if kind == "convfirst":
        g = grouped(x, c, 0)
        e = pointwise(g, args["we"], args["bne"], c, ce, "silu")
    else:
        e0 = pointwise(x, args["we"], args["bne"], c, ce, "silu")
        e = grouped(e0, ce, 1)
    y = pointwise(e, args["wp"], args["bnp"], ce, c, "residual", x)
    return blocks.load(y, dtype)


@dataclass(frozen=True)
class AccuracyRow:
    kind: str
    dtype: str
    size: dict
    fused: float            # max |err| / error scale, in units of u (the bound is 1.01)
    unfused: float
    fused_rel: float        # max |err| / max |y|
    unfused_rel: float
    equal: float            # fraction of outputs where fused and unfused agree bit for bit
    fp32_inter: float       # the float64 model rounding y only (intermediates kept in fp32), err/(u·s)


def accuracy_rows(kind: str, sizes: list[dict], dtype: str = "f16", seed: int = 0) -> list[AccuracyRow]:
    """Fused and unfused against float64 at each size, on fresh random inputs."""
    from ..lab.spec import load_spec

    rows = []
    for size in sizes:
        spec, _ = load_spec(KERNELS / f"{kind}_block.sasm", {"DTYPE": dtype}).for_size(size, {"DTYPE": dtype})
        args = spec.inputs(size, np.random.default_rng(seed))
        x, p = blocks.load(args["x"], dtype), blocks.block_params(args, dtype)
        exact = blocks.forward(kind, x, p)
        scale = blocks.error_scale(kind, x, p, dtype)
        u = blocks.UNIT[dtype]
        fu, un = run_fused(kind, size, args, dtype), run_unfused(kind, size, args, dtype)
        top = np.abs(exact).max()
        y32 = blocks.forward(kind, x, p, dtype, intermediates=False)
        rows.append(AccuracyRow(kind, dtype, dict(size), float(np.max(np.abs(fu - exact) / scale) / u),
                                float(np.max(np.abs(un - exact) / scale) / u), float(np.abs(fu - exact).max() / top),
                                float(np.abs(un - exact).max() / top), float(np.mean(fu == un)),
                                float(np.max(np.abs(y32 - exact) / scale) / u)))
    return rows
