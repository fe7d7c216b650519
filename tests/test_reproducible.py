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
        _run(repo, [sys.executable, f"pipelines/{stage}.py"], ENVIRONMENTS[name])
    locked = _locked_outputs(repo)
    assert {path: _md5(repo / path) for path in locked} == locked


def test_stages_run_with_numpy_avx512_code_switched_off(repo):
    (repo / "pipelines/probe.py").write_text(
        "import os\nimport common  # noqa: F401\nimport numpy as np\n"
        "features = np._core._multiarray_umath.__cpu_features__\n"
        "print(os.environ['NPY_DISABLE_CPU_FEATURES'], features['AVX512F'], features['AVX512_SKX'])\n")
    out = _run(repo, [sys.executable, "pipelines/probe.py"], {"NPY_DISABLE_CPU_FEATURES": None}).stdout
    assert out.split() == ["X86_V4", "AVX512_ICL", "AVX512_SPR", "False", "False"]
