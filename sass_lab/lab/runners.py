"""Where a sweep's tasks run: one protocol, three runners (``local``, ``gpus``, ``ray``).

A runner maps a picklable function over argument tuples and yields a :class:`Reply` per task in
completion order: the value, or the exception the task raised (typed: a compile error stays a
:class:`~sass_lab.errors.SasmError` with its span), or ``crash`` — why the worker was lost (a
signal, an exit, a timeout). A lost worker costs its task only; the runner replaces it and goes on.
Runners never touch the results store: the driver (``lab.tune``) is its only writer.

- ``local``: CPU tasks in the warm fork pool of :mod:`sass_lab.workers`; GPU tasks one at a time,
  each in a fresh ``spawn`` process (a sticky CUDA fault stays there).
- ``gpus``: one persistent worker process per visible GPU on this machine (``CUDA_VISIBLE_DEVICES``
  set to its GPU before CUDA starts); a worker whose task raised is replaced, so a poisoned context
  never times the next candidate. CPU tasks as ``local``.
- ``ray``: one actor per GPU across a Ray cluster (``num_gpus=1``), and CPU actors for compiles
  (``pip install "sass-lab[ray]"``; ``address=None`` starts a local cluster, ``"auto"`` or
  ``ray://host:10001`` joins one). Each actor gets the kernel's files with every task batch (see
  :class:`Bundle`), so nodes need sass_lab installed but not the checkout.

``devices()`` names the GPU model and driver of every GPU worker; the driver refuses a sweep whose
workers disagree on the model (timings from an H100 and an A100 are not one ranking).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..errors import SasmError, UsageError
from ..workers import Pool, describe_exit

RUNNERS = ("local", "gpus", "ray")


@dataclass(frozen=True)
class Reply:
    """One finished task: ``value``, or ``error`` (raised by the task), or ``crash`` (worker lost)."""

    index: int
    value: Any = None
    error: BaseException | None = None
    crash: str | None = None
    seconds: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.crash is None


@dataclass(frozen=True)
class Device:
    """A GPU worker's device: the model name and the driver version (the store key's fields)."""

    name: str
    driver: str


class Runner(Protocol):
    """What the sweep driver needs from a place to run tasks."""

    kind: str

    def run(self, fn: Callable, argsets: Iterable[tuple], *, gpu: bool = False,
            timeout: float | None = None, groups: list | None = None) -> Iterator[Reply]: ...

    def devices(self) -> list[Device]: ...

    def close(self) -> None: ...


def one_model(devices: list[Device]) -> Device:
    """The one device model of a sweep; UsageError when its GPU workers are of different models."""
    if not devices:
        raise UsageError("the runner has no GPU to time candidates on")
    names = sorted({d.name for d in devices})
    if len(names) > 1:
        raise UsageError(f"this sweep's GPUs are of different models ({', '.join(names)}): one sweep ranks "
                         "timings from one model only",
                         hint="restrict it to one model with CUDA_VISIBLE_DEVICES, or Ray resources")
    drivers = sorted({d.driver for d in devices})
    if len(drivers) > 1:
        raise UsageError(f"this sweep's GPUs run different drivers ({', '.join(drivers)})",
                         hint="tune on machines with one driver version, or one machine at a time")
    return devices[0]


# --------------------------------------------------------------------------- kernel files travel


@dataclass(frozen=True)
class Bundle:
    """A kernel file and the files it includes, so a worker on another machine can compile it.

    ``files`` maps absolute paths (as on the driver's machine) to their bytes. A worker uses the
    driver's paths when they hold the same bytes (one machine, a shared file system), else writes the
    files under a private folder and maps error spans back to the driver's paths.
    """

    main: str
    files: tuple[tuple[str, bytes], ...]
    digest: str

    @staticmethod
    def of(path: str | Path) -> Bundle:
        from .store import source_files

        files = tuple((str(p), p.read_bytes()) for p in source_files(path))
        h = hashlib.sha256()
        for name, data in files:
            h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return Bundle(str(Path(path).resolve()), files, h.hexdigest()[:16])

    def place(self) -> str:
        """The path to compile on this machine (the driver's own when the bytes match)."""
        if all(_same(name, data) for name, data in self.files):
            return self.main
        import tempfile

        root = Path(tempfile.gettempdir()) / f"sass_lab-bundle-{self.digest}"
        for name, data in self.files:
            dest = root / name.lstrip("/")
            if not _same(str(dest), data):
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(dest.name + f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, dest)
        return str(root / self.main.lstrip("/"))

    def unplace(self, value: Any, placed: str) -> Any:
        """``value`` with paths under the private folder written as the driver's paths."""
        if placed == self.main:
            return value
        root = placed[: len(placed) - len(self.main.lstrip("/"))].rstrip("/")
        return _relocate(value, root)


def _same(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def _relocate(value: Any, root: str) -> Any:
    if isinstance(value, str):
        return value.replace(root, "")
    if isinstance(value, SasmError):
        sp = value.span
        if sp is not None:
            sp = replace(sp, file=_relocate(sp.file, root), chain=tuple(_relocate(c, root) for c in sp.chain))
        return type(value)(_relocate(value.message, root), span=sp, hint=value.hint,
                           log=_relocate(value.log, root) if value.log else value.log)
    if isinstance(value, dict):
        return {k: _relocate(v, root) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__") and value.__dataclass_params__.frozen:
        return replace(value, **{f: _relocate(getattr(value, f), root) for f in value.__dataclass_fields__
                                 if isinstance(getattr(value, f), (str, SasmError, dict))})
    return value


def bundled(fn: Callable, bundle: Bundle, *args: Any) -> Any:
    """Run ``fn(path, *args)`` with ``path`` placed from ``bundle`` (a task for remote workers)."""
    where = bundle.place()
    try:
        return bundle.unplace(fn(where, *args), where)
    except SasmError as e:
        raise bundle.unplace(e, where) from None


# --------------------------------------------------------------------------- local


def _spawned(q, fn, args) -> None:
    try:
        q.put(("ok", fn(*args)))
    except BaseException as e:  # noqa: BLE001 - sent back to the parent
        from ..workers import _picklable

        q.put(("err", _picklable(e)))


def run_spawned(fn: Callable, args: tuple, timeout: float | None, env: dict | None = None) -> Reply:
    """``fn(*args)`` in a fresh ``spawn`` process (with ``env`` set), waited for up to ``timeout``."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.monotonic()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        p = ctx.Process(target=_spawned, args=(q, fn, args), daemon=True)
        p.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    deadline = None if timeout is None else t0 + timeout
    while True:  # read before join: a large reply would block the child on a full pipe
        with contextlib.suppress(Exception):
            status, payload = q.get(timeout=0.1)
            p.join(5)
            took = time.monotonic() - t0
            return (Reply(0, value=payload, seconds=took) if status == "ok"
                    else Reply(0, error=payload, seconds=took))
        if not p.is_alive() and q.empty():
            p.join()
            return Reply(0, crash=f"the worker process died ({describe_exit(p.exitcode)})",
                         seconds=time.monotonic() - t0)
        if deadline is not None and time.monotonic() > deadline:
            p.kill()
            p.join()
            return Reply(0, crash=f"timed out after {timeout:.1f} s (killed)", seconds=time.monotonic() - t0)


class LocalRunner:
    """CPU tasks in a warm fork pool (``jobs`` workers); GPU tasks in turn, each in a fresh process."""

    kind = "local"

    def __init__(self, jobs: int | None = None, preload: Callable[[], None] | None = None,
                 probe: Callable[[], list[Device]] | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self._preload = preload
        self._probe = probe or gpu_inventory
        self._pool: Pool | None = None

    def run(self, fn, argsets, *, gpu=False, timeout=None, groups=None) -> Iterator[Reply]:
        argsets = list(argsets)
        if gpu:
            for i, args in enumerate(argsets):
                yield replace(run_spawned(fn, tuple(args), timeout), index=i, worker="gpu0")
            return
        if self._pool is None:
            self._pool = Pool(min(self.jobs, max(1, len(argsets))), preload=self._preload)
        for i, d in self._pool.run(fn, argsets, timeout=timeout, groups=groups):
            yield Reply(i, d.value, d.error, d.crash, d.seconds, "cpu")

    def devices(self) -> list[Device]:
        return self._probe()[:1]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _inventory() -> list[tuple[str, str]]:
    from ..runtime import device_info, probe

    return [(device_info(i)["name"], str(device_info(i)["driver"])) for i in range(probe())]


def gpu_inventory() -> list[Device]:
    """Every visible GPU (name, driver), probed in a fresh process so this one never starts CUDA
    (a forked worker cannot use a CUDA context its parent created)."""
    r = run_spawned(_inventory, (), 120)
    if not r.ok:
        if isinstance(r.error, SasmError):
            raise r.error
        raise UsageError(f"could not list the GPUs: {r.error or r.crash}")
    return [Device(n, d) for n, d in r.value]


# --------------------------------------------------------------------------- gpus: one worker per GPU


def _on_gpu(ordinal: str, fn: Callable, args: tuple) -> Any:
    """Runs in a GPU worker: pin the process to its GPU before CUDA starts, then run the task."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") != ordinal:
        os.environ["CUDA_VISIBLE_DEVICES"] = ordinal
    return fn(*args)


class GpusRunner(LocalRunner):
    """One persistent worker process per visible GPU; GPU tasks go to whichever GPU is free.

    ``gpus``: the GPU ordinals to use (default: every visible one, as ``CUDA_VISIBLE_DEVICES`` lists
    them). A worker whose task raised or died is replaced before its next task.
    """

    kind = "gpus"

    def __init__(self, jobs: int | None = None, preload: Callable[[], None] | None = None,
                 probe: Callable[[], list[Device]] | None = None, gpus: list[str] | None = None) -> None:
        super().__init__(jobs, preload, probe)
        self._gpus = gpus
        self._workers: dict[str, Pool] = {}

    def ordinals(self) -> list[str]:
        if self._gpus is None:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            ids = [x.strip() for x in visible.split(",") if x.strip()] if visible else None
            self._gpus = ids or [str(i) for i in range(len(self._probe()))]
        return self._gpus

    def devices(self) -> list[Device]:
        found = self._probe()
        return found if len(found) == len(self.ordinals()) else found[: len(self.ordinals())]

    def run(self, fn, argsets, *, gpu=False, timeout=None, groups=None) -> Iterator[Reply]:
        if not gpu:
            yield from super().run(fn, argsets, gpu=False, timeout=timeout, groups=groups)
            return
        pending = list(enumerate(argsets))[::-1]
        free = list(self.ordinals())[::-1]
        if not free:
            raise UsageError("no GPU is visible to the gpus runner", hint="check CUDA_VISIBLE_DEVICES")
        import threading
        from queue import Queue

        done: Queue = Queue()

        def one(ordinal: str, i: int, args: tuple) -> None:
            pool = self._workers.setdefault(ordinal, Pool(1))
            d = pool.call(_on_gpu, ordinal, fn, tuple(args), timeout=timeout)
            if not d.ok:
                pool.close()  # a fresh process (and CUDA context) for the next candidate
            done.put((ordinal, Reply(i, d.value, d.error, d.crash, d.seconds, f"gpu{ordinal}")))

        busy = 0
        while pending or busy:
            while pending and free:
                i, args = pending.pop()
                threading.Thread(target=one, args=(free.pop(), i, args), daemon=True).start()
                busy += 1
            ordinal, reply = done.get()
            busy -= 1
            free.append(ordinal)
            yield reply

    def close(self) -> None:
        super().close()
        for pool in self._workers.values():
            pool.close()
        self._workers.clear()


def tasks_for(runner: Runner, path: str, fn: Callable, rows: list[tuple]) -> tuple[Callable, list[tuple]]:
    """``fn(path, *row)`` for each row, wrapped so a runner on other machines gets the files too."""
    if getattr(runner, "ships_files", False):
        b = Bundle.of(path)
        return bundled, [(fn, b, *r) for r in rows]
    return fn, [(path, *r) for r in rows]


__all__ = ["RUNNERS", "Bundle", "Device", "GpusRunner", "LocalRunner", "Reply", "Runner", "bundled",
           "gpu_inventory", "one_model", "run_spawned", "tasks_for"]
