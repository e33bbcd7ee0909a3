#!/usr/bin/env python3
"""The GPU check's runner (tools/gpu_check.sh sets up the machine and calls it).

Phases, each logged with its wall and CPU time as it ends, each writing its results into ``--out``
at once, so a command killed at its limit still returns what it measured:

1. ``versions``: Python, packages, nvidia-smi, the device and the nvdisasm in use → versions.txt;
2. ``tests:<group>``: one pytest process per group of the plan (``tools/gpu_check.plan``), the groups
   side by side (``--jobs``: the device host's cores compile and compute the references), each killed
   at its share; tests marked ``timing`` are left out there and run afterwards alone on the GPU (the
   plan's ``timing`` line). tools/gpu_check_plugin.py records each test as it ends, kills a test past
   ``--test-timeout`` (a hung synchronize too) and restarts after a fault that broke the context; the
   rest of the group then runs in a fresh process. Each group's JUnit XML is added to junit.tar.gz,
   re-written atomically after every group, its output appended to tests.log;
3. ``bench``: tools/bench_all.py, one process per kernel at its share: bench.jsonl (a line per
   kernel), bench.md (re-written per kernel); then each ``script`` line of the plan (the block-fusion
   comparison, tools/bench_blocks.py), its files folded into bench.jsonl and bench.md;
4. the last line: what passed, failed, timed out and was skipped.

$OUT never holds more than 8 files, all at its top level: versions.txt, gpu_check.log, tests.log,
junit.tar.gz, bench.jsonl, bench.md, interleave.json (SASS_LAB_BENCH_OUT of the SASS group).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "tools" / "gpu_check.plan"
OUT_FILES = ("versions.txt", "gpu_check.log", "tests.log", "junit.tar.gz", "bench.jsonl", "bench.md",
             "interleave.json")
LOG_CAP = 12 << 20  # tests.log stops growing here (the device tool returns files up to 16 MiB)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Step:
    kind: str  # tests | timing | peaks | bench | script
    name: str
    share: float
    targets: tuple[str, ...]


def read_plan(path: Path) -> list[Step]:
    """``kind name share_s [targets...]`` lines; ``#`` starts a comment."""
    steps = []
    for line in path.read_text().splitlines():
        w = line.split("#", 1)[0].split()
        if len(w) >= 3:
            steps.append(Step(w[0], w[1], float(w[2]), tuple(w[3:])))
    return steps


# --------------------------------------------------------------------------- results of one group


@dataclass
class Group:
    name: str
    results: dict[str, dict] = field(default_factory=dict)  # nodeid -> {outcome, duration, message}
    order: list[str] = field(default_factory=list)
    runs: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    note: str = ""

    def set(self, nodeid: str, outcome: str, duration: float = 0.0, message: str = "") -> None:
        if nodeid not in self.results:
            self.order.append(nodeid)
        self.results[nodeid] = {"outcome": outcome, "duration": duration, "message": message}

    def counts(self) -> dict[str, int]:
        c = {"passed": 0, "failed": 0, "timed out": 0, "skipped": 0}
        for r in self.results.values():
            c[r["outcome"] if r["outcome"] in c else "failed"] += 1
        return c


def absorb(group: Group, progress: Path, killed: str | None) -> tuple[bool, str | None]:
    """Fold one pytest run's progress lines into ``group``; (finished normally, test that stopped it)."""
    started, finished, exited, culprit = None, set(), False, None
    for line in progress.read_text().splitlines() if progress.exists() else []:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        kind, nodeid = ev.get("event"), ev.get("nodeid")
        if kind == "start":
            started = nodeid
        elif kind == "report":
            cur = group.results.get(nodeid, {}).get("outcome")
            out = ev["outcome"]
            if ev["when"] != "call" and out == "passed":
                if cur is None and ev["when"] == "setup":
                    group.set(nodeid, "passed", ev["duration"])
                continue
            if ev["when"] == "teardown" and cur in ("failed", "skipped"):
                continue
            group.set(nodeid, out, ev["duration"], ev.get("longrepr", ""))
        elif kind == "finish":
            finished.add(nodeid)
        elif kind == "timeout":
            group.set(nodeid, "timed out", ev.get("seconds", 0), f"killed after {ev.get('seconds')} s "
                      "(per-test timeout; a hung synchronize is killed too)")
            culprit = nodeid
        elif kind == "restart":
            culprit = nodeid
            r = group.results.get(nodeid)
            if r is not None:
                r["message"] = (r["message"] + f"\n[the CUDA context was broken ({ev.get('reason')}) after this "
                                "test: the rest of the group ran in a fresh process]").strip()
        elif kind == "exit":
            exited = True
    if started and started not in finished and culprit is None:
        culprit = started
        group.set(started, "timed out" if killed else "failed", 0.0,
                  killed or "the test process died during this test (crash)")
    progress.unlink(missing_ok=True)
    return exited and culprit is None, culprit


def junit(group: Group) -> str:
    """A JUnit XML document for ``group`` (one testsuite)."""
    c = group.counts()
    cases = []
    for nodeid in group.order:
        r = group.results[nodeid]
        path, _, name = nodeid.partition("::")
        inner = ""
        msg = quoteattr(r["message"][-2000:])
        if r["outcome"] == "failed":
            inner = f"<failure message={msg}/>"
        elif r["outcome"] == "timed out":
            inner = f"<error type=\"timeout\" message={msg}/>"
        elif r["outcome"] == "skipped":
            inner = f"<skipped message={msg}/>"
        cases.append(f"  <testcase classname={quoteattr(path)} name={quoteattr(name)} "
                     f"time=\"{r['duration']:.3f}\">{inner}</testcase>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name={quoteattr(group.name)} '
            f'tests="{len(group.order)}" failures="{c["failed"]}" errors="{c["timed out"]}" '
            f'skipped="{c["skipped"]}" time="{group.wall:.1f}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def write_archive(out: Path, xml_dir: Path) -> None:
    """junit.tar.gz with every group's XML so far: written beside, then renamed over the old one."""
    tmp = out / "junit.tar.gz.part"
    with tarfile.open(tmp, "w:gz") as tar:
        for f in sorted(xml_dir.glob("*.xml")):
            tar.add(f, arcname=f.name)
    os.replace(tmp, out / "junit.tar.gz")


def group_env(targets: list, out: Path) -> dict[str, str]:
    """Environment a test group needs: the SASS group writes its interleave timings into $OUT."""
    env = {}
    paths = [(ROOT / t).resolve() for t in targets]
    if any(p.is_relative_to(ROOT / "tests" / "sass") or p == ROOT / "tests" for p in paths):
        env["SASS_LAB_BENCH_OUT"] = str(Path(out) / "interleave.json")
    return env


# --------------------------------------------------------------------------- the runner


class Runner:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.t0 = float(os.environ.get("GPU_CHECK_T0") or time.time())  # the shell's start: one clock
        self.deadline = time.time() + args.budget_s
        self.work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
        self.groups: list[Group] = []
        self.bench: list[dict] = []
        self.py = sys.executable
        self.lock = threading.Lock()  # log lines, tests.log and the archive, from the group threads

    # ---- log
    def log(self, text: str) -> None:
        line = f"[{time.time() - self.t0:6.1f} s] {text}"
        with self.lock:
            print(line, flush=True)
            with open(self.out / "gpu_check.log", "a") as fh:
                fh.write(line + "\n")

    def env(self, stats: str = "standin.txt", **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        tools = str(ROOT / "tools")
        env["PYTHONPATH"] = os.pathsep.join([tools, str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(
            os.pathsep) if p])
        env["PYTHONUNBUFFERED"] = "1"
        env["SASS_LAB_TEST_CUBINS"] = str(self.work / "cubins")  # one cubin cache for every test process
        env["SASS_LAB_FAKE_GPU_STATS"] = str(self.work / stats)  # read only by the stand-in
        env.update(extra)
        return env

    def standin_cpu(self, stats: str = "standin.txt") -> str:
        """', of which N s emulating kernels on the stand-in' since the last call (rehearsal only)."""
        f = self.work / stats
        if not f.exists():
            return ""
        secs = sum(float(ln.split()[1]) for ln in f.read_text().splitlines() if ln.strip())
        f.unlink()
        return f", of which {secs:.1f} s emulating kernels on the stand-in"

    def left(self) -> float:
        return self.deadline - time.time()

    def run(self, argv: list[str], timeout: float, env: dict, log: Path | None) -> tuple[int, str | None]:
        """Run ``argv`` in its own process group, killed (SIGKILL, the whole group) at ``timeout``."""
        rc, killed, _ = self.run_cpu(argv, timeout, env, log)
        return rc, killed

    def run_cpu(self, argv: list[str], timeout: float, env: dict, log: Path | None) -> tuple[int, str | None, float]:
        """:meth:`run`, and the CPU seconds of the process and the children it waited for (wait4: right
        while other groups run side by side, where this process's RUSAGE_CHILDREN mixes them)."""
        fh = open(log, "ab") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            end, killed = time.time() + max(1.0, timeout), None
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if time.time() >= end:
                    os.killpg(p.pid, signal.SIGKILL)
                    pid, status, ru = os.wait4(p.pid, 0)
                    killed = f"killed at the group's share ({timeout:.0f} s)"
                    break
                time.sleep(0.05)
            p.returncode = rc = 124 if killed else os.waitstatus_to_exitcode(status)
            return rc, killed, ru.ru_utime + ru.ru_stime
        finally:
            if log:
                fh.close()

    # ---- phases
    def versions(self) -> None:
        t, c = time.time(), _cpu()
        code = ("import json, sys\nfrom importlib import metadata\n"
                "print('python', sys.version.split()[0], sys.executable)\n"
                "for n in ('numpy','cuda-bindings','cuda-core','cuda-pathfinder','nvidia-nvjitlink',"
                "'nvidia-cuda-nvdisasm','nvidia-cuda-runtime','torch','cupy-cuda13x','lark','pyelftools','rich',"
                "'textual','pytest','hypothesis'):\n"
                "    try: print(n, metadata.version(n))\n"
                "    except metadata.PackageNotFoundError: print(n, '(missing)')\n"
                "from sass_lab.sass.disasm import nvdisasm_path, wheel_nvdisasm\n"
                "try: print('nvdisasm', nvdisasm_path(), '(wheel on the import path)' if wheel_nvdisasm() "
                "else '(not the carried wheel)')\nexcept Exception as e: print('nvdisasm missing:', e)\n"
                "import sass_lab.runtime as rt\n"
                "print('device', json.dumps(rt.device_info()) if rt.available() else 'NONE')\n")
        path = self.out / "versions.txt"
        with open(path, "w") as fh:
            fh.write(f"gpu_check {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"
                     f"{' (rehearsal: stand-in driver)' if os.environ.get('SASS_LAB_FAKE_GPU') == '1' else ''}\n")
            try:
                smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                      "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
                fh.write(f"nvidia-smi {smi.stdout.strip() or smi.stderr.strip()}\n")
            except (OSError, subprocess.TimeoutExpired) as e:
                fh.write(f"nvidia-smi unavailable: {e}\n")
        self.run([self.py, "-c", code], min(60.0, max(5.0, self.left())), self.env(), path)
        self.log(f"phase versions done in {time.time() - t:.1f} s (cpu {_cpu() - c:.1f} s): "
                 + " | ".join(ln for ln in path.read_text().splitlines() if ln.startswith(("device", "nvdisasm"))))

    def test_group(self, g: Group, step: Step, ignore: list[str], marks: str) -> None:
        """One group: pytest processes (a fresh one after a fault or a hang) until its tests are done or
        its share is spent; its XML into junit.tar.gz and its output into tests.log as it ends."""
        t = time.time()
        share = min(step.share, self.left())
        progress = self.work / f"progress-{step.name}.jsonl"
        glog, stats = self.work / f"tests-{step.name}.log", f"standin-{step.name}.txt"
        targets = list(step.targets) or ["tests"]
        if share < 5:
            g.note = f"skipped: {max(0.0, self.left()):.0f} s left of the budget"
        while share - (time.time() - t) >= 5:
            g.runs += 1
            argv = [self.py, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "-p", "gpu_check_plugin",
                    "--continue-on-collection-errors", *targets]
            if not self.args.all_tests:
                argv[3:3] = ["-m", marks]
            argv += [f"--ignore={p}" for p in ignore]
            argv += [f"--deselect={n}" for n in g.order]
            if self.args.k:
                argv += ["-k", self.args.k]
            extra = {"GPU_CHECK_PROGRESS": str(progress), "GPU_CHECK_TEST_TIMEOUT": str(self.args.test_timeout),
                     **group_env(targets, self.out)}
            rc, killed, cpu = self.run_cpu(argv, share - (time.time() - t), self.env(stats, **extra), glog)
            g.cpu += cpu
            clean, culprit = absorb(g, progress, killed)
            if clean or rc in (0, 1, 5) and culprit is None:
                break
            if killed:
                break
            self.log(f"  tests:{step.name}: {culprit} stopped the process (exit {rc}); the rest runs in a "
                     "fresh one")
        g.wall = time.time() - t
        with self.lock:
            (self.work / "xml").mkdir(exist_ok=True)
            (self.work / "xml" / f"{step.name}.xml").write_text(junit(g))
            write_archive(self.out, self.work / "xml")
            log = self.out / "tests.log"
            if glog.exists() and (not log.exists() or log.stat().st_size < LOG_CAP):
                with open(log, "ab") as fh:
                    fh.write(f"===== tests:{step.name} =====\n".encode() + glog.read_bytes()[-LOG_CAP // 4:])
        cnt = g.counts()
        self.log(f"phase tests:{step.name} done in {g.wall:.1f} s (cpu {g.cpu:.1f} s{self.standin_cpu(stats)}, "
                 f"{g.runs} process(es)): "
                 + ", ".join(f"{v} {k}" for k, v in cnt.items()) + (f" ({g.note})" if g.note else ""))

    def tests(self, steps: list[Step]) -> None:
        """The test groups side by side (``--jobs`` at once), tests marked ``timing`` left out; then the
        ``timing`` line's group: those tests alone on the GPU, over every group's folders."""
        groups = [s for s in steps if s.kind == "tests" and (not self.args.group or s.name in self.args.group)]
        timing = [s for s in steps if s.kind == "timing" and (not self.args.group or s.name in self.args.group)]
        t = time.time()
        marks = "gpu and not timing" if timing else "gpu"
        work = []
        for s in groups:
            inside = [o for other in groups if other is not s for o in other.targets
                      if o not in s.targets and any(_within(o, mine) for mine in (s.targets or ("tests",)))]
            g = Group(s.name)
            self.groups.append(g)
            work.append((g, s, inside))
        jobs = max(1, min(len(work), self.args.jobs))
        with ThreadPoolExecutor(jobs) as pool:
            for f in [pool.submit(self.test_group, g, s, inside, marks) for g, s, inside in work]:
                f.result()
        if groups:
            self.log(f"phase tests done in {time.time() - t:.1f} s ({len(groups)} groups, {jobs} at a time)")
        for s in timing:
            union = tuple(dict.fromkeys(x for o in groups for x in (o.targets or ("tests",))))
            targets = ("tests",) if "tests" in union or not union else union
            g = Group(s.name)
            self.groups.append(g)
            self.test_group(g, Step(s.kind, s.name, s.share, s.targets or targets), [], "gpu and timing")

    def benchmarks(self, steps: list[Step]) -> None:
        t, c = time.time(), _cpu()
        from bench_all import kernels

        plan = [(s.name, s.share, list(s.targets)) for s in steps if s.kind == "bench"]
        share = sum(s.share for s in steps if s.kind == "peaks") + sum(x for _, x in kernels(plan, self.args.only))
        budget = min(share + 5, self.left())
        jsonl = self.out / "bench.jsonl"
        before = len(jsonl.read_text().splitlines()) if jsonl.exists() else 0
        if budget < 10:
            self.log(f"phase bench skipped: {max(0.0, self.left()):.0f} s left of the budget")
            return
        argv = [self.py, str(ROOT / "tools" / "bench_all.py"), "--out", str(self.out), "--plan",
                str(self.args.plan), "--budget-s", str(budget - 2), "--sizes", self.args.bench_sizes,
                "--scale", str(self.args.scale)]
        if self.args.only:
            argv += ["--only", self.args.only]
        rc, killed = self.run(argv, budget, self.env(), self.work / "bench.log")
        lines = jsonl.read_text().splitlines()[before:] if jsonl.exists() else []
        self.bench = [json.loads(ln) for ln in lines if ln.strip() and "meta" not in json.loads(ln)]
        cnt = self.bench_counts()
        tail = (self.work / "bench.log").read_text().strip().splitlines()[-1:] if rc not in (0, 1) else []
        self.log(f"phase bench done in {time.time() - t:.1f} s (cpu {_cpu() - c:.1f} s{self.standin_cpu()}, "
                 f"exit {rc}): "
                 + ", ".join(f"{v} {k}" for k, v in cnt.items()) + (f"; {killed}" if killed else "")
                 + (f"; {tail[0]}" if tail else ""))
        if rc not in (0, 1):
            self.bench.append({"file": "bench_all", "error": f"exit {rc}"})

    def script(self, step: Step) -> None:
        """A plan ``script`` line (e.g. tools/bench_blocks.py): run it into a work folder, killed at its
        share, then fold what it wrote into bench.jsonl (each .json as one line) and bench.md (each .md
        appended), so $OUT keeps its 8 files."""
        t, c = time.time(), _cpu()
        share = min(step.share, self.left())
        if share < 10:
            self.log(f"phase script:{step.name} skipped: {max(0.0, self.left()):.0f} s left of the budget")
            self.bench.append({"file": step.name, "skipped": True, "error": "budget"})
            return
        folder = self.work / step.name
        folder.mkdir(exist_ok=True)
        argv = [self.py, str(ROOT / step.targets[0]), *step.targets[1:], "--out", str(folder),
                "--budget-s", f"{0.8 * share:.0f}"]
        rc, killed = self.run(argv, share, self.env(), self.work / f"{step.name}.log")
        for f in sorted(folder.glob("*.json")):
            try:
                data = json.loads(f.read_text())
            except ValueError:
                data = f.read_text()[-20000:]
            with open(self.out / "bench.jsonl", "a") as fh:
                fh.write(json.dumps({"script": step.name, "file": f.name, "data": data}, default=str) + "\n")
        for f in sorted(folder.glob("*.md")):
            with open(self.out / "bench.md", "a") as fh:
                fh.write(f"\n## {step.name} ({f.name})\n\n{f.read_text()}")
        entry = {"file": step.name}
        if rc != 0:
            entry.update(error=killed or f"exit {rc}", timed_out=bool(killed))
        self.bench.append(entry)
        tail = (self.work / f"{step.name}.log").read_text().strip().splitlines()[-1:] if rc else []
        self.log(f"phase script:{step.name} done in {time.time() - t:.1f} s (cpu {_cpu() - c:.1f} s"
                 f"{self.standin_cpu()}, exit {rc}){'; ' + killed if killed else ''}"
                 + (f"; {tail[0][-300:]}" if tail else ""))

    def bench_counts(self) -> dict[str, int]:
        c = {"ok": 0, "failed": 0, "timed out": 0, "skipped": 0}
        for e in self.bench:
            key = ("skipped" if e.get("skipped") else "timed out" if e.get("timed_out")
                   else "failed" if "error" in e else "ok")
            c[key] += 1
        return c

    def summary(self) -> int:
        tot = {"passed": 0, "failed": 0, "timed out": 0, "skipped": 0}
        for g in self.groups:
            for k, v in g.counts().items():
                tot[k] += v
        bc = self.bench_counts()
        bad = tot["failed"] + tot["timed out"] + bc["failed"] + bc["timed out"] + bc.get("skipped", 0)
        verdict = "FAILED" if bad else "PASSED"
        self.log(f"gpu_check {verdict} in {time.time() - self.t0:.0f} s: tests {tot['passed']} passed, "
                 f"{tot['failed']} failed, {tot['timed out']} timed out, {tot['skipped']} skipped; bench "
                 f"{bc['ok']} ok, {bc['failed']} failed, {bc['timed out']} timed out, {bc['skipped']} skipped")
        return 1 if bad else 0


def _within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (plan targets, relative to the repository)."""
    p, f = (ROOT / path).resolve(), (ROOT / folder).resolve()
    return p == f or p.is_relative_to(f)


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="the GPU check in one shot (see tools/gpu_check.sh)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--tests-only", action="store_true")
    mode.add_argument("--bench-only", action="store_true")
    ap.add_argument("-k", metavar="EXPR", default="", help="pytest -k expression for the test groups")
    ap.add_argument("--only", default="", help="substring of the kernel files to benchmark")
    ap.add_argument("--group", action="append", default=[], help="run only these test groups (repeatable)")
    ap.add_argument("--plan", default=str(PLAN), type=Path)
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("GPU_CHECK_JOBS") or min(8, os.cpu_count() or 1)),
                    help="test groups at once (default: the cores, at most 8)")
    ap.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "out"))
    ap.add_argument("--budget-s", type=float, default=float(os.environ.get("GPU_CHECK_BUDGET_S", 240)))
    ap.add_argument("--test-timeout", type=float, default=float(os.environ.get("GPU_CHECK_TEST_TIMEOUT", 60)))
    fake = os.environ.get("SASS_LAB_FAKE_GPU") == "1"
    ap.add_argument("--bench-sizes", choices=("size", "test"), default="test" if fake else "size",
                    help="benchmark at SIZE (default on a GPU) or at the last TEST_SIZES entry (default on "
                         "the stand-in, which cannot execute SIZE launches)")
    ap.add_argument("--scale", type=float, default=float(os.environ.get("GPU_CHECK_SCALE", 1)),
                    help="multiply every share, the budget and the test timeout (a slower machine)")
    ap.add_argument("--all-tests", action="store_true", help=argparse.SUPPRESS)  # planted tests (CI)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.budget_s *= args.scale
    args.test_timeout *= args.scale
    r = Runner(args)
    steps = [Step(s.kind, s.name, s.share * args.scale, s.targets) for s in read_plan(args.plan)]
    r.log(f"gpu_check start: budget {args.budget_s:.0f} s, plan {Path(args.plan).name}, out {r.out}"
          + (f", shares x{args.scale:g}" if args.scale != 1 else "")
          + (f", -k {args.k!r}" if args.k else ""))
    r.versions()
    if not args.bench_only:
        r.tests(steps)
    if not args.tests_only:
        r.benchmarks(steps)
        for s in steps:
            if s.kind == "script" and s.targets and (not args.only or args.only in s.name):
                r.script(s)
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
