"""Predictive intervals (cltv.intervals): calibrated on simulated data with known parameters, the
samplers agree with the closed forms, draws are reproducible and do not depend on the batch."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cltv import intervals, segment
from cltv.data import rfm
from cltv.data.simulate import simulate_transactions
from cltv.evaluate import holdout_coverage
from cltv.model import CLTVModel
from cltv.models import PURCHASE_MODELS, SPEND_MODELS, purchase_model
from cltv.schema import interval_columns

PARAMS = {kind: model.example for kind, model in PURCHASE_MODELS.items()}  # every registered model


@pytest.fixture(scope="module")
def simulated_ch() -> pd.DataFrame:
    """20,000 customers simulated from BG/NBD + Gamma-Gamma (CDNOW-like parameters): 39-week
    calibration and 39-week holdout."""
    tx = simulate_transactions(20_000, seed=11)
    return rfm.calibration_holdout(rfm.daily_purchases(tx), "2020-09-29", "2021-06-29")


def test_nominal_90_percent_intervals_cover_90_percent_of_simulated_customers(simulated_ch):
    model = CLTVModel().fit(simulated_ch)
    metrics, table = holdout_coverage(simulated_ch, model, 0.9)
    assert 0.88 <= metrics["holdout_pit_coverage"] <= 0.92, metrics
    assert 0.88 <= metrics["holdout_spend_pit_coverage"] <= 0.92, metrics
    assert metrics["holdout_coverage"] >= 0.9  # whole numbers: the closed interval holds more often
    assert metrics["holdout_coverage"] + metrics["holdout_above"] + metrics["holdout_below"] == pytest.approx(1.0)
    # the randomised PIT is uniform: its 10-bin histogram passes a chi-square test
    assert metrics["holdout_pit_chi2_pvalue"] > 1e-3, table
    spend_counts = table["spend_observed"].to_numpy() * len(simulated_ch)
    assert stats.chisquare(spend_counts).pvalue > 1e-3, table
    # and at another level
    assert 0.48 <= holdout_coverage(simulated_ch, model, 0.5)[0]["holdout_pit_coverage"] <= 0.52


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_sampled_purchases_have_the_closed_form_mean(kind):
    """E[purchases in (T, T + t] | alive] of the model's own formula equals the mean of its draws
    (within 4 standard errors), for a new and a frequent customer and two horizons."""
    model = purchase_model(kind).of(*PARAMS[kind])
    weeks = np.array([13.0, 52.0])
    rows = np.tile(np.array(PARAMS[kind]), (40_000, 1))
    for x, T in ((0.0, 30.0), (6.0, 50.0)):
        draws = model.sample_alive(rows, x, T, weeks, np.random.default_rng(3))
        expected = model.alive_purchases(weeks, x, T)
        se = draws.std(axis=0) / np.sqrt(len(draws))
        np.testing.assert_array_less(np.abs(draws.mean(axis=0) - expected), 4 * se)
        assert (np.diff(draws, axis=1) >= 0).all()  # counts never fall with time


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_the_dead_log_odds_are_those_of_p_alive(kind, sample_ch):
    """The intervals draw "alive" as log((1 - U) / U) > the dead log-odds, i.e. U < P(alive)."""
    model = purchase_model(kind).of(*PARAMS[kind])
    x, tx, T = (sample_ch[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    params = np.array(PARAMS[kind]) * np.array([[1.0] * 4, [1.1, 0.9, 1.2, 0.8]])
    odds = model.dead_odds_draws(params, x, tx, T)
    for row, values in zip(odds, params):
        np.testing.assert_allclose(1.0 / (1.0 + np.exp(row)), purchase_model(kind).of(*values).prob_alive(x, tx, T),
                                   rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_intervals_per_customer_are_reproducible_and_independent_of_the_batch(kind, sample_ch):
    model = CLTVModel(purchases=kind, horizons_months=(3, 12)).fit(sample_ch)
    scores = model.predict(sample_ch)
    columns = [*interval_columns((3, 12), 6), "segment_span"]
    assert list(scores.columns[-len(columns):]) == columns
    pd.testing.assert_frame_equal(model.predict(sample_ch)[columns], scores[columns])
    alone = pd.concat([model.predict(sample_ch.iloc[[i]]) for i in (0, 7, 1500)])
    pd.testing.assert_frame_equal(alone[columns].reset_index(drop=True),
                                  scores.iloc[[0, 7, 1500]][columns].reset_index(drop=True))
    for name in ("purchases_3m", "purchases_12m", "spend_6m", "clv"):
        assert (scores[f"{name}_lo"] <= scores[f"{name}_hi"]).all()
        assert (scores[f"{name}_lo"] >= 0).all()
    assert (scores["purchases_3m_hi"] <= scores["purchases_12m_hi"]).all()
    assert (scores["clv_hi"] <= scores["spend_6m_hi"] + 1e-9).all()  # discounting only lowers the value
    # the expected value lies inside the interval for nearly everyone (not a rule: skewed draws)
    assert ((scores["clv"] >= scores["clv_lo"]) & (scores["clv"] <= scores["clv_hi"])).mean() > 0.9
    # the span runs from clv_hi's segment to clv_lo's, best first
    span = scores["segment_span"].str.split("-")
    for end, bound in ((span.str[0], "clv_hi"), (span.str[-1], "clv_lo")):
        expected = segment.assign(scores[bound], model.segment_cutoffs_, model.segment_labels).astype(str)
        assert (end.to_numpy() == np.asarray(expected)).all()


def test_a_customers_interval_does_not_depend_on_who_else_is_scored(sample_model, sample_ch):
    """Six customers per CDNOW history, each with another mean spend (so another kappa): the
    first of each, scored as a batch of their own, gets the bounds they get among all."""
    rfm = sample_ch.drop(columns="customer_id")
    six = pd.concat([rfm.assign(monetary_value=rfm["monetary_value"] * f) for f in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)],
                    ignore_index=True)
    columns = [*interval_columns((3, 6), 12), "segment_span"]
    scores = sample_model.predict(six)[columns]
    pd.testing.assert_frame_equal(sample_model.predict(rfm)[columns], scores.iloc[:len(rfm)])


def test_no_intervals_when_the_level_is_none(sample_ch):
    model = CLTVModel(interval_level=None).fit(sample_ch)
    assert not any(c.endswith(("_lo", "_hi")) for c in model.predict(sample_ch).columns)
    assert CLTVModel.from_dict(model.to_dict()).interval_level is None
    with pytest.raises(ValueError, match="interval level must be between 0 and 1"):
        CLTVModel(interval_level=1.5).fit(sample_ch)


def test_wider_level_gives_wider_intervals(sample_model, sample_ch):
    narrow = intervals.predict(sample_model, sample_ch, 0.5)
    wide = intervals.predict(sample_model, sample_ch, 0.95)
    for name in ("purchases_3m", "purchases_6m", "clv"):
        assert (wide[f"{name}_lo"] <= narrow[f"{name}_lo"]).all() and (wide[f"{name}_hi"] >= narrow[f"{name}_hi"]).all()
    assert (wide["clv_hi"] > narrow["clv_hi"]).mean() > 0.9


def test_kappa_interpolation_is_close_to_the_exact_quantiles(sample_model, sample_ch):
    """The spend bounds interpolated over kappa are close to the per-customer order statistics of
    the exact draws: 99 % of customers within 4 %, all within 8 %, where the bound's own Monte
    Carlo error (seed to seed) is about 17 % on this sample."""
    months = np.arange(1, 7) * 4.345
    usable = sample_ch["monetary_value"].to_numpy() > 0
    futures = intervals.simulate_futures(sample_model.purchases_, sample_model.spend_, sample_ch["frequency"],
                                         sample_ch["recency"], sample_ch["T"],
                                         np.where(usable, sample_ch["frequency"], 0), sample_ch["monetary_value"], months)
    weights = np.ones(6)
    lo, hi = futures.value_interval(weights, 0.9)
    exact = np.sort(futures.value_draws(weights, np.arange(len(sample_ch))), axis=1)
    k_lo, k_hi = intervals.order_statistics(0.9)
    assert (k_lo, k_hi) == (9, 189)
    for ours, theirs in ((hi, exact[:, k_hi]), (lo, exact[:, k_lo])):
        rel = np.abs(ours - theirs) / np.maximum(theirs, 1e-9)
        assert np.quantile(rel, 0.99) < 0.04 and rel.max() < 0.08, np.quantile(rel, [0.5, 0.99, 1.0])


def test_parameter_draws_follow_the_covariance(sample_model):
    model = sample_model.purchases_
    draws = intervals.parameter_draws(model, draws=20_000)
    logs = np.log(draws)
    values = np.array(model.values)
    expected = np.array(model.covariance) / np.outer(values, values)
    np.testing.assert_allclose(np.cov(logs.T), expected, rtol=0.05, atol=0.05 * np.abs(expected).max())
    np.testing.assert_allclose(np.exp(logs.mean(axis=0)), values, rtol=0.01)
    np.testing.assert_array_equal(intervals.parameter_draws(model, draws=20_000), draws)  # fixed seed
    model_without = purchase_model("bgnbd")(model.params)  # no covariance: the estimate every time
    assert (intervals.parameter_draws(model_without) == values).all()


def test_randomised_pit_is_uniform_for_draws_from_the_right_distribution():
    rng = np.random.default_rng(5)
    lam = rng.gamma(1.0, 1.0, 5000)
    draws = rng.poisson(lam[:, None], (5000, 199))
    pit = intervals.randomised_pit(draws, rng.poisson(lam))
    assert stats.kstest(pit, "uniform").pvalue > 1e-3
    wrong = intervals.randomised_pit(draws, rng.poisson(2 * lam))
    assert stats.kstest(wrong, "uniform").pvalue < 1e-6


def test_cdnow_holdout_coverage_is_reported_for_every_model(sample_ch):
    for kind in sorted(PARAMS):
        metrics, table = holdout_coverage(sample_ch, CLTVModel(purchases=kind).fit(sample_ch), 0.9)
        assert 0.85 <= metrics["holdout_pit_coverage"] <= 0.95, (kind, metrics)
        assert 0.85 <= metrics["holdout_spend_pit_coverage"] <= 0.95, (kind, metrics)
        assert metrics["holdout_coverage"] >= 0.9, (kind, metrics)
        assert table["observed"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kind", sorted(SPEND_MODELS))
def test_sampled_spend_has_the_closed_form_mean(kind):
    """A spend model's interval sampler (sample_spend x interval_scale) has the mean of its own
    formulas: the posterior mean spend of a customer with usable spend, the population mean of one
    without (within 4 standard errors)."""
    model = SPEND_MODELS[kind].of(*SPEND_MODELS[kind].example)
    draws = 200_000
    params = np.tile(np.array(model.values), (draws, 1))
    n, m = 3.0, 1.7 * model.population_mean()
    units = model.sample_spend(params, np.ones((draws, 1), dtype=np.int64), (0.0, n), np.random.default_rng(5))
    assert units.shape == (2, 1, draws)
    np.testing.assert_allclose(model.scale_ratio(params), 1.0)  # the estimate itself: no population draw
    for row, (count, usable, expected) in enumerate(((0.0, False, model.population_mean()),
                                                     (n, True, model.expected_average_value(n, m)))):
        scale, kappa = model.interval_scale(np.array([count]), np.array([m]), np.array([usable]))
        spend = units[row, 0] * scale[0]
        assert 0.0 < kappa[0] <= 1.0
        assert abs(spend.mean() - expected) < 4 * spend.std() / np.sqrt(draws), (count, spend.mean(), expected)
