"""A copy of the repository to run real `dvc repro` / `dvc exp run` / stage commands in."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: stage outputs kept out of a fresh copy (a clean clone has none of them)
GENERATED = ("data/", "models/", "outputs/", "reports/")
KEPT = ("data/attributes/",)  # committed inputs among them (the customer attributes' folder)


def tool_env() -> dict:
    """This process's environment with this interpreter's tools first on PATH and no MLFLOW_* variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**base, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def sh(repo: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command in ``repo`` (see :func:`tool_env`); fail with its output unless it exits 0."""
    proc = subprocess.run(args, cwd=repo, env={**tool_env(), **(env or {})}, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def committed(path: str) -> bytes | None:
    """``path`` as the last commit holds it (None when it is not committed)."""
    proc = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def pipeline_written() -> set[str]:
    """The committed files the pipeline rewrites in a workspace: params.yaml, dvc.lock, the
    metrics and plot tables (what `dvc exp run` leaves behind)."""
    from pipelines.common import pipeline_outputs

    return {p for p in pipeline_outputs() if not p.startswith(GENERATED)}


def copy_repo(dest: Path, keep_lock: bool = True) -> Path:
    """The files a clone has in a new git repository at ``dest``, committed; without stage
    outputs, as in a fresh clone. Code and configuration come with uncommitted edits (what is
    being developed); what the pipeline itself writes (params.yaml, dvc.lock, metrics, plot
    tables) comes from the last commit, never from what a `dvc exp run` left in the workspace:
    commit a regenerated dvc.lock before running the tests."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    written = pipeline_written()
    for f in files:
        if (ROOT / f).is_file() and (not f.startswith(GENERATED) or f.endswith(".gitignore") or f.startswith(KEPT)):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            head = committed(f) if f in written else None
            if head is None:
                shutil.copy2(ROOT / f, dest / f)
            else:
                (dest / f).write_bytes(head)
    if not keep_lock:
        (dest / "dvc.lock").unlink(missing_ok=True)
    sh(dest, "git", "init", "-q")
    commit(dest, "copy")
    return dest


def commit(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message, "--allow-empty")


#: `dvc exp run -S` settings of a retail export of invoice lines (docs/configuration.md), as written by
#: ``python -m cltv.data.simulate invoices --out mydata/retail.csv``
RETAIL_OVERRIDES = ["data=transactions", "data.path=mydata/retail.csv", "data.customer_col='Customer ID'",
                    "data.date_col=InvoiceDate", "data.amount_col=null", "data.quantity_col=Quantity",
                    "data.price_col=Price", "data.invoice_col=Invoice", "data.product_col=StockCode",
                    "data.cancellations.invoice_prefix=C",
                    "data.missing_customer=drop", "data.timezone=Europe/Istanbul", "data.filter.column=Country",
                    "data.filter.values=['United Kingdom']", "data.calibration_end=2020-09-29",
                    "data.observation_end=2021-06-30"]
