"""Kernel self-description: the ``%% lab`` block of a .sasm file.

A shipped kernel says how to launch and check itself in one Python block that the expander does not
emit::

    %% lab
    KERNEL = "saxpy"                       # entry name (default: the module's only kernel)
    TUNE = {"BM": [64, 128]}               # tuning space over .define names
    def valid(d): return True              # optional filter over a define combination
    SIZE = dict(n=1 << 24)                 # default benchmark size
    TEST_SIZES = [dict(n=1000)]            # small sizes, ragged ones included, for the emulator
    BENCH_SIZES = [dict(n=1 << 24)]        # optional sweep for `bench`
    OUTPUTS = ["y"]                        # parameters the kernel writes
    def grid(s, d): ...                    # -> (gx, gy, gz); s = size dict, d = define dict
    def block(s, d): ...                   # -> (bx, by, bz)
    def shared(s, d): return 0             # optional dynamic shared bytes
    def inputs(s, d, rng): ...             # -> {param: ndarray | np scalar}, outputs poisoned (NaN)
    def reference(a, s, d): ...            # -> {output: float64 ndarray}
    def flops(s): ...                      # useful FLOPs
    def nbytes(s): ...                     # compulsory bytes (each input read once, output written once)
    TOL = 1e-5                             # max relative error accepted (or def TOL(s, d): ...) ...
    TOL_WHY = "..."                        # ... and why that bound is right
    def scale(a, s, d): ...                # optional: {output: normaliser} for the relative error
                                           # (default: max |reference| of that output)
    PEER = "cublas"                        # optional: "cublas", "cudnn" or None
    def peer(a, s, lib): ...               # optional: run the peer on torch/cupy tensors
    %%

The block runs with ``np`` imported and every resolved ``.define`` bound as a variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..dsl.codegen import split_top
from ..errors import SourceError, Span

_LAB_RE = re.compile(r"^[ \t]*%%[ \t]*lab[ \t]*\n(.*?)^[ \t]*%%[ \t]*$", re.M | re.S)
_DEFINE_RE = re.compile(r"^[ \t]*\.define[ \t]+(.*)$", re.M)


@dataclass
class KernelSpec:
    """Everything the lab needs to verify, benchmark and tune one kernel."""

    file: str
    kernel: str | None
    defines: dict[str, Any]
    tune: dict[str, list]
    size: dict[str, int]
    test_sizes: list[dict[str, int]]
    bench_sizes: list[dict[str, int]]
    outputs: list[str]
    tol: float
    tol_why: str
    peer_name: str | None
    ns: dict[str, Any] = field(repr=False)

    def _fn(self, name: str) -> Callable:
        fn = self.ns.get(name)
        if fn is None:
            raise SourceError(f"the %% lab block of {self.file} defines no '{name}'",
                              hint=f"add `def {name}(...)` to the lab block (see docs/LAB.md)")
        return fn

    def grid(self, s: dict) -> tuple[int, int, int]:
        return _dim3(self._fn("grid")(s, self.defines))

    def block(self, s: dict) -> tuple[int, int, int]:
        return _dim3(self._fn("block")(s, self.defines))

    def shared(self, s: dict) -> int:
        fn = self.ns.get("shared")
        return int(fn(s, self.defines)) if fn else 0

    def inputs(self, s: dict, rng: np.random.Generator) -> dict[str, Any]:
        return self._fn("inputs")(s, self.defines, rng)

    def reference(self, args: dict, s: dict) -> dict[str, np.ndarray]:
        return self._fn("reference")(args, s, self.defines)

    def flops(self, s: dict) -> float:
        return float(self._fn("flops")(s))

    def nbytes(self, s: dict) -> float:
        return float(self._fn("nbytes")(s))

    def valid(self, d: dict) -> bool:
        fn = self.ns.get("valid")
        return bool(fn(d)) if fn else True

    def peer(self) -> Callable | None:
        return self.ns.get("peer")

    def tolerance(self, s: dict) -> float:
        """``TOL`` for size ``s``: a number, or ``TOL(s, d)`` when the bound depends on the size."""
        t = self.ns.get("TOL", self.tol)
        return float(t(s, self.defines)) if callable(t) else float(t)

    def scale(self, args: dict, s: dict) -> dict[str, Any] | None:
        """Per-output normalisers of the relative error (``scale`` in the block), or None."""
        fn = self.ns.get("scale")
        return fn(args, s, self.defines) if fn else None

    def kernel_name(self, available: list[str]) -> str:
        """``KERNEL``, or the module's only kernel when the block names none."""
        if self.kernel:
            return str(self.kernel)
        if len(available) == 1:
            return available[0]
        raise SourceError(f"{Path(self.file).name} has {len(available)} kernels and its lab block names "
                          "none", hint="set KERNEL = \"name\" in the %% lab block")

    def combinations(self) -> list[dict[str, Any]]:
        """Every define combination of ``TUNE`` (over the current defines) that ``valid`` accepts."""
        import itertools

        names = list(self.tune)
        out = []
        for values in itertools.product(*(self.tune[n] for n in names)):
            d = dict(self.defines)
            d.update(zip(names, values))
            if self.valid(d):
                out.append({n: d[n] for n in names})
        return out

    def with_size(self, overrides: dict[str, int] | None) -> dict[str, int]:
        s = dict(self.size)
        for k, v in (overrides or {}).items():
            if s and k not in s:
                raise SourceError(f"unknown size name '{k}' for {Path(self.file).name}",
                                  hint=f"valid names: {', '.join(sorted(s))}")
            s[k] = int(v)
        return s


def _dim3(v) -> tuple[int, int, int]:
    t = tuple(int(x) for x in (v if isinstance(v, (tuple, list)) else (v,)))
    return (t + (1, 1, 1))[:3]


def lab_source(text: str) -> tuple[str, int] | None:
    """The lab block's text and the 1-based line of its first body line, or None."""
    m = _LAB_RE.search(text)
    if not m:
        return None
    return m.group(1), text.count("\n", 0, m.start(1)) + 1


def default_defines(text: str) -> dict[str, Any]:
    """The ``.define NAME = value, ...`` defaults of a source, evaluated as Python literals."""
    out: dict[str, Any] = {}
    for m in _DEFINE_RE.finditer(text):
        for part in split_top(m.group(1).split("//")[0]):
            if "=" in part:
                k, v = part.split("=", 1)
                try:
                    out[k.strip()] = eval(v.strip(), {"__builtins__": {}}, dict(out))
                except Exception:  # noqa: BLE001 - left to the expander to report
                    out[k.strip()] = v.strip()
    return out


def resolved_defines(text: str, file: str, defines: dict[str, Any]) -> dict[str, Any]:
    """Every ``.define`` as the expander resolves it (includes, ``%`` Python, -D overrides coerced
    like the command line's); an unknown override is the expander's error."""
    from ..dsl.expand import expand

    _, resolved = expand(text, file, defines)
    return dict(resolved)


def load_spec(path: str | Path, **defines: Any) -> KernelSpec:
    """Read the ``%% lab`` block of a .sasm file, with ``defines`` overriding the defaults."""
    path = Path(path)
    text = path.read_text()
    found = lab_source(text)
    if found is None:
        raise SourceError(f"{path} has no '%% lab' block, so it cannot describe how to run itself",
                          span=Span(str(path), 1, 1),
                          hint="add a %% lab ... %% block (see docs/LAB.md)")
    body, first_line = found
    d = resolved_defines(text, str(path), defines)
    ns: dict[str, Any] = {"np": np, "__name__": f"lab:{path.name}"}
    ns.update(d)
    try:
        code = compile("\n" * (first_line - 1) + body, str(path), "exec")
        exec(code, ns)
    except Exception as e:  # noqa: BLE001 - user code: report at its .sasm line
        line = getattr(e, "lineno", None) or _tb_line(e, str(path)) or first_line
        src = text.splitlines()[line - 1] if 0 < line <= text.count("\n") + 1 else ""
        raise SourceError(f"the lab block raised {type(e).__name__}: {e}",
                          span=Span(str(path), line, 1, None, src),
                          hint="fix the Python in the %% lab block") from None
    return KernelSpec(
        file=str(path), kernel=ns.get("KERNEL"), defines=d, tune=dict(ns.get("TUNE", {})),
        size=dict(ns.get("SIZE", {})), test_sizes=list(ns.get("TEST_SIZES", [])),
        bench_sizes=list(ns.get("BENCH_SIZES", [])) or ([dict(ns["SIZE"])] if "SIZE" in ns else []),
        outputs=list(ns.get("OUTPUTS", [])), tol=_static_tol(ns.get("TOL", 1e-5)),
        tol_why=str(ns.get("TOL_WHY", "")), peer_name=ns.get("PEER"), ns=ns)


def _static_tol(t) -> float:
    return float("nan") if callable(t) else float(t)


def _tb_line(e: BaseException, filename: str) -> int | None:
    tb, line = e.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def parse_size(text: str | None) -> dict[str, int]:
    """``"M=67,N=45,K=33"`` -> ``{"M": 67, "N": 45, "K": 33}`` (clear error on bad input)."""
    from ..errors import UsageError

    out: dict[str, int] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise UsageError(f"bad --size item '{part}'", hint="use NAME=VALUE pairs: --size M=67,N=45")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = int(v.strip(), 0)
        except ValueError:
            raise UsageError(f"--size {k.strip()} must be an integer, got '{v.strip()}'") from None
    return out
