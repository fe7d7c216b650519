"""The headline metrics: the few figures a person compares between runs, holdout error first.

The evaluation (:mod:`cltv.evaluate`) measures some fifty figures; the headline (at most 25, in
:data:`HEADLINE` order) is what `dvc exp show`, `dvc metrics diff` and MLflow's run metrics show;
the rest (fit statistics, parameters of the calibration fit, the naive baseline's other errors,
chi-square details) is kept beside it as details. Transaction logs fill the holdout figures, a
snapshot (no holdout) the in-sample ones.
"""
from __future__ import annotations

HEADLINE = (
    "mae", "baseline_mae", "rmse", "baseline_rmse", "pearson", "spearman",  # per-customer holdout purchases
    "holdout_purchases_rel_error", "holdout_revenue_rel_error",              # totals: (predicted - actual) / actual
    "holdout_purchases_actual", "holdout_purchases_predicted", "holdout_revenue_actual", "holdout_revenue_predicted",
    "holdout_coverage", "holdout_above", "holdout_below", "holdout_pit_coverage", "holdout_spend_pit_coverage",
    "interval_level",
    "calibration_chi2_pvalue",
    "insample_chi2", "insample_chi2_pvalue", "zero_repeat_observed", "zero_repeat_expected",  # snapshots
    "customers", "holdout_weeks", "dropout_degenerate", "selection_bias_suspected", "warnings",
)


#: in-sample checks that head a snapshot's evaluation; a log's are details
SNAPSHOT_ONLY = ("insample_chi2", "insample_chi2_pvalue", "zero_repeat_observed", "zero_repeat_expected")


def split(metrics: dict) -> tuple[dict, dict]:
    """``(headline, details)`` of an evaluation's metrics: the headline in :data:`HEADLINE` order
    (a log's without :data:`SNAPSHOT_ONLY`), every other key in the details."""
    skip = SNAPSHOT_ONLY if "mae" in metrics else ()
    headline = {k: metrics[k] for k in HEADLINE if k in metrics and k not in skip}
    return headline, {k: v for k, v in metrics.items() if k not in headline}
