"""Stage `evaluate`: how well the model fits.

Transaction logs: fit on the calibration period, score the holdout (with data.acquired_after: the
customers first seen after its cut-off only, cltv.data.cohort). A FLO snapshot has no
holdout: fit on everything and report in-sample goodness of fit and diagnostics.

metrics/evaluation.json  the headline (cltv.headline, at most 25, holdout error first): holdout
                         errors of the model and of the naive baseline (logs) or in-sample checks
                         (snapshots), interval coverage, diagnostics flags, "warnings" (in words)
metrics/evaluation_details.json  every other figure: log-likelihoods, AIC/BIC, chi-square details,
                         the calibration fit's parameters
plots/*.csv              data of the DVC plots declared in dvc.yaml (holdout plots empty for a
                         snapshot), among them the PIT histogram of the predictive intervals
"""
import pandas as pd

from cltv.data import cohort
from cltv.evaluate import evaluate, evaluate_in_sample
from cltv.headline import split
from cltv.io import write_csv, write_json
from cltv.model import CLTVModel
from pipelines.common import ROOT, run
from pipelines.settings import model_params


def main(p: dict) -> None:
    calibration = pd.read_parquet(ROOT / "data/calibration.parquet")
    if p["data"]["acquired_after"] is not None:  # the cohort rule: fit and measure on customers acquired after it
        calibration = calibration[cohort.fitted(calibration, p["data"]["calibration_end"],
                                                p["data"]["acquired_after"])].reset_index(drop=True)
    model = CLTVModel(**model_params(p)).fit(calibration)
    if p["data"]["source"] == "flo":
        metrics, plots = evaluate_in_sample(calibration, model)
        summary = (f"in-sample chi2 {metrics['insample_chi2']:.1f} ({metrics['insample_chi2_dof']} d.f.), "
                   f"customers without repeat purchase {metrics['zero_repeat_observed']:.0f} observed vs "
                   f"{metrics['zero_repeat_expected']:.1f} expected")
    else:
        daily = pd.read_parquet(ROOT / "data/daily.parquet")
        if p["data"]["acquired_after"] is not None:
            daily = daily[daily["customer_id"].isin(calibration["customer_id"])].reset_index(drop=True)
        metrics, plots = evaluate(calibration, daily, model, p["data"]["calibration_end"], p["data"]["observation_end"])
        summary = (f"holdout purchases actual {metrics['holdout_purchases_actual']:.0f}, predicted "
                   f"{metrics['holdout_purchases_predicted']:.1f}; MAE {metrics['mae']:.4f} "
                   f"(baseline {metrics['baseline_mae']:.4f}); {metrics['interval_level']:.0%} intervals hold for "
                   f"{metrics['holdout_coverage']:.1%} of customers ({metrics['holdout_above']:.1%} above, "
                   f"{metrics['holdout_below']:.1%} below; randomised PIT {metrics['holdout_pit_coverage']:.1%}, "
                   f"spend {metrics['holdout_spend_pit_coverage']:.1%})")
    for name, table in plots.items():
        write_csv(ROOT / f"plots/{name}.csv", table)
    headline, details = split(metrics)
    write_json(ROOT / "metrics/evaluation_details.json", details, sort_keys=False)  # parameters in model order
    write_json(ROOT / "metrics/evaluation.json", headline, sort_keys=False)
    print(f"evaluate: {summary}")
    for note in metrics["warnings"]:
        print(f"evaluate: WARNING {note}")


if __name__ == "__main__":
    run(main)
