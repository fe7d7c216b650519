"""Count distributions shared by the purchase models: the NBD probability of their purchase part
and cumulative Poisson draws for their interval samplers."""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

NORMAL_FROM = 1e9  # Poisson means above this are drawn from the normal approximation


def nbd_log_pmf(r: float, alpha: float, t, n: int) -> np.ndarray:
    """log P(N(t) = n) for purchases at a rate lambda ~ Gamma(r, rate alpha) over a time ``t``
    (the negative binomial of the purchase part of every model here); -inf for n > 0 at t = 0."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore"):
        log_q = n * (np.log(t) - np.log(alpha + t)) if n > 0 else 0.0
    return gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) - r * np.log1p(t / alpha) + log_q


def poisson_counts(rate: np.ndarray, weeks: np.ndarray, rng: np.random.Generator, until=None) -> np.ndarray:
    """Cumulative Poisson counts at rate ``rate`` (one per row) by each time of ``weeks``, counting
    only up to the time ``until`` per row (the end of a lifetime) when given. Means above
    :data:`NORMAL_FROM` (beyond any real customer; numpy refuses means near 1e19) are drawn from
    the normal approximation, exact there to far below one count in a thousand."""
    ends = weeks[None, :] if until is None else np.minimum(weeks[None, :], until[:, None])
    mean = rate[:, None] * np.diff(ends, axis=1, prepend=0.0)
    big = mean > NORMAL_FROM
    counts = rng.poisson(np.where(big, 0.0, mean))
    if big.any():
        counts[big] = np.round(mean[big] + np.sqrt(mean[big]) * rng.standard_normal(int(big.sum())))
    return np.cumsum(counts, axis=1)
