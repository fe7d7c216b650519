"""What every purchase model is: one small interface, so the rest of cltv needs no model names.

A purchase model describes how many repeat purchases a customer makes and when they stop
buying, from the customer's history ``x`` (repeat purchases), ``tx`` (recency) and ``T`` (age),
all times in one unit (cltv: weeks, :mod:`cltv.schema`). A subclass gives its parameter names,
its objective (:meth:`PurchaseModel.objective`) and its closed forms; :class:`PurchaseModel`
supplies fitting, the log-likelihood, expected purchases and the plain-data form.

Fitting follows ``lifetimes``' recipe for every model: time rescaled so that max T = 1, the
weighted *mean* negative log-likelihood plus ``penalizer`` times the sum of the squared
(rescaled) parameters, BFGS from log-parameters 0.1 with gradient tolerance ``tol``
(:mod:`cltv.models.mle`), on the distinct histories with their counts as weights.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from scipy.special import gammaln

from ..errors import FitError
from .mle import covariance as mle_covariance
from .mle import minimize_bfgs


def prepare(x, tx, T, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Float arrays, weights (default 1) and the distinct x with their total weights (for the
    terms of an objective that depend on x alone)."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    xs, inverse = np.unique(x, return_inverse=True)
    return x, tx, T, w, (xs, np.bincount(inverse, weights=w, minlength=xs.size))


def nbd_log_pmf(r: float, alpha: float, t, n: int) -> np.ndarray:
    """log P(N(t) = n) for purchases at a rate lambda ~ Gamma(r, rate alpha) over a time ``t``
    (the negative binomial of the purchase part of every model here); -inf for n > 0 at t = 0."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore"):
        log_q = n * (np.log(t) - np.log(alpha + t)) if n > 0 else 0.0
    return gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) - r * np.log1p(t / alpha) + log_q


class ParametricModel:
    """Fitted parameters as plain data (name -> value), shared by purchase and spend models.
    Subclasses set ``kind`` (the config name), ``title``, ``param_names`` and ``lifetimes_class``
    (the equivalent ``lifetimes`` fitter)."""

    kind: ClassVar[str]
    title: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    lifetimes_class: ClassVar[str]

    def __init__(self, params: Mapping[str, float], covariance=None):
        missing = [k for k in self.param_names if k not in params]
        if missing:
            raise ValueError(f"{self.title}: missing parameter(s) {missing}")
        self.params = {k: float(params[k]) for k in self.param_names}
        #: covariance of the estimates (natural units, ``param_names`` order), None when unknown
        self.covariance = None if covariance is None else [[float(v) for v in row] for row in covariance]

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard error of each parameter (delta method, from :attr:`covariance`), or None."""
        if self.covariance is None:
            return None
        return {k: float(np.sqrt(self.covariance[i][i])) for i, k in enumerate(self.param_names)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"

    @classmethod
    def of(cls, *values: float):
        """The model with parameters ``values`` in the order of ``param_names``."""
        return cls(dict(zip(cls.param_names, values, strict=True)))

    @property
    def values(self) -> tuple[float, ...]:
        """The parameters in the order of ``param_names``."""
        return tuple(self.params[k] for k in self.param_names)

    def to_dict(self) -> dict:
        """``kind``, ``params`` and, when known, ``standard_errors`` and ``covariance``."""
        out = {"kind": self.kind, "params": dict(self.params)}
        if self.covariance is not None:
            out.update(standard_errors=self.standard_errors, covariance=self.covariance)
        return out

    @classmethod
    def fit_lifetimes(cls, *columns, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """The model fitted by ``lifetimes``' own fitter on ``columns`` (one row per customer, as
        a plain script does), or None when it did not converge."""
        import lifetimes
        from lifetimes.utils import ConvergenceError

        fitter = getattr(lifetimes, cls.lifetimes_class)(penalizer_coef=penalizer)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore", RuntimeWarning)  # log(0) while searching
                fitter.fit(*columns, weights=weights, tol=tol)
        except ConvergenceError:
            return None
        return cls(dict(fitter.params_))

    def to_lifetimes(self):
        """The equivalent ``lifetimes`` fitter holding these parameters."""
        import lifetimes
        import pandas as pd

        fitter = getattr(lifetimes, self.lifetimes_class)()
        fitter.params_ = pd.Series(self.params)[list(self.param_names)]
        return fitter


class PurchaseModel(ParametricModel):
    """A fitted purchase model: ``params`` (name -> value, times in the data's unit).

    Subclasses also set ``time_params`` (the parameters measured in time units, rescaled while
    fitting) and implement :meth:`objective`, :meth:`prob_alive`, :meth:`alive_purchases` and
    :meth:`prob_n_purchases`.
    """

    time_params: ClassVar[tuple[str, ...]]

    # ----------------------------------------------------------------- fitting
    @staticmethod
    def objective(log_params: np.ndarray, x, tx, T, w, penalizer: float, by_x: tuple) -> tuple[float, np.ndarray]:
        """The weighted mean negative log-likelihood (plus ``penalizer * sum(params ** 2)``) and
        its gradient in log-parameters; ``by_x`` from :func:`prepare`."""
        raise NotImplementedError

    @classmethod
    def fit(cls, x, tx, T, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """``(model or None, optimiser result)``: the maximum-likelihood model by ``lifetimes``'
        recipe (see the module docstring), None when the optimiser did not converge."""
        x, tx, T, w, by_x = prepare(x, tx, T, weights)
        scale = 1.0 / T.max()
        result = minimize_bfgs(cls.objective, np.full(len(cls.param_names), 0.1),
                               (x, tx * scale, T * scale, w, penalizer, by_x), tol)
        values = np.exp(result.x)
        params = {k: float(v / scale if k in cls.time_params else v) for k, v in zip(cls.param_names, values)}
        return (cls(params) if result.success else None), result

    def log_likelihood(self, x, tx, T, weights=None) -> float:
        """Total log-likelihood in the published convention (time in the data's unit)."""
        x, tx, T, w, by_x = prepare(x, tx, T, weights)
        return -self.objective(np.log(self.values), x, tx, T, w, 0.0, by_x)[0] * w.sum()

    def estimate_covariance(self, x, tx, T, weights=None) -> None:
        """Set :attr:`covariance` from the data the parameters were fitted on (see
        :func:`cltv.models.mle.covariance`; None when the Hessian is not positive definite)."""
        x, tx, T, w, by_x = prepare(x, tx, T, weights)
        total = w.sum()
        cov = mle_covariance(lambda p: self.objective(p, x, tx, T, w, 0.0, by_x)[1] * total, np.log(self.values))
        self.covariance = None if cov is None else cov.tolist()

    # -------------------------------------------------------------- prediction
    def prob_alive(self, x, tx, T) -> np.ndarray:
        """P(still a customer at T | x, tx, T)."""
        raise NotImplementedError

    def prob_alive_draws(self, params: np.ndarray, x, tx, T) -> np.ndarray:
        """P(alive) of each history (columns) under each parameter vector (rows of ``params``)."""
        return np.stack([type(self).of(*row).prob_alive(x, tx, T) for row in params])

    def alive_purchases(self, t, x, T) -> np.ndarray:
        """E[repeat purchases in (T, T + t] | alive at T, x]: the factor of
        :meth:`expected_purchases` without recency, computed once per distinct (x, T)."""
        raise NotImplementedError

    def prob_n_purchases(self, t, n: int) -> np.ndarray:
        """P(X(t) = n): ``n`` repeat purchases in the first ``t`` after the first purchase."""
        raise NotImplementedError

    def dropout_note(self) -> str | None:
        """A warning when the data do not identify dropout, else None."""
        return None

    @staticmethod
    def sample_alive(params: np.ndarray, x: float, T: float, weeks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draws of the repeat purchases by each time of ``weeks`` (ascending, after T) of a
        customer alive at T with ``x`` repeat purchases, one draw per row of ``params``
        (parameter vectors): an array (rows, len(weeks)) of whole numbers. Used by
        :mod:`cltv.intervals`."""
        raise NotImplementedError

    def expected_purchases(self, t, x, tx, T) -> np.ndarray:
        """Expected repeat purchases in (T, T + t] given (x, tx, T): P(alive) times
        :meth:`alive_purchases`. With x = tx = T = 0: E[X(t)] of a new customer."""
        t, x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, tx, T)))
        out = self.prob_alive(x, tx, T) * self.alive_purchases(t, x, T)
        self.check_finite(out, t, x, tx, T)
        return out

    def check_finite(self, out: np.ndarray, t, x, tx, T) -> None:
        """Raise FloatingPointError naming the first history whose prediction is not finite."""
        if not np.isfinite(out).all():
            t, x, tx, T = np.broadcast_arrays(t, x, tx, T)
            i = np.flatnonzero(~np.isfinite(out))[0]
            raise FloatingPointError(
                f"{self.title} expected purchases are not finite for parameters {self.params} at "
                f"x={x.flat[i]}, recency={tx.flat[i]}, T={T.flat[i]}, t={t.flat[i]}")

    def to_lifetimes(self):
        """The equivalent ``lifetimes`` fitter with these parameters, ``predict`` attached as
        its ``fit`` would."""
        fitter = super().to_lifetimes()
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        return fitter


NORMAL_FROM = 1e9  # Poisson means above this are drawn from the normal approximation


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


def fit_model(model: type[ParametricModel], fitter: str, columns: tuple, weights, penalizer: float, notes: list[str],
              failure: str):
    """``model`` fitted on ``columns`` by ``fitter`` ("fast": :meth:`fit`, "lifetimes":
    :meth:`ParametricModel.fit_lifetimes`) at ``lifetimes``' default tolerance 1e-7; when the
    optimiser stops on "precision loss" next to the optimum, once more at 1e-6, said in
    ``notes``; else FitError(``failure``). With the covariance of its estimates."""
    for tol in (1e-7, 1e-6):
        if fitter == "fast":
            fitted = model.fit(*columns, weights=weights, penalizer=penalizer, tol=tol)[0]
        else:
            fitted = model.fit_lifetimes(*columns, weights=weights, penalizer=penalizer, tol=tol)
        if fitted is None:
            continue
        if tol != 1e-7:
            notes.append(f"{model.title} converged only at tolerance {tol:g} (precision loss at 1e-7)")
        fitted.estimate_covariance(*columns, weights=weights)
        return fitted
    raise FitError(failure)
