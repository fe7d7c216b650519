"""Customers older than the log (cltv.data.cohort): a left-censored log drawn with known truth, the
diagnostic that sees it, the cohort rule that recovers the truth, and the warning when the fitted
dropout collapses."""
import warnings

import numpy as np
import pandas as pd
import pytest

from cltv.data import cohort, rfm
from cltv.data.simulate import simulate_transactions
from cltv.errors import DataError
from cltv.evaluate import evaluate, holdout_predictions
from cltv.model import CLTVModel
from cltv.models import PURCHASE_MODELS, purchase_model
from cltv.tracking.champion import INDISTINGUISHABLE

TRUE = (3.0, 10.0, 1.0, 4.0)  # r, alpha (weekly rate 0.3), a, b (dropout 0.2 per purchase)
CAL, OBS = "2020-06-30", "2020-12-31"


@pytest.fixture(scope="module")
def censored():
    """A three-year log (2018-2020) of a shop open for ten more years before it: 400,000 customers
    acquired uniformly over 13 years; the ~115,000 who buy within the log are in it."""
    tx = simulate_transactions(400_000, TRUE, start="2018-01-01", end=OBS, acquisition_weeks=156,
                               history_weeks=520, seed=7)
    daily = rfm.daily_purchases(tx)
    return daily, rfm.calibration_holdout(daily, CAL, OBS)


def test_the_full_log_hides_dropout_and_the_cohort_rule_recovers_the_truth(censored):
    daily, ch = censored
    assert len(ch) > 100_000
    seen = cohort.left_censoring(ch)
    assert seen["suspected"] and seen["weekly_rate_ratio"] > 5  # the first weeks are full of old customers
    assert "set data.acquired_after" in cohort.warning(seen, None) and cohort.warning(seen, 52) is None
    full = CLTVModel().fit(ch).purchases_.params
    r, _, a, _ = TRUE
    assert full["a"] < 0.6 * a and full["r"] < 0.7 * r  # the dropout and rate mixtures far from the truth
    keep = cohort.fitted(ch, CAL, 52)  # customers first seen after the log's first year
    assert 40_000 < keep.sum() < len(ch) / 2
    fitted = CLTVModel().fit(ch, cohort=keep)
    np.testing.assert_allclose(list(fitted.purchases_.params.values()), TRUE, rtol=0.10)
    # the holdout error of the cohort-rule model is that of the true parameters, within 3 %
    truth = CLTVModel().fit(ch, cohort=keep)
    truth.purchases_ = purchase_model("bgnbd").of(*TRUE)
    mine, best = (holdout_predictions(ch[keep].reset_index(drop=True), m) for m in (fitted, truth))
    mae = [float(np.mean(np.abs(p["predicted"] - p["actual"]))) for p in (mine, best)]
    assert abs(mae[0] / mae[1] - 1) < 0.03, mae
    # everyone is scored; the segment cut-offs come from everyone
    assert fitted.training_["customers"] == keep.sum() and fitted.training_["customers_scored_not_fitted"] > 50_000
    assert len(fitted.predict(ch)) == len(ch)


def test_the_data_quality_account_counts_the_cohort(censored):
    daily, ch = censored
    full = rfm.rfm(daily, OBS)
    out = cohort.account(ch, full, CAL, OBS, "2018-12-31")
    c = out["cohort"]
    assert c["cutoff"] == "2018-12-31" and c["customers_fitted"] + c["customers_scored_not_fitted"] == len(full)
    first = pd.Timestamp(OBS) - pd.to_timedelta(np.rint(full["T"] * 7), unit="D")
    assert c["customers_fitted"] == int((first > pd.Timestamp("2018-12-31")).sum())
    assert c["calibration_customers_fitted"] == int(cohort.fitted(ch, CAL, "2018-12-31").sum())
    weeks = cohort.account(ch, full, CAL, OBS, 52)["cohort"]  # 52 weeks after the log's first day
    assert weeks["cutoff"] == str((pd.Timestamp("2018-01-01") + pd.Timedelta(weeks=52)).date())
    by_age = ch.groupby("T").size().reset_index(name="count")  # what the Spark engine passes
    assert cohort.left_censoring(by_age, by_age["count"].to_numpy(float)) == out["left_censoring"]
    with pytest.raises(DataError, match=r"data.acquired_after = '2020-06-30' \(cut-off 2020-06-30\) leaves 0 "
                                        r"customer\(s\) first seen after it and on or before 2020-06-30"):
        cohort.account(ch, full, CAL, OBS, "2020-06-30")


def test_a_closed_cohort_is_not_taken_for_a_left_censored_log():
    """CDNOW-like: every customer acquired in the log's first 12 weeks, none after."""
    daily = rfm.daily_purchases(simulate_transactions(20_000, start="1997-01-01", end="1998-06-30", seed=1))
    seen = cohort.left_censoring(rfm.calibration_holdout(daily, "1997-09-30", "1998-06-30"))
    assert not seen["suspected"] and 0.7 < seen["weekly_rate_ratio"] < 1.4


def test_a_one_year_log_of_loyal_customers_collapses_every_model():
    """A shop open ten years before its one-year log, whose customers mostly stay (a = 0.3): every
    model reads the log as "nobody leaves", says so, and they predict alike."""
    tx = simulate_transactions(300_000, (1.0, 10.0, 0.3, 3.0), start="2020-01-01", end="2020-12-31",
                               acquisition_weeks=52, history_weeks=1040, seed=7)
    ch = rfm.calibration_holdout(rfm.daily_purchases(tx), "2020-09-30", "2020-12-31")
    assert cohort.left_censoring(ch)["suspected"]
    maes = []
    for kind in PURCHASE_MODELS:
        model = CLTVModel(purchases=kind).fit(ch)
        assert any("dropout is not identified" in w and "data.acquired_after" in w for w in model.training_["warnings"])
        predicted = holdout_predictions(ch, model)
        maes.append(float(np.mean(np.abs(predicted["predicted"] - predicted["actual"]))))
    assert max(maes) / min(maes) - 1 < INDISTINGUISHABLE  # the champion gate calls them indistinguishable


@pytest.mark.parametrize("kind, collapsed", [("bgnbd", (0.3, 5.0, 1e-6, 3.0)), ("bgnbd", (0.3, 5.0, 0.5, 1e5)),
                                             ("mbgnbd", (0.3, 5.0, 1e-7, 2.0)), ("paretonbd", (0.3, 5.0, 1e-5, 10.0)),
                                             ("paretonbd", (0.3, 5.0, 0.5, 1e6))])
def test_a_collapsed_dropout_is_named_with_its_causes_and_remedy(kind, collapsed):
    note = purchase_model(kind).of(*collapsed).dropout_note()
    assert note.startswith(f"{purchase_model(kind).title} dropout is not identified")
    assert "customers older than the log" in note and "data.acquired_after" in note and "too short" in note
    assert purchase_model(kind).of(*purchase_model(kind).example).dropout_note() is None


def test_no_numpy_warning_for_customers_first_seen_on_the_last_day():
    """T = 0 (first purchase on calibration_end) is valid input: evaluation and scoring stay quiet."""
    tx = simulate_transactions(3000, seed=2)
    tx = pd.concat([tx, pd.DataFrame({"customer_id": ["z1", "z2"], "date": pd.to_datetime(["2020-12-31"] * 2),
                                      "amount": [10.0, 20.0]})], ignore_index=True)
    daily = rfm.daily_purchases(tx)
    ch = rfm.calibration_holdout(daily, "2020-12-31", "2021-06-30")
    assert (ch["T"] == 0).sum() == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in PURCHASE_MODELS:
            model = CLTVModel(purchases=kind, interval_level=0.9).fit(ch)
            evaluate(ch, daily, model, "2020-12-31", "2021-06-30")
            model.predict(ch)
