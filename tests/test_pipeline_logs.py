"""Real `dvc exp run`s on logs a user brings: a retail export of invoice lines, a log with its
customers' attributes (covariates), a seasonal log. A module of its own (with its own copy of the
repository) so that the suite's two workers share the pipeline tests (tests/conftest.py starts the
longest modules first)."""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .repo import RETAIL_OVERRIDES, commit, copy_repo, sh
from .test_pipeline import client, runs


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh clone (committed dvc.lock, no outputs); each test brings its own data."""
    return copy_repo(tmp_path_factory.mktemp("logs"))


def test_an_invoice_line_export_runs_by_configuration_alone(repo):
    (repo / "mydata").mkdir(exist_ok=True)
    sh(repo, sys.executable, "-m", "cltv.data.simulate", "invoices", "--customers", "5000", "--seed", "1",
       "--out", "mydata/retail.csv")
    sh(repo, "dvc", "add", "mydata/retail.csv")
    commit(repo, "retail export tracked by DVC")
    args = [a for o in RETAIL_OVERRIDES for a in ("-S", o)]
    run = sh(repo, "dvc", "exp", "run", *args)
    assert "prepare: " in run.stdout and "missing customer" in run.stdout
    assert "Warning" not in run.stdout + run.stderr  # no numpy (or other) warning from valid input in any stage
    quality = json.loads((repo / "metrics/data_quality.json").read_text())
    assert quality["rows_read"] == quality["rows_kept"] + sum(quality["dropped"].values())
    assert min(quality["dropped"][k] for k in ("filtered", "missing_customer", "cancellation", "cancelled_in_full")) > 0
    assert quality["cancellations"]["orders_cancelled_in_full"] > 0 and quality["cancellations"]["unmatched"] == 0
    assert quality["cohort"]["acquired_after"] is None and not quality["left_censoring"]["suspected"]
    metrics = json.loads((repo / "metrics/evaluation.json").read_text())
    assert metrics["customers"] > 2_500 and metrics["mae"] < metrics["baseline_mae"]
    assert "Data quality:" in (repo / "reports/segments.md").read_text()
    logged = client(repo).download_artifacts(runs(repo)[-1].info.run_id, "metrics/data_quality.json", str(repo))
    assert json.loads(Path(logged).read_text()) == quality
    # the model records the rules it was trained with; `cltv score` reads the raw export by them (no options)
    assert json.loads((repo / "models/cltv_model.json").read_text())["data_rules"]["customer_col"] == "Customer ID"
    sh(repo, sys.executable, "-m", "cltv.cli", "score", "--model", f"runs:/{runs(repo)[-1].info.run_id}/model",
       "--input", "mydata/retail.csv", "--as-of", "2021-06-30", "--output", "retail_scores.parquet",
       env={"MLFLOW_TRACKING_URI": f"sqlite:///{repo}/mlflow.db"})
    want = pd.read_parquet(repo / "data/rfm.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(repo / "retail_scores.parquet")[want.columns], want)
    # the cohort rule: fit on customers first seen after the log's first 13 weeks, score everyone
    sh(repo, "dvc", "exp", "run", *args, "-S", "data.acquired_after=13")
    ruled = json.loads((repo / "metrics/data_quality.json").read_text())["cohort"]
    assert ruled["cutoff"] == "2020-04-01" and ruled["customers_scored_not_fitted"] > 0
    assert json.loads((repo / "metrics/evaluation.json").read_text())["customers"] == ruled["calibration_customers_fitted"]
    assert len(pd.read_parquet(repo / "outputs/scores.parquet")) == len(want)
    assert f"fitted on the {ruled['customers_fitted']:,} customers first seen after 2020-04-01" in \
        (repo / "reports/segments.md").read_text()
    assert runs(repo)[-1].data.params["data.acquired_after"] == "13"


def test_covariates_from_an_attributes_table_are_fitted_reported_served_and_scored(repo):
    """A log whose online customers buy more often and spend more, with their channel in an
    attributes table (data.customers.path): `dvc exp run` with model.covariates fits the effects
    and reports them (model JSON, evaluation details, MLflow, report); the served model and
    `cltv score` need the channel and refuse a request without it."""
    import requests

    from benchmarks.server import serve
    from cltv.data.simulate import simulate_transactions

    n = 4000
    online, north = np.random.default_rng(4).integers(0, 2, (2, n))
    log = simulate_transactions(n, attributes=pd.DataFrame({"online": online, "north": north}), seed=4,
                                effects={"purchases": {"online": 0.6}, "spend": {"online": 0.4}, "dropout": {"north": 0.8}})
    log["store"] = np.where(north, "north", "south")[log["customer_id"].str[1:].astype(int)]  # a column of the log
    (repo / "mydata").mkdir(exist_ok=True)
    log.to_csv(repo / "mydata/channel_log.csv", index=False)
    attributes = pd.DataFrame({"id": [f"c{i:08d}" for i in range(n)], "channel": np.where(online, "web", "shop")})
    attributes.to_csv(repo / "data/attributes/channels.csv", index=False)
    sh(repo, "dvc", "add", "mydata/channel_log.csv", "data/attributes/channels.csv")
    commit(repo, "a log and its customers' channels, tracked by DVC")
    args = ["-S", "data=transactions", "-S", "data.path=mydata/channel_log.csv", "-S", "data.calibration_end=2020-12-31",
            "-S", "data.observation_end=2021-06-30", "-S", "data.customers.path=data/attributes/channels.csv",
            "-S", "data.customers.id_col=id", "-S", "model.covariates.purchases=[channel]",
            "-S", "model.covariates.spend=[channel]", "-S", "data.first_purchase=[store]",
            "-S", "model.covariates.dropout=[first_store]"]
    run = sh(repo, "dvc", "exp", "run", *args)
    assert "train: channel=" in run.stdout and "Warning" not in run.stdout + run.stderr
    model = json.loads((repo / "models/cltv_model.json").read_text())
    (name, gamma), = model["purchases"]["effects"]["purchases"]  # the rarer channel against the commoner one
    assert name == f"channel={'web' if (online == 1).sum() < (online == 0).sum() else 'shop'}"
    assert abs(abs(gamma) - 0.6) < 3 * model["purchases"]["standard_errors"][f"purchases:{name}"]
    assert model["designs"]["spend"][0]["name"] == "channel" and model["designs"]["dropout"][0]["name"] == "first_store"
    details = json.loads((repo / "metrics/evaluation_details.json").read_text())["covariates"]
    assert details["tests"]["purchases"]["p_value"] < 1e-3 and len(details["effects"]) == 3
    assert "Covariates (whole-history fit): channel " in (repo / "reports/segments.md").read_text()
    last = runs(repo)[-1]
    assert f"effect.purchases.{name.replace('=', '_')}_multiplier_low" in last.data.metrics
    assert "covariates channel" in last.info.run_name

    uri = f"sqlite:///{repo}/mlflow.db"
    table = pd.read_parquet(repo / "data/rfm.parquet").head(50)
    stores = pd.read_parquet(repo / "data/customers.parquet", columns=["customer_id", "first_store"])
    with_channel = table.merge(attributes.rename(columns={"id": "customer_id"}), on="customer_id").merge(stores)
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:  # the signature names the request's columns
        inputs = mlflow.models.get_model_info(f"runs:/{last.info.run_id}/model").signature.inputs.input_names()
    finally:
        mlflow.set_tracking_uri(None)
    assert {"channel", "first_store", "frequency"} <= set(inputs)
    with serve(f"runs:/{last.info.run_id}/model", uri, repo) as url:
        body = {"dataframe_split": with_channel.to_dict(orient="split", index=False)}
        assert requests.post(f"{url}/invocations", json=body, timeout=60).status_code == 200
        body = {"dataframe_split": table.to_dict(orient="split", index=False)}
        resp = requests.post(f"{url}/invocations", json=body, timeout=60)
        assert resp.status_code == 400 and "no column(s) [" in resp.text and "'channel'" in resp.text, resp.text
        body = {"dataframe_split": with_channel.drop(columns="first_store").to_dict(orient="split", index=False)}
        resp = requests.post(f"{url}/invocations", json=body, timeout=60)
        assert resp.status_code == 400 and "no column(s) ['first_store']" in resp.text, resp.text
    score = [sys.executable, "-m", "cltv.cli", "score", "--model", f"runs:/{last.info.run_id}/model", "--input",
             "mydata/channel_log.csv", "--as-of", "2021-06-30", "--output", "channel_scores.parquet"]
    refused = sh(repo, *score, check=False, env={"MLFLOW_TRACKING_URI": uri})
    assert refused.returncode == 1 and "pass --attributes FILE" in refused.stderr and refused.stderr.count("\n") == 1
    sh(repo, *score, "--attributes", "data/attributes/channels.csv", "--attributes-id", "id",
       env={"MLFLOW_TRACKING_URI": uri})  # the first purchase's store: read from the log by the model's data rules
    got = pd.read_parquet(repo / "channel_scores.parquet").set_index("customer_id")
    want = pd.read_parquet(repo / "outputs/scores.parquet").set_index("customer_id")
    np.testing.assert_allclose(got.loc[want.index, "clv"], want["clv"], rtol=1e-12)


def test_a_seasonal_log_is_fitted_with_its_season_and_forecasts_the_christmas_quarter(repo):
    """Two simulated years with +60 % in November and December: `dvc exp run -S
    model.season.shape=months` fits the season (train's line, the model JSON, plots/season.csv,
    the report, the run name) and forecasts the Christmas quarter within 3 %, where the model
    without a season falls short by more than 10 %; `cltv score` scores from its --as-of day; a
    calendar of promotions alone (data.calendar, no shape) is fitted too."""
    from cltv.data.simulate import monthly, simulate_transactions

    log = simulate_transactions(20_000, start="2021-01-01", end="2022-12-31", acquisition_weeks=26, seed=5,
                                season=monthly({11: 1.6, 12: 1.6}))
    (repo / "mydata").mkdir(exist_ok=True)
    log.to_csv(repo / "mydata/season_log.csv", index=False)
    sh(repo, "dvc", "add", "mydata/season_log.csv")
    commit(repo, "a seasonal log, tracked by DVC")
    args = ["-S", "data=transactions", "-S", "data.path=mydata/season_log.csv", "-S", "data.calibration_end=2022-09-30",
            "-S", "data.observation_end=2022-12-31"]
    sh(repo, "dvc", "exp", "run", *args)
    plain = json.loads((repo / "metrics/evaluation.json").read_text())
    run = sh(repo, "dvc", "exp", "run", *args, "-S", "model.season.shape=months")
    assert "train: season months: likelihood ratio" in run.stdout and "month=11 x1.4" in run.stdout
    seasonal = json.loads((repo / "metrics/evaluation.json").read_text())
    assert abs(seasonal["holdout_purchases_rel_error"]) < 0.03 < 0.10 < -plain["holdout_purchases_rel_error"]
    model = json.loads((repo / "models/cltv_model.json").read_text())
    assert model["season"]["end"] == "2022-12-31" and len(model["season"]["delta"]) == 11
    year = pd.read_csv(repo / "plots/season.csv")
    assert year.loc[year["date"].str[5:7] == "11", "multiplier"].min() > 1.3 > year["multiplier"].iloc[200]
    assert "Season (months, whole-history fit, scored from 2022-12-31)" in (repo / "reports/segments.md").read_text()
    assert runs(repo)[-1].info.run_name.startswith("BG/NBD, penalizers 0/0, Gamma-Gamma, season months, ")
    uri = f"sqlite:///{repo}/mlflow.db"
    score = [sys.executable, "-m", "cltv.cli", "score", "--model", f"runs:/{runs(repo)[-1].info.run_id}/model",
             "--input", "mydata/season_log.csv", "--output", "season_scores.parquet"]
    sh(repo, *score, "--as-of", "2022-12-31", env={"MLFLOW_TRACKING_URI": uri})
    got = pd.read_parquet(repo / "season_scores.parquet").set_index("customer_id")
    want = pd.read_parquet(repo / "outputs/scores.parquet").set_index("customer_id")
    np.testing.assert_allclose(got.loc[want.index, "clv"], want["clv"], rtol=1e-12)
    assert set(got["scoring_date"]) == {"2022-12-31"}
    sh(repo, *score, "--as-of", "2022-06-30", env={"MLFLOW_TRACKING_URI": uri})  # the summer before: scored from it
    early = pd.read_parquet(repo / "season_scores.parquet").set_index("customer_id")
    assert early["T"].max() < got["T"].max() and set(early["scoring_date"]) == {"2022-06-30"}
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:  # the served model says which day it scores from: the training end
        served = mlflow.pyfunc.load_model(f"runs:/{runs(repo)[-1].info.run_id}/model").predict(
            pd.read_parquet(repo / "data/rfm.parquet").head(5))
    finally:
        mlflow.set_tracking_uri(None)
    assert list(served["scoring_date"]) == ["2022-12-31"] * 5
    table = pd.read_parquet(repo / "data/rfm.parquet").head(5)
    mlflow.set_tracking_uri(uri)
    try:  # a request may name its own day; a bad one is refused in one line
        model = mlflow.pyfunc.load_model(f"runs:/{runs(repo)[-1].info.run_id}/model")
        later = model.predict(table.assign(scoring_date="2023-03-31"))
        with pytest.raises(mlflow.exceptions.MlflowException, match="column 'scoring_date': 'soon' is not a date"):
            model.predict(table.assign(scoring_date="soon"))
    finally:
        mlflow.set_tracking_uri(None)
    assert list(later["scoring_date"]) == ["2023-03-31"] * 5
    assert later["expected_purchases_3m"].sum() != served["expected_purchases_3m"].sum()
    calendar = pd.DataFrame({"date": pd.date_range("2021-01-01", "2022-12-31").strftime("%Y-%m-%d")})
    calendar["promo"] = (calendar["date"].str[8:] == "01").astype(int)  # calendar covariates alone: no shape
    calendar.to_csv(repo / "data/attributes/promotions.csv", index=False)
    sh(repo, "dvc", "add", "data/attributes/promotions.csv")
    commit(repo, "a calendar of promotions, tracked by DVC")
    events = sh(repo, "dvc", "exp", "run", *args, "-S", "data.calendar=data/attributes/promotions.csv")
    assert "train: season none + promo: likelihood ratio" in events.stdout and "promo x" in events.stdout
