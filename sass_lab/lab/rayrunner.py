"""The ``ray`` runner: one actor per GPU across a Ray cluster, CPU actors for compiles.

``pip install "sass-lab[ray]"``. ``RayRunner(address=None)`` starts a local cluster (no dashboard)
and shuts it down on :meth:`close`; ``address="auto"`` or ``"ray://head:10001"`` joins a running
cluster and leaves it running. GPU tasks go to actors holding one GPU each (``num_gpus=1``), CPU
tasks (compiles) to actors holding one CPU each (``jobs`` of them, default: the cluster's CPUs).
An actor imports and warms the pipeline once, then serves many tasks.

A task's exception comes back as the exception (typed, span included); an actor that dies (a
native crash, ``kill -9``, a lost node) or runs past the timeout costs only its task: it is
recorded as a crash and a fresh actor takes its place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import UsageError
from .runners import Device, Reply

__all__ = ["RayRunner"]


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError("the ray runner needs Ray, which is not installed",
                         hint='pip install "sass-lab[ray]"') from None
    return ray


ACTOR_START_S = 60.0  # how long a new actor may take to come up before its tasks are timed


class _Worker:
    """The actor body: runs tasks and returns ``("ok", value)`` or ``("err", exception)``."""

    def __init__(self, warm: Callable[[], None] | None) -> None:
        from ..workers import serve_as_worker

        serve_as_worker()
        if warm is not None:
            warm()

    def pid(self) -> int:
        return os.getpid()

    def call(self, fn: Callable, args: tuple) -> tuple[str, Any]:
        try:
            return "ok", fn(*args)
        except Exception as e:  # noqa: BLE001 - typed errors travel back as values
            from ..workers import _picklable

            return "err", _picklable(e)


def _device_of(probe: Callable[[], tuple[str, str]] | None) -> tuple[str, str]:
    if probe is not None:
        return probe()
    from ..runtime import device_info

    info = device_info(0)
    return info["name"], str(info["driver"])


class RayRunner:
    """Tasks on Ray actors (see the module docstring)."""

    kind = "ray"
    ships_files = True  # workers may be on other machines: tasks carry the kernel's files

    def __init__(self, address: str | None = None, jobs: int | None = None,
                 warm: Callable[[], None] | None = None, probe: Callable[[], tuple[str, str]] | None = None,
                 init: dict | None = None) -> None:
        ray = self.ray = _ray()
        self._owns = False
        if not ray.is_initialized():
            kw = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if address is None:
                kw["num_cpus"] = jobs or os.cpu_count() or 1
            try:
                ray.init(address=address, **{**kw, **(init or {})})
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise UsageError(f"cannot reach the Ray cluster at {address}: {e}",
                                 hint="start one with `ray start --head`, or leave out --ray-address "
                                      "for a local one") from None
            self._owns = True
        self.jobs = jobs
        self._warm = warm
        self._probe = probe
        self._actors: dict[bool, list] = {True: [], False: []}

    # ------------------------------------------------------------------ actors

    def _width(self, gpu: bool) -> int:
        res = self.ray.cluster_resources()
        if gpu:
            n = int(res.get("GPU", 0))
            if n == 0:
                raise UsageError("the Ray cluster has no GPU to time candidates on",
                                 hint="start its nodes with GPUs, or sweep with --compile-only")
            return n
        return max(1, self.jobs or int(res.get("CPU", 1)))

    def _new(self, gpu: bool):
        opts = {"num_gpus": 1, "num_cpus": 0} if gpu else {"num_cpus": 1}
        cls = self.ray.remote(max_restarts=0, max_task_retries=0, **opts)(_Worker)
        actor = cls.remote(self._warm)
        # A task's timeout starts when its actor is up: starting a worker process (and importing
        # sass_lab in it) on a busy node can take longer than a short timeout. An actor that cannot
        # start, or is still not up after a minute, is used anyway: its first task reports that.
        try:
            self.ray.get(actor.pid.remote(), timeout=ACTOR_START_S)
        except Exception:  # noqa: BLE001 - surfaces as the task's crash or timeout
            pass
        return actor

    def _kill(self, actor) -> None:
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def devices(self) -> list[Device]:
        pool = self._actors[True]
        while len(pool) < self._width(True):
            pool.append(self._new(True))
        found = self.ray.get([a.call.remote(_device_of, (self._probe,)) for a in pool])
        out = []
        for status, value in found:
            if status != "ok":
                raise value
            out.append(Device(*value))
        return out

    def pids(self, gpu: bool = False) -> list[int]:
        """The process ids of the live actors (for tests)."""
        return self.ray.get([a.pid.remote() for a in self._actors[gpu]])

    # ------------------------------------------------------------------ running

    def run(self, fn, argsets, *, gpu=False, timeout=None, groups=None) -> Iterator[Reply]:
        # ``groups`` (tasks whose work one process can share) are routed as the local pool routes them
        ray = self.ray
        from ray.exceptions import RayActorError, RayError

        from ..workers import choose

        pending = list(enumerate(argsets))
        if not pending:
            return
        idle = self._actors[gpu]
        width = min(self._width(gpu), len(pending))
        while len(idle) < width:
            idle.append(self._new(gpu))
        busy: dict[Any, tuple[Any, int, float]] = {}  # ref -> (actor, index, started)
        last: dict[int, tuple] = {}  # id(actor) -> (group, number) of its last task
        try:
            while pending or busy:
                while pending and idle:
                    actor = idle.pop()
                    i, args = pending.pop(choose(pending, groups, last, id(actor), width))
                    busy[actor.call.remote(fn, tuple(args))] = (actor, i, time.monotonic())
                wait_s = None
                if timeout is not None:
                    wait_s = max(0.0, min(t for _, _, t in busy.values()) + timeout - time.monotonic())
                ready, _ = ray.wait(list(busy), num_returns=1, timeout=wait_s)
                if ready:  # every task already done, so none of them is judged by the timeout below
                    ready, _ = ray.wait(list(busy), num_returns=len(busy), timeout=0)
                now = time.monotonic()
                for ref in ready:
                    actor, i, t0 = busy.pop(ref)
                    try:
                        status, value = ray.get(ref)
                    except RayActorError as e:
                        self._kill(actor)
                        idle.append(self._new(gpu))
                        why = getattr(e, "error_msg", "") or str(e)
                        yield Reply(i, crash=f"the Ray worker died: {why.splitlines()[0] if why else e}",
                                    seconds=now - t0, worker="ray")
                        continue
                    except RayError as e:
                        idle.append(actor)
                        yield Reply(i, error=RuntimeError(f"Ray: {e}"), seconds=now - t0, worker="ray")
                        continue
                    idle.append(actor)
                    yield (Reply(i, value=value, seconds=now - t0, worker="ray") if status == "ok"
                           else Reply(i, error=value, seconds=now - t0, worker="ray"))
                if timeout is not None:
                    for ref, (actor, i, t0) in list(busy.items()):
                        if now - t0 >= timeout:
                            busy.pop(ref)
                            self._kill(actor)
                            idle.append(self._new(gpu))
                            yield Reply(i, crash=f"timed out after {now - t0:.1f} s (killed)",
                                        seconds=now - t0, worker="ray")
        finally:
            for actor, _, _ in busy.values():  # the consumer stopped early: nothing keeps running
                self._kill(actor)

    def close(self) -> None:
        for pool in self._actors.values():
            for a in pool:
                self._kill(a)
            pool.clear()
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
            self._owns = False
