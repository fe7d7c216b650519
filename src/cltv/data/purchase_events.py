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

from ..models.bgnbd import Params
from ..models.gamma_gamma import GGParams


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
