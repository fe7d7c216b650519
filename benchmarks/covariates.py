"""The cost of covariates: BG/NBD + Gamma-Gamma fitted with and without three binary covariates on
one simulated population, with ``lifetimes``' fit (no covariates) beside them.

    python -m benchmarks.covariates                     # 1M customers
    python -m benchmarks.covariates --customers 100000 --no-lifetimes

Customers are drawn by :func:`cltv.data.simulate.simulate_rfm` with three 0/1 attributes acting on
the purchase rate, the dropout and the spend, first seen up to two years ago; ages and recencies
are whole days (as a log gives them), so customers share histories as in real data. Each fit is
``CLTVModel.fit`` without intervals (parameters, standard errors, segment cut-offs); the figure to
read is the ratio with / without covariates, which should stay at or below 5.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from .scale import machine

EFFECTS = {"purchases": {"online": 0.4, "app": -0.3}, "dropout": {"market": 0.5}, "spend": {"online": 0.3}}
COVARIATES = {"purchases": ["online", "app"], "dropout": ["market"], "spend": ["online"]}


def population(n: int, seed: int) -> pd.DataFrame:
    """``n`` customers with attributes ``online``, ``market``, ``app`` (text levels) and whole-day ages."""
    from cltv.data.simulate import simulate_rfm

    rng = np.random.default_rng(seed)
    att = pd.DataFrame({c: rng.integers(0, 2, n) for c in ("online", "market", "app")})
    T = np.floor(rng.uniform(28, 730, n)) / 7.0
    rfm = simulate_rfm(n, attributes=att, effects=EFFECTS, T=T, seed=seed)
    rfm["recency"] = np.minimum(np.floor(rfm["recency"] * 7.0) / 7.0, rfm["T"])
    return rfm.assign(**{c: np.where(att[c] == 1, "yes", "no") for c in att.columns})


def seconds(fit) -> tuple[float, object]:
    began = time.perf_counter()
    out = fit()
    return time.perf_counter() - began, out


def arguments(argv: list[str] | None, description: str = __doc__.splitlines()[0]) -> argparse.Namespace:
    """The benchmark's options: ``--customers`` (default 1M), ``--seed``, ``--no-lifetimes``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lifetimes", action="store_true", help="skip lifetimes' fit (slow at 1M)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)

    from cltv.model import CLTVModel

    rfm = population(args.customers, args.seed)
    CLTVModel(interval_level=None).fit(rfm.head(5000))  # warm-up: imports, first calls
    plain, _ = seconds(lambda: CLTVModel(interval_level=None).fit(rfm))
    with_cov, model = seconds(lambda: CLTVModel(interval_level=None, covariates=COVARIATES).fit(rfm))
    rows = model.training_["purchases_fit_rows"]
    print(f"machine: {machine()}")
    print(f"{args.customers:,} customers, {rows:,} distinct histories")
    print("| fit (BG/NBD + Gamma-Gamma) | seconds | ratio to cltv without covariates | target |")
    print("|---|---:|---:|---|")
    if not args.no_lifetimes:
        import lifetimes

        x, tx, T, m = (rfm[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
        lt, _ = seconds(lambda: (lifetimes.BetaGeoFitter().fit(x, tx, T),
                                 lifetimes.GammaGammaFitter().fit(x[(x > 0) & (m > 0)], m[(x > 0) & (m > 0)])))
        print(f"| lifetimes, no covariates | {lt:.2f} | {lt / plain:.2f} | |")
    print(f"| cltv, no covariates | {plain:.2f} | 1.00 | |")
    print(f"| cltv, 3 binary covariates (4 effects) | {with_cov:.2f} | {with_cov / plain:.2f} | <= 5 |")
    for p, e in [*model.purchases_.effects.items(), *model.spend_.effects.items()]:
        print(f"  {p}: " + ", ".join(f"{k} {v:+.3f}" for k, v in e.items()))


if __name__ == "__main__":
    main()
