"""Keys per configuration, export/import as JSON lines, and two stores merging."""

from __future__ import annotations

import json

import pytest

from sass_lab.cli.main import main
from sass_lab.lab import tune as T
from sass_lab.lab.exchange import export
from sass_lab.lab.store import Key, Result, Store, source_hash


def key(**kw):
    base = dict(kernel="k", file="k.sasm", source_hash="abc", defines={"B": 1}, arch="sm_90", device="H100",
                driver="580", versions={"sass-lab": "0.1.0", "compiler": "ptxas 13.0.88"}, size={"n": 1},
                kind="bench")
    return Key(**{**base, **kw})


def fill(db, rows):
    with Store(db) as st:
        for k, status, vals, t in rows:
            st.put(Result(k, status, vals), created=t)


def test_source_hash_covers_what_a_file_includes(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "a.sasm").write_text("// a\n")
    (tmp_path / "other.sasm").write_text("// never included\n")
    k = tmp_path / "k.sasm"
    k.write_text('.include "inc/a.sasm"\n.kernel k()\n    ret\n')
    h0 = source_hash(k)
    (tmp_path / "other.sasm").write_text("// changed\n")
    assert source_hash(k) == h0
    (tmp_path / "inc" / "a.sasm").write_text("// b\n")
    assert source_hash(k) != h0


def test_every_key_field_separates_rows(tmp_path):
    db = tmp_path / "r.db"
    variants = [key(), key(defines={"B": 2}), key(size={"n": 2}), key(arch="sm_80"), key(device="A100"),
                key(driver="570"), key(versions={"sass-lab": "0.2.0", "compiler": "ptxas 13.0.88"}),
                key(versions={"sass-lab": "0.1.0", "compiler": "nvJitLink 13.0.88"}), key(source_hash="abd"),
                key(kind="static")]
    fill(db, [(k, "ok", {"median_s": 1e-3}, 1.0) for k in variants])
    with Store(db) as st:
        assert len(st.rows()) == len(variants)
        assert all(st.get(k) is not None for k in variants)


def test_export_import_round_trip_and_merge(tmp_path, capsys):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    fill(a, [(key(), "ok", {"median_s": 2e-3, "registers": 40}, 10.0),
             (key(defines={"B": 2}), "failed", {"error": "boom"}, 10.0)])
    fill(b, [(key(), "ok", {"median_s": 1e-3, "registers": 40}, 20.0),  # newer: wins the merge
             (key(defines={"B": 3}), "ok", {"median_s": 3e-3}, 5.0)])
    out = tmp_path / "b.jsonl"
    assert main(["results", "--db", str(b), "--export", str(out)]) == 0
    assert main(["results", "--db", str(a), "--import", str(out)]) == 0
    assert "imported 2 row(s)" in capsys.readouterr().err
    with Store(a) as st:
        got = {json.dumps(r.defines): (r.status, r.values["median_s"], r.created) for r in st.rows()}
    assert got == {'{"B": 1}': ("ok", 1e-3, 20.0), '{"B": 2}': ("failed", None, 10.0),
                   '{"B": 3}': ("ok", 3e-3, 5.0)}
    assert main(["results", "--db", str(a), "--import", str(out)]) == 0  # twice: nothing changes
    assert "imported 0 row(s)" in capsys.readouterr().err
    # merging the other way gives the same rows
    ea = tmp_path / "a.jsonl"
    assert main(["results", "--db", str(a), "--export", str(ea)]) == 0
    assert main(["results", "--db", str(b), "--import", str(ea)]) == 0
    with Store(a) as sa, Store(b) as sb:
        def strip(rows):
            return sorted((r.defines["B"], r.status, r.created, r.values["median_s"]) for r in rows)
        assert strip(sa.rows()) == strip(sb.rows())


@pytest.mark.parametrize("line,why", [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "a JSON list"),
    ('{"kernel": "k"}', "'file' must be"),
    ("BAD_STATUS", "unknown status"),
    ("BAD_NUMBER", "'median_s' must be a finite number"),
    ("EXTRA_FIELD", "unknown field(s) colour"),
])
def test_a_malformed_import_is_exit_1_at_its_line(tmp_path, capsys, line, why):
    good = list(export([]))[0]
    row = json.loads(list(export(_rows(tmp_path)))[1])
    if line == "BAD_STATUS":
        line = json.dumps({**row, "status": "great"})
    elif line == "BAD_NUMBER":
        line = json.dumps({**row, "median_s": "fast"})
    elif line == "EXTRA_FIELD":
        line = json.dumps({**row, "colour": "red"})
    f = tmp_path / "x.jsonl"
    f.write_text(f"{good}\n{json.dumps(row)}\n{line}\n")
    db = tmp_path / "t.db"
    assert main(["results", "--db", str(db), "--import", str(f)]) == 1
    err = capsys.readouterr().err
    assert f"{f}:3:1" in err and why in err and "Traceback" not in err
    assert not db.exists()  # nothing written before every line is checked


def _rows(tmp_path):
    db = tmp_path / "src.db"
    fill(db, [(key(), "ok", {"median_s": 1e-3}, 1.0)])
    with Store(db) as st:
        return st.rows()


def test_a_sweep_keys_rows_by_compiler_and_resumes_only_the_same_key(tmp_path, monkeypatch):
    k = tmp_path / "k.sasm"
    k.write_text(".define B = 1\n.kernel k()\n    ret\n%% lab\nTUNE = {\"B\": [1, 2]}\nSIZE = dict(n=1)\n"
                 "def block(s, d): return (32, 1, 1)\ndef grid(s, d): return (1, 1, 1)\n%%\n")

    def fake(path, arch, cands, size, **kw):
        for d in cands:
            yield T.Static(defines=d, kernel="k", block=32, blocks_per_sm=1, ffma_share=0.5)

    monkeypatch.setattr(T, "compile_runner", fake)
    db = tmp_path / "r.db"
    T.tune(k, compile_only=True, db=db)
    assert all(o.status == "skipped" for o in T.tune(k, compile_only=True, db=db))
    assert all(o.status == "ok" for o in T.tune(k, compile_only=True, db=db, compiler="nvjitlink"))
    assert all(o.status == "ok" for o in T.tune(k, compile_only=True, db=db, size={"n": 2}))
    with Store(db) as st:
        assert len(st.rows()) == 6
