"""The champion gate: whether a new model version takes alias ``champion`` from the current one.

Like with like: only a champion evaluated on the same data and origins (the evaluation key,
``cltv.tracking.registry.evaluation_key``) is compared. The champion metric is its mean over
the backtest's origins (``backtest.<metric>_mean``; results logged before the backtest carry the
one split's ``<metric>``). A version that does not beat the naive baseline on every origin is
never promoted; two results within :data:`INDISTINGUISHABLE` are alike, so the champion stays.
"""
from __future__ import annotations

INDISTINGUISHABLE = 2e-3  # relative difference of the champion metric within which two results are alike


def has_artifacts(client, run_id: str) -> bool:
    """Whether the run's artifacts are still there (``mlruns/`` may be gone, ``mlflow.db`` kept)."""
    return bool(client.list_artifacts(run_id))


def logged_value(metrics: dict, metric: str) -> float | None:
    """A run's champion metric: the backtest mean, else (older runs) the one split's figure."""
    return metrics.get(f"backtest.{metric}_mean", metrics.get(metric))


def champion_decision(client, name: str, version: str, metric: str, value: float | None, lower_is_better: bool,
                      evaluation: str, dropout_degenerate: bool = False, baseline_losses: tuple[str, ...] = (),
                      origins: int = 1) -> tuple[bool, str]:
    """Whether ``version`` becomes the champion, and why. ``value``: its champion metric (the mean
    over its ``origins``); ``baseline_losses``: the origins (calibration ends) on which it does not
    beat the naive baseline on ``metric``. The decision says when the results are
    indistinguishable (and why, when the dropout is not identified)."""
    from mlflow.exceptions import MlflowException

    shown = metric if origins <= 1 else f"{metric} (mean of {origins} origins)"
    if baseline_losses:
        return False, (f"not promoted: its {metric} is no better than the naive baseline's on origin(s) "
                       f"{', '.join(baseline_losses)}; a model that loses to the baseline on any origin is never champion")
    try:
        current = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        current = None
    if current is None:
        return True, f"promoted: first champion of '{name}'"
    if current.run_id and not has_artifacts(client, current.run_id):
        return True, f"promoted: champion version {current.version} cannot load, its artifacts are gone"
    theirs = current.tags.get("cltv.evaluation_data")
    if theirs != evaluation:
        return False, (f"kept version {current.version}: not comparable, it was evaluated on other data or origins "
                       f"({current.tags.get('cltv.data_label', 'unknown data')}, evaluation {theirs or 'unknown'}; "
                       f"this result: evaluation {evaluation}); to serve a model of this data, register it under its "
                       f"own name (registry.model_name) or move the alias by hand")
    if value is None:
        return False, f"kept version {current.version}: this result has no '{metric}'"
    old = logged_value(client.get_run(current.run_id).data.metrics, metric) if current.run_id else None
    if old is None:
        return True, f"promoted: champion version {current.version} has no '{metric}'"
    if abs(value - old) <= INDISTINGUISHABLE * max(abs(old), abs(value)):
        return False, (f"kept version {current.version}: indistinguishable from it ({shown} {value:.6g} vs {old:.6g}, "
                       f"within {INDISTINGUISHABLE:.2%})" + ("; the dropout is not identified (dropout_degenerate = "
                       "1), so the purchase models predict alike: see the warnings" if dropout_degenerate else ""))
    better = value < old if lower_is_better else value > old
    cmp = ("<" if lower_is_better else ">") if better else (">=" if lower_is_better else "<=")
    return better, (f"{'promoted' if better else f'kept version {current.version}'}: {shown} {value:.6g} {cmp} "
                    f"{old:.6g} of version {current.version}")
