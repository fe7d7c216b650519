"""The rolling-origin backtest (cltv.backtest): origins from config, the ranking metrics' definitions
on simulated customers of known parameters, the summary over origins, and the champion gate
across origins against a real sqlite store."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from cltv import backtest
from cltv.data import rfm
from cltv.data.simulate import simulate_transactions
from cltv.errors import ConfigError, DataError
from cltv.evaluate import evaluate, holdout_predictions
from cltv.model import CLTVModel
from cltv.origins import origins

from .test_tracking import _register, store  # noqa: F401  (the store fixture)

TRUE = (0.5, 8.0, 0.6, 3.0)  # BG/NBD r, alpha, a, b
START, CAL, OBS = "2020-01-01", "2020-12-31", "2021-12-31"


@pytest.fixture(scope="module")
def daily():
    """20,000 simulated customers acquired over the first half year, two years of log."""
    return rfm.daily_purchases(simulate_transactions(20_000, bgnbd=TRUE, start=START, end=OBS, acquisition_weeks=26,
                                                     seed=7))


def test_the_default_origin_is_the_one_split_and_the_rule_steps_forward():
    assert origins(CAL, OBS) == [(pd.Timestamp(CAL), pd.Timestamp(OBS))]
    plan = origins(CAL, OBS, count=3, spacing_weeks=13, holdout_weeks=26)
    assert [(str(a.date()), str(b.date())) for a, b in plan] == [
        ("2020-12-31", "2021-07-01"), ("2021-04-01", "2021-09-30"), ("2021-07-01", "2021-12-30")]
    to_end = origins(CAL, OBS, count=2, spacing_weeks=26)
    assert [b for _, b in to_end] == [pd.Timestamp(OBS)] * 2  # no length: each holdout runs to observation_end
    assert origins(CAL, OBS, ["2021-03-31", "2020-09-30"])[0][0] == pd.Timestamp("2020-09-30")  # in time order


@pytest.mark.parametrize("kwargs, words", [
    ({"count": 5, "spacing_weeks": 13, "holdout_weeks": 26}, "does not end on or before data.observation_end"),
    ({"explicit": ["2022-01-31"]}, "does not end on or before"),
    ({"explicit": ["2021-03-31", "2021-03-31"]}, "repeat one"),
])
def test_origins_outside_the_log_are_refused_naming_the_key(kwargs, words):
    with pytest.raises(ConfigError, match=words) as error:
        origins(CAL, OBS, **kwargs)
    assert "evaluate." in str(error.value)


def test_listed_origins_and_the_rule_are_not_mixed():
    with pytest.raises(ConfigError, match="keep evaluate.count=1 with a list"):
        origins(CAL, OBS, ["2021-03-31"], count=3)


def test_an_origin_without_enough_customers_or_holdout_is_refused_before_fitting(daily):
    early = rfm.calibration_holdout(daily, "2020-01-01", OBS).head(7)  # a cohort too small to fit
    with pytest.raises(DataError, match="the origin 2020-01-01 has 7 customers first seen on or before it; expected at "
                                        "least 10"):
        backtest.check(early, pd.Timestamp("2020-01-01"), pd.Timestamp(OBS), "data/daily.parquet")
    empty = rfm.calibration_holdout(daily, CAL, CAL).assign(holdout_purchases=0)
    with pytest.raises(DataError, match="no purchase in the holdout"):
        backtest.check(empty, pd.Timestamp(CAL), pd.Timestamp(CAL), "data/daily.parquet")
    netted = rfm.calibration_holdout(daily, CAL, OBS).assign(holdout_spend=0.0)
    with pytest.raises(DataError, match="has a total spend of 0 or less"):
        backtest.check(netted, pd.Timestamp(CAL), pd.Timestamp(OBS), "data/daily.parquet")


def test_gini_of_a_perfect_ranking_is_1_of_a_random_one_about_0_of_a_reversed_one_negative(daily):
    spend = rfm.calibration_holdout(daily, CAL, OBS)["holdout_spend"].to_numpy()
    rng = np.random.default_rng(1)
    assert backtest.normalized_gini(spend, spend) == pytest.approx(1.0)
    assert backtest.normalized_gini(spend, spend * 3 + 1) == pytest.approx(1.0)  # any increasing score
    assert abs(backtest.normalized_gini(spend, rng.random(spend.size))) < 0.03
    assert backtest.normalized_gini(spend, -spend) < -0.5
    assert backtest.normalized_gini(spend, np.ones(spend.size)) == pytest.approx(0.0, abs=1e-12)  # ties: no information
    order = rng.permutation(spend.size)  # the input order does not matter
    score = np.round(spend / 10)  # many ties
    assert backtest.normalized_gini(spend[order], score[order]) == pytest.approx(backtest.normalized_gini(spend, score))


def test_the_model_ranks_customers_and_the_decile_table_adds_up(daily):
    ch = rfm.calibration_holdout(daily, CAL, OBS)
    model = CLTVModel().fit(ch)
    pred = holdout_predictions(ch, model)
    spend = ch["holdout_spend"].to_numpy()
    found, table = backtest.ranking(spend, pred["predicted_revenue"].to_numpy(),
                                    pred["baseline"].to_numpy() * ch["monetary_value"].to_numpy())
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["customers"].sum() == len(ch) and table["customers"].max() - table["customers"].min() <= 1
    assert table["actual"].sum() == pytest.approx(spend.sum()) and table["predicted"].sum() == pytest.approx(
        pred["predicted_revenue"].sum())
    assert found["top_decile_capture"] == pytest.approx(table["actual"].iloc[0] / spend.sum())
    # the model knows who is alive: its ranking beats chance and its top decile holds far more than 10 % of spend
    assert 0.3 < found["gini"] <= 1 and found["top_decile_capture"] > 0.3 and found["clv_spearman"] > 0.3
    assert table["predicted"].is_monotonic_decreasing


def test_the_summary_counts_origins_beating_the_baseline(daily):
    rows = []
    for i, (start, end) in enumerate(origins(CAL, OBS, count=3, spacing_weeks=13, holdout_weeks=26)):
        ch = rfm.calibration_holdout(daily, start, end)
        model = CLTVModel().fit(ch)
        metrics, _ = evaluate(ch, daily, model, start, end)
        pred = holdout_predictions(ch, model)
        found, _ = backtest.ranking(ch["holdout_spend"].to_numpy(), pred["predicted_revenue"].to_numpy(),
                                    pred["baseline"].to_numpy())
        rows.append(backtest.row(i, start, end, {**metrics, **found}))
    table = pd.DataFrame(rows, columns=backtest.COLUMNS)
    s = backtest.summary(table)
    assert s["origins"] == 3 and s["mae_mean"] == pytest.approx(table["mae"].mean())
    assert s["mae_worst"] == table["mae"].max() and s["spearman_worst"] == table["spearman"].min()
    assert s["mae_beats_baseline"] == 3 and backtest.baseline_losses(table, "mae") == []  # the true model wins
    worse = table.assign(mae=table["baseline_mae"] * np.array([0.9, 1.0, 1.1]))
    assert backtest.summary(worse)["mae_beats_baseline"] == 1
    assert backtest.baseline_losses(worse, "mae") == ["2021-04-01", "2021-07-01"]  # a tie is no win


def test_the_champion_is_the_best_backtest_mean_and_never_one_losing_to_the_baseline(store):  # noqa: F811
    result, where, client = store
    origins = {**result.evaluation, "origins": ["2020-12-31..2021-07-01", "2021-04-01..2021-09-30"]}
    first = dataclasses.replace(result, evaluation=origins, metrics={**result.metrics, "backtest": {"mae_mean": 0.8}},
                                series={"backtest.mae": [0.9, 0.7]})
    behind = dataclasses.replace(first, baseline_losses=["2020-12-31"], metrics={**first.metrics, "customers": 1})
    assert _register(behind, where)["decision"].startswith("not promoted")  # not even as the first champion
    assert _register(first, where)["decision"] == "promoted: first champion of 'cltv'"
    run = client.get_run(client.get_model_version_by_alias("cltv", "champion").run_id)
    assert [m.value for m in client.get_metric_history(run.info.run_id, "backtest.mae")] == [0.9, 0.7]  # step = origin
    # better on the mean but behind the baseline on one origin: never promoted
    losing = dataclasses.replace(first, metrics={**first.metrics, "backtest": {"mae_mean": 0.6}},
                                 baseline_losses=["2021-04-01"])
    decision = _register(losing, where)["decision"]
    assert decision.startswith("not promoted") and "2021-04-01" in decision and "never champion" in decision
    # the mean over origins decides, not the first origin's figure
    better = dataclasses.replace(first, metrics={**first.metrics, "mae": 0.95, "backtest": {"mae_mean": 0.7, "origins": 2}})
    assert _register(better, where)["decision"] == "promoted: mae (mean of 2 origins) 0.7 < 0.8 of version 2"
    # other origins: not comparable
    elsewhere = dataclasses.replace(better, evaluation=result.evaluation, metrics={**better.metrics, "backtest": {"mae_mean": 0.5}})
    assert "not comparable" in _register(elsewhere, where)["decision"]


def test_the_cost_benchmark_runs_and_prints_its_ratio(capsys):
    from benchmarks.backtest import main

    main(["--customers", "3000", "--origins", "2"])
    out = capsys.readouterr().out
    assert "| 1 |" in out and "| 2 |" in out and "<= 2" in out
