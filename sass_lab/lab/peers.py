"""Library peers timed by the same harness as our kernels: cuBLAS SGEMM/HGEMM, cuDNN convolution.

A peer is a :class:`PeerRun` whose ``run(stream)`` enqueues one library call on the default stream
(PyTorch's and CuPy's default is the legacy stream 0, the one the harness records its events on).
FP32 peers run with TF32 off (``torch.backends.cuda.matmul.allow_tf32 = False``,
``torch.backends.cudnn.allow_tf32 = False``, or on PyTorch >= 2.9, which warns about those and refuses a
mix of old and new switches, ``fp32_precision = "ieee"`` for matmul and cuDNN convolution; CuPy's matmul
is plain SGEMM unless ``CUPY_TF32`` is set),
so they do the arithmetic our FFMA kernels do. A kernel's lab block may define ``peer(a, s, lib)``;
otherwise GEMM sizes (M, N, K) map to cuBLAS and convolution sizes (N, C, H, W, K, R, S) to cuDNN.

The residual blocks' peer is PyTorch's unfused block (``torch``: cuDNN grouped convolution, cuBLAS
1×1 through ``F.linear``, channels_last 16-bit, BN folded) and ``torch-compile``, the same function
through ``torch.compile`` (the lab block's ``peer_compiled``); :func:`torch_block` builds both.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError

PEERS = ("cublas", "cublas-hgemm", "cudnn", "torch", "torch-compile")


@dataclass(frozen=True, slots=True)
class PeerRun:
    """One library call ready to repeat; ``name`` goes in every report."""

    name: str
    lib: str
    run: Callable[[Any], None]


def find_lib(prefer: tuple[str, ...] = ("torch", "cupy")) -> Any:
    """The first importable GPU array library of ``prefer`` (UsageError naming them if none)."""
    for name in prefer:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise UsageError(f"no peer library: none of {', '.join(prefer)} can be imported",
                     hint="pip install torch (or cupy-cuda13x) to compare with cuBLAS/cuDNN")


def lib_name(lib: Any) -> str:
    return getattr(lib, "__name__", type(lib).__name__).split(".")[0]


def fp32_strict(lib: Any) -> None:
    """Turn TF32 off so FP32 peers do full FP32 arithmetic (PyTorch; CuPy needs nothing)."""
    if lib_name(lib) != "torch":
        return
    b = lib.backends
    if hasattr(b.cuda.matmul, "fp32_precision"):  # PyTorch >= 2.9: the new switches, not mixed with the old
        b.cuda.matmul.fp32_precision = "ieee"
        b.cudnn.conv.fp32_precision = "ieee"
    else:
        b.cuda.matmul.allow_tf32 = False
        b.cudnn.allow_tf32 = False
    b.cudnn.benchmark = True  # let cuDNN pick its fastest algorithm during warm-up


def to_lib(lib: Any, v: Any) -> Any:
    """A numpy array as a device array of ``lib`` (scalars unchanged)."""
    if not isinstance(v, np.ndarray) or v.ndim == 0:
        return v
    if lib_name(lib) == "torch":
        return lib.from_numpy(np.ascontiguousarray(v)).to("cuda")
    return lib.asarray(v)


def _random(lib: Any, shape: tuple[int, ...], dtype: str, rng: np.random.Generator) -> Any:
    host = rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    return to_lib(lib, host)


def gemm(lib: Any, m: int, n: int, k: int, dtype: str = "float32", rng: np.random.Generator | None = None) -> PeerRun:
    """C = A·B (row-major M×K by K×N) through cuBLAS; ``dtype`` float32 (SGEMM) or float16 (HGEMM)."""
    rng = rng or np.random.default_rng(0)
    fp32_strict(lib)
    a, b = _random(lib, (m, k), dtype, rng), _random(lib, (k, n), dtype, rng)
    c = _random(lib, (m, n), dtype, rng)
    kind = "SGEMM" if dtype == "float32" else "HGEMM"

    def run(stream: Any = None) -> None:
        lib.matmul(a, b, out=c)

    return PeerRun(f"cuBLAS {kind} ({lib_name(lib)})", lib_name(lib), run)


def conv2d(lib: Any, n: int, c: int, h: int, w: int, k: int, r: int = 3, s: int = 3, stride: int = 1,
           pad: int | None = None, rng: np.random.Generator | None = None) -> PeerRun:
    """An FP32 NCHW convolution through cuDNN (PyTorch only), TF32 off."""
    if lib_name(lib) != "torch":
        raise UsageError("the cuDNN peer needs PyTorch", hint="pip install torch")
    rng = rng or np.random.default_rng(0)
    fp32_strict(lib)
    x = _random(lib, (n, c, h, w), "float32", rng)
    wt = _random(lib, (k, c, r, s), "float32", rng)
    p = r // 2 if pad is None else pad
    conv = lib.nn.functional.conv2d

    def run(stream: Any = None) -> None:
        conv(x, wt, stride=stride, padding=p)

    return PeerRun(f"cuDNN conv2d FP32 ({lib_name(lib)})", "torch", run)


def _dims(s: dict[str, int], names: str, what: str) -> list[int]:
    low = {k.lower(): v for k, v in s.items()}
    missing = [x for x in names if x.lower() not in low]
    if missing:
        raise UsageError(f"the {what} peer needs sizes {', '.join(names)}; this kernel's size has "
                         f"{', '.join(s) or 'none'}",
                         hint="define peer(a, s, lib) in the kernel's %% lab block")
    return [int(low[x.lower()]) for x in names]


def make_peer(vs: str, spec: Any, s: dict[str, int], inputs: dict[str, Any], lib: Any = None) -> PeerRun:
    """The peer named ``vs`` for kernel ``spec`` at size ``s`` (inputs: the kernel's first input set)."""
    vs = vs.lower()
    if vs not in PEERS:
        raise UsageError(f"unknown peer '{vs}'", hint=f"choose one of {', '.join(PEERS)}")
    lib = lib or find_lib(("torch",) if vs in ("cudnn", "torch", "torch-compile") else ("torch", "cupy"))
    custom = spec.peer() if spec is not None else None
    if vs == "torch-compile":
        custom = spec.ns.get("peer_compiled") if spec is not None else None
        if custom is None:
            raise UsageError("this kernel has no torch.compile peer",
                             hint="define peer_compiled(a, s, lib) in its %% lab block")
    if custom is not None:
        fp32_strict(lib)
        dev = {name: to_lib(lib, v) for name, v in inputs.items()}
        label = {"cublas": "cuBLAS", "cublas-hgemm": "cuBLAS", "cudnn": "cuDNN", "torch": "PyTorch",
                 "torch-compile": "torch.compile"}[vs]

        def run(stream: Any = None) -> None:
            custom(dev, s, lib)

        return PeerRun(f"{label} via lab peer() ({lib_name(lib)})", lib_name(lib), run)
    if vs in ("cublas", "cublas-hgemm"):
        m, n, k = _dims(s, "MNK", "cuBLAS")
        return gemm(lib, m, n, k, "float32" if vs == "cublas" else "float16")
    n, c, h, w, k = _dims(s, "NCHWK", "cuDNN")
    low = {x.lower(): v for x, v in s.items()}
    return conv2d(lib, n, c, h, w, k, int(low.get("r", 3)), int(low.get("s", 3)), int(low.get("stride", 1)),
                  low.get("pad"))


# --------------------------------------------------------------------------- the residual blocks


def _storage(lib: Any, v: Any, dtype: str) -> Any:
    """The kernels' 16-bit storage as a float tensor (bf16 arrives as raw uint16 bits; a float tensor
    is used as it is, so the peers also run in float32 for checks)."""
    return v.view(lib.bfloat16) if v.dtype == lib.uint16 else v


def _fold(lib: Any, wt: Any, sb: Any, dt: Any) -> tuple[Any, Any]:
    """BN folded into a filter: (w·scale, bias), in the storage type."""
    sb = sb.float()
    shape = (-1,) + (1,) * (wt.dim() - 1)
    return (wt.float() * sb[:, 0].reshape(shape)).to(dt), sb[:, 1].to(dt)


def torch_block(kind: str, a: dict, s: dict, lib: Any, dtype: str, compiled: bool = False,
                _cache: dict = {}) -> Callable[[], Any]:  # noqa: B006 - the cache is meant to persist
    """PyTorch's unfused ConvFirst/MBConv block on a fused kernel's inputs ``a`` (torch tensors):
    x viewed NHWC (channels_last NCHW for the convolution), BN folded into each filter and bias,
    ``F.conv2d`` with groups = channels/8 (cuDNN), ``F.linear`` on the NHWC view (cuBLAS), SiLU and
    the residual as separate ops; ``compiled``: ``torch.compile`` of the same function (built once per
    input set; the first call compiles). Returns the block as a zero-argument callable."""
    key = (kind, dtype, compiled, id(a["x"]))
    if key in _cache:
        return _cache[key]
    fn = lib.nn.functional
    n, h, w, c = s["N"], s["H"], s["W"], s["C"]
    x = _storage(lib, a["x"], dtype).reshape(n, h, w, c)
    wg, bg = _fold(lib, _storage(lib, a["wg"], dtype).permute(0, 3, 1, 2), a["bng"], x.dtype)
    wg = wg.contiguous(memory_format=lib.channels_last)
    we, be = _fold(lib, _storage(lib, a["we"], dtype), a["bne"], x.dtype)
    wp, bp = _fold(lib, _storage(lib, a["wp"], dtype), a["bnp"], x.dtype)

    def grouped(t: Any, act: bool) -> Any:
        o = fn.conv2d(t.permute(0, 3, 1, 2), wg, bg, padding=1, groups=wg.shape[0] // 8).permute(0, 2, 3, 1)
        return fn.silu(o) if act else o

    def block() -> Any:
        if kind == "convfirst":
            e = fn.silu(fn.linear(grouped(x, False), we, be))
        else:
            e = grouped(fn.silu(fn.linear(x, we, be)), True)
        return x + fn.linear(e, wp, bp)

    if compiled:
        try:
            block = lib.compile(block)
            block()  # compile now: a backend that cannot build fails here, not inside the timing
        except Exception as e:  # noqa: BLE001 - inductor/triton missing or broken on this machine
            raise UsageError(f"torch.compile is not available here: {type(e).__name__}: {e}",
                             hint="the torch-compile peer needs a working inductor backend (triton)") from None
    _cache[key] = block
    return block


def torch_layer(kind: str, a: dict, s: dict, lib: Any, dtype: str, act: int = 0) -> Any:
    """One unfused layer in PyTorch on a layer kernel's inputs: ``grouped`` (cuDNN grouped 3×3 + BN,
    SiLU when act), ``expand`` (cuBLAS 1×1 + BN + SiLU) or ``project`` (cuBLAS 1×1 + BN + residual)."""
    fn = lib.nn.functional
    n, h, w, c = s["N"], s["H"], s["W"], s["C"]
    x = _storage(lib, a["x"], dtype).reshape(n, h, w, c)
    if kind == "grouped":
        wg, bg = _fold(lib, _storage(lib, a["wg"], dtype).permute(0, 3, 1, 2), a["bn"], x.dtype)
        o = fn.conv2d(x.permute(0, 3, 1, 2), wg.contiguous(memory_format=lib.channels_last), bg, padding=1,
                      groups=c // 8).permute(0, 2, 3, 1)
        return fn.silu(o) if act else o
    wt, b = _fold(lib, _storage(lib, a["w"], dtype), a["bn"], x.dtype)
    o = fn.linear(x, wt, b)
    if kind == "expand":
        return fn.silu(o)
    return o + _storage(lib, a["r"], dtype).reshape(o.shape)

