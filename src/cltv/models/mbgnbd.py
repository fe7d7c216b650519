"""MBG/NBD (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models
for customer base analysis"): BG/NBD in which a customer can also drop out right after the first
purchase.

Assumptions: while alive, a customer buys at Poisson rate lambda ~ Gamma(r, rate alpha); at time 0
and after each repeat purchase they drop out with probability p ~ Beta(a, b). Unlike BG/NBD a
customer without a repeat purchase may be gone, so P(alive) < 1 for x = 0. Parameters
``(r, alpha, a, b)``, ``alpha`` in the data's time unit (cltv: weeks). The likelihood is
``lifetimes.ModifiedBetaGeoFitter``'s; given alive, the expected purchases are BG/NBD's with
``b + 1`` in place of ``b`` (:func:`cltv.models.bgnbd.alive_purchases`).
"""
from __future__ import annotations

from functools import partial

import numpy as np
from scipy.special import betainc, betaln, expit

from . import bgnbd
from .counts import nbd_log_pmf
from .purchase import PurchaseModel


def _prob_alive(params, x, tx, T) -> np.ndarray:
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    return expit(-bgnbd.dead_log_odds(params, x, tx, T, chances=1.0))


class MBGNBD(PurchaseModel):
    """MBG/NBD: see the module docstring."""

    kind, title = "mbgnbd", "MBG/NBD"
    param_names, time_params = ("r", "alpha", "a", "b"), ("alpha",)
    lifetimes_class = "ModifiedBetaGeoFitter"
    example = (0.5, 6.0, 0.9, 1.6)
    objective = staticmethod(partial(bgnbd._objective, first_dropout=True))  # lifetimes' MBG/NBD likelihood
    rows = staticmethod(partial(bgnbd.rows, first_dropout=True))
    time_slopes = staticmethod(partial(bgnbd.time_slopes, first_dropout=True))
    links = bgnbd.BGNBD.links

    def prob_alive(self, x, tx, T) -> np.ndarray:
        return _prob_alive(self.values, x, tx, T)

    def dead_odds_draws(self, params, x, tx, T) -> np.ndarray:
        """As BG/NBD's, with one more chance to drop out (every x)."""
        return bgnbd.BGNBD.dead_odds_draws(self, params, x, tx, T, chances=1.0)

    def alive_purchases(self, t, x, T) -> np.ndarray:
        r, alpha, a, b = self.values
        return bgnbd.alive_purchases((r, alpha, a, b + 1.0), t, x, T)

    def prob_n_purchases(self, t, n: int) -> np.ndarray:
        """Alive after all n + 1 chances to drop out with exactly n purchases, or gone right after
        the n-th purchase (at time 0 for n = 0) with at least n purchases by t."""
        r, alpha, a, b = self.values
        t = np.asarray(t, dtype=float)
        log_nbd = nbd_log_pmf(r, alpha, t, n)
        at_least = betainc(n, r, t / (alpha + t)) if n > 0 else 1.0
        return (np.exp(betaln(a, b + n + 1.0) - betaln(a, b) + log_nbd)
                + np.exp(betaln(a + 1.0, b + n) - betaln(a, b)) * at_least)

    @staticmethod
    def sample_alive(params, x, T, weeks, rng) -> np.ndarray:
        """As BG/NBD's, with p ~ Beta(a, b + x + 1): alive at T, the customer survived x + 1 chances."""
        return bgnbd.BGNBD.sample_alive(params, x, T, weeks, rng, chances=1.0)

    def simulate(self, T, rng) -> tuple[np.ndarray, np.ndarray]:
        """As BG/NBD's, with a chance to leave at time 0 (J - 1 repeat purchases at most)."""
        r, alpha, a, b = self.values
        T = np.asarray(T, dtype=float)
        events = rng.poisson(rng.gamma(r, 1.0 / alpha, T.size) * T)
        x = np.minimum(events, rng.geometric(np.clip(rng.beta(a, b, T.size), 1e-12, 1.0)) - 1)
        return x, bgnbd._last_of(x, events, T, rng)

    def dropout_collapsed(self) -> str | None:
        """a -> 0 or b -> infinity (every customer's dropout probability near 0), or a or b -> 0."""
        return bgnbd.beta_collapse(*self.values)
