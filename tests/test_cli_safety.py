"""`cltv score` destroys nothing it did not write and runs no code of the model it is given: the
output never replaces the input, a folder or a file that is not an earlier scores table, and a
model is checked to be a cltv package (no pickle, cltv's own model code) before anything of it is
loaded. Every refusal is one line with exit code 1, and nothing on disk changes."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest
import yaml

from cltv import serving
from cltv.data import cdnow


@pytest.fixture(scope="module")
def files(tmp_path_factory, sample_model, sample_ch):
    """A packaged cltv model (a local MLflow model folder) and a transaction log it can score."""
    root = tmp_path_factory.mktemp("cli")
    sample_model.save(root / "model.json")
    serving.save_model(root / "model.json", root / "cltv-model", sample_ch.head(3))
    log = root / "orders.csv"
    cdnow.load_cdnow("sample").query("date <= '1997-09-30'").to_csv(log, index=False)
    return root


def score(files: Path, model: Path, output: Path, inputs: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cltv.cli", "score", "--model", str(model), "--input",
                           str(inputs or files / "orders.csv"), "--as-of", "1997-09-30", "--output", str(output)],
                          capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                               if not k.startswith("MLFLOW_")})


def refused(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert words in proc.stderr, proc.stderr


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_earlier_scores_file_is_replaced_and_nothing_else(files, tmp_path):
    out = tmp_path / "scores.csv"
    assert score(files, files / "cltv-model", out).returncode == 0
    first = out.read_bytes()
    assert score(files, files / "cltv-model", out).returncode == 0 and out.read_bytes() == first
    parquet = tmp_path / "scores.parquet"
    assert score(files, files / "cltv-model", parquet).returncode == 0
    assert len(pd.read_parquet(parquet)) == 2357


@pytest.mark.parametrize("case", ["folder", "input", "other csv", "other parquet", "input by a link"])
def test_an_output_the_command_did_not_write_is_refused_and_kept(files, tmp_path, case):
    log = tmp_path / "orders.csv"
    shutil.copy(files / "orders.csv", log)
    if case == "folder":  # the example: a folder with the user's files
        out = tmp_path / "mine.csv"
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    elif case == "input":
        out = log
    elif case == "other csv":
        out = tmp_path / "budget.csv"
        out.write_text("month,amount\n2024-01,100\n")
    elif case == "other parquet":
        out = tmp_path / "customers.parquet"
        pd.DataFrame({"customer_id": ["a"], "name": ["Ada"]}).to_parquet(out)
    else:
        out = tmp_path / "link.csv"
        out.symlink_to(log)
    before = snapshot(tmp_path)
    proc = score(files, files / "cltv-model", out, inputs=log)
    refused(proc, "--output")
    assert snapshot(tmp_path) == before


def evil_model(folder: Path, marker: Path) -> None:
    """An MLflow pyfunc model whose unpickling creates ``marker`` (foreign code)."""
    class Evil(mlflow.pyfunc.PythonModel):
        def __reduce__(self):
            return Path.touch, (marker,)

        def predict(self, context, model_input, params=None):
            return model_input

    mlflow.pyfunc.save_model(str(folder), python_model=Evil())


@pytest.mark.filterwarnings("ignore:Add type hints")
def test_a_pickled_model_is_refused_before_any_of_its_code_runs(files, tmp_path):
    marker = tmp_path / "ran"
    evil_model(tmp_path / "evil", marker)
    marker.unlink(missing_ok=True)  # MLflow's save_model loads it once itself
    refused(score(files, tmp_path / "evil", tmp_path / "s.csv"), "is not a cltv model")
    assert not marker.exists() and not (tmp_path / "s.csv").exists()
    # the trap is real: loading it as MLflow does runs its code
    subprocess.run([sys.executable, "-c", f"import mlflow.pyfunc; mlflow.pyfunc.load_model({str(tmp_path / 'evil')!r})"],
                   capture_output=True)
    assert marker.exists()


@pytest.mark.parametrize("damage", ["no MLmodel", "other model code", "pickle beside", "no model JSON",
                                    "broken model JSON", "unknown parameter"])
def test_a_damaged_or_foreign_package_is_refused_in_one_line(files, tmp_path, damage):
    model = tmp_path / "model"
    shutil.copytree(files / "cltv-model", model)
    meta = yaml.safe_load((model / "MLmodel").read_text())
    json_path = model / meta["flavors"]["python_function"]["artifacts"]["model_json"]["path"]
    if damage == "no MLmodel":
        (model / "MLmodel").unlink()
    elif damage == "other model code":
        (model / "model_code.py").write_text("import os\nos.system('true')\n")
    elif damage == "pickle beside":
        (model / "code" / "helper.pkl").write_bytes(b"\x80\x04N.")
    elif damage == "no model JSON":
        json_path.unlink()
    elif damage == "broken model JSON":
        json_path.write_text("{not json")
    else:
        json_path.write_text(json_path.read_text().replace('"alpha"', '"alpha_x"', 1))
    proc = score(files, model, tmp_path / "s.csv")
    refused(proc, "model")
    assert not (tmp_path / "s.csv").exists()


def test_an_as_of_date_before_the_first_purchase_is_one_line(files, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cltv.cli", "score", "--model", str(files / "cltv-model"), "--input",
                           str(files / "orders.csv"), "--as-of", "1990-01-01", "--output", str(tmp_path / "s.csv")],
                          capture_output=True, text=True)
    refused(proc, "no purchase on or before 1990-01-01")
    assert not (tmp_path / "s.csv").exists()
