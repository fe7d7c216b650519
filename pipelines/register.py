"""Stage `register`: log the pipeline's result as one MLflow run and register the packaged model.

One run per *new* result. The result's fingerprint (a hash of everything this stage reads: the
composed params, the model, metrics, plots, segment profile, input data and the packaged code)
is a run tag; when a run with the same fingerprint exists (e.g. after `dvc repro -f` gave
byte-identical results) nothing new is logged. Under `mlflow run` (MLFLOW_RUN_ID set) the
result goes into the project's run instead.

The run holds: params (the composed config, flattened), metrics (every number of
metrics/evaluation.json, the fitted parameters, training counts, segment cut-offs), artifacts
(model JSON, metrics, plot tables and PNGs, segment profile, params.yaml), tags (git commit,
data fingerprint, DVC lock hash, warnings, champion decision) and the pyfunc model, registered
as a new version of `registry.model_name` with alias `candidate`; alias `champion` moves to it
only when `registry.champion_metric` beats the current champion's.

models/registry.json (the stage output) holds the fingerprint, experiment and model name, so
DVC's cache and the MLflow record agree: a stage DVC skips or restores has its run already.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import yaml
from common import ROOT, fit_warnings, run
from config import CHAMPION_METRICS

from cltv import serving
from cltv.io import write_json
from cltv.model import CLTVModel
from cltv.plots import SPECS, save_png

OUTPUT = ROOT / "models/registry.json"
MODEL = ROOT / "models/cltv_model.json"
METRICS = ROOT / "metrics/evaluation.json"
PROFILE = ROOT / "outputs/segment_profile.csv"
REPORT = [ROOT / "reports/segments.md", ROOT / "reports/clv_by_segment.png"]
RFM = ROOT / "data/rfm.parquet"


def repository_root() -> Path:
    """The user's repository. DVC sets DVC_ROOT to it also when an experiment runs in a temporary
    copy under .dvc/tmp/exps (`--temp`, `--queue`), whose files vanish afterwards."""
    return Path(os.environ.get("DVC_ROOT", ROOT)).resolve()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v) if isinstance(v, list) else str(v)
    return out


def dvc_lock_hash() -> str:
    """Hash of the dvc.lock entries of the stages before this one (what produced the result)."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text()) if (ROOT / "dvc.lock").exists() else {}
    stages = {k: v for k, v in (lock or {}).get("stages", {}).items() if k != "register"}
    return hashlib.sha256(json.dumps(stages, sort_keys=True).encode()).hexdigest()


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@contextmanager
def store_lock(root: Path):
    """Serialise registrations (parallel `dvc queue` workers share one sqlite store)."""
    path = root / ".dvc/tmp/mlflow.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def experiment_id(client, name: str, artifacts: Path | None) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(name, artifact_location=artifacts.as_uri() if artifacts else None)
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def champion_decision(client, name: str, version: str, metric: str, value: float | None,
                      lower_is_better: bool) -> tuple[bool, str]:
    """Whether ``version`` becomes the champion, and why (recorded on the run)."""
    from mlflow.exceptions import MlflowException

    try:
        current = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        current = None
    if current is None:
        return True, f"promoted: first champion of '{name}'"
    if value is None:
        return False, f"kept version {current.version}: this result has no '{metric}'"
    old = client.get_run(current.run_id).data.metrics.get(metric) if current.run_id else None
    if old is None:
        return True, f"promoted: champion version {current.version} has no '{metric}'"
    better = value < old if lower_is_better else value > old
    cmp = ("<" if lower_is_better else ">") if better else (">=" if lower_is_better else "<=")
    verb = "promoted" if better else f"kept version {current.version}"
    digits = 6 if f"{value:.6g}" != f"{old:.6g}" else 17  # show the difference when it is tiny
    return better, f"{verb}: {metric} {value:.{digits}g} {cmp} {old:.{digits}g} of version {current.version}"


def main(p: dict) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    reg = p["registry"]
    data_file = ROOT / p["data"]["path"]
    plot_files = {name: ROOT / f"plots/{name}.csv" for name in SPECS}
    inputs = {"model": MODEL, "metrics": METRICS, "profile": PROFILE, "data": data_file, **plot_files,
              **{f"report/{f.name}": f for f in REPORT},
              **{f"code/{f.name}": f for f in sorted(serving.PACKAGE_DIR.glob("*.py"))}}
    digests = {k: sha256(v) for k, v in inputs.items()}
    fingerprint = hashlib.sha256(json.dumps({"params": p, "files": digests}, sort_keys=True).encode()).hexdigest()
    record = {"fingerprint": fingerprint, "experiment": reg["experiment"], "registered_model": reg["model_name"]}

    root = repository_root()
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    local_store = uri.startswith("sqlite:")
    project_run = os.environ.get("MLFLOW_RUN_ID")
    model = CLTVModel.load(MODEL)
    metrics = json.loads(METRICS.read_text())

    with store_lock(root):
        client = MlflowClient()
        exp_id = experiment_id(client, reg["experiment"], root / "mlruns" if local_store else None)
        if not project_run:
            same = client.search_runs([exp_id], f"tags.`cltv.fingerprint` = '{fingerprint}'", max_results=1)
            if same:
                print(f"register: result unchanged since run {same[0].info.run_id} "
                      f"({same[0].data.tags.get('cltv.model_version', '?')} of '{reg['model_name']}'); nothing logged")
                write_json(OUTPUT, record)
                return
        run_name = os.environ.get("DVC_EXP_NAME") or (
            f"{p['data']['source']} bg={p['model']['bgnbd_penalizer']:g} gg={p['model']['gg_penalizer']:g}")
        with mlflow.start_run(run_id=project_run, experiment_id=None if project_run else exp_id,
                              run_name=None if project_run else run_name) as active:
            params = flatten({k: p[k] for k in ("data", "model", "registry")})
            params["model.segment_count"] = str(len(p["model"]["segment_labels"]))
            mlflow.log_params(params)
            numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            numbers.update({f"bgnbd.{k}": v for k, v in model.bgnbd_params_.items()})
            numbers.update({f"gamma_gamma.{k}": v for k, v in model.gg_params_.items()})
            numbers.update({f"segment.cutoff_{i + 1}": c for i, c in enumerate(model.segment_cutoffs_)})
            numbers.update({f"training.{k}": float(v) for k, v in model.training_.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)})
            mlflow.log_metrics(numbers)
            commit = os.environ.get("DVC_EXP_BASELINE_REV") or git("rev-parse", "HEAD")
            mlflow.set_tags({
                "mlflow.source.git.commit": commit,
                "cltv.git_commit": commit,
                "cltv.git_dirty": str(bool(git("status", "--porcelain"))).lower(),
                "cltv.data_fingerprint": f"sha256:{digests['data']}",
                "cltv.data_path": p["data"]["path"],
                "cltv.dvc_lock_hash": f"sha256:{dvc_lock_hash()}",
                "cltv.fingerprint": fingerprint,
                "cltv.warnings": "; ".join(fit_warnings(metrics, model)) or "none",
                **({"dvc.exp_name": os.environ["DVC_EXP_NAME"]} if os.environ.get("DVC_EXP_NAME") else {}),
            })
            for path, folder in [(MODEL, "model_json"), (METRICS, "metrics"), (PROFILE, "segments"),
                                 (ROOT / "params.yaml", "config"), *((f, "plots") for f in plot_files.values()),
                                 *((f, "report") for f in REPORT)]:
                mlflow.log_artifact(str(path), folder)
            with tempfile.TemporaryDirectory() as tmp:
                for name, f in plot_files.items():
                    table = pd.read_csv(f)
                    if not table.empty:  # a snapshot has no holdout plots
                        save_png(name, table, Path(tmp) / f"{name}.png")
                        mlflow.log_artifact(str(Path(tmp) / f"{name}.png"), "plots")

            example = pd.read_parquet(RFM).head(3)
            info = serving.log_model(MODEL, example, registered_model_name=reg["model_name"])
            version = str(info.registered_model_version)
            client.set_registered_model_alias(reg["model_name"], "candidate", version)
            value = numbers.get(reg["champion_metric"])
            promote, why = champion_decision(client, reg["model_name"], version, reg["champion_metric"], value,
                                             CHAMPION_METRICS[reg["champion_metric"]])
            if promote:
                client.set_registered_model_alias(reg["model_name"], "champion", version)
            mlflow.set_tags({"cltv.model_version": f"version {version}", "cltv.champion_decision": why})
            client.set_model_version_tag(reg["model_name"], version, "champion_decision", why)
            client.set_model_version_tag(reg["model_name"], version, "run_name", run_name)
            print(f"register: run {active.info.run_id} in experiment '{reg['experiment']}' ({uri}); "
                  f"'{reg['model_name']}' version {version} is candidate; champion {why}")
    write_json(OUTPUT, record)


if __name__ == "__main__":
    run(main)
