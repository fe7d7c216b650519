"""Model choice by backtest: one DVC queue sweep fits every purchase model on the same data and the
same three origins, each an MLflow run with its kind, the comparison metrics and one step per
origin; the champion gate keeps the best mean over the origins."""
import csv
import io
import json
import time

import pytest

from cltv.tracking.champion import INDISTINGUISHABLE

from .repo import committed, copy_repo, sh
from .test_pipeline import client, runs

KINDS = ("bgnbd", "mbgnbd", "paretonbd")
COMPARISON = ("mae", "baseline_mae", "rmse", "spearman", "holdout_purchases_rel_error", "calibration_chi2_pvalue")


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("sweep"))  # committed, no outputs: each experiment runs from scratch
    queued = sh(repo, "dvc", "exp", "run", "--queue", "-S", f"model/purchases={','.join(KINDS)}", "-S", "evaluate.count=3")
    assert queued.stdout.count("Queued experiment") == len(KINDS)
    sh(repo, "dvc", "queue", "start", "--jobs", str(len(KINDS)))  # registrations take turns (a lock)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = sh(repo, "dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") == len(KINDS), status
    return repo


def test_every_purchase_model_is_a_run_with_the_comparison_metrics(swept):
    by_kind = {r.data.params["model.purchases.kind"]: r for r in runs(swept)}
    assert sorted(by_kind) == sorted(KINDS) and len(runs(swept)) == len(KINDS)
    evaluation = {r.data.tags["cltv.evaluation_data"] for r in by_kind.values()}
    assert len(evaluation) == 1  # the same data, so the champion gate compares them
    for kind, run in by_kind.items():
        assert run.info.status == "FINISHED" and all(k in run.data.metrics for k in COMPARISON), kind
        details = client(swept).download_artifacts(run.info.run_id, "metrics/evaluation_details.json")
        d = json.loads(open(details).read())
        assert d["aic"] == pytest.approx(2 * len(d["calibration_fit"]["purchases"]) - 2 * d["purchases_log_likelihood"])
        artifacts = {f.path for f in client(swept).list_artifacts(run.info.run_id, "plots")}
        assert "plots/frequency_recency_grid.png" in artifacts and "plots/frequency_recency_grid.csv" in artifacts
        # three origins, one MLflow step each; the first is the committed single split, figure for figure
        assert [m.step for m in client(swept).get_metric_history(run.info.run_id, "backtest.mae")] == [0, 1, 2]
        assert run.data.metrics["backtest.origins"] == 3
        if kind == "bgnbd":
            assert run.data.metrics["mae"] == json.loads(committed("metrics/evaluation.json"))["mae"]  # not a workspace's
    # the models differ; the champion is the run with the lowest mean MAE over the origins, or one
    # indistinguishable from it (within INDISTINGUISHABLE), in which case the best run's decision says so
    mean = "backtest.mae_mean"
    assert len({round(r.data.metrics[mean], 6) for r in by_kind.values()}) == len(KINDS)
    best = min(by_kind.values(), key=lambda r: r.data.metrics[mean])
    champion = client(swept).get_model_version_by_alias("cltv", "champion")
    if champion.run_id != best.info.run_id:
        held = client(swept).get_run(champion.run_id).data.metrics[mean]
        assert held <= best.data.metrics[mean] * (1 + INDISTINGUISHABLE)
        assert "indistinguishable" in best.data.tags["cltv.champion_decision"]


def test_exp_show_tabulates_the_sweep(swept):
    table = list(csv.DictReader(io.StringIO(sh(swept, "dvc", "exp", "show", "--csv").stdout)))
    experiments = [row for row in table if row["typ"] in ("branch_commit", "branch_base")]  # not workspace/main
    kinds = sorted(row["model.purchases.kind"] for row in experiments)
    assert kinds == sorted(KINDS), table
    for row in experiments:  # the headline and the backtest's means side by side
        assert float(row["mae"]) > 0 and 0 < float(row["spearman"]) < 1
        assert row["origins"] == "3" and 0 < float(row["mae_mean"]) < float(row["mae"]) and 0 < float(row["gini_mean"]) < 1
