"""What the machine refuses ends a stage with one line and keeps the previous outputs: a file-size
limit (like a full disk, the write fails). That a bug keeps its traceback: tests/test_config.py."""
import hashlib
import resource
import subprocess
import sys

import pytest

from .repo import copy_repo, tool_env

PIN = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
OUTPUTS = ["metrics/evaluation.json", "plots/holdout_pit.csv", "plots/frequency_recency_grid.csv"]


def stage(repo, name: str, limit: int | None = None) -> subprocess.CompletedProcess:
    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([sys.executable, "-m", f"pipelines.{name}"], cwd=repo, env={**tool_env(), **PIN},
                          capture_output=True, text=True, preexec_fn=cap if limit else None)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    for name in ("cdnow", "prepare", "evaluate"):
        assert stage(repo, name).returncode == 0
    return repo


def digest(repo) -> dict:
    return {p: hashlib.md5((repo / p).read_bytes()).hexdigest() for p in OUTPUTS}


@pytest.mark.parametrize("limit", [100, 2_000])
def test_a_file_size_limit_ends_the_stage_in_one_line_and_keeps_the_outputs(repo, limit):
    before = digest(repo)
    (repo / "metrics/evaluation.json").write_text((repo / "metrics/evaluation.json").read_text())  # same bytes
    proc = stage(repo, "evaluate", limit=limit)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: evaluate: File too large"), proc.stderr
    assert "previous outputs are kept" in proc.stderr
    assert digest(repo) == before
    leftovers = [p.name for d in ("metrics", "plots") for p in (repo / d).iterdir() if p.name.startswith(".")]
    assert leftovers == []

