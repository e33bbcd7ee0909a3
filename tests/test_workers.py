"""Forked workers: results, errors, crashes and hangs cost one task; no worker outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sass_lab.errors import SourceError
from sass_lab.workers import Pool, choose, describe_exit, in_worker, pick


def square(x):
    return x * x


def crash_on(x, bad):
    if x == bad:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x


def say_and_abort(msg):
    os.write(2, msg.encode() + b"\n")
    os.abort()


def hang_on(x, bad):
    if x == bad:
        time.sleep(60)
    return x


def raise_source_error():
    raise SourceError("bad input")


def where():
    return in_worker(), os.getpgid(0) == os.getpid()


def test_results_in_completion_order_and_reuse():
    with Pool(2) as pool:
        got = dict((i, d.value) for i, d in pool.run(square, [(i,) for i in range(10)]))
        assert got == {i: i * i for i in range(10)}
        assert pool.call(where).value == (True, True)  # a worker, leading its own process group
        assert len(pool.pids()) == 2
    assert not in_worker()


def test_a_crash_costs_one_task_and_says_why():
    with Pool(2) as pool:
        out = dict(pool.run(crash_on, [(i, 3) for i in range(8)]))
        assert all(out[i].ok and out[i].value == i for i in range(8) if i != 3)
        assert "SIGSEGV" in out[3].crash
        d = pool.call(say_and_abort, "malloc(): corrupted top size")
        assert "SIGABRT" in d.crash and "corrupted top size" in d.crash  # the worker's last words


def test_a_hang_is_killed_at_the_timeout():
    t0 = time.monotonic()
    with Pool(2) as pool:
        out = dict(pool.run(hang_on, [(i, 1) for i in range(4)], timeout=1.0))
    assert time.monotonic() - t0 < 10
    assert out[1].crash.startswith("timed out") and all(out[i].ok for i in (0, 2, 3))


def test_errors_come_back_as_they_were_raised():
    with Pool(1) as pool:
        d = pool.call(raise_source_error)
    assert isinstance(d.error, SourceError) and d.error.message == "bad input"


def test_describe_exit():
    assert describe_exit(-9) == "killed by SIGKILL" and describe_exit(3) == "exit code 3"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_workers_die_with_a_killed_parent():
    """kill -9 of the parent (mid-task, from a non-main thread too): every worker is gone in < 2 s."""
    code = textwrap.dedent("""
        import sys, threading, time
        from sass_lab.workers import Pool
        pools = [Pool(2), Pool(1)]
        def start(p):
            list(p.run(time.sleep, [(0,), (0,)]))
        start(pools[0])
        t = threading.Thread(target=start, args=(pools[1],)); t.start(); t.join()  # forked from a thread
        print(*pools[0].pids(), *pools[1].pids(), flush=True)
        list(pools[0].run(time.sleep, [(60,), (60,)]))  # busy when killed
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pids = [int(x) for x in p.stdout.readline().split()]
    assert len(pids) == 3 and all(_alive(x) for x in pids)
    time.sleep(0.3)
    p.kill()
    p.wait()
    deadline = time.monotonic() + 2
    while any(_alive(x) for x in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [x for x in pids if _alive(x)]


def test_pick_prefers_the_workers_group_then_an_unstarted_one():
    assert pick(["a", "b", "a"], "a", set()) == 0
    assert pick(["b", "a"], "a", {"b"}) == 1  # its own group first
    assert pick(["a", "b", "c"], None, {"a"}) == 1  # else a group no busy worker has
    assert pick(["a", "a"], "z", {"a"}) == 0  # else the first


def test_pick_goes_on_through_the_list_from_the_workers_last_task():
    waiting, tasks = ["a", "b", "c", "d"], [1, 3, 5, 7]
    assert pick(waiting, None, set(), tasks, last=4) == 2  # task 5: the first after its last (4)
    assert pick(["a", "b", "a"], None, set(), [1, 2, 3], last=2) == 0  # task 3's group, from its first
    assert pick(waiting, None, {"c"}, tasks, last=4) == 3  # ... of a group no busy worker has
    assert pick(waiting, None, set(), tasks, last=9) == 0  # none after it: the first
    assert pick(waiting, "b", set(), tasks, last=6) == 1  # its own group comes first


@pytest.mark.parametrize("seed", range(5))
def test_two_workers_start_apart_and_keep_each_group(seed):
    """Pairs in list order, like SGEMM's GROUP x MAXNREG, two workers of the same speed: whichever
    asks first, each group runs on one worker, the two start at either half of the list, and a
    group's tasks run in their order."""
    import random

    groups = ["p0", "q0", "p0", "q0", "p1", "q1", "p1", "q1"]
    pending = [(i, ()) for i in range(8)]
    last: dict = {}
    seen: dict[str, list[int]] = {"A": [], "B": []}
    rng = random.Random(seed)
    for w in ("A", "B"):
        seen[w].append(pending.pop(choose(pending, groups, last, w, 2))[0])
    while pending:  # both finish at about the same time: either may ask first
        for w in rng.sample("AB", 2):
            if pending:
                seen[w].append(pending.pop(choose(pending, groups, last, w, 2))[0])
    assert seen["A"][0] == 0 and seen["B"][0] == 4
    for g in set(groups):
        assert len({w for w, ts in seen.items() for t in ts if groups[t] == g}) == 1, g
    for ts in seen.values():  # a group's tasks in their order
        assert [t for t in ts if t % 2 == 0] == sorted(t for t in ts if t % 2 == 0)


def test_pool_runs_a_group_in_turn():
    """One worker takes the rest of its group before the next group (with more workers the same
    rule applies per worker, but which worker is free first depends on timing)."""
    groups = ["a", "b", "a", "b", "c", "a"]
    with Pool(1) as pool:
        order = [i for i, d in pool.run(square, [(i,) for i in range(6)], groups=groups)]
    assert order == [0, 2, 5, 1, 3, 4]


def _gc_state():
    import gc

    return gc.get_threshold(), gc.get_freeze_count() > 0


def test_a_worker_collects_seldom_and_skips_what_it_inherited():
    """Workers build IR by the hundred thousand objects: the parent's objects are frozen out of every
    collection (their pages stay shared) and the young generation is collected seldom; the parent's
    own collector is left as it was."""
    import gc

    from sass_lab.workers import GC_THRESHOLDS

    before = gc.get_threshold(), gc.get_freeze_count()
    with Pool(1) as pool:
        done = pool.call(_gc_state)
    assert done.ok and done.value == (GC_THRESHOLDS, True)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
