"""What a person reads in MLflow's runs list and in a run's description."""
from __future__ import annotations

from .. import covariates
from ..models import purchase_model, spend_model


def run_name(data_label: str, hyperparameters: dict) -> str:
    """A run name that leads with what differs between runs (the models and their penalizers),
    the data and the CLV settings after, e.g. ``BG/NBD, penalizers 0/0, Gamma-Gamma, cdnow master,
    6-month CLV at 1%`` (MLflow's runs list cuts long names at the end)."""
    h = hyperparameters
    names = covariates.names(h.get("covariates") or {})
    season = (h.get("season") or {}).get("shape", "none")
    return (f"{purchase_model(h['purchases']).title}, penalizers {h['purchases_penalizer']:g}/{h['spend_penalizer']:g}, "
            f"{spend_model(h['spend']).title}{', covariates ' + '+'.join(names) if names else ''}"
            f"{', season ' + season if season != 'none' else ''}, {data_label}, "
            f"{h['clv_months']:g}-month CLV at {h['discount_rate']:.2%}".replace(".00%", "%"))


def description(data_label: str, metrics: dict, warnings: list[str]) -> str:
    """One paragraph for the run's description: data, customers, holdout error vs baseline, warnings."""
    text = f"Data: {data_label}, {metrics.get('customers', 0):,} customers. "
    if "mae" in metrics:
        change = metrics["mae"] / metrics["baseline_mae"] - 1 if metrics.get("baseline_mae") else 0.0
        text += (f"Holdout ({metrics.get('holdout_weeks', 0):g} weeks): MAE {metrics['mae']:.4f} per customer, "
                 f"{abs(change):.1%} {'lower' if change <= 0 else 'higher'} than the naive baseline's "
                 f"{metrics['baseline_mae']:.4f}; "
                 f"{metrics['holdout_purchases_predicted']:,.0f} purchases predicted for "
                 f"{metrics['holdout_purchases_actual']:,.0f} made. ")
        if "holdout_coverage" in metrics:
            text += (f"Nominal {metrics['interval_level']:.0%} predictive intervals held for "
                     f"{metrics['holdout_coverage']:.1%} of customers' holdout purchases ({metrics['holdout_above']:.1%} "
                     f"above, {metrics['holdout_below']:.1%} below; randomised PIT {metrics['holdout_pit_coverage']:.1%}). ")
    else:
        text += "No holdout (a snapshot): in-sample fit only. "
    return text + ("Warnings: " + "; ".join(warnings) + "." if warnings else "No warnings.")
