"""The purchase models behind one interface: published CDNOW numbers for Pareto/NBD, ``lifetimes``'
own fitters and formulas for MBG/NBD and Pareto/NBD, exact gradients, and old model files."""
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from cltv.data import cdnow, rfm
from cltv.errors import ConfigError, ModelError
from cltv.evaluate import evaluate
from cltv.model import CLTVModel
from cltv.models import PURCHASE_MODELS, SPEND_MODELS, tuples
from cltv.models.paretonbd import ParetoNBD
from cltv.models.purchase import prepare
from cltv.models.paretonbd import _dead

from .conftest import CAL_END, OBS_END
from .test_reference import rel

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def pareto(sample_ch):
    return CLTVModel(purchases="paretonbd").fit(sample_ch)


def test_paretonbd_reproduces_fader_hardie_lee_2005(sample_ch, sample_daily, pareto):
    p = pareto.purchases_.params
    for name, target in {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}.items():
        assert rel(p[name], target) < 1e-3, (name, p[name])
    assert pareto.training_["purchases_log_likelihood"] == pytest.approx(-9595.0, abs=0.05)
    metrics, plots = evaluate(sample_ch, sample_daily, pareto, CAL_END, OBS_END)
    assert metrics["calibration_chi2"] == pytest.approx(11.99, abs=0.005) and metrics["calibration_chi2_dof"] == 3
    assert metrics["cumulative_repeat_model_end"] == pytest.approx(4275, abs=1)
    assert metrics["cumulative_repeat_model_end"] / metrics["cumulative_repeat_actual_end"] - 1 == pytest.approx(
        -0.015, abs=0.0005)
    assert metrics["pearson"] == pytest.approx(0.630, abs=5e-4)
    assert plots["holdout_by_frequency"]["predicted"].iloc[0] == pytest.approx(0.14, abs=0.005)  # x = 0


@pytest.fixture(scope="module")
def master_ch():
    daily = rfm.daily_purchases(cdnow.load_cdnow("master"))
    return rfm.calibration_holdout(daily, CAL_END, OBS_END)


def test_mbgnbd_equals_lifetimes_modified_beta_geo_fitter(master_ch):
    from lifetimes import ModifiedBetaGeoFitter

    x, tx, T = (master_ch[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = ModifiedBetaGeoFitter().fit(x, tx, T)
    ours = CLTVModel(purchases="mbgnbd").fit(master_ch).purchases_
    mine = ours.params
    same = all(rel(mine[k], theirs.params_[k]) < 1e-6 for k in ours.param_names)
    their_model = type(ours)(dict(theirs.params_))
    assert same or ours.log_likelihood(x, tx, T) > their_model.log_likelihood(x, tx, T), (mine, dict(theirs.params_))
    # and the closed forms are lifetimes' at the fitted parameters
    lifetimes_model = their_model.to_lifetimes()
    np.testing.assert_allclose(their_model.prob_alive(x, tx, T), lifetimes_model.conditional_probability_alive(
        x, tx, T), rtol=1e-12)
    np.testing.assert_allclose(their_model.expected_purchases(39.0, x, tx, T), lifetimes_model.predict(
        39.0, x, tx, T), rtol=1e-10)


def test_paretonbd_equals_lifetimes_formulas(sample_ch, pareto):
    x, tx, T = (sample_ch[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    model = pareto.purchases_
    theirs = model.to_lifetimes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(model.prob_alive(x, tx, T), theirs.conditional_probability_alive(x, tx, T),
                                   rtol=1e-10)
        np.testing.assert_allclose(model.expected_purchases(39.0, x, tx, T), theirs.predict(39.0, x, tx, T), rtol=1e-10)
        ll = theirs._conditional_log_likelihood(model.values, x, tx, T)
    assert model.log_likelihood(x, tx, T) == pytest.approx(ll.sum(), rel=1e-12)


@pytest.mark.parametrize("x, tx, T, params", [
    (0, 0.0, 39.0, (0.55, 10.6, 0.61, 11.7)), (100, 2.0, 300.0, (0.55, 10.6, 0.61, 11.7)),
    (3, 1.0, 500.0, (0.5, 0.01, 0.2, 50.0)), (5, 1.0, 200.0, (0.5, 200.0, 0.5, 0.01)), (50, 49.0, 52.0, (2, 1, 3, 0.1)),
])
def test_paretonbd_dropout_integral_is_exact(x, tx, T, params):
    """log(s I), I = integral over tx..T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1), against adaptive
    quadrature in log(alpha + tau)."""
    r, a, s, b = params
    lo = np.log(a + tx) * (1 - (r + x)) - (s + 1) * np.log(b + tx)  # scale, so quad sees numbers near 1

    def f(v):
        return np.exp(v * (1 - (r + x)) - (s + 1) * np.log(np.exp(v) - a + b) - lo)
    edges = np.linspace(np.log(a + tx), np.log(a + T), 60)
    total = sum(quad(f, e0, e1, epsabs=0, epsrel=1e-12, limit=200)[0] for e0, e1 in zip(edges[:-1], edges[1:]))
    got = _dead(r, a, s, b, np.array([float(x)]), np.array([tx]), np.array([T]))[0][0]
    assert got == pytest.approx(np.log(s * total) + lo, abs=1e-11)


#: every registered model as (part, kind): the generic tests below run on each
MODELS = [("purchases", k) for k in PURCHASE_MODELS] + [("spend", k) for k in SPEND_MODELS]


def objective_and_data(part: str, kind: str, ch):
    """The model's objective as a function of log-parameters and penalizer, on ``ch``'s data."""
    if part == "purchases":
        cols = (ch[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        (x, tx, T), _, n = tuples.distinct(*cols)
        data = prepare(x, tx / T.max(), T / T.max(), n)
        return lambda point, pen: PURCHASE_MODELS[kind].objective(point, *data[:4], pen, data[4])
    usable = (ch["frequency"] > 0) & (ch["monetary_value"] > 0)
    x, m = ch.loc[usable, "frequency"].to_numpy(float), ch.loc[usable, "monetary_value"].to_numpy(float)
    return lambda point, pen: SPEND_MODELS[kind].objective(point, x, m, np.ones_like(x), pen)


def fitted(part: str, kind: str, ch) -> CLTVModel:
    return CLTVModel(**{part: kind}).fit(ch)


@pytest.mark.parametrize("part, kind", MODELS)
def test_gradient_is_the_objectives_derivative(part, kind, sample_ch):
    objective = objective_and_data(part, kind, sample_ch)
    k = len((PURCHASE_MODELS if part == "purchases" else SPEND_MODELS)[kind].param_names)
    for point in (np.full(k, 0.1), np.log(np.linspace(0.2, 0.7, k))):
        grad = objective(point, 0.01)[1]
        h = 1e-6
        numeric = [(objective(point + h * e, 0.01)[0] - objective(point - h * e, 0.01)[0]) / (2 * h) for e in np.eye(k)]
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("part, kind", MODELS)
def test_every_model_round_trips_through_json(part, kind, tmp_path, sample_ch):
    model = fitted(part, kind, sample_ch)
    model.save(tmp_path / "m.json")
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved[part]["kind"] == kind and saved["hyperparameters"][part] == kind
    assert sorted(saved[part]["params"]) == sorted(getattr(model, f"{part}_").param_names)
    again = CLTVModel.load(tmp_path / "m.json")
    assert again.predict(sample_ch).equals(model.predict(sample_ch))
    # the file's parameters are what predicts: another value of any of them changes the scores
    for name in saved[part]["params"]:
        changed = json.loads(json.dumps(saved))
        changed[part]["params"][name] *= 1.1
        moved = CLTVModel.from_dict(changed).predict(sample_ch)
        assert not np.allclose(moved["clv"], model.predict(sample_ch)["clv"], rtol=1e-6, atol=0), name
    # parameter objects refuse unknown and missing names
    for params in ({**saved[part]["params"], "extra": 1.0}, dict(list(saved[part]["params"].items())[1:])):
        with pytest.raises(ModelError, match="expected"):
            CLTVModel.from_dict({**saved, part: {**saved[part], "params": params}})


def test_a_bgnbd_model_file_of_format_1_still_loads(sample_ch, sample_model):
    old = CLTVModel.load(DATA / "cdnow_sample_model_v1.json")  # written by the BG/NBD-only code (cltv-model/1)
    # its parameters are where that code's BFGS stopped; today's fit goes on to the optimum
    assert old.purchases == "bgnbd" and old.purchases_.params == pytest.approx(sample_model.purchases_.params, rel=1e-6)
    scores, expected = old.predict(sample_ch), sample_model.predict(sample_ch)
    same = [c for c in scores.columns if not c.endswith(("_lo", "_hi", "_span"))]
    assert list(scores.columns) == list(expected.columns)
    assert scores["segment"].equals(expected["segment"]) and scores["customer_id"].equals(expected["customer_id"])
    numbers = [c for c in same if c not in ("customer_id", "segment")]
    np.testing.assert_allclose(scores[numbers], expected[numbers], rtol=1e-6)
    # no covariance in a format-1 file: intervals from the customers' posterior alone
    assert old.purchases_.covariance is None and np.isfinite(scores["clv_hi"]).all()
    assert not scores["clv_hi"].equals(expected["clv_hi"])
    assert old.to_dict()["format"] == "cltv-model/2"


def test_unknown_kinds_are_refused_with_the_choices(sample_ch):
    with pytest.raises(ConfigError, match=re.escape(f"unknown purchase model 'no-such'; choose one of "
                                                   f"{sorted(PURCHASE_MODELS)}")):
        CLTVModel(purchases="no-such").fit(sample_ch)


def test_pareto_fit_uses_only_distinct_histories(sample_ch):
    cols = [sample_ch[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    (x, tx, T), _, n = tuples.distinct(*cols)
    by_tuple, _ = ParetoNBD.fit(x, tx, T, n)
    by_row, _ = ParetoNBD.fit(*cols)
    np.testing.assert_allclose(by_tuple.values, by_row.values, rtol=1e-10)


@pytest.mark.parametrize("kind", sorted(PURCHASE_MODELS))
def test_simulated_parameters_are_recovered(kind):
    """Each model's own simulator (``simulate``) at its ``example`` parameters, fitted back; the
    spend model's too."""
    from cltv.data.simulate import simulate_rfm

    truth = PURCHASE_MODELS[kind].example
    for spend, spend_model in SPEND_MODELS.items():
        data = simulate_rfm(40_000, truth, spend_model.example, purchases=kind, spend=spend, seed=3)
        model = CLTVModel(purchases=kind, spend=spend).fit(data)
        np.testing.assert_allclose(model.purchases_.values, truth, rtol=0.10)
        np.testing.assert_allclose(model.spend_.values, spend_model.example, rtol=0.10)


def test_standard_errors_are_the_delta_method_values(sample_model):
    """BG/NBD on the CDNOW sample: the published delta-method standard errors of a correct
    covariance (about r 0.0126, alpha 0.378, a 0.186, b 0.705)."""
    se = sample_model.purchases_.standard_errors
    for name, target in {"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705}.items():
        assert rel(se[name], target) < 0.01, (name, se[name])
    assert sample_model.to_dict()["purchases"]["standard_errors"] == se


@pytest.mark.parametrize("part, kind", MODELS)
def test_covariance_is_the_inverse_of_a_finite_difference_hessian(part, kind, sample_ch):
    """Against second differences of the log-likelihood *values* (not of the gradient) in natural
    parameters."""
    model = getattr(fitted(part, kind, sample_ch), f"{part}_")
    if part == "purchases":
        columns = tuple(sample_ch[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    else:
        usable = (sample_ch["frequency"] > 0) & (sample_ch["monetary_value"] > 0)
        columns = tuple(sample_ch.loc[usable, c].to_numpy(float) for c in ("frequency", "monetary_value"))
    theta = np.array(model.values)
    k, h = theta.size, 1e-3 * theta

    def ll(values):
        return type(model).of(*values).log_likelihood(*columns)
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            hessian[i, j] = -(ll(theta + ei + ej) - ll(theta + ei - ej) - ll(theta - ei + ej) + ll(theta - ei - ej)) / (
                4 * h[i] * h[j])
    np.testing.assert_allclose(model.covariance, np.linalg.inv(hessian), rtol=2e-3, atol=1e-12)
    again = getattr(CLTVModel.from_dict(fitted(part, kind, sample_ch).to_dict()), f"{part}_")
    assert again.covariance == model.covariance
