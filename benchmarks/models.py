"""Purchase models side by side: each of cltv's (BG/NBD, MBG/NBD, Pareto/NBD) against its
``lifetimes`` fitter as a user calls it, on the same calibration RFM table of N simulated
customers (the backbone simulator of benchmarks/scale.py, CDNOW-like, days -> weeks).

    ./dev.sh bench-models                      # N = 100k and 1M
    ./dev.sh bench-models --sizes 20000 --json out.json   # what the test runs

Per model and side: fit wall time (one row per customer for ``lifetimes``: BetaGeoFitter and
ModifiedBetaGeoFitter with BFGS and autograd gradients, ParetoNBDFitter with Nelder-Mead and no
gradient; ours on the distinct (x, t_x, T) histories with analytic or exact gradients), the
log-likelihood of each side's parameters (computed by ours, so they compare), the largest relative
parameter difference, and scoring time (expected purchases at 3 months and P(alive) for every
customer; ``lifetimes`` from the same parameters). Speed targets live here, never in tests.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from .scale import CALIBRATION_END, OBSERVATION_END, SIMULATION, WEEKS_PER_MONTH, machine


def comparable() -> list[str]:
    """The purchase models (:data:`cltv.models.PURCHASE_MODELS` kinds) that ``lifetimes`` also has."""
    from cltv.models import PURCHASE_MODELS

    return [kind for kind, cls in PURCHASE_MODELS.items() if cls.lifetimes_class]


def calibration(n: int, seed: int):
    from cltv.data import rfm
    from cltv.data.simulate import simulate_transactions

    tx = simulate_transactions(n, seed=seed, **SIMULATION)
    return rfm.calibration_holdout(rfm.daily_purchases(tx), CALIBRATION_END, OBSERVATION_END)


def compare(kind: str, x, tx, T) -> dict:
    import lifetimes

    from cltv.models import PURCHASE_MODELS, tuples

    cls = PURCHASE_MODELS[kind]
    t0 = time.perf_counter()
    (dx, dtx, dT), _, counts = tuples.distinct(x, tx, T)
    ours, result = cls.fit(dx, dtx, dT, counts)
    ours_fit = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fitter = getattr(lifetimes, cls.lifetimes_class)().fit(x, tx, T)
        plain_fit = time.perf_counter() - t0
        theirs = cls(dict(fitter.params_))
        t0 = time.perf_counter()
        fitter.conditional_expected_number_of_purchases_up_to_time(3 * WEEKS_PER_MONTH, x, tx, T)
        fitter.conditional_probability_alive(x, tx, T)
        plain_score = time.perf_counter() - t0
    t0 = time.perf_counter()  # as CLTVModel scores: P(alive) once per history, times E[purchases | alive]
    (ux, utx, uT), inverse, _ = tuples.distinct(x, tx, T)
    alive = ours.prob_alive(ux, utx, uT)
    (alive * ours.alive_purchases(3 * WEEKS_PER_MONTH, ux, uT))[inverse], alive[inverse]
    ours_score = time.perf_counter() - t0
    ll_ours, ll_theirs = ours.log_likelihood(dx, dtx, dT, counts), theirs.log_likelihood(dx, dtx, dT, counts)
    return {
        "model": cls.title, "customers": int(x.size), "distinct_histories": int(dx.size),
        "fit_plain_s": plain_fit, "fit_ours_s": ours_fit, "fit_ratio": plain_fit / ours_fit,
        "objective_evaluations_ours": int(result.nfev),
        "score_plain_s": plain_score, "score_ours_s": ours_score, "score_ratio": plain_score / ours_score,
        "log_likelihood_plain": ll_theirs, "log_likelihood_ours": ll_ours,
        "param_rel_diff": max(abs(ours.params[k] / theirs.params[k] - 1) for k in cls.param_names),
        "params_ours": ours.params, "params_plain": theirs.params,
    }


def markdown(result: dict) -> str:
    lines = [f"Run on {result['machine']['date']}: `{result['command']}`", "",
             "| customers (distinct histories) | model | fit: lifetimes | fit: ours | ratio | score: lifetimes | "
             "score: ours | ratio | log-likelihood lifetimes / ours | largest parameter difference |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        lines.append(
            f"| {r['customers']:,} ({r['distinct_histories']:,}) | {r['model']} | {r['fit_plain_s']:.2f} s | "
            f"{r['fit_ours_s']:.2f} s | **{r['fit_ratio']:.1f}×** | {r['score_plain_s']:.2f} s | "
            f"{r['score_ours_s']:.2f} s | **{r['score_ratio']:.1f}×** | {r['log_likelihood_plain']:,.3f} / "
            f"{r['log_likelihood_ours']:,.3f} | {r['param_rel_diff']:.1e} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="customers per run")
    parser.add_argument("--models", nargs="+", default=comparable(), choices=comparable())
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="write all figures here")
    args = parser.parse_args()
    command = f"./dev.sh bench-models --sizes {' '.join(map(str, args.sizes))}"
    result = {"machine": machine(), "command": command, "runs": []}
    for n in args.sizes:
        ch = calibration(n, args.seed)
        x, tx, T = (ch[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        for kind in args.models:
            r = compare(kind, x, tx, T)
            result["runs"].append(r)
            print(json.dumps({k: v for k, v in r.items() if not k.startswith("params")}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=float))
    print(markdown(result))


if __name__ == "__main__":
    main()
