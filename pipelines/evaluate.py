"""Stage `evaluate`: fit on the calibration period, score the holdout.

metrics/evaluation.json  holdout errors of the model and of the naive baseline, chi-square, ...
plots/*.csv              data of the three DVC plots declared in dvc.yaml
"""
import pandas as pd
from common import ROOT, run

from cltv.evaluate import evaluate
from cltv.io import write_csv, write_json
from cltv.model import CLTVModel


def main(p: dict) -> None:
    calibration = pd.read_parquet(ROOT / "data/calibration.parquet")
    daily = pd.read_parquet(ROOT / "data/daily.parquet")
    model = CLTVModel(**p["model"]).fit(calibration)
    metrics, plots = evaluate(calibration, daily, model, p["data"]["calibration_end"], p["data"]["observation_end"])
    for name, table in plots.items():
        write_csv(ROOT / f"plots/{name}.csv", table)
    write_json(ROOT / "metrics/evaluation.json", metrics)
    print(f"evaluate: holdout purchases actual {metrics['holdout_purchases_actual']:.0f}, "
          f"predicted {metrics['holdout_purchases_predicted']:.1f}; MAE {metrics['mae']:.4f} "
          f"(baseline {metrics['baseline_mae']:.4f})")


if __name__ == "__main__":
    run(main)
