"""Running the user's Python: contained, not sandboxed.

A ``.sasm`` file runs Python with the user's privileges (``%`` lines, ``%%`` blocks, ``${...}``,
``.define`` values, the ``%% lab`` block and its functions), like a Makefile or a ``setup.py``: it
can read and write files, start processes, import anything. Nothing here prevents that. What
:class:`contained` does guarantee is that user code cannot break the tool or the next kernel:

- interpreter state it changes is put back afterwards: the recursion limit, the working directory,
  ``sys.path``/``sys.argv``/``os.environ``, standard streams, builtins, SIGINT/SIGTERM handlers,
  NumPy's floating-point error mode, warning filters, the int-string digit limit, trace/profile
  hooks, the GC switch and interval;
- ``SystemExit`` and a ``KeyboardInterrupt`` that the user *raised* (not a real Ctrl-C) are reported
  by the caller as errors at the user's line (``is_user_exit``), never as the tool's exit status;
- ``budget`` seconds of wall clock: past it, :class:`OverBudget` is raised in the running thread
  (again every 0.25 s if the user's code catches it), so ``% while True: pass`` ends.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
import time
import warnings

__all__ = ["OverBudget", "contained", "is_user_exit"]


class OverBudget(BaseException):  # noqa: N818 - BaseException so `except Exception` in user code cannot swallow it
    """The user's code ran past its wall-clock budget."""


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class contained:  # noqa: N801 - used like a function: `with contained(budget=60):`
    """Run user code in a ``with`` block: state restored, exits made reportable, time bounded."""

    def __init__(self, budget: float | None = None) -> None:
        self.budget = budget
        self.real_interrupt = False
        self._raised: BaseException | None = None  # the exception the ``with`` body ended with
        self._token = None

    def __enter__(self) -> contained:
        self._saved = _save()
        if threading.current_thread() is threading.main_thread():
            prev = signal.getsignal(signal.SIGINT)

            def on_sigint(signum, frame):  # a real Ctrl-C stays a Ctrl-C
                self.real_interrupt = True
                if callable(prev):
                    prev(signum, frame)
                raise KeyboardInterrupt

            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGINT, on_sigint)
        if self.budget is not None:
            self._token = _ALARMS.add(threading.get_ident(), time.monotonic() + self.budget)
        return self

    def __exit__(self, *exc) -> None:
        self._raised = exc[1]
        late = False
        while self._token is not None:  # an alarm may land while it is being removed
            try:
                _ALARMS.remove(self._token)
                self._token = None
            except OverBudget:
                late = True
        _restore(self._saved)
        if late and exc[0] is None:
            raise OverBudget


def is_user_exit(e: BaseException, box: contained | None) -> bool:
    """True for an exception the user's code raised to leave: SystemExit, GeneratorExit, or a
    KeyboardInterrupt that no Ctrl-C caused. A KeyboardInterrupt is the user's only if it is the one
    the ``with`` body ended with: a Ctrl-C landing just before the box took SIGINT over, or while it
    hands SIGINT back, reaches Python's own handler and stays a Ctrl-C."""
    if isinstance(e, KeyboardInterrupt):
        return box is not None and box._raised is e and not box.real_interrupt
    return isinstance(e, (SystemExit, GeneratorExit))


# --------------------------------------------------------------------------- interpreter state


def _save() -> dict:
    import numpy as np

    main = threading.current_thread() is threading.main_thread()
    return {
        "recursion": sys.getrecursionlimit(), "cwd": _cwd(), "path": list(sys.path), "argv": list(sys.argv),
        "environ": dict(os.environ), "streams": (sys.stdin, sys.stdout, sys.stderr),
        "builtins": dict(builtins.__dict__), "signals": {s: signal.getsignal(s) for s in _SIGNALS} if main else {},
        "np": np.geterr(), "warnings": list(warnings.filters), "digits": sys.get_int_max_str_digits(),
        "trace": (sys.gettrace(), sys.getprofile()), "gc": gc.isenabled(), "switch": sys.getswitchinterval(),
    }


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _restore(s: dict) -> None:
    import numpy as np

    if sys.getrecursionlimit() != s["recursion"]:
        sys.setrecursionlimit(s["recursion"])
    if s["cwd"] is not None and _cwd() != s["cwd"]:
        with contextlib.suppress(OSError):
            os.chdir(s["cwd"])
    if sys.path != s["path"]:
        sys.path[:] = s["path"]
    if sys.argv != s["argv"]:
        sys.argv[:] = s["argv"]
    if dict(os.environ) != s["environ"]:
        for k in set(os.environ) - set(s["environ"]):
            del os.environ[k]
        os.environ.update(s["environ"])
    sys.stdin, sys.stdout, sys.stderr = s["streams"]
    if builtins.__dict__ != s["builtins"]:
        builtins.__dict__.clear()
        builtins.__dict__.update(s["builtins"])
    for sig, handler in s["signals"].items():
        if signal.getsignal(sig) is not handler and handler is not None:
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    np.seterr(**s["np"])
    warnings.filters[:] = s["warnings"]
    sys.set_int_max_str_digits(s["digits"])
    if (sys.gettrace(), sys.getprofile()) != s["trace"]:
        sys.settrace(s["trace"][0])
        sys.setprofile(s["trace"][1])
    (gc.enable if s["gc"] else gc.disable)()
    sys.setswitchinterval(s["switch"])


# --------------------------------------------------------------------------- the budget alarm


class _Alarms:
    """One daemon thread per process raising :class:`OverBudget` in threads past their deadline."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Fresh state (also in a forked child: the thread and any lock it held stay behind)."""
        self.cond = threading.Condition()
        self.entries: dict[int, list] = {}  # token -> [thread id, deadline, raised yet]
        self.next = 0
        self.pid = -1

    def add(self, tid: int, deadline: float) -> int:
        with self.cond:
            if self.pid != os.getpid():  # first use, or a forked child: the thread did not survive
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="sass_lab-budget", daemon=True).start()
            self.next += 1
            self.entries[self.next] = [tid, deadline, False]
            self.cond.notify()
            return self.next

    def remove(self, token: int) -> None:
        with self.cond:
            entry = self.entries.pop(token, None)
            if entry is not None and entry[2]:  # clear an alarm raised but not yet delivered
                # only then: clearing leaves CPython's async-exception signal set, and under a
                # profiler (cProfile) every later lock operation of the process then spins
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[0]), None)

    def _run(self) -> None:
        while True:
            with self.cond:
                now = time.monotonic()
                for entry in self.entries.values():
                    if entry[1] <= now:
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[0]),
                                                                  ctypes.py_object(OverBudget))
                        entry[1:] = now + 0.25, True  # again, until the thread leaves its block
                wait = min((e[1] for e in self.entries.values()), default=now + 3600) - now
                self.cond.wait(max(0.001, wait))


_ALARMS = _Alarms()
os.register_at_fork(after_in_child=_ALARMS.reset)
