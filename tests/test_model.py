import json
import warnings

import numpy as np
import pandas as pd
import pytest

from cltv import segment
from cltv.models.bgnbd import BGNBD
from cltv.model import CLTVModel, FitError
from cltv.data.simulate import simulate_rfm

DEGENERATE = {"r": 2.73, "alpha": 72.7, "a": 8e-23, "b": 7e-14}  # seen on a real retail export


def test_json_round_trip_predicts_identically(tmp_path, sample_ch, sample_model):
    path = tmp_path / "m.json"
    sample_model.save(path)
    raw = path.read_text()
    assert "pickle" not in raw and json.loads(raw)["units"]["time"] == "weeks"
    loaded = CLTVModel.load(path)
    pd.testing.assert_frame_equal(loaded.predict(sample_ch), sample_model.predict(sample_ch), check_exact=True)
    assert loaded.get_params() == {**sample_model.get_params(), "horizons_months": (3.0, 6.0),
                                   "segment_labels": ("A", "B", "C", "D")}


def test_fit_returns_self_and_sklearn_params(sample_ch):
    model = CLTVModel(purchases_penalizer=0.001)
    assert model.fit(sample_ch) is model
    assert model.get_params()["purchases_penalizer"] == 0.001


def test_scikit_learn_clones_the_model_and_its_parameters_are_checked(sample_ch, sample_model):
    """The estimator protocol without importing scikit-learn (cltv.estimator): scikit-learn's own
    clone gives an unfitted model with the same parameters, which fits to the same model."""
    import sys

    from sklearn.base import clone

    copy = clone(sample_model)
    assert copy is not sample_model and copy.get_params() == sample_model.get_params()
    assert not hasattr(copy, "purchases_")
    assert copy.fit(sample_ch).purchases_.params == sample_model.purchases_.params
    assert repr(CLTVModel(clv_months=12, purchases="mbgnbd")) == "CLTVModel(clv_months=12, purchases='mbgnbd')"
    from sklearn.utils import get_tags

    assert get_tags(sample_model).estimator_type is None  # the tags scikit-learn's model selection reads
    assert CLTVModel().set_params(discount_rate=0.02).discount_rate == 0.02
    with pytest.raises(ValueError, match="invalid parameter 'discount' for CLTVModel; valid: clv_months, covariates, "):
        CLTVModel().set_params(discount=0.02)
    import subprocess

    loaded = subprocess.run([sys.executable, "-c", "import sys, cltv.model, cltv.evaluate, cltv.intervals; "
                             "print(sorted(m for m in sys.modules if m.startswith(('sklearn', 'scipy.stats', "
                             "'scipy.optimize'))))"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"  # half a second per pipeline stage (docs/benchmarks.md)


def test_degenerate_fit_stays_finite_and_takes_the_limit():
    model = CLTVModel().fit(simulate_rfm(2000, seed=3))
    model.purchases_ = BGNBD(dict(DEGENERATE))
    rfm = pd.DataFrame({"frequency": [0, 1, 1, 2, 40], "recency": [0, 10, 50, 20, 51],
                        "T": [52.0, 52, 52, 52, 52], "monetary_value": [0, 20, 30, 25, 10]})
    scores = model.predict(rfm)
    numeric = scores.select_dtypes("number").to_numpy()
    assert np.isfinite(numeric).all()
    t = 6 * 4.345
    r, alpha = DEGENERATE["r"], DEGENERATE["alpha"]
    # a, b -> 0 means no dropout: E = P(alive) (r + x) t / (alpha + T)
    limit = scores["p_alive"] * (r + rfm["frequency"]) * t / (alpha + rfm["T"])
    np.testing.assert_allclose(scores["expected_purchases_6m"], limit, rtol=1e-9)
    # lifetimes itself returns inf for x = 1 here
    bgf, _ = model.to_lifetimes()
    with np.errstate(all="ignore"):
        assert not np.isfinite(bgf.conditional_expected_number_of_purchases_up_to_time(t, 1, 10.0, 52.0))
    assert (scores["clv"] >= 0).all()


def test_closed_form_matches_small_c_and_regular_region():
    """Around c = a + b + x - 1 = 1 the two code paths (direct, contiguous relation) agree."""
    params_lo, params_hi = (0.5, 10.0, 0.5, 0.5 - 1e-9), (0.5, 10.0, 0.5, 0.5 + 1e-9)
    lo = BGNBD.of(*params_lo).expected_purchases(20.0, 1, 5.0, 30.0)
    hi = BGNBD.of(*params_hi).expected_purchases(20.0, 1, 5.0, 30.0)
    assert lo == pytest.approx(hi, rel=1e-7)


def test_simulated_parameters_are_recovered():
    truth_bg, truth_gg = (0.243, 4.414, 0.793, 2.426), (6.25, 3.74, 15.44)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = CLTVModel().fit(simulate_rfm(100_000, truth_bg, truth_gg, seed=11))
    got_bg = [model.purchases_.params[k] for k in ("r", "alpha", "a", "b")]
    got_gg = [model.spend_.params[k] for k in ("p", "q", "v")]
    np.testing.assert_allclose(got_bg, truth_bg, rtol=0.10)
    np.testing.assert_allclose(got_gg, truth_gg, rtol=0.10)


def test_segment_rule_ties_and_single_customer(sample_ch, sample_model):
    cut = segment.quantile_cutoffs([1, 2, 2, 2, 3, 4, 5, 6], 4)
    labels = segment.assign([1, 2, 2, 2, 3, 4, 5, 6], cut, "ABCD")
    assert cut == [2.0, 2.5, 4.25]
    assert labels.tolist() == ["D", "D", "D", "D", "B", "B", "A", "A"]  # ties never split, = pd.qcut
    assert labels.tolist() == pd.qcut([1, 2, 2, 2, 3, 4, 5, 6], 4, labels=list("DCBA")).astype(str).tolist()
    batch = sample_model.predict(sample_ch)
    assert batch["segment"].value_counts().to_dict().keys() == {"A", "B", "C", "D"}
    for i in (0, 5, 100, 2000):
        one = sample_model.predict(sample_ch.iloc[[i]])
        assert one["segment"].iloc[0] == batch["segment"].iloc[i]
    prof = segment.profile(batch, sample_model.segment_labels)
    assert prof["segment"].tolist() == ["A", "B", "C", "D"]
    assert prof["customers"].sum() == len(batch) and prof["clv_share"].sum() == pytest.approx(1.0)
    assert prof["clv_mean"].is_monotonic_decreasing


def test_gamma_gamma_needs_repeat_spend():
    rfm = pd.DataFrame({"frequency": [0, 0, 1] * 4, "recency": [0, 0, 3.0] * 4, "T": [10.0, 8, 9] * 4,
                        "monetary_value": [0.0, 0, 0] * 4})
    with pytest.raises(FitError, match="Gamma-Gamma cannot be fitted"):
        CLTVModel().fit(rfm)


def test_large_gamma_gamma_penalizer_is_flagged_or_refused(sample_ch):
    # q <= 1: customers without repeat spend would get an infinite or negative value -> refused
    with pytest.raises(FitError, match=r"q = .* <= 1 .* not finite for \d+ customers"):
        CLTVModel(spend_penalizer=1.0).fit(sample_ch)
    # when every customer has enough repeat spend (p n + q > 1) values stay finite and positive: flagged only
    buyers = sample_ch[(sample_ch["frequency"] > 0) & (sample_ch["monetary_value"] > 0)]
    with pytest.warns(UserWarning, match="q = .* <= 1"):
        model = CLTVModel(spend_penalizer=0.01).fit(buyers)
    assert model.spend_.params["q"] <= 1 and any("q =" in w for w in model.training_["warnings"])
    assert (model.predict(buyers)["clv"] > 0).all()
    with pytest.raises(ValueError, match="cannot value customers without repeat spend"):
        model.predict(sample_ch)


def test_sample_weight_is_the_fit_on_repeated_rows(sample_ch):
    """The distinct histories with their counts (what the Spark engine sends to the driver) fit
    the same model as every customer, and the weighted segment cut-offs are numpy's quantiles of
    the repeated values, bit for bit."""
    from cltv.segment import quantile_cutoffs

    columns = ["frequency", "recency", "T", "monetary_value"]
    distinct = sample_ch.groupby(columns, as_index=False).size()
    assert len(distinct) < len(sample_ch)
    every = CLTVModel(interval_level=None).fit(sample_ch)
    weighted = CLTVModel(interval_level=None).fit(distinct[columns], sample_weight=distinct["size"])
    assert weighted.purchases_.params == every.purchases_.params
    for k, v in every.spend_.params.items():
        assert weighted.spend_.params[k] == pytest.approx(v, rel=1e-10)
    np.testing.assert_allclose(weighted.segment_cutoffs_, every.segment_cutoffs_, rtol=1e-10)
    assert weighted.training_["customers"] == len(sample_ch)
    assert weighted.training_["repeat_buyers"] == every.training_["repeat_buyers"]
    rng = np.random.default_rng(1)
    for _ in range(300):
        values, weights = np.round(rng.gamma(0.5, 10, 30), 1), rng.integers(1, 5, 30)
        assert quantile_cutoffs(values, 4, weights) == quantile_cutoffs(np.repeat(values, weights), 4)
    with pytest.raises(ValueError, match="sample_weight must hold one whole number"):
        CLTVModel().fit(distinct[columns], sample_weight=np.full(len(distinct), 0.5))


@pytest.mark.parametrize("column", ["monetary_value", "T"])
def test_the_fit_ends_at_the_optimum_not_where_a_path_crossed_the_tolerance(column):
    """Values one rounding step apart (what another summation order gives, e.g. Spark's) fit the
    same parameters to 1e-10: the fit goes on from BFGS's stop to the gradient's rounding floor.
    Stopping at lifetimes' tolerance left CDNOW master's spend parameters 1.7e-7 apart."""
    from cltv.data import cdnow, rfm

    full = rfm.rfm(rfm.daily_purchases(cdnow.load_cdnow("master")), "1998-06-30")
    values = full[column].to_numpy()
    moved = full.assign(**{column: np.where(values > 0, np.nextafter(values, np.inf), values)})
    a, b = CLTVModel(interval_level=None).fit(full), CLTVModel(interval_level=None).fit(moved)
    for mine, other in ((a.purchases_, b.purchases_), (a.spend_, b.spend_)):
        for k, v in mine.params.items():
            assert other.params[k] == pytest.approx(v, rel=1e-10, abs=0), (column, k)
