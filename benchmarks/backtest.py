"""The backtest's cost: stage `evaluate`'s work for 1 and for k origins on one simulated log.

    python -m benchmarks.backtest                       # 100k customers, k = 4
    python -m benchmarks.backtest --customers 20000 --origins 3

The log is benchmarks/scale.py's CDNOW-like simulation (calibration end 2020-09-29, log to
2021-06-29). Both runs do what `evaluate` does, through its own functions: build every origin's
calibration/holdout table from the daily table (read once, here made once) and check it, then per
origin fit BG/NBD + Gamma-Gamma and score the holdout (the metrics, intervals and ranking). k
origins are the rule's: ``k`` origins 6 weeks apart, each holdout up to the log's end. The
figure to read is the ratio, which should stay at or below k. ``lifetimes`` has no backtest, so
there is no side-by-side figure here; benchmarks/scale.py compares the single fit.
"""
from __future__ import annotations

import argparse
import time

from .scale import CALIBRATION_END, OBSERVATION_END, SIMULATION, machine


def evaluate_seconds(daily, origins: int) -> float:
    """Wall seconds of `evaluate`'s work on ``daily`` for ``origins`` origins."""
    from cltv.model import CLTVModel
    from pipelines.evaluate import one_origin, origin_tables

    p = {"data": {"calibration_end": CALIBRATION_END, "observation_end": OBSERVATION_END, "acquired_after": None},
         "evaluate": {"origins": [], "count": origins, "spacing_weeks": 6, "holdout_weeks": None},
         "model": {"covariates": {"purchases": [], "dropout": [], "spend": []}}}
    began = time.perf_counter()
    for i, (start, end, ch) in enumerate(origin_tables(p, daily)):
        one_origin(ch, daily, CLTVModel(interval_level=0.9).fit(ch), start, end, i == 0)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--origins", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from cltv.data import rfm
    from cltv.data.simulate import simulate_transactions

    daily = rfm.daily_purchases(simulate_transactions(args.customers, seed=args.seed, **SIMULATION))
    evaluate_seconds(daily, 1)  # warm-up: imports, first calls
    one, k = evaluate_seconds(daily, 1), evaluate_seconds(daily, args.origins)
    print(f"machine: {machine()}")
    print(f"{args.customers:,} customers, {len(daily):,} purchase days")
    print("| origins | evaluate | per origin | ratio to one origin | target |")
    print("|---:|---:|---:|---:|---|")
    print(f"| 1 | {one:.2f} s | {one:.2f} s | 1.00 | |")
    print(f"| {args.origins} | {k:.2f} s | {k / args.origins:.2f} s | {k / one:.2f} | <= {args.origins} |")


if __name__ == "__main__":
    main()
