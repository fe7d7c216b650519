"""A fresh clone's `dvc repro` reproduces the committed dvc.lock byte for byte, and the numeric
stages write the same bytes whatever numpy's CPU features, OpenBLAS's kernel and the thread
count (docs/reproducibility.md)."""
import hashlib
import os
import subprocess
import sys

import pytest
import yaml

from .repo import copy_repo, sh

NUMERIC_STAGES = ("prepare", "evaluate", "train", "segment")
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
ENVIRONMENTS = {  # and the default one, in which the fixture's `dvc repro` ran
    "numpy without AVX-512, OpenBLAS kernel unset, 2 threads": {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": None,
        **dict.fromkeys(THREADS, "2")},
    "OpenBLAS kernel unset, 1 thread": {"OPENBLAS_CORETYPE": None, **dict.fromkeys(THREADS, "1")},
    "OpenBLAS Sandybridge kernel, 2 threads": {"OPENBLAS_CORETYPE": "Sandybridge", **dict.fromkeys(THREADS, "2")},
    "OpenBLAS Prescott kernel, 1 thread": {"OPENBLAS_CORETYPE": "Prescott", **dict.fromkeys(THREADS, "1")},
}


def _run(repo, args, changes: dict):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    for key, value in changes.items():
        env.pop(key, None) if value is None else env.__setitem__(key, value)
    proc = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def _locked_outputs(repo) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for stage in NUMERIC_STAGES for o in lock[stage]["outs"]}


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A fresh clone after `dvc repro` (default environment)."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    sh(repo, "dvc", "repro")
    return repo


def test_fresh_clone_repro_leaves_git_clean_then_nothing_to_do(repo):
    assert sh(repo, "git", "status", "--porcelain", "--untracked-files=all").stdout == ""
    assert "Running stage" not in sh(repo, "dvc", "repro").stdout


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_numeric_stages_write_the_committed_bytes_in_every_environment(repo, name):
    for stage in NUMERIC_STAGES:
        _run(repo, [sys.executable, "-m", f"pipelines.{stage}"], ENVIRONMENTS[name])
    locked = _locked_outputs(repo)
    assert {path: _md5(repo / path) for path in locked} == locked


def test_a_stage_started_by_hand_without_the_pin_runs_pinned_and_writes_the_committed_bytes(repo):
    """The outcome, not one CPU's feature flags (numpy may still report AVX512F on a CPU that has
    it while the bytes agree): ``run()`` relaunches a stage without the pin with it, and the stage
    writes the bytes dvc.lock records."""
    from pipelines.common import PINNED_ENV

    (repo / "pipelines/probe.py").write_text(
        "import os\nfrom pipelines.common import pinned\npinned('pipelines.probe')  # as run() does\n"
        "print(os.environ['NPY_DISABLE_CPU_FEATURES'])\n")
    out = _run(repo, [sys.executable, "-m", "pipelines.probe"], {"NPY_DISABLE_CPU_FEATURES": None}).stdout
    assert out.strip() == PINNED_ENV["NPY_DISABLE_CPU_FEATURES"]
    (repo / "pipelines/probe.py").unlink()
    _run(repo, [sys.executable, "-m", "pipelines.train"], {"NPY_DISABLE_CPU_FEATURES": None})
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["train"]["outs"]
    assert {o["path"]: _md5(repo / o["path"]) for o in lock} == {o["path"]: o["md5"] for o in lock}
