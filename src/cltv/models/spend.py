"""The spend-model seam: :class:`SpendModel` declares what fitting, prediction, intervals,
evaluation and serving call of a model of the amount per purchase (see :mod:`cltv.models.base`).

Columns: ``x`` is the number of purchase values behind a customer's mean spend ``m`` (money).
A customer's spend history is *usable* when x > 0 and m > 0; the model is fitted on those
customers only. A model may be unable to value some customers (:meth:`SpendModel.valued`, e.g.
Gamma-Gamma with q <= 1 for customers without usable spend); cltv refuses such fits and
predictions with the reason the model gives.

Intervals (:mod:`cltv.intervals`) draw a customer's spend over future steps as
``units * scale * (1 + kappa * (ratio - 1))``: ``units`` from :meth:`SpendModel.sample_spend`
(per spend count), ``scale`` and ``kappa`` (the weight of the population parameters in the
customer's scale, in [0, 1]) from :meth:`SpendModel.interval_scale`, ``ratio`` per parameter
draw from :meth:`SpendModel.scale_ratio`.
"""
from __future__ import annotations

from abc import abstractmethod

import numpy as np

from .base import ParametricModel
from .mle import estimates_covariance, minimize_bfgs, total_log_likelihood


class SpendModel(ParametricModel):
    """A fitted spend model: ``params`` (name -> value, money where a parameter is an amount).

    Subclasses implement :meth:`objective` and every abstract method below; fitting, the
    log-likelihood and the covariance follow from the objective (a subclass may override them
    with faster equivalents, as Gamma-Gamma does)."""

    # ----------------------------------------------------------------- fitting
    @staticmethod
    @abstractmethod
    def objective(log_params: np.ndarray, x, m, w, penalizer: float) -> tuple[float, np.ndarray]:
        """The ``w``-weighted *mean* negative log-likelihood of the mean spends ``m`` of ``x``
        values (usable rows only), plus ``penalizer * sum(params ** 2)``, and its gradient in
        log-parameters."""

    @classmethod
    def fit(cls, x, m, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """``(model or None, optimiser result)``: BFGS from log-parameters 0.1 (:mod:`cltv.models.mle`);
        the model comes with its covariance, ``result.log_likelihood`` is the total at the estimates."""
        x, m, w = data = _columns(x, m, weights)
        result = minimize_bfgs(cls.objective, np.full(len(cls.param_names), 0.1), (x, m, w, penalizer), tol)
        if not result.success:
            return None, result
        model = cls(dict(zip(cls.param_names, np.exp(result.x).tolist())))
        unpenalised, log_params = cls._unpenalised(data), np.log(model.values)
        result.log_likelihood = total_log_likelihood(unpenalised, log_params, w.sum())
        model.covariance = estimates_covariance(unpenalised, log_params, w.sum())
        return model, result

    def log_likelihood(self, x, m, weights=None) -> float:
        data = _columns(x, m, weights)
        return total_log_likelihood(self._unpenalised(data), np.log(self.values), data[2].sum())

    def estimate_covariance(self, x, m, weights=None) -> None:
        data = _columns(x, m, weights)
        self.covariance = estimates_covariance(self._unpenalised(data), np.log(self.values), data[2].sum())

    @classmethod
    def _unpenalised(cls, data: tuple):
        """The objective without penalty on the columns of :func:`_columns`."""
        x, m, w = data
        return lambda log_params: cls.objective(log_params, x, m, w, 0.0)

    # --------------------------------------------------------------- prediction

    @abstractmethod
    def expected_average_value(self, x, m) -> np.ndarray:
        """E[spend per purchase | x, m], money; the population mean where the spend history is
        not usable (:meth:`usable`)."""

    @abstractmethod
    def population_mean(self) -> float:
        """Mean spend per purchase of a new customer (money); not finite where the model says so."""

    @staticmethod
    def usable(x, m) -> np.ndarray:
        """Where a customer's spend history informs the model: x > 0 and m > 0."""
        return (np.asarray(x, dtype=float) > 0) & (np.asarray(m, dtype=float) > 0)

    def valued(self, x, m) -> np.ndarray:
        """Where :meth:`expected_average_value` is finite and positive (default: everywhere)."""
        return np.ones(np.shape(x), dtype=bool)

    def unvalued_reason(self) -> str:
        """Why some customers cannot be valued (said when :meth:`valued` is False somewhere)."""
        return f"{self.title} {self.params}"

    def notes(self) -> list[str]:
        """Warnings about the fitted parameters (e.g. a population mean that is not finite)."""
        return []

    def diagnostics(self) -> dict[str, int]:
        """Numeric flags (1 = problem) for the evaluation metrics, by metric name."""
        return {}

    # ---------------------------------------------------------------- intervals
    @staticmethod
    @abstractmethod
    def sample_spend(params: np.ndarray, steps: np.ndarray, counts, rng: np.random.Generator) -> np.ndarray:
        """Draws of the spend of future purchases in units of the customer's scale: ``params``
        (D, k) parameter draws, ``steps`` (D, S) purchases per grid step of each draw, ``counts``
        the spend counts to draw for (0: no usable spend). Returns (len(counts), S, D)."""

    @abstractmethod
    def interval_scale(self, x, m, usable) -> tuple[np.ndarray, np.ndarray]:
        """Per customer: the spend scale (money) and kappa in [0, 1], the share of the population
        parameters in it (see the module docstring)."""

    @abstractmethod
    def scale_ratio(self, params: np.ndarray) -> np.ndarray:
        """Per parameter draw (rows of ``params``): the population part of the scale relative to
        the estimate's."""

    # --------------------------------------------------------------- simulation
    @abstractmethod
    def simulate(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Mean spend (money) of ``x`` purchase values per customer, drawn from the model; 0 where x = 0."""


def _columns(x, m, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float arrays and weights (default 1)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return x, m, np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
