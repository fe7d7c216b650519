"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), vectorised and
numerically stable.

Assumptions: while alive, a customer buys at Poisson rate lambda ~ Gamma(r, rate alpha); after
each *repeat* purchase they drop out with probability p ~ Beta(a, b) (so a customer without a
repeat purchase is alive for sure). ``params`` is ``(r, alpha, a, b)`` with ``alpha`` in the time
unit of ``t``, ``recency`` and ``T`` (cltv: weeks). ``x`` is the number of repeat purchases,
``tx`` the recency. :class:`BGNBD` is the model of :mod:`cltv.models.base`.

These reproduce ``lifetimes.BetaGeoFitter``'s formulas where those are finite, and stay
finite where they are not: when the fitted ``a`` and ``b`` collapse toward 0 (the data
cannot identify dropout), ``lifetimes`` returns inf for customers with one repeat purchase
because the hypergeometric function's third argument ``c = a + b + x - 1`` tends to 0. Here
the product ``c * 2F1(..; c; z)``, which is all the formula needs, is computed through Gauss'
contiguous relation from ``2F1(..; c + 1; z)`` and ``2F1(..; c + 2; z)``, which are regular
at ``c = 0``. Where ``c`` nears -1 (no repeat purchase and a + b -> 0) the Euler-transformed
function has a removable singularity that scipy cannot see, and the un-transformed form
``2F1(r, b; c; z)`` is used. The a, b -> 0 limit is ``(r + x) t / (alpha + T)`` times P(alive). At exactly a = 1 the
closed form is 0/0 (removable); within 5e-5 of it E[X(t) | alive] is interpolated linearly in
a between a = 1 -+ 1e-4, accurate to about 1e-8 relative.

Fitting minimises ``lifetimes``' objective with an analytic gradient (:mod:`cltv.models.base`).
"""
from __future__ import annotations

import numpy as np
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1

from ..numeric import dot, matvec
from .counts import poisson_counts
from .purchase import PurchaseModel, two_states

Params = tuple[float, float, float, float]
A_ONE_GAP = 1e-4  # alive_purchases interpolates between a = 1 -+ this when |a - 1| < this / 2


def _c_hyp2f1(a: np.ndarray, b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``c * 2F1(a, b; c; z)``, regular as ``c -> 0`` (0 <= z < 1, c > -1)."""
    out = np.empty(np.broadcast(a, b, c, z).shape)
    a, b, c, z = np.broadcast_arrays(a, b, c, z)
    big = c >= 1.0
    out[big] = c[big] * hyp2f1(a[big], b[big], c[big], z[big])
    s = ~big
    if s.any():
        a_, b_, c_, z_ = a[s], b[s], c[s], z[s]
        f1 = hyp2f1(a_, b_, c_ + 1.0, z_)
        f2 = hyp2f1(a_, b_, c_ + 2.0, z_)
        # Gauss: (c+1) c (z-1) F(c) + (c+1)[c - (2c+1-a-b) z] F(c+1) + (c+1-a)(c+1-b) z F(c+2) = 0
        num = (c_ + 1.0) * (c_ - (2.0 * c_ + 1.0 - a_ - b_) * z_) * f1 + (c_ + 1.0 - a_) * (c_ + 1.0 - b_) * z_ * f2
        out[s] = num / ((c_ + 1.0) * (1.0 - z_))
    return out


def _alive_purchases_by_quadrature(r, alpha, a: float, b, t, nodes: int = 512) -> np.ndarray:
    """E[X(t) | alive] for posterior (r, alpha, a, b): the mean over the dropout probability
    p ~ Beta(a, b) of E[X(t) | p] = (1 - (alpha / (alpha + p t))^r) / p, integrated over p's
    quantiles u = F(p) (Gauss-Legendre in u; the integrand is bounded by r t / alpha)."""
    from scipy.special import betaincinv

    u, w = np.polynomial.legendre.leggauss(nodes)
    u, w = (u + 1.0) / 2.0, w / 2.0
    p = betaincinv(a, np.asarray(b, dtype=float)[:, None], u[None, :])
    x = p * (t / alpha)[:, None]
    limit = (r * t / alpha)[:, None]  # the p -> 0 value
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(p > 0, -np.expm1(-r[:, None] * np.log1p(x)) / p, limit)
    return matvec(np.minimum(f, limit), w)


def prob_alive(params: Params, x, tx, T) -> np.ndarray:
    """P(customer still alive at T | x repeat purchases, last at tx); 1 for x = 0."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    return np.where(x == 0, 1.0, expit(-dead_log_odds(params, x, tx, T)))


def dead_log_odds(params: Params, x, tx, T, chances: float = 0.0) -> np.ndarray:
    """log((1 - P(alive)) / P(alive)) = ``(r + x) log((alpha + T) / (alpha + tx)) + log(a / (b + x
    - 1 + chances))``, with ``chances`` as in :meth:`BGNBD.sample_alive` (MBG/NBD: 1, for every
    x; BG/NBD: 0, for x > 0)."""
    r, alpha, a, b = params
    survived = b + x if chances else b + np.maximum(x, 1.0) - 1.0
    return (r + x) * (np.log(alpha + T) - np.log(alpha + tx)) + np.log(a) - np.log(survived)


def alive_purchases(params: Params, t, x, T) -> np.ndarray:
    """E[repeat purchases in (T, T + t] | alive at T, x repeat purchases]: the factor of
    :meth:`BGNBD.expected_purchases` that does not depend on recency, so it can be computed once per
    distinct (x, T). Lies in [0, (r + x) t / (alpha + T)], the no-dropout value."""
    r, alpha, a, b = params
    if abs(a - 1.0) < A_ONE_GAP / 2:
        # removable 0/0 at a = 1: interpolate between a = 1 -+ gap (smooth in a; error O(gap^2))
        lo = alive_purchases((r, alpha, 1.0 - A_ONE_GAP, b), t, x, T)
        hi = alive_purchases((r, alpha, 1.0 + A_ONE_GAP, b), t, x, T)
        return lo + (hi - lo) * (a - (1.0 - A_ONE_GAP)) / (2.0 * A_ONE_GAP)
    t, x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, T)))
    c = a + b + x - 1.0
    z = t / (alpha + T + t)
    log1mz = np.log(alpha + T) - np.log(alpha + T + t)  # log(1 - z), exact for tiny z
    # Euler: ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(c-r-x, a-1; c; z)
    with np.errstate(all="ignore"):  # overflow/0*inf are caught by the bounds check below
        kcf = np.exp((a - 1.0) * log1mz) * _c_hyp2f1(c - r - x, np.full_like(c, a - 1.0), c, z)
        cond = (c - kcf) / (a - 1.0)
        near = c < -0.9  # only x = 0 with a + b < 0.1
        if near.any():
            cf = c[near] * hyp2f1(r + x[near], b + x[near], c[near], z[near])
            cond[near] = (c[near] - np.exp((r + x[near]) * log1mz[near]) * cf) / (a - 1.0)
        # where the Euler form leaves [0, no-dropout value] (large a or r with z near 1), try the
        # direct form, then integrate over the dropout probability numerically
        bound = (r + x) * t / (alpha + T)
        bad = ~((cond >= -1e-12 * bound) & (cond <= bound * (1 + 1e-9)))
        if bad.any():
            cf = c[bad] * hyp2f1(r + x[bad], b + x[bad], c[bad], z[bad])
            cond[bad] = (c[bad] - np.exp((r + x[bad]) * log1mz[bad]) * cf) / (a - 1.0)
            bad = ~((cond >= -1e-12 * bound) & (cond <= bound * (1 + 1e-9)))
        if bad.any():
            cond[bad] = _alive_purchases_by_quadrature(r + x[bad], alpha + T[bad], a, b + x[bad], t[bad])
    return np.where(t == 0, 0.0, np.clip(cond, 0.0, bound))


def prob_n_purchases(params: Params, t, n: int) -> np.ndarray:
    """Unconditional P(X(t) = n) for a customer of age t. Eq. (8) of FHL 2005."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    log_p = np.log(alpha) - np.log(alpha + t)
    with np.errstate(divide="ignore"):  # t = 0 (a customer first seen on the last day): log 0 = -inf, P = 0 for n > 0
        log_q = np.log(t) - np.log(alpha + t) if n > 0 else 0.0
    first = np.exp(
        betaln(a, b + n) - betaln(a, b) + gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + r * log_p + n * log_q
    )
    if n == 0:
        return first
    tail = betainc(n, r, t / (alpha + t))  # P(NBD count >= n)
    return first + np.exp(betaln(a + 1.0, b + n - 1.0) - betaln(a, b)) * tail


def _mixture(alpha, a, b, x, tx, T, rx, first_dropout: bool):
    """The alive / dropped-out mixture of a history's likelihood: its log, the weight of "dropped
    out after the last purchase", b + x - 1 (MBG/NBD: b + x), log(alpha + T), log(alpha + tx)."""
    l_T, l_tx = np.log(alpha + T), np.log(alpha + tx)
    if first_dropout:
        bx = b + x
        dead = np.log(a) - np.log(bx) - rx * l_tx
    else:
        bx = b + np.maximum(x, 1.0) - 1.0
        dead = np.where(x > 0, np.log(a) - np.log(bx) - rx * l_tx, -np.inf)
    mix, pi = two_states(-rx * l_T, dead)
    return mix, pi, bx, l_T, l_tx


def _objective(log_params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray,
               penalizer: float, by_x: tuple[np.ndarray, np.ndarray], first_dropout: bool = False,
               ) -> tuple[float, np.ndarray]:
    """``lifetimes``' BG/NBD objective and its gradient in log-parameters: the weighted *mean*
    negative log-likelihood plus ``penalizer * sum(params ** 2)``. ``by_x`` holds the distinct
    x and their total weights, for the terms that depend on x alone. ``first_dropout``: MBG/NBD's
    (``lifetimes.ModifiedBetaGeoFitter``'s), where the customer may also leave at time 0, so
    every purchase, the first included, is a chance to leave (b + x + 1 in place of b + x)."""
    r, alpha, a, b = params = np.exp(log_params)
    xs, wx = by_x
    total = wx.sum()
    bs = b + 1.0 if first_dropout else b
    # terms of x alone: lnG(r+x) - lnG(r) + r ln(alpha) + lnB(a, b+x) - lnB(a, b) (MBG/NBD: b+x+1)
    per_x = gammaln(r + xs) - gammaln(r) + gammaln(a + b) + gammaln(bs + xs) - gammaln(b) - gammaln(a + bs + xs)
    g_r = digamma(r + xs) - digamma(r)
    g_ab = digamma(a + b) - digamma(a + bs + xs)
    g_b = g_ab + digamma(bs + xs) - digamma(b)
    # the alive / dropped-out mixture, per tuple; pi: the weight of "dropped out after the last
    # purchase" (BG/NBD: 0 if x = 0)
    rx = r + x
    mix, pi, bx, l_T, l_tx = _mixture(alpha, a, b, x, tx, T, rx, first_dropout)
    wpi, wal = w * pi, w * (1.0 - pi)
    ll = dot(wx, per_x) + total * r * np.log(alpha) + dot(w, mix)
    grad = np.array([
        dot(wx, g_r) + total * np.log(alpha) - dot(wal, l_T) - dot(wpi, l_tx),
        total * r / alpha - dot(wal, rx / (alpha + T)) - dot(wpi, rx / (alpha + tx)),
        dot(wx, g_ab) + wpi.sum() / a,
        dot(wx, g_b) - dot(wpi, 1.0 / bx),
    ])
    value = -ll / total + penalizer * np.sum(params ** 2)
    return float(value), (-grad / total + 2.0 * penalizer * params) * params


def rows(params, x, tx, T, first_dropout: bool = False, by=None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per history: the log-likelihood and its derivatives in (r, alpha, a, b), each parameter
    one value or one per row (covariates, :mod:`cltv.models.effects`). ``first_dropout``: MBG/NBD.
    ``by``: (representative rows, each row's representative) of rows sharing x, a and b, where the
    terms of those alone are computed once (:func:`cltv.models.effects.by_count`)."""
    r, alpha, a, b = params
    rep, back = by if by is not None else (slice(None), slice(None))
    at = lambda v: v[rep] if np.ndim(v) else v  # noqa: E731 - a parameter on the representative rows
    xr, ar, br = x[rep], at(a), at(b)
    bsr = br + 1.0 if first_dropout else br
    per_x = (gammaln(r + xr) - gammaln(r) + gammaln(ar + br) + gammaln(bsr + xr) - gammaln(br)
             - gammaln(ar + bsr + xr))[back]
    g_r = (digamma(r + xr) - digamma(r))[back]
    g_ab = (digamma(ar + br) - digamma(ar + bsr + xr))[back]
    g_b = (digamma(bsr + xr) - digamma(br))[back]
    rx = r + x
    mix, pi, bx, l_T, l_tx = _mixture(alpha, a, b, x, tx, T, rx, first_dropout)
    ll = per_x + r * np.log(alpha) + mix
    return ll, [g_r + np.log(alpha) - (1.0 - pi) * l_T - pi * l_tx,
                r / alpha - (1.0 - pi) * rx / (alpha + T) - pi * rx / (alpha + tx),
                g_ab + pi / a,
                g_ab + g_b - pi / bx]


def time_slopes(params, x, tx, T, first_dropout: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per history: the derivatives of the log-likelihood in t_x and in T (the seasonal fit moves
    both, :mod:`cltv.models.seasonal`). ``first_dropout``: MBG/NBD."""
    r, alpha, a, b = params
    rx = r + x
    pi = _mixture(alpha, a, b, x, tx, T, rx, first_dropout)[1]
    return -pi * rx / (alpha + tx), -(1.0 - pi) * rx / (alpha + T)


class BGNBD(PurchaseModel):
    """BG/NBD: see the module docstring. ``alpha`` in the data's time unit."""

    kind, title = "bgnbd", "BG/NBD"
    param_names, time_params = ("r", "alpha", "a", "b"), ("alpha",)
    lifetimes_class = "BetaGeoFitter"
    example = (0.243, 4.414, 0.793, 2.426)  # CDNOW sample (FHL 2005)
    objective = staticmethod(_objective)
    rows = staticmethod(rows)
    time_slopes = staticmethod(time_slopes)
    links = {"purchases": (("alpha", -1.0),), "dropout": (("a", 1.0), ("b", 1.0))}

    def prob_alive(self, x, tx, T) -> np.ndarray:
        return prob_alive(self.values, x, tx, T)

    def dead_odds_draws(self, params, x, tx, T, chances: float = 0.0) -> np.ndarray:
        """:func:`dead_log_odds` under each parameter vector (rows); -inf where x = 0 (BG/NBD)."""
        x, tx, T = (np.asarray(v, dtype=float)[None, :] for v in (x, tx, T))
        odds = dead_log_odds(tuple(np.asarray(params, dtype=float).T[:, :, None]), x, tx, T, chances)
        return odds if chances else np.where(x == 0, -np.inf, odds)

    def alive_purchases(self, t, x, T) -> np.ndarray:
        return alive_purchases(self.values, t, x, T)

    def prob_n_purchases(self, t, n: int) -> np.ndarray:
        return prob_n_purchases(self.values, t, n)

    @staticmethod
    def sample_alive(params, x, T, weeks, rng, chances: float = 0.0) -> np.ndarray:
        """Alive at T: lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x + ``chances``) (the
        dropout chances survived beyond the x purchases: 0 here, 1 for MBG/NBD); the customer
        leaves after the J-th future purchase, J ~ Geometric(p)."""
        r, alpha, a, b = params.T
        rate = rng.standard_gamma(r + x) / (alpha + T)
        p = np.clip(rng.beta(a, b + x + chances), 1e-12, 1.0)
        return np.minimum(poisson_counts(rate, weeks, rng), rng.geometric(p)[:, None])

    def simulate(self, T, rng) -> tuple[np.ndarray, np.ndarray]:
        """lambda ~ Gamma(r, alpha), p ~ Beta(a, b); the repeat purchases seen by T are the first
        min(N, J) of N ~ Poisson(lambda T) uniform times, J ~ Geometric(p), so the last one is T
        times a Beta order statistic."""
        r, alpha, a, b = self.values
        T = np.asarray(T, dtype=float)
        lam = rng.gamma(r, 1.0 / alpha, T.size)
        events = rng.poisson(lam * T)
        x = np.minimum(events, rng.geometric(np.clip(rng.beta(a, b, T.size), 1e-12, 1.0)))
        return x, _last_of(x, events, T, rng)

    def dropout_collapsed(self) -> str | None:
        """a -> 0 or b -> infinity (every customer's dropout probability near 0), or a or b -> 0."""
        return beta_collapse(*self.values)


LIFETIME_WEEKS = 1040  # an implied mean lifetime beyond 20 years: the data show no dropout


def beta_collapse(r: float, alpha: float, a: float, b: float) -> str | None:
    """The collapse of a Beta(a, b) dropout probability (BG/NBD, MBG/NBD) in words, or None: a or
    b below 1e-4, b above 1e4, or an implied mean lifetime (alpha / r weeks between purchases over
    the mean dropout probability a / (a + b)) beyond :data:`LIFETIME_WEEKS`."""
    weeks = alpha / r / (a / (a + b))
    if min(a, b) < 1e-4 or b > 1e4 or weeks > LIFETIME_WEEKS:
        return f"a={a:.3g}, b={b:.3g}: a mean lifetime of {weeks / 52:.3g} years"
    return None


def _last_of(x: np.ndarray, events: np.ndarray, T: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recency: the x-th of ``events`` uniform times in (0, T) (0 where x = 0)."""
    recency = np.zeros(T.size)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], events[has] - x[has] + 1)
    return recency
