"""Autotuner: candidates, pruning, static ranking, failures isolated, resume after interruption."""

from __future__ import annotations

import pytest

from sass_lab.lab import tune as T
from sass_lab.lab.store import Store

LAB = '''
.define BM = 64, BN = 64, FLAG = 0
%% lab
TUNE = {"BM": [32, 64, 128], "BN": [64, 128], "FLAG": [0, 1]}
def valid(d): return not (d["BM"] == 32 and d["FLAG"] == 1)
SIZE = dict(M=64, N=64)
def block(s, d): return (256, 1, 1)
def grid(s, d): return (1, 1, 1)
%%
'''


@pytest.fixture
def kfile(tmp_path):
    p = tmp_path / "k.sasm"
    p.write_text(LAB)
    return p


def fake_compile(path, arch, cands, size, **kw):
    for d in cands:
        regs = 32 if d["BM"] < 128 else 255
        s = T.Static(defines=d, kernel="k", registers=regs, shared_bytes=d["BN"] * 100, block=256,
                     blocks_per_sm=0 if regs == 255 and d["BN"] == 128 else 2, occupancy=25.0,
                     limiters=("registers",), ffma_share=0.5 + d["BN"] / 1000, shared_limit=10_000,
                     spills=4 if (d["BM"] == 128 and d["BN"] == 64 and d["FLAG"]) else 0)
        yield s


def test_candidates_respect_valid(kfile):
    from sass_lab.lab.spec import load_spec

    c = load_spec(kfile).combinations()
    assert len(c) == 3 * 2 * 2 - 2
    assert {"BM": 32, "BN": 64, "FLAG": 1} not in c


@pytest.mark.parametrize("static,why", [
    (T.Static(defines={}, error="boom"), "compile error"),
    (T.Static(defines={}, spills=2, blocks_per_sm=1), "spills"),
    (T.Static(defines={}, shared_bytes=50_000, shared_limit=49_152, blocks_per_sm=1), "shared memory"),
    (T.Static(defines={}, blocks_per_sm=0, limiters=("registers",)), "zero occupancy"),
    (T.Static(defines={}, blocks_per_sm=1), None),
])
def test_prune(static, why):
    got = T.prune(static)
    assert (got is None) if why is None else (why in got)


def test_static_score_orders_by_share_and_warps():
    lo = T.Static(defines={}, block=64, blocks_per_sm=1, ffma_share=0.9)  # 2 warps
    hi = T.Static(defines={}, block=256, blocks_per_sm=4, ffma_share=0.9)  # 32 warps
    assert T.static_score(hi) == pytest.approx(0.9) and T.static_score(lo) < T.static_score(hi)


def test_compile_only_sweep_and_resume(kfile, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "compile_runner", fake_compile)
    db = tmp_path / "r.db"
    out = T.tune(kfile, compile_only=True, db=db)
    assert len(out) == 10
    assert out[0].status == "ok" and out[0].score == max(o.score or 0 for o in out)
    pruned = [o for o in out if o.status == "pruned"]
    assert pruned and all(o.reason for o in pruned)
    with Store(db) as st:
        assert len(st.rows()) == 10
    again = T.tune(kfile, compile_only=True, db=db)
    assert all(o.status == "skipped" for o in again)


def test_bench_failures_do_not_stop_the_sweep(kfile, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "compile_runner", fake_compile)
    calls = []

    def bench(path, arch, d, size):
        calls.append(d)
        if d["BM"] == 64 and d["FLAG"] == 1:
            raise RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS")
        if d["BM"] == 32:
            return {"median_s": 1e-3, "verified": "fail", "max_rel_err": 0.5}
        return {"median_s": d["BM"] * 1e-6, "verified": "pass"}

    out = T.tune(kfile, bench=bench, db=tmp_path / "r.db")
    statuses = {o.status for o in out}
    assert {"ok", "failed", "verify_failed", "pruned"} <= statuses
    oks = [o for o in out if o.status == "ok"]
    assert oks[0].values["median_s"] == min(o.values["median_s"] for o in oks)
    failed = [o for o in out if o.status == "failed"]
    assert all("ILLEGAL_ADDRESS" in o.reason for o in failed)
    # pruned candidates were never benchmarked
    assert all(T.prune(o.static) is None for o in out if o.static.defines in calls)


def test_interrupted_sweep_resumes(kfile, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "compile_runner", fake_compile)
    db = tmp_path / "r.db"
    n = {"k": 0}

    def bench(path, arch, d, size):
        n["k"] += 1
        if n["k"] == 3:
            raise KeyboardInterrupt
        return {"median_s": 1e-3, "verified": "pass"}

    with pytest.raises(KeyboardInterrupt):
        T.tune(kfile, bench=bench, db=db)
    with Store(db) as st:
        stored = len(st.rows())
    assert stored >= 2
    out = T.tune(kfile, bench=lambda *a: {"median_s": 2e-3, "verified": "pass"}, db=db)
    assert sum(o.status == "skipped" for o in out) == stored
    with Store(db) as st:
        assert len(st.rows()) == 10


def test_reuse_groups_pair_the_maxnreg_candidates():
    """SGEMM's MAXNREG only sets `.maxnreg`: its candidates pair up, one worker compiling both."""
    from sass_lab.lab.spec import load_spec

    path = "kernels_asm/sgemm.sasm"
    cands = load_spec(path).combinations()
    groups = T.reuse_groups(path, cands)
    assert len(set(groups)) == len(cands) // 2
    for g in set(groups):
        pair = [d for d, h in zip(cands, groups) if h == g]
        assert sorted(d["MAXNREG"] for d in pair) == [128, 255]
        assert len({tuple((k, v) for k, v in d.items() if k != "MAXNREG") for d in pair}) == 1
