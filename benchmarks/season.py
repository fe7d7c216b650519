"""The cost of the season: BG/NBD and Pareto/NBD fitted with and without a yearly shape on one
simulated two-year log, with ``lifetimes``' BG/NBD fit (no season) beside them.

    python -m benchmarks.season                     # 1M customers
    python -m benchmarks.season --customers 100000 --no-lifetimes

Customers are drawn by :func:`cltv.data.simulate.simulate_transactions` (first purchases over the
first year, +60 % purchase rate in November and December) and merged into purchase days. The fit
with a season starts from the fit without (its time counts); the figure to read is the ratio,
which should stay at or below 5.
"""
from __future__ import annotations

import numpy as np

from .covariates import arguments, seconds
from .scale import machine

PROFILE = {11: 1.6, 12: 1.6}


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv, __doc__.splitlines()[0])

    from cltv.data import rfm
    from cltv.data.simulate import monthly, simulate_transactions
    from cltv.models import purchase_model
    from cltv.models.seasonal import fit
    from cltv.season import Season, histories

    log = simulate_transactions(args.customers, start="2021-01-01", end="2022-12-31", acquisition_weeks=52,
                                seed=args.seed, season=monthly(PROFILE))
    _, x, first, last, repeat, end = histories(rfm.daily_purchases(log), "2022-12-31")
    tx, T = (last - first) / 7.0, (end - first) / 7.0
    print(f"machine: {machine()}")
    print(f"{args.customers:,} customers, {len(log):,} purchases")
    print("| fit | seconds | ratio to cltv without a season | target |")
    print("|---|---:|---:|---|")
    for kind in ("bgnbd", "paretonbd"):
        model = purchase_model(kind)
        model.fit(x[:5000].astype(float), tx[:5000], T[:5000])  # warm-up: imports, first calls
        plain_s, (plain, _) = seconds(lambda: model.fit(x.astype(float), tx, T))
        if kind == "bgnbd" and not args.no_lifetimes:  # lifetimes' Pareto/NBD takes minutes at 1M: BG/NBD only
            import lifetimes

            lt, _ = seconds(lambda: lifetimes.BetaGeoFitter().fit(x, tx, T))
            print(f"| lifetimes {model.title}, no season | {lt:.2f} | {lt / plain_s:.2f} | |")
        print(f"| cltv {model.title}, no season | {plain_s:.2f} | 1.00 | |")
        for shape, label in (("months", "months (11 contrasts)"), ("fourier", "Fourier, 3 harmonics")):
            season_s, (fitted, delta, _, _) = seconds(lambda: fit(plain, x, first, last, end, Season(shape, 3), repeat))
            total = plain_s + season_s
            print(f"| cltv {model.title}, season {label} | {total:.2f} | {total / plain_s:.2f} | <= 5 |")
            multiplier = np.exp(delta)
            print(f"  {shape}: " + ", ".join(f"{n} x{m:.3f}" for n, m in zip(Season(shape, 3).names(), multiplier)))

if __name__ == "__main__":
    main()
