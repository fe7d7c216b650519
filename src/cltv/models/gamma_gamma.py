"""Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis"; Hardie's note 025).

Assumptions: each purchase's amount ~ Gamma(p, rate nu), nu ~ Gamma(q, rate v) across customers,
independent of the purchase process (check the frequency-spend correlation). ``params`` is
``(p, q, v)`` (``v`` in money). ``x`` is the number of purchase values whose mean is ``m``.
:class:`GammaGamma` is the spend model :class:`cltv.clv.CLTVModel` composes.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult
from scipy.special import digamma, gammaln

from ..numeric import dot
from .base import ParametricModel
from .mle import covariance, minimize_bfgs

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
    usable = m > 0
    x = np.where(usable, x, 0.0)
    return p * (v + np.where(usable, x * m, 0.0)) / (p * x + q - 1.0)


def log_likelihood(params: GGParams, x, m, weights=None) -> float:
    """Total Gamma-Gamma log-likelihood of the mean spends ``m`` (customers with x > 0, m > 0)."""
    x, m, w, by_x = _prepare(x, m, weights)
    return -_objective(np.log(params), w * x, x * m, w, 0.0, by_x)[0] * w.sum()


def _prepare(x, m, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Float arrays, weights (default 1) and the per-distinct-x sums :func:`_objective` needs."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    xs, inverse = np.unique(x, return_inverse=True)
    by_x = (xs, np.bincount(inverse, weights=w, minlength=xs.size),
            np.bincount(inverse, weights=w * np.log(m), minlength=xs.size))
    return x, m, w, by_x


def _objective(log_params: np.ndarray, wx_rows: np.ndarray, z: np.ndarray, w: np.ndarray, penalizer: float,
               by_x: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[float, np.ndarray]:
    """``lifetimes``' Gamma-Gamma objective and its gradient in log-parameters: the weighted
    *mean* negative log-likelihood plus ``penalizer * sum(params ** 2)``. Per row: ``wx_rows``
    is weight times x, ``z`` is x m (the total spend), ``w`` the weight; ``by_x`` holds the
    distinct x, their total weights and their weighted sums of ln m, for the terms that do not
    involve v."""
    p, q, v = params = np.exp(log_params)
    xs, wx, log_m = by_x
    total = wx.sum()
    px = p * xs
    zv = z + v
    lzv = np.log(zv)
    np.reciprocal(zv, out=zv)
    s_log, s_xlog = dot(w, lzv), dot(wx_rows, lzv)
    s_inv, s_xinv = dot(w, zv), dot(wx_rows, zv)
    ll = (dot(wx, gammaln(px + q) - gammaln(px) + px * np.log(xs)) - total * gammaln(q) + total * q * np.log(v)
          + dot(p * xs, log_m) - log_m.sum() - p * s_xlog - q * s_log)
    d_pq = digamma(px + q)
    grad = np.array([
        dot(wx * xs, d_pq - digamma(px) + np.log(xs)) + dot(xs, log_m) - s_xlog,
        dot(wx, d_pq) - total * digamma(q) + total * np.log(v) - s_log,
        total * q / v - p * s_xinv - q * s_inv,
    ])
    value = -ll / total + penalizer * np.sum(params ** 2)
    return float(value), (-grad / total + 2.0 * penalizer * params) * params


def fit(x, m, weights=None, penalizer: float = 0.0, tol: float = 1e-7) -> OptimizeResult:
    """Maximum-likelihood Gamma-Gamma parameters by ``lifetimes``' recipe, made fast.

    The same objective as ``lifetimes.GammaGammaFitter.fit`` (mean negative log-likelihood over
    ``weights`` plus ``penalizer`` times the sum of the squared parameters), the same start
    (log-parameters 0.1) and method (BFGS, gradient tolerance ``tol``; see :mod:`cltv.models.mle`), but
    an analytic gradient, with the terms of x alone summed once per distinct x. Rows need x > 0
    and m > 0. Returns scipy's result with ``params`` = (p, q, v).
    """
    x, m, w, by_x = _prepare(x, m, weights)
    result = minimize_bfgs(_objective, np.full(3, 0.1), (w * x, x * m, w, penalizer, by_x), tol)
    result.params = tuple(float(v) for v in np.exp(result.x))
    return result


class GammaGamma(ParametricModel):
    """Gamma-Gamma: see the module docstring."""

    kind, title = "gamma_gamma", "Gamma-Gamma"
    param_names = ("p", "q", "v")
    lifetimes_class = "GammaGammaFitter"

    @classmethod
    def fit(cls, x, m, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """``(model or None, optimiser result)`` by :func:`fit`; None when it did not converge."""
        result = fit(x, m, weights, penalizer, tol)
        return (cls(dict(zip(cls.param_names, result.params))) if result.success else None), result

    def log_likelihood(self, x, m, weights=None) -> float:
        return log_likelihood(self.values, x, m, weights)

    def estimate_covariance(self, x, m, weights=None) -> None:
        """Set :attr:`covariance` from the data the parameters were fitted on (see
        :func:`cltv.models.mle.covariance`)."""
        x, m, w, by_x = _prepare(x, m, weights)
        total = w.sum()
        cov = covariance(lambda p: _objective(p, w * x, x * m, w, 0.0, by_x)[1] * total, np.log(self.values))
        self.covariance = None if cov is None else cov.tolist()

    def expected_average_value(self, x, m) -> np.ndarray:
        return expected_average_value(self.values, x, m)

    def population_mean(self) -> float:
        return population_mean(self.values)
