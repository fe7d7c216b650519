"""Every purchase of simulated customers under BG/NBD + Gamma-Gamma with known parameters, at
continuous times (weeks): the fixed event generator behind the data simulators of
:mod:`cltv.data.simulate` (transaction logs, FLO snapshots) and :mod:`cltv.data.simulate_invoices`
(invoice-line exports). The models' own simulators (their ``simulate`` methods) draw RFM
histories; a log needs each purchase's time and amount, which only this generator draws.

Per customer: purchase rate lambda ~ Gamma(r, rate alpha) (per week), dropout probability
p ~ Beta(a, b); after each *repeat* purchase the customer leaves with probability p. Spend:
nu ~ Gamma(q, rate v); each purchase's amount ~ Gamma(p_gg, rate nu). No Python loop over
customers: the repeat purchases seen by T are the first min(N, J) of N ~ Poisson(lambda T)
uniform events, J ~ Geometric(p).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..models.bgnbd import Params
from ..models.gamma_gamma import GGParams
from ..schema import DAYS_PER_WEEK


def customers(n: int, bgnbd: Params, gg: GGParams, T: np.ndarray, rng: np.random.Generator):
    r, alpha, a, b = bgnbd
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    events = rng.poisson(lam * T)
    lifetime = rng.geometric(drop)  # repeat purchases up to and including the last one
    x = np.minimum(events, lifetime)
    nu = rng.gamma(gg[1], 1.0 / gg[2], n)
    return x, events, nu


def lexsort_order(minor: np.ndarray, major: np.ndarray) -> np.ndarray:
    """The order of ``np.lexsort((minor, major))`` for integer ``major`` < 2**53, about 8 times
    faster: numpy sorts complex numbers by real part, then imaginary part. Rows equal in both
    keys may come in any order; continuous simulated times have none."""
    return np.argsort(major + 1j * minor)


def purchase_events(first: np.ndarray, horizon: float, bgnbd: Params, gg: GGParams, rng: np.random.Generator):
    """Every purchase of customers whose first purchase is at ``first`` (weeks after the start),
    observed up to ``horizon`` weeks: (customer index, time in weeks, amount), unsorted."""
    n = first.size
    T = horizon - first
    x, events, nu = customers(n, bgnbd, gg, T, rng)
    # repeat purchases: the first x of `events` sorted uniform times in (first, first + T)
    owner = np.repeat(np.arange(n), events)
    times = rng.uniform(0.0, 1.0, owner.size) * T[owner]
    order = lexsort_order(times, owner)
    owner, times = owner[order], times[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(events) - events, events)
    keep = rank < x[owner]
    owner, times = owner[keep], first[owner[keep]] + times[keep]
    who = np.concatenate([np.arange(n), owner])
    when = np.concatenate([first, times])
    return who, when, rng.gamma(gg[0], 1.0 / nu[who])


def grouped_events(first: np.ndarray, horizon: float, group: np.ndarray, params: list[tuple[Params, GGParams]],
                   rng: np.random.Generator):
    """:func:`purchase_events` of customers in groups with their own parameters (covariate
    effects): ``group[i]`` indexes ``params`` (BG/NBD, Gamma-Gamma) of customer ``i``; customer
    indices are global. One group: exactly :func:`purchase_events`."""
    parts = []
    for g, (bgnbd, gg) in enumerate(params):
        idx = np.flatnonzero(group == g)
        who, when, amount = purchase_events(first[idx], horizon, bgnbd, gg, rng)
        parts.append((idx[who], when, amount))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def group_params(bgnbd: Params, gg: GGParams, table, effects: dict | None) -> tuple[np.ndarray, list]:
    """Per customer the index of its group and per group (BG/NBD, Gamma-Gamma) parameters:
    ``table`` holds numeric covariates (one row per customer; None: one group), ``effects``
    process -> column -> gamma (:mod:`cltv.models.effects`)."""
    from ..models.bgnbd import BGNBD
    from ..models.gamma_gamma import GammaGamma

    effects = effects or {}
    if table is None or not effects:
        return np.zeros(0 if table is None else len(table), dtype=int), [(bgnbd, gg)]
    buy = BGNBD.of(*bgnbd)
    buy = BGNBD(buy.params, effects={p: e for p, e in effects.items() if p in BGNBD.links})
    spend = GammaGamma(GammaGamma.of(*gg).params, effects={p: e for p, e in effects.items() if p in GammaGamma.links})
    rows, group = np.unique(table.to_numpy(dtype=float), axis=0, return_inverse=True)
    out = []
    for row in rows:
        values = dict(zip(table.columns, row))
        z = {p: np.array([values[c] for c in e]) for p, e in effects.items()}
        out.append((buy.at(z).values, spend.at(z).values))
    return group.ravel(), out


def calendar_clock(season, start: pd.Timestamp, earliest: float, horizon: float):
    """``(to operational, to calendar)`` week maps (weeks since ``start``) of the multiplier
    ``season`` of day numbers, over the days from ``earliest`` to ``horizon`` weeks; None without."""
    if season is None:
        return None
    day0 = int(np.floor(earliest * DAYS_PER_WEEK)) - 1
    days = np.arange(day0, int(np.ceil(horizon * DAYS_PER_WEEK)) + 2)
    base = (start - pd.Timestamp("1970-01-01")).days
    cumulative = np.concatenate([[0.0], np.cumsum(season(days + base))]) / DAYS_PER_WEEK
    grid = np.arange(day0, day0 + len(cumulative)) / DAYS_PER_WEEK
    return (lambda weeks: np.interp(weeks, grid, cumulative) - np.interp(0.0, grid, cumulative),
            lambda op: np.interp(op + np.interp(0.0, grid, cumulative), cumulative, grid))
