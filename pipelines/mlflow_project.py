"""The last step of MLproject's `main` and `train` entry points (`mlflow run`): the run MLflow
opened says where its result is when another run holds it.

The `register` stage logs a result into the run `mlflow run` opened only when that run is in the
configured experiment (``registry.experiment``) and the result is new. Otherwise (no
``--experiment-name``, or nothing changed since an earlier run) the result lives in that earlier
or separate run, and this step names the project run after it and tags it with the result's run
id and model version (:func:`cltv.tracking.project_run.point_project_run`): no duplicate version,
no unexplained empty run.
"""
import json
import os
import sys

import yaml

from cltv.errors import CLTVError, TrackingError
from cltv.tracking import project_run, registry
from pipelines.common import ROOT, tracking
from pipelines.config import CHAMPION_METRICS, validate


def main() -> None:
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        print("error: python -m pipelines.mlflow_project runs inside `mlflow run` only (MLFLOW_RUN_ID is not set)",
              file=sys.stderr)
        sys.exit(2)
    try:
        p = yaml.safe_load((ROOT / "params.yaml").read_text())
        validate(p)
        reg = p["registry"]
        record = ROOT / "models/registry.json"
        if not record.exists():
            raise TrackingError(f"{record} is missing: the register stage has not run; run `dvc repro`")
        where = registry.Registry(tracking()[1], reg["experiment"], reg["model_name"], reg["champion_metric"],
                                  CHAMPION_METRICS[reg["champion_metric"]], project_run_id=run_id)
        said = project_run.point_project_run(where, json.loads(record.read_text())["fingerprint"])
    except CLTVError as exc:
        print(f"error: mlflow run: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"mlflow run: {said}" if said else f"mlflow run: run {run_id} holds the result")


if __name__ == "__main__":
    main()
