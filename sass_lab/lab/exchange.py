"""Moving results between stores: JSON Lines export and a validated, merging import.

``export(store)`` writes one JSON object per stored row and line: the key (kernel, file, source
hash, defines, arch, device, driver, versions, size, kind), the status, ``created`` and every value
column. ``load(lines)`` checks every line before anything is written — valid JSON, an object, every
key field present with its type, a known status and kind, numbers where numbers belong — and a bad
line is a :class:`~sass_lab.errors.SourceError` at that line of the file. ``merge(store, rows)``
adds rows whose key is new and replaces a stored row only with a newer one (``created``), so two
stores merge in either order to the same result and importing a file twice changes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import SourceError, Span
from .store import COLUMNS, Key, Result, Row, Store

FORMAT = "sass_lab-results 1"
STATUSES = ("ok", "pruned", "failed", "verify_failed", "skipped")
KINDS = ("bench", "static", "peer")
TEXT = ("kernel", "file", "source_hash", "arch", "device", "driver", "kind", "status")
MAPS = ("defines", "versions", "size")
STRINGS = ("verified", "error")
INTS = ("registers", "shared_bytes", "spills")


@dataclass(frozen=True)
class Entry:
    """One imported row: its key, status, values and when it was measured."""

    key: Key
    status: str
    values: dict
    created: float


def export(rows: Iterable[Row]) -> Iterator[str]:
    """One JSON line per row (a header line first, naming the format)."""
    yield json.dumps({"format": FORMAT})
    for r in rows:
        d = {"kernel": r.kernel, "file": r.file, "source_hash": r.source_hash, "defines": r.defines,
             "arch": r.arch, "device": r.device, "driver": r.driver, "versions": r.versions, "size": r.size,
             "kind": r.kind, "status": r.status, "created": r.created,
             **{c: v for c, v in r.values.items() if v is not None}}
        yield json.dumps(d, sort_keys=True, default=str)


def load(text: str, file: str = "<import>") -> list[Entry]:
    """Every row of an export, checked; SourceError at the first bad line."""
    out = []
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue

        def bad(why: str, line: str = line, n: int = n) -> SourceError:
            return SourceError(f"not a sass_lab results line: {why}", span=Span(file, n, 1, None, line[:240]),
                               hint="import files come from `sass_lab results --export FILE`")

        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise bad(f"invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(d, dict):
            raise bad(f"a JSON {type(d).__name__}, not an object")
        if "format" in d and len(d) == 1:
            if d["format"] != FORMAT:
                raise bad(f"format {d['format']!r}; this sass_lab reads {FORMAT!r}")
            continue
        for f in TEXT:
            if not isinstance(d.get(f), str) or not d[f]:
                raise bad(f"'{f}' must be a non-empty string")
        for f in MAPS:
            if not isinstance(d.get(f), dict):
                raise bad(f"'{f}' must be an object")
        if d["status"] not in STATUSES:
            raise bad(f"unknown status {d['status']!r} (one of {', '.join(STATUSES)})")
        if d["kind"] not in KINDS:
            raise bad(f"unknown kind {d['kind']!r} (one of {', '.join(KINDS)})")
        created = d.get("created")
        if not _number(created):
            raise bad("'created' must be a number (seconds since the epoch)")
        values = {}
        for c in (*COLUMNS, "extra"):
            v = d.get(c)
            if v is None:
                continue
            if c in STRINGS and not isinstance(v, str):
                raise bad(f"'{c}' must be a string")
            if c in INTS and (not isinstance(v, int) or isinstance(v, bool)):
                raise bad(f"'{c}' must be an integer")
            if c not in STRINGS and c != "extra" and not _number(v):
                raise bad(f"'{c}' must be a finite number")
            values[c] = v
        unknown = set(d) - {*TEXT, *MAPS, "created", *COLUMNS, "extra"}
        if unknown:
            raise bad(f"unknown field(s) {', '.join(sorted(unknown))}")
        key = Key(d["kernel"], d["file"], d["source_hash"], d["defines"], d["arch"], d["device"], d["driver"],
                  d["versions"], d["size"], d["kind"])
        out.append(Entry(key, d["status"], values, float(created)))
    return out


def merge(store: Store, entries: Iterable[Entry]) -> tuple[int, int]:
    """Add new keys and newer rows; returns (rows written, rows kept as they were)."""
    wrote = kept = 0
    for e in entries:
        have = store.get(e.key)
        if have is not None and have.created >= e.created:
            kept += 1
            continue
        store.put(Result(e.key, e.status, e.values), created=e.created)
        wrote += 1
    return wrote, kept


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


__all__ = ["FORMAT", "Entry", "export", "load", "merge"]
