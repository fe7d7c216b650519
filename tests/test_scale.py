"""The fast path gives plain `lifetimes`' numbers: fitters, distinct-tuple scoring, RFM, benchmark."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import calibration_and_holdout_data
from scipy.optimize import approx_fprime

from cltv.data import rfm
from cltv.models import bgnbd, gamma_gamma, tuples
from cltv.models.bgnbd import BGNBD
from cltv.models.mle import minimize_bfgs
from cltv.model import CLTVModel, horizon_column
from cltv.data.simulate import simulate_rfm, simulate_transactions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    """30,000 simulated customers from a transaction log (whole days, so histories repeat)."""
    tx = simulate_transactions(30_000, seed=7)
    return rfm.calibration_holdout(rfm.daily_purchases(tx), "2020-09-29", "2021-06-29")


def _lifetimes_params(frame: pd.DataFrame, bg_pen: float, gg_pen: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgf = BetaGeoFitter(penalizer_coef=bg_pen).fit(frame["frequency"], frame["recency"], frame["T"])
        rep = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
        ggf = GammaGammaFitter(penalizer_coef=gg_pen).fit(rep["frequency"], rep["monetary_value"])
    return np.concatenate([bgf.params_.to_numpy(), ggf.params_.to_numpy()])


@pytest.mark.parametrize("penalizers", [(0.0, 0.0), (0.001, 0.01)])
@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_fast_fit_finds_lifetimes_parameters(data, penalizers, sample_ch, simulated):
    frame = sample_ch if data == "cdnow" else simulated
    (x, tx, T), _, n = tuples.distinct(*(frame[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    assert len(x) < len(frame)  # fitted on distinct histories with their counts
    rep = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
    bg = BGNBD.fit(x, tx, T, n, penalizer=penalizers[0])[0]
    gg = gamma_gamma.fit(rep["frequency"], rep["monetary_value"], penalizer=penalizers[1])
    assert bg is not None and gg.success
    np.testing.assert_allclose([*bg.values, *gg.params], _lifetimes_params(frame, *penalizers), rtol=1e-6)
    if penalizers == (0.0, 0.0):
        model = CLTVModel().fit(frame)
        assert [*model.purchases_.params.values(), *model.spend_.params.values()] == [*bg.values, *gg.params]
        assert model.training_["purchases_fit_rows"] == len(x)


def test_analytic_gradients_match_finite_differences(simulated):
    (x, tx, T), _, n = tuples.distinct(*(simulated[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    xs, inv = np.unique(x, return_inverse=True)
    bg_args = (x, tx / T.max(), T / T.max(), n.astype(float), 0.01, (xs, np.bincount(inv, weights=n)))
    rep = simulated[simulated["frequency"] > 0]
    gx, gm, gw, by_x = gamma_gamma._prepare(rep["frequency"], rep["monetary_value"], None)
    gg_args = (gw * gx, gx * gm, gw, 0.01, by_x)
    for objective, args, points in ((bgnbd._objective, bg_args, [np.full(4, 0.1), np.log([0.3, 0.05, 0.8, 2.4])]),
                                    (gamma_gamma._objective, gg_args, [np.full(3, 0.1), np.log([6.0, 3.7, 15.0])])):
        for point in points:
            numeric = approx_fprime(point, lambda p: objective(p, *args)[0], 1e-7)
            np.testing.assert_allclose(objective(point, *args)[1], numeric, rtol=1e-4, atol=1e-6)


def test_precision_loss_stop_is_polished_not_refused():
    """Next to the optimum the objective is flat to its rounding, so the line search fails
    ("precision loss"); Newton steps on the analytic gradient finish the job, at lifetimes' optimum.
    Here the objective's values are rounded to 4 decimals, which makes that stop certain."""
    rep = simulate_rfm(2000, seed=3).query("frequency > 0")
    x, m, w, by_x = gamma_gamma._prepare(rep["frequency"], rep["monetary_value"], None)

    def coarse(log_params, *args):
        value, grad = gamma_gamma._objective(log_params, *args)
        return round(value, 4), grad

    result = minimize_bfgs(coarse, np.full(3, 0.1), (w * x, x * m, w, 0.0, by_x), 1e-7)
    assert result.success and "precision loss" in result.message and "Newton" in result.message
    assert np.max(np.abs(result.jac)) < 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"]).params_.to_numpy()
    result.params = np.exp(result.x)
    np.testing.assert_allclose(result.params, plain, rtol=1e-6)


def test_distinct_rows_rebuild_the_input():
    rng = np.random.default_rng(0)
    cols = (rng.integers(0, 5, 5000).astype(float), rng.integers(0, 40, 5000) / 7, rng.integers(30, 60, 5000) / 7)
    (a, b, c), inverse, counts = tuples.distinct(*cols)
    for got, want in zip((a[inverse], b[inverse], c[inverse]), cols):
        np.testing.assert_array_equal(got, want)
    expected = pd.DataFrame(dict(zip("abc", cols))).groupby(list("abc")).size().reset_index()
    np.testing.assert_array_equal(np.column_stack([a, b, c]), expected[list("abc")].to_numpy())
    np.testing.assert_array_equal(counts, expected[0].to_numpy())
    # the same distinct rows whatever the input order
    order = rng.permutation(5000)
    (a2, _, _), _, counts2 = tuples.distinct(*(col[order] for col in cols))
    np.testing.assert_array_equal(a2, a)
    np.testing.assert_array_equal(counts2, counts)


def test_scores_per_distinct_history_equal_scores_per_customer(simulated, sample_model):
    scores = sample_model.predict(simulated)
    f, r, T = (simulated[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    params = sample_model.purchases_.values
    for h in sample_model.horizons_months:
        direct = BGNBD.of(*params).expected_purchases(h * 4.345, f, r, T)
        np.testing.assert_allclose(scores[horizon_column(h)], direct, rtol=1e-14)
    np.testing.assert_array_equal(scores["p_alive"], bgnbd.prob_alive(params, f, r, T))


def test_rfm_equals_lifetimes_calibration_and_holdout(simulated):
    tx = simulate_transactions(30_000, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = calibration_and_holdout_data(tx, "customer_id", "date", calibration_period_end="2020-09-29",
                                             observation_period_end="2021-06-29", freq="D", freq_multiplier=7,
                                             monetary_value_col="amount")
    plain = plain.reindex(simulated["customer_id"])
    assert len(plain) == len(simulated) and not plain["frequency_cal"].isna().any()
    np.testing.assert_array_equal(simulated["frequency"], plain["frequency_cal"])
    np.testing.assert_array_equal(simulated["holdout_purchases"], plain["frequency_holdout"])
    for ours, theirs in (("recency", "recency_cal"), ("T", "T_cal"), ("monetary_value", "monetary_value_cal")):
        np.testing.assert_allclose(simulated[ours], plain[theirs], rtol=1e-12)
    # shuffled transactions give the same table
    shuffled = tx.sample(frac=1.0, random_state=3)
    again = rfm.calibration_holdout(rfm.daily_purchases(shuffled), "2020-09-29", "2021-06-29")
    pd.testing.assert_frame_equal(again, simulated, check_exact=False, rtol=1e-12)


def test_benchmark_runs_and_both_paths_agree(tmp_path):
    """The scale benchmark end to end at a small N, serving run included; no time is asserted."""
    out = tmp_path / "bench.json"
    mlruns = ROOT / "mlruns"
    before = sorted(mlruns.iterdir()) if mlruns.exists() else []
    proc = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--sizes", "4000", "--requests", "10",
                           "--big-rows", "2000", "--json", str(out), "--markdown", str(tmp_path / "bench.md")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    (size,) = res["sizes"]
    assert size["customers"] == 4000 and size["transactions"] > 4000
    agree = size["model"]["agreement"]
    assert agree["param_rel_max"] < 1e-6
    assert max(agree["prediction_rel_same_params"].values()) < 1e-9
    assert agree["segment_agreement"] > 0.999
    rfm_agree = size["rfm"]["agreement"]
    assert all(rfm_agree["identical"].values())
    assert max(rfm_agree["recency_rel"], rfm_agree["T_rel"], rfm_agree["monetary_rel"]) < 1e-12
    for path in ("plain", "ours"):
        for step in ("rfm", "model"):
            run = size[step][path]
            assert run["total"] > 0 and run["peak_rss_gb"] > 0 and run["steps"]
    assert set(res["serving"]) == {"one customer", "2,000 customers"}
    assert all(s["requests"] >= 3 and s["p50_ms"] > 0 for s in res["serving"].values())
    md = (tmp_path / "bench.md").read_text()
    assert "| 4,000 |" in md
    targets = md.split("Targets:")[1]  # each figure with a target is printed against it
    assert "| 4,000 customers: fit + score against plain `lifetimes` |" in targets and "| ≥ 50× |" in targets
    assert "| served: one customer | p50 " in targets and "| < 15 ms |" in targets
    # the benchmark's MLflow store and artifacts stay in its temporary folder
    assert (sorted(mlruns.iterdir()) if mlruns.exists() else []) == before
