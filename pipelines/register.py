"""Stage `register`: log the result as one MLflow run and register the packaged model, all or nothing
(:mod:`cltv.tracking.registry`, docs/mlflow.md); models/registry.json holds the result's fingerprint."""
import json
import os

import pandas as pd

from cltv import backtest, serving
from cltv.hyperparameters import flatten
from cltv.io import read_parquet, write_json
from cltv.model import CLTVModel
from cltv.plots import SPECS, drawing
from cltv.tracking import naming, registry
from pipelines.common import ROOT, data_label, fit_warnings, pipeline_outputs, run, tracking
from pipelines.config import CHAMPION_METRICS
from pipelines.settings import with_attributes


def main(p: dict) -> None:
    with drawing(ROOT / "plots") as pngs:
        _register(p, pngs)


def _register(p: dict, pngs) -> None:
    d, reg = p["data"], p["registry"]
    root, uri = tracking()
    model_json, metrics_json = ROOT / "models/cltv_model.json", ROOT / "metrics/evaluation.json"
    model, metrics = CLTVModel.load(model_json), json.loads(metrics_json.read_text())  # the headline
    summary, origins = json.loads((ROOT / "metrics/backtest.json").read_text()), pd.read_csv(ROOT / "plots/backtest.csv")
    if summary["origins"]:  # a log: the champion metric's mean over the origins decides, see cltv.tracking.champion
        metrics["backtest"] = summary
    plan = [f"{a}..{b}" for a, b in zip(origins["calibration_end"], origins["holdout_end"])]
    training = with_attributes(p, read_parquet(ROOT / "data/rfm.parquet"))  # with the covariates' columns
    label, data = data_label(d), ROOT / d["path"]
    commit, dirty = registry.git_state(ROOT, pipeline_outputs())
    result = registry.Result(
        model_json=model_json, metrics=metrics, data_file=data, data_label=label,
        evaluation={"data_sha256": registry.sha256(data), **{k: d[k] for k in (
            "source", "calibration_end", "observation_end", "seed_compatible")},
            **({"acquired_after": d["acquired_after"]} if d["acquired_after"] is not None else {}),
            **({"origins": plan} if len(plan) > 1 or plan and plan[0] != f"{d['calibration_end']}..{d['observation_end']}"
               else {})},
        config=flatten(p), input_example=training.head(3),
        artifacts={"model_json": [model_json], "metrics": [metrics_json, ROOT / "metrics/evaluation_details.json",
                                                    ROOT / "metrics/backtest.json", ROOT / "metrics/data_quality.json"],
                   "segments": [ROOT / "outputs/segment_profile.csv"],
                   "plots": [ROOT / f"plots/{n}.csv" for n in SPECS],
                   "report": [ROOT / f"reports/{f}" for f in ("segments.md", "segments.html", "clv_by_segment.png")]},
        datasets={"evaluation": read_parquet(ROOT / "data/calibration.parquet"),
                  "training": training},
        code={str(f.relative_to(serving.PACKAGE_DIR)): f for f in sorted(serving.PACKAGE_DIR.rglob("*.py"))},
        tags={"mlflow.source.git.commit": commit, "cltv.git_commit": commit, "cltv.git_dirty": str(dirty).lower(),
              "cltv.data_path": d["path"], "cltv.warnings": "; ".join(fit_warnings(metrics, model)) or "none",
              **({"dvc.exp_name": os.environ["DVC_EXP_NAME"]} if os.environ.get("DVC_EXP_NAME") else {})},
        series={f"backtest.{k}": origins[k].tolist() for k in
                backtest.FIGURES + backtest.COVARIATE_FIGURES + backtest.SEASON_FIGURES if k in origins.columns},
        baseline_losses=backtest.baseline_losses(origins, reg["champion_metric"]) if len(origins) else [],
        drawn={"plots": pngs})  # drawn by a second process meanwhile; logged only with a new result
    where = registry.Registry(uri, reg["experiment"], reg["model_name"], reg["champion_metric"],
                              CHAMPION_METRICS[reg["champion_metric"]], root / "mlruns" if uri.startswith("sqlite:")
                              else None, root / ".dvc/tmp/mlflow.lock", os.environ.get("MLFLOW_RUN_ID"))
    name, text = naming.run_name(label, model.to_dict()["hyperparameters"]), naming.description(
        label, metrics, fit_warnings(metrics, model))
    record = registry.register(result, where, serving.log_model, name, text)
    print(f"register: run {record['run_id']} '{name}' in experiment '{record.get('experiment')}' ({uri}); '{reg['model_name']}' "
          f"version {record['version']} is candidate; champion {record['decision']}" if record["logged"] else
          f"register: result unchanged since run {record['run_id']} (version {record['version']}); nothing logged")
    write_json(ROOT / "models/registry.json", {"fingerprint": record["fingerprint"], "experiment": reg["experiment"],
                                               "registered_model": reg["model_name"]})


if __name__ == "__main__":
    run(main)
