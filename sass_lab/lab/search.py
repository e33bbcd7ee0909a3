"""Which candidates to evaluate: every one in a small space, a budgeted guided search in a large one.

:class:`Exhaustive` hands out every candidate in order. :class:`Guided` hands out at most
``budget`` of them and tries to find the best early; both answer ``ask(k)`` (the next indices to
evaluate) and ``tell(i, value)`` (higher is better; ``None``: the candidate cannot run — pruned,
failed, wrong).

How :class:`Guided` chooses (the defines are its only coordinates):

1. **Prior.** With a prior (the static model's score of each compiled candidate, when the
   evaluation is a timed run) candidates are taken best-first by a surrogate that starts as the
   prior. Without one (the evaluation is the compile, which yields the model's score) it starts
   with a small covering design: a few candidates chosen so that every value of every tuning
   parameter is tried at least once.
2. **Surrogate.** After each answer it fits an additive model over the parameters, ``log value ≈
   Σ_p effect[p][value]`` (on the prior's residual when there is one), with the effects shrunk
   towards zero by the number of answers behind them, and a feasibility rate per parameter value
   (smoothed), so values that were always pruned stop being proposed.
3. **Turns.** The picks take turns between the untried one-parameter neighbours of the best three
   answers so far (ranked by the surrogate), the surrogate's best untried candidates, and — with a
   prior — the prior's own best untried ones (a wrong surrogate cannot bury the model's top), so the
   search climbs, jumps and keeps faith with the model.

It never proposes a candidate twice and stops at the budget. ``tools/search_eval.py`` measures the
evaluations it needs to reach the exhaustive optimum on every shipped tuning space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EXHAUSTIVE_MAX = 128  # spaces up to this many candidates are swept whole under search="auto"
SEARCHES = ("auto", "exhaustive", "guided")


def choose(search: str, n: int) -> str:
    """``exhaustive`` or ``guided`` for a space of ``n`` candidates."""
    if search not in SEARCHES:
        from ..errors import UsageError

        raise UsageError(f"unknown search '{search}'", hint=f"choose one of {', '.join(SEARCHES)}")
    if search == "auto":
        return "guided" if n > EXHAUSTIVE_MAX else "exhaustive"
    return search


def budget_count(budget: float, n: int) -> int:
    """``budget`` as a number of evaluations: a fraction of ``n`` when ≤ 1, else a count."""
    return max(1, min(n, math.ceil(budget * n) if budget <= 1 else int(budget)))


class Exhaustive:
    """Every candidate, in order."""

    def __init__(self, n: int) -> None:
        self.n, self.next, self.budget, self.evaluations = n, 0, n, 0

    def ask(self, k: int) -> list[int]:
        out = list(range(self.next, min(self.n, self.next + k)))
        self.next += len(out)
        self.evaluations += len(out)
        return out

    def tell(self, i: int, value: float | None, free: bool = False) -> None:
        pass


class Guided:
    """The budgeted search (see the module docstring)."""

    def __init__(self, space: Sequence[dict], budget: int, prior: Sequence[float | None] | None = None) -> None:
        self.space = [dict(d) for d in space]
        self.budget = budget
        self.prior = list(prior) if prior is not None else None
        self.params = [p for p in (self.space[0] if self.space else {})
                       if len({_h(d[p]) for d in self.space}) > 1]
        self.asked: set[int] = set()
        self.values: dict[int, float | None] = {}
        self.evaluations = 0
        self._turn = -1
        self._by = {tuple(_h(d[p]) for p in self.params): i for i, d in enumerate(self.space)}

    # ------------------------------------------------------------------ the protocol

    def tell(self, i: int, value: float | None, free: bool = False) -> None:
        self.values[i] = value
        if free and i not in self.asked:
            self.asked.add(i)

    def ask(self, k: int) -> list[int]:
        room = min(k, self.budget - self.evaluations, len(self.space) - len(self.asked))
        if room <= 0:
            return []
        if self.prior is None and len(self.values) < len(self._cover()):
            picks = [i for i in self._cover() if i not in self.asked][:room]
        else:
            picks = self._acquire(room)
        self.asked.update(picks)
        self.evaluations += len(picks)
        return picks

    @property
    def best(self) -> int | None:
        ok = [(v, i) for i, v in self.values.items() if v is not None]
        return max(ok)[1] if ok else None

    # ------------------------------------------------------------------ internals

    def _cover(self) -> list[int]:
        """A greedy covering design: candidates until every (parameter, value) pair has appeared."""
        if not hasattr(self, "_cover_list"):
            need = {(p, _h(d[p])) for d in self.space for p in self.params}
            out: list[int] = []
            while need:
                i = max(range(len(self.space)), key=lambda j: (sum((p, _h(self.space[j][p])) in need
                                                                   for p in self.params), -_spread(j)))
                out.append(i)
                need -= {(p, _h(self.space[i][p])) for p in self.params}
            self._cover_list = out
        return self._cover_list

    def _model(self) -> tuple[dict, dict, float]:
        """Additive effects on log value (prior residuals), feasibility per value, and their base."""
        ok = {i: v for i, v in self.values.items() if v is not None}
        logs = {i: _log(v) - self._plog(i) for i, v in ok.items()}
        base = sum(logs.values()) / len(logs) if logs else 0.0
        eff: dict = {}
        feas: dict = {}
        for p in self.params:
            groups: dict = {}
            fgroups: dict = {}
            for i, v in self.values.items():
                key = _h(self.space[i][p])
                fgroups.setdefault(key, []).append(v is not None)
                if v is not None:
                    groups.setdefault(key, []).append(logs[i] - base)
            eff[p] = {key: sum(xs) / (len(xs) + 1.0) for key, xs in groups.items()}  # shrunk towards 0
            feas[p] = {key: (sum(xs) + 1.0) / (len(xs) + 2.0) for key, xs in fgroups.items()}
        return eff, feas, base

    def _plog(self, i: int) -> float:
        if self.prior is None or self.prior[i] is None:
            return 0.0
        return _log(self.prior[i])

    def _predict(self, i: int, eff: dict, feas: dict, base: float) -> float:
        d = self.space[i]
        mu = self._plog(i) + base + sum(eff[p].get(_h(d[p]), 0.0) for p in self.params)
        f = 1.0
        for p in self.params:
            f *= feas[p].get(_h(d[p]), 0.5 if self.values else 1.0)
        return mu + math.log(max(f, 1e-6))

    def _acquire(self, room: int) -> list[int]:
        eff, feas, base = self._model()
        untried = [i for i in range(len(self.space)) if i not in self.asked]
        pred = {i: self._predict(i, eff, feas, base) for i in untried}
        ok = sorted(((v, i) for i, v in self.values.items() if v is not None), reverse=True)
        near: list[int] = []
        for _, b in ok[:3]:
            near += [j for j in self._neighbours(b) if j in pred and j not in near]
        near.sort(key=lambda j: -pred[j])
        rest = sorted(untried, key=lambda j: -pred[j])
        sources = [near, rest]
        if self.prior is not None:  # the model's own order keeps a third of the turns
            sources.append(sorted(untried, key=lambda j: -(self.prior[j] or 0.0)))
        picks: list[int] = []
        while len(picks) < room and any(sources):
            self._turn += 1  # take turns, across calls too
            source = sources[self._turn % len(sources)] or next(x for x in sources if x)
            while source and source[0] in picks:
                source.pop(0)
            if source:
                picks.append(source.pop(0))
        return picks

    def _neighbours(self, i: int) -> list[int]:
        d = self.space[i]
        here = [_h(d[p]) for p in self.params]
        out = []
        for n, p in enumerate(self.params):
            for v in {_h(x[p]) for x in self.space}:
                if v != here[n]:
                    j = self._by.get(tuple(here[:n] + [v] + here[n + 1:]))
                    if j is not None:
                        out.append(j)
        return out


def _h(v):
    return repr(v) if isinstance(v, (list, dict, set)) else v


def _spread(i: int) -> int:
    return (i * 2654435761) % 1000  # deterministic tie-break that spreads the covering design


def _log(v: float) -> float:
    return math.log(max(v, 1e-12))


__all__ = ["EXHAUSTIVE_MAX", "SEARCHES", "Exhaustive", "Guided", "budget_count", "choose"]
