"""cltv.tracking.registry against a real sqlite store and Model Registry: canonical fingerprints,
all-or-nothing registration, the champion gate on the same evaluation data."""
import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cltv import serving
from cltv.tracking import datasets, naming, registry


@pytest.fixture()
def store(tmp_path, sample_model, sample_ch):
    """A fresh store, the CDNOW-sample model and a result around it (evaluation data 'A')."""
    sample_model.save(tmp_path / "model.json")
    (tmp_path / "data.csv").write_text("customer_id,date,amount\n1,1997-01-01,10\n")
    metrics = {"customers": 2357, "mae": 0.8, "baseline_mae": 0.9, "holdout_weeks": 39.0,
               "holdout_purchases_actual": 1882.0, "holdout_purchases_predicted": 1800.0, "warnings": []}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    result = registry.Result(
        model_json=tmp_path / "model.json", metrics=metrics, data_file=tmp_path / "data.csv", data_label="data A",
        evaluation={"data_sha256": "a" * 64, "calibration_end": "1997-09-30"},
        config={"model.purchases.penalizer": 0.0, "data.path": "data.csv"},
        artifacts={"metrics": [tmp_path / "metrics.json"]},
        input_example=sample_ch[["frequency", "recency", "T", "monetary_value"]].head(3),
        datasets={"evaluation": sample_ch.head(20)})
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    where = registry.Registry(uri, "cltv", "cltv", "mae", True, tmp_path / "mlruns", tmp_path / "lock")
    previous = mlflow.get_tracking_uri()
    yield result, where, MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(previous)


def _register(result, where, log_model=serving.log_model):
    return registry.register(result, where, log_model, "a run", "a description")


def test_every_champion_metric_is_a_headline_metric():
    """The champion gate reads the headline (metrics/evaluation.json): a metric outside it could never decide."""
    from cltv.headline import HEADLINE, split
    from pipelines.config import CHAMPION_METRICS

    assert set(CHAMPION_METRICS) <= set(HEADLINE) and HEADLINE[0] == "mae"
    headline, details = split({"aic": 1.0, "spearman": 0.4, "mae": 0.8, "warnings": []})
    assert list(headline) == ["mae", "spearman", "warnings"] and details == {"aic": 1.0}


def test_fingerprint_is_built_from_canonical_values(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert registry.fingerprint({"p": 0, "h": [3, 6]}, {"f": f}) == registry.fingerprint({"p": 0.0, "h": [3.0, 6.0]},
                                                                                       {"f": f})
    assert registry.fingerprint({"p": 0}, {"f": f}) != registry.fingerprint({"p": 0.001}, {"f": f})
    assert registry.fingerprint({"flag": True}, {"f": f}) != registry.fingerprint({"flag": 1}, {"f": f})


def test_a_result_is_logged_once_with_what_was_fitted(store):
    result, where, client = store
    first = _register(result, where)
    assert first["logged"] and first["version"] == "1" and first["decision"] == "promoted: first champion of 'cltv'"
    again = _register(result, where)
    assert not again["logged"] and again["run_id"] == first["run_id"]
    run = client.get_run(first["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "a run"
    assert run.data.tags["mlflow.note.content"] == "a description"
    assert run.data.params["model.fitter"] == "fast" and run.data.params["data.path"] == "data.csv"
    assert run.data.metrics["mae"] == 0.8 and "purchases.r" in run.data.metrics and "spend.q" in run.data.metrics
    assert run.data.metrics["purchases.r_se"] > 0 and run.data.metrics["spend.q_se"] > 0  # delta-method errors
    assert run.data.params["model.purchases.kind"] == "bgnbd" and run.data.params["model.spend.kind"] == "gamma_gamma"
    [dataset] = run.inputs.dataset_inputs
    assert dataset.dataset.name == "data A" and dataset.tags[0].value == "evaluation"


def test_a_failed_registration_is_marked_failed_and_done_again(store):
    result, where, client = store

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with pytest.raises(OSError):
        _register(result, where, broken)
    [failed] = client.search_runs([client.get_experiment_by_name("cltv").experiment_id])
    assert failed.info.status == "FAILED" and "cltv.fingerprint" not in failed.data.tags
    retry = _register(result, where)
    assert retry["logged"] and retry["version"] == "1"
    assert client.get_run(retry["run_id"]).info.status == "FINISHED"


def test_a_killed_registration_is_marked_failed_by_the_next(store):
    result, where, client = store
    mlflow.set_tracking_uri(where.tracking_uri)
    exp = client.create_experiment("cltv", artifact_location=where.artifact_root.as_uri())
    killed = client.create_run(exp, tags={registry.OWNER_TAG: "register"})  # what kill -9 leaves behind
    record = _register(result, where)
    assert record["logged"]
    assert client.get_run(killed.info.run_id).info.status == "FAILED"


def test_champion_is_compared_only_on_the_same_evaluation_data(store):
    result, where, client = store
    _register(result, where)
    other = registry.Result(**{**result.__dict__, "evaluation": {"data_sha256": "b" * 64},
                               "data_label": "data B", "metrics": {**result.metrics, "mae": 0.1}})
    b = _register(other, where)
    assert b["decision"].startswith("kept version 1: not comparable, it was evaluated on other data or origins (data A")
    assert "registry.model_name" in b["decision"]
    better = registry.Result(**{**result.__dict__, "metrics": {**result.metrics, "mae": 0.7}})
    assert _register(better, where)["decision"] == "promoted: mae 0.7 < 0.8 of version 1"
    assert str(client.get_model_version_by_alias("cltv", "champion").version) == "3"
    worse = registry.Result(**{**result.__dict__, "metrics": {**result.metrics, "mae": 0.75}})
    assert _register(worse, where)["decision"] == "kept version 3: mae 0.75 >= 0.7 of version 3"
    alike = registry.Result(**{**result.__dict__, "metrics": {**result.metrics, "mae": 0.700001, "dropout_degenerate": 1}})
    decision = _register(alike, where)["decision"]  # e.g. BG/NBD and Pareto/NBD both in the no-dropout limit
    assert decision.startswith("kept version 3: indistinguishable from it (mae 0.700001 vs 0.7, within 0.20%)")
    assert "the dropout is not identified" in decision
    assert str(client.get_model_version_by_alias("cltv", "champion").version) == "3"


def test_git_state_ignores_what_the_pipeline_writes(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "dvc.lock").write_text("a")
    (tmp_path / "code.py").write_text("a")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    (tmp_path / "dvc.lock").write_text("b")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/evaluation.json").write_text("{}")
    commit, dirty = registry.git_state(tmp_path, ["dvc.lock", "metrics/evaluation.json"])
    assert len(commit) == 40 and not dirty
    (tmp_path / "code.py").write_text("b")
    assert registry.git_state(tmp_path, ["dvc.lock", "metrics/evaluation.json"])[1]


def test_description_says_data_error_and_warnings():
    text = naming.description("cdnow master", {"customers": 23570, "mae": 0.8, "baseline_mae": 1.0,
                                                 "holdout_weeks": 39.0, "holdout_purchases_actual": 100.0,
                                                 "holdout_purchases_predicted": 90.0}, ["q <= 1"])
    assert text == ("Data: cdnow master, 23,570 customers. Holdout (39 weeks): MAE 0.8000 per customer, 20.0% lower "
                    "than the naive baseline's 1.0000; 90 purchases predicted for 100 made. Warnings: q <= 1.")
    assert naming.run_name("cdnow master", {"purchases": "paretonbd", "spend": "gamma_gamma",
                                              "purchases_penalizer": 0.0, "spend_penalizer": 0.01, "clv_months": 6,
                                              "discount_rate": 0.01}) == \
        "Pareto/NBD, penalizers 0/0.01, Gamma-Gamma, cdnow master, 6-month CLV at 1%"


def test_a_champion_whose_artifacts_are_gone_is_logged_again_and_replaced(store):
    """`mlruns/` removed, `mlflow.db` kept: the result counts as not logged, and the new version
    replaces the champion that cannot load."""
    import shutil

    result, where, client = store
    _register(result, where)
    shutil.rmtree(where.artifact_root)
    again = _register(result, where)
    assert again["logged"] and again["version"] == "2"
    assert again["decision"] == "promoted: champion version 1 cannot load, its artifacts are gone"
    served = mlflow.pyfunc.load_model("models:/cltv@champion")
    assert len(served.predict(result.input_example)) == 3


def test_a_store_whose_experiment_keeps_artifacts_elsewhere_is_refused(store, tmp_path_factory):
    """A copied `mlflow.db` (or a moved repository): its experiment's artifacts live in the
    original's folder; nothing is written there."""
    from cltv.errors import TrackingError

    result, where, client = store
    elsewhere = tmp_path_factory.mktemp("original") / "mlruns"
    client.create_experiment("cltv", artifact_location=elsewhere.as_uri())
    with pytest.raises(TrackingError, match="the store was copied or the repository moved"):
        _register(result, where)
    assert not elsewhere.exists() and not client.search_registered_models()
    # an experiment MLflow created itself (`mlflow run --experiment-name`) keeps its artifacts inside
    client.create_experiment("inside", artifact_location=str(where.artifact_root / "7"))  # MLflow's plain path
    inside = registry.Registry(**{**where.__dict__, "experiment": "inside"})
    assert _register(result, inside)["logged"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "locked"])
def test_a_damaged_or_locked_store_is_one_tracking_error(store, damage):
    import sqlite3

    from cltv.errors import TrackingError

    result, where, client = store
    db = Path(where.tracking_uri.removeprefix("sqlite:///"))
    holder = None
    if damage == "garbage":
        db.write_bytes(b"not a database " * 400)
    elif damage == "truncated":
        _register(result, where)
        db.write_bytes(db.read_bytes()[:4096])
    else:
        _register(result, where)
        holder = sqlite3.connect(db, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(TrackingError) as raised:
            _register(registry.Result(**{**result.__dict__, "metrics": {**result.metrics, "mae": 0.5}}), where)
    finally:
        if holder is not None:
            holder.rollback()
            holder.close()
    assert str(raised.value).startswith(f"the MLflow store {where.tracking_uri} cannot be used: ")
    assert "\n" not in str(raised.value)


def test_a_dataset_schema_is_mlflows_own_inference(sample_ch):
    """The fast schema of a logged table is the one MLflow's own dataset infers value by value, on
    the CDNOW table and on covariate columns with missing values (first rows missing, all missing),
    on Python objects whose type changes after the first rows, and on mixed types (no schema)."""
    n = len(sample_ch)
    table = sample_ch.assign(
        channel=pd.Series(["web" if k % 3 else None for k in range(n)], dtype="str"),
        store=[None] * 1500 + ["north"] * (n - 1500),
        age=[float("nan") if k % 7 == 0 else 30.0 + k % 40 for k in range(n)],
        unknown=[None] * n,
        visits=pd.Series([k for k in range(1200)] + [None] + [k for k in range(n - 1201)], dtype=object),
    )
    mixed = sample_ch.assign(code=pd.Series(list(range(1500)) + ["x"] * (n - 1500), dtype=object))
    for frame in (sample_ch, table, table.astype({"store": object}), mixed):
        want = mlflow.data.from_pandas(frame).schema  # MLflow's own inference (None when it fails)
        got = datasets.schema(frame)
        assert (got and got.to_dict()) == (want and want.to_dict())


def test_each_run_shows_its_own_tables(tmp_path, sample_ch):
    """Two runs on the same file with other tables (another split, another covariate): each run's
    datasets show its own columns and row count (MLflow keeps the first dataset of a digest)."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("e", artifact_location=(tmp_path / "a").as_uri()))
        shown = []
        for table in (sample_ch.head(50), sample_ch.head(80).assign(channel="web")):
            with mlflow.start_run() as run:
                datasets.log({"evaluation": table, "training": table.iloc[:, :5]}, "data.csv", "data A")
            got = MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
            shown.append(sorted((d.tags[0].value, json.loads(d.dataset.profile)["num_rows"],
                                 len(json.loads(d.dataset.schema)["mlflow_colspec"])) for d in got))
    finally:
        mlflow.set_tracking_uri(None)
    width = sample_ch.shape[1]
    assert shown == [[("evaluation", 50, width), ("training", 50, 5)], [("evaluation", 80, width + 1), ("training", 80, 5)]]
