"""The season: the purchase rate of every customer is ``lambda s(t)`` (:mod:`cltv.season`),
fitted jointly with the model's parameters.

In operational time ``tau`` a customer's purchases are an ordinary history of the model: BG/NBD
and MBG/NBD drop out at purchases, whatever the clock; Pareto/NBD's dropout hazard is taken to
follow the same clock (``mu s(t)``: the customer's whole clock runs with the season, docs/seasonality.md). A customer first seen on day ``f``, last on
day ``l`` and observed to day ``e`` has ``t_x = tau(l) - tau(f)`` and ``T = tau(e) - tau(f)``
operational weeks, and the density of their purchase days gains ``s(t)`` for each repeat purchase
on day ``t`` (the change of clock). So the log-likelihood is the model's at the transformed
histories plus ``delta . W``, with ``W`` the sum of ``w(t)`` over every repeat purchase day of every
customer: the purchase days enter only through that one vector, and the histories through
(x, f, l), fitted as distinct rows with their counts.

The gradient is exact: the model's derivatives in its parameters (``rows``) and in t_x and T
(``time_slopes``), the latter times the derivatives of tau in ``delta`` (cumulative sums of
``s w / 7``). With ``delta = 0`` it is the model without a season.
"""
from __future__ import annotations

import numpy as np

from ..numeric import dot
from ..season import Clock, Season
from .mle import inverse_from_factor, minimize_bfgs, natural_covariance
from .tuples import distinct


def objective(theta: np.ndarray, model, x, first, last, end: int, w, season: Season, total_w: np.ndarray
              ) -> tuple[float, np.ndarray]:
    """The mean negative log-likelihood and its gradient in (log-parameters, delta); ``x``,
    ``first``, ``last``: distinct histories (days since 1970-01-01) with weights ``w``; ``end``:
    the observation end day; ``total_w``: the weighted sum of ``w(t)`` over all repeat purchase days."""
    k = len(model.param_names)
    params, delta = np.exp(theta[:k]), theta[k:]
    day0 = int(first.min())
    clock = Clock(season, delta, day0, end)
    cum = clock.cumulative
    f, l_, e = first - day0, last - day0, end - day0
    tx, T = cum[l_] - cum[f], cum[e] - cum[f]
    ll_rows, grads = model.rows(tuple(params), x, tx, T)
    d_tx, d_T = model.time_slopes(tuple(params), x, tx, T)
    total = w.sum()
    ll = dot(w, ll_rows) + dot(delta, total_w)
    grad = [dot(w, g) * p for g, p in zip(grads, params)]
    if delta.size:
        slopes = np.concatenate([np.zeros((1, delta.size)), np.cumsum(clock.s[:, None] * clock.w, axis=0)]) / 7.0
        size = len(cum)
        at = (np.bincount(l_, w * d_tx, size) - np.bincount(f, w * (d_tx + d_T), size))
        at[e] += dot(w, d_T)
        grad += [dot(at, slopes[:, j]) + total_w[j] for j in range(delta.size)]
    return float(-ll / total), -np.array(grad) / total


def fit(start, x, first, last, end: int, season: Season, repeat_days: np.ndarray, weights=None,
        repeat_weights=None, tol: float = 1e-7):
    """``(model, delta, covariance, result)`` or ``(None, None, None, result)``: ``start`` (the
    model fitted without a season, an instance of a model with ``time_slopes``) refitted with
    ``season`` from its parameters and ``delta = 0``. ``x``, ``first``, ``last``: per customer
    (or row standing for ``weights`` customers) the repeat purchases and the first and last
    purchase days; ``end``: the observation end day; ``repeat_days``: every repeat purchase day
    (each standing for ``repeat_weights`` purchases). ``covariance``: of (parameters in natural
    units, delta), the inverse Hessian of the total negative log-likelihood; the model's own
    covariance is its parameters' block. ``result.log_likelihood``: the total."""
    model = type(start)
    n = len(x)
    w0 = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    values, inverse, _ = distinct(np.asarray(x, dtype=float), np.asarray(first), np.asarray(last))
    xs, fs, ls = values[0], values[1].astype("int64"), values[2].astype("int64")
    w = np.bincount(inverse, weights=w0, minlength=len(xs))
    rw = np.ones(len(repeat_days)) if repeat_weights is None else np.asarray(repeat_weights, dtype=float)
    features = season.features(np.asarray(repeat_days, dtype="int64"))
    total_w = np.array([dot(rw, features[:, j]) for j in range(features.shape[1])])
    theta0 = np.concatenate([np.log(start.values), np.zeros(len(season.names()))])
    args = (model, xs, fs, ls, int(end), w, season, total_w)
    result = minimize_bfgs(objective, theta0, args, tol, newton_start=True)
    if not result.success:
        return None, None, None, result
    k = len(model.param_names)
    theta = result.x
    covariance = None if result.hessian_factor is None else natural_covariance(
        inverse_from_factor(result.hessian_factor, w.sum()), theta, k)
    fitted = model(dict(zip(model.param_names, (float(v) for v in np.exp(theta[:k])))),
                   covariance=None if covariance is None else covariance[:k, :k])
    result.log_likelihood = -result.fun * w.sum()
    return fitted, theta[k:].copy(), covariance, result


def forecast(model, season: Season, delta: np.ndarray, x, first, last, day: int, days_ahead: float) -> np.ndarray:
    """Expected repeat purchases per customer in the ``days_ahead`` days after day ``day`` (the
    scoring day, its end: a history measured to ``day``): the model's conditional expectation in
    operational time, the horizon measured from ``day``."""
    first, last = np.asarray(first, dtype="int64"), np.asarray(last, dtype="int64")
    clock = Clock(season, delta, int(first.min()), int(np.ceil(day + days_ahead)) + 1)
    tx, T = clock.weeks(last) - clock.weeks(first), clock.weeks(day) - clock.weeks(first)
    ahead = float(clock.weeks(day + days_ahead) - clock.weeks(day))
    return model.expected_purchases(ahead, np.asarray(x, dtype=float), tx, T)
