"""Rolling-origin backtests: the model fitted at several calibration ends ("origins"), each scored
on the holdout that follows it, with metrics that rank customers and a summary over origins.

An origin is a pair of days ``(calibration end, holdout end)``; :func:`cltv.origins.origins`
builds them from explicit calibration ends or from a rule (``count`` origins ``spacing_weeks``
apart from the first calibration end, each followed by ``holdout_weeks`` weeks or by the rest of
the log), and :func:`check` refuses one that cannot be evaluated. Per origin, :func:`ranking` adds to the holdout metrics of :func:`cltv.evaluate.evaluate` how well
predicted holdout revenue ranks customers by realized holdout spend; :func:`summary` gives the
mean over origins, the worst origin and the number of origins on which the model beats the naive
baseline; :func:`baseline_losses` names the origins on which it does not.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import numeric
from .errors import DataError
from .model import MIN_CUSTOMERS  # an origin's calibration cohort below this cannot be fitted
from .origins import LOWER_IS_BETTER

#: further per-origin metrics averaged in the summary (rel. errors: (predicted - actual) / actual)
AVERAGED = ("holdout_purchases_rel_error", "holdout_revenue_rel_error", "gini", "baseline_gini", "clv_spearman",
            "decile_mape", "top_decile_capture", "holdout_coverage", "holdout_pit_coverage", "calibration_chi2")
#: the figures of one origin's row in the backtest table, after its days
FIGURES = [m for name in LOWER_IS_BETTER for m in (name, f"baseline_{name}")] + list(AVERAGED)
COLUMNS = ["origin", "calibration_end", "holdout_end", "holdout_weeks", "customers", *FIGURES]
#: with covariates, per origin: the likelihood-ratio test of the purchase model against the one
#: without them (statistic, p-value) and the MAE of the model without them (does it forecast better?)
COVARIATE_FIGURES = ["covariates_lr", "covariates_p_value", "mae_without_covariates"]
#: with a season, per origin: its likelihood-ratio test and the forecast of the model without it
#: (MAE, and the relative error of the holdout's total purchases)
SEASON_FIGURES = ["season_lr", "season_p_value", "mae_without_season", "holdout_purchases_rel_error_without_season"]
DECILES = 10


def check(ch: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, source: str) -> None:
    """Fail before any fit when the origin ``start`` (holdout to ``end``) cannot be evaluated:
    fewer than :data:`MIN_CUSTOMERS` customers first seen by then, no holdout purchase, or a
    holdout spend of 0 or less (nothing to rank customers by)."""
    if len(ch) < MIN_CUSTOMERS:
        raise DataError(f"{source}: the origin {start.date()} has {len(ch)} customers first seen on or before it; "
                        f"expected at least {MIN_CUSTOMERS}: set a later first origin (data.calibration_end or "
                        "evaluate.origins)")
    if int(ch["holdout_purchases"].sum()) == 0:
        raise DataError(f"{source}: no purchase in the holdout {start.date()} .. {end.date()} of the origin "
                        f"{start.date()}; expected a holdout inside the log: an earlier origin or a longer holdout")
    if float(ch["holdout_spend"].sum()) <= 0:
        raise DataError(f"{source}: the holdout {start.date()} .. {end.date()} of the origin {start.date()} has a total "
                        "spend of 0 or less (cancellations netted?); expected purchases with positive amounts")


def gini(actual: np.ndarray, score: np.ndarray) -> float:
    """Gini of ``actual`` ordered by ``score`` (highest first): twice the mean distance between the
    cumulative share of ``actual`` and the cumulative share of customers. Customers with equal
    scores share their ``actual`` (its mean), so ties count as no information and the order of
    the input does not matter."""
    actual, score = np.asarray(actual, dtype=float), np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    a, s = actual[order], score[order]
    group = np.cumsum(np.concatenate([[True], s[1:] != s[:-1]])) - 1
    a = (np.bincount(group, weights=a) / np.bincount(group))[group]
    total = float(np.sum(a))
    if total <= 0:
        return 0.0
    n = a.size
    captured = np.cumsum(a) / total
    return float(np.sum(captured - np.arange(1, n + 1) / n)) * 2.0 / n


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """:func:`gini` of ``predicted`` over that of the perfect ranking (``actual`` itself): 1 for a
    ranking as good as the truth's, about 0 for a random one, negative for a reversed one."""
    best = gini(actual, actual)
    return gini(actual, predicted) / best if best > 0 else 0.0


def deciles(actual: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Customers ranked by ``predicted`` (highest first; equal predictions in input order, i.e.
    by customer id in the pipeline's tables) in :data:`DECILES` groups whose sizes differ by at most
    one: ``decile`` (1 = top), ``customers``, ``predicted`` and ``actual`` (sums; money for
    revenue). The columns sum to the totals."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    n = actual.size
    decile = np.empty(n, dtype=np.int64)
    decile[np.argsort(-predicted, kind="stable")] = np.arange(n) * DECILES // max(n, 1)
    return pd.DataFrame({"decile": np.arange(1, DECILES + 1),
                         "customers": np.bincount(decile, minlength=DECILES),
                         "predicted": np.bincount(decile, weights=predicted, minlength=DECILES),
                         "actual": np.bincount(decile, weights=actual, minlength=DECILES)})


def ranking(spend: np.ndarray, predicted: np.ndarray, baseline: np.ndarray) -> tuple[dict[str, float], pd.DataFrame]:
    """How well predicted holdout revenue (``predicted``, money per customer) ranks customers by
    realized holdout spend (``spend``): ``(metrics, decile table)``. Metrics: ``gini`` (normalized,
    :func:`normalized_gini`) and ``baseline_gini`` (of the naive ``baseline`` revenue),
    ``clv_spearman``, ``decile_mape`` (mean over the deciles with a positive realized spend of
    |predicted - actual| / actual) and ``top_decile_capture`` (share of all realized spend from the predicted top 10 %)."""
    table = deciles(spend, predicted)
    real = table["actual"].to_numpy()
    has = real > 0
    total = float(np.sum(real))
    return {
        "gini": normalized_gini(spend, predicted),
        "baseline_gini": normalized_gini(spend, baseline),
        "clv_spearman": numeric.spearman(spend, predicted) if np.std(spend) > 0 and np.std(predicted) > 0 else 0.0,
        "decile_mape": float(np.mean(np.abs(table["predicted"].to_numpy()[has] - real[has]) / real[has])) if has.any()
        else float("nan"),
        "top_decile_capture": float(real[0] / total) if total > 0 else float("nan"),
    }, table


def row(index: int, start: pd.Timestamp, end: pd.Timestamp, metrics: dict) -> dict:
    """One origin's line of the backtest table (plots/backtest.csv, :data:`COLUMNS`): its days and figures."""
    return {"origin": index, "calibration_end": str(start.date()), "holdout_end": str(end.date()),
            "holdout_weeks": metrics["holdout_weeks"], "customers": metrics["customers"],
            **{k: metrics[k] for k in FIGURES},
            **{k: metrics[k] for k in COVARIATE_FIGURES + SEASON_FIGURES if k in metrics}}


def columns(rows: list[dict]) -> list[str]:
    """The backtest table's columns: :data:`COLUMNS`, then :data:`COVARIATE_FIGURES` and
    :data:`SEASON_FIGURES` when the rows have them."""
    return COLUMNS + [k for k in COVARIATE_FIGURES + SEASON_FIGURES if rows and k in rows[0]]


def beats(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """Per origin, whether the model is strictly better than the naive baseline on ``metric``."""
    model, base = rows[metric].to_numpy(dtype=float), rows[f"baseline_{metric}"].to_numpy(dtype=float)
    return model < base if LOWER_IS_BETTER[metric] else model > base


def summary(rows: pd.DataFrame) -> dict:
    """Over the origins of the backtest table: ``origins``; per champion metric its ``_mean``, its
    value on the worst origin (``_worst``), the baseline's mean and the number of origins on which
    the model beats the baseline (``_beats_baseline``); the mean of every :data:`AVERAGED` metric."""
    out: dict = {"origins": int(len(rows))}
    for name, lower in LOWER_IS_BETTER.items():
        values = rows[name].to_numpy(dtype=float)
        out[f"{name}_mean"] = float(np.mean(values))
        out[f"{name}_worst"] = float(values.max() if lower else values.min())
        out[f"baseline_{name}_mean"] = float(np.mean(rows[f"baseline_{name}"].to_numpy(dtype=float)))
        out[f"{name}_beats_baseline"] = int(beats(rows, name).sum())
    out.update({f"{k}_mean": float(np.mean(rows[k].to_numpy(dtype=float))) for k in AVERAGED})
    if "mae_without_covariates" in rows.columns:
        out["mae_without_covariates_mean"] = float(np.mean(rows["mae_without_covariates"].to_numpy(dtype=float)))
        out["covariates_beat_none"] = int((rows["mae"] < rows["mae_without_covariates"]).sum())
    if "mae_without_season" in rows.columns:
        without = rows["holdout_purchases_rel_error_without_season"].to_numpy(dtype=float)
        out["mae_without_season_mean"] = float(np.mean(rows["mae_without_season"].to_numpy(dtype=float)))
        out["holdout_purchases_rel_error_without_season_mean"] = float(np.mean(without))
        out["season_closer_total"] = int((rows["holdout_purchases_rel_error"].abs().to_numpy() < np.abs(without)).sum())
    return out


def baseline_losses(rows: pd.DataFrame, metric: str) -> list[str]:
    """The calibration ends of the origins on which the model does not beat the baseline on ``metric``."""
    return list(rows["calibration_end"][~beats(rows, metric)].astype(str))
