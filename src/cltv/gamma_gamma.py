"""Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005; Hardie's note 025).

``params`` is ``(p, q, v)``. ``x`` is the number of repeat purchases whose mean spend is ``m``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

GGParams = tuple[float, float, float]


def population_mean(params: GGParams) -> float:
    """Mean spend per purchase of a new customer, ``p v / (q - 1)``; negative when q <= 1."""
    p, q, v = params
    return p * v / (q - 1.0)


def expected_average_value(params: GGParams, x, m) -> np.ndarray:
    """E[mean spend per purchase | x, m] = ``p (v + x m) / (p x + q - 1)``.

    Customers with ``x = 0`` or ``m <= 0`` (no usable repeat spend) get the population mean.
    Equal to ``lifetimes.GammaGammaFitter.conditional_expected_average_profit`` (eq. 5 of
    note 025) written without the 1 - w cancellation.
    """
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    x = np.where(m > 0, x, 0.0)
    m = np.where(m > 0, m, 0.0)
    return p * (v + x * m) / (p * x + q - 1.0)


def log_likelihood(params: GGParams, x, m, weights=None) -> float:
    """Total Gamma-Gamma log-likelihood of the mean spends ``m`` (customers with x > 0, m > 0)."""
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    ll = (
        gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
        + (p * x - 1.0) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v)
    )
    return float(np.sum(w * ll))
