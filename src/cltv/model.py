"""``CLTVModel``: a purchase model + a spend model + discounting + segments, scikit-learn style.

Input: an RFM table (:mod:`cltv.schema`; weeks). The purchase model (``purchases``, a kind of
:data:`cltv.models.PURCHASE_MODELS`) gives P(alive) and expected purchases, the spend model (``spend``,
:data:`cltv.models.SPEND_MODELS`) the expected spend per purchase; the CLV is their product over the
next ``clv_months`` months of 4.345 weeks, discounted monthly; segments are CLV quantiles.

``fitter="fast"`` minimises ``lifetimes``' objectives with analytic gradients on the distinct
(x, t_x, T) histories weighted by their counts (docs/benchmarks.md); ``fitter="lifetimes"`` runs
``lifetimes``' own fitters on one row per customer. Predictions (and, with ``interval_level``, the
predictive intervals, :mod:`cltv.intervals`) are computed once per distinct history and broadcast.
The fitted model is plain JSON (:mod:`cltv.model_json`): no pickle.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import hyperparameters, intervals, model_effects, model_json, model_season, numeric, segment
from .errors import FitError, ModelError
from .estimator import Estimator
from .model_json import FORMAT
from .models import purchase_model, spend_model, tuples
from .models.base import fit_model
from .schema import WEEKS_PER_MONTH, horizon_column, validate_rfm

MIN_CUSTOMERS = 10
__all__ = ["CLTVModel", "FORMAT", "horizon_column"]


class CLTVModel(Estimator):
    """Customer lifetime value from repeat-purchase history.

    Parameters
    ----------
    purchases, spend : str
        The purchase and spend models (:data:`cltv.models.PURCHASE_MODELS`, :data:`cltv.models.SPEND_MODELS`).
    purchases_penalizer, spend_penalizer : float (``lifetimes``' L2 penalizers, added to the *mean*
        negative log-likelihood: any value > 0 biases the estimates; default 0)
    horizons_months : sequence of float (months); clv_months : int; discount_rate : float (monthly: 0.01)
    segment_labels : sequence of str (best first; as many CLV quantile segments)
    horizon_weeks_per_month : float (of the expected-purchase horizons; default 4.345 as for the
        CLV; the FLO analysts' original procedure used 4, i.e. 12 and 24 weeks for 3 and 6 months)
    monetary_includes_first : bool
        False (transaction logs): ``monetary_value`` is the mean of the ``frequency`` repeat
        purchases. True (snapshots with totals only, e.g. FLO): it is the mean of all
        ``frequency + 1`` orders, and the spend model counts ``frequency + 1`` values behind it.
    fitter : {"fast", "lifetimes"} (the module docstring; "lifetimes" agrees with a plain script to
        the last digit even where parameters are weakly identified: the FLO analysts' preset)
    interval_level : float or None (of :meth:`predict`'s per-customer predictive intervals: 0.9)
    covariates : dict or None
        Process ("purchases", "dropout", "spend") -> attribute columns of the RFM table acting on it
        (:mod:`cltv.model_effects`: each customer's models are scaled by them); None: none.
    season : dict or None
        The calendar multiplier of every purchase rate, {"shape": "months" | "fourier", "harmonics": k}
        (:mod:`cltv.model_season`; the fit then needs ``purchase_days`` and ``end``); None: none.

    Learned attributes: ``purchases_`` (the fitted purchase model, times in weeks), ``spend_``
    (the fitted spend model), ``segment_cutoffs_`` (ascending CLV cut-offs), ``training_``
    (counts, log-likelihoods, warnings), ``designs_`` (process -> covariate design; {} without),
    ``season_`` (the fitted season: its columns, delta, covariance, end day, test; None without).
    ``data_rules_`` (set by whoever prepared the training data, e.g. the ``train`` stage): how the
    RFM table was built from the raw data, so scoring applies the same rules; None when unknown.
    """

    data_rules_: dict | None = None
    designs_: dict = {}  # read-only default: a fit with covariates sets its own
    season_: dict | None = None

    def __init__(
        self,
        purchases: str = "bgnbd",
        spend: str = "gamma_gamma",
        purchases_penalizer: float = 0.0,
        spend_penalizer: float = 0.0,
        horizons_months: Sequence[float] = (3, 6),
        clv_months: int = 6,
        discount_rate: float = 0.01,
        segment_labels: Sequence[str] = ("A", "B", "C", "D"),
        horizon_weeks_per_month: float = WEEKS_PER_MONTH,
        monetary_includes_first: bool = False,
        fitter: str = "fast",
        interval_level: float | None = 0.9,
        covariates: dict | None = None,
        season: dict | None = None,
    ):
        self.purchases, self.spend = purchases, spend
        self.purchases_penalizer, self.spend_penalizer = purchases_penalizer, spend_penalizer
        self.horizons_months, self.clv_months, self.discount_rate = horizons_months, clv_months, discount_rate
        self.segment_labels, self.horizon_weeks_per_month = segment_labels, horizon_weeks_per_month
        self.monetary_includes_first, self.fitter, self.interval_level = monetary_includes_first, fitter, interval_level
        self.covariates, self.season = covariates, season

    # ------------------------------------------------------------------ fitting
    def fit(self, rfm: pd.DataFrame, y=None, sample_weight=None, cohort: np.ndarray | None = None,
            purchase_days: pd.DataFrame | None = None, end=None) -> CLTVModel:
        """Fit the purchase model on all customers, the spend model on those with usable repeat
        spend, then take the segment cut-offs from the training population's CLV.

        ``sample_weight``: whole numbers, the customers each row stands for (e.g. the distinct
        histories with their counts that Spark sends, :mod:`cltv.engines.spark`); the fit is
        then the fit on the table with each row repeated that often. ``cohort``: which rows the
        models are fitted on (default all, see :mod:`cltv.data.cohort`); the segment cut-offs
        still come from every row, as every customer is scored. ``purchase_days`` (``customer_id``,
        ``date``, one row per customer and day) and ``end`` (the last day): for a season."""
        purchases, spend = purchase_model(self.purchases), spend_model(self.spend)
        wanted = hyperparameters.check(self, purchases, spend)
        season = model_season.check(self.season, wanted)
        rfm = model_effects.covariate_columns(validate_rfm(rfm), rfm, wanted)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if weight is not None and (weight.shape != (len(rfm),) or (weight < 1).any() or (weight % 1).any()):
            raise ValueError("sample_weight must hold one whole number >= 1 per row (the customers it stands for)")
        everyone, everyone_weight = rfm, weight
        if cohort is not None:
            cohort = np.asarray(cohort, dtype=bool)
            rfm, weight = rfm[cohort].reset_index(drop=True), None if weight is None else weight[cohort]
        customers = len(rfm) if weight is None else int(weight.sum())
        if customers < MIN_CUSTOMERS:
            raise FitError(f"cannot fit {purchases.title} + {spend.title} on {customers} customer(s): at least "
                           f"{MIN_CUSTOMERS} are needed; check the input file and the split dates")
        notes, history = [], _histories(rfm)
        if self.fitter == "fast":
            (f, rec, age), inverse, n = history
            if weight is not None:
                n = np.bincount(inverse, weights=weight, minlength=f.size)
        else:
            f, rec, age = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
            n = weight
        self.purchases_, purchases_ll = fit_model(purchases, self.fitter, (f, rec, age), n, self.purchases_penalizer, notes, (
            f"{purchases.title} did not converge on {customers} customers with penalizer {self.purchases_penalizer}: "
            "try a small penalizer (e.g. model.purchases.penalizer=0.001) or filter customers with implausible "
            "histories"))
        if note := self.purchases_.dropout_note():
            notes.append(note)

        counts = self.spend_counts(rfm)
        amounts = rfm["monetary_value"].to_numpy(dtype=float)
        usable = spend.usable(counts, amounts)
        if not usable.any():
            raise FitError(f"{spend.title} cannot be fitted: no customer has a repeat purchase with a positive amount")
        gx, gm = counts[usable], amounts[usable]
        gw = None if weight is None else weight[usable]
        self.spend_, spend_ll = fit_model(spend, self.fitter, (gx, gm), gw, self.spend_penalizer, notes, (
            f"{spend.title} did not converge on {_total(usable, weight)} repeat buyers with penalizer "
            f"{self.spend_penalizer}: try a small penalizer (e.g. model.spend.penalizer=0.01) or cap extreme amounts"))
        self.designs_, tests = {}, {}
        self.season_ = season and model_season.fit(self, season, rfm, weight, purchase_days, end)
        if wanted:
            each = tuple(rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
            tests = model_effects.fit(self, rfm, weight, each, (usable, gx, gm), wanted, everyone, everyone_weight)
        unvalued = ~self.spend_.valued(counts, amounts)
        if unvalued.any():
            raise FitError(
                f"{self.spend_.unvalued_reason()} with penalizer {self.spend_penalizer}: the expected spend per "
                f"purchase is not finite for {_total(unvalued, weight)} customers (those without repeat spend or with "
                "too few purchases), so they cannot be valued; lower the penalizer (model.spend.penalizer, "
                "default 0) or cap extreme amounts")
        notes.extend(self.spend_.notes())
        corr = numeric.pearson(gx, gm, gw) if gx.size > 2 and gx.std() > 0 and gm.std() > 0 else None
        for note in notes:
            warnings.warn(note, stacklevel=2)
        self.training_ = {
            "customers": customers,
            "repeat_buyers": _total(rfm["frequency"].to_numpy() > 0, weight),
            "gamma_gamma_customers": _total(usable, weight),
            "purchases_fit_rows": int(len(f)),  # distinct (x, t_x, T) tuples with the fast fitter
            "purchases_log_likelihood": (tests.get("purchases") or (self.season_ or {}).get("test", {})).get("log_likelihood")
            or purchases_ll,
            "spend_log_likelihood": tests.get("spend", {}).get("log_likelihood") or spend_ll,
            "frequency_monetary_corr": corr,
            "warnings": notes,
            **({"covariate_tests": tests} if tests else {}),
        }
        del counts, amounts, usable, unvalued, gx, gm  # per-customer arrays: memory for the cut-offs' own
        if cohort is not None:
            self.training_["customers_scored_not_fitted"] = _total(~cohort, everyone_weight)
            rfm, weight, history = everyone, everyone_weight, _histories(everyone)
        clv = self.clv(rfm) if self.designs_ or self.season_ else self.expected_value(rfm) * self._purchases(history)[2][history[1]]
        self.segment_cutoffs_ = segment.quantile_cutoffs(clv, len(self.segment_labels), weight)
        return self

    # --------------------------------------------------------------- prediction
    def spend_counts(self, rfm: pd.DataFrame) -> np.ndarray:
        """Number of order values averaged in ``monetary_value`` (may be a read-only view of the table's column)."""
        frequency = rfm["frequency"].to_numpy(dtype=float)
        return frequency + 1.0 if self.monetary_includes_first else frequency

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The weeks after T at which predictions are needed (ascending): each horizon's, each
        CLV month end's; with the grid position of each horizon and of each month end."""
        months = np.arange(int(self.clv_months) + 1, dtype=float)
        horizon_weeks = [h * self.horizon_weeks_per_month for h in self.horizons_months]
        weeks, column = np.unique(np.concatenate([horizon_weeks, months * WEEKS_PER_MONTH]), return_inverse=True)
        return model_season.ahead(self, weeks), column[:len(horizon_weeks)], column[len(horizon_weeks):]

    def _purchases(self, history: tuple) -> tuple[dict[float, np.ndarray], np.ndarray, np.ndarray]:
        """Per distinct (x, t_x, T) of ``history`` (:func:`_histories`; ``history[1]`` maps them to customers):
        expected purchases per horizon (months -> array), P(alive), and the expected purchases of the next
        ``clv_months`` months, discounted and summed (times the spend per purchase: the CLV)."""
        model = self.purchases_
        (x, tx, age), _, _ = history
        alive = model.prob_alive(x, tx, age)
        (x2, age2), inverse2, _ = tuples.distinct(x, age)
        weeks, at_horizon, at_month = self.grid()
        cum = alive[:, None] * model.alive_purchases(weeks[None, :], x2[:, None], age2[:, None])[inverse2]
        model.check_finite(cum, weeks[None, :], x[:, None], tx[:, None], age[:, None])
        horizons = {h: cum[:, at_horizon[i]] for i, h in enumerate(self.horizons_months)}
        per_month = np.clip(np.diff(cum[:, at_month], axis=1), 0.0, None)  # no negative noise
        return horizons, alive, numeric.matvec(per_month, self.discounts())

    def discounts(self) -> np.ndarray:
        """Discount factor of each of the next ``clv_months`` months, (1 + d)^-i."""
        return (1.0 + self.discount_rate) ** -np.arange(1.0, int(self.clv_months) + 1)

    def expected_purchases(self, rfm: pd.DataFrame, months: float) -> np.ndarray:
        """Expected repeat purchases in the next ``months`` months (``horizon_weeks_per_month`` each)."""
        if self.designs_:
            return model_effects.by_group(self, rfm, lambda one, part: one.expected_purchases(part, months))
        t, rfm = model_season.ahead(self, [months * self.horizon_weeks_per_month])[0], model_season.clocked(self, rfm)
        return self.purchases_.expected_purchases(t, rfm["frequency"], rfm["recency"], rfm["T"])

    def expected_value(self, rfm: pd.DataFrame) -> np.ndarray:
        """Expected spend per future purchase (the spend model's posterior mean). Customers the spend model
        cannot value (:meth:`~cltv.models.spend.SpendModel.valued`: Gamma-Gamma q <= 1) raise ModelError."""
        if self.designs_:
            return model_effects.by_group(self, rfm, CLTVModel.expected_value)
        counts, amounts = self.spend_counts(rfm), rfm["monetary_value"].to_numpy(dtype=float)
        if not self.spend_.valued(counts, amounts).all():
            raise ModelError(f"this model ({self.spend_.unvalued_reason()}) cannot value customers "
                             "without repeat spend or with few purchases: their expected spend per purchase is not finite")
        return self.spend_.expected_average_value(counts, amounts)

    def clv(self, rfm: pd.DataFrame) -> np.ndarray:
        """Discounted value of the next ``clv_months`` months (of 4.345 weeks):
        sum over months i of E[value per purchase] * E[purchases in month i] / (1 + d)^i."""
        if self.designs_:
            return model_effects.by_group(self, rfm, CLTVModel.clv)
        return self.expected_value(rfm) * self._purchases(h := _histories(model_season.clocked(self, rfm)))[2][h[1]]

    def predict(self, rfm: pd.DataFrame) -> pd.DataFrame:
        """Scores per customer: the input RFM columns (and ``customer_id`` if given), expected
        purchases per horizon, ``p_alive``, ``expected_value`` (mean spend per purchase),
        ``clv`` and ``segment`` (categorical, labels best first); see :func:`cltv.schema.score_columns`.
        With covariates, ``rfm`` also holds the attribute columns the model was trained on."""
        if self.designs_:
            return model_effects.by_group(self, rfm, CLTVModel.predict)
        checked = validate_rfm(rfm)
        columns = {c: (checked if c == "customer_id" else rfm)[c] for c in checked.columns}  # as given
        if not rfm.index.equals(pd.RangeIndex(len(rfm))):  # the scores are numbered 0..n-1
            columns = {c: column.reset_index(drop=True) for c, column in columns.items()}
        rfm = model_season.clocked(self, checked)  # with a season: operational weeks
        (horizons, alive, discounted), customer = self._purchases(history := _histories(rfm)), history[1]
        columns.update({horizon_column(h): horizons[h][customer] for h in self.horizons_months})
        columns["p_alive"], discounted = alive[customer], discounted[customer]
        del history, customer  # one array per customer fewer while the rest is computed
        columns["expected_value"] = value = self.expected_value(rfm)
        columns["clv"] = clv = np.multiply(value, discounted, out=discounted)
        columns["segment"] = segment.assign(clv, self.segment_cutoffs_, self.segment_labels)
        if self.interval_level is not None:
            columns.update(intervals.predict(self, rfm, self.interval_level))
        return pd.DataFrame(columns, copy=False)  # the input columns as given, shared until written (copy-on-write)

    # -------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """Everything needed to predict, as plain JSON-able data (:func:`cltv.model_json.to_dict`)."""
        return model_json.to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CLTVModel:
        """The model of :meth:`to_dict` (:func:`cltv.model_json.from_dict`; also cltv-model/1)."""
        return model_json.from_dict(cls, d)

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (atomically: a temporary file, then a rename)."""
        from .io import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> CLTVModel:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_lifetimes(self):
        """``lifetimes`` fitters (purchase, spend) with these parameters, for ``lifetimes``' API."""
        return self.purchases_.to_lifetimes(), self.spend_.to_lifetimes()


def _total(mask: np.ndarray, weight: np.ndarray | None) -> int:
    """Customers where ``mask`` holds: rows, or their weights."""
    return int(mask.sum()) if weight is None else int(weight[mask].sum())


def _histories(rfm: pd.DataFrame) -> tuple:
    """The distinct (frequency, recency, T) of ``rfm``, see :func:`cltv.models.tuples.distinct`."""
    return tuples.distinct(*(rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")))
