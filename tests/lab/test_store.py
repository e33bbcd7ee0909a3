"""The SQLite results store: keys, transactions, best-per-size, history, resume."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from sass_lab.lab.store import Key, Result, Store, canon, default_db_path


def key(**kw):
    base = dict(kernel="sgemm", file="k.sasm", source_hash="abc", defines={"BM": 64}, arch="sm_90",
                device="NVIDIA H200", driver="580", versions={"numpy": "2"}, size={"M": 64})
    base.update(kw)
    return Key(**base)


def test_roundtrip_and_wal(tmp_path):
    with Store(tmp_path / "r.db") as st:
        mode = st.conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        st.put(Result(key(), "ok", {"median_s": 1e-3, "flops": 2e9, "extra": {"p": [1, 2]}}))
        (row,) = st.rows()
        assert row.defines == {"BM": 64} and row.size == {"M": 64}
        assert row.values["median_s"] == 1e-3 and row.values["extra"] == {"p": [1, 2]}


def test_key_is_canonical_and_unique(tmp_path):
    with Store(tmp_path / "r.db") as st:
        st.put(Result(key(defines={"BM": 64, "BN": 32}), "ok", {"median_s": 2.0}))
        # same key with dict keys in another order replaces, not duplicates
        st.put(Result(key(defines={"BN": 32, "BM": 64}), "ok", {"median_s": 1.0}))
        assert len(st.rows()) == 1 and st.rows()[0].values["median_s"] == 1.0
        assert st.has(key(defines={"BN": 32, "BM": 64}))
        assert not st.has(key(defines={"BM": 128}))
        assert not st.has(key(device="other"))


def test_best_per_kernel_and_size(tmp_path):
    with Store(tmp_path / "r.db") as st:
        for bm, t in ((64, 3.0), (128, 1.0), (256, 2.0)):
            st.put(Result(key(defines={"BM": bm}), "ok", {"median_s": t}))
        st.put(Result(key(defines={"BM": 32}), "failed", {"error": "boom"}))
        st.put(Result(key(size={"M": 128}, defines={"BM": 64}), "ok", {"median_s": 9.0}))
        best = st.best("sgemm")
        assert [(b.size["M"], b.defines["BM"]) for b in best] == [(128, 64), (64, 128)]
        assert len(st.rows("sgemm")) == 5
        assert st.rows("nope") == []


def test_static_rows_rank_by_score(tmp_path):
    with Store(tmp_path / "r.db") as st:
        st.put(Result(key(kind="static", defines={"BM": 64}), "ok", {"score": 0.5}))
        st.put(Result(key(kind="static", defines={"BM": 128}), "ok", {"score": 0.9}))
        (b,) = st.best()
        assert b.defines == {"BM": 128}


def _writer(path, i):
    with Store(path) as st:
        st.put(Result(key(defines={"BM": i}), "ok", {"median_s": float(i)}))


def test_concurrent_writers(tmp_path):
    path = tmp_path / "r.db"
    Store(path).close()
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    with Store(path) as st:
        assert sorted(r.defines["BM"] for r in st.rows()) == [0, 1, 2, 3]


def test_default_path_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SASS_LAB_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("SASS_LAB_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "sass_lab" / "results.db"


@pytest.mark.parametrize("a,b", [({"a": 1, "b": 2}, {"b": 2, "a": 1})])
def test_canon(a, b):
    assert canon(a) == canon(b)


def _racer(path, i, start):
    start.wait()
    with Store(path) as st:  # every process creates the same new database at once
        for j in range(20):
            k = key(defines={"BM": i, "j": j})
            assert st.get(k) is None  # a read between writes, as a resumed sweep does
            st.put(Result(k, "ok", {"median_s": float(j)}))


def test_sweeps_that_create_one_database_at_once_all_write(tmp_path):
    ctx = mp.get_context("spawn")
    for round_ in range(3):
        path = tmp_path / f"r{round_}.db"
        start = ctx.Barrier(8)
        procs = [ctx.Process(target=_racer, args=(path, i, start)) for i in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 8
        with Store(path) as st:
            assert len(st.rows()) == 8 * 20
