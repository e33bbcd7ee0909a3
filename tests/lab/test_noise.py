"""Interleaved re-timing: the verdict on fake benches with known distributions."""

from __future__ import annotations

import pytest

from sass_lab.lab.fakebench import FakeRetimer
from sass_lab.lab.noise import decide, interleave

D = [{"X": 0}, {"X": 1}, {"X": 2}]


def verdict(true, noise, drift=0.0, seed=0, rounds=15):
    samples = FakeRetimer(tuple(true), noise, drift, seed)("k.sasm", "sm_90", {}, D[:len(true)], rounds)
    return decide(samples, D[:len(true)], seed=seed)


def test_equal_candidates_are_a_tie_at_least_95_percent_of_the_time():
    ties = sum(verdict([1e-3, 1e-3, 1e-3], 0.02, seed=s).tie for s in range(200))
    assert ties >= 190


def test_a_3_percent_gap_under_1_percent_noise_is_separated():
    for s in range(50):
        v = verdict([1.03e-3, 1e-3, 1.1e-3], 0.01, seed=s)
        assert not v.tie and v.defines[0] == {"X": 1} and v.confidence > 0.975
        assert v.low > 1.0 and 1.01 < v.ratio < 1.05 and v.sign_p < 0.05
        assert "winner: X=1" in v.describe()


def test_a_1_percent_gap_under_5_percent_noise_is_a_tie():
    ties = sum(verdict([1.01e-3, 1e-3], 0.05, seed=s).tie for s in range(50))
    assert ties >= 40
    assert "tie:" in verdict([1e-3, 1e-3], 0.05).describe()


def test_pairing_cancels_a_shared_drift():
    # times grow 5 % per round for everyone: an unpaired median comparison drowns the 2 % gap
    for s in range(30):
        v = verdict([1.02e-3, 1e-3], 0.002, drift=0.05, seed=s)
        assert not v.tie and v.defines[0] == {"X": 1}


def test_interleave_rotates_the_order_every_round():
    seen = []
    out = interleave(lambda i: seen.append(i) or float(i), 3, 3)
    assert seen == [0, 1, 2, 1, 2, 0, 2, 0, 1] and out == [[0.0] * 3, [1.0] * 3, [2.0] * 3]


def test_decide_needs_two_candidates_and_two_rounds():
    with pytest.raises(ValueError):
        decide([[1.0, 1.0]], D[:1])
    with pytest.raises(ValueError):
        decide([[1.0], [1.0]], D[:2])
