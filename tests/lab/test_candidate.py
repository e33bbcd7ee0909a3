"""Candidate summaries cached beside the cubins: a rerun compiles nothing; keyed like the store."""

from __future__ import annotations

import pytest

from sass_lab.lab.tune import tune

KERNEL = """\
.define X = 0, P = (1, 2)
.include "inc/body.sasm"
%% lab
TUNE = {"X": [0, 1, 2], "P": [(1, 2), (3, 4)]}
SIZE = dict(n=1)
def block(s, d): return (64, 1, 1)
def grid(s, d): return (1, 1, 1)
%%
"""
BODY = """\
.kernel k(.u64 p)
.reg .u64 a
.reg .u32 v
    ld.param.u64 a, [p]
    mov.u32 v, ${X + P[0]}
    st.global.u32 [a], v
    ret
"""


@pytest.fixture
def kfile(tmp_path, monkeypatch):
    monkeypatch.setenv("SASS_LAB_CACHE", str(tmp_path / "cache"))
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "body.sasm").write_text(BODY)
    p = tmp_path / "k.sasm"
    p.write_text(KERNEL)
    return p


def test_a_rerun_reads_every_summary_and_starts_no_worker(kfile, tmp_path, monkeypatch):
    first = tune(kfile, compile_only=True, db=tmp_path / "a.db", jobs=2)
    assert len(first) == 6 and not any(o.static.cached for o in first)
    from sass_lab.lab import runners

    monkeypatch.setattr(runners, "Pool", None)  # a worker pool would now fail: none may start
    again = tune(kfile, compile_only=True, db=tmp_path / "b.db", jobs=2)
    assert all(o.static.cached for o in again)
    key = lambda o: (tuple(sorted(o.static.defines.items())), o.status, o.score, o.static.registers)  # noqa: E731
    assert sorted(map(key, first)) == sorted(map(key, again))
    assert {type(o.static.defines["P"]) for o in again} == {tuple}  # the caller's values come back


def test_a_changed_include_or_a_damaged_entry_is_compiled_again(kfile, tmp_path):
    tune(kfile, compile_only=True, db=tmp_path / "a.db", jobs=2)
    (tmp_path / "inc" / "body.sasm").write_text(BODY.replace("${X + P[0]}", "${X + P[1]}"))
    out = tune(kfile, compile_only=True, db=tmp_path / "b.db", jobs=2)
    assert not any(o.static.cached for o in out)
    entries = sorted((tmp_path / "cache").glob("*.cand"))
    assert len(entries) == 12
    for e in entries:
        e.write_bytes(e.read_bytes()[:40])  # truncated, as by a full disk
    out = tune(kfile, compile_only=True, db=tmp_path / "c.db", jobs=2)
    assert not any(o.static.cached for o in out) and {o.status for o in out} == {"ok"}
