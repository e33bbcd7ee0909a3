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
    PEAK = "fp32"                          # optional: the efficiency's peak, "fp32" or "bf16" (tensor cores)
    def peer(a, s, lib): ...               # optional: run the peer on torch/cupy tensors
    def size_defines(s): ...               # optional: {define: value} a size fixes (compile-time C)
    def decode(o, s, d): ...               # optional: {output: numbers} from raw outputs (bf16 bits)
    %%

The block runs with ``np`` imported and every resolved ``.define`` bound as a variable.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..dsl.codegen import split_top
from ..dsl.limits import current as current_limits
from ..dsl.limits import how_to_raise
from ..errors import SasmError, SourceError, Span
from ..usercode import OverBudget, contained, is_user_exit

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
    text: str = field(default="", repr=False)  # the .sasm source, to show the line of an error

    def _fn(self, name: str) -> Callable:
        fn = self.ns.get(name)
        if fn is None:
            raise SourceError(f"the %% lab block of {self.file} defines no '{name}'",
                              hint=f"add `def {name}(...)` to the lab block (see docs/LAB.md)")
        return fn

    def at(self, name: str, message: str, hint: str) -> SourceError:
        """An error about the lab block's ``name`` (a function or a constant) at the line that
        defines it (the file alone when no line does)."""
        lines = self.text.splitlines()
        pat = re.compile(rf"^\s*(def\s+{name}\b|{name}\s*=)")
        line = next((i + 1 for i, t in enumerate(lines) if pat.match(t)), None)
        if line is None:
            return SourceError(f"{Path(self.file).name}: {message}", hint=hint)
        return SourceError(message, span=Span(self.file, line, 1, None, lines[line - 1]), hint=hint)

    def _call(self, name: str, *args: Any, fn: Callable | None = None, want: type | None = None) -> Any:
        """Call the lab block's ``name`` (user code): an exception in it, or a result of the wrong
        type, is a SourceError at its line in the .sasm file."""
        fn = fn or self._fn(name)
        box = contained()  # interpreter state it changes is put back; SystemExit is its error
        try:
            with box:
                out = fn(*args)
        except SasmError:
            raise
        except Exception as e:  # noqa: BLE001 - user code: report it at its .sasm line
            err = self._error(f"{name}() in the lab block raised {type(e).__name__}: {e}",
                              _tb_line(e, self.file), fn)
            if isinstance(e, MemoryError) or "dimension exceeded" in str(e):  # numpy: a size too large
                err.hint = "the problem size needs more memory than this machine has: use a smaller --size"
            raise err from None
        except BaseException as e:
            if not is_user_exit(e, box):
                raise
            raise self._error(f"{name}() in the lab block raised {type(e).__name__}: {e} (a kernel file "
                              "cannot end the tool)", _tb_line(e, self.file), fn) from None
        if want is not None and not isinstance(out, want):
            raise self._error(f"{name}() in the lab block returned {type(out).__name__}, "
                              f"not a {want.__name__}", None, fn)
        return out

    def _error(self, message: str, line: int | None, fn: Callable | None) -> SourceError:
        code = getattr(fn, "__code__", None)
        if line is None and code is not None and code.co_filename == self.file:
            line = code.co_firstlineno
        lines = self.text.splitlines()
        src = lines[line - 1] if line and 0 < line <= len(lines) else ""
        span = Span(self.file, line, 1, None, src) if line else None
        return SourceError(message, span=span, hint="fix the Python in the %% lab block (see docs/LAB.md)")

    def _value(self, name: str, *args: Any, convert: Callable) -> Any:
        """``convert(name(*args))``, with a bad result reported at ``name``'s definition."""
        fn = self._fn(name)
        out = self._call(name, *args, fn=fn)
        try:
            return convert(out)
        except (TypeError, ValueError, OverflowError) as e:
            raise self._error(f"{name}() in the lab block returned {out!r}: {e}", None, fn) from None

    def grid(self, s: dict) -> tuple[int, int, int]:
        return self._value("grid", s, self.defines, convert=_dim3)

    def block(self, s: dict) -> tuple[int, int, int]:
        return self._value("block", s, self.defines, convert=_dim3)

    def shared(self, s: dict) -> int:
        fn = self.ns.get("shared")
        return self._value("shared", s, self.defines, convert=int) if fn else 0

    def inputs(self, s: dict, rng: np.random.Generator) -> dict[str, Any]:
        return self._call("inputs", s, self.defines, rng, want=dict)

    def reference(self, args: dict, s: dict) -> dict[str, np.ndarray]:
        return self._call("reference", args, s, self.defines, want=dict)

    def flops(self, s: dict) -> float:
        return self._value("flops", s, convert=float)

    def nbytes(self, s: dict) -> float:
        return self._value("nbytes", s, convert=float)

    def valid(self, d: dict) -> bool:
        fn = self.ns.get("valid")
        return bool(self._call("valid", d, fn=fn)) if fn else True

    def peer(self) -> Callable | None:
        return self.ns.get("peer")

    def decode(self, outputs: dict[str, Any], s: dict) -> dict[str, Any]:
        """Outputs as numbers (``def decode(o, s, d)`` in the block: e.g. bf16 kept as raw uint16
        bits); unchanged when the block has none."""
        fn = self.ns.get("decode")
        return dict(self._call("decode", outputs, s, self.defines, want=dict)) if fn else outputs

    def size_defines(self, s: dict) -> dict[str, Any]:
        """Defines a size fixes (``def size_defines(s)`` in the block: a kernel specialised at compile
        time on a size, such as the fused blocks on C); empty when the block has none."""
        fn = self.ns.get("size_defines")
        return dict(self._call("size_defines", s, want=dict)) if fn else {}

    def tolerance(self, s: dict) -> float:
        """``TOL`` for size ``s``: a number, or ``TOL(s, d)`` when the bound depends on the size."""
        t = self.ns.get("TOL", self.tol)
        if callable(t):
            return self._value("TOL", s, self.defines, convert=_tol_value)
        return _tol_value(t)

    def scale(self, args: dict, s: dict) -> dict[str, Any] | None:
        """Per-output normalisers of the relative error (``scale`` in the block), or None."""
        fn = self.ns.get("scale")
        return self._call("scale", args, s, self.defines, want=dict) if fn else None

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

    def cover(self) -> list[dict[str, Any]]:
        """Valid combinations, chosen greedily, until every value of every ``TUNE`` define has
        appeared at least once beyond the defaults (a cheap cover of the space for verification)."""
        combos = self.combinations()
        seen = {(k, repr(self.defines[k])) for k in self.tune}
        want = {(k, repr(v)) for c in combos for k, v in c.items()}
        out = []
        while not want <= seen:
            best = max(combos, key=lambda c: len({(k, repr(v)) for k, v in c.items()} - seen))
            out.append(best)
            seen |= {(k, repr(v)) for k, v in best.items()}
        return out

    def for_size(self, s: dict, defines: dict[str, Any] | None = None) -> tuple[KernelSpec, dict[str, Any]]:
        """The spec and the defines to assemble with at size ``s``: the size's ``size_defines`` over
        ``defines`` (the user's -D). A -D that contradicts the size is a UsageError."""
        from ..dsl.expand import coerce_define
        from ..errors import UsageError

        defines = dict(defines or {})
        fixed = self.size_defines(s)
        for k, v in fixed.items():
            if k in defines and coerce_define(defines[k]) != v:
                raise UsageError(f"-D {k}={defines[k]} contradicts the size {k}={v} of {Path(self.file).name}",
                                 hint=f"the size sets {k} (its %% lab block's size_defines); drop -D {k}")
        if not fixed:
            return self, defines
        merged = {**defines, **fixed}
        if all(self.defines.get(k) == v for k, v in fixed.items()):
            return self, merged
        return load_spec(self.file, merged), merged

    def with_size(self, overrides: dict[str, int] | None) -> dict[str, int]:
        s = dict(self.size)
        for k, v in (overrides or {}).items():
            if s and k not in s:
                raise SourceError(f"unknown size name '{k}' for {Path(self.file).name}",
                                  hint=f"valid names: {', '.join(sorted(s))}")
            s[k] = int(v)
        return s


def _dim3(v) -> tuple[int, int, int]:
    """1 to 3 whole numbers (2.0 is 2; 1.5 is an error, not a block silently cut to 1)."""
    t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if not 1 <= len(t) <= 3:
        raise ValueError(f"a launch shape has 1 to 3 numbers, not {len(t)}")
    out = []
    for x in t:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise TypeError(f"{x!r} is not a number")
        if float(x) != int(x):
            raise ValueError(f"{x!r} is not a whole number")
        out.append(int(x))
    return (tuple(out) + (1, 1, 1))[:3]  # type: ignore[return-value]


def lab_source(text: str) -> tuple[str, int] | None:
    """The lab block's text and the 1-based line of its first body line, or None."""
    m = _LAB_RE.search(text)
    if not m:
        return None
    return m.group(1), text.count("\n", 0, m.start(1)) + 1


def default_defines(text: str) -> dict[str, Any]:
    """The ``.define NAME = value, ...`` defaults of a source, evaluated as Python expressions.

    Empty builtins do not make this a sandbox (``().__class__`` reaches everything): it is the
    user's code, run :func:`~sass_lab.usercode.contained` like the rest of the file.
    """
    out: dict[str, Any] = {}
    for m in _DEFINE_RE.finditer(text):
        for part in split_top(m.group(1).split("//")[0]):
            if "=" in part:
                k, v = part.split("=", 1)
                box = contained(budget=current_limits().seconds)
                try:
                    with box:
                        out[k.strip()] = eval(v.strip(), {"__builtins__": {}}, dict(out))
                except (Exception, OverBudget):  # left to the expander to report
                    out[k.strip()] = v.strip()
                except BaseException as e:
                    if not is_user_exit(e, box):
                        raise
                    out[k.strip()] = v.strip()
    return out


def resolved_defines(text: str, file: str, defines: Mapping[str, Any]) -> dict[str, Any]:
    """Every ``.define`` as the expander resolves it (includes, ``%`` Python, -D overrides coerced
    like the command line's); an unknown override is the expander's error."""
    from ..dsl.expand import expand

    _, resolved = expand(text, file, dict(defines))
    return dict(resolved)


def read_lab(path: str | Path) -> tuple[str, str, int]:
    """(file text, lab block, its first line); a SourceError when the file has no lab block."""
    from ..files import read_source

    text = read_source(Path(path))
    found = lab_source(text)
    if found is None:
        raise SourceError(f"{path} has no '%% lab' block, so it cannot describe how to run itself",
                          span=Span(str(path), 1, 1),
                          hint="add a %% lab ... %% block (see docs/LAB.md)")
    return text, *found


@functools.lru_cache(maxsize=32)
def _lab_code(body: str, file: str, first_line: int):
    """The lab block compiled, once per text (a sweep loads it for every candidate)."""
    return compile("\n" * (first_line - 1) + body, file, "exec")


def load_spec(path: str | Path, defines: Mapping[str, Any] | None = None, *,
              resolved: Mapping[str, Any] | None = None) -> KernelSpec:
    """Read the ``%% lab`` block of a .sasm file, with ``defines`` overriding the defaults.

    ``resolved``: the defines as an assembly of the same file already resolved them
    (``api.Module.defines``), so the file is not expanded a second time.
    """
    path = Path(path)
    text, body, first_line = read_lab(path)
    d = dict(resolved) if resolved is not None else resolved_defines(text, str(path), defines or {})
    ns: dict[str, Any] = {"np": np, "__name__": f"lab:{path.name}"}
    ns.update(d)
    budget = current_limits().seconds
    box = contained(budget=budget)  # loading the block is bounded like expansion
    try:
        code = _lab_code(body, str(path), first_line)
        with box:
            exec(code, ns)
    except (Exception, OverBudget, SystemExit, KeyboardInterrupt, GeneratorExit) as e:
        if not isinstance(e, (Exception, OverBudget)) and not is_user_exit(e, box):
            raise
        line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else None
        line = line or _tb_line(e, str(path)) or first_line
        src = text.splitlines()[line - 1] if 0 < line <= text.count("\n") + 1 else ""
        what = (f"ran longer than {budget:g} s" if isinstance(e, OverBudget)
                else f"raised {type(e).__name__}: {e}")
        raise SourceError(f"the lab block {what}", span=Span(str(path), line, 1, None, src),
                          hint=how_to_raise("seconds", budget) if isinstance(e, OverBudget)
                          else "fix the Python in the %% lab block") from None
    try:
        return KernelSpec(
            file=str(path), kernel=ns.get("KERNEL"), defines=d, tune=_tune(ns),
            size=_sizes(ns, "SIZE"), test_sizes=_sizes(ns, "TEST_SIZES", many=True),
            bench_sizes=_sizes(ns, "BENCH_SIZES", many=True) or ([_sizes(ns, "SIZE")] if "SIZE" in ns else []),
            outputs=[str(o) for o in _seq(ns, "OUTPUTS")], tol=_static_tol(ns.get("TOL", 1e-5)),
            tol_why=str(ns.get("TOL_WHY", "")), peer_name=ns.get("PEER"), ns=ns, text=text)
    except (TypeError, ValueError) as e:
        raise SourceError(f"the lab block: {e}", span=Span(str(path), first_line - 1, 1, None,
                                                           text.splitlines()[first_line - 2]),
                          hint="see docs/LAB.md for what each name holds") from None


def _seq(ns: dict, name: str) -> list:
    v = ns.get(name, [])
    if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__iter__"):
        raise TypeError(f"{name} must be a list, not {type(v).__name__}")
    return list(v)


def _tune(ns: dict) -> dict:
    v = ns.get("TUNE", {})
    if not isinstance(v, dict):
        raise TypeError(f"TUNE must be a dict of value lists, not {type(v).__name__}")
    for k, x in v.items():
        if not isinstance(x, (list, tuple, range)):
            raise TypeError(f"TUNE[{k!r}] must be a list of values, not {type(x).__name__}")
    return dict(v)


def _sizes(ns: dict, name: str, many: bool = False):
    """SIZE (a dict of ints) or TEST_SIZES/BENCH_SIZES (a list of such dicts), checked."""
    items = _seq(ns, name) if many else [ns.get(name, {})]
    for s in items:
        if not isinstance(s, dict) or not all(isinstance(x, (int, np.integer)) for x in s.values()):
            raise TypeError(f"{name} must hold dicts of integer sizes, e.g. dict(n=1000); got {s!r}")
    return [dict(s) for s in items] if many else dict(items[0])


def _static_tol(t) -> float:
    return float("nan") if callable(t) else _tol_value(t)


def _tol_value(t) -> float:
    """A tolerance: a finite number ≥ 0 (a negative or NaN one would fail or pass every run)."""
    try:
        v = float(t)
    except (TypeError, ValueError):
        raise ValueError(f"TOL must be a number, not {t!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"TOL must be a finite number ≥ 0, got {t!r}")
    return v


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
        if out[k.strip()] < 0:
            raise UsageError(f"--size {k.strip()} must not be negative, got {out[k.strip()]}")
    return out
