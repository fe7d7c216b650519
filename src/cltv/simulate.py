"""Vectorised simulation of the BG/NBD + Gamma-Gamma generative process (known truth).

Per customer: purchase rate lambda ~ Gamma(r, rate alpha) (per week), dropout probability
p ~ Beta(a, b); after each *repeat* purchase the customer leaves with probability p. Spend:
nu ~ Gamma(q, rate v); each purchase's amount ~ Gamma(p_gg, rate nu). No Python loop over
customers: the repeat purchases seen by T are the first min(N, J) of N ~ Poisson(lambda T)
uniform events, J ~ Geometric(p), so the last one is T times a Beta order statistic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .bgnbd import Params
from .gamma_gamma import GGParams


def _customers(n: int, bgnbd: Params, gg: GGParams, T: np.ndarray, rng: np.random.Generator):
    r, alpha, a, b = bgnbd
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    events = rng.poisson(lam * T)
    lifetime = rng.geometric(drop)  # repeat purchases up to and including the last one
    x = np.minimum(events, lifetime)
    nu = rng.gamma(gg[1], 1.0 / gg[2], n)
    return x, events, nu


def simulate_rfm(
    n: int,
    bgnbd: Params = (0.243, 4.414, 0.793, 2.426),
    gg: GGParams = (6.25, 3.74, 15.44),
    T: float | np.ndarray | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """An RFM table (:data:`cltv.rfm.RFM_COLUMNS`, weeks) of ``n`` simulated customers.

    ``T`` (weeks): one value, one per customer, or by default uniform on [4, 104).
    ``monetary_value`` is the mean of the x repeat amounts (0 when x = 0).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(4.0, 104.0, n) if T is None else np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    x, events, nu = _customers(n, bgnbd, gg, T, rng)
    has = x > 0
    recency = np.zeros(n)
    recency[has] = T[has] * rng.beta(x[has], events[has] - x[has] + 1)
    monetary = np.zeros(n)
    monetary[has] = rng.gamma(gg[0] * x[has], 1.0 / (x[has] * nu[has]))
    return pd.DataFrame({
        "customer_id": [f"c{i:08d}" for i in range(n)],
        "frequency": x.astype("int64"),
        "recency": recency,
        "T": T,
        "monetary_value": monetary,
    })


def simulate_transactions(
    n: int,
    bgnbd: Params = (0.243, 4.414, 0.793, 2.426),
    gg: GGParams = (6.25, 3.74, 15.44),
    start: str = "2020-01-01",
    end: str = "2021-06-30",
    acquisition_weeks: float = 12.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A transaction log (``customer_id``, ``date``, ``amount``) of ``n`` simulated customers.

    First purchases are uniform over the first ``acquisition_weeks`` after ``start``; every
    customer is then observed up to ``end``. Times are continuous and rounded down to days,
    so two purchases may fall on one day (they merge in :func:`cltv.rfm.daily_purchases`).
    """
    rng = np.random.default_rng(seed)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    horizon = (end_ts - start_ts) / pd.Timedelta(weeks=1)
    first = rng.uniform(0.0, acquisition_weeks, n)
    T = horizon - first
    x, events, nu = _customers(n, bgnbd, gg, T, rng)
    # repeat purchases: the first x of `events` sorted uniform times in (first, first + T)
    owner = np.repeat(np.arange(n), events)
    times = rng.uniform(0.0, 1.0, owner.size) * T[owner]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(events) - events, events)
    keep = rank < x[owner]
    owner, times = owner[keep], first[owner[keep]] + times[keep]
    who = np.concatenate([np.arange(n), owner])
    when = np.concatenate([first, times])
    amount = rng.gamma(gg[0], 1.0 / nu[who])
    order = np.lexsort((when, who))
    return pd.DataFrame({
        "customer_id": np.char.add("c", np.char.zfill(who[order].astype(str), 8)).astype(object),
        "date": (start_ts + pd.to_timedelta(np.floor(when[order] * 7.0), unit="D")).astype("datetime64[ns]"),
        "amount": np.round(amount[order], 2),
    })
