"""Runners: a local Ray cluster and the per-GPU runner give the same stored rows as the local runner;
a killed worker costs its candidate only; typed errors cross the process boundary; device models
never mix."""

from __future__ import annotations

import functools
import os
import signal
import sqlite3

import pytest

from sass_lab.errors import SourceError, UsageError
from sass_lab.lab.fakebench import FakeBench, fake_device
from sass_lab.lab.runners import Device, GpusRunner, LocalRunner, one_model
from sass_lab.lab.tune import tune

KERNEL = """\
.define X = 0
.kernel k(.u64 p)
.reg .u64 a
.reg .u32 v
    ld.param.u64 a, [p]
    mov.u32 v, ${X}
% if X == 2:
    bogus.instruction v
% end
    st.global.u32 [a], v
    ret
%% lab
TUNE = {"X": [0, 1, 2, 3]}
SIZE = dict(n=1)
def block(s, d): return (32 * (1 + d["X"]), 1, 1)
def grid(s, d): return (1, 1, 1)
%%
"""
COLUMNS = "defines, status, device, driver, registers, occupancy, score, median_s, error IS NULL"
H100 = functools.partial(fake_device, "H100")


@pytest.fixture
def kfile(tmp_path, monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path / "cubins"))
    p = tmp_path / "k.sasm"
    p.write_text(KERNEL)
    return p


def rows(db) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return sorted(con.execute(f"SELECT {COLUMNS} FROM results").fetchall())
    finally:
        con.close()


def bench_table():
    times = tuple(((("X", x),), (x + 1) * 1e-4) for x in range(4))
    return FakeBench(times=times)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def ray_runner(ray_cluster):
    from sass_lab.lab.rayrunner import RayRunner

    r = RayRunner(jobs=2, probe=H100)
    yield r
    r.close()


def test_ray_compile_only_sweep_stores_the_local_runners_rows(kfile, tmp_path, ray_runner):
    local = tune(kfile, compile_only=True, db=tmp_path / "local.db", jobs=2)
    os.environ["SASS_LAB_CACHE"] = str(tmp_path / "cubins-ray")  # compiled again, on the actors
    remote = tune(kfile, compile_only=True, db=tmp_path / "ray.db", runner=ray_runner)
    assert rows(tmp_path / "local.db") == rows(tmp_path / "ray.db")
    assert {o.status for o in local} == {o.status for o in remote} == {"ok", "pruned"}
    bad = next(o for o in remote if o.status == "pruned")
    e = bad.static.exc  # the compile error crossed the process boundary typed, with its span
    assert isinstance(e, SourceError) and e.span.file == str(kfile) and e.span.line == 8
    assert "bogus" in bad.values["error"] and f"{kfile}:8" in bad.values["error"]


def test_ray_fake_bench_sweep_stores_the_local_runners_rows(kfile, tmp_path, ray_runner):
    bench = bench_table()
    tune(kfile, bench=bench, db=tmp_path / "local.db", device=Device("H100", "580.00"))
    out = tune(kfile, bench=bench, db=tmp_path / "ray.db", runner=ray_runner)
    assert rows(tmp_path / "local.db") == rows(tmp_path / "ray.db")
    assert out[0].status == "ok" and out[0].static.defines == {"X": 0}
    assert {o.values.get("extra", {}).get("gpu") for o in out if o.status == "ok"} <= {"0", "1"}


def test_a_ray_worker_killed_mid_sweep_loses_only_its_candidate(kfile, tmp_path, ray_runner):
    bench = FakeBench(times=bench_table().times, kill=((("X", 1),),))
    out = tune(kfile, bench=bench, db=tmp_path / "ray.db", runner=ray_runner)
    by = {o.static.defines["X"]: o for o in out}
    assert by[1].status == "failed" and "Ray worker died" in by[1].reason
    assert by[0].status == by[3].status == "ok" and by[2].status == "pruned"
    assert len(rows(tmp_path / "ray.db")) == 4
    again = tune(kfile, bench=bench_table(), db=tmp_path / "ray.db", runner=ray_runner)
    assert all(o.status == "skipped" for o in again)  # resumed: the failure is stored too


def test_ray_refuses_a_sweep_over_two_gpu_models(kfile, tmp_path, ray_cluster):
    from sass_lab.lab.rayrunner import RayRunner

    r = RayRunner(probe=functools.partial(fake_device, "H100", "A100"))
    try:
        with pytest.raises(UsageError, match="different models"):
            tune(kfile, bench=bench_table(), db=tmp_path / "r.db", runner=r)
    finally:
        r.close()
    assert not (tmp_path / "r.db").exists() or rows(tmp_path / "r.db") == []


def test_ray_timeout_kills_the_actor_and_goes_on(ray_runner):
    import time

    replies = {r.index: r for r in ray_runner.run(time.sleep, [(0.01,), (30,), (0.01,)], timeout=3)}
    assert replies[0].ok and replies[2].ok and "timed out" in replies[1].crash


def test_ray_routes_a_group_to_one_actor(ray_runner):
    """Tasks of one group (a tuning pair whose work one process shares) run on one actor, as in the
    local pool, and the two actors start at either half of the list: the groups they start with
    stay theirs (b and d go to whichever is free first, so they are not checked)."""
    groups = ["a", "b", "a", "b", "c", "d", "c", "d"]
    replies = list(ray_runner.run(os.getpid, [()] * 8, groups=groups))
    pid = {r.index: r.value for r in replies}
    assert all(r.ok for r in replies)
    assert pid[0] == pid[2] != pid[4] == pid[6]


def test_ray_timeout_starts_when_the_actor_is_up(ray_cluster):
    """A worker that takes longer to start than the timeout does not time out its quick tasks."""
    import time

    from sass_lab.lab.rayrunner import RayRunner

    r = RayRunner(jobs=2, warm=functools.partial(time.sleep, 4))  # importable in the actor
    try:
        replies = list(r.run(time.sleep, [(0.01,), (0.01,), (0.01,)], timeout=2))
        assert len(replies) == 3 and all(x.ok for x in replies), [x.crash for x in replies]
    finally:
        r.close()


def _suicide(x):
    if x == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 10


def test_gpus_runner_one_worker_per_gpu(kfile, tmp_path):
    probe = functools.partial(lambda: [Device("H100", "580.00")] * 2)
    r = GpusRunner(gpus=["0", "1"], probe=probe)
    try:
        out = tune(kfile, bench=bench_table(), db=tmp_path / "g.db", runner=r)
        tune(kfile, bench=bench_table(), db=tmp_path / "l.db", device=Device("H100", "580.00"))
        assert rows(tmp_path / "g.db") == rows(tmp_path / "l.db")
        assert {o.values["extra"]["gpu"] for o in out if o.status == "ok"} <= {"0", "1"}
        replies = {x.index: x for x in r.run(_suicide, [(0,), (1,), (2,)], gpu=True)}
        assert replies[0].value == 0 and replies[2].value == 20 and "SIGKILL" in replies[1].crash
    finally:
        r.close()


def test_local_runner_carries_typed_errors_and_crashes():
    r = LocalRunner(jobs=2)
    try:
        got = {x.index: x for x in r.run(_suicide, [(0,), (1,), (2,)])}
        assert got[0].value == 0 and got[2].value == 20 and "SIGKILL" in got[1].crash
        (e,) = list(r.run(_raise_source_error, [()]))
        assert isinstance(e.error, SourceError) and e.error.span.line == 3
    finally:
        r.close()


def _raise_source_error():
    from sass_lab.errors import Span

    raise SourceError("bad", span=Span("f.sasm", 3, 2, None, "  xx"))


def test_one_model():
    assert one_model([Device("H100", "1"), Device("H100", "1")]) == Device("H100", "1")
    with pytest.raises(UsageError, match="different models"):
        one_model([Device("H100", "1"), Device("A100", "1")])
    with pytest.raises(UsageError, match="different drivers"):
        one_model([Device("H100", "1"), Device("H100", "2")])
    with pytest.raises(UsageError, match="no GPU"):
        one_model([])


def test_cli_tune_through_ray(kfile, tmp_path, ray_cluster, capsys):
    import json

    from sass_lab.cli.main import main

    db = tmp_path / "cli.db"
    assert main(["tune", str(kfile), "--compile-only", "--runner", "ray", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["search"]["mode"] == "exhaustive" and out["verdict"] is None
    assert sorted(o["status"] for o in out["outcomes"]) == ["ok", "ok", "ok", "pruned"]
    assert len(rows(db)) == 4
