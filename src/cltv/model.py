"""``CLTVModel``: BG/NBD (purchases, P(alive)) + Gamma-Gamma (spend) in scikit-learn style.

Input (an RFM table, see :mod:`cltv.rfm`): ``frequency`` (repeat purchases), ``recency`` and
``T`` (weeks), ``monetary_value`` (mean spend of the repeat purchases), and optionally
``customer_id``. Time unit: weeks. One month is :data:`WEEKS_PER_MONTH` = 4.345 weeks
(30.415 days), the convention of ``lifetimes``' ``customer_lifetime_value(freq="W")``; it is
used for every horizon and for the CLV.

Fitting minimises ``lifetimes``' objective (the same penalizer, start and BFGS tolerance) with
analytic gradients, BG/NBD on the distinct (x, t_x, T) tuples with their counts as weights
(:func:`cltv.bgnbd.fit`, :func:`cltv.gamma_gamma.fit`); ``fitter="lifetimes"`` runs
``lifetimes``' own fitters on one row per customer instead. Predictions use the closed forms in
:mod:`cltv.bgnbd` and :mod:`cltv.gamma_gamma`, which equal ``lifetimes``' where those are
finite and stay finite where they are not; they are computed once per distinct (x, t_x, T)
(the recency-free factor once per distinct (x, T)) and broadcast to the customers. The fitted
model is plain data (:meth:`to_dict`, :meth:`save`): no pickle.
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

from . import bgnbd, gamma_gamma, numeric, segment, tuples
from .errors import FitError
from .schema import RFM_COLUMNS, validate_rfm

WEEKS_PER_MONTH = 4.345
FORMAT = "cltv-model/1"
MIN_CUSTOMERS = 10
RFM_INPUT = RFM_COLUMNS  # the model's input columns (cltv.schema)
FITTERS = ("fast", "lifetimes")


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
    fitter : {"fast", "lifetimes"}
        "fast": ``lifetimes``' objective with analytic gradients, BG/NBD on the distinct
        (x, t_x, T) tuples with their counts as weights (the same likelihood; parameters agree
        with ``lifetimes`` to 1e-8 relative or better, fits 15-45 times faster, see
        docs/benchmarks.md). "lifetimes":
        ``lifetimes``' own fitters on one row per customer in the given order, as a plain
        script does, so even weakly identified parameters agree with it to the last digit
        (used by FLO's seed-compatible mode).

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
        fitter: str = "fast",
    ):
        self.bgnbd_penalizer = bgnbd_penalizer
        self.gg_penalizer = gg_penalizer
        self.horizons_months = horizons_months
        self.clv_months = clv_months
        self.discount_rate = discount_rate
        self.segment_labels = segment_labels
        self.horizon_weeks_per_month = horizon_weeks_per_month
        self.monetary_includes_first = monetary_includes_first
        self.fitter = fitter

    # ------------------------------------------------------------------ fitting
    def fit(self, rfm: pd.DataFrame, y=None) -> CLTVModel:
        """Fit BG/NBD on all customers, Gamma-Gamma on those with usable repeat spend, then
        take the segment cut-offs from the training population's CLV."""
        rfm = validate_rfm(rfm)
        if len(rfm) < MIN_CUSTOMERS:
            raise FitError(f"cannot fit BG/NBD + Gamma-Gamma on {len(rfm)} customer(s): at least {MIN_CUSTOMERS} "
                           "are needed (the model has 7 parameters); check the input file and the split dates")
        if int(self.clv_months) != self.clv_months or self.clv_months < 1:
            raise ValueError(f"clv_months must be a whole number of months >= 1, got {self.clv_months}")
        if self.fitter not in FITTERS:
            raise ValueError(f"fitter must be one of {FITTERS}, got {self.fitter!r}")
        notes: list[str] = []

        history = _histories(rfm)
        if self.fitter == "fast":
            (f, rec, age), _, n = history
        else:
            f, rec, age = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
            n = np.ones_like(f)
        self.bgnbd_params_ = dict(zip(("r", "alpha", "a", "b"), _fit(
            "BG/NBD", self.fitter, (f, rec, age), n, self.bgnbd_penalizer, notes,
            f"BG/NBD did not converge on {len(rfm)} customers with penalizer {self.bgnbd_penalizer}: "
            "try a small penalizer (e.g. model.bgnbd_penalizer=0.001) or filter customers with implausible histories",
        )))
        a, b = self.bgnbd_params_["a"], self.bgnbd_params_["b"]
        if min(a, b) < 1e-4:
            notes.append(
                f"BG/NBD dropout is not identified (a={a:.3g}, b={b:.3g} collapse toward 0): "
                "predictions use the no-dropout limit"
            )

        counts = self._gg_counts(rfm)
        spend = rfm["monetary_value"].to_numpy(dtype=float)
        usable = (counts > 0) & (spend > 0)
        if not usable.any():
            raise FitError(
                "Gamma-Gamma cannot be fitted: no customer has a repeat purchase with a positive amount"
            )
        gx, gm = counts[usable], spend[usable]
        self.gg_params_ = dict(zip(("p", "q", "v"), _fit(
            "Gamma-Gamma", self.fitter, (gx, gm), np.ones_like(gx), self.gg_penalizer, notes,
            f"Gamma-Gamma did not converge on {int(usable.sum())} repeat buyers with penalizer "
            f"{self.gg_penalizer}: try a small penalizer (e.g. model.gg_penalizer=0.01) or cap extreme amounts",
        )))
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
        corr = numeric.pearson(gx, gm) if gx.size > 2 and gx.std() > 0 and gm.std() > 0 else None
        for note in notes:
            warnings.warn(note, stacklevel=2)

        self.training_ = {
            "customers": int(len(rfm)),
            "repeat_buyers": int((rfm["frequency"] > 0).sum()),
            "gamma_gamma_customers": int(usable.sum()),
            "bgnbd_fit_rows": int(len(f)),  # distinct (x, t_x, T) tuples with the fast fitter
            "bgnbd_log_likelihood": bgnbd.log_likelihood(self._bg(), f, rec, age, n),
            "gg_log_likelihood": gamma_gamma.log_likelihood(self._gg(), gx, gm),
            "frequency_monetary_corr": corr,
            "warnings": notes,
        }
        clv = self.expected_value(rfm) * self._purchases(history)[2]
        self.segment_cutoffs_ = segment.quantile_cutoffs(clv, len(self.segment_labels))
        return self

    # --------------------------------------------------------------- prediction
    def _bg(self) -> bgnbd.Params:
        p = self.bgnbd_params_
        return (p["r"], p["alpha"], p["a"], p["b"])

    def _gg(self) -> gamma_gamma.GGParams:
        p = self.gg_params_
        return (p["p"], p["q"], p["v"])

    def _gg_counts(self, rfm: pd.DataFrame) -> np.ndarray:
        """Number of order values averaged in ``monetary_value``."""
        return rfm["frequency"].to_numpy(dtype=float) + (1.0 if self.monetary_includes_first else 0.0)

    def _valued(self, rfm: pd.DataFrame) -> np.ndarray:
        """Where the Gamma-Gamma posterior mean spend is finite and positive: p n + q - 1 > 0 with
        n the usable spend count (always true when q > 1)."""
        p, q, _ = self._gg()
        if q > 1.0:
            return np.ones(len(rfm), dtype=bool)
        n = np.where(rfm["monetary_value"].to_numpy(dtype=float) > 0, self._gg_counts(rfm), 0.0)
        return p * n + q - 1.0 > 0

    def _purchases(self, history: tuple) -> tuple[dict[float, np.ndarray], np.ndarray, np.ndarray]:
        """Per customer: expected purchases per horizon (months -> array), P(alive), and the
        expected purchases of each of the next ``clv_months`` months, discounted and summed (the
        CLV is that times the expected spend per purchase). Computed once per distinct
        (x, t_x, T) of ``history`` (see :func:`_histories`) and, for the recency-free factor,
        once per distinct (x, T)."""
        params = self._bg()
        (x, tx, age), inverse, _ = history
        alive = bgnbd.prob_alive(params, x, tx, age)
        (x2, age2), inverse2, _ = tuples.distinct(x, age)
        months = np.arange(int(self.clv_months) + 1, dtype=float)
        horizon_weeks = [h * self.horizon_weeks_per_month for h in self.horizons_months]
        weeks, column = np.unique(np.concatenate([horizon_weeks, months * WEEKS_PER_MONTH]), return_inverse=True)
        cum = alive[:, None] * bgnbd.alive_purchases(params, weeks[None, :], x2[:, None], age2[:, None])[inverse2]
        bgnbd.check_finite(params, cum, weeks[None, :], x[:, None], tx[:, None], age[:, None])
        horizons = {h: cum[:, column[i]][inverse] for i, h in enumerate(self.horizons_months)}
        per_month = np.clip(np.diff(cum[:, column[len(horizon_weeks):]], axis=1), 0.0, None)  # no negative noise
        discounted = numeric.matvec(per_month, (1.0 + self.discount_rate) ** -months[1:])
        return horizons, alive[inverse], discounted[inverse]

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
        """Discounted value of the next ``clv_months`` months (of 4.345 weeks):
        sum over months i of E[value per purchase] * E[purchases in month i] / (1 + d)^i."""
        return self.expected_value(rfm) * self._purchases(_histories(rfm))[2]

    def predict(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """Scores per customer: the input RFM columns (and ``customer_id`` if given), expected
        purchases per horizon, ``p_alive``, ``expected_value`` (mean spend per purchase),
        ``clv`` and ``segment`` (categorical, labels best first)."""
        checked = validate_rfm(rfm)
        columns = {c: (checked if c == "customer_id" else rfm)[c].array for c in checked.columns}  # echo as given
        rfm = checked
        horizons, alive, discounted = self._purchases(_histories(rfm))
        columns.update({horizon_column(h): horizons[h] for h in self.horizons_months})
        columns["p_alive"] = alive
        columns["expected_value"] = value = self.expected_value(rfm)
        columns["clv"] = clv = value * discounted
        columns["segment"] = segment.assign(clv, self.segment_cutoffs_, self.segment_labels)
        return pd.DataFrame(columns)

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
                "fitter": str(self.fitter),
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
        h = dict(d["hyperparameters"])
        if "fit_on_distinct" in h:  # written before the fast fitter: same choice under its new name
            h["fitter"] = "fast" if h.pop("fit_on_distinct") else "lifetimes"
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


def _fit(model: str, fitter: str, columns: tuple, weights: np.ndarray, penalizer: float, notes: list[str],
         failure: str) -> tuple[float, ...]:
    """Parameters of ``model`` ("BG/NBD" or "Gamma-Gamma") by ``fitter`` at ``lifetimes``' default
    tolerance (1e-7); when scipy stops on "precision loss" next to the optimum, retry once at
    1e-6 and say so in ``notes``; else raise FitError."""
    for tol in (1e-7, 1e-6):
        params = _fit_once(model, fitter, columns, weights, penalizer, tol)
        if params is None:
            continue
        if tol != 1e-7:
            notes.append(f"{model} converged only at tolerance {tol:g} (scipy: precision loss at 1e-7)")
        return params
    raise FitError(failure)


def _fit_once(model: str, fitter: str, columns: tuple, weights, penalizer: float, tol: float):
    """The fitted parameters, or None when the optimiser did not converge."""
    if fitter == "fast":
        fit = bgnbd.fit if model == "BG/NBD" else gamma_gamma.fit
        result = fit(*columns, weights=weights, penalizer=penalizer, tol=tol)
        return result.params if result.success else None
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import ConvergenceError

    lifetimes_fitter = (BetaGeoFitter if model == "BG/NBD" else GammaGammaFitter)(penalizer_coef=penalizer)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore", RuntimeWarning)  # autograd's log(0) while searching
            lifetimes_fitter.fit(*columns, weights=weights, tol=tol)
    except ConvergenceError:
        return None
    return tuple(float(v) for v in lifetimes_fitter.params_)


def _histories(rfm: pd.DataFrame) -> tuple:
    """The distinct (frequency, recency, T) of ``rfm``, see :func:`cltv.tuples.distinct`."""
    return tuples.distinct(*(rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")))
