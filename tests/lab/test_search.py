"""The guided search: budget kept, never a candidate twice, the optimum found on structured spaces."""

from __future__ import annotations

import itertools

import pytest

from sass_lab.lab import search as S
from sass_lab.lab.fakebench import fake_speed, spearman

SPACE = [dict(zip("ABCDE", v)) for v in itertools.product([1, 2, 4, 8], [16, 32, 64], [0, 1], [1, 2, 3], [5, 7])]


def score(d):  # a model with structure and an infeasible corner
    if d["A"] * d["B"] > 256:
        return None
    return (d["A"] * d["B"]) ** 0.5 / (1 + abs(d["D"] - 2)) * (1.1 if d["C"] else 1.0) * (1 + d["E"] / 50)


def run(g, values, width):
    n, hit, best, seen = 0, None, max(v for v in values if v is not None), []
    while batch := g.ask(width):
        for i in batch:
            seen.append(i)
            n += 1
            g.tell(i, values[i])
            if hit is None and values[i] == best:
                hit = n
    return hit, seen


@pytest.mark.parametrize("width", [1, 2, 4])
def test_without_a_prior_it_finds_the_optimum_within_a_quarter(width):
    values = [score(d) for d in SPACE]
    g = S.Guided(SPACE, budget=S.budget_count(0.25, len(SPACE)))
    hit, seen = run(g, values, width)
    assert hit is not None and hit <= g.budget and len(seen) == len(set(seen)) <= g.budget


def test_with_a_prior_that_disagrees_it_still_finds_the_optimum():
    ok = [d for d in SPACE if score(d) is not None]
    prior = [score(d) for d in ok]
    moved = 0
    for seed in range(10):
        truth = [fake_speed(p, d, bias=0.3, sigma=0.05, seed=seed) for p, d in zip(prior, ok)]
        assert spearman(prior, truth) < 0.98  # the fake is not the model ...
        moved += max(range(len(ok)), key=truth.__getitem__) != max(range(len(ok)), key=prior.__getitem__)
        g = S.Guided(ok, budget=S.budget_count(0.25, len(ok)), prior=prior)
        hit, _ = run(g, truth, 1)
        assert hit is not None, seed
    assert moved >= 3  # ... and its optimum is often not the model's


def test_exhaustive_and_choice():
    e = S.Exhaustive(5)
    assert e.ask(2) == [0, 1] and e.ask(10) == [2, 3, 4] and e.ask(1) == []
    assert S.choose("auto", S.EXHAUSTIVE_MAX) == "exhaustive" and S.choose("auto", 200) == "guided"
    assert S.budget_count(0.25, 158) == 40 and S.budget_count(10, 158) == 10 and S.budget_count(0.001, 5) == 1
    with pytest.raises(Exception, match="unknown search"):
        S.choose("random", 3)
