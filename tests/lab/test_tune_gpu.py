"""The tuner's GPU path on the GPU: candidates benchmarked in isolated worker processes, stored, ranked.

``tune()`` with its default ``isolated_bench`` (a ``spawn`` process per candidate: verify on the GPU,
time, return the store's columns). Part of tools/gpu_check.sh (group ``lab``) and of its rehearsal.
"""

from __future__ import annotations

import pytest

from sass_lab.paths import KERNELS

pytestmark = pytest.mark.gpu


def test_tune_benchmarks_candidates_on_the_gpu(tmp_path):
    import sass_lab.runtime as rt
    from sass_lab.lab.store import Store
    from sass_lab.lab.tune import tune

    arch = rt.context().info.arch
    cands = [{"BLOCK": 128, "ITEMS": 1, "VEC": 1}, {"BLOCK": 256, "ITEMS": 2, "VEC": 4}]
    db = tmp_path / "tune.db"
    outcomes = tune(KERNELS / "saxpy.sasm", arch if arch in ("sm_80", "sm_86", "sm_89", "sm_90") else "sm_90",
                    {"n": 3000}, db=db, restrict=cands, jobs=1)
    assert [o.status for o in outcomes] == ["ok", "ok"], [(o.status, o.reason) for o in outcomes]
    for o in outcomes:
        assert o.values["verified"] == "pass" and o.values["median_s"] > 0 and o.values["max_rel_err"] <= 1e-6
    with Store(db) as st:
        rows = st.rows("saxpy", kind="bench")
    assert len(rows) == 2 and all(r.status == "ok" and r.values["median_s"] > 0 for r in rows)
