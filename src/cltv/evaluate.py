"""Holdout evaluation of a model fitted on the calibration period.

Inputs are the table of :func:`cltv.data.rfm.calibration_holdout` (``ch``: calibration RFM +
``holdout_purchases``, ``holdout_spend``, ``holdout_weeks``) and, for the tracking plot, the
daily purchases of :func:`cltv.data.rfm.daily_purchases`. Times in weeks. Every figure comes from the
model's purchase model through its interface (:class:`cltv.models.purchase.PurchaseModel`), so the
same metrics compare BG/NBD, MBG/NBD and Pareto/NBD on the same data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import intervals, model_effects, model_season, numeric
from .fit_tables import (HISTOGRAM_CELLS, calibration_histogram, chi2, cumulative_repeat, frequency_recency_grid,
                         holdout_by_frequency)
from .model import CLTVModel
CORR_WARNING = 0.3  # |corr(frequency, monetary)| above this breaks Gamma-Gamma's independence assumption


def _errors(prefix: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    total_a, total_p = float(actual.sum()), float(predicted.sum())
    varied = actual.std() > 0 and predicted.std() > 0
    return {
        f"{prefix}holdout_purchases_predicted": total_p,
        f"{prefix}holdout_purchases_rel_error": (total_p - total_a) / total_a if total_a else float("nan"),
        f"{prefix}total_error_per_customer": (total_p - total_a) / actual.size,
        f"{prefix}mae": float(np.mean(np.abs(predicted - actual))),
        f"{prefix}rmse": float(np.sqrt(np.mean((actual - predicted) ** 2))),
        f"{prefix}pearson": numeric.pearson(actual, predicted) if varied else 0.0,
        f"{prefix}spearman": numeric.spearman(actual, predicted) if varied else 0.0,
    }


def holdout_predictions(ch: pd.DataFrame, model: CLTVModel) -> pd.DataFrame:
    """Per customer: actual and model/baseline predicted holdout purchases, and model revenue.

    The naive baseline carries each customer's calibration purchase rate (x / T per week)
    over the holdout length.
    """
    weeks = ch["holdout_weeks"].to_numpy(dtype=float)
    x, T = ch["frequency"].to_numpy(dtype=float), ch["T"].to_numpy(dtype=float)
    clock = model_season.clocked(model, ch)  # with a season: histories and holdout in operational weeks
    ahead, tx, age = model_season.ahead(model, weeks), clock["recency"].to_numpy(), clock["T"].to_numpy()
    pred, value = np.empty(len(ch)), np.empty(len(ch))
    for one, idx in model_effects.groups(model, ch):  # with covariates: each customer's own models
        pred[idx] = one.purchases_.expected_purchases(ahead[idx], x[idx], tx[idx], age[idx])
        value[idx] = one.expected_value(ch.iloc[idx])
    return pd.DataFrame({
        "customer_id": ch["customer_id"].to_numpy(),
        "frequency": ch["frequency"].to_numpy(),
        "actual": ch["holdout_purchases"].to_numpy(dtype=float),
        "predicted": pred,
        "baseline": np.divide(x, T, out=np.zeros_like(x), where=T > 0) * weeks,
        "predicted_revenue": pred * value,
    })


def diagnostics(model: CLTVModel, hist: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """Checks of the fit that must never stay hidden: numeric flags (1 = problem) and warnings.

    - ``frequency_monetary_corr``: Gamma-Gamma assumes spend independent of frequency
      (flag above ``CORR_WARNING`` in absolute value);
    - ``dropout_degenerate``: the purchase model's dropout is not identified (BG/NBD, MBG/NBD: a
      or b collapsed toward 0; Pareto/NBD: s toward 0);
    - the spend model's own flags (:meth:`cltv.models.spend.SpendModel.diagnostics`; Gamma-Gamma:
      ``gg_q_le_1``, q <= 1, the population mean spend is not finite);
    - ``selection_bias_suspected``: far fewer customers without repeat purchases than the model
      expects (e.g. an export that keeps only customers with 2+ orders): estimates are biased.
    """
    notes = list(model.training_.get("warnings", []))
    corr = model.training_.get("frequency_monetary_corr")
    zero_obs, zero_exp = float(hist["observed"].iloc[0]), float(hist["expected"].iloc[0])
    flags = {
        "dropout_degenerate": int(model.purchases_.dropout_note() is not None),
        **model.spend_.diagnostics(),
        "zero_repeat_observed": zero_obs,
        "zero_repeat_expected": zero_exp,
        "selection_bias_suspected": int(zero_exp >= 10 and zero_obs < 0.5 * zero_exp),
    }
    if corr is not None:
        flags["frequency_monetary_corr"] = corr
        flags["frequency_monetary_corr_warning"] = int(abs(corr) > CORR_WARNING)
        if abs(corr) > CORR_WARNING:
            notes.append(f"frequency and monetary value are correlated (r = {corr:.3f}, |r| > {CORR_WARNING}): "
                         f"{model.spend_.title} assumes independence, so expected values are biased")
    if flags["selection_bias_suspected"]:
        title = model.purchases_.title
        notes.append(f"{zero_obs:.0f} customers without a repeat purchase where {title} expects {zero_exp:.0f}: "
                     "the file looks like a selected population (e.g. only customers with 2+ orders or a recent "
                     f"purchase); {title} estimates and predictions are biased")
    return flags, notes


def fitted(model: CLTVModel) -> dict:
    """The evaluated model's parameters: ``{"purchases": {name: value}, "spend": {name: value}}``."""
    return {"purchases": dict(model.purchases_.params), "spend": dict(model.spend_.params)}


def fit_statistics(model: CLTVModel) -> dict[str, float]:
    """The purchase model's log-likelihood on the data it was fitted on, with AIC and BIC
    (k parameters, n customers): comparable across purchase models on the same data."""
    ll, n = model.training_["purchases_log_likelihood"], model.training_["customers"]
    k = len(model.purchases_.names)  # with covariates: their effects too
    return {"purchases_log_likelihood": ll, "aic": 2.0 * k - 2.0 * ll, "bic": k * float(np.log(n)) - 2.0 * ll,
            "spend_log_likelihood": model.training_["spend_log_likelihood"]}


def evaluate_in_sample(rfm: pd.DataFrame, model: CLTVModel):
    """Goodness of fit where no holdout exists (a snapshot): ``(metrics, plots)``.

    Observed vs expected customers with 0..6, 7+ repeat purchases and the chi-square, the
    diagnostics of :func:`diagnostics` and the log-likelihoods; ``metrics["warnings"]`` lists
    the problems in words. The holdout plots are empty tables.
    """
    hist = calibration_histogram(rfm, model)
    flags, notes = diagnostics(model, hist)
    metrics = {
        "customers": int(len(rfm)),
        **chi2(hist, "insample", len(model.purchases_.param_names)),
        **flags,
        **fit_statistics(model),
        "calibration_fit": fitted(model),
        "warnings": notes,
    }
    plots = {
        "holdout_by_frequency": pd.DataFrame(columns=["frequency", "customers", "actual", "predicted"]),
        "cumulative_repeat": pd.DataFrame(columns=["week", "actual", "model", "period"]),
        "calibration_histogram": hist,
        "frequency_recency_grid": frequency_recency_grid(model, float(rfm["T"].max()), model.horizons_months[0]),
        "holdout_pit": pd.DataFrame(columns=PIT_COLUMNS),
        "season": model_season.index(model),  # a snapshot: no season, no dates
    }
    return metrics, plots


PIT_BINS = 10
PIT_COLUMNS = ["pit", "observed", "expected", "spend_observed"]


def _pits(ch: pd.DataFrame, model: CLTVModel, level: float, chunk: int, offset: int = 0) -> tuple[np.ndarray, ...]:
    """Per customer of ``ch``: the randomised PITs of the holdout purchases and spend (seeds from
    ``offset``, the rows' first position in the whole table), and the purchase interval's bounds at ``level``."""
    weeks = model_season.ahead(model, [float(ch["holdout_weeks"].iloc[0])])  # with a season: operational
    futures = intervals.futures_of(model, model_season.clocked(model, ch), [float(weeks[0])])
    pit = intervals.randomised_pit(futures.purchases(0)[futures.customer], ch["holdout_purchases"].to_numpy(),
                                   seed=intervals.SEED + offset)
    spend_actual = ch["holdout_spend"].to_numpy(dtype=float)
    spend_pit = np.concatenate([
        intervals.randomised_pit(futures.value_draws(np.ones(1), np.arange(i, min(i + chunk, len(ch)))),
                                 spend_actual[i:i + chunk], seed=intervals.SEED + offset + i)
        for i in range(0, len(ch), chunk)])
    return (pit, spend_pit, *futures.purchase_interval(0, level))


def holdout_coverage(ch: pd.DataFrame, model: CLTVModel, level: float, chunk: int = 50_000):
    """How well the predictive intervals at ``level`` hold on the holdout: ``(metrics, table)``.

    Metrics, each named for what it counts:

    - ``holdout_coverage``: the share of customers with ``lo <= actual <= hi`` (the share an analyst
      counts; above ``level`` for small whole numbers, see docs/intervals.md);
    - ``holdout_above`` / ``holdout_below``: the shares above ``hi`` / below ``lo`` (one-sided
      misses show a biased forecast);
    - ``holdout_pit_coverage`` (``holdout_spend_pit_coverage``): the share of customers whose
      randomised PIT (:func:`cltv.intervals.randomised_pit`) of the actual holdout purchases (spend)
      lies in the central ``level`` of (0, 1): uniform PITs, hence ``level``, when the intervals are
      calibrated, ties between whole numbers broken at random.

    The table holds the PIT histogram (:data:`PIT_BINS` bins; ``expected`` is the uniform share).
    """
    actual = ch["holdout_purchases"].to_numpy()
    pit, spend_pit, lo, hi = (np.empty(len(ch)) for _ in range(4))
    for one, idx in model_effects.groups(model, ch):  # with covariates: each customer's own models
        pit[idx], spend_pit[idx], lo[idx], hi[idx] = _pits(ch.iloc[idx], one, level, chunk, int(idx[0]))
    edges = np.linspace(0.0, 1.0, PIT_BINS + 1)
    counts = np.histogram(pit, bins=edges)[0]
    central = lambda u: float(np.mean(np.abs(u - 0.5) <= level / 2.0))  # noqa: E731
    statistic, pvalue = numeric.chisquare(counts)
    metrics = {
        "interval_level": float(level),
        "holdout_coverage": float(np.mean((actual >= lo) & (actual <= hi))),
        "holdout_above": float(np.mean(actual > hi)),
        "holdout_below": float(np.mean(actual < lo)),
        "holdout_pit_coverage": central(pit),
        "holdout_spend_pit_coverage": central(spend_pit),
        "holdout_pit_chi2": statistic,
        "holdout_pit_chi2_pvalue": pvalue,
    }
    table = pd.DataFrame({"pit": [f"{a:.1f}-{b:.1f}" for a, b in zip(edges[:-1], edges[1:])],
                          "observed": counts / len(pit), "expected": np.full(PIT_BINS, 1.0 / PIT_BINS),
                          "spend_observed": np.histogram(spend_pit, bins=edges)[0] / len(pit)})
    return metrics, table


def evaluate(ch: pd.DataFrame, daily: pd.DataFrame, model: CLTVModel, calibration_end, observation_end,
             tables: bool = True, pred: pd.DataFrame | None = None):
    """All evaluation figures: ``(metrics dict, plot tables dict)``; ``metrics["warnings"]``
    lists the fit's problems in words (see :func:`diagnostics`). ``tables=False`` (a later origin
    of a backtest, whose plots nobody draws): no plot tables, and no cumulative-repeat figures.
    ``pred``: :func:`holdout_predictions` of ``ch`` and ``model`` when the caller has them."""
    pred = holdout_predictions(ch, model) if pred is None else pred
    hist = calibration_histogram(ch, model)
    flags, notes = diagnostics(model, hist)
    cum = cumulative_repeat(daily, model, calibration_end, observation_end, ch) if tables else None
    coverage, pit = holdout_coverage(ch, model, model.interval_level or 0.9)
    actual_revenue = float(ch["holdout_spend"].sum())
    predicted_revenue = float(pred["predicted_revenue"].sum())
    metrics = {
        "customers": int(len(ch)),
        "holdout_weeks": float(ch["holdout_weeks"].iloc[0]),
        "holdout_purchases_actual": float(pred["actual"].sum()),
        **_errors("", pred["actual"].to_numpy(), pred["predicted"].to_numpy()),
        **_errors("baseline_", pred["actual"].to_numpy(), pred["baseline"].to_numpy()),
        "holdout_revenue_actual": actual_revenue,
        "holdout_revenue_predicted": predicted_revenue,
        "holdout_revenue_rel_error": (predicted_revenue - actual_revenue) / actual_revenue if actual_revenue else float("nan"),
        **chi2(hist, "calibration", len(model.purchases_.param_names)),
        **({"cumulative_repeat_actual_end": float(cum["actual"].iloc[-1]),
            "cumulative_repeat_model_end": float(cum["model"].iloc[-1])} if tables else {}),
        **coverage,
        **fit_statistics(model),
        **flags,
        "calibration_fit": fitted(model),
        "warnings": notes,
    }
    if not tables:
        return metrics, {}
    grid = frequency_recency_grid(model, float(ch["T"].max()), model.horizons_months[0])
    plots = {"holdout_by_frequency": holdout_by_frequency(pred), "cumulative_repeat": cum,
             "calibration_histogram": hist, "frequency_recency_grid": grid, "holdout_pit": pit,
             "season": model_season.index(model, calibration_end)}
    return metrics, plots
