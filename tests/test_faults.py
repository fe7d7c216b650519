"""What the machine refuses ends a stage with one line and keeps the previous outputs: a file-size
limit (like a full disk, the write fails). That a bug keeps its traceback: tests/test_config.py."""
import hashlib
from pathlib import Path
import resource
import subprocess
import sys

import pytest

from pipelines.common import PINNED_ENV as PIN

from .repo import copy_repo, tool_env

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


def test_an_input_larger_than_memory_ends_in_one_line_naming_it(tmp_path_factory, sample_model, sample_ch):
    """A 4 MB .csv.gz that expands to 700 MB of text, read under a 2 GB address-space limit: the
    prepare stage and `cltv score` each end in one line naming the file; nothing is written. Ctrl-C
    while it reads: one line, exit code 130."""
    import signal
    import time

    import gzip

    from cltv import serving

    repo = copy_repo(tmp_path_factory.mktemp("memory"))
    sample_model.save(repo / "sample.json")
    serving.save_model(repo / "sample.json", repo / "packaged", sample_ch[["customer_id", "frequency", "recency", "T",
                                                                             "monetary_value"]].head(3))
    (repo / "mydata").mkdir()
    with gzip.open(repo / "mydata/big.csv.gz", "wb", compresslevel=1) as f:
        f.write(b"customer_id,date,amount\n" + b"a,2020-01-01,5\n" * 50_000_000)
    env = {**tool_env(), **PIN}
    subprocess.run(["dvc", "add", "-q", "mydata/big.csv.gz"], cwd=repo, env=env, check=True)
    subprocess.run([sys.executable, "-m", "pipelines.compose_params", "data=transactions", "data.path=mydata/big.csv.gz",
                    "data.calibration_end=2020-06-30", "data.observation_end=2020-12-31"], cwd=repo, env=env, check=True)

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    for args, where in ((["-m", "pipelines.prepare"], "data"), (["-m", "cltv.cli", "score", "--model", "packaged",
                                                                 "--input", "mydata/big.csv.gz", "--output", "o.csv"],
                                                                "o.csv")):
        proc = subprocess.run([sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, preexec_fn=cap)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
        assert "out of memory" in proc.stderr and "mydata/big.csv.gz" in proc.stderr, proc.stderr
        assert not (repo / where).exists() or where == "data" and not any((repo / "data").glob("*.parquet"))

    for stop, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):  # Ctrl-C, `kill`
        reading = subprocess.Popen([sys.executable, "-m", "pipelines.prepare"], cwd=repo, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and reading.poll() is None:  # interrupt once it is reading the file
            status = (Path(f"/proc/{reading.pid}/status")).read_text()
            if int(status.split("VmRSS:")[1].split()[0]) > 400_000:
                break
            time.sleep(0.05)
        reading.send_signal(stop)
        out, err = reading.communicate(timeout=60)
        assert reading.returncode == code and err == "interrupted: prepare stopped; the previous outputs are kept\n", err
        assert not any((repo / "data").glob("*.parquet"))
        assert [p.name for p in (repo / "data").glob(".*") if p.name != ".gitignore"] == []  # no temporary file left
