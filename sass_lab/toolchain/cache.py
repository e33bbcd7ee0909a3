"""A content-addressed cache of compiled cubins, so unchanged PTX is never compiled twice.

The key is the SHA-256 of everything that decides the binary: the PTX text, the arch, the compiler
(``ptxas 13.0.88`` with its path and size, or ``nvJitLink 13.0.88``) and its options. Only successful
compiles are stored. An entry is one file ``<key>.entry``: a header line with the compiler, the entry
names and the SHA-256 and length of the info log and the cubin, then the log, then the cubin.
:func:`load` checks all of it (the caller also checks the kernel names against the PTX), and a bad
entry — truncated, planted, another kernel's — is deleted and compiled again, never served.
Entries live in ``$SASS_LAB_CACHE`` or ``$XDG_CACHE_HOME/sass_lab/cubins`` (``~/.cache/...``);
``SASS_LAB_CACHE=off`` disables the cache. Writes are atomic (temp file + rename), so parallel
tuning workers share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..files import write_cache

MAGIC = b"sass_lab-cubin-cache 2\n"


@dataclass(frozen=True)
class Entry:
    cubin: bytes
    log: str
    kernels: tuple[str, ...]
    compiler: str


def cache_dir() -> Path | None:
    env = os.environ.get("SASS_LAB_CACHE")
    if env == "off":
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sass_lab" / "cubins"


def key(ptx: str, arch: str, compiler: str, options: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in (ptx, arch, compiler, "\0".join(options)):
        h.update(part.encode())
        h.update(b"\x00\x01")
    return h.hexdigest()


def _path(k: str) -> Path | None:
    d = cache_dir()
    return None if d is None else d / f"{k}.entry"


def load(k: str) -> Entry | None:
    """The verified entry for ``k``; None (and the file removed) when absent or damaged."""
    p = _path(k)
    if p is None:
        return None
    try:
        data = p.read_bytes()
    except OSError:
        return None
    entry = _decode(data)
    if entry is None:
        discard(k)
    return entry


def _decode(data: bytes) -> Entry | None:
    if not data.startswith(MAGIC):
        return None
    nl = data.find(b"\n", len(MAGIC))
    try:
        head = json.loads(data[len(MAGIC):nl])
        nlog, ncubin = int(head["log_len"]), int(head["cubin_len"])
        start = nl + 1
        log, cubin = data[start:start + nlog], data[start + nlog:]
        if (len(cubin) != ncubin or hashlib.sha256(log).hexdigest() != head["log_sha256"]
                or hashlib.sha256(cubin).hexdigest() != head["cubin_sha256"]):
            return None
        return Entry(cubin, log.decode(), tuple(head["kernels"]), str(head["compiler"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def discard(k: str) -> None:
    p = _path(k)
    if p is not None:
        with contextlib.suppress(OSError):
            p.unlink()


def store(k: str, entry: Entry) -> None:
    p = _path(k)
    if p is None:
        return
    log = entry.log.encode()
    head = {"compiler": entry.compiler, "kernels": list(entry.kernels), "log_len": len(log),
            "cubin_len": len(entry.cubin), "log_sha256": hashlib.sha256(log).hexdigest(),
            "cubin_sha256": hashlib.sha256(entry.cubin).hexdigest()}
    try:
        write_cache(p, MAGIC + json.dumps(head, sort_keys=True).encode() + b"\n" + log + entry.cubin)
    except OSError:
        pass  # a read-only or full disk only costs a recompile
