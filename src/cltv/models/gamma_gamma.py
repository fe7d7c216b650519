"""Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis"; Hardie's note 025).

Assumptions: each purchase's amount ~ Gamma(p, rate nu), nu ~ Gamma(q, rate v) across customers,
independent of the purchase process (check the frequency-spend correlation). ``params`` is
``(p, q, v)`` (``v`` in money). ``x`` is the number of purchase values whose mean is ``m``.
:class:`GammaGamma` is the spend model (:class:`cltv.models.spend.SpendModel`); its rules live
here: with q <= 1 the population mean is not finite, so customers without usable spend (and, for
q < 1, those with few purchases) cannot be valued.
"""
from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from .. import numeric
from ..numeric import dot
from .mle import Minimum, estimates_covariance, minimize_bfgs, total_log_likelihood
from .spend import SpendModel
from .tuples import distinct

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
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(m, dtype=float))
    value = np.empty(m.shape)
    for rows in numeric.blocks(m.size):  # a block at a time: no full-length temporaries
        usable = m.flat[rows] > 0
        n = np.where(usable, x.flat[rows], 0.0)  # the usable spend count
        part = np.where(usable, n * m.flat[rows], 0.0)
        part += v
        part *= p
        n *= p  # in the order of p (v + n m) / (p n + q - 1)
        n += q
        n -= 1.0
        part /= n
        value.flat[rows] = part
    return value if value.ndim else value[()]


def log_likelihood(params: GGParams, x, m, weights=None) -> float:
    """Total Gamma-Gamma log-likelihood of the mean spends ``m`` (customers with x > 0, m > 0)."""
    data = _prepare(x, m, weights)
    return total_log_likelihood(_unpenalised(data), np.log(params), data[2].sum())


def _prepare(x, m, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Float arrays, weights (default 1) and the per-distinct-x sums :func:`_objective` needs."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    (xs,), inverse, _ = distinct(x)  # hashed, not sorted: once per fit, likelihood and covariance
    by_x = (xs, np.bincount(inverse, weights=w, minlength=xs.size),
            np.bincount(inverse, weights=w * np.log(m), minlength=xs.size))
    return x, m, w, by_x


def _unpenalised(data: tuple):
    """:func:`_objective` without penalty on the data of :func:`_prepare`."""
    x, m, w, by_x = data
    wx, z = w * x, x * m
    return lambda log_params: _objective(log_params, wx, z, w, 0.0, by_x)


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


def rows(params, x, m, by=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per customer (x > 0, m > 0): the log-likelihood of the mean spend and its derivatives in
    (p, q, v), each parameter one value or one per row (covariates, :mod:`cltv.models.effects`);
    ``by`` as for :func:`cltv.models.bgnbd.rows` (here the terms of x, p and q alone)."""
    p, q, v = params
    rep, back = by if by is not None else (slice(None), slice(None))
    xr = x[rep]
    d_r = digamma(p * xr + q)
    per_x = (gammaln(p * xr + q) - gammaln(p * xr) - gammaln(q) + p * xr * np.log(xr))[back]
    g_p = (xr * (d_r - digamma(p * xr) + np.log(xr)))[back]
    g_q = (d_r - digamma(q))[back]
    px = p * x
    lzv, lm = np.log(v + x * m), np.log(m)
    ll = per_x + q * np.log(v) + (px - 1.0) * lm - (px + q) * lzv
    return ll, [g_p + x * (lm - lzv), g_q + np.log(v) - lzv, q / v - (px + q) / (v + x * m)]


def fit(x, m, weights=None, penalizer: float = 0.0, tol: float = 1e-7) -> Minimum:
    """Maximum-likelihood Gamma-Gamma parameters by ``lifetimes``' recipe, made fast.

    The same objective as ``lifetimes.GammaGammaFitter.fit`` (mean negative log-likelihood over
    ``weights`` plus ``penalizer`` times the sum of the squared parameters), the same start
    (log-parameters 0.1) and method (BFGS, gradient tolerance ``tol``; see :mod:`cltv.models.mle`), but
    an analytic gradient, with the terms of x alone summed once per distinct x. Rows need x > 0
    and m > 0. Returns the :class:`~cltv.models.mle.Minimum` with ``params`` = (p, q, v) and,
    when it converged, the total ``log_likelihood`` and the ``covariance`` there (the data
    prepared once for all three).
    """
    x, m, w, by_x = data = _prepare(x, m, weights)
    result = minimize_bfgs(_objective, np.full(3, 0.1), (w * x, x * m, w, penalizer, by_x), tol)
    result.params = tuple(float(v) for v in np.exp(result.x))
    if result.success:
        unpenalised, log_params = _unpenalised(data), np.log(result.params)
        result.log_likelihood = total_log_likelihood(unpenalised, log_params, w.sum())
        result.covariance = estimates_covariance(unpenalised, log_params, w.sum())
    return result


class GammaGamma(SpendModel):
    """Gamma-Gamma: see the module docstring."""

    kind, title = "gamma_gamma", "Gamma-Gamma"
    param_names = ("p", "q", "v")
    lifetimes_class = "GammaGammaFitter"
    example = (6.25, 3.74, 15.44)  # CDNOW sample (FHL 2005, note 025)
    rows = staticmethod(rows)
    links = {"spend": (("v", 1.0),)}  # v scales every customer's mean spend p v / (q - 1)

    @staticmethod
    def objective(log_params, x, m, w, penalizer: float) -> tuple[float, np.ndarray]:
        """:func:`_objective` on plain columns (the methods below prepare the data once)."""
        x, m, w, by_x = _prepare(x, m, w)
        return _objective(log_params, w * x, x * m, w, penalizer, by_x)

    @classmethod
    def fit(cls, x, m, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """``(model or None, optimiser result)`` by :func:`fit`; None when it did not converge."""
        result = fit(x, m, weights, penalizer, tol)
        if not result.success:
            return None, result
        return cls(dict(zip(cls.param_names, result.params)), covariance=result.covariance), result

    def log_likelihood(self, x, m, weights=None) -> float:
        return log_likelihood(self.values, x, m, weights)

    def estimate_covariance(self, x, m, weights=None) -> None:
        """Set :attr:`covariance` from the data the parameters were fitted on (see
        :func:`cltv.models.mle.covariance`)."""
        data = _prepare(x, m, weights)
        self.covariance = estimates_covariance(_unpenalised(data), np.log(self.values), data[2].sum())

    def expected_average_value(self, x, m) -> np.ndarray:
        return expected_average_value(self.values, x, m)

    def population_mean(self) -> float:
        return population_mean(self.values)

    def valued(self, x, m) -> np.ndarray:
        """Where the posterior mean spend is finite and positive: p n + q - 1 > 0 with n the
        usable spend count (always true when q > 1)."""
        p, q, _ = self.values
        if q > 1.0:
            return np.ones(np.shape(x), dtype=bool)
        n = np.where(np.asarray(m, dtype=float) > 0, np.asarray(x, dtype=float), 0.0)
        return p * n + q - 1.0 > 0

    def unvalued_reason(self) -> str:
        return f"Gamma-Gamma q = {self.params['q']:.4g} <= 1"

    def notes(self) -> list[str]:
        q = self.params["q"]
        if q > 1.0:
            return []
        return [f"Gamma-Gamma q = {q:.4g} <= 1: the population mean spend is not finite, so a customer "
                "without repeat spend cannot be valued (every training customer here can); lower the penalizer"]

    def diagnostics(self) -> dict[str, int]:
        """``gg_q_le_1``: q <= 1, the population mean spend is not finite."""
        return {"gg_q_le_1": int(self.params["q"] <= 1.0)}

    @staticmethod
    def sample_spend(params, steps, counts, rng) -> np.ndarray:
        """Each purchase's amount ~ Gamma(p, nu): a step's total is Gamma(p k) / nu for k purchases,
        with nu ~ Gamma(q + p n) / scale given n usable spend values (scale = v + n m)."""
        p, q = params[:, 0], params[:, 1]
        amounts = rng.standard_gamma(p[:, None] * steps).T  # standard units per step
        return np.stack([amounts / rng.standard_gamma(q + p * count) for count in counts])

    def interval_scale(self, x, m, usable) -> tuple[np.ndarray, np.ndarray]:
        """scale = v + n m (n m where usable), kappa = v / scale."""
        v = self.params["v"]
        scale = v + np.where(usable, np.asarray(x, dtype=float) * np.asarray(m, dtype=float), 0.0)
        return scale, v / scale

    def scale_ratio(self, params) -> np.ndarray:
        return params[:, 2] / self.params["v"]

    def simulate(self, x, rng) -> np.ndarray:
        """nu ~ Gamma(q, rate v); the mean of x amounts ~ Gamma(p, rate nu) is Gamma(p x, rate x nu)."""
        p, q, v = self.values
        x = np.asarray(x)
        nu = rng.gamma(q, 1.0 / v, x.size)
        monetary = np.zeros(x.size)
        has = x > 0
        monetary[has] = rng.gamma(p * x[has], 1.0 / (x[has] * nu[has]))
        return monetary
