"""Fault injection: a sweep survives kill -9, compiler crashes and hangs, concurrent writers, damaged
and read-only databases; no worker outlives its sweep.

The compiler is the real ptxas behind a small wrapper (``$SASS_LAB_PTXAS``) that crashes (SIGSEGV) on
PTX carrying the label ``CRASH_ME``, hangs on ``HANG_ME``, and otherwise waits ``FAKE_DELAY`` seconds
before running ptxas, so a sweep lasts long enough to be killed at random points.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from procs import alive

from sass_lab.toolchain.ptxas import ptxas_path

N = 12
KERNEL = """\
.define X = 0
.kernel k(.u64 p)
.reg .u64 a
.reg .u32 v
    ld.param.u64 a, [p]
    mov.u32 v, ${X}
% if X == @CRASH@:
CRASH_ME:
% end
% if X == @HANG@:
HANG_ME:
% end
    st.global.u32 [a], v
    ret
%% lab
TUNE = {"X": list(range(NUM))}
SIZE = dict(n=1)
def block(s, d): return (32, 1, 1)
def grid(s, d): return (1, 1, 1)
%%
""".replace("NUM", str(N))

WRAPPER = """#!/bin/sh
for a; do case "$a" in *.ptx) src="$a";; esac; done
if grep -q CRASH_ME "$src"; then kill -SEGV $$; fi
if grep -q HANG_ME "$src"; then exec sleep 600; fi
sleep "${FAKE_DELAY:-0}"
exec %s "$@"
"""

DRIVER = textwrap.dedent("""
    import sys
    from sass_lab.lab.tune import tune
    def progress(stage, done, total):
        print(done, flush=True)
    out = tune(sys.argv[1], compile_only=True, db=sys.argv[2], jobs=2, progress=progress)
    print("statuses", sorted(o.status for o in out), flush=True)
""")


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A kernel file, a results path and the faulty-ptxas environment."""
    wrapper = tmp_path / "ptxas"
    wrapper.write_text(WRAPPER % ptxas_path("sm_90"))
    wrapper.chmod(0o755)
    k = tmp_path / "k.sasm"
    k.write_text(KERNEL.replace("@CRASH@", "-1").replace("@HANG@", "-1"))
    env = {**os.environ, "SASS_LAB_PTXAS": str(wrapper), "SASS_LAB_CACHE": str(tmp_path / "cubins"),
           "FAKE_DELAY": "0"}
    monkeypatch.setenv("SASS_LAB_PTXAS", str(wrapper))
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path / "cubins"))
    return k, tmp_path / "r.db", env


def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        return con.execute("SELECT defines, status, error FROM results").fetchall()
    finally:
        con.close()


def _descendants(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parts = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if parts[0] != "Z":
                kids.setdefault(int(parts[1]), []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and kill -9")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_a_random_point_loses_only_what_was_in_flight(lab, seed):
    k, db, env = lab
    p = subprocess.Popen([sys.executable, "-c", DRIVER, str(k), str(db)], stdout=subprocess.PIPE, text=True,
                         env={**env, "FAKE_DELAY": "0.5"})  # 12 candidates on 2 workers: a ~3 s sweep
    printed = [int(p.stdout.readline())]  # the sweep is under way: its workers are up
    time.sleep(random.Random(seed).uniform(0.0, 1.5))
    family = _descendants(p.pid)
    assert p.poll() is None and family, "the sweep ended before it could be killed"
    p.kill()  # kill -9: no cleanup code runs in the sweep's process
    printed += [int(x) for x in p.stdout.read().split() if x.isdigit()]
    p.wait()
    stored = len(_rows(db))  # and the database passes its integrity check
    # every result reported stored is in the database; at most the one being reported is beyond it
    assert printed[-1] <= stored <= printed[-1] + 1 and stored < N
    deadline = time.monotonic() + 3
    while any(alive(x) for x in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [x for x in family if alive(x)], "a worker outlived its killed sweep"
    out = subprocess.run([sys.executable, "-c", DRIVER, str(k), str(db)], capture_output=True, text=True,
                         env=env, check=True).stdout
    statuses = json.loads(out.splitlines()[-1].split(" ", 1)[1].replace("'", '"'))
    assert statuses.count("skipped") == stored  # resumed: nothing stored is compiled again
    rows = _rows(db)
    assert len(rows) == N and len({r[0] for r in rows}) == N and {r[1] for r in rows} == {"ok"}


def test_a_compiler_crash_costs_one_candidate(lab):
    from sass_lab.lab.tune import tune

    k, db, _ = lab
    k.write_text(KERNEL.replace("@CRASH@", "3").replace("@HANG@", "-1"))
    out = tune(k, compile_only=True, db=db, jobs=2)
    by = {o.static.defines["X"]: o for o in out}
    assert by[3].status == "failed" and "crashed" in by[3].reason and "SIGSEGV" in by[3].reason
    assert all(by[x].status == "ok" for x in range(N) if x != 3)
    assert by[0].static.compiler.startswith("ptxas 13.0.")
    rows = _rows(db)
    assert len(rows) == N and sum(r[1] == "failed" for r in rows) == 1
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    (versions,) = {r[0] for r in con.execute("SELECT versions FROM results")}
    con.close()
    assert json.loads(versions)["compiler"].startswith("ptxas 13.0.")  # the key names the compiler


def test_a_hung_compile_is_killed_at_the_timeout(lab):
    from sass_lab.lab.tune import tune

    k, db, _ = lab
    k.write_text(KERNEL.replace("@CRASH@", "-1").replace("@HANG@", "5"))
    t0 = time.monotonic()
    out = tune(k, compile_only=True, db=db, jobs=2, timeout=1.0)
    assert time.monotonic() - t0 < 30
    by = {o.static.defines["X"]: o for o in out}
    assert by[5].status == "failed" and "compile timeout" in by[5].reason
    assert sum(o.status == "ok" for o in out) == N - 1


def test_the_cli_exposes_the_compile_timeout(lab, capsys):
    from sass_lab.cli.main import main

    k, db, _ = lab
    k.write_text(KERNEL.replace("@CRASH@", "-1").replace("@HANG@", "0"))
    assert main(["assemble", str(k), "--compile-timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "did not finish within the compile timeout (0.5 s)" in err and "--compile-timeout" in err
    assert main(["assemble", str(k), "--compile-timeout", "-1"]) == 1


def test_concurrent_sweeps_share_one_database(lab):
    k, db, env = lab
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, str(k), str(db)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    rows = _rows(db)
    assert len(rows) == N and len({r[0] for r in rows}) == N


def _sweep_cli(k: Path, db: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sass_lab.cli.main", "tune", str(k), "--compile-only",
                           "--db", str(db), *extra], capture_output=True, text=True, env=env, timeout=300)


def _results_cli(db: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sass_lab.cli.main", "results", "--db", str(db), "--json"],
                          capture_output=True, text=True, env=env, timeout=120)


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_a_damaged_database_is_refused_and_never_written(lab):
    from sass_lab.lab.tune import tune

    k, db, env = lab
    tune(k, compile_only=True, db=db, jobs=2)
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(db.read_bytes())
    assert len(data) >= 3 * 4096
    data[4096 + 8:4096 + 72] = os.urandom(64)  # scribble over the results table's cell pointers
    db.write_bytes(bytes(data))
    for side in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        side.unlink(missing_ok=True)
    digest = _digest(db)
    for run in (_sweep_cli(k, db, env), _results_cli(db, env)):
        assert run.returncode == 1, run.stderr
        assert "damaged" in run.stderr and str(db) in run.stderr and "Traceback" not in run.stderr
    assert _digest(db) == digest
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


@pytest.mark.parametrize("kind", ["folder", "not-sqlite", "missing"])
def test_bad_db_paths(lab, kind):
    k, _, env = lab
    where = k.parent / {"folder": "dbdir", "not-sqlite": "notes.db", "missing": "new.db"}[kind]
    if kind == "folder":
        where.mkdir()
    elif kind == "not-sqlite":
        where.write_text("these are my notes, not a database\n" * 200)
    digest = _digest(where) if where.is_file() else None
    r = _results_cli(where, env)
    assert r.returncode == 1 and str(where) in r.stderr
    if kind == "missing":
        assert not where.exists()  # reading never creates a database
    else:
        assert _sweep_cli(k, where, env).returncode == 1
        assert digest is None or _digest(where) == digest


def _make_read_only(p: Path) -> bool:
    if os.geteuid() == 0:
        return shutil.which("chattr") is not None and subprocess.run(["chattr", "+i", str(p)]).returncode == 0
    p.chmod(0o444)
    p.parent.chmod(0o555)
    return True


def _make_writable(p: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(p)])
    else:
        p.parent.chmod(0o755)
        p.chmod(0o644)


def test_a_read_only_database_is_read_but_never_written(lab):
    from sass_lab.lab.tune import tune

    k, db, env = lab
    tune(k, compile_only=True, db=db, jobs=2, restrict=[{"X": 0}])
    if not _make_read_only(db):
        pytest.skip("cannot make a file read-only here")
    try:
        digest = _digest(db)
        r = _sweep_cli(k, db, env)
        assert r.returncode == 1 and "read-only" in r.stderr and str(db) in r.stderr, r.stderr
        r = _results_cli(db, env)
        assert r.returncode == 0 and len(json.loads(r.stdout)) == 1, r.stderr
        assert _digest(db) == digest
    finally:
        _make_writable(db)


def test_a_corrupted_cache_entry_never_reaches_the_output(lab, tmp_path):
    from sass_lab.cli.main import main

    k, _, env = lab
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    assert main(["assemble", str(k), "-o", str(out1)]) == 0
    (entry,) = Path(env["SASS_LAB_CACHE"]).glob("*.entry")
    entry.write_bytes(entry.read_bytes()[:-64])  # truncated, as by a full disk
    assert main(["assemble", str(k), "-o", str(out2)]) == 0
    assert (out2 / "k.cubin").read_bytes() == (out1 / "k.cubin").read_bytes()
