"""Evaluations the guided search needs to reach the exhaustive optimum, on every shipped tuning space.

    python tools/search_eval.py [FILE ...] [-j 2] [--seeds 20] [--bias 0.1] [--sigma 0.03]

Every candidate of each space is compiled once (cached summaries make later runs fast), which gives
the exhaustive optimum. Then the search is replayed against that table, counting evaluations:

- **compile-only**: the evaluation is a compile and its value the static model's score; the search
  has no prior (it starts from a covering design), 2 candidates per batch as on 2 workers;
- **fake bench**: the evaluation is a timed run of a compiled survivor, with the static score as the
  prior, and the value a fake speed that departs from the model in a controlled way
  (``lab.fakebench.fake_speed``: per-parameter-value effects of ±``bias`` and per-candidate noise
  ``sigma``, seeded); Spearman's ρ between the model and the fake is printed beside it.

The budget is 25 % of the space (``--budget``). "opt@" is the evaluation at which a candidate with
the optimum value was first evaluated; "miss" means not within the budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sass_lab.lab import search as S  # noqa: E402
from sass_lab.lab.fakebench import fake_speed, spearman  # noqa: E402
from sass_lab.lab.spec import load_spec  # noqa: E402
from sass_lab.lab.store import canon  # noqa: E402
from sass_lab.lab.tune import compile_runner, prune, static_score  # noqa: E402


def replay(space: list[dict], values: list, budget: int, width: int, prior=None) -> int | None:
    best = max(v for v in values if v is not None)
    g = S.Guided(space, budget=budget, prior=prior)
    n = 0
    while batch := g.ask(width):
        for i in batch:
            n += 1
            g.tell(i, values[i])
            if values[i] is not None and values[i] >= best:
                return n
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--bias", type=float, default=0.1)
    ap.add_argument("--sigma", type=float, default=0.03)
    ap.add_argument("--budget", type=float, default=0.25)
    a = ap.parse_args()
    files = a.files or sorted(str(p) for p in (ROOT / "kernels_asm").glob("*.sasm"))
    print(f"budget {a.budget:g} of each space; fake bench: bias {a.bias}, sigma {a.sigma}, {a.seeds} seeds")
    for f in files:
        spec = load_spec(f)
        cands = spec.combinations()
        if len(cands) < 2:
            continue
        statics = {canon(s.defines): s for s in compile_runner(f, "sm_90", cands, spec.with_size(None), jobs=a.jobs,
                                                              keys=_keys(f, cands, spec.with_size(None)))}
        st = [statics[canon(d)] for d in cands]
        scores = [None if (prune(s) or s.failure) else static_score(s) for s in st]
        budget = S.budget_count(a.budget, len(cands))
        mode = S.choose("auto", len(cands))
        c_hit = replay(cands, scores, budget, 2)
        surv = [i for i, v in enumerate(scores) if v is not None]
        prior = [scores[i] for i in surv]
        hits, rhos = [], []
        for seed in range(a.seeds):
            speed = [fake_speed(prior[j], cands[i], bias=a.bias, sigma=a.sigma, seed=seed) for j, i in enumerate(surv)]
            rhos.append(spearman(prior, speed) if len(set(prior)) > 1 else float("nan"))
            hits.append(replay([cands[i] for i in surv], speed, budget, 1, prior) if surv else None)
        found = [h for h in hits if h is not None]
        print(f"{Path(f).name:24s} {len(cands):4d} candidates ({mode:10s}) budget {budget:3d} | compile-only "
              f"opt@{c_hit if c_hit else 'miss'} | fake bench: found {len(found)}/{len(hits)}, opt@ median "
              f"{statistics.median(found) if found else '-'} max {max(found) if found else '-'}, "
              f"model-vs-fake rho {statistics.fmean(rhos):.2f}", flush=True)


def _keys(f: str, cands: list[dict], size: dict) -> list[str]:
    from sass_lab.lab.candidate import summary_key
    from sass_lab.lab.store import source_hash
    from sass_lab.toolchain.compile import compiler_id, default_compiler

    ident = compiler_id(default_compiler(), "sm_90")[1]
    h = source_hash(f)
    return [summary_key(h, d, size, "sm_90", ident) for d in cands]


if __name__ == "__main__":
    main()
