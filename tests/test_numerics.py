"""Numerical safety: random valid RFM rows and random valid parameters, extreme ones included,
never give inf or NaN, and the scores keep their meaning."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cltv.model import CLTVModel
from cltv.models import PURCHASE_MODELS
from cltv.models.bgnbd import BGNBD
from cltv.models.gamma_gamma import GammaGamma


def log_uniform(lo: float, hi: float):
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0 ** e))


@st.composite
def params(draw):
    """Valid parameters, extreme ones included: r and alpha up to 1e3 / 1e4 (with a mean purchase
    rate r / alpha between 1e-4 and 10 a week), a and b down to 1e-12 (dropout not identified),
    a at and around the removable singularity a = 1; for Pareto/NBD s and beta take a's and b's
    ranges (s at and around 1, where its closed form takes the limit); a parameter of another
    name (a model added later) takes b's range."""
    r = draw(log_uniform(1e-3, 1e3))
    rate = draw(log_uniform(1e-4, 10.0))
    return {
        "kind": draw(st.sampled_from(sorted(PURCHASE_MODELS))),
        "r": r, "alpha": r / rate,
        "a": draw(st.one_of(log_uniform(1e-12, 100.0), st.just(1.0), st.floats(0.99995, 1.00005))),
        "b": draw(log_uniform(1e-12, 1e3)),
        "p": draw(log_uniform(0.05, 100.0)),
        "q": draw(log_uniform(1.001, 100.0)),
        "v": draw(log_uniform(1e-2, 1e4)),
    }


@st.composite
def rfm_rows(draw):
    n = draw(st.integers(1, 40))
    freq = np.array(draw(st.lists(st.one_of(st.integers(0, 10), st.integers(0, 10_000)), min_size=n, max_size=n)))
    T = np.array(draw(st.lists(st.one_of(st.floats(0.0, 1000.0), st.sampled_from([0.0, 1e-9, 1000.0])),
                               min_size=n, max_size=n)))
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    money = np.array(draw(st.lists(log_uniform(0.01, 1e6), min_size=n, max_size=n)))
    # valid histories: frequency counts repeat purchase *days*, so x days need recency >= x days
    freq = np.minimum(freq, np.floor(7.0 * T)).astype("int64")
    low = freq / 7.0
    return pd.DataFrame({
        "frequency": freq,
        "recency": np.where(freq > 0, np.minimum(low + share * (T - low), T), 0.0),  # rounding can pass T
        "T": T,
        "monetary_value": np.where(freq > 0, money, 0.0),
    })


def model_with(p: dict, interval_level: float | None = None) -> CLTVModel:
    model = CLTVModel(purchases=p["kind"], horizons_months=(1, 3, 6, 12, 24), interval_level=interval_level)
    kind = PURCHASE_MODELS[p["kind"]]
    named = {"r": p["r"], "alpha": p["alpha"], "a": p["a"], "b": p["b"], "s": p["a"], "beta": p["b"]}
    model.purchases_ = kind({k: named.get(k, p["b"]) for k in kind.param_names})
    model.spend_ = GammaGamma({k: p[k] for k in ("p", "q", "v")})
    model.segment_cutoffs_ = [1.0, 10.0, 100.0]
    model.training_ = {}
    return model


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=params(), rfm=rfm_rows())
def test_scores_are_finite_and_meaningful(p, rfm):
    scores = model_with(p).predict(rfm)
    numbers = scores.select_dtypes("number").to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    assert ((scores["p_alive"] >= 0) & (scores["p_alive"] <= 1)).all()
    horizons = scores[[c for c in scores.columns if c.startswith("expected_purchases_")]].to_numpy()
    assert (horizons >= 0).all()
    # non-decreasing up to 1e-7 relative: the closed forms' accuracy in the most extreme corners
    assert (np.diff(horizons, axis=1) >= -1e-7 * (1 + np.abs(horizons[:, 1:]))).all()
    assert (scores["clv"] >= 0).all() and (scores["expected_value"] > 0).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=params(), rfm=rfm_rows())
def test_intervals_are_finite_and_ordered(p, rfm):
    """Predictive intervals exist everywhere the scores do (extreme parameters and histories
    included): finite, lo <= hi, and the purchase bounds grow with the horizon."""
    scores = model_with(p, 0.9).predict(rfm)
    names = ["purchases_1m", "purchases_3m", "purchases_6m", "purchases_12m", "purchases_24m", "spend_6m", "clv"]
    for name in names:
        lo, hi = scores[f"{name}_lo"].to_numpy(dtype=float), scores[f"{name}_hi"].to_numpy(dtype=float)
        assert np.isfinite(lo).all() and np.isfinite(hi).all() and (lo >= 0).all() and (lo <= hi).all(), name
    bounds = scores[[f"{n}_hi" for n in names[:5]]].to_numpy()
    assert (np.diff(bounds, axis=1) >= 0).all()


@pytest.mark.parametrize("x, tx, T", [(0, 0.0, 30.0), (3, 20.0, 40.0), (10, 50.0, 60.0)])
def test_a_equal_to_one_takes_the_limit(x, tx, T):
    """a = 1 is a removable 0/0 of the closed form: the value sits between its neighbours."""
    near = [BGNBD.of(0.5, 10.0, a, 2.0).expected_purchases(26.0, x, tx, T) for a in (1 - 1e-3, 1.0, 1 + 1e-3)]
    assert np.isfinite(near[1])
    assert near[1] == pytest.approx((near[0] + near[2]) / 2, rel=1e-6)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 6) | st.floats(-1e3, 1e3), min_size=1, max_size=60))
def test_ranks_and_chi_square_are_scipy_s_to_the_last_bit(values):
    """The statistics cltv computes itself (to keep scipy.stats out of every stage's imports)
    equal scipy.stats' bit for bit: average ranks (Spearman), Pearson's chi-square and its p-value."""
    from scipy import stats

    from cltv import numeric

    x = np.array(values, dtype=float)
    assert np.array_equal(numeric.average_ranks(x), stats.rankdata(x))
    counts = np.abs(x).round() + 1.0
    want = stats.chisquare(counts)
    np.testing.assert_array_equal(numeric.chisquare(counts), (want.statistic, want.pvalue))  # nan too (one cell)
    assert numeric.chi2_sf(float(np.abs(x).sum()), len(values)) == float(stats.chi2.sf(np.abs(x).sum(), len(values)))
