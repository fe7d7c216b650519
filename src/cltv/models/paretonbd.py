"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987; the likelihood as in Fader, Hardie & Lee
2005, "A note on deriving the Pareto/NBD model and related expressions").

Assumptions: while alive, a customer buys at Poisson rate lambda ~ Gamma(r, rate alpha); their
lifetime is exponential with rate mu ~ Gamma(s, rate beta), independent of lambda, so dropout can
happen at any time, not only after a purchase. Parameters ``(r, alpha, s, beta)``, ``alpha`` and
``beta`` in the data's time unit (cltv: weeks).

The likelihood of (x, tx, T) is
``G(r+x)/G(r) alpha^r beta^s [(alpha+T)^-(r+x) (beta+T)^-s + s I]`` with
``I = integral over tx..T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau`` (alive at T, or gone at
tau). ``I`` is computed to rounding, without the Gauss hypergeometric function that ``lifetimes``
evaluates: substituting ``y = m log((alpha+tau)/(alpha+tx))``, m = r + s + x, leaves
``(alpha+tx)^-m / m`` times the integral over y of ``e^-y ((alpha+tau)/(beta+tau))^(s+1)``, a smooth
function whose mass lies in y < 50, which Gauss-Legendre quadrature with :data:`NODES` nodes,
graded toward y = 0, integrates to about 1e-12 relative or better (:data:`HARD_NODES` where
beta + tx << alpha + tx; tests/test_models.py compares it with adaptive quadrature). The gradient is exact too: each parameter's derivative of ``I`` is an
integral of the same kind, taken on the same nodes. P(X(t) = n) uses the same device with the
lifetime's Lomax distribution.
"""
from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import digamma, expit, gammaln

from ..numeric import dot, matvec
from .bgnbd import LIFETIME_WEEKS
from .counts import nbd_log_pmf, poisson_counts
from .purchase import PurchaseModel, two_states

NODES, HARD_NODES = 32, 128  # Gauss-Legendre nodes; the second count for rows with beta + tx << alpha + tx
HARD = 1e-3  # (beta + tx) / (alpha + tx) below this: the integrand changes within a sliver at y = 0
CUT = 50.0  # the integral in y stops at min(m V, CUT): a share e^-50 of the mass lies beyond
GRADING = 4  # y = Y u^4: nodes crowd near y = 0, where the integrand varies fastest when beta << alpha


@cache
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in (0, 1) and weights for the integral over y divided by Y, graded toward y = 0."""
    u, w = np.polynomial.legendre.leggauss(n)
    u, w = (u + 1.0) / 2.0, w / 2.0
    return u ** GRADING, w * GRADING * u ** (GRADING - 1)


def _dead(r, alpha, s, beta, x, tx, T, gradient: bool = True):
    """Per history: ``log(s I)`` and (with ``gradient``) the derivatives of ``log I`` in
    (r, alpha, s, beta) (0 where tx = T, where ``I`` = 0 and ``log(s I)`` = -inf)."""
    out = _dead_on(_nodes(NODES), r, alpha, s, beta, x, tx, T, gradient)
    hard = np.flatnonzero(beta + tx < HARD * (alpha + tx))
    if hard.size:
        part = [v[hard] if np.ndim(v) else v for v in (r, alpha, s, beta, x, tx, T)]  # parameters per row, or one
        again = _dead_on(_nodes(HARD_NODES), *part, gradient)
        for whole, part in zip((out[0], *out[1]), (again[0], *again[1])):
            whole[hard] = part
    return out


def _dead_on(nodes, r, alpha, s, beta, x, tx, T, gradient: bool):
    """:func:`_dead` with the given quadrature ``nodes``."""
    nodes_y, weights = nodes
    m = r + s + x
    a0 = alpha + tx
    la0 = np.log(a0)
    Y = np.minimum(m * np.log1p((T - tx) / a0), CUT)  # y at tau = T
    some = Y > 0
    v = (Y / m)[:, None] * nodes_y[None, :]  # y / m = log((alpha + tau) / (alpha + tx)) at the nodes
    grow = np.expm1(v)
    b_tau = (beta + tx)[:, None] + a0[:, None] * grow  # beta + tau, without cancellation
    log_b = np.log(b_tau)
    log_a = la0[:, None] + v
    log_g = (np.asarray(s)[..., None] + 1.0) * (log_a - log_b) - m[:, None] * v  # e^-y ((alpha+tau)/(beta+tau))^(s+1)
    top = log_g.max(axis=1)
    gw = np.exp(log_g - top[:, None]) * weights
    norm = gw.sum(axis=1)  # the integral over y, divided by Y e^top
    with np.errstate(divide="ignore"):
        log_si = np.log(s) - np.log(m) - m * la0 + np.log(Y) + top + np.log(norm)
    if not gradient:
        return log_si, []
    mean = lambda f: np.where(some, (gw * f).sum(axis=1) / norm, 0.0)  # noqa: E731 - average under g
    inv_a = 1.0 / (a0[:, None] * (grow + 1.0))
    return log_si, [-mean(log_a), -(r + x) * mean(inv_a), -mean(log_b), -(s + 1.0) * mean(1.0 / b_tau)]


def _objective(log_params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray,
               penalizer: float, by_x: tuple[np.ndarray, np.ndarray]) -> tuple[float, np.ndarray]:
    """Pareto/NBD weighted mean negative log-likelihood (plus ``penalizer * sum(params ** 2)``,
    as for the other models) and its exact gradient in log-parameters."""
    r, alpha, s, beta = params = np.exp(log_params)
    xs, wx = by_x
    total = wx.sum()
    lT_a, lT_b = np.log(alpha + T), np.log(beta + T)
    alive = -(r + x) * lT_a - s * lT_b
    dead, (d_r, d_alpha, d_s, d_beta) = _dead(r, alpha, s, beta, x, tx, T)
    mix, pi = two_states(alive, dead)
    wpi, wal = w * pi, w * (1.0 - pi)
    ll = dot(wx, gammaln(r + xs) - gammaln(r)) + total * (r * np.log(alpha) + s * np.log(beta)) + dot(w, mix)
    grad = np.array([
        dot(wx, digamma(r + xs) - digamma(r)) + total * np.log(alpha) - dot(wal, lT_a) + dot(wpi, d_r),
        total * r / alpha - dot(wal, (r + x) / (alpha + T)) + dot(wpi, d_alpha),
        total * np.log(beta) - dot(wal, lT_b) + dot(wpi, 1.0 / s + d_s),
        total * s / beta - dot(wal, s / (beta + T)) + dot(wpi, d_beta),
    ])
    value = -ll / total + penalizer * np.sum(params ** 2)
    return float(value), (-grad / total + 2.0 * penalizer * params) * params


def rows(params, x, tx, T, by=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per history: the log-likelihood and its derivatives in (r, alpha, s, beta), each parameter
    one value or one per row (covariates, :mod:`cltv.models.effects`); ``by`` as for
    :func:`cltv.models.bgnbd.rows` (here the terms of x and r alone)."""
    r, alpha, s, beta = params
    rep, back = by if by is not None else (slice(None), slice(None))
    lT_a, lT_b = np.log(alpha + T), np.log(beta + T)
    alive = -(r + x) * lT_a - s * lT_b
    dead, (d_r, d_alpha, d_s, d_beta) = _dead(r, alpha, s, beta, x, tx, T)
    mix, pi = two_states(alive, dead)
    ll = (gammaln(r + x[rep]) - gammaln(r))[back] + r * np.log(alpha) + s * np.log(beta) + mix
    return ll, [(digamma(r + x[rep]) - digamma(r))[back] + np.log(alpha) - (1.0 - pi) * lT_a + pi * d_r,
                r / alpha - (1.0 - pi) * (r + x) / (alpha + T) + pi * d_alpha,
                np.log(beta) - (1.0 - pi) * lT_b + pi * (1.0 / s + d_s),
                s / beta - (1.0 - pi) * s / (beta + T) + pi * d_beta]


def time_slopes(params, x, tx, T) -> tuple[np.ndarray, np.ndarray]:
    """Per history: the derivatives of the log-likelihood in t_x and in T (the seasonal fit moves
    both, :mod:`cltv.models.seasonal`). With ``L = e^alive + s I``: ``dL/dT = -e^alive (r+x)/(alpha+T)``
    (I's end point cancels the alive term's beta part) and ``dL/dt_x = -s (alpha+tx)^-(r+x)
    (beta+tx)^-(s+1)``, I's start point."""
    r, alpha, s, beta = params
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    mix, pi = two_states(alive, _dead(r, alpha, s, beta, x, tx, T, gradient=False)[0])
    at_tx = np.log(s) - (r + x) * np.log(alpha + tx) - (s + 1.0) * np.log(beta + tx)
    return -np.exp(at_tx - mix), -(1.0 - pi) * (r + x) / (alpha + T)


def _prob_alive(r, alpha, s, beta, x, tx, T) -> np.ndarray:
    """P(alive at T | x, tx, T); parameters scalars or arrays broadcast with the history."""
    r, alpha, s, beta, x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, alpha, s, beta, x, tx, T)))
    shape = x.shape
    r, alpha, s, beta, x, tx, T = (v.ravel() for v in (r, alpha, s, beta, x, tx, T))
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = _dead(r, alpha, s, beta, x, tx, T, gradient=False)[0]
    return expit(alive - dead).reshape(shape)


class ParetoNBD(PurchaseModel):
    """Pareto/NBD: see the module docstring."""

    kind, title = "paretonbd", "Pareto/NBD"
    param_names, time_params = ("r", "alpha", "s", "beta"), ("alpha", "beta")
    lifetimes_class = "ParetoNBDFitter"
    example = (0.55, 10.6, 0.61, 11.7)  # CDNOW sample (FHL 2005)
    objective = staticmethod(_objective)
    rows = staticmethod(rows)
    time_slopes = staticmethod(time_slopes)
    links = {"purchases": (("alpha", -1.0),), "dropout": (("beta", -1.0),)}

    def prob_alive(self, x, tx, T) -> np.ndarray:
        return _prob_alive(*self.values, x, tx, T)

    def prob_alive_draws(self, params, x, tx, T) -> np.ndarray:
        return _prob_alive(*(params.T[:, :, None]), *(np.asarray(v, dtype=float)[None, :] for v in (x, tx, T)))

    def alive_purchases(self, t, x, T) -> np.ndarray:
        """``(r+x)/(alpha+T) (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)]``, its s -> 1 limit
        ``(r+x)/(alpha+T) (beta+T) log((beta+T+t)/(beta+T))`` within 1e-8 of s = 1."""
        r, alpha, s, beta = self.values
        t, x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, T)))
        log_ratio = np.log1p(t / (beta + T))  # log((beta+T+t)/(beta+T)) >= 0
        k = s - 1.0
        growth = log_ratio * (1.0 - k * log_ratio / 2.0) if abs(k) < 1e-8 else -np.expm1(-k * log_ratio) / k
        return (r + x) / (alpha + T) * (beta + T) * growth

    @staticmethod
    def sample_alive(params, x, T, weeks, rng) -> np.ndarray:
        """Alive at T: lambda ~ Gamma(r + x, alpha + T), mu ~ Gamma(s, beta + T); the rest of the
        lifetime is exponential with rate mu (memoryless)."""
        r, alpha, s, beta = params.T
        rate = rng.standard_gamma(r + x) / (alpha + T)
        mu = rng.standard_gamma(s) / (beta + T)
        with np.errstate(divide="ignore", over="ignore"):  # mu = 0 or subnormal (tiny s): the lifetime never ends
            until = rng.standard_exponential(rate.size) / mu
        return poisson_counts(rate, weeks, rng, until=until)

    def prob_n_purchases(self, t, n: int, nodes: int = 64) -> np.ndarray:
        """Alive at t with n purchases, or gone at tau < t with n purchases by then: the NBD
        probability of n at t or at tau, mixed over tau's Lomax(s, beta) distribution
        (integrated in ``u = 1 - (beta/(beta+tau))^s`` by Gauss-Legendre)."""
        r, alpha, s, beta = self.values
        t = np.atleast_1d(np.asarray(t, dtype=float))
        u, wu = np.polynomial.legendre.leggauss(nodes)
        u, wu = (u + 1.0) / 2.0, wu / 2.0
        log_alive_t = -s * np.log1p(t / beta)
        U = -np.expm1(log_alive_t)
        tau = beta * np.expm1(-np.log1p(-U[:, None] * u[None, :]) / s)
        nbd_t, nbd_tau = (np.exp(nbd_log_pmf(r, alpha, v, n)) for v in (t, tau))
        return np.exp(log_alive_t) * nbd_t + U * matvec(nbd_tau, wu)

    def simulate(self, T, rng) -> tuple[np.ndarray, np.ndarray]:
        """lambda ~ Gamma(r, alpha), an exponential lifetime with rate mu ~ Gamma(s, beta); the
        last of x uniform purchase times in the observed lifetime is its recency."""
        r, alpha, s, beta = self.values
        T = np.asarray(T, dtype=float)
        lam = rng.gamma(r, 1.0 / alpha, T.size)
        alive = np.minimum(rng.exponential(1.0 / rng.gamma(s, 1.0 / beta, T.size)), T)
        x = rng.poisson(lam * alive)
        return x, np.where(x > 0, alive * rng.beta(np.maximum(x, 1), 1.0), 0.0)

    def dropout_collapsed(self) -> str | None:
        """s -> 0 or beta -> infinity: s below 1e-4, or a mean lifetime beta / s beyond
        :data:`cltv.models.bgnbd.LIFETIME_WEEKS`."""
        s, beta = self.params["s"], self.params["beta"]
        if s < 1e-4 or beta / s > LIFETIME_WEEKS:
            return f"s={s:.3g}, beta={beta:.3g}: a mean lifetime of {beta / s / 52:.3g} years"
        return None
