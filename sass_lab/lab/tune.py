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

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import CompilerFault, SasmError, UsageError
from .candidate import Static, compile_one, load_summary, summary_key, warm_up
from .runners import RUNNERS, Device, GpusRunner, LocalRunner, Reply, Runner, one_model, tasks_for
from .spec import load_spec
from .store import Key, Result, Store, canon, package_versions, source_hash

__all__ = ["Outcome", "Outcomes", "Static", "compile_one", "compile_runner", "judge", "prune", "rank",
           "static_score", "tune", "warm_up"]


@dataclass
class Outcome:
    static: Static
    status: str  # 'ok' | 'pruned' | 'failed' | 'verify_failed' | 'skipped'
    reason: str = ""
    score: float | None = None
    values: dict = field(default_factory=dict)


class Outcomes(list):
    """The outcomes, best first, plus what the sweep learnt on the way.

    ``verdict``: the interleaved re-timing of the top candidates (:class:`~.noise.Verdict`) or None;
    ``search``: how the candidates were chosen (``exhaustive`` or ``guided``, evaluations, budget).
    """

    verdict: Any = None
    search: dict = {}


def static_of(reply: Reply, defines: dict, budget: float | None) -> Static:
    """A compile task's reply as a :class:`Static`: the summary, or why there is none."""
    if reply.ok:
        return reply.value
    e = reply.error
    if isinstance(e, CompilerFault):
        return Static(defines=defines, failure=e.render(), compile_s=reply.seconds, exc=e)
    if isinstance(e, SasmError):
        return Static(defines=defines, error=e.render(), compile_s=reply.seconds, exc=e)
    if isinstance(e, KeyboardInterrupt):  # Ctrl-C reached the worker first: the sweep is interrupted,
        raise KeyboardInterrupt            # and nothing about this candidate is stored
    if e is not None:
        return Static(defines=defines, failure=f"internal error compiling this candidate: {type(e).__name__}: {e}",
                      compile_s=reply.seconds)
    crash = reply.crash or "lost"
    what = ("did not finish within the compile timeout plus the front end's time budget "
            f"({budget:g} s); raise it with --compile-timeout") if crash.startswith("timed out") \
        else "crashed the compiler"
    return Static(defines=defines, failure=f"this candidate {what}: {crash}", compile_s=reply.seconds)


def compile_budget(timeout: float | None) -> float:
    """Seconds a compile task may run: the compile timeout plus the front end's time budget."""
    from ..dsl.limits import current
    from ..toolchain.compile import default_timeout

    return (timeout or default_timeout()) + current().seconds


def make_runner(kind: str, *, jobs: int | None = None, ray_address: str | None = None,
                preload: Callable[[], None] | None = None, **kw: Any) -> Runner:
    """The runner called ``kind`` (``local``, ``gpus`` or ``ray``)."""
    if kind == "local":
        return LocalRunner(jobs, preload, **kw)
    if kind == "gpus":
        return GpusRunner(jobs, preload, **kw)
    if kind == "ray":
        from .rayrunner import RayRunner

        return RayRunner(address=ray_address, jobs=jobs, **kw)
    raise UsageError(f"unknown runner '{kind}'", hint=f"choose one of {', '.join(RUNNERS)}")


def compile_runner(path: str, arch: str, cands: list[dict], size: dict, *, runner: Runner | None = None,
                   jobs: int | None = None, compiler: str | None = None, timeout: float | None = None,
                   keys: list[str] | None = None) -> Iterator[Static]:
    """Summaries of ``cands``, each yielded as soon as it is known: cached ones first (no worker),
    then the rest compiled on ``runner`` (default: a local pool of ``jobs`` workers).

    A worker that dies (a native crash) or runs past the compile budget costs only its candidate,
    which comes back with ``failure`` set.
    """
    keys = keys or [None] * len(cands)
    todo = []
    for d, k in zip(cands, keys):
        hit = load_summary(k) if k else None
        if hit is not None and canon(hit.defines) == canon(d):
            yield replace(hit, defines=d)  # the caller's values (a tuple stays a tuple)
        else:
            todo.append((d, k))
    if not todo:
        return
    own = runner is None
    runner = runner or make_runner("local", jobs=jobs, preload=warm_up)
    budget = compile_budget(timeout)
    try:
        fn, tasks = tasks_for(runner, path, compile_one, [(arch, d, size, compiler, timeout, k) for d, k in todo])
        for r in runner.run(fn, tasks, gpu=False, timeout=budget, groups=reuse_groups(path, [d for d, _ in todo])):
            yield static_of(r, todo[r.index][0], budget)
    finally:
        if own:
            runner.close()


def reuse_groups(path: str, cands: list[dict]) -> list[str]:
    """One label per candidate: candidates that differ only in defines that set a directive's value
    (``.maxnreg ${MAXNREG}``) share a label, and a runner gives them to one worker in turn, which
    reuses the front end and pass work (``api.Reuse``). Only speed depends on it."""
    from ..dsl.reuse import directive_defines
    from ..files import read_source

    try:
        names = directive_defines(read_source(Path(path)), path)
    except (SasmError, OSError):
        names = frozenset()
    return [canon({k: v for k, v in d.items() if k not in names}) for d in cands]


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
         timeout: float | None = None, runner: str | Runner = "local", ray_address: str | None = None,
         search: str = "auto", budget: float = 0.25, retime: int = 0, rounds: int = 15,
         retimer: Callable | None = None, device: Device | None = None,
         bench_timeout: float = 300.0) -> Outcomes:
    """Run the whole sweep and return one :class:`Outcome` per candidate, best first.

    ``runner``: ``"local"``, ``"gpus"``, ``"ray"`` (``ray_address``) or a :class:`Runner`.
    ``bench(path, arch, defines, size) -> values`` verifies and times one candidate (default: the
    harness on the runner's GPUs; a fake in tests, called in this process on the local runner); it
    returns store columns such as ``median_s``, ``verified``, ``max_rel_err``, or raises.
    ``search``: ``exhaustive``, ``guided`` (:mod:`.search`: at most ``budget`` × the space's size
    evaluations — compiles with ``compile_only``, timed runs otherwise) or ``auto`` (guided above
    :data:`.search.EXHAUSTIVE_MAX` candidates). ``retime`` ≥ 2 re-times that many of the fastest
    interleaved over ``rounds`` rounds and puts a :class:`~.noise.Verdict` on the result.
    ``compiler`` and ``timeout`` (seconds per compile) go to ``compile_ptx``.
    """
    from ..toolchain.compile import compiler_id, default_compiler
    from . import search as S

    path = str(path)
    spec = load_spec(path)
    size = spec.with_size(size)
    spec, _ = spec.for_size(size)  # a size that fixes a define (compile-time C) picks the space's spec
    cands = list(restrict) if restrict is not None else spec.combinations()
    real_bench = not compile_only and bench is None
    if real_bench:
        from .bench import bench_candidate

        bench = bench_candidate
    comp = compiler or default_compiler()
    label, ident = compiler_id("ptxas" if arch == "sm_70" else comp, arch)  # sm_70: the CUDA 12 ptxas
    shash, versions = source_hash(path), {**package_versions(), "compiler": label}
    kind = "static" if compile_only else "bench"
    kernel_name = spec.kernel or Path(path).stem
    run = make_runner(runner, jobs=jobs, ray_address=ray_address, preload=warm_up) \
        if isinstance(runner, str) else runner
    try:
        if compile_only:
            dev = Device("static", "-")
        elif real_bench or getattr(run, "kind", "local") != "local" and device is None:
            dev = one_model(run.devices())  # refuses a sweep over two GPU models
        else:
            dev = device or Device("static", "-")

        def key_for(d: dict) -> Key:
            return Key(kernel_name, path, shash, d, arch, dev.name, dev.driver, versions, size, kind)

        skeys = [summary_key(shash, d, size, arch, ident) for d in cands]
        out = Outcomes()
        with Store(db) as st:
            stored = {i: st.get(key_for(d)) for i, d in enumerate(cands)}
            stored = {i: r for i, r in stored.items() if r is not None}  # the driver drops them
            mode = S.choose(search, len(cands))
            evals = {"mode": mode, "space": len(cands), "evaluations": 0, "budget": None}

            def compile_some(idx: list[int]) -> Iterator[tuple[int, Static]]:
                pos = {canon(cands[i]): i for i in idx}
                for s in compile_runner(path, arch, [cands[i] for i in idx], size, runner=run,
                                        compiler=compiler, timeout=timeout, keys=[skeys[i] for i in idx]):
                    yield pos[canon(s.defines)], s

            statics: dict[int, Static] = {}
            done_n = [0]

            def record_static(i: int, s: Static) -> Outcome | None:
                statics[i] = s
                o = judge(s, compile_only)
                if o is not None:
                    st.put(Result(key_for(s.defines), o.status, o.values))  # committed before the next one
                    out.append(o)
                done_n[0] += 1
                if progress:
                    progress("compile", done_n[0], len(todo_c))
                return o

            todo_c = [i for i in range(len(cands)) if i not in stored]
            if compile_only and mode == "guided":
                g = S.Guided(cands, budget=S.budget_count(budget, len(cands)))
                for i, r in stored.items():
                    g.tell(i, r.values.get("score") if r.status == "ok" else None, free=True)
                width = max(2, jobs or os.cpu_count() or 2)
                while batch := g.ask(width):
                    for i, s in compile_some(batch):
                        o = record_static(i, s)
                        g.tell(i, o.score if o is not None and o.status == "ok" else None)
                evals.update(evaluations=g.evaluations, budget=g.budget)
            else:
                for i, s in compile_some(todo_c):
                    record_static(i, s)
                evals["evaluations"] = len(todo_c)
            survivors = [i for i, s in statics.items() if judge(s, compile_only) is None]
            if survivors:
                g = (S.Guided([cands[i] for i in survivors], budget=S.budget_count(budget, len(cands)),
                              prior=[static_score(statics[i]) for i in survivors])
                     if mode == "guided" else S.Exhaustive(len(survivors)))
                inline = not real_bench and run.kind == "local"
                while batch := g.ask(1):
                    s = statics[survivors[batch[0]]]
                    o = _bench_one(run, bench, path, arch, s, size, inline=inline, timeout=bench_timeout)
                    st.put(Result(key_for(s.defines), o.status, o.values))  # committed before the next one
                    out.append(o)
                    t = o.values.get("median_s") if o.status == "ok" else None
                    g.tell(batch[0], 1.0 / t if t else None)
                    if progress:
                        progress("bench", g.evaluations, min(g.budget, len(survivors)))
                evals.update(evaluations=g.evaluations, budget=g.budget if mode == "guided" else None)
            for i, r in stored.items():
                out.append(Outcome(Static(defines=cands[i]), "skipped", "already stored (resumed)",
                                   score=r.values.get("score"), values=dict(r.values)))
        ranked = Outcomes(rank(out))
        ranked.search = evals
        if retime >= 2 and not compile_only:
            from .noise import retime_top

            ranked.verdict = retime_top(run, path, arch, size, ranked, retime, rounds, retimer)
        return ranked
    finally:
        if isinstance(runner, str):
            run.close()


def _bench_one(run: Runner, bench: Callable, path: str, arch: str, s: Static, size: dict, *, inline: bool,
               timeout: float) -> Outcome:
    """Verify and time one survivor on the runner's GPU (a fake bench in tests: here, inline)."""
    base = {"registers": s.registers, "shared_bytes": s.shared_bytes, "occupancy": s.occupancy,
            "spills": s.spills}
    if inline:
        try:
            vals, err = bench(path, arch, s.defines, size), None
        except Exception as e:  # noqa: BLE001 - a failed candidate never stops the sweep
            vals, err = None, e
    else:
        fn, tasks = tasks_for(run, path, bench, [(arch, s.defines, size)])
        (r,) = list(run.run(fn, tasks, gpu=True, timeout=timeout))
        vals, err = r.value, r.error if r.error is not None else (RuntimeError(r.crash) if r.crash else None)
    if err is None:
        status = "ok" if vals.get("verified", "pass") == "pass" else "verify_failed"
        return Outcome(s, status, values={**base, **vals})
    msg = err.render() if isinstance(err, SasmError) else f"{type(err).__name__}: {err}"
    return Outcome(s, "failed", msg, values={**base, "error": msg})


def rank(outcomes: list[Outcome]) -> list[Outcome]:
    """ok first (fastest, else highest score), then skipped, verify failures, failures, pruned."""
    order = {"ok": 0, "skipped": 1, "verify_failed": 2, "failed": 3, "pruned": 4}

    def k(o: Outcome):
        t = o.values.get("median_s")
        return (order.get(o.status, 9), t if t is not None else float("inf"), -(o.score or 0.0))

    return sorted(outcomes, key=k)


def describe(o: Outcome) -> dict[str, Any]:
    """A JSON-ready summary of one outcome."""
    s = o.static
    return {"defines": s.defines, "status": o.status, "reason": o.reason, "score": o.score,
            "registers": s.registers, "shared_bytes": s.shared_bytes, "occupancy": s.occupancy,
            "limiters": list(s.limiters), "spills": s.spills, "ffma_share": s.ffma_share,
            "compile_s": s.compile_s, "compiler": s.compiler, **{k: v for k, v in o.values.items() if k.endswith("_s") or k in (
                "flop_s", "efficiency", "verified", "max_rel_err")}}
