"""The Spark engine (cltv.engines.spark) on local Spark: the same RFM tables, the same fit from the
distinct histories, the same scores through mlflow.pyfunc.spark_udf as the pandas path."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from cltv.data import cdnow, rfm
from cltv.engines import spark as engine
from cltv.errors import DataError
from cltv.model import CLTVModel
from cltv.schema import RFM_COLUMNS, interval_columns

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install '.[spark]'")
    if problem := engine.java_missing():
        pytest.skip(problem)  # says how to install Java; shown in the test summary, never silent
    session = engine.session("local[2]", shuffle_partitions=4)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def master_csv(tmp_path_factory):
    tx = cdnow.load_cdnow("master")
    path = tmp_path_factory.mktemp("cdnow") / "transactions.csv"
    tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    return path, tx


def _same(spark_table: pd.DataFrame, pandas_table: pd.DataFrame) -> None:
    """Whole numbers and texts equal exactly, floats within 1e-12 relative, customer by customer."""
    a = spark_table.sort_values("customer_id").reset_index(drop=True)
    b = pandas_table.sort_values("customer_id").reset_index(drop=True)
    assert list(a["customer_id"]) == list(b["customer_id"])
    for column in b.columns.drop("customer_id"):
        if pd.api.types.is_integer_dtype(b[column]) or not pd.api.types.is_numeric_dtype(b[column]):
            assert list(a[column]) == list(b[column]), column
        else:
            np.testing.assert_allclose(a[column].to_numpy(dtype=float), b[column].to_numpy(dtype=float),
                                       rtol=1e-12, atol=1e-12, err_msg=column)


def test_cdnow_rfm_in_spark_equals_the_pandas_path(spark, master_csv, tmp_path):
    path, tx = master_csv
    daily = rfm.daily_purchases(tx)
    want_ch = rfm.calibration_holdout(daily, CAL_END, OBS_END)
    want_full = rfm.rfm(daily, OBS_END)
    # a CSV file, the same log as a folder of Parquet part files, and as pandas writes it (nanoseconds)
    spark.createDataFrame(tx.assign(date=tx["date"].dt.date)).repartition(3).write.parquet(str(tmp_path / "parts"))
    tx.to_parquet(tmp_path / "pandas.parquet")
    for source in (path, tmp_path / "parts", tmp_path / "pandas.parquet"):
        sdaily = engine.daily_purchases(engine.read_transactions(spark, source, date_format="%Y-%m-%d"))
        ch = engine.calibration_holdout(sdaily, CAL_END, OBS_END).toPandas()
        assert len(ch) == 23_570 and int(ch["frequency"].sum()) == 24_337
        _same(ch, want_ch)
        _same(engine.rfm(sdaily, OBS_END).toPandas(), want_full)
    # written as Parquet part files, replaced whole
    engine.write_parquet(engine.rfm(sdaily, OBS_END), tmp_path / "rfm", partitions=3)
    assert len(list((tmp_path / "rfm").glob("*.parquet"))) == 3
    _same(pd.read_parquet(tmp_path / "rfm"), want_full)


def test_an_invoice_line_export_reads_as_pandas_reads_it(spark, tmp_path):
    """Invoice lines (quantity x price), cancellations (full orders and parts of lines), guests
    dropped, one market, times with offsets converted to the shop's time zone: the same
    transactions, data-quality account and RFM as the pandas reader, from CSV and Parquet, with
    and without a product column; with it, the cancellation counts equal the generator's."""
    from cltv.data.simulate_invoices import simulate_invoices, write_invoices
    from cltv.data.transactions import LogSpec, load_log

    from .test_transactions import truth

    end = "2021-06-30"
    spec = LogSpec(customer_col="Customer ID", date_col="InvoiceDate", amount_col=None, quantity_col="Quantity",
                   price_col="Price", invoice_col="Invoice", product_col="StockCode", cancel_prefix="C",
                   missing_customer="drop", timezone="Europe/Istanbul", filter_column="Country",
                   filter_values=("United Kingdom",))
    lines, ledger = simulate_invoices(20_000, end=end, seed=3)
    ledger = ledger[ledger["country"] == "United Kingdom"]
    netting = dataclasses.replace(spec, cancellations="net", nonpositive="drop")
    latest = dataclasses.replace(spec, product_col=None)  # the latest purchase on or before each cancellation
    for name, rules in (("export.csv.gz", spec), ("export.parquet", spec), ("export.csv.gz", netting),
                        ("export.parquet", netting), ("export.csv.gz", latest)):
        write_invoices(lines, tmp_path / name)
        want, want_quality = load_log(tmp_path / name, rules, end=end)
        got, quality = engine.read_log(spark, tmp_path / name, rules, end=end)
        assert quality.as_dict() == want_quality.as_dict(), (name, rules.cancellations)
        assert quality.dropped["missing_customer"] > 0 and quality.cancellations["orders_cancelled_in_full"] > 0
        if rules.product_col:
            expected = truth(ledger, rules.cancellations)
            assert {k: quality.cancellations[k] for k in expected} == expected, (name, rules.cancellations)
        if rules is netting:
            assert quality.netted_cancellations > 0 and quality.cancellations["spend_netted"] > 0
        else:
            assert quality.dropped["cancellation"] > 0
        _same(engine.rfm(engine.daily_purchases(got), end).toPandas(), rfm.rfm(rfm.daily_purchases(want), end))


def test_bad_rows_name_the_file_the_column_and_values(spark, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,amount\nx,1997-01-01,1\nx,1997-01-05,abc\n")
    with pytest.raises(DataError, match=r"bad.csv: column 'amount': non-numeric or missing amount in 1 row\(s\), "
                                        r"e.g. 'abc'"):
        engine.read_transactions(spark, bad)
    guest = tmp_path / "guest.csv"
    guest.write_text("customer_id,date,amount\n ,1997-01-01,1\n")
    with pytest.raises(DataError, match="missing customer id"):
        engine.read_transactions(spark, guest)
    with pytest.raises(DataError, match="missing column"):
        engine.read_transactions(spark, bad, amount_col="value")
    epoch = tmp_path / "epoch.csv"  # epoch seconds written as text, read as pandas reads them
    epoch.write_text("customer_id,date,amount\na, 1577836800,5\na,1580515200,6\nb,1583020800 ,7\n")
    days = engine.read_transactions(spark, epoch).toPandas().sort_values(["customer_id", "date"])
    assert [str(d)[:10] for d in days["date"]] == ["2020-01-01", "2020-02-01", "2020-03-01"]
    fractional = tmp_path / "fractional.parquet"  # as the pandas reader: a fraction is no id, 12417.0 is 12417
    pd.DataFrame({"customer_id": [12417.0, 1.5], "date": ["1997-01-01"] * 2, "amount": [1.0, 2.0]}).to_parquet(fractional)
    with pytest.raises(DataError, match="not a fraction such as 1.5"):
        engine.read_transactions(spark, fractional)


def test_fit_from_distinct_histories_equals_the_fit_on_every_customer(spark, master_csv):
    path, tx = master_csv
    full = rfm.rfm(rfm.daily_purchases(tx), OBS_END)
    table = engine.rfm(engine.daily_purchases(engine.read_transactions(spark, path)), OBS_END)
    distinct = engine.distinct_histories(table)
    assert int(distinct["customers"].sum()) == len(full) and len(distinct) < len(full) / 2
    ours = engine.fit(CLTVModel(interval_level=None), table)
    want = CLTVModel(interval_level=None).fit(full)
    # the purchase model sees the same distinct (x, t_x, T) with the same counts: the same numbers
    assert ours.purchases_.params == want.purchases_.params
    # Spark sums a customer's amounts in another order (monetary values differ by up to 1.3e-15);
    # both fits go on to the optimum, which those differences move by far less than 1e-10
    got, expected = ours.spend_.params, want.spend_.params
    assert max(abs(got[k] / expected[k] - 1) for k in expected) < 1e-10
    np.testing.assert_allclose(ours.segment_cutoffs_, want.segment_cutoffs_, rtol=1e-10)
    assert (ours.predict(full)["segment"] == want.predict(full)["segment"]).all()
    # the cohort rule: the same customers fitted (first seen after 1997-02-15), everyone in the cut-offs
    from cltv.data import cohort

    ours = engine.fit(CLTVModel(interval_level=None), table, OBS_END, "1997-02-15")
    want = CLTVModel(interval_level=None).fit(full, cohort=cohort.fitted(full, OBS_END, "1997-02-15"))
    assert ours.training_["customers"] == want.training_["customers"] < len(full) / 2
    assert ours.training_["customers_scored_not_fitted"] == want.training_["customers_scored_not_fitted"]
    assert ours.purchases_.params == want.purchases_.params
    np.testing.assert_allclose(ours.segment_cutoffs_, want.segment_cutoffs_, rtol=1e-10)


def test_spark_udf_scores_equal_the_pandas_scores(spark, master_csv, tmp_path, sample_ch, sample_model):
    import mlflow

    from cltv.serving import log_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("spark", artifact_location=(tmp_path / "a").as_uri()))
        sample_model.save(tmp_path / "model.json")
        with mlflow.start_run():
            info = log_model(tmp_path / "model.json", sample_ch[["customer_id", *RFM_COLUMNS]].head(3))
        table = spark.createDataFrame(sample_ch[["customer_id", *RFM_COLUMNS]]).repartition(3)
        scored = engine.score(spark, info.model_uri, table).toPandas().sort_values("customer_id")
        # a user's own spark_udf on integer columns, as the pipeline writes frequency
        from pyspark.sql import functions as F

        udf = mlflow.pyfunc.spark_udf(spark, info.model_uri, env_manager="local", result_type="clv double, segment string")
        longs = table.withColumn("frequency", F.col("frequency").cast("long"))
        direct = (longs.select("customer_id", udf(F.struct(*longs.columns)).alias("s"))
                  .select("customer_id", "s.clv", "s.segment").toPandas().sort_values("customer_id"))
    finally:
        mlflow.set_tracking_uri(None)
    want = sample_model.predict(sample_ch).sort_values("customer_id")
    assert list(scored["customer_id"]) == list(want["customer_id"]) == list(direct["customer_id"])
    np.testing.assert_allclose(direct["clv"], want["clv"], rtol=1e-9)
    assert list(direct["segment"]) == list(want["segment"].astype(str))
    assert list(scored["segment"]) == list(want["segment"].astype(str))
    assert list(scored["segment_span"]) == list(want["segment_span"])
    for column in ("expected_purchases_3m", "expected_purchases_6m", "p_alive", "expected_value", "clv",
                   *interval_columns((3, 6), 12)):
        np.testing.assert_allclose(scored[column].to_numpy(dtype=float), want[column].to_numpy(dtype=float),
                                   rtol=1e-9, err_msg=column)


def test_cltv_score_with_the_spark_engine_writes_what_pandas_scores(spark, tmp_path, sample_model, capsys):
    import mlflow

    from cltv import cli
    from cltv.serving import log_model

    tx = cdnow.load_cdnow("sample")
    log = tmp_path / "log.csv"
    tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")).to_csv(log, index=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("cli", artifact_location=(tmp_path / "a").as_uri()))
        sample_model.save(tmp_path / "model.json")
        with mlflow.start_run():
            uri = log_model(tmp_path / "model.json", pd.DataFrame(
                {"frequency": [1.0], "recency": [2.0], "T": [3.0], "monetary_value": [4.0]})).model_uri
        assert cli.main(["score", "--model", uri, "--input", str(log), "--engine", "spark", "--master", "local[2]",
                         "--output", str(tmp_path / "scores.parquet")]) == 0
        want = cli.score(uri, log).sort_values("customer_id").reset_index(drop=True)
    finally:
        mlflow.set_tracking_uri(None)
    assert "cltv score: 2,357 customers" in capsys.readouterr().out
    got = pd.read_parquet(tmp_path / "scores.parquet").sort_values("customer_id").reset_index(drop=True)
    assert list(got["customer_id"]) == list(want["customer_id"]) and list(got["segment"]) == list(want["segment"])
    np.testing.assert_allclose(got["clv"], want["clv"], rtol=1e-9)
    assert (got["purchases_3m_hi"].to_numpy() == want["purchases_3m_hi"].to_numpy()).all()
    # a bad request is one line, exit code 1
    assert cli.main(["score", "--model", uri, "--input", str(tmp_path / "none.csv"), "--engine", "spark",
                     "--output", str(tmp_path / "x.parquet")]) == 1
    assert "none.csv: file not found" in capsys.readouterr().err


def test_exp_run_with_the_spark_engine_gives_the_pandas_segments(spark, master_csv, tmp_path_factory):
    """`dvc exp run -S engine=spark` runs the whole pipeline on CDNOW with Spark (prepare, train from
    the distinct histories, segment with spark_udf) and gives the pandas engine's segments."""
    from .repo import copy_repo, sh

    repo = copy_repo(tmp_path_factory.mktemp("repo"), keep_lock=False)
    run = sh(repo, "dvc", "exp", "run", "-S", "engine=spark")
    for stage in ("prepare", "train", "segment"):
        assert f"Running stage '{stage}'" in run.stdout
    assert "23,570 customers (23,570 in the calibration cohort)" in run.stdout and "rows read in Spark" in run.stdout
    assert (repo / "data/rfm.parquet").is_dir()  # Parquet part files
    assert (repo / "outputs/scores.parquet").is_dir()  # written by the executors
    got = pd.read_csv(repo / "outputs/scores.csv", dtype={"customer_id": str})
    table = pd.read_parquet(repo / "outputs/scores.parquet")
    pd.testing.assert_frame_equal(table.astype({"segment": str}), got, check_dtype=False, check_exact=True)
    full = rfm.rfm(rfm.daily_purchases(master_csv[1]), OBS_END)
    want = CLTVModel().fit(full).predict(full)  # the pandas engine's defaults (conf/model/default.yaml)
    assert list(got.columns) == list(want.columns) and list(got["customer_id"]) == list(want["customer_id"])
    for column in ("segment", "segment_span"):
        assert (got[column].astype(str).to_numpy() == want[column].astype(str).to_numpy()).all(), column
    for column in ("frequency", "purchases_3m_lo", "purchases_3m_hi", "purchases_6m_hi"):
        assert (got[column].to_numpy(dtype=float) == want[column].to_numpy(dtype=float)).all(), column
    for column in want.columns.drop(["customer_id", "segment", "segment_span"]):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9, atol=1e-12, err_msg=column)
    quality = __import__("json").loads((repo / "metrics/data_quality.json").read_text())
    assert quality["rows_read"] == 69_659 and quality["customers"] == 23_570 and quality["nonpositive_kept"] == 80
    # what the Spark reader does not apply yet is refused before any work, in one line
    bad = sh(repo, "dvc", "exp", "run", "-S", "engine=spark", "-S", "data=flo", check=False)
    assert bad.returncode != 0 and "engine.kind = 'spark': a FLO snapshot" in bad.stderr + bad.stdout


@pytest.mark.slow
def test_a_master_that_cannot_be_reached_is_one_engine_error():
    """Spark gives up on an unreachable standalone master after about a minute (`-m slow`)."""
    import subprocess
    import sys

    code = ("from cltv.engines.spark import session\nfrom cltv.errors import EngineError\n"
            "try:\n    session('spark://127.0.0.1:1')\nexcept EngineError as e:\n    print('EngineError:', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.stdout.startswith("EngineError: Spark did not start with engine.master='spark://127.0.0.1:1'")
    assert proc.stdout.count("\n") == 1, proc.stdout


def test_covariates_in_spark_give_the_pandas_attributes_fit_and_scores(spark, tmp_path, capsys):
    """The log's own attributes (first purchase) and an attributes table, joined in Spark; the fit
    from distinct (history, covariate) rows; spark_udf and `cltv score --engine spark` scores:
    the pandas path's numbers. A customer without attributes is refused in one line."""
    import mlflow

    from cltv import cli, covariates
    from cltv.data.prepare import prepare
    from cltv.data.simulate import simulate_transactions
    from cltv.data.spec import DataSpec
    from cltv.engines import spark_attributes
    from cltv.serving import log_model

    n = 2000
    online = np.random.default_rng(4).integers(0, 2, n)
    log = simulate_transactions(n, attributes=pd.DataFrame({"online": online}), seed=4,
                                effects={"purchases": {"online": 0.6}, "spend": {"online": 0.4}})
    ids = [f"c{i:08d}" for i in range(n)]
    log["channel"] = log["customer_id"].map(dict(zip(ids, np.where(online, "web", "shop"))))
    log.to_csv(tmp_path / "log.csv", index=False)
    pd.DataFrame({"id": ids, "region": np.where(np.arange(n) % 3, "south", "north"),
                  "age": np.arange(n) % 7 + 20}).to_csv(tmp_path / "attributes.csv", index=False)
    spec = DataSpec(first_purchase=("channel",))
    cov = {"purchases": ["first_channel", "age"], "dropout": ["region"], "spend": ["first_channel"]}
    names = covariates.names(cov)

    out = prepare(tmp_path / "log.csv", spec, "2020-12-31", "2021-06-30")
    customers = covariates.join(out.customers, covariates.read_attributes(tmp_path / "attributes.csv", "id"),
                                ["region", "age"], "attributes.csv")
    want = CLTVModel(covariates=cov, interval_level=0.9).fit(covariates.join(out.rfm, customers, names, "customers"))

    tx, _ = engine.read_log(spark, tmp_path / "log.csv", spec, end="2021-06-30")
    daily = engine.daily_purchases(tx)
    table = engine.rfm(daily, "2021-06-30")
    attributes = spark_attributes.read_attributes(spark, tmp_path / "attributes.csv", "id")
    joined = spark_attributes.attach(spark_attributes.first_purchase(tx, daily, table), attributes, "attributes.csv")
    _same(joined.toPandas(), customers)  # first purchase day's spend and channel, region as text, age as a number
    ours = engine.fit(CLTVModel(covariates=cov, interval_level=0.9), table, customers=joined)
    # the same rows and counts; the weighted mean and scale of age differ from the unweighted in the last digit
    for got, expected in ((ours.purchases_, want.purchases_), (ours.spend_, want.spend_)):
        np.testing.assert_allclose(got.values, expected.values, rtol=1e-9)
        for process, effects in expected.effects.items():
            np.testing.assert_allclose(list(got.effects[process].values()), list(effects.values()), rtol=1e-9)
    assert [d.effects() for d in ours.designs_.values()] == [d.effects() for d in want.designs_.values()]

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("cov", artifact_location=(tmp_path / "a").as_uri()))
        ours.data_rules_ = spec.to_dict()  # as `train` records them: cltv score reads the log by them
        ours.save(tmp_path / "model.json")
        scored_table = table.join(joined.select("customer_id", *names), "customer_id")
        example = scored_table.orderBy("customer_id").limit(3).toPandas()
        with mlflow.start_run():
            uri = log_model(tmp_path / "model.json", example).model_uri
        assert set(names) <= set(mlflow.models.get_model_info(uri).signature.inputs.input_names())
        scored = engine.score(spark, uri, scored_table, names).toPandas().sort_values("customer_id")
        expected = ours.predict(scored_table.toPandas()).sort_values("customer_id")
        for column in ("p_alive", "clv", *interval_columns(ours.horizons_months, ours.clv_months)):
            np.testing.assert_allclose(scored[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float),
                                       rtol=1e-9, err_msg=column)
        assert list(scored["segment"]) == list(expected["segment"].astype(str))
        args = ["score", "--model", uri, "--input", str(tmp_path / "log.csv"), "--as-of", "2021-06-30"]
        assert cli.main([*args, "--engine", "spark", "--output", str(tmp_path / "s.parquet")]) == 1
        err = capsys.readouterr().err.splitlines()[-1]
        assert "the model has covariates" in err and "'age'" in err and "first_channel" not in err  # the log's own
        assert cli.main([*args, "--engine", "spark", "--master", "local[2]", "--output", str(tmp_path / "s.parquet"),
                         "--attributes", str(tmp_path / "attributes.csv"), "--attributes-id", "id"]) == 0
        pandas = cli.score(uri, tmp_path / "log.csv", "2021-06-30", attributes=(str(tmp_path / "attributes.csv"), "id"))
    finally:
        mlflow.set_tracking_uri(None)
    got = pd.read_parquet(tmp_path / "s.parquet").sort_values("customer_id").reset_index(drop=True)
    pandas = pandas.sort_values("customer_id").reset_index(drop=True)
    assert list(got["segment"]) == list(pandas["segment"]) and len(got) == n
    np.testing.assert_allclose(got["clv"], pandas["clv"], rtol=1e-9)

    pd.DataFrame({"id": ids[1:], "region": "north"}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match=r"short.csv: 1 customer\(s\) without attributes \(e.g. \['c00000000'\]\)"):
        spark_attributes.attach(table.select("customer_id"), spark_attributes.read_attributes(
            spark, tmp_path / "short.csv", "id"), "short.csv")


def test_a_season_in_spark_gives_the_pandas_fit_and_scores(spark, tmp_path, capsys):
    """A season fitted from Spark's distinct histories and repeat-day counts (with the cohort rule)
    equals the fit on every customer's purchase days; `cltv score --engine spark --as-of` scores a
    seasonal model as the pandas engine does, from that day."""
    import mlflow

    from cltv import cli
    from cltv.data import cohort
    from cltv.data.simulate import monthly, simulate_transactions
    from cltv.season import repeat_days
    from cltv.serving import log_model

    log = simulate_transactions(3000, start="2021-01-01", end="2022-12-31", acquisition_weeks=26, seed=6,
                                season=monthly({11: 1.6, 12: 1.6}))
    log.to_csv(tmp_path / "log.csv", index=False)
    end, season = "2022-09-30", {"shape": "months"}
    days = rfm.daily_purchases(log)
    full = rfm.rfm(days, end)
    daily = engine.daily_purchases(engine.read_transactions(spark, tmp_path / "log.csv"))
    table = engine.rfm(daily, end)
    pd.testing.assert_frame_equal(engine.repeat_days(daily, end), repeat_days(days[days["date"] <= end]), check_dtype=False)
    for acquired_after in (None, "2021-03-01"):
        fitted = None if acquired_after is None else cohort.fitted(full, end, acquired_after)
        want = CLTVModel(season=season).fit(full, cohort=fitted, purchase_days=days, end=end)
        ours = engine.fit(CLTVModel(season=season), table, end, acquired_after, daily=daily)
        assert ours.training_["customers"] == want.training_["customers"]
        np.testing.assert_allclose(ours.purchases_.values, want.purchases_.values, rtol=1e-9)
        np.testing.assert_allclose(ours.season_["delta"], want.season_["delta"], rtol=1e-8, atol=1e-10)
    assert ours.training_["customers"] < len(full)

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("season", artifact_location=(tmp_path / "a").as_uri()))
        ours.data_rules_ = {}
        ours.save(tmp_path / "model.json")
        with mlflow.start_run():
            uri = log_model(tmp_path / "model.json", full.head(3)).model_uri
        args = ["score", "--model", uri, "--input", str(tmp_path / "log.csv"), "--as-of", "2022-12-31"]
        assert cli.main([*args, "--engine", "spark", "--master", "local[2]", "--output", str(tmp_path / "s.parquet")]) == 0
        pandas = cli.score(uri, tmp_path / "log.csv", "2022-12-31").sort_values("customer_id").reset_index(drop=True)
    finally:
        mlflow.set_tracking_uri(None)
    got = pd.read_parquet(tmp_path / "s.parquet").sort_values("customer_id").reset_index(drop=True)
    assert set(got["scoring_date"]) == set(pandas["scoring_date"]) == {"2022-12-31"}
    np.testing.assert_allclose(got["clv"], pandas["clv"], rtol=1e-9)
    assert list(got["segment"]) == list(pandas["segment"])
