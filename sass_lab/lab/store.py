"""The results store: every tuning/benchmark result in SQLite (stdlib sqlite3, WAL mode).

One row per (kernel, source hash, defines, arch, device, driver, versions, problem size, run kind).
Rows hold time statistics, FLOP/s, efficiency, verification status and error text. Every write is
one transaction, so an interrupted sweep loses nothing and the next run skips what is stored.

A database is checked before use: a directory, a file that is not SQLite, or one that fails
``PRAGMA quick_check`` is refused with a clear error (:class:`StoreError`) and never written (the
check itself opens the file immutable, so it leaves no journal files either). Readers
(``Store(path, write=False)``) open it read-only and never create a file.

Default location: ``$SASS_LAB_DB`` if set, else ``$XDG_DATA_HOME/sass_lab/results.db`` (that is,
``~/.local/share/sass_lab/results.db``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..errors import UsageError


class StoreError(UsageError):
    """The results database cannot be used: missing, not SQLite, damaged, or not writable."""

LOCK_WAIT_S = 30.0  # how long a sweep waits for another one holding the database

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


def source_files(path: str | Path) -> list[Path]:
    """The kernel file and every file it includes (``.include`` is static text, resolved without
    running the file's Python), in order; just the file when its includes cannot be read."""
    from ..dsl.expand import load_sources
    from ..files import read_source

    path = Path(path).resolve()
    try:
        lines = load_sources(read_source(path), str(path))
    except Exception:  # noqa: BLE001 - the assembler reports a broken include; the key needs the file
        return [path]
    return [path, *(Path(f) for f in dict.fromkeys(x.file for x in lines) if Path(f) != path)]


def source_hash(path: str | Path) -> str:
    """Hash of the kernel file and of every file it includes (names relative to the kernel)."""
    path = Path(path).resolve()
    h = hashlib.sha256()
    for f in source_files(path):
        h.update(os.path.relpath(f, path.parent).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
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
    """A handle on the results database (one connection; use as a context manager).

    ``write=False`` opens an existing database read-only (StoreError when there is none).
    """

    def __init__(self, path: str | os.PathLike | None = None, write: bool = True):
        self.path = Path(path) if path else default_db_path()
        self.write = write
        if self.path.is_dir():
            raise StoreError(f"results database {self.path} is a folder, not a file",
                             hint=f"name a file, e.g. --db {self.path / 'results.db'}")
        if not self.path.exists() and not write:
            raise StoreError(f"no results database at {self.path}",
                             hint="nothing has been stored there yet (tune/bench write it); check --db")
        if self.path.exists():
            check(self.path)
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # a reader of a database with no write-ahead log beside it opens it immutable: read-only
            # alone would create the -wal and -shm files and could not remove them
            self.conn = _connect(self.path, "rwc" if write else "ro",
                                 immutable=not write and not Path(f"{self.path}-wal").exists())
            if write:
                _busy_retry(self._prepare)
        except (sqlite3.Error, OSError) as e:
            raise _unusable(self.path, e, write) from None

    def _prepare(self) -> None:
        """WAL mode and the schema. Switching the journal mode or creating the table while another
        sweep creates the same database can answer "locked" at once, without SQLite's busy wait."""
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("BEGIN IMMEDIATE")  # the write lock first, with the busy wait
        try:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def put(self, result: Result, created: float | None = None) -> int:
        """Insert or replace one result in its own transaction; returns the row id.

        ``created``: when it was measured (default: now; an import keeps the original time)."""
        k = result.key
        vals = {c: result.values.get(c) for c in COLUMNS}
        extra = result.values.get("extra")
        cols = ("created", "kernel", "file", "source_hash", "defines", "arch", "device", "driver",
                "versions", "size", "kind", "status", *COLUMNS, "extra")
        row = (time.time() if created is None else created, k.kernel, k.file, k.source_hash, canon(k.defines), k.arch, k.device,
               k.driver, canon(k.versions), canon(k.size), k.kind, result.status,
               *vals.values(), canon(extra) if extra is not None else None)
        try:  # autocommit: the one statement is its own transaction
            cur = self.conn.execute(
                f"INSERT OR REPLACE INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                row)
        except sqlite3.Error as e:
            raise _unusable(self.path, e, True) from None
        return int(cur.lastrowid)

    def has(self, key: Key) -> bool:
        """True when a result with exactly this key is stored (used to resume sweeps)."""
        cur = self.conn.execute(
            "SELECT 1 FROM results WHERE kernel=? AND source_hash=? AND defines=? AND arch=? AND device=? "
            "AND driver=? AND versions=? AND size=? AND kind=?", key.sql())
        found = cur.fetchone() is not None
        cur.close()  # an unfinished SELECT would hold its read snapshot open
        return found

    def get(self, key: Key) -> Row | None:
        """The row stored under exactly this key, or None."""
        cur = self.conn.execute(
            "SELECT * FROM results WHERE kernel=? AND source_hash=? AND defines=? AND arch=? AND device=? "
            "AND driver=? AND versions=? AND size=? AND kind=?", key.sql())
        names = [d[0] for d in cur.description]
        r = cur.fetchone()
        cur.close()
        return _decode(dict(zip(names, r))) if r else None

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
        try:
            cur = self.conn.execute(q, args)
            names = [d[0] for d in cur.description]
            return [_decode(dict(zip(names, r))) for r in cur.fetchall()]
        except sqlite3.Error as e:
            if "no such table: results" in str(e):  # a sweep interrupted before its schema: empty
                return []
            raise _unusable(self.path, e, False) from None

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


def _busy_retry(fn, seconds: float = LOCK_WAIT_S) -> None:
    """Call ``fn`` again while SQLite answers "locked"/"busy" without waiting, for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as e:
            if not ("locked" in str(e) or "busy" in str(e)) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _connect(path: Path, mode: str, immutable: bool = False) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}?mode={mode}" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT_S, isolation_level=None)


def check(path: str | os.PathLike) -> None:
    """Raise StoreError unless ``path`` is a SQLite database that passes ``PRAGMA quick_check``.

    With no write-ahead log beside it the file is opened immutable, so the check creates nothing;
    with one, read-only (the log holds committed rows the check must see).
    """
    path = Path(path)
    wal = Path(f"{path}-wal").exists()
    try:
        conn = _connect(path, "ro", immutable=not wal)
    except sqlite3.Error as e:
        raise _unusable(path, e, False) from None
    try:
        result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        if result != ["ok"]:
            said = [x for r in result for x in r.splitlines() if x.strip() and not x.startswith("***")]
            raise StoreError(f"results database {path} is damaged (PRAGMA quick_check: {'; '.join(said[:2])}"
                             + (f"; {len(said) - 2} more" if len(said) > 2 else "") + ")",
                             hint="it was left untouched; move it aside (a new one is started) or "
                                  "salvage it with the sqlite3 shell's .recover")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "results" not in tables:
            raise StoreError(f"{path} is a SQLite database but not a sass_lab results store "
                             f"(tables: {', '.join(sorted(tables))})", hint="pick another file with --db")
    except sqlite3.Error as e:
        raise _unusable(path, e, False) from None
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.close()


def _unusable(path: Path, e: Exception, write: bool) -> StoreError:
    msg = str(e)
    if "not a database" in msg:
        return StoreError(f"{path} is not a SQLite database ({msg})", hint="pick another file with --db")
    if "malformed" in msg or "corrupt" in msg:
        return StoreError(f"results database {path} is damaged ({msg})",
                          hint="move it aside (a new one is started) or salvage it with the sqlite3 shell's .recover")
    if write and ("readonly" in msg or "read-only" in msg or isinstance(e, PermissionError)):
        return StoreError(f"cannot write the results database {path}: it is read-only ({msg})",
                          hint="make it writable, or store elsewhere with --db PATH")
    if "locked" in msg or "busy" in msg:
        return StoreError(f"results database {path} stayed locked by another process for {LOCK_WAIT_S:g} s ({msg})",
                          hint="wait for the other sweep, or use another --db")
    return StoreError(f"cannot use the results database {path}: {msg}", hint="check the path, or use --db")


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
