"""Process helpers shared by the tests that kill workers and compilers."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, or no such process, is not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
