"""The suite does not read what a user left in the workspace: after the README's own `dvc exp run`
(which applies its params.yaml, dvc.lock, metrics and plot tables to the workspace), the tests
that read the configuration, dvc.yaml and the layout still pass, run from that workspace."""
import sys

import yaml

from .repo import copy_repo, sh


def test_the_tests_pass_in_the_workspace_a_dvc_exp_run_left(tmp_path):
    repo = copy_repo(tmp_path)
    sh(repo, "dvc", "exp", "run", "-S", "model/purchases=paretonbd", "-S", "model.purchases.penalizer=0.001")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["model"]["purchases"]["kind"] == "paretonbd"  # the workspace is the experiment's
    assert "params.yaml" in sh(repo, "git", "status", "--porcelain").stdout
    proc = sh(repo, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-m", "not slow",
              "tests/test_config.py", "tests/test_dvc_yaml.py", "tests/test_layout.py", check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
