"""The autotuner: sweep a kernel's tuning space, prune, verify, benchmark, store every result.

Pipeline (each stage a plain function; the benchmark is a parameter so tests inject a fake):

1. ``spec.combinations()`` — the product of the ``TUNE`` space, filtered by the lab block's ``valid``.
2. ``compile_all`` — every candidate compiled in a process pool (``fork`` where available: the parent
   holds no CUDA context), returning picklable :class:`Static` summaries.
3. ``prune`` — candidates that cannot win are dropped before any run: spills, zero occupancy, shared
   memory over the per-block limit, or a compile error.
4. ``static_score`` ranks what is left without a GPU (``--compile-only``).
5. With a GPU each survivor is verified and benchmarked in its own worker process, so a sticky CUDA
   fault or a hang marks that candidate failed and the sweep goes on.

Every result is written to the :class:`~sass_lab.lab.store.Store` in its own transaction the moment it
is known; a candidate already stored under the same key is skipped, so an interrupted sweep resumes.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SasmError
from .spec import load_spec
from .store import Key, Result, Store, package_versions, source_hash


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
    shared_limit: int = 48 * 1024
    error: str | None = None
    compile_s: float = 0.0


@dataclass
class Outcome:
    static: Static
    status: str  # 'ok' | 'pruned' | 'failed' | 'verify_failed' | 'skipped'
    reason: str = ""
    score: float | None = None
    values: dict = field(default_factory=dict)


def compile_one(path: str, arch: str, defines: dict, size: dict) -> Static:
    """Assemble one candidate and summarise its resources (runs in a pool worker)."""
    import time

    from ..api import assemble_file
    from ..hw.arch import arch_info

    t0 = time.perf_counter()
    try:
        mod = assemble_file(path, arch, defines=defines)  # expands the file once
        spec = load_spec(path, resolved=mod.defines)
        k = mod[spec.kernel] if spec.kernel else next(iter(mod))
        block = spec.block(size)
        threads = block[0] * block[1] * block[2]
        occ = k.occupancy(threads, dynamic_shared=spec.shared(size))
        r = k.resources
        try:
            from .efficiency import static_efficiency

            # PTX counts: the SASS view costs an nvdisasm run and a parse per candidate (~1 s for a
            # 128x128 SGEMM), more than the compile; `sass_lab report` shows the SASS figure.
            share = static_efficiency(k, prefer_sass=False).share
        except Exception:  # noqa: BLE001 - the score degrades gracefully without it
            share = None
        return Static(defines=defines, kernel=k.name, registers=r.registers,
                      shared_bytes=r.shared_static + spec.shared(size), spills=r.spill_stores + r.spill_loads,
                      stack_bytes=r.stack_bytes, block=threads, blocks_per_sm=occ.blocks_per_sm,
                      occupancy=occ.percent, limiters=tuple(occ.limiters), ffma_share=share,
                      shared_limit=arch_info(arch).max_shared_per_block_optin,
                      compile_s=time.perf_counter() - t0)
    except SasmError as e:
        return Static(defines=defines, error=e.render(), compile_s=time.perf_counter() - t0)


def compile_all(path: str, arch: str, cands: list[dict], size: dict, jobs: int | None = None,
                progress: Callable[[Static], None] | None = None) -> list[Static]:
    """Compile candidates in parallel; results in candidate order."""
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(cands) <= 1:
        out = []
        for d in cands:
            out.append(compile_one(path, arch, d, size))
            if progress:
                progress(out[-1])
        return out
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(method)) as ex:
        futs = [ex.submit(compile_one, path, arch, d, size) for d in cands]
        out = []
        for f in futs:
            out.append(f.result())
            if progress:
                progress(out[-1])
        return out


def prune(s: Static) -> str | None:
    """Why a candidate cannot win (None when it may)."""
    if s.error:
        return "compile error"
    if s.spills:
        return f"spills ({s.spills} spill instructions)"
    if s.shared_bytes > s.shared_limit:
        return f"shared memory {s.shared_bytes} B over the {s.shared_limit} B per-block limit"
    if s.blocks_per_sm == 0:
        return f"zero occupancy (limited by {', '.join(s.limiters) or 'resources'})"
    return None


def static_score(s: Static) -> float:
    """Static model for ranking without a GPU: FFMA share of the hot loop × latency-hiding factor.

    The latency-hiding factor is min(1, active warps per SM / 16): with 4 schedulers per SM, four
    warps each are what an FFMA stream with 4-cycle dependent latency and shared-memory loads needs
    (maxas reached peak at 8 warps per SM with 8x8 register blocking; 16 gives slack). Candidates
    whose FFMA share is unknown count as 0.5. Higher is better.
    """
    warps = s.blocks_per_sm * ((s.block + 31) // 32)
    share = s.ffma_share if s.ffma_share is not None else 0.5
    return share * min(1.0, warps / 16)


def environment(gpu: bool) -> tuple[str, str]:
    """(device name, driver version) for the store key; ('static', '-') without a GPU run."""
    if not gpu:
        return "static", "-"
    from ..runtime import device_info

    info = device_info()
    return info["name"], str(info["driver"])


def tune(path: str | Path, arch: str = "sm_90", size: dict | None = None, *, compile_only: bool = False,
         db: str | Path | None = None, jobs: int | None = None,
         bench: Callable[[str, str, dict, dict], dict] | None = None,
         progress: Callable[[str, int, int], None] | None = None,
         restrict: Iterable[dict] | None = None) -> list[Outcome]:
    """Run the whole sweep and return one :class:`Outcome` per candidate (best first).

    ``bench(path, arch, defines, size) -> values`` runs verification and timing for one candidate (the
    default runs each in an isolated worker process on the GPU); it returns store columns such as
    ``median_s``, ``flop_s``, ``verified`` and ``max_rel_err``, or raises.
    """
    path = str(path)
    spec = load_spec(path)
    size = spec.with_size(size)
    cands = list(restrict) if restrict is not None else spec.combinations()
    gpu = not compile_only
    if gpu and bench is None:
        from ..runtime import require_gpu

        require_gpu()
        bench = isolated_bench
    device, driver = environment(gpu and bench is isolated_bench)
    shash, versions = source_hash(path), package_versions()
    kind = "static" if compile_only else "bench"
    kernel_name = spec.kernel or Path(path).stem

    def key_for(d: dict) -> Key:
        return Key(kernel_name, path, shash, d, arch, device, driver, versions, size, kind)

    outcomes: list[Outcome] = []
    with Store(db) as st:
        todo = [d for d in cands if not st.has(key_for(d))]
        done = [d for d in cands if st.has(key_for(d))]
        n = len(todo)
        count = itertools.count(1)
        statics = compile_all(path, arch, todo, size, jobs,
                              progress=(lambda s: progress("compile", next(count), n)) if progress else None)
        for s in statics:
            reason = prune(s)
            base = {"registers": s.registers, "shared_bytes": s.shared_bytes, "occupancy": s.occupancy,
                    "spills": s.spills}
            if reason:
                o = Outcome(s, "pruned", reason, values={**base, "error": s.error or reason})
            elif compile_only:
                sc = static_score(s)
                o = Outcome(s, "ok", score=sc, values={**base, "score": sc, "verified": "skipped"})
            else:
                try:
                    vals = bench(path, arch, s.defines, size)
                    status = "ok" if vals.get("verified", "pass") == "pass" else "verify_failed"
                    o = Outcome(s, status, values={**base, **vals})
                except Exception as e:  # noqa: BLE001 - a failed candidate never stops the sweep
                    msg = e.render() if isinstance(e, SasmError) else f"{type(e).__name__}: {e}"
                    o = Outcome(s, "failed", msg, values={**base, "error": msg})
            st.put(Result(key_for(s.defines), o.status, o.values))
            outcomes.append(o)
            if progress and not compile_only:
                progress("bench", len(outcomes), n)
        for d in done:
            outcomes.append(Outcome(Static(defines=d), "skipped", "already stored (resumed)"))
    return rank(outcomes)


def rank(outcomes: list[Outcome]) -> list[Outcome]:
    """ok first (fastest, else highest score), then skipped, verify failures, failures, pruned."""
    order = {"ok": 0, "skipped": 1, "verify_failed": 2, "failed": 3, "pruned": 4}

    def k(o: Outcome):
        t = o.values.get("median_s")
        return (order.get(o.status, 9), t if t is not None else float("inf"), -(o.score or 0.0))

    return sorted(outcomes, key=k)


# --------------------------------------------------------------------------- isolated GPU workers

def _bench_worker(q, path: str, arch: str, defines: dict, size: dict) -> None:
    try:
        from .bench import bench_file

        q.put(("ok", bench_file(path, arch=arch, size=size, defines=defines)))
    except BaseException as e:  # noqa: BLE001 - sent back to the parent
        msg = e.render() if isinstance(e, SasmError) else f"{type(e).__name__}: {e}"
        q.put(("err", msg))


def isolated_bench(path: str, arch: str, defines: dict, size: dict, timeout: float = 300.0) -> dict:
    """Verify and time one candidate in a fresh ``spawn`` process (a CUDA fault or hang stays there)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_bench_worker, args=(q, path, arch, defines, size), daemon=True)
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        raise RuntimeError(f"candidate timed out after {timeout:.0f} s (killed)")
    if q.empty():
        raise RuntimeError(f"worker died with exit code {p.exitcode}")
    status, payload = q.get()
    if status == "err":
        raise RuntimeError(payload)
    return payload


def describe(o: Outcome) -> dict[str, Any]:
    """A JSON-ready summary of one outcome."""
    s = o.static
    return {"defines": s.defines, "status": o.status, "reason": o.reason, "score": o.score,
            "registers": s.registers, "shared_bytes": s.shared_bytes, "occupancy": s.occupancy,
            "limiters": list(s.limiters), "spills": s.spills, "ffma_share": s.ffma_share,
            "compile_s": s.compile_s, **{k: v for k, v in o.values.items() if k.endswith("_s") or k in (
                "flop_s", "efficiency", "verified", "max_rel_err")}}
