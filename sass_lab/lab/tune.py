"""The autotuner: sweep a kernel's tuning space, prune, verify, benchmark, store every result.

Pipeline (each stage a plain function; the benchmark is a parameter so tests inject a fake):

1. ``spec.combinations()`` — the product of the ``TUNE`` space, filtered by the lab block's ``valid``.
2. ``compile_runner`` — a generator: every candidate assembled in a warm pool of forked workers
   (:mod:`sass_lab.workers`), each :class:`Static` summary yielded the moment it is known. A worker
   that crashes (a native fault in the compiler) or runs past the compile timeout costs only its
   candidate, recorded ``failed``; the sweep goes on.
3. ``prune`` — candidates that cannot win are dropped before any run: spills, zero occupancy, shared
   memory over the per-block limit, or a compile error.
4. ``static_score`` ranks what is left without a GPU (``--compile-only``).
5. With a GPU each survivor is verified and benchmarked in its own worker process, so a sticky CUDA
   fault or a hang marks that candidate failed and the sweep goes on.

``tune`` is the driver and the only writer: every result (compile-only included) is written to the
:class:`~sass_lab.lab.store.Store` in its own transaction as soon as the runner yields it, so a sweep
killed at any moment loses at most the candidates in flight; a candidate already stored under the
same key is skipped, so the next run resumes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CompilerFault, SasmError
from ..workers import Pool
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
    error: str | None = None  # the candidate does not compile (status 'pruned')
    compile_s: float = 0.0
    failure: str | None = None  # the compiler crashed or timed out on it (status 'failed')
    compiler: str = ""  # what built the cubin ("ptxas 13.0.88")


@dataclass
class Outcome:
    static: Static
    status: str  # 'ok' | 'pruned' | 'failed' | 'verify_failed' | 'skipped'
    reason: str = ""
    score: float | None = None
    values: dict = field(default_factory=dict)


def compile_one(path: str, arch: str, defines: dict, size: dict, compiler: str | None = None,
                timeout: float | None = None) -> Static:
    """Assemble one candidate and summarise its resources (runs in a pool worker)."""
    import time

    from ..api import assemble_file
    from ..hw.arch import arch_info
    from ..toolchain.options import CompileOptions

    t0 = time.perf_counter()
    try:
        mod = assemble_file(path, arch, defines=defines,  # expands the file once
                            options=CompileOptions(compiler=compiler, timeout=timeout))
        spec = load_spec(path, resolved=mod.defines)
        sized, built = spec.for_size(size, defines)
        if sized is not spec:  # the size fixes a define (compile-time C): the build for it
            spec, mod = sized, assemble_file(path, arch, defines=built)
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
        return Static(defines=defines, kernel=k.name, registers=r.registers,
                      shared_bytes=r.shared_static + spec.shared(size), spills=r.spill_stores + r.spill_loads,
                      stack_bytes=r.stack_bytes, block=threads, blocks_per_sm=occ.blocks_per_sm,
                      occupancy=occ.percent, limiters=tuple(occ.limiters), ffma_share=share,
                      shared_limit=arch_info(arch).max_shared_per_block_optin,
                      compile_s=time.perf_counter() - t0, compiler=mod.compiler)
    except CompilerFault as e:
        return Static(defines=defines, failure=e.render(), compile_s=time.perf_counter() - t0)
    except SasmError as e:
        return Static(defines=defines, error=e.render(), compile_s=time.perf_counter() - t0)


def warm_up() -> None:
    """Import and build what a compile needs, once, before the pool forks: workers start warm."""
    from .. import api  # noqa: F401 - imported for the workers
    from ..dsl import frontend
    from ..passes import run_passes  # noqa: F401
    from . import efficiency  # noqa: F401

    frontend(".kernel warm_up()\n    ret\n", "<warm-up>")


def compile_runner(path: str, arch: str, cands: list[dict], size: dict, *, jobs: int | None = None,
                   compiler: str | None = None, timeout: float | None = None) -> Iterator[Static]:
    """Compile candidates in a warm pool of forked workers; yield each :class:`Static` as it finishes.

    A worker that dies (a native crash) or runs past ``timeout`` (compile) plus the front end's
    time budget is killed and replaced; its candidate comes back with ``failure`` set.
    """
    from ..dsl.limits import current
    from ..toolchain.compile import default_timeout

    if not cands:
        return
    budget = (timeout or default_timeout()) + current().seconds
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(cands)))
    tasks = [(path, arch, d, size, compiler, timeout) for d in cands]
    with Pool(jobs, preload=warm_up) as pool:
        for i, done in pool.run(compile_one, tasks, timeout=budget):
            if done.ok:
                yield done.value
            elif done.error is not None:
                e = done.error
                why = e.render() if isinstance(e, SasmError) else f"{type(e).__name__}: {e}"
                yield Static(defines=cands[i], failure=f"internal error compiling this candidate: {why}",
                             compile_s=done.seconds)
            else:
                what = ("did not finish within the compile timeout plus the front end's time budget "
                        f"({budget:g} s); raise it with --compile-timeout") if done.crash.startswith("timed out") \
                    else "crashed the compiler"
                yield Static(defines=cands[i], failure=f"this candidate {what}: {done.crash}",
                             compile_s=done.seconds)


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


def judge(s: Static, compile_only: bool) -> Outcome | None:
    """The outcome of a compiled candidate, or None when it survives to the benchmark."""
    base = {"registers": s.registers, "shared_bytes": s.shared_bytes, "occupancy": s.occupancy,
            "spills": s.spills}
    if s.failure:
        return Outcome(s, "failed", s.failure, values={**base, "error": s.failure})
    reason = prune(s)
    if reason:
        return Outcome(s, "pruned", reason, values={**base, "error": s.error or reason})
    if compile_only:
        sc = static_score(s)
        return Outcome(s, "ok", score=sc, values={**base, "score": sc, "verified": "skipped"})
    return None


def tune(path: str | Path, arch: str = "sm_90", size: dict | None = None, *, compile_only: bool = False,
         db: str | Path | None = None, jobs: int | None = None,
         bench: Callable[[str, str, dict, dict], dict] | None = None,
         progress: Callable[[str, int, int], None] | None = None,
         restrict: Iterable[dict] | None = None, compiler: str | None = None,
         timeout: float | None = None) -> list[Outcome]:
    """Run the whole sweep and return one :class:`Outcome` per candidate (best first).

    ``bench(path, arch, defines, size) -> values`` runs verification and timing for one candidate (the
    default runs each in an isolated worker process on the GPU); it returns store columns such as
    ``median_s``, ``flop_s``, ``verified`` and ``max_rel_err``, or raises. ``compiler`` and
    ``timeout`` (seconds per compile) go to ``compile_ptx``.
    """
    from ..toolchain.compile import compiler_label

    path = str(path)
    spec = load_spec(path)
    size = spec.with_size(size)
    spec, _ = spec.for_size(size)  # a size that fixes a define (compile-time C) picks the space's spec
    cands = list(restrict) if restrict is not None else spec.combinations()
    gpu = not compile_only
    if gpu and bench is None:
        from ..runtime import require_gpu

        require_gpu()
        bench = isolated_bench
    device, driver = environment(gpu and bench is isolated_bench)
    label = compiler_label(arch, compiler)
    shash, versions = source_hash(path), {**package_versions(), "compiler": label}
    kind = "static" if compile_only else "bench"
    kernel_name = spec.kernel or Path(path).stem

    def key_for(d: dict) -> Key:
        return Key(kernel_name, path, shash, d, arch, device, driver, versions, size, kind)

    outcomes: list[Outcome] = []
    with Store(db) as st:
        todo = [d for d in cands if not st.has(key_for(d))]
        done = [d for d in cands if st.has(key_for(d))]
        n, survivors = len(todo), []
        for i, s in enumerate(compile_runner(path, arch, todo, size, jobs=jobs, compiler=compiler,
                                             timeout=timeout), 1):
            o = judge(s, compile_only)
            if o is None:
                survivors.append(s)
            else:
                st.put(Result(key_for(s.defines), o.status, o.values))  # committed before the next one
                outcomes.append(o)
            if progress:
                progress("compile", i, n)
        for i, s in enumerate(survivors, 1):
            base = {"registers": s.registers, "shared_bytes": s.shared_bytes, "occupancy": s.occupancy,
                    "spills": s.spills}
            try:
                vals = bench(path, arch, s.defines, size)
                status = "ok" if vals.get("verified", "pass") == "pass" else "verify_failed"
                o = Outcome(s, status, values={**base, **vals})
            except Exception as e:  # noqa: BLE001 - a failed candidate never stops the sweep
                msg = e.render() if isinstance(e, SasmError) else f"{type(e).__name__}: {e}"
                o = Outcome(s, "failed", msg, values={**base, "error": msg})
            st.put(Result(key_for(s.defines), o.status, o.values))
            outcomes.append(o)
            if progress:
                progress("bench", i, len(survivors))
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
            "compile_s": s.compile_s, "compiler": s.compiler, **{k: v for k, v in o.values.items() if k.endswith("_s") or k in (
                "flop_s", "efficiency", "verified", "max_rel_err")}}
