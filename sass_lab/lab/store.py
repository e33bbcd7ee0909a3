"""The results store: every tuning/benchmark result in SQLite (stdlib sqlite3, WAL mode).

One row per (kernel, source hash, defines, arch, device, driver, versions, problem size, run kind).
Rows hold time statistics, FLOP/s, efficiency, verification status and error text. Every write is
one transaction, so an interrupted sweep loses nothing and the next run skips what is stored.

Default location: ``$SASS_LAB_DB`` if set, else ``$XDG_DATA_HOME/sass_lab/results.db`` (that is,
``~/.local/share/sass_lab/results.db``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id            INTEGER PRIMARY KEY,
    created       REAL    NOT NULL,
    kernel        TEXT    NOT NULL,
    file          TEXT    NOT NULL,
    source_hash   TEXT    NOT NULL,
    defines       TEXT    NOT NULL,  -- canonical JSON
    arch          TEXT    NOT NULL,
    device        TEXT    NOT NULL,  -- GPU name, or 'static' / 'emulator' without one
    driver        TEXT    NOT NULL,
    versions      TEXT    NOT NULL,  -- canonical JSON of package versions
    size          TEXT    NOT NULL,  -- canonical JSON of the problem size
    kind          TEXT    NOT NULL,  -- 'bench' | 'static' | 'peer'
    status        TEXT    NOT NULL,  -- 'ok' | 'failed' | 'pruned' | 'verify_failed'
    median_s      REAL, p20_s REAL, p80_s REAL, min_s REAL,
    flops         REAL, flop_s REAL, bytes_s REAL,
    efficiency    REAL,              -- against the peak the harness used (0..1)
    score         REAL,              -- static model score for --compile-only ranking
    registers     INTEGER, shared_bytes INTEGER, occupancy REAL, spills INTEGER,
    verified      TEXT,              -- 'pass' | 'fail' | 'skipped' | NULL
    max_rel_err   REAL,
    error         TEXT,
    extra         TEXT,              -- JSON for anything else
    UNIQUE (kernel, source_hash, defines, arch, device, driver, versions, size, kind)
);
CREATE INDEX IF NOT EXISTS results_kernel ON results (kernel, size);
"""

COLUMNS = ("median_s", "p20_s", "p80_s", "min_s", "flops", "flop_s", "bytes_s", "efficiency", "score",
           "registers", "shared_bytes", "occupancy", "spills", "verified", "max_rel_err", "error")


def default_db_path() -> Path:
    env = os.environ.get("SASS_LAB_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sass_lab" / "results.db"


def canon(obj) -> str:
    """Canonical JSON (sorted keys, no spaces) so equal dicts give equal keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def source_hash(path: str | Path) -> str:
    """Hash of the kernel file and every file it may include (same folder tree, .sasm)."""
    path = Path(path)
    h = hashlib.sha256(path.read_bytes())
    inc = path.parent / "include"
    if inc.is_dir():
        for f in sorted(inc.glob("*.sasm")):
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Key:
    """Everything that identifies one measurement."""

    kernel: str
    file: str
    source_hash: str
    defines: dict
    arch: str
    device: str
    driver: str
    versions: dict
    size: dict
    kind: str = "bench"

    def sql(self) -> tuple:
        return (self.kernel, self.source_hash, canon(self.defines), self.arch, self.device, self.driver,
                canon(self.versions), canon(self.size), self.kind)


@dataclass
class Result:
    key: Key
    status: str
    values: dict = field(default_factory=dict)  # any of COLUMNS, plus 'extra'


@dataclass(frozen=True)
class Row:
    """One stored row, decoded."""

    id: int
    created: float
    kernel: str
    file: str
    source_hash: str
    defines: dict
    arch: str
    device: str
    driver: str
    versions: dict
    size: dict
    kind: str
    status: str
    values: dict

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(d.pop("values"))
        return d


class Store:
    """A handle on the results database (one connection; use as a context manager)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        with self.conn:
            self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def put(self, result: Result) -> int:
        """Insert or replace one result in its own transaction; returns the row id."""
        k = result.key
        vals = {c: result.values.get(c) for c in COLUMNS}
        extra = result.values.get("extra")
        cols = ("created", "kernel", "file", "source_hash", "defines", "arch", "device", "driver",
                "versions", "size", "kind", "status", *COLUMNS, "extra")
        row = (time.time(), k.kernel, k.file, k.source_hash, canon(k.defines), k.arch, k.device,
               k.driver, canon(k.versions), canon(k.size), k.kind, result.status,
               *vals.values(), canon(extra) if extra is not None else None)
        with self.conn:
            cur = self.conn.execute(
                f"INSERT OR REPLACE INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                row)
        return int(cur.lastrowid)

    def has(self, key: Key) -> bool:
        """True when a result with exactly this key is stored (used to resume sweeps)."""
        cur = self.conn.execute(
            "SELECT 1 FROM results WHERE kernel=? AND source_hash=? AND defines=? AND arch=? AND device=? "
            "AND driver=? AND versions=? AND size=? AND kind=?", key.sql())
        return cur.fetchone() is not None

    def rows(self, kernel: str | None = None, kind: str | None = None) -> list[Row]:
        """Every stored row, newest first (the history)."""
        q, args = "SELECT * FROM results WHERE 1=1", []
        if kernel:
            q += " AND kernel=?"
            args.append(kernel)
        if kind:
            q += " AND kind=?"
            args.append(kind)
        q += " ORDER BY created DESC, id DESC"
        cur = self.conn.execute(q, args)
        names = [d[0] for d in cur.description]
        return [_decode(dict(zip(names, r))) for r in cur.fetchall()]

    def best(self, kernel: str | None = None) -> list[Row]:
        """The best row per (kernel, size): fastest ok bench row, else best static score."""
        best: dict[tuple, Row] = {}
        for r in self.rows(kernel):
            if r.status != "ok":
                continue
            k = (r.kernel, canon(r.size), r.kind)
            cur = best.get(k)
            if cur is None or _better(r, cur):
                best[k] = r
        return sorted(best.values(), key=lambda r: (r.kernel, canon(r.size), r.kind))


def _better(a: Row, b: Row) -> bool:
    ta, tb = a.values.get("median_s"), b.values.get("median_s")
    if ta is not None and tb is not None:
        return ta < tb
    sa, sb = a.values.get("score"), b.values.get("score")
    return sa is not None and (sb is None or sa > sb)


def _decode(d: dict) -> Row:
    values = {c: d[c] for c in COLUMNS}
    if d.get("extra"):
        values["extra"] = json.loads(d["extra"])
    return Row(id=d["id"], created=d["created"], kernel=d["kernel"], file=d["file"],
               source_hash=d["source_hash"], defines=json.loads(d["defines"]), arch=d["arch"],
               device=d["device"], driver=d["driver"], versions=json.loads(d["versions"]),
               size=json.loads(d["size"]), kind=d["kind"], status=d["status"], values=values)


def package_versions(names: Iterable[str] = ("sass-lab", "numpy", "cuda-bindings", "nvidia-nvjitlink",
                                             "lark")) -> dict[str, str]:
    """Installed versions of the packages that change a binary or a measurement."""
    from importlib import metadata

    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "absent"
    return out
