"""The published CDNOW numbers (../shared/reference/cdnow.md; Fader, Hardie & Lee 2005)."""
import numpy as np
import pytest

from cltv.evaluate import evaluate
from cltv.model import CLTVModel, horizon_column

from .conftest import CAL_END, OBS_END


def rel(value, target):
    return abs(value / target - 1)


def test_calibration_counts(sample_ch):
    assert len(sample_ch) == 2357
    assert sample_ch["frequency"].sum() == 2457
    assert (sample_ch["frequency"] > 0).sum() == 946
    assert (sample_ch["frequency"] == 0).sum() == 1411
    assert sample_ch["holdout_purchases"].sum() == 1882
    assert sample_ch["holdout_weeks"].iloc[0] == 39.0


def test_customer_1_rfm(sample_ch):
    c1 = sample_ch.set_index("customer_id").loc["00004"]  # sample customer 1
    assert c1["frequency"] == 2
    assert c1["recency"] == pytest.approx(30.43, abs=0.005)
    assert c1["T"] == pytest.approx(38.86, abs=0.005)


def test_bgnbd_parameters_and_likelihood(sample_model):
    p = sample_model.purchases_.params
    for name, target in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert rel(p[name], target) < 0.01, (name, p[name])
    assert sample_model.training_["purchases_log_likelihood"] == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_parameters(sample_model):
    p = sample_model.spend_.params
    assert sample_model.training_["gamma_gamma_customers"] == 946
    for name, target in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert rel(p[name], target) < 0.01, (name, p[name])


def test_new_customer_expected_purchases(sample_model):
    got = sample_model.purchases_.expected_purchases(np.array([1.0, 3, 32, 78]), 0, 0, 0)
    # published values come from rounded parameters: 0.5 % tolerance
    np.testing.assert_allclose(got, [0.0532, 0.1506, 1.0437, 1.8576], rtol=5e-3)


def test_customer_1_predictions(sample_ch, sample_model):
    c1 = sample_ch[sample_ch["customer_id"] == "00004"]
    assert sample_model.expected_purchases(c1, 39 / 4.345)[0] == pytest.approx(1.226, abs=0.001)
    assert sample_model.clv(c1)[0] == pytest.approx(36.28, abs=0.05)  # 12 months, 1 % per month


def test_holdout_evaluation(sample_ch, sample_daily):
    metrics, plots = evaluate(sample_ch, sample_daily, CLTVModel().fit(sample_ch), CAL_END, OBS_END)
    assert metrics["calibration_chi2"] == pytest.approx(4.82, abs=0.05)
    assert metrics["calibration_chi2_dof"] == 3
    assert metrics["holdout_purchases_actual"] == 1882
    assert metrics["pearson"] == pytest.approx(0.626, abs=0.005)
    assert metrics["cumulative_repeat_actual_end"] == 4339
    assert rel(metrics["cumulative_repeat_model_end"], 4166) < 0.005
    # the model beats the naive rate-carry-forward baseline
    assert metrics["mae"] < metrics["baseline_mae"] and metrics["rmse"] < metrics["baseline_rmse"]
    assert abs(metrics["holdout_purchases_rel_error"]) < abs(metrics["baseline_holdout_purchases_rel_error"])
    hist = plots["calibration_histogram"]
    assert hist["observed"].sum() == 2357 and hist["expected"].sum() == pytest.approx(2357)
    cum = plots["cumulative_repeat"]
    assert len(cum) == 78 and cum["actual"].is_monotonic_increasing and cum["model"].is_monotonic_increasing


def test_predictions_equal_lifetimes(sample_ch, sample_model):
    """Our vectorised formulas give lifetimes' numbers (where lifetimes is finite)."""
    bgf, ggf = sample_model.to_lifetimes()
    f, r, T, m = (sample_ch[c] for c in ("frequency", "recency", "T", "monetary_value"))
    scores = sample_model.predict(sample_ch)
    np.testing.assert_allclose(
        scores[horizon_column(3)], bgf.conditional_expected_number_of_purchases_up_to_time(3 * 4.345, f, r, T), rtol=1e-9)
    np.testing.assert_allclose(scores["p_alive"], bgf.conditional_probability_alive(f, r, T), rtol=1e-12)
    ggf_value = ggf.conditional_expected_average_profit(f.where(m > 0, 0), m)
    np.testing.assert_allclose(scores["expected_value"], ggf_value, rtol=1e-12)
    clv = ggf.customer_lifetime_value(bgf, f, r, T, m.where(m > 0, 0.0), time=12, discount_rate=0.01, freq="W")
    np.testing.assert_allclose(scores["clv"], clv, rtol=1e-9)
