"""A content-addressed cache of compiled cubins, so unchanged PTX is never compiled twice.

The key is the SHA-256 of everything that decides the binary: the PTX text, the arch, the tool
(nvJitLink or ptxas, with its path), its options and the installed nvJitLink version. Only
successful compiles are stored (the cubin and the info log); resources are re-read from them.
Entries live in ``$SASS_LAB_CACHE`` or ``$XDG_CACHE_HOME/sass_lab/cubins`` (``~/.cache/...``);
``SASS_LAB_CACHE=off`` disables the cache. Writes are atomic (temp file + rename), so parallel
tuning workers can share it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path


def cache_dir() -> Path | None:
    env = os.environ.get("SASS_LAB_CACHE")
    if env == "off":
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sass_lab" / "cubins"


@lru_cache(maxsize=1)
def _tool_versions() -> str:
    from importlib import metadata

    out = []
    for name in ("nvidia-nvjitlink", "nvidia-cuda-nvcc-cu12", "cuda-bindings"):
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=absent")
    return ";".join(out)


def key(ptx: str, arch: str, tool: str, options: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in (ptx, arch, tool, "\0".join(options), _tool_versions()):
        h.update(part.encode())
        h.update(b"\x00\x01")
    return h.hexdigest()


def load(k: str) -> tuple[bytes, str] | None:
    d = cache_dir()
    if d is None:
        return None
    try:
        return (d / f"{k}.cubin").read_bytes(), (d / f"{k}.log").read_text()
    except OSError:
        return None


def store(k: str, cubin: bytes, log: str) -> None:
    d = cache_dir()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        for suffix, data in ((".log", log.encode()), (".cubin", cubin)):  # cubin last: it marks a hit
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, d / f"{k}{suffix}")
    except OSError:
        pass  # a read-only or full disk only costs a recompile
