"""Covariates in every model (cltv.models.effects, cltv.model_effects): exact gradients, the model
without covariates when every effect is 0, effects of simulated customers recovered, and a
CLTVModel that fits, reports, predicts and round-trips them."""
import json

import numpy as np
import pandas as pd
import pytest

from cltv import model_effects
from cltv.data.simulate import simulate_rfm
from cltv.errors import ConfigError, DataError
from cltv.model import CLTVModel
from cltv.models import PURCHASE_MODELS, SPEND_MODELS
from cltv.models import effects
from cltv.models.purchase import prepare

EFFECTS = {"purchases": {"online": 0.5, "app": -0.5}, "dropout": {"market": 1.0, "online": -0.8},
           "spend": {"online": 0.3, "market": -0.2}}
MODELS = {**PURCHASE_MODELS, **SPEND_MODELS}


def attributes(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.integers(0, 2, n) for c in ("online", "market", "app")})


def problem(kind: str, n: int, seed: int = 3):
    """(model class, columns, designs, effect names) of ``n`` customers simulated with EFFECTS,
    first seen 6 months to 3 years ago (dropout effects need long histories to be seen)."""
    cls, att = MODELS[kind], attributes(n, seed)
    rfm = simulate_rfm(n, purchases=kind if kind in PURCHASE_MODELS else "bgnbd", attributes=att, effects=EFFECTS,
                       seed=seed, T=np.random.default_rng(seed).uniform(26.0, 156.0, n))
    names = {p: list(EFFECTS[p]) for p in cls.links}
    if kind in SPEND_MODELS:
        usable = (rfm["frequency"] > 0).to_numpy()
        columns = (rfm["frequency"].to_numpy(float)[usable], rfm["monetary_value"].to_numpy(float)[usable])
        return cls, columns, {p: att[names[p]].to_numpy(float)[usable] for p in names}, names
    columns = tuple(rfm[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    return cls, columns, {p: att[names[p]].to_numpy(float) for p in names}, names


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_the_gradient_is_exact_and_zero_effects_are_the_model_without_covariates(kind):
    cls, columns, designs, _ = problem(kind, 2000)
    w = np.ones(columns[0].size)
    k = sum(d.shape[1] for d in designs.values())
    theta = np.concatenate([np.log(cls.example), np.linspace(-0.3, 0.4, k)])
    value, grad = effects.objective(theta, cls, columns, w, designs, 0.0)
    h = 1e-6
    numeric = [(effects.objective(theta + h * e, cls, columns, w, designs, 0.0)[0]
                - effects.objective(theta - h * e, cls, columns, w, designs, 0.0)[0]) / (2 * h) for e in np.eye(theta.size)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    # the terms of the purchase count alone once per (count, covariates), the design by its distinct rows:
    # the same figures
    packed = {p: effects.compact(d) for p, d in designs.items()}  # the fit's form: distinct covariate rows
    once = effects.objective(theta, cls, columns, w, packed, 0.0, effects.by_count(columns[0], designs))
    assert abs(once[0] - value) <= 1e-12 * abs(value)
    np.testing.assert_allclose(once[1], grad, rtol=1e-10, atol=1e-13)

    zero = np.concatenate([np.log(cls.example), np.zeros(k)])
    with_cov = effects.objective(zero, cls, columns, w, designs, 0.0)
    if kind in SPEND_MODELS:
        plain = cls.objective(np.log(cls.example), *columns, w, 0.0)
    else:
        x, tx, T, w1, by_x = prepare(*columns, None)
        plain = cls.objective(np.log(cls.example), x, tx, T, w1, 0.0, by_x)
    assert abs(with_cov[0] - plain[0]) <= 1e-10
    np.testing.assert_allclose(with_cov[1][:len(cls.example)], plain[1], rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_parameters_and_effects_of_100k_simulated_customers_come_back_within_10_percent(kind):
    cls, columns, designs, names = problem(kind, 100_000)
    plain, _ = cls.fit(*columns)
    fitted, result = effects.fit(plain, columns, designs, names)
    assert fitted is not None, result.message
    np.testing.assert_allclose(fitted.values, cls.example, rtol=0.1)
    se = fitted.standard_errors
    for process, truth in ((p, EFFECTS[p]) for p in names):
        for name, gamma in truth.items():
            got = fitted.effects[process][name]
            assert abs(got - gamma) <= 0.1 * abs(gamma) and abs(got - gamma) <= 3 * se[f"{process}:{name}"], (
                process, name, got, gamma, se)
    assert result.log_likelihood > plain.log_likelihood(*columns)


def rfm_with_attributes(n: int = 20_000) -> pd.DataFrame:
    att = attributes(n, 5)
    rfm = simulate_rfm(n, attributes=att, effects=EFFECTS, seed=5)
    return rfm.assign(channel=np.where(rfm["online"] == 1, "online", "store"),
                      market=np.where(rfm["market"] == 1, "TR", "DE"))


COVARIATES = {"purchases": ["channel"], "dropout": ["market"], "spend": ["channel"]}


def test_a_model_with_covariates_reports_multipliers_predicts_by_them_and_round_trips():
    rfm = rfm_with_attributes()
    model = CLTVModel(covariates=COVARIATES, interval_level=None).fit(rfm)
    table = model_effects.effects_table(model).set_index("effect")
    # online is the more frequent channel (the reference): store customers buy less often and spend less
    store = table.loc["channel=store"]
    assert set(store["process"]) == {"purchases", "spend"}
    for _, row in store.iterrows():
        assert row["low"] < row["multiplier"] < row["high"] < 1.0
    dropout = table[table["process"] == "dropout"]  # TR customers' a and b are larger; the reference is the commoner market
    assert len(dropout) == 1 and (dropout["multiplier"].iloc[0] > 1.0) == (dropout.index[0] == "market=TR")
    tests = model.training_["covariate_tests"]
    assert tests["purchases"]["df"] == 2 and tests["purchases"]["p_value"] < 1e-6 and tests["spend"]["lr"] > 0

    scores = model.predict(rfm)
    online = (rfm["channel"] == "online").to_numpy()
    assert scores["expected_value"][online].mean() > scores["expected_value"][~online].mean()
    again = CLTVModel.from_dict(json.loads(json.dumps(model.to_dict(), sort_keys=True)))  # as model.save writes it
    pd.testing.assert_frame_equal(again.predict(rfm), scores)
    pd.testing.assert_frame_equal(model_effects.effects_table(again), model_effects.effects_table(model))
    shuffled = rfm.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(model.predict(shuffled).set_index("customer_id").loc[scores["customer_id"]]
                                  .reset_index(), scores)


def test_with_every_effect_zero_predictions_are_the_model_without_covariates():
    rfm = rfm_with_attributes(5000)
    plain = CLTVModel(interval_level=None).fit(rfm)
    d = CLTVModel(covariates=COVARIATES, interval_level=None).fit(rfm).to_dict()
    for part in ("purchases", "spend"):
        d[part] = {**plain.to_dict()[part], "effects": {p: [[k, 0.0] for k, _ in e] for p, e in d[part]["effects"].items()}}
        del d[part]["covariance"], d[part]["standard_errors"]
    d["segment_cutoffs"] = plain.segment_cutoffs_
    zero = CLTVModel.from_dict(d)
    np.testing.assert_allclose(zero.clv(rfm), plain.clv(rfm), rtol=1e-10, atol=0)
    pd.testing.assert_frame_equal(zero.predict(rfm), plain.predict(rfm), rtol=1e-10)


@pytest.mark.parametrize("change, error, words", [
    (dict(covariates={"loyalty": ["channel"]}), ConfigError, "unknown process(es) ['loyalty']"),
    (dict(covariates={"spend": ["channel"]}, fitter="lifetimes"), ConfigError, "need model.fitter=fast"),
    (dict(covariates={"purchases": ["colour"]}), DataError, "no column 'colour'"),
])
def test_a_bad_covariate_setting_is_one_line_before_fitting(change, error, words):
    with pytest.raises(error) as caught:
        CLTVModel(**change).fit(rfm_with_attributes(200))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_scoring_a_level_never_seen_or_a_missing_column_names_it():
    rfm = rfm_with_attributes(2000)
    model = CLTVModel(covariates=COVARIATES, interval_level=None).fit(rfm)
    with pytest.raises(DataError, match=r"column 'channel': level\(s\) \['phone'\] never seen in training"):
        model.predict(rfm.assign(channel="phone"))
    with pytest.raises(DataError, match=r"no column\(s\) \['market'\] for model.covariates"):
        model.predict(rfm.drop(columns="market"))


def test_the_flo_generator_s_channel_effects_come_back_through_prepare(tmp_path):
    """A FLO snapshot drawn with channel effects (flo_sample.channel_effects), read by the prepare
    path as `-S data=flo` reads it, with order_channel on all three processes: each effect within
    3 standard errors of the truth (0 for the channels without one), the non-zero ones within 10 %."""
    from cltv.data.prepare import prepare
    from cltv.data.simulate import FLO_CHANNEL_EFFECTS, simulate_flo, write_flo_csv
    from cltv.data.spec import DataSpec
    from cltv.covariates import join

    write_flo_csv(simulate_flo(50_000, selection=False, seed=11, channel_effects=True), tmp_path / "flo.csv")
    out = prepare(tmp_path / "flo.csv", DataSpec.from_dict({"source": "flo"}), None, None, None, label="flo.csv")
    table = join(out.rfm, out.customers, ["order_channel"], "customers")
    covariates = dict.fromkeys(("purchases", "dropout", "spend"), ["order_channel"])
    model = CLTVModel(monetary_includes_first=True, covariates=covariates, interval_level=None).fit(table)
    effects = model_effects.effects_table(model)
    assert len(effects) == 9 and set(effects["effect"]) == {f"order_channel={c}" for c in ("Desktop", "Ios App", "Mobile")}
    for row in effects.itertuples():
        truth = FLO_CHANNEL_EFFECTS[row.process].get(row.effect.split("=")[1], 0.0)
        assert abs(row.gamma - truth) <= 3 * row.se, row
        assert truth == 0 or abs(row.gamma - truth) <= 0.1 * abs(truth), row


def test_the_covariate_cost_benchmark_runs_and_prints_its_ratio(capsys):
    from benchmarks.covariates import main

    main(["--customers", "5000", "--no-lifetimes"])
    out = capsys.readouterr().out
    assert "| cltv, no covariates |" in out and "<= 5 |" in out and "purchases: online=yes" in out


def test_review_cases_penalizer_cohort_levels_rows_and_lists_are_handled():
    """The model's penalizers reach the fit with covariates; an effect no fitted customer has, a
    bad row and a list in an attribute column are each one line naming what is wrong."""
    from cltv.schema import RFMError

    rfm = rfm_with_attributes(3000)
    free = CLTVModel(covariates=COVARIATES, interval_level=None).fit(rfm)
    held = CLTVModel(covariates=COVARIATES, interval_level=None, purchases_penalizer=0.05).fit(rfm)
    assert held.purchases_.params["r"] != pytest.approx(free.purchases_.params["r"], rel=1e-3)
    # a channel only customers outside the fitted cohort have: named, before the fit with covariates
    lone = rfm.assign(channel=np.where(np.arange(len(rfm)) < 5, "phone", rfm["channel"]))
    cohort = np.arange(len(rfm)) >= 5
    with pytest.raises(DataError, match=r"\['channel=phone'\] is the same for every customer"):
        CLTVModel(covariates=COVARIATES, interval_level=None).fit(lone, cohort=cohort)
    bad = rfm.copy()
    bad.loc[2, "recency"] = -1.0
    with pytest.raises(RFMError) as caught:
        free.predict(bad)
    assert "2" in str(caught.value) and "\n" not in str(caught.value)
    listed = rfm.astype({"channel": object})
    listed.at[0, "channel"] = ["a", "b"]
    with pytest.raises(DataError, match="holds lists or objects"):
        free.predict(listed)
