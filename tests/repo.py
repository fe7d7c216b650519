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


def copy_repo(dest: Path, keep_lock: bool = True) -> Path:
    """The files a clone has (committed and uncommitted edits, not ignored ones) in a new git
    repository at ``dest``, committed; without stage outputs, as in a fresh clone."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and (not f.startswith(GENERATED) or f.endswith(".gitignore")):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    if not keep_lock:
        (dest / "dvc.lock").unlink(missing_ok=True)
    sh(dest, "git", "init", "-q")
    commit(dest, "copy")
    return dest


def commit(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message, "--allow-empty")
