"""The purchase-model seam: :class:`PurchaseModel` declares what fitting, prediction, intervals,
evaluation and serving call, and supplies fitting, the log-likelihood, the covariance and
expected purchases from a subclass's objective and closed forms (see :mod:`cltv.models.base`)."""
from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from ..errors import NumericError
from .base import ParametricModel
from .mle import estimates_covariance, minimize_bfgs, total_log_likelihood
from .tuples import distinct


def prepare(x, tx, T, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Float arrays, weights (default 1) and the distinct x with their total weights (for the
    terms of an objective that depend on x alone)."""
    x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    (xs,), inverse, _ = distinct(x)  # hashed, not sorted: once per fit, likelihood and covariance
    return x, tx, T, w, (xs, np.bincount(inverse, weights=w, minlength=xs.size))


def two_states(alive: np.ndarray, dead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(e^alive + e^dead)`` without overflow, and the posterior weight of "dead" (the
    alive / dropped-out mixture of every purchase model's likelihood)."""
    top = np.maximum(alive, dead)
    e_alive, e_dead = np.exp(alive - top), np.exp(dead - top)
    return top + np.log(e_alive + e_dead), e_dead / (e_alive + e_dead)


class PurchaseModel(ParametricModel):
    """A fitted purchase model: ``params`` (name -> value, times in the data's unit).

    Subclasses set ``time_params`` (the parameters measured in time units, rescaled while
    fitting) and implement every abstract method below.
    """

    time_params: ClassVar[tuple[str, ...]]

    # ----------------------------------------------------------------- fitting
    @staticmethod
    @abstractmethod
    def objective(log_params: np.ndarray, x, tx, T, w, penalizer: float, by_x: tuple) -> tuple[float, np.ndarray]:
        """The weighted mean negative log-likelihood (plus ``penalizer * sum(params ** 2)``) and
        its gradient in log-parameters; ``by_x`` from :func:`prepare`."""

    @classmethod
    def fit(cls, x, tx, T, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """``(model or None, optimiser result)``: the maximum-likelihood model by ``lifetimes``'
        recipe (see :mod:`cltv.models.base`), None when the optimiser did not converge. The data
        are prepared once: the model comes with its covariance and ``result.log_likelihood`` is
        the total log-likelihood (:meth:`log_likelihood`) at the estimates."""
        x, tx, T, w, by_x = data = prepare(x, tx, T, weights)
        scale = 1.0 / T.max()
        result = minimize_bfgs(cls.objective, np.full(len(cls.param_names), 0.1),
                               (x, tx * scale, T * scale, w, penalizer, by_x), tol)
        if not result.success:
            return None, result
        values = np.exp(result.x)
        model = cls({k: float(v / scale if k in cls.time_params else v) for k, v in zip(cls.param_names, values)})
        unpenalised, log_params = cls._unpenalised(data), np.log(model.values)
        result.log_likelihood = total_log_likelihood(unpenalised, log_params, w.sum())
        model.covariance = estimates_covariance(unpenalised, log_params, w.sum())
        return model, result

    def log_likelihood(self, x, tx, T, weights=None) -> float:
        """Total log-likelihood in the published convention (time in the data's unit)."""
        data = prepare(x, tx, T, weights)
        return total_log_likelihood(self._unpenalised(data), np.log(self.values), data[3].sum())

    def estimate_covariance(self, x, tx, T, weights=None) -> None:
        data = prepare(x, tx, T, weights)
        self.covariance = estimates_covariance(self._unpenalised(data), np.log(self.values), data[3].sum())

    @classmethod
    def _unpenalised(cls, data: tuple):
        """The objective without penalty on the data of :func:`prepare` (time in the data's unit)."""
        x, tx, T, w, by_x = data
        return lambda log_params: cls.objective(log_params, x, tx, T, w, 0.0, by_x)

    # -------------------------------------------------------------- prediction
    @abstractmethod
    def prob_alive(self, x, tx, T) -> np.ndarray:
        """P(still a customer at T | x, tx, T)."""

    def prob_alive_draws(self, params: np.ndarray, x, tx, T) -> np.ndarray:
        """P(alive) of each history (columns) under each parameter vector (rows of ``params``)."""
        return np.stack([type(self).of(*row).prob_alive(x, tx, T) for row in params])

    def dead_odds_draws(self, params: np.ndarray, x, tx, T) -> np.ndarray:
        """log((1 - P(alive)) / P(alive)) of each history (columns) under each parameter vector
        (rows of ``params``); -inf where P(alive) = 1. The intervals compare it with the log-odds
        of a uniform draw U, which is U < P(alive) without an exponential per draw."""
        p = self.prob_alive_draws(params, x, tx, T)
        with np.errstate(divide="ignore"):
            return np.log1p(-p) - np.log(p)

    @abstractmethod
    def alive_purchases(self, t, x, T) -> np.ndarray:
        """E[repeat purchases in (T, T + t] | alive at T, x]: the factor of
        :meth:`expected_purchases` without recency, computed once per distinct (x, T)."""

    @abstractmethod
    def prob_n_purchases(self, t, n: int) -> np.ndarray:
        """P(X(t) = n): ``n`` repeat purchases in the first ``t`` after the first purchase
        (evaluation's calibration histogram)."""

    def dropout_note(self) -> str | None:
        """A warning when the data do not identify dropout (the fitted dropout collapsed), else
        None: :meth:`dropout_collapsed` in words, with the likely causes and the remedy."""
        detail = self.dropout_collapsed()
        if detail is None:
            return None
        return (f"{self.title} dropout is not identified ({detail}): the fit reads the data as customers who never "
                "leave, so P(alive) is near 1 for everyone and the purchase models predict alike. Likely causes: "
                "customers older than the log (its first weeks full of long-standing customers seen for the first "
                "time: set data.acquired_after, see data_quality.json's left_censoring) or too short a history (a "
                "longer calibration period)")

    def dropout_collapsed(self) -> str | None:
        """How the fitted dropout parameters collapsed (e.g. "a=1e-09 -> 0"), or None."""
        return None

    @staticmethod
    @abstractmethod
    def sample_alive(params: np.ndarray, x: float, T: float, weeks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draws of the repeat purchases by each time of ``weeks`` (ascending, after T) of a
        customer alive at T with ``x`` repeat purchases, one draw per row of ``params``
        (parameter vectors): an array (rows, len(weeks)) of whole numbers. Used by
        :mod:`cltv.intervals`."""

    @abstractmethod
    def simulate(self, T: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Histories of customers first seen ``T`` (weeks, one per customer) ago, drawn from the
        model: repeat purchases x (whole numbers) and recency (weeks; 0 when x = 0)."""

    def expected_purchases(self, t, x, tx, T) -> np.ndarray:
        """Expected repeat purchases in (T, T + t] given (x, tx, T): P(alive) times
        :meth:`alive_purchases`. With x = tx = T = 0: E[X(t)] of a new customer."""
        t, x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, tx, T)))
        out = self.prob_alive(x, tx, T) * self.alive_purchases(t, x, T)
        self.check_finite(out, t, x, tx, T)
        return out

    def check_finite(self, out: np.ndarray, t, x, tx, T) -> None:
        """Raise NumericError naming the first history whose prediction is not finite."""
        if not np.isfinite(out).all():
            t, x, tx, T = np.broadcast_arrays(t, x, tx, T)
            i = np.flatnonzero(~np.isfinite(out))[0]
            raise NumericError(
                f"{self.title} expected purchases are not finite for parameters {self.params} at "
                f"x={x.flat[i]}, recency={tx.flat[i]}, T={T.flat[i]}, t={t.flat[i]}")

    def to_lifetimes(self):
        """The equivalent ``lifetimes`` fitter with these parameters, ``predict`` attached as
        its ``fit`` would (None without one)."""
        fitter = super().to_lifetimes()
        if fitter is not None:
            fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
        return fitter
