"""Forked worker processes that never outlive their parent; a crash or a hang costs one task.

``Pool(jobs)`` runs picklable calls ``fn(*args)`` in ``fork``ed workers. The parent imports what the
tasks need before the first fork (``preload``), so a worker starts warm in milliseconds.
``pool.run(fn, argsets, timeout)`` yields ``(index, Done)`` as tasks finish, in completion order;
``pool.call(fn, *args, timeout=…)`` runs one task. A :class:`Done` holds the value, or the exception
``fn`` raised, or ``crash``: why the worker died (a signal, an exit code) or that it ran past
``timeout`` and was killed. A dead worker is replaced, so the other tasks go on.

Each worker leads its own process group (killing the group also kills what it started, e.g. a
ptxas), ignores SIGINT (the parent decides what Ctrl-C stops), and dies with its parent: through
``PR_SET_PDEATHSIG`` when forked from the main thread, and through a watchdog thread that polls
``getppid()`` every 0.2 s, so even ``kill -9`` of the parent leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import multiprocessing as mp
import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

__all__ = ["Done", "Pool", "choose", "die_with_parent", "in_worker", "pick", "serve_as_worker"]

_IN_WORKER = False
GC_THRESHOLDS = (20_000, 20, 20)  # a worker builds IR by the hundred thousand objects: collect seldom
_PARENT_ENDS: set = set()  # this process's ends of its workers' pipes (closed in each new worker)
_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def in_worker() -> bool:
    """True inside a :class:`Pool` worker (a crash here already costs only the task)."""
    return _IN_WORKER


def serve_as_worker() -> None:
    """Mark this process as a worker that another runner supervises (a Ray actor): a native crash
    here already costs only its task, so nothing inside needs a cage of its own."""
    global _IN_WORKER
    _IN_WORKER = True


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the thread that forked it exits (Linux only).

    Safe as a ``subprocess`` ``preexec_fn``: it calls a pre-resolved C function and nothing else.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True)
class Done:
    """One finished task: ``value``, or ``error`` (raised by the task), or ``crash`` (worker lost)."""

    value: Any = None
    error: BaseException | None = None
    crash: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.crash is None


def describe_exit(code: int | None) -> str:
    """``killed by SIGSEGV`` / ``exit code 3`` for a process's exit code."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# --------------------------------------------------------------------------- inside a worker


def _watchdog(parent: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            with contextlib.suppress(OSError):
                os.killpg(0, signal.SIGKILL)
            os._exit(1)


def _picklable(e: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001 - an exception that does not pickle: send its text
        return RuntimeError(f"{type(e).__name__}: {e}")


def _serve(conn, parent: int, pdeathsig: bool, err_fd: int) -> None:
    global _IN_WORKER
    _IN_WORKER = True
    os.dup2(err_fd, 2)  # what a crashing library prints goes back with the crash
    faulthandler.disable()  # its Python traceback would bury the library's own last words
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent across the fork
    if pdeathsig:
        die_with_parent()
    if os.getppid() != parent:  # the parent died before PR_SET_PDEATHSIG took effect
        os._exit(1)
    for end in list(_PARENT_ENDS):  # other workers' pipes, inherited through fork
        with contextlib.suppress(OSError):
            end.close()
    _PARENT_ENDS.clear()
    gc.freeze()  # what the parent left behind is never garbage here: collections skip it (and its pages stay shared)
    gc.set_threshold(*GC_THRESHOLDS)
    threading.Thread(target=_watchdog, args=(parent,), daemon=True).start()
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        with contextlib.suppress(OSError):
            os.ftruncate(2, 0)
            os.lseek(2, 0, os.SEEK_SET)
        try:
            reply = ("ok", fn(*args))
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the parent
            reply = ("err", _picklable(e))
        try:
            conn.send(reply)
        except Exception as e:  # noqa: BLE001 - e.g. an unpicklable value
            conn.send(("err", RuntimeError(f"the task's result cannot be sent back: {e}")))


# --------------------------------------------------------------------------- the parent's side


def pick(waiting: Sequence[Hashable], mine: Hashable | None, started: set,
         tasks: Sequence[int] | None = None, last: int = -1) -> int:
    """Which waiting task (by position) a worker whose last task was of group ``mine`` takes: the
    first of that group, else the first of a group not in ``started`` (no other worker has it) —
    the group of the first task whose number (``tasks``, one per waiting task) follows ``last``,
    the worker's last task, when there is one, so a worker goes on through the list where it is —
    else the first."""
    if mine is not None:
        for at, g in enumerate(waiting):
            if g == mine:
                return at
    free = [at for at, g in enumerate(waiting) if g not in started]
    if not free:
        return 0
    if tasks is not None:
        after = next((at for at in free if tasks[at] > last), free[0])
        return waiting.index(waiting[after])  # a group's tasks in their order
    return free[0]


def choose(pending: Sequence[tuple[int, Any]], groups: Sequence[Hashable] | None, last: dict, who: Hashable,
           width: int) -> int:
    """The position in ``pending`` (``(task number, args)`` pairs, in list order) of the task that
    worker ``who`` takes next under :func:`pick`, with ``groups`` (one per task number; None: the
    first). ``last`` maps each worker to its last task's (group, number) and is updated; a group
    another worker's last task had is that worker's (it takes the rest when it is free), and a
    worker new to ``last`` starts its own stretch of the list (the ``k``-th of ``width`` at
    ``k / width`` of it), so the workers start far apart."""
    if groups is None:
        return 0
    mine, after = last.get(who, (None, len(last) * len(groups) // width - 1))
    others = {g for w, (g, _) in last.items() if w != who}
    at = pick([groups[i] for i, _ in pending], mine, others, [i for i, _ in pending], after)
    last[who] = (groups[pending[at][0]], pending[at][0])
    return at


class _Worker:
    def __init__(self, ctx) -> None:
        ours, theirs = ctx.Pipe()
        main = threading.current_thread() is threading.main_thread()
        self.stderr = tempfile.TemporaryFile()
        self.proc = ctx.Process(target=_serve, args=(theirs, os.getpid(), main, self.stderr.fileno()),
                                daemon=True)
        # SIGINT stays blocked from the fork until the child ignores it: a Ctrl-C sent to the process
        # group in that window would otherwise raise KeyboardInterrupt inside the child's start-up.
        # The parent's own Ctrl-C is delivered when its mask is restored.
        was = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.proc.start()
            with contextlib.suppress(OSError):
                os.setpgid(self.proc.pid, self.proc.pid)  # also here: no window before the child's own call
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, was)
        theirs.close()
        self.conn = ours
        _PARENT_ENDS.add(ours)
        self.index: int | None = None
        self.started = 0.0
        self.deadline: float | None = None

    def send(self, index: int, fn, args, timeout: float | None) -> None:
        self.index, self.started = index, time.monotonic()
        self.deadline = self.started + timeout if timeout else None
        self.conn.send((fn, args))

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.join(5)
        self.close()

    def last_words(self) -> str:
        """The end of what the worker wrote to stderr during its last task."""
        try:
            fd = self.stderr.fileno()
            size = os.fstat(fd).st_size
            text = os.pread(fd, 2000, max(0, size - 2000)).decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return " | ".join(line for line in text.splitlines()[-5:] if line.strip())

    def close(self) -> None:
        _PARENT_ENDS.discard(self.conn)
        with contextlib.suppress(OSError):
            self.conn.close()
        self.stderr.close()


class Pool:
    """Up to ``jobs`` forked workers; use as a context manager (leaving it kills every worker)."""

    def __init__(self, jobs: int = 1, preload: Callable[[], None] | None = None) -> None:
        self.jobs = max(1, int(jobs))
        self._preload = preload
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._ctx = mp.get_context("fork")

    def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        if self._preload is not None:
            self._preload()
            self._preload = None
        w = _Worker(self._ctx)
        self._all.append(w)
        return w

    def _drop(self, w: _Worker) -> None:
        w.kill()
        if w in self._all:
            self._all.remove(w)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._all if w.proc.is_alive()]

    def run(self, fn: Callable, argsets: Iterable[tuple], timeout: float | None = None,
            groups: Sequence[Hashable] | None = None) -> Iterator[tuple[int, Done]]:
        """Run ``fn(*args)`` for every tuple; yield ``(index, Done)`` as each finishes.

        ``groups`` (one per task): a worker that finishes a task takes the next task of the same
        group if one is waiting, else the next one after it in the list of a group no other worker
        has taken (see :func:`choose`), the workers starting at evenly spaced points of the list, so
        work a process keeps from one task (e.g. ``api.Reuse``) serves the next and the tasks a
        worker sees are neighbours (a tuning space's candidates in order differ in the last values).
        """
        pending = list(enumerate(argsets))
        busy: dict[Any, _Worker] = {}
        last: dict[int, tuple[Hashable, int]] = {}  # id(worker) -> (group, number) of its last task

        def fill() -> None:
            while pending and len(busy) < self.jobs:
                w = self._worker()
                i, args = pending.pop(choose(pending, groups, last, id(w), self.jobs))
                if not w.proc.is_alive():  # e.g. its forking thread exited (PDEATHSIG)
                    self._drop(w)
                    w = self._worker()
                try:
                    w.send(i, fn, tuple(args), timeout)
                except (OSError, EOFError):  # died while idle: a fresh one takes the task
                    self._drop(w)
                    w = self._worker()
                    w.send(i, fn, tuple(args), timeout)
                busy[w.conn] = w

        try:
            while pending or busy:
                fill()
                finished = list(self._collect(busy))
                fill()  # the freed workers start their next task before the caller handles these results
                yield from finished
        finally:
            for w in list(busy.values()):  # the consumer stopped early: nothing may keep running
                self._drop(w)

    def _collect(self, busy: dict) -> Iterator[tuple[int, Done]]:
        deadlines = [w.deadline for w in busy.values() if w.deadline is not None]
        wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        sentinels = {w.proc.sentinel: w for w in busy.values()}
        ready = wait([*busy, *sentinels], wait_s)
        done: dict[_Worker, Done] = {}
        for r in ready:
            w = busy.get(r) or sentinels[r]
            if w in done:
                continue
            took = time.monotonic() - w.started
            try:
                if not w.conn.poll():
                    raise EOFError
                status, payload = w.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                w.proc.join(5)
                said = w.last_words()
                done[w] = Done(crash=f"the worker process died ({describe_exit(w.proc.exitcode)})"
                                     + (f": {said}" if said else ""), seconds=took)
                continue
            done[w] = Done(value=payload, seconds=took) if status == "ok" else Done(error=payload, seconds=took)
        now = time.monotonic()
        for w in busy.values():
            if w not in done and w.deadline is not None and now >= w.deadline:
                done[w] = Done(crash=f"timed out after {now - w.started:.1f} s (killed)", seconds=now - w.started)
        for w, d in done.items():
            del busy[w.conn]
            if d.crash is None:
                self._idle.append(w)
            else:
                self._drop(w)
            yield w.index, d

    def call(self, fn: Callable, *args: Any, timeout: float | None = None) -> Done:
        """Run one task in a worker and return its :class:`Done`."""
        for _, d in self.run(fn, [args], timeout):
            return d
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Kill every worker (and what it started) now."""
        for w in self._all:
            w.kill()
        self._all.clear()
        self._idle.clear()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
