"""One tuning candidate compiled: its :class:`Static` summary, the task that makes it, and its cache.

``compile_one`` assembles one define combination (expanding the file once) and summarises what the
tuner needs before any run: registers, shared memory, spills, occupancy at the lab block's block
size, and the FFMA share of the hot loop. It runs on any runner's worker; a bad candidate raises
its :class:`~sass_lab.errors.SasmError` (span and all), which the runner carries back typed.

Summaries are cached beside the cubins (``<key>.cand``: the summary as JSON, then the PTX,
zlib-compressed), keyed by everything that decides them: the source hash (the file and what it
includes), the defines, the problem size, the arch, the compiler's identity and options, and the
sass_lab version. A rerun — or a resumed sweep, or another store on the same machine — reads the
summary in well under a millisecond instead of expanding, scheduling and compiling again. An
entry that does not parse, or whose recorded key differs, is dropped and recompiled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import zlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import SasmError
from ..files import write_cache
from ..hw.arch import STATIC_SHARED_MAX
from .spec import load_spec

MAGIC = b"sass_lab-candidate 1\n"


@dataclass(frozen=True)
class Static:
    """What compiling one candidate tells us, before any run."""

    defines: dict
    kernel: str = ""
    registers: int = 0
    shared_bytes: int = 0
    spills: int = 0
    stack_bytes: int = 0
    block: int = 0
    blocks_per_sm: int = 0
    occupancy: float = 0.0
    limiters: tuple[str, ...] = ()
    ffma_share: float | None = None
    shared_limit: int = STATIC_SHARED_MAX
    error: str | None = None  # the candidate does not compile (status 'pruned'): the rendered error
    compile_s: float = 0.0
    failure: str | None = None  # the compiler crashed or timed out on it (status 'failed')
    compiler: str = ""  # what built the cubin ("ptxas 13.0.88")
    cached: bool = False  # read from the summary cache, not compiled now
    exc: SasmError | None = field(default=None, compare=False, repr=False)  # the typed compile error


def summary_key(shash: str, defines: dict, size: dict, arch: str, compiler: str,
                options: tuple[str, ...] = ()) -> str:
    """The cache key of one candidate's summary (``compiler``: the compiler's identity)."""
    from .. import __version__
    from .store import canon

    text = canon({"source": shash, "defines": defines, "size": size, "arch": arch, "compiler": compiler,
                  "options": list(options), "sass_lab": __version__, "format": MAGIC.decode().strip()})
    return hashlib.sha256(text.encode()).hexdigest()


def _path(key: str) -> Path | None:
    from ..toolchain.cache import cache_dir

    d = cache_dir()
    return None if d is None else d / f"{key}.cand"


def load_summary(key: str) -> Static | None:
    """The cached summary for ``key``, or None (a damaged entry is removed)."""
    p = _path(key)
    if p is None:
        return None
    try:
        data = p.read_bytes()
    except OSError:
        return None
    try:
        if not data.startswith(MAGIC):
            raise ValueError("magic")
        head = json.loads(data[len(MAGIC): data.index(b"\n", len(MAGIC))])
        if head.get("key") != key:
            raise ValueError("key")
        s = head["static"]
        known = {f.name for f in fields(Static)} - {"exc", "cached"}
        if not isinstance(s, dict) or set(s) != known:
            raise ValueError("fields")
        s["limiters"] = tuple(s["limiters"])
        return Static(**s, cached=True)
    except (ValueError, KeyError, TypeError):
        with contextlib.suppress(OSError):
            p.unlink()
        return None


def store_summary(key: str, s: Static, ptx: str) -> None:
    """Write ``s`` (a successful compile) and its PTX under ``key``, atomically; errors are ignored."""
    p = _path(key)
    if p is None or s.error or s.failure:
        return
    d = asdict(s)
    d.pop("exc")
    d.pop("cached")
    data = MAGIC + json.dumps({"key": key, "static": d}, sort_keys=True).encode() + b"\n" + zlib.compress(
        ptx.encode(), 1)
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs a recompile
        write_cache(p, data)


def cached_ptx(key: str) -> str | None:
    """The PTX stored with a summary (None when absent)."""
    p = _path(key)
    try:
        data = p.read_bytes() if p is not None else b""
        return zlib.decompress(data[data.index(b"\n", len(MAGIC)) + 1:]).decode() if data else None
    except (OSError, ValueError, zlib.error):
        return None


def compile_one(path: str, arch: str, defines: dict, size: dict, compiler: str | None = None,
                timeout: float | None = None, key: str | None = None) -> Static:
    """Assemble one candidate and summarise it (a runner task); a bad candidate raises SasmError.

    ``key``: where to cache the summary (see :func:`summary_key`).
    """
    from ..api import assemble_file
    from ..hw.arch import arch_info
    from ..toolchain.options import CompileOptions

    t0 = time.perf_counter()
    opts = CompileOptions(compiler=compiler, timeout=timeout)
    mod = assemble_file(path, arch, defines=defines, options=opts, reuse=_reuse())  # expands the file once
    spec = load_spec(path, resolved=mod.defines)
    sized, built = spec.for_size(size, defines)
    if sized is not spec:  # the size fixes a define (compile-time C): the build for it
        spec, mod = sized, assemble_file(path, arch, defines=built, options=opts, reuse=_reuse())
    k = mod[spec.kernel] if spec.kernel else next(iter(mod))
    block = spec.block(size)
    threads = block[0] * block[1] * block[2]
    occ = k.occupancy(threads, dynamic_shared=spec.shared(size))
    r = k.resources
    try:
        from .efficiency import static_efficiency

        # PTX counts: the SASS view costs an nvdisasm run and a parse per candidate (~1 s for a
        # 128x128 SGEMM), more than the compile; `sass_lab report` shows the SASS figure.
        share = static_efficiency(k, prefer_sass=False).ceiling(arch)  # FFMA share; HMMA: × slots
    except Exception:  # noqa: BLE001 - the score degrades gracefully without it
        share = None
    s = Static(defines=defines, kernel=k.name, registers=r.registers,
               shared_bytes=r.shared_static + spec.shared(size), spills=r.spill_stores + r.spill_loads,
               stack_bytes=r.stack_bytes, block=threads, blocks_per_sm=occ.blocks_per_sm,
               occupancy=occ.percent, limiters=tuple(occ.limiters), ffma_share=share,
               shared_limit=arch_info(arch).max_shared_per_block_optin,
               compile_s=time.perf_counter() - t0, compiler=mod.compiler)
    if key:
        store_summary(key, s, mod.ptx)
    mod.kernels.clear()  # a kernel points back at its module: the cycle would wait for the collector
    return s


_REUSE: list = []


def _reuse():
    """This process's :class:`~sass_lab.api.Reuse`: one candidate's front end and pass work, kept for
    the next (a worker compiles candidates that differ only in, e.g., ``.maxnreg`` one after another)."""
    if not _REUSE:
        from ..api import Reuse

        _REUSE.append(Reuse())
    return _REUSE[0]


def warm_up() -> None:
    """Import and build what a compile needs, once, before workers fork: they start warm (each
    import left to the workers would be done once per worker)."""
    from .. import api  # noqa: F401 - imported for the workers
    from ..backend import ptx  # noqa: F401
    from ..dsl import frontend, reuse  # noqa: F401
    from ..hw import launch, occupancy  # noqa: F401
    from ..passes import run_passes  # noqa: F401
    from ..toolchain import compile as _compile  # noqa: F401
    from ..toolchain import cubin, ptxas  # noqa: F401
    from . import efficiency  # noqa: F401

    frontend(".kernel warm_up()\n    ret\n", "<warm-up>")
    ptxas.spawn_helper()  # looked for once, not once per worker
