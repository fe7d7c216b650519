"""One MLflow run per new result, registered all or nothing, and a champion gate that compares
like with like.

A *result* is what the pipeline produced: the model JSON, the evaluation metrics, plots, report,
and the input data they came from (:class:`Result`). :func:`register` logs it as one run with the
packaged model as a new version of the registered model (alias ``candidate``), and moves alias
``champion`` only when the champion metric beats the current champion's *on the same evaluation
data and origins* by more than :data:`~cltv.tracking.champion.INDISTINGUISHABLE` and the naive
baseline on every origin (:func:`cltv.tracking.champion.champion_decision`).

All or nothing: the run's fingerprint tag (a hash of everything the result consists of, from
canonical values, so ``0`` and ``0.0`` are the same setting) is set last, after the model
version exists. A run that raises is ended FAILED by MLflow, a killed one by the next registration;
only a FINISHED run with its fingerprint counts as logged, so a failed registration is done again.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import TrackingError
from ..hyperparameters import flatten, to_config
from . import champion, datasets
from .champion import has_artifacts

OWNER_TAG = "cltv.registered_by"  # marks runs this module opened (orphans are marked FAILED)


@dataclass
class Result:
    """One pipeline result to log. Paths are files; ``artifacts`` maps an artifact folder to files."""
    model_json: Path
    metrics: dict                 # the headline metrics (metrics/evaluation.json); details are artifacts
    data_file: Path               # the input file the result was computed from
    data_label: str               # e.g. "cdnow master", for names and descriptions
    evaluation: dict              # what the metrics were measured on: data digest, split dates
    config: dict                  # the settings the stage read (flat keys), for params and fingerprint
    artifacts: dict[str, list[Path]]
    input_example: pd.DataFrame   # a few RFM rows, the packaged model's example
    datasets: dict[str, pd.DataFrame] = field(default_factory=dict)  # context -> table, for log_input
    code: dict[str, Path] = field(default_factory=dict)  # the packaged code by name (fingerprinted, not logged)
    tags: dict[str, str] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)  # metric -> value per backtest origin (step)
    baseline_losses: list[str] = field(default_factory=list)  # origins where the champion metric loses to the baseline
    # artifact folder -> a function returning more files (e.g. PNGs of the plot tables in ``artifacts``,
    # drawn meanwhile): called only when the result is logged; its sources are fingerprinted, not its files
    drawn: dict[str, Callable[[], list[Path]]] = field(default_factory=dict)


@dataclass
class Registry:
    """Where and how to register: store, experiment, registered model, champion metric."""
    tracking_uri: str
    experiment: str
    model_name: str
    champion_metric: str
    lower_is_better: bool
    artifact_root: Path | None = None  # for a local store: where the experiment keeps artifacts
    lock_file: Path | None = None      # serialises registrations (parallel queue workers)
    project_run_id: str | None = None  # a run opened by `mlflow run`: log into it


def canonical(value):
    """Numbers as floats (so 0 == 0.0), recursively through lists and dicts; other values as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(config: dict, files: dict[str, Path]) -> str:
    """Hash of the canonical settings and the contents of ``files`` (name -> path)."""
    digests = {name: sha256(path) for name, path in sorted(files.items())}
    text = json.dumps({"config": canonical(config), "files": digests}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def evaluation_key(evaluation: dict) -> str:
    """A short, stable id of the evaluation data (``Result.evaluation``)."""
    return hashlib.sha256(json.dumps(canonical(evaluation), sort_keys=True).encode()).hexdigest()[:16]


def git_state(root: Path, ignore: list[str]) -> tuple[str, bool]:
    """The commit checked out in ``root`` and whether files other than ``ignore`` (what the
    pipeline itself writes) differ from it; ("", False) outside git."""
    def git(*args):
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return proc.stdout if proc.returncode == 0 else ""
    changed = [line[3:].strip('"') for line in git("status", "--porcelain", "--untracked-files=all").splitlines()]
    dirty = any(not any(p == i or p.startswith(i.rstrip("/") + "/") for i in ignore) for p in changed)
    return git("rev-parse", "HEAD").strip(), dirty


@contextmanager
def _lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@contextmanager
def store(uri: str) -> Iterator[None]:
    """A damaged or locked tracking database is one :class:`TrackingError` line, not a traceback."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except (DBAPIError, MlflowException) as exc:
        cause = exc  # MLflow wraps some database errors in its own
        while cause is not None and not isinstance(cause, DBAPIError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise TrackingError(f"the MLflow store {uri} cannot be used: {cause.orig} (a damaged or locked database: "
                            "restore it, wait for the other writer, or set MLFLOW_TRACKING_URI to another store)") from exc


def _experiment_id(client, name: str, artifact_root: Path | None) -> str:
    """The experiment's id (created with its artifacts under ``artifact_root``); refused when it
    keeps its artifacts elsewhere on this machine (a copied store, a moved repository)."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return client.create_experiment(name, artifact_location=artifact_root.as_uri() if artifact_root else None)
    where = exp.artifact_location.rstrip("/")
    where = Path(where).as_uri() if where.startswith("/") else where  # MLflow's own default: a plain path
    root = artifact_root.as_uri().rstrip("/") if artifact_root else ""
    if root and where.startswith("file:") and where != root and not where.startswith(root + "/"):
        raise TrackingError(f"experiment '{name}' of this store keeps its artifacts in {where}, not in "
                            f"{root}: the store was copied or the repository moved; set "
                            "registry.experiment to a new name, or MLFLOW_TRACKING_URI to another store")
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def logged_run(client, experiment_id: str, fp: str):
    """The FINISHED run that registered the result with fingerprint ``fp`` and still has its
    artifacts, or None."""
    runs = client.search_runs([experiment_id], f"tags.`cltv.fingerprint` = '{fp}' and attributes.status = 'FINISHED'")
    return next((run for run in runs if has_artifacts(client, run.info.run_id)), None)


def fail_orphans(client, experiment_id: str, keep: str | None = None) -> list[str]:
    """Mark FAILED the runs this module opened that are still RUNNING: registrations hold the
    lock from start to end, so under the lock such a run belongs to a process that died."""
    runs = client.search_runs([experiment_id], f"tags.`{OWNER_TAG}` = 'register' and attributes.status = 'RUNNING'")
    orphans = [r.info.run_id for r in runs if r.info.run_id != keep]
    for run_id in orphans:
        client.set_terminated(run_id, "FAILED")
    return orphans


def register(result: Result, registry: Registry, log_model, name: str, description: str) -> dict:
    """Log ``result`` as one run named ``name`` and register its model (``log_model(model_json,
    example, registered_model_name=...)``, see :func:`cltv.serving.log_model`), unless a finished
    run already holds it. Returns the record {fingerprint, run_id, version, decision, logged,
    experiment (the one the run is in)}."""
    import mlflow
    from mlflow.tracking import MlflowClient

    files = {"model": result.model_json, "data": result.data_file, **{f"code/{name}": p for name, p in result.code.items()},
             **{f"{folder}/{p.name}": p for folder, paths in result.artifacts.items() for p in paths}}
    fp = fingerprint({"config": result.config, "evaluation": result.evaluation, "metrics": result.metrics}, files)
    evaluation = evaluation_key(result.evaluation)
    mlflow.set_tracking_uri(registry.tracking_uri)
    with _lock(registry.lock_file), store(registry.tracking_uri):
        client = MlflowClient()
        exp_id = _experiment_id(client, registry.experiment, registry.artifact_root)
        project = registry.project_run_id
        if project and client.get_run(project).info.experiment_id != exp_id:
            project = None  # `mlflow run` without --experiment-name: the result goes where every result goes
        fail_orphans(client, exp_id, keep=project)
        if done := logged_run(client, exp_id, fp):
            return {"fingerprint": fp, "run_id": done.info.run_id, "logged": False,
                    "version": done.data.tags.get("cltv.model_version", "")}
        if project:
            for key, value in ((OWNER_TAG, "register"), ("mlflow.runName", name)):
                client.set_tag(project, key, value)
        # the owner tag is written with the run itself: a run killed at once is still found as an orphan;
        # a run id always (start_run without one would resume MLFLOW_RUN_ID's run)
        run_id = project or client.create_run(exp_id, run_name=name, tags={OWNER_TAG: "register"}).info.run_id
        with mlflow.start_run(run_id=run_id) as run:
            mlflow.set_tags({"mlflow.note.content": description,
                             "cltv.data_label": result.data_label, "cltv.evaluation_data": evaluation,
                             "cltv.data_fingerprint": f"sha256:{sha256(result.data_file)}",
                             **result.tags})
            _log_contents(result)
            info = log_model(result.model_json, result.input_example, registered_model_name=registry.model_name)
            version = str(info.registered_model_version)
            client.set_registered_model_alias(registry.model_name, "candidate", version)
            for key, value in (("cltv.evaluation_data", evaluation), ("cltv.data_label", result.data_label),
                               ("run_name", name)):
                client.set_model_version_tag(registry.model_name, version, key, value)
            value = champion.logged_value(flatten(result.metrics), registry.champion_metric)
            promote, why = champion.champion_decision(
                client, registry.model_name, version, registry.champion_metric,
                value if isinstance(value, (int, float)) else None, registry.lower_is_better, evaluation,
                bool(result.metrics.get("dropout_degenerate")), tuple(result.baseline_losses),
                int(result.metrics.get("backtest", {}).get("origins", 1)))
            if promote:
                client.set_registered_model_alias(registry.model_name, "champion", version)
            client.set_model_version_tag(registry.model_name, version, "champion_decision", why)
            mlflow.set_tags({"cltv.champion_decision": why, "cltv.model_version": version,
                             "cltv.fingerprint": fp})  # last: the result is now registered
    return {"fingerprint": fp, "run_id": run.info.run_id, "version": version, "decision": why, "logged": True,
            "experiment": registry.experiment}


def _log_contents(result: Result) -> None:
    """Params (the fitted model's own settings and the stage's config), metrics (the headline
    evaluation figures, the fitted parameters with their standard errors, the segment cut-offs),
    datasets and artifacts of ``result`` (among them every other figure, as files)."""
    import mlflow

    model = json.loads(result.model_json.read_text())
    params = to_config(model["hyperparameters"])  # the fitted model's settings under their config names
    params.update({k: v for k, v in result.config.items() if not k.startswith("model.")})
    mlflow.log_params({k: json.dumps(v) if isinstance(v, (list, dict)) else str(v) for k, v in params.items()})
    numbers = {k: v for k, v in flatten({k: v for k, v in result.metrics.items() if k != "warnings"}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for part in ("purchases", "spend"):  # e.g. purchases.r, purchases.r_se, spend.q (the kinds are params)
        numbers.update({f"{part}.{k}": v for k, v in model[part]["params"].items()})
        se = model[part].get("standard_errors") or {}
        numbers.update({f"{part}.{k}_se": v for k, v in se.items() if k in model[part]["params"]})
        for process, effects in (model[part].get("effects") or {}).items():  # e.g. effect.purchases.channel_store
            for name, gamma in effects:  # [name, gamma] pairs in design order
                key = f"effect.{process}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
                while key in numbers:  # two levels alike once sanitised ("a b", "a_b"): both kept
                    key += "_"
                numbers.update({key: gamma, f"{key}_multiplier": math.exp(gamma)})
                if f"{process}:{name}" in se:
                    s = se[f"{process}:{name}"]
                    numbers.update({f"{key}_se": s, f"{key}_multiplier_low": math.exp(gamma - 1.959963984540054 * s),
                                    f"{key}_multiplier_high": math.exp(gamma + 1.959963984540054 * s)})
    numbers.update({f"segment.cutoff_{i + 1}": c for i, c in enumerate(model["segment_cutoffs"])})
    mlflow.log_metrics({k: float(v) for k, v in numbers.items()})
    for step in range(max(map(len, result.series.values()), default=0)):  # step = origin: a curve over origins
        mlflow.log_metrics({k: float(v[step]) for k, v in result.series.items()}, step=step)
    datasets.log(result.datasets, str(result.data_file), result.data_label)
    mlflow.log_dict(result.config, "config/settings.yaml")  # the stage's settings, as the fingerprint saw them
    for folder, paths in result.artifacts.items():
        for path in paths:
            mlflow.log_artifact(str(path), folder)
    for folder, files in result.drawn.items():
        for path in files():
            mlflow.log_artifact(str(path), folder)
