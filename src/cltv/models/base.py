"""The seams of cltv's models: what every purchase model and every spend model is, so the rest
of cltv (fitting, prediction, intervals, evaluation, serving) needs no model names.

:class:`ParametricModel` (here) holds what both share: parameters as plain data, checked by
name. A purchase model (:class:`cltv.models.purchase.PurchaseModel`) describes how many repeat
purchases a customer makes and when they stop buying, from the customer's history ``x`` (repeat
purchases), ``tx`` (recency) and ``T`` (age), all times in one unit (cltv: weeks,
:mod:`cltv.schema`). A spend model (:class:`cltv.models.spend.SpendModel`) describes the amount
per purchase from ``x`` (the number of purchase values behind the mean) and ``m`` (their mean,
money). Each declares, as abstract methods, everything the rest of cltv calls; a new model is one
module subclassing one of them, found by :mod:`cltv.models` by itself, plus its config file
(docs/models.md).

Fitting follows ``lifetimes``' recipe for every model: time rescaled so that max T = 1, the
weighted *mean* negative log-likelihood plus ``penalizer`` times the sum of the squared
(rescaled) parameters, BFGS from log-parameters 0.1 with gradient tolerance ``tol``
(:mod:`cltv.models.mle`), on the distinct histories with their counts as weights.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ..errors import FitError, ModelError
from ..numeric import dot, matvec


class ParametricModel(ABC):
    """Fitted parameters as plain data (name -> value), shared by purchase and spend models.
    Subclasses set ``kind`` (the config name), ``title``, ``param_names``, ``example`` (the
    parameters of a typical population, weeks and money: the simulators' defaults and the tests'
    truth) and, when ``lifetimes`` has the same model, ``lifetimes_class`` (its fitter's name;
    None: ``fitter="lifetimes"`` is refused)."""

    kind: ClassVar[str]
    title: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    example: ClassVar[tuple[float, ...]]
    lifetimes_class: ClassVar[str | None] = None
    #: covariates (:mod:`cltv.models.effects`): per process, the parameters its effects scale and
    #: the sign of the exponent; ``rows(params, *columns)`` the per-row log-likelihood and its
    #: derivatives (None: the model takes no covariates)
    links: ClassVar[dict[str, tuple[tuple[str, float], ...]]] = {}
    rows: ClassVar = None
    #: the season (:mod:`cltv.models.seasonal`): ``time_slopes(params, x, tx, T)``, the per-row
    #: derivatives of the log-likelihood in t_x and T (every purchase model; None for spend)
    time_slopes: ClassVar = None

    def __init__(self, params: Mapping[str, float], covariance=None, effects: Mapping | None = None):
        missing = [k for k in self.param_names if k not in params]
        unknown = [k for k in params if k not in self.param_names]
        if missing or unknown:
            raise ModelError(f"{self.title}: parameters {list(params)} given, expected {list(self.param_names)}"
                             + (f" (missing {missing})" if missing else "") + (f" (unknown {unknown})" if unknown else ""))
        self.params = {k: float(params[k]) for k in self.param_names}
        #: covariate effects, process -> effect name -> gamma (:mod:`cltv.models.effects`), processes
        #: in PROCESSES order, effects in design order (the order of :attr:`covariance`); {} without
        from .effects import PROCESSES

        given = {p: dict(e) for p, e in (effects or {}).items() if e}  # a dict, or [name, gamma] pairs (JSON)
        self.effects = {p: {k: float(v) for k, v in given[p].items()} for p in PROCESSES if p in given}
        unlinked = sorted(set(given) - set(self.links))
        if unlinked:
            raise ModelError(f"{self.title} takes no covariates on {unlinked}; it takes them on {sorted(self.links)}")
        #: covariance of the estimates (natural units, :attr:`names` order), None when unknown
        self.covariance = None if covariance is None else [[float(v) for v in row] for row in covariance]

    @property
    def names(self) -> list[str]:
        """The estimates in :attr:`covariance` order: ``param_names``, then ``process:effect``."""
        return [*self.param_names, *(f"{p}:{k}" for p, e in self.effects.items() for k in e)]

    @property
    def standard_errors(self) -> dict[str, float] | None:
        """Standard error of each estimate (delta method, from :attr:`covariance`), or None."""
        if self.covariance is None:
            return None
        return {k: float(np.sqrt(self.covariance[i][i])) for i, k in enumerate(self.names)}

    def at(self, z: Mapping[str, np.ndarray]) -> ParametricModel:
        """The model of one customer with covariates ``z`` (process -> that customer's design row,
        :meth:`cltv.covariates.Design.matrix`): parameters scaled by its effects, their covariance
        by the delta method. Without effects: this model."""
        if not self.effects:
            return self
        from .effects import shifts

        gammas = {p: np.array(list(e.values())) for p, e in self.effects.items()}
        rows = {p: np.asarray(z[p], dtype=float)[None, :] for p in self.effects}
        moved = {k: float(v[0]) for k, v in shifts(type(self), rows, gammas).items()}
        params = {k: v * np.exp(moved.get(k, 0.0)) for k, v in self.params.items()}
        if self.covariance is None:
            return type(self)(params)
        k = len(self.param_names)
        jac = np.zeros((k, len(self.names)))  # d customer's params / d (params, gammas)
        jac[:, :k] = np.diag([np.exp(moved.get(name, 0.0)) for name in self.param_names])
        at = k
        for process, effects in self.effects.items():
            for name, sign in self.links[process]:
                i = self.param_names.index(name)
                jac[i, at:at + len(effects)] = sign * params[name] * rows[process][0]
            at += len(effects)
        cov = np.array(self.covariance)
        return type(self)(params, [[dot(jac[i], matvec(cov, jac[j])) for j in range(k)] for i in range(k)])

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
        if self.effects:
            out["effects"] = {p: [[k, v] for k, v in e.items()] for p, e in self.effects.items()}  # ordered
        if self.covariance is not None:
            out.update(standard_errors=self.standard_errors, covariance=self.covariance)
        return out

    # ----------------------------------------------------------------- fitting
    @classmethod
    @abstractmethod
    def fit(cls, *columns, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """``(model or None, optimiser result)``: the maximum-likelihood model on ``columns``
        (purchase models: x, tx, T; spend models: x, m) with ``weights`` (customers per row);
        None when the optimiser did not converge."""

    @abstractmethod
    def log_likelihood(self, *columns, weights=None) -> float:
        """Total log-likelihood of ``columns`` in the published convention."""

    @abstractmethod
    def estimate_covariance(self, *columns, weights=None) -> None:
        """Set :attr:`covariance` from the data the parameters were fitted on (inverse Hessian,
        :func:`cltv.models.mle.covariance`; None when it is not positive definite)."""

    @classmethod
    def fit_lifetimes(cls, *columns, weights=None, penalizer: float = 0.0, tol: float = 1e-7):
        """The model fitted by ``lifetimes``' own fitter on ``columns`` (one row per customer, as
        a plain script does), or None when it did not converge."""
        if cls.lifetimes_class is None:
            raise FitError(f"model.fitter = 'lifetimes': lifetimes has no {cls.title} model; use model.fitter=fast")
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
        """The equivalent ``lifetimes`` fitter holding these parameters (None without one)."""
        if self.lifetimes_class is None:
            return None
        import lifetimes
        import pandas as pd

        fitter = getattr(lifetimes, self.lifetimes_class)()
        fitter.params_ = pd.Series(self.params)[list(self.param_names)]
        return fitter

    # -------------------------------------------------------------- simulation
    @abstractmethod
    def simulate(self, *args, rng: np.random.Generator):
        """Draws from the model with these parameters (known truth for tests and benchmarks)."""


def fit_model(model: type[ParametricModel], fitter: str, columns: tuple, weights, penalizer: float, notes: list[str],
              failure: str) -> tuple[ParametricModel, float]:
    """``model`` fitted on ``columns`` by ``fitter`` ("fast": :meth:`ParametricModel.fit`,
    "lifetimes": :meth:`ParametricModel.fit_lifetimes`) at ``lifetimes``' default tolerance 1e-7;
    when the optimiser stops on "precision loss" next to the optimum, once more at 1e-6, said in
    ``notes``; else FitError(``failure``). Returns the model, with the covariance of its
    estimates, and its total log-likelihood on ``columns``."""
    for tol in (1e-7, 1e-6):
        if fitter == "fast":
            fitted, result = model.fit(*columns, weights=weights, penalizer=penalizer, tol=tol)
        else:
            fitted, result = model.fit_lifetimes(*columns, weights=weights, penalizer=penalizer, tol=tol), None
        if fitted is None:
            continue
        if tol != 1e-7:
            notes.append(f"{model.title} converged only at tolerance {tol:g} (precision loss at 1e-7)")
        if fitted.covariance is None:  # the fast fitters give it (and the log-likelihood) with the fit
            fitted.estimate_covariance(*columns, weights=weights)
        likelihood = getattr(result, "log_likelihood", None)
        return fitted, fitted.log_likelihood(*columns, weights=weights) if likelihood is None else likelihood
    raise FitError(failure)
