"""A real `dvc repro` / `dvc exp run` in a temporary copy of the repository."""
import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import yaml

from cltv.backtest import FIGURES
from cltv.schema import interval_columns

from .repo import commit, copy_repo, sh, tool_env

OUTPUTS = ["data/rfm.parquet", "data/calibration.parquet", "metrics/evaluation.json", "models/cltv_model.json",
           "outputs/scores.csv", "outputs/scores.parquet", "outputs/segment_profile.csv", "plots/cumulative_repeat.csv", "models/registry.json",
           "reports/segments.md", "reports/clv_by_segment.png", "data/raw/flo_sample.csv"]
STAGES = ("flo_sample", "cdnow", "prepare", "evaluate", "train", "segment", "report", "register")


def client(repo: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{repo}/mlflow.db"  # the default store of the register stage
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def runs(repo: Path) -> list:
    c = client(repo)
    exp = c.get_experiment_by_name("cltv")
    return c.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


def digests(repo: Path) -> dict[str, str]:
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in OUTPUTS}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh clone without dvc.lock: every stage runs."""
    return copy_repo(tmp_path_factory.mktemp("repo"), keep_lock=False)


def test_repro_runs_every_stage_then_nothing(repo):
    first = sh(repo, "dvc", "repro")
    for stage in STAGES:
        assert f"Running stage '{stage}'" in first.stdout
    scores = pd.read_csv(repo / "outputs/scores.csv", dtype={"customer_id": str})
    assert len(scores) == 23570 and scores["customer_id"].is_unique
    assert list(scores.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value",
                                    "expected_purchases_3m", "expected_purchases_6m", "p_alive",
                                    "expected_value", "clv", "segment", *interval_columns((3, 6), 6), "segment_span"]
    assert scores.select_dtypes("number").notna().all().all()
    assert set(scores["segment"]) == {"A", "B", "C", "D"}
    table = pd.read_parquet(repo / "outputs/scores.parquet")  # the same rows, typed
    assert list(table["segment"].cat.categories) == ["A", "B", "C", "D"]
    pd.testing.assert_frame_equal(table.astype({"segment": str}), scores, check_dtype=False, check_exact=True)
    metrics = json.loads((repo / "metrics/evaluation.json").read_text())
    assert metrics["customers"] == 23570 and metrics["mae"] < metrics["baseline_mae"]
    model = json.loads((repo / "models/cltv_model.json").read_text())
    assert len(model["segment_cutoffs"]) == 3 and model["hyperparameters"]["purchases_penalizer"] == 0

    # one MLflow run with the config, every metric, the fitted parameters, plots, profile, tags
    [run] = runs(repo)
    assert run.data.params["model.purchases.penalizer"] == "0.0" and run.data.params["data.source"] == "cdnow"
    assert run.data.params["model.purchases.kind"] == "bgnbd" and run.data.params["model.spend.kind"] == "gamma_gamma"
    assert run.data.params["model.horizons_months"] == "[3.0, 6.0]" and run.data.params["model.fitter"] == "fast"
    assert run.info.run_name == "BG/NBD, penalizers 0/0, Gamma-Gamma, cdnow master, 6-month CLV at 1%" and run.info.status == "FINISHED"
    assert run.data.tags["mlflow.note.content"].startswith("Data: cdnow master, 23,570 customers. Holdout (39 weeks)")
    assert run.data.tags["cltv.git_dirty"] == "false"  # what the pipeline writes does not count
    assert {d.dataset.name for d in run.inputs.dataset_inputs} == {"cdnow master"}
    assert sorted(d.tags[0].value for d in run.inputs.dataset_inputs) == ["evaluation", "training"]  # both tables
    # the headline: at most 25 figures, holdout error first, every one a metric of the run; the rest is a file
    assert list(metrics)[:2] == ["mae", "baseline_mae"] and len(metrics) <= 25
    assert {k: run.data.metrics[k] for k in metrics if k in run.data.metrics} == \
        {k: float(v) for k, v in metrics.items() if k != "warnings"}
    details = json.loads((repo / "metrics/evaluation_details.json").read_text())
    assert {"aic", "bic", "calibration_fit"} <= set(details) and not set(details) & set(metrics)
    assert len([k for k in run.data.metrics if not k.startswith("backtest.")]) < 50 and "aic" not in run.data.metrics
    summary = json.loads((repo / "metrics/backtest.json").read_text())  # the backtest: its summary and one step per origin
    assert {k for k in run.data.metrics if k.startswith("backtest.")} == {f"backtest.{k}" for k in [*summary, *FIGURES]}
    assert summary["origins"] == 1 and summary["mae_mean"] == metrics["mae"]  # the single split, figure for figure
    assert "metrics/evaluation_details.json" in {a.path for a in client(repo).list_artifacts(run.info.run_id, "metrics")}
    assert run.data.metrics["purchases.r"] == model["purchases"]["params"]["r"]
    assert run.data.metrics["spend.q"] == model["spend"]["params"]["q"]
    commit = sh(repo, "git", "rev-parse", "HEAD").stdout.strip()
    assert run.data.tags["cltv.git_commit"] == commit
    data_sha = hashlib.sha256((repo / "data/raw/transactions.csv").read_bytes()).hexdigest()
    assert run.data.tags["cltv.data_fingerprint"] == f"sha256:{data_sha}"
    assert run.data.tags["cltv.champion_decision"] == "promoted: first champion of 'cltv'"
    c = client(repo)
    artifacts = {a.path for folder in ("plots", "segments") for a in c.list_artifacts(run.info.run_id, folder)}
    assert {"plots/cumulative_repeat.png", "plots/calibration_histogram.png", "plots/holdout_pit.png",
            "segments/segment_profile.csv"} <= artifacts
    assert 0.85 < run.data.metrics["holdout_pit_coverage"] < 0.95  # the CDNOW holdout, 90 % intervals
    assert 0.9 <= run.data.metrics["holdout_coverage"] < 1.0  # lo <= actual <= hi: whole numbers hold more
    v1 = c.get_model_version_by_alias("cltv", "champion")
    assert str(v1.version) == "1" and v1.run_id == run.info.run_id
    assert str(c.get_model_version_by_alias("cltv", "candidate").version) == "1"

    again = sh(repo, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert sh(repo, "dvc", "status").stdout.strip().endswith("up to date.")
    assert len(runs(repo)) == 1


def test_every_table_the_pipeline_writes_scores_through_every_door(repo, tmp_path):
    """data/rfm.parquet and outputs/scores.parquet/.csv as the pipeline wrote them (``frequency``
    an integer column), scored by the registered champion through a Python call, a real server
    (JSON, CSV, Parquet), `mlflow models predict` and `cltv score`: the pipeline's numbers."""
    import requests

    from benchmarks.server import serve

    sh(repo, "dvc", "repro")
    uri = f"sqlite:///{repo}/mlflow.db"
    want = pd.read_parquet(repo / "outputs/scores.parquet").set_index("customer_id")
    rfm = pd.read_parquet(repo / "data/rfm.parquet")
    assert str(rfm["frequency"].dtype) == "int64" and str(want["frequency"].dtype) == "int64"

    def same(got: pd.DataFrame, ids) -> None:
        got = got.set_index(pd.Index(list(ids), dtype="str"))
        assert len(got) == len(ids)
        np.testing.assert_allclose(got["clv"], want.loc[got.index, "clv"], rtol=1e-12)
        assert list(got["segment"]) == list(want.loc[got.index, "segment"].astype(str))

    tables = {"data/rfm.parquet": rfm, "outputs/scores.parquet": pd.read_parquet(repo / "outputs/scores.parquet"),
              "outputs/scores.csv": pd.read_csv(repo / "outputs/scores.csv", dtype={"customer_id": str})}
    python_call = ("import sys, mlflow.pyfunc, pandas as pd\n"
                   "champion = mlflow.pyfunc.load_model('models:/cltv@champion')\n"
                   "for name in sys.argv[1:]:\n"
                   "    table = pd.read_parquet(name) if name.endswith('.parquet') else pd.read_csv(name, dtype={'customer_id': str})\n"
                   "    champion.predict(table).to_parquet(name.replace('/', '_') + '.scored')\n")
    sh(repo, sys.executable, "-c", python_call, *tables, env={"MLFLOW_TRACKING_URI": uri})
    for name, table in tables.items():
        same(pd.read_parquet(repo / (name.replace("/", "_") + ".scored")), table["customer_id"])
    sample = {name: table.sample(300, random_state=1) for name, table in tables.items()}
    with serve("models:/cltv@champion", uri, repo) as url:
        for name, table in sample.items():
            split = table.to_dict(orient="split", index=False)  # Python ints stay ints, floats keep every digit
            bodies = {"application/json": json.dumps({"dataframe_split": split}, default=str),
                      "text/csv": table.to_csv(index=False),
                      "application/vnd.apache.parquet": table.to_parquet(index=False)}
            for kind, body in bodies.items():
                resp = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": kind}, timeout=60)
                assert resp.status_code == 200, (name, kind, resp.text)
                same(pd.DataFrame(resp.json()["predictions"]), table["customer_id"])
        # the answer docs/mlflow.md shows is the one the server gives
        doc = (repo / "docs/mlflow.md").read_text()
        body = re.search(r"-d '(\{\s*\"dataframe_split\".*?\})'", doc, re.DOTALL).group(1)
        shown = json.loads(re.search(r"```json\n(\{\"predictions\".*?\})\n```", doc, re.DOTALL).group(1))
        resp = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=60)
        assert resp.json() == shown, resp.text
        missing = requests.post(f"{url}/invocations", json={"dataframe_records": [{"frequency": 1}]}, timeout=60)
        assert missing.status_code == 400 and {"error_code", "message"} <= set(missing.json())
        assert missing.json()["message"] in " ".join(doc.split()), missing.text  # as docs/mlflow.md shows it
    rows = sample["outputs/scores.csv"]
    rows.to_csv(tmp_path / "req.csv", index=False)
    sh(repo, "mlflow", "models", "predict", "-m", "models:/cltv@champion", "-i", str(tmp_path / "req.csv"), "-t",
       "csv", "--env-manager", "local", "-o", str(tmp_path / "out.json"), env={"MLFLOW_TRACKING_URI": uri})
    same(pd.DataFrame(json.loads((tmp_path / "out.json").read_text())["predictions"]), rows["customer_id"])
    sh(repo, sys.executable, "-m", "cltv.cli", "score", "--model", "models:/cltv@champion", "--input",
       "data/raw/transactions.csv", "--output", str(tmp_path / "scored.csv"), env={"MLFLOW_TRACKING_URI": uri})
    scored = pd.read_csv(tmp_path / "scored.csv", dtype={"customer_id": str})
    same(scored, scored["customer_id"])


def test_forced_rerun_is_byte_identical(repo):
    """A forced rerun writes the same bytes and logs no second MLflow run (scoring and registering
    again here; every numeric stage's bytes in other environments: tests/test_reproducible.py)."""
    sh(repo, "dvc", "repro")
    before = digests(repo)
    forced = "\n".join(sh(repo, "dvc", "repro", "-f", "-s", stage).stdout for stage in ("segment", "register"))
    assert digests(repo) == before
    assert "result unchanged since run" in forced and len(runs(repo)) == 1


def test_exp_run_penalizer_reruns_only_model_stages(repo):
    sh(repo, "dvc", "repro")
    commit(repo, "baseline")
    run = sh(repo, "dvc", "exp", "run", "-S", "model.purchases.penalizer=0.01")
    assert "Running stage 'evaluate'" in run.stdout and "Running stage 'train'" in run.stdout
    assert "Running stage 'prepare'" not in run.stdout and "Running stage 'cdnow'" not in run.stdout
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["purchases"]["penalizer"] == 0.01
    assert "model.purchases.penalizer" in sh(repo, "dvc", "params", "diff").stdout
    diff_proc = sh(repo, "dvc", "metrics", "diff", "--json")
    assert "failed to load" not in diff_proc.stderr  # metrics are tracked by git: HEAD has them
    diff = json.loads(diff_proc.stdout)
    assert diff["metrics/evaluation.json"]["mae"]["diff"] != 0
    name = run.stdout.split("Ran experiment(s): ")[1].split()[0]
    assert name in sh(repo, "dvc", "exp", "show", "--no-pager", "--csv").stdout

    # a second MLflow run to compare: other penalizer, other metrics; champion stays (MAE is worse)
    first, second = runs(repo)
    assert (first.data.params["model.purchases.penalizer"], second.data.params["model.purchases.penalizer"]) == \
        ("0.0", "0.01")
    assert second.data.tags["dvc.exp_name"] == name
    assert second.info.run_name == "BG/NBD, penalizers 0.01/0, Gamma-Gamma, cdnow master, 6-month CLV at 1%"
    assert second.data.metrics["mae"] == diff["metrics/evaluation.json"]["mae"]["new"]
    assert second.data.metrics["mae"] > first.data.metrics["mae"]
    assert second.data.tags["cltv.champion_decision"].startswith("kept version 1: mae")
    c = client(repo)
    assert str(c.get_model_version_by_alias("cltv", "champion").version) == "1"
    assert str(c.get_model_version_by_alias("cltv", "candidate").version) == "2"


def test_mlflow_project_runs_get_the_stages_name_experiment_and_deduplication(repo):
    """`mlflow run` without --experiment-name: the result goes to the configured experiment under
    the stage's name and the project run (experiment Default) points to it; with it, a new result is
    logged into the project run; a rerun with nothing changed registers nothing again."""
    c = client(repo)
    sh(repo, sys.executable, "-m", "pipelines.compose_params", "model.discount_rate=0.015")
    before = len(runs(repo))
    proc = sh(repo, "mlflow", "run", ".", "--env-manager", "local", "-e", "main")
    result = runs(repo)[-1]
    [project] = c.search_runs([c.get_experiment_by_name("Default").experiment_id])
    assert len(runs(repo)) == before + 1 and "in experiment 'cltv'" in proc.stdout + proc.stderr
    assert result.info.run_name.startswith("BG/NBD, penalizers 0/0, Gamma-Gamma, cdnow master, 6-month CLV at 1.50%")
    assert project.info.run_name == f"{result.info.run_name} (logged in experiment 'cltv')"
    assert project.data.tags["cltv.result_run_id"] == result.info.run_id
    version = c.get_model_version_by_alias("cltv", "candidate").version
    assert project.data.tags["cltv.model_version"] == str(version)
    sh(repo, "mlflow", "run", ".", "--env-manager", "local", "-e", "main")  # again, nothing changed
    again = c.search_runs([c.get_experiment_by_name("Default").experiment_id], order_by=["attributes.start_time DESC"])[0]
    assert again.info.run_name == f"{result.info.run_name} (unchanged)" and len(runs(repo)) == before + 1

    train = ["mlflow", "run", ".", "--env-manager", "local", "--experiment-name", "cltv", "-e", "train"]
    sh(repo, *train, "-P", "spend_penalizer=0.001", "-P", "discount_rate=0.015")
    last = runs(repo)[-1]
    assert last.data.params["spend_penalizer"] == "0.001"  # the project's parameter
    assert last.data.params["model.spend.penalizer"] == "0.001"  # the composed config the pipeline ran
    assert last.info.run_name.startswith("BG/NBD, penalizers 0/0.001, Gamma-Gamma")  # the stage's name
    new_version = c.get_model_version_by_alias("cltv", "candidate").version
    assert "mae" in last.data.metrics and last.data.tags["cltv.model_version"] == str(new_version) != str(version)

    proc = sh(repo, *train, "-P", "spend_penalizer=0.001", "-P", "discount_rate=0.015")  # nothing changed
    again = runs(repo)[-1]
    assert c.get_model_version_by_alias("cltv", "candidate").version == new_version  # no duplicate version
    assert len(c.search_model_versions("name='cltv'")) == int(new_version)
    assert again.info.run_name == f"{last.info.run_name} (unchanged)" and not again.data.metrics
    assert again.data.tags["cltv.result_run_id"] == last.info.run_id and "nothing changed" in proc.stdout


def test_bad_input_fails_the_stage_and_keeps_outputs(repo):
    sh(repo, "dvc", "repro")
    before = digests(repo)
    (repo / "mydata").mkdir(exist_ok=True)
    (repo / "mydata/broken.csv").write_text("customer_id,date,amount\nx,1997-01-01,1\nx,1997-01-05,abc\n")
    sh(repo, "dvc", "add", "mydata/broken.csv")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"] = {**params["data"], "source": "transactions", "path": "mydata/broken.csv", "date_format": None}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = sh(repo, "dvc", "repro", check=False)
    assert proc.returncode != 0
    assert "mydata/broken.csv: column 'amount': non-numeric amount at line 3" in proc.stderr + proc.stdout
    assert digests(repo) == before
    assert "changed" in sh(repo, "dvc", "status").stdout


def test_flo_snapshot_runs_end_to_end(repo):
    run = sh(repo, "dvc", "exp", "run", "-S", "data=flo")
    assert "Running stage 'flo_sample'" not in run.stdout  # generated by the first dvc repro already
    assert "selected population" in run.stdout  # the FLO-style selection is flagged in the logs
    scores = pd.read_csv(repo / "outputs/scores.csv")
    assert len(scores) == 20_000 and scores["segment"].value_counts().tolist() == [5000] * 4
    metrics = json.loads((repo / "metrics/evaluation.json").read_text())
    assert metrics["selection_bias_suspected"] == 1 and "insample_chi2" in metrics and "mae" not in metrics
    assert len(metrics) <= 25 and list(metrics)[0] == "insample_chi2"  # the snapshot's headline
    report = (repo / "reports/segments.md").read_text()
    for text in ("## Channels and interests", "last_order_channel: Offline", "top_categories",
                 "## Suggested actions", "selected population", "clv_by_segment.png"):
        assert text in report, text
    assert (repo / "reports/clv_by_segment.png").read_bytes()[:4] == b"\x89PNG"
    # dropout is not identified on this export: no advice rests on P(alive)
    assert "P(alive) is not informative here" in report and "Stay present" not in report
    assert "repeat orders" not in report and "0.0 " not in report
    page = (repo / "reports/segments.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and 'src="data:image/png;base64,' in page and "P(alive) is not" in page
    last = runs(repo)[-1]
    assert last.data.params["data.source"] == "flo" and last.data.metrics["selection_bias_suspected"] == 1.0
    assert "not comparable, it was evaluated on other data or origins (cdnow master" in last.data.tags["cltv.champion_decision"]
    assert {"report/segments.md", "report/segments.html"} <= {
        a.path for a in client(repo).list_artifacts(last.info.run_id, "report")}


def test_own_data_is_tracked_by_dvc_and_never_committed(repo):
    sh(repo, "dvc", "repro")
    commit(repo, "baseline")
    (repo / "mydata").mkdir(exist_ok=True)
    shutil.copy(repo / "data/raw/transactions.csv", repo / "mydata/orders.csv")
    own = ["-S", "data=transactions", "-S", "data.path=mydata/orders.csv", "-S", "data.calibration_end=1997-09-30",
           "-S", "data.observation_end=1998-06-30"]
    refused = sh(repo, "dvc", "exp", "run", *own, check=False)
    assert refused.returncode != 0 and "track it first: dvc add mydata/orders.csv" in refused.stderr
    sh(repo, "git", "checkout", "params.yaml")
    sh(repo, "dvc", "add", "mydata/orders.csv")
    commit(repo, "orders tracked by DVC")
    sh(repo, "dvc", "exp", "run", *own)
    refs = sh(repo, "git", "for-each-ref", "--format=%(refname)", "refs/exps").stdout.split()
    trees = {ref: sh(repo, "git", "ls-tree", "-r", "--name-only", ref).stdout.split() for ref in refs}
    assert not [ref for ref, files in trees.items() if "mydata/orders.csv" in files]
    assert [ref for ref, files in trees.items() if "mydata/orders.csv.dvc" in files]  # DVC's pointer only

    (repo.parent / "outside.csv").write_text("customer_id,date,amount\n")
    outside = sh(repo, "dvc", "exp", "run", "-S", "data.path=../outside.csv", check=False)
    assert outside.returncode != 0
    assert "data.path = '../outside.csv': expected a path inside the repository" in outside.stderr


def test_champion_stays_with_its_data_and_a_sweep_value_0_is_0_0(repo):
    sh(repo, sys.executable, "-m", "pipelines.compose_params")
    sh(repo, "dvc", "repro")
    commit(repo, "baseline")
    champion = client(repo).get_model_version_by_alias("cltv", "champion").version
    sample = sh(repo, "dvc", "exp", "run", "-S", "data=cdnow_sample")
    assert "not comparable, it was evaluated on other data or origins (cdnow master" in sample.stdout
    assert client(repo).get_model_version_by_alias("cltv", "champion").version == champion
    count = len(runs(repo))
    sh(repo, "dvc", "exp", "run", "-S", "model.purchases.penalizer=0")  # 0 == 0.0: the committed result
    assert len(runs(repo)) == count


def stage_processes(pid: int, script: str) -> list:
    """The processes under ``pid`` whose command line runs ``script`` (the shell DVC starts, if it
    does not exec, and the Python process), outermost first; never another repository's."""
    found = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            if script in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:  # ended meanwhile
            pass
    return found


def test_a_killed_registration_is_done_again_by_the_next_run(repo):
    sh(repo, sys.executable, "-m", "pipelines.compose_params", "model.discount_rate=0.02")
    count = len(runs(repo))
    log = repo.parent / "killed_repro.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["dvc", "repro"], cwd=repo, env=tool_env(), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        stage = stage_processes(proc.pid, "-m pipelines.register")
        if stage and len(runs(repo)) > count:  # the run exists: the registration is under way
            for p in reversed(stage):  # the innermost first, so nothing it started carries on
                p.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert proc.wait(timeout=300) != 0
    killed = runs(repo)[-1]
    assert killed.info.status == "RUNNING" and "cltv.fingerprint" not in killed.data.tags
    assert killed.data.tags.get("cltv.registered_by") == "register"  # written with the run: never an unowned orphan
    again = sh(repo, "dvc", "repro")
    assert "Running stage 'register'" in again.stdout and "is candidate" in again.stdout, \
        f"killed run:\n{log.read_text()}\nnext run:\n{again.stdout}"
    assert client(repo).get_run(killed.info.run_id).info.status == "FAILED"
    assert runs(repo)[-1].info.status == "FINISHED" and runs(repo)[-1].data.tags["cltv.model_version"]
