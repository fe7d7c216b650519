"""``CLTVModel``: BG/NBD (purchases, P(alive)) + Gamma-Gamma (spend) in scikit-learn style.

Input (an RFM table, see :mod:`cltv.rfm`): ``frequency`` (repeat purchases), ``recency`` and
``T`` (weeks), ``monetary_value`` (mean spend of the repeat purchases), and optionally
``customer_id``. Time unit: weeks. One month is :data:`WEEKS_PER_MONTH` = 4.345 weeks
(30.415 days), the convention of ``lifetimes``' ``customer_lifetime_value(freq="W")``; it is
used for every horizon and for the CLV.

Fitting uses ``lifetimes``' ``BetaGeoFitter`` and ``GammaGammaFitter`` on the distinct
(x, t_x, T) and (x, m) tuples with their counts as weights, which gives the same likelihood
as one row per customer. Predictions use the closed forms in :mod:`cltv.bgnbd` and
:mod:`cltv.gamma_gamma`, which equal ``lifetimes``' where those are finite and stay finite
where they are not. The fitted model is plain data (:meth:`to_dict`, :meth:`save`): no pickle.
"""
from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from . import bgnbd, gamma_gamma, segment

WEEKS_PER_MONTH = 4.345
FORMAT = "cltv-model/1"
MIN_CUSTOMERS = 10
RFM_INPUT = ["frequency", "recency", "T", "monetary_value"]


class FitError(RuntimeError):
    """A model could not be fitted; the message says why and what to try."""


def horizon_column(months: float) -> str:
    """Name of the expected-purchases column for a horizon in months, e.g. ``expected_purchases_3m``."""
    return f"expected_purchases_{months:g}m"


class CLTVModel(BaseEstimator):
    """Customer lifetime value from repeat-purchase history.

    Parameters
    ----------
    bgnbd_penalizer, gg_penalizer : float
        ``lifetimes``' L2 penalizer coefficients (added to the *mean* negative log-likelihood,
        so any value > 0 biases the estimates; default 0).
    horizons_months : sequence of float
        Horizons (months) for the expected number of purchases.
    clv_months : int
        CLV horizon in whole months.
    discount_rate : float
        Monthly discount rate of the CLV (0.01 = 1 % per month).
    segment_labels : sequence of str
        Segment labels, best first; their number is the number of CLV quantile segments.
    horizon_weeks_per_month : float
        Weeks per month of the expected-purchase horizons (default 4.345 as for the CLV; the FLO
        analysts' original procedure used 4, i.e. 12 and 24 weeks for 3 and 6 months).
    monetary_includes_first : bool
        False (transaction logs): ``monetary_value`` is the mean of the ``frequency`` repeat
        purchases. True (snapshots with totals only, e.g. FLO): it is the mean of all
        ``frequency + 1`` orders, and Gamma-Gamma counts ``frequency + 1`` values behind it.
    fit_on_distinct : bool
        True: fit on the distinct tuples with their counts as weights (the same likelihood,
        much faster). False: one row per customer in the given order, as a plain ``lifetimes``
        script does; the optimiser then takes exactly its path, so weakly identified
        parameters agree with it to the last digit (used by FLO's seed-compatible mode).

    Learned attributes: ``bgnbd_params_`` (r, alpha [weeks], a, b), ``gg_params_`` (p, q, v),
    ``segment_cutoffs_`` (ascending CLV cut-offs), ``training_`` (counts, log-likelihoods,
    warnings).
    """

    def __init__(
        self,
        bgnbd_penalizer: float = 0.0,
        gg_penalizer: float = 0.0,
        horizons_months: Sequence[float] = (3, 6),
        clv_months: int = 6,
        discount_rate: float = 0.01,
        segment_labels: Sequence[str] = ("A", "B", "C", "D"),
        horizon_weeks_per_month: float = WEEKS_PER_MONTH,
        monetary_includes_first: bool = False,
        fit_on_distinct: bool = True,
    ):
        self.bgnbd_penalizer = bgnbd_penalizer
        self.gg_penalizer = gg_penalizer
        self.horizons_months = horizons_months
        self.clv_months = clv_months
        self.discount_rate = discount_rate
        self.segment_labels = segment_labels
        self.horizon_weeks_per_month = horizon_weeks_per_month
        self.monetary_includes_first = monetary_includes_first
        self.fit_on_distinct = fit_on_distinct

    # ------------------------------------------------------------------ fitting
    def fit(self, rfm: pd.DataFrame, y=None) -> CLTVModel:
        """Fit BG/NBD on all customers, Gamma-Gamma on those with usable repeat spend, then
        take the segment cut-offs from the training population's CLV."""
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        _check_rfm(rfm)
        if len(rfm) < MIN_CUSTOMERS:
            raise FitError(f"cannot fit BG/NBD + Gamma-Gamma on {len(rfm)} customer(s): at least {MIN_CUSTOMERS} "
                           "are needed (the model has 7 parameters); check the input file and the split dates")
        if int(self.clv_months) != self.clv_months or self.clv_months < 1:
            raise ValueError(f"clv_months must be a whole number of months >= 1, got {self.clv_months}")
        notes: list[str] = []

        bg = self._tuples(rfm[["frequency", "recency", "T"]])
        bgf = _fit(
            BetaGeoFitter(penalizer_coef=self.bgnbd_penalizer), (bg["frequency"], bg["recency"], bg["T"]), bg["n"],
            notes, f"BG/NBD did not converge on {len(rfm)} customers with penalizer {self.bgnbd_penalizer}: "
            "try a small penalizer (e.g. model.bgnbd_penalizer=0.001) or filter customers with implausible histories",
        )
        self.bgnbd_params_ = {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")}
        a, b = self.bgnbd_params_["a"], self.bgnbd_params_["b"]
        if min(a, b) < 1e-4:
            notes.append(
                f"BG/NBD dropout is not identified (a={a:.3g}, b={b:.3g} collapse toward 0): "
                "predictions use the no-dropout limit"
            )

        counts = self._gg_counts(rfm)
        usable = (counts > 0) & (rfm["monetary_value"] > 0)
        if not usable.any():
            raise FitError(
                "Gamma-Gamma cannot be fitted: no customer has a repeat purchase with a positive amount"
            )
        gg = self._tuples(pd.DataFrame({"orders": counts[usable], "monetary_value": rfm.loc[usable, "monetary_value"]}))
        ggf = _fit(
            GammaGammaFitter(penalizer_coef=self.gg_penalizer), (gg["orders"], gg["monetary_value"]), gg["n"],
            notes, f"Gamma-Gamma did not converge on {int(usable.sum())} repeat buyers with penalizer "
            f"{self.gg_penalizer}: try a small penalizer (e.g. model.gg_penalizer=0.01) or cap extreme amounts",
        )
        self.gg_params_ = {k: float(ggf.params_[k]) for k in ("p", "q", "v")}
        unvalued = ~self._valued(rfm)
        if unvalued.any():
            raise FitError(
                f"Gamma-Gamma q = {self.gg_params_['q']:.4g} <= 1 with penalizer {self.gg_penalizer}: the expected "
                f"spend per purchase is not finite for {int(unvalued.sum())} customers (those without repeat spend "
                "or with too few purchases), so they cannot be valued; lower the penalizer (model.gg_penalizer, "
                "default 0) or cap extreme amounts"
            )
        if self.gg_params_["q"] <= 1.0:
            notes.append(
                f"Gamma-Gamma q = {self.gg_params_['q']:.4g} <= 1: the population mean spend is not finite, "
                "so a customer without repeat spend cannot be valued (every training customer here can); "
                "lower the penalizer"
            )
        corr = float(np.corrcoef(counts[usable], rfm.loc[usable, "monetary_value"])[0, 1]) \
            if usable.sum() > 2 and counts[usable].std() > 0 else None
        for note in notes:
            warnings.warn(note, stacklevel=2)

        self.training_ = {
            "customers": int(len(rfm)),
            "repeat_buyers": int((rfm["frequency"] > 0).sum()),
            "gamma_gamma_customers": int(usable.sum()),
            "bgnbd_fit_rows": int(len(bg)),  # distinct tuples when fit_on_distinct
            "bgnbd_log_likelihood": bgnbd.log_likelihood(self._bg(), bg["frequency"], bg["recency"], bg["T"], bg["n"]),
            "gg_log_likelihood": gamma_gamma.log_likelihood(self._gg(), gg["orders"], gg["monetary_value"], gg["n"]),
            "frequency_monetary_corr": corr,
            "warnings": notes,
        }
        self.segment_cutoffs_ = segment.quantile_cutoffs(self.clv(rfm), len(self.segment_labels))
        return self

    # --------------------------------------------------------------- prediction
    def _bg(self) -> bgnbd.Params:
        p = self.bgnbd_params_
        return (p["r"], p["alpha"], p["a"], p["b"])

    def _gg(self) -> gamma_gamma.GGParams:
        p = self.gg_params_
        return (p["p"], p["q"], p["v"])

    def _tuples(self, columns: pd.DataFrame) -> pd.DataFrame:
        """The rows the likelihood sums over, with their weights ``n``."""
        if self.fit_on_distinct:
            return columns.groupby(list(columns.columns), sort=True).size().reset_index(name="n")
        return columns.reset_index(drop=True).assign(n=1)

    def _gg_counts(self, rfm: pd.DataFrame) -> pd.Series:
        """Number of order values averaged in ``monetary_value``."""
        return rfm["frequency"] + (1 if self.monetary_includes_first else 0)

    def _valued(self, rfm: pd.DataFrame) -> np.ndarray:
        """Where the Gamma-Gamma posterior mean spend is finite and positive: p n + q - 1 > 0 with
        n the usable spend count (always true when q > 1)."""
        p, q, _ = self._gg()
        n = np.where(rfm["monetary_value"].to_numpy() > 0, self._gg_counts(rfm).to_numpy(), 0)
        return p * n + q - 1.0 > 0

    def expected_purchases(self, rfm: pd.DataFrame, months: float) -> np.ndarray:
        """Expected repeat purchases in the next ``months`` months (``horizon_weeks_per_month`` each)."""
        return bgnbd.expected_purchases(
            self._bg(), months * self.horizon_weeks_per_month, rfm["frequency"], rfm["recency"], rfm["T"]
        )

    def expected_value(self, rfm: pd.DataFrame) -> np.ndarray:
        """Expected spend per future purchase (Gamma-Gamma posterior mean). With q <= 1 it exists
        only for customers with repeat spend; others raise ValueError."""
        counts = self._gg_counts(rfm)
        if not self._valued(rfm).all():
            raise ValueError(f"this model (Gamma-Gamma q = {self.gg_params_['q']:.4g} <= 1) cannot value customers "
                             "without repeat spend or with few purchases: their expected spend per purchase is not finite")
        return gamma_gamma.expected_average_value(self._gg(), counts, rfm["monetary_value"])

    def clv(self, rfm: pd.DataFrame) -> np.ndarray:
        """Discounted value of the next ``clv_months`` months:
        sum over months i of E[value per purchase] * E[purchases in month i] / (1 + d)^i."""
        months = np.arange(int(self.clv_months) + 1, dtype=float)
        f, r, t = (rfm[c].to_numpy(dtype=float)[:, None] for c in ("frequency", "recency", "T"))
        cum = bgnbd.expected_purchases(self._bg(), months[None, :] * WEEKS_PER_MONTH, f, r, t)
        per_month = np.clip(np.diff(cum, axis=1), 0.0, None)  # rounding noise must not subtract value
        discount = (1.0 + self.discount_rate) ** -months[1:]
        return self.expected_value(rfm) * (per_month @ discount)

    def predict(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """Scores per customer: the input RFM columns (and ``customer_id`` if given), expected
        purchases per horizon, ``p_alive``, ``expected_value`` (mean spend per purchase),
        ``clv`` and ``segment``."""
        _check_rfm(rfm)
        keep = (["customer_id"] if "customer_id" in rfm.columns else []) + RFM_INPUT
        out = rfm[keep].reset_index(drop=True).copy()
        for months in self.horizons_months:
            out[horizon_column(months)] = self.expected_purchases(out, months)
        out["p_alive"] = bgnbd.prob_alive(self._bg(), out["frequency"], out["recency"], out["T"])
        out["expected_value"] = self.expected_value(out)
        out["clv"] = self.clv(out)
        out["segment"] = segment.assign(out["clv"], self.segment_cutoffs_, self.segment_labels)
        return out

    # -------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """Everything needed to predict, as plain JSON-able data."""
        return {
            "format": FORMAT,
            "units": {"time": "weeks", "weeks_per_month": WEEKS_PER_MONTH, "money": "the input amounts' currency"},
            "hyperparameters": {
                "bgnbd_penalizer": float(self.bgnbd_penalizer),
                "gg_penalizer": float(self.gg_penalizer),
                "horizons_months": [float(h) for h in self.horizons_months],
                "clv_months": int(self.clv_months),
                "discount_rate": float(self.discount_rate),
                "segment_labels": [str(s) for s in self.segment_labels],
                "horizon_weeks_per_month": float(self.horizon_weeks_per_month),
                "monetary_includes_first": bool(self.monetary_includes_first),
                "fit_on_distinct": bool(self.fit_on_distinct),
            },
            "bgnbd": self.bgnbd_params_,
            "gamma_gamma": self.gg_params_,
            "segment_cutoffs": self.segment_cutoffs_,
            "training": self.training_,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CLTVModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model (format={d.get('format')!r})")
        h = d["hyperparameters"]
        model = cls(**{**h, "horizons_months": tuple(h["horizons_months"]), "segment_labels": tuple(h["segment_labels"])})
        model.bgnbd_params_ = {k: float(v) for k, v in d["bgnbd"].items()}
        model.gg_params_ = {k: float(v) for k, v in d["gamma_gamma"].items()}
        model.segment_cutoffs_ = [float(c) for c in d["segment_cutoffs"]]
        model.training_ = d.get("training", {})
        return model

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (atomically: a temporary file, then a rename)."""
        from .io import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> CLTVModel:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_lifetimes(self):
        """``lifetimes`` fitters rebuilt from the parameters, ``predict`` attached as ``fit``
        would, for code that wants ``lifetimes``' own API (e.g. ``customer_lifetime_value``)."""
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        bgf = BetaGeoFitter(penalizer_coef=self.bgnbd_penalizer)
        bgf.params_ = pd.Series(self.bgnbd_params_)[["r", "alpha", "a", "b"]]
        bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
        ggf = GammaGammaFitter(penalizer_coef=self.gg_penalizer)
        ggf.params_ = pd.Series(self.gg_params_)[["p", "q", "v"]]
        return bgf, ggf


def _fit(fitter, columns: tuple, weights, notes: list[str], failure: str):
    """Fit a ``lifetimes`` fitter at its default tolerance (1e-7); when scipy stops on "precision
    loss" next to the optimum, retry once at 1e-6 and say so in ``notes``; else raise FitError."""
    from lifetimes.utils import ConvergenceError

    name = type(fitter).__name__
    for tol in (1e-7, 1e-6):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore", RuntimeWarning)  # autograd's log(0) while searching
                fitter.fit(*columns, weights=weights, tol=tol)
        except ConvergenceError:
            continue
        if tol != 1e-7:
            notes.append(f"{name} converged only at tolerance {tol:g} (scipy: precision loss at 1e-7)")
        return fitter
    raise FitError(failure)


def _check_rfm(rfm: pd.DataFrame) -> None:
    missing = [c for c in RFM_INPUT if c not in rfm.columns]
    if missing:
        raise ValueError(f"RFM table lacks column(s) {missing}; expected {RFM_INPUT}")
    if rfm.empty:
        raise ValueError("RFM table has no customers")
