"""The season (cltv.season, cltv.models.seasonal): calendar columns, an exact gradient, the model
without a season at delta = 0, and a seasonal profile drawn by the log generator coming back,
with the Christmas quarter forecast that the model without a season misses."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from cltv.data import rfm
from cltv.data.simulate import monthly, simulate_transactions
from cltv.models import purchase_model
from cltv.models.seasonal import fit, forecast, objective
from cltv.models.tuples import distinct
from cltv.season import Clock, Season, day_numbers, histories

PROFILE = {11: 1.6, 12: 1.6}  # +60 % in November and December


@pytest.fixture(scope="module")
def christmas():
    """Two simulated years with PROFILE; calibration to 2022-09-30, the Christmas quarter after."""
    log = simulate_transactions(20_000, start="2021-01-01", end="2022-12-31", acquisition_weeks=26, seed=5,
                                season=monthly(PROFILE))
    daily = rfm.daily_purchases(log)
    return daily[daily["date"] <= "2022-09-30"], daily[daily["date"] > "2022-09-30"]


def test_calendar_columns_months_fourier_and_events():
    season = Season("months", events={"promo": {"2022-11-25": 1.0, "2022-11-28": 0.5}})
    days = day_numbers(pd.date_range("2022-01-01", "2022-12-31"))
    w = season.features(days)
    assert season.names()[:2] == ["month=1", "month=2"] and season.names()[-1] == "promo" and w.shape == (365, 12)
    assert np.allclose(w[days == day_numbers(["2022-12-05"])[0], :11], -1.0)  # December: minus every month
    assert w[:, 11].sum() == 1.5 and w[days == day_numbers(["2022-11-28"])[0], 11] == 0.5
    fourier = Season("fourier", 3).features(days)
    assert fourier.shape == (365, 6) and np.abs(fourier.mean(axis=0)).max() < 0.01  # mean zero over a year
    again = Season.from_dict(season.to_dict())
    assert again == season and Clock(season, np.zeros(12), days[0], days[-1]).weeks(days[-1] + 1) == 365 / 7


@pytest.mark.parametrize("kind", ["bgnbd", "mbgnbd", "paretonbd"])
def test_the_gradient_is_exact_and_delta_zero_is_the_model_without_a_season(christmas, kind):
    model = purchase_model(kind)
    _, x, first, last, repeat, end = histories(christmas[0], "2022-09-30")
    (xs, fs, ls), _, counts = distinct(x.astype(float), first, last)
    season = Season("fourier", 2, {"promo": {"2021-11-26": 1.0, "2022-06-01": 1.0}})
    total = np.r_[Season("fourier", 2).features(repeat).sum(axis=0), 0.0]
    args = (model, xs, fs.astype("int64"), ls.astype("int64"), end, counts.astype(float), season, total)
    theta = np.r_[np.log([0.25, 4.0, 0.8, 2.5] if kind != "paretonbd" else [0.55, 10.6, 0.61, 11.7]),
                  0.1, -0.2, 0.05, 0.1, 0.3]
    value, grad = objective(theta, *args)
    central = [(objective(theta + 1e-6 * e, *args)[0] - objective(theta - 1e-6 * e, *args)[0]) / 2e-6
               for e in np.eye(theta.size)]
    np.testing.assert_allclose(central, grad, rtol=1e-5, atol=1e-9)
    plain = model(dict(zip(model.param_names, np.exp(theta[:4]))))
    without = -plain.log_likelihood(xs, (ls - fs) / 7.0, (end - fs) / 7.0, counts) / counts.sum()
    assert abs(objective(np.r_[theta[:4], np.zeros(5)], *args)[0] - without) < 1e-10


def test_a_seasonal_profile_comes_back_and_forecasts_the_christmas_quarter(christmas):
    calibration, holdout = christmas
    ids, x, first, last, repeat, end = histories(calibration, "2022-09-30")
    bgnbd = purchase_model("bgnbd")
    plain = bgnbd.fit(x.astype(float), (last - first) / 7.0, (end - first) / 7.0)[0]
    season = Season("months")
    fitted, delta, covariance, result = fit(plain, x, first, last, end, season, repeat)
    assert result.success and covariance is not None
    # the shape: each month's mean multiplier over the geometric mean, against the truth's
    year = Clock(season, delta, end - 364, end)
    got = pd.Series(year.s).groupby(pd.DatetimeIndex(year.days.astype("datetime64[D]")).month).mean()
    truth = pd.Series([PROFILE.get(m, 1.0) for m in range(1, 13)], index=range(1, 13))
    np.testing.assert_allclose(got / np.exp(np.log(got).mean()), truth / np.exp(np.log(truth).mean()), rtol=0.1)
    se = np.sqrt(np.diag(covariance))[4:]
    assert (se > 0).all() and (se < 0.05).all()
    # the parameters: r, a, b as drawn; alpha per week of the geometric-mean multiplier
    truth = np.array([0.243, 4.414 / np.exp(np.log(truth).mean()), 0.793, 2.426])
    np.testing.assert_allclose(fitted.values, truth, rtol=0.1)
    # the Christmas quarter (92 days after the calibration's end), in aggregate
    actual = holdout.groupby("customer_id").size().reindex(ids, fill_value=0).to_numpy().sum()
    seasonal = forecast(fitted, season, delta, x, first, last, end, 92).sum()
    without = plain.expected_purchases(92 / 7.0, x.astype(float), (last - first) / 7.0, (end - first) / 7.0).sum()
    assert abs(seasonal / actual - 1) < 0.03 and without / actual - 1 < -0.10, (actual, seasonal, without)


def test_the_season_cost_benchmark_runs_and_prints_its_ratio(capsys):
    from benchmarks.season import main

    main(["--customers", "5000", "--no-lifetimes"])
    out = capsys.readouterr().out
    assert "| cltv BG/NBD, no season |" in out and "| cltv Pareto/NBD, no season |" in out
    assert out.count("<= 5 |") == 4 and "month=11 x1." in out


def test_cltv_model_with_a_season_predicts_from_its_scoring_day_and_round_trips(christmas, tmp_path):
    from cltv import model_season
    from cltv.model import CLTVModel

    calibration, holdout = christmas
    ch = rfm.calibration_holdout(pd.concat([calibration, holdout]), "2022-09-30", "2022-12-31")
    model = CLTVModel(season={"shape": "months"}).fit(ch, purchase_days=calibration, end="2022-09-30")
    assert model.season_["test"]["p_value"] < 1e-10 and model.training_["purchases_log_likelihood"] == \
        model.season_["test"]["log_likelihood"]
    _, x, first, last, _, end = histories(calibration, "2022-09-30")
    want = forecast(model.purchases_, Season("months"), np.array(model.season_["delta"]), x, first, last, end, 92)
    got = model.expected_purchases(ch, 92 / 7.0 / 4.345)
    assert got.sum() == pytest.approx(want.sum(), rel=1e-12) and abs(got.sum() / ch["holdout_purchases"].sum() - 1) < 0.03
    scores = model.predict(ch)
    assert (scores["recency"] == ch["recency"]).all() and {"purchases_3m_hi", "clv_lo"} <= set(scores.columns)
    model.save(tmp_path / "model.json")
    again = CLTVModel.load(tmp_path / "model.json")
    assert (again.predict(ch)["clv"] == scores["clv"]).all()
    # scored from another day: the same histories measured to a spring day expect fewer purchases
    spring = model_season.on(model, "2023-03-31").expected_purchases(ch, 3.0).sum()
    assert spring < model.expected_purchases(ch, 3.0).sum() * 0.8
    # the tracking plot follows the season: the cohort's cumulative repeat purchases at the end
    from cltv.fit_tables import calibration_histogram, cumulative_repeat

    track = cumulative_repeat(pd.concat([calibration, holdout]), model, "2022-09-30", "2022-12-31", ch)
    end = track.iloc[-1]
    assert abs(end["model"] / end["actual"] - 1) < 0.03, end
    hist = calibration_histogram(ch, model)
    assert abs(hist["expected"].sum() - len(ch)) < 1e-6 and abs(hist["expected"][0] / hist["observed"][0] - 1) < 0.05
    year = model_season.index(model)
    assert len(year) == 365 and year.loc[year["date"].str[5:7] == "11", "multiplier"].min() > 1.3
    assert (year["low"] < year["multiplier"]).all() and (year["multiplier"] < year["high"]).all()


def test_a_season_is_refused_where_it_cannot_apply(christmas):
    from cltv.errors import ConfigError, DataError
    from cltv.model import CLTVModel

    calibration, _ = christmas
    ch = rfm.rfm(calibration, "2022-09-30")
    with pytest.raises(ConfigError, match="needs the purchase days and the end"):
        CLTVModel(season={"shape": "fourier"}).fit(ch)
    short = calibration[calibration["date"] <= "2021-10-31"]
    with pytest.raises(DataError, match="span 303 days up to 2021-10-31; a yearly shape needs at least one full year"):
        CLTVModel(season={"shape": "months"}).fit(rfm.rfm(short, "2021-10-31"), purchase_days=short, end="2021-10-31")


def test_a_calendar_event_comes_back_and_a_bad_calendar_is_one_line(tmp_path):
    """Purchase rates doubled on the first day of every month (a promotion in data.calendar) and
    +60 % in November and December: both come back from two simulated years."""
    from cltv.errors import DataError
    from cltv.model import CLTVModel
    from cltv.season import read_calendar

    firsts = pd.date_range("2021-01-01", "2022-12-01", freq="MS")
    pd.DataFrame({"date": pd.date_range("2021-01-01", "2022-12-31").strftime("%Y-%m-%d"), "promo": 0}).assign(
        promo=lambda t: t["date"].isin(firsts.strftime("%Y-%m-%d")).astype(int)).to_csv(tmp_path / "cal.csv", index=False)
    events = read_calendar(tmp_path / "cal.csv")
    assert list(events) == ["promo"] and len(events["promo"]) == 24
    promo_days = day_numbers(firsts)
    log = simulate_transactions(20_000, start="2021-01-01", end="2022-12-31", acquisition_weeks=26, seed=7,
                                season=lambda d: monthly(PROFILE)(d) * np.where(np.isin(d, promo_days), 2.0, 1.0))
    daily = rfm.daily_purchases(log)
    model = CLTVModel(season={"shape": "months", "events": events}).fit(
        rfm.rfm(daily, "2022-12-31"), purchase_days=daily, end="2022-12-31")
    names, delta = model.season_["names"], np.array(model.season_["delta"])
    assert names[-1] == "promo" and abs(np.exp(delta[-1]) - 2.0) < 0.2, np.exp(delta[-1])
    model.save(tmp_path / "model.json")  # the events travel in the fitted season, not in the settings
    again = CLTVModel.load(tmp_path / "model.json")
    saved = json.loads((tmp_path / "model.json").read_text())
    assert saved["hyperparameters"]["season"] == {"shape": "months", "harmonics": 2}
    table = rfm.rfm(daily, "2022-12-31").head(500)
    assert (again.predict(table)["clv"] == model.predict(table)["clv"]).all()
    november = Clock(Season("months"), delta[:11], day_numbers(["2022-11-15"])[0], day_numbers(["2022-11-16"])[0]).s[0]
    assert abs(november / np.exp(np.mean(np.r_[delta[:11], -delta[:11].sum()])) - 1.479) < 0.15
    for text, words in [("date,promo\n2021-01-01,1\n2021-01-01,0\n", "2021-01-01 listed twice (line 3)"),
                        ("date,promo\n2021-01-01,yes\n", "column 'promo': not a number at line 2"),
                        ("day,promo\n2021-01-01,1\n", "expected a 'date' column and 1 to 20 event columns")]:
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(DataError, match=re.escape(words)):
            read_calendar(tmp_path / "bad.csv")


def test_the_invoice_generator_takes_a_season_from_the_command_line(tmp_path, capsys):
    from cltv.data.simulate import main

    main(["invoices", "--customers", "3000", "--seed", "2", "--start", "2021-01-01", "--end", "2022-12-31",
          "--acquisition-weeks", "26", "--season", "11=1.6,12=1.6", "--out", str(tmp_path / "x.csv")])
    assert "invoice lines of 3,000 customers" in capsys.readouterr().out
    months = pd.to_datetime(pd.read_csv(tmp_path / "x.csv")["InvoiceDate"].str[:10]).dt.month.value_counts()
    assert min(months[11], months[12]) > 1.3 * months[10]  # the peak, on a slowly falling base


def pareto_log(n: int, params, season, seed: int) -> pd.DataFrame:
    """Purchase days (``customer_id``, ``date``) of ``n`` Pareto/NBD customers whose purchase rate
    and dropout hazard both follow ``season`` (the model in operational time), first purchases in
    the first 26 weeks of 2021, observed to 2022-12-31."""
    from cltv.data.purchase_events import calendar_clock

    rng = np.random.default_rng(seed)
    r, alpha, s, beta = params
    start, horizon = pd.Timestamp("2021-01-01"), 730 / 7.0
    to_op, to_cal = calendar_clock(season, start, 0.0, horizon)
    first = to_op(rng.uniform(0.0, 26.0, n))
    life = rng.exponential(1.0 / rng.gamma(s, 1.0 / beta, n))
    span = np.minimum(life, to_op(horizon) - first)
    k = rng.poisson(rng.gamma(r, 1.0 / alpha, n) * span)
    who = np.r_[np.arange(n), np.repeat(np.arange(n), k)]
    when = to_cal(np.r_[first, first[k > 0].repeat(k[k > 0]) + rng.uniform(0, 1, k.sum()) * span.repeat(k)])
    days = start + pd.to_timedelta(np.floor(when * 7.0), unit="D")
    log = pd.DataFrame({"customer_id": who.astype(str), "date": days, "amount": rng.gamma(6.0, 5.0, who.size)})
    return rfm.daily_purchases(log[log["date"] <= "2022-12-31"])


def test_pareto_nbd_in_operational_time_recovers_the_season():
    """Pareto/NBD takes the season on its whole clock: purchases at rate lambda s(t) and dropout
    at hazard mu s(t); drawn that way, the shape and the parameters come back."""
    from cltv.model import CLTVModel

    truth = (0.55, 10.6, 0.61, 11.7)
    daily = pareto_log(20_000, truth, monthly(PROFILE), seed=3)
    calibration, holdout = daily[daily["date"] <= "2022-09-30"], daily[daily["date"] > "2022-09-30"]
    ch = rfm.calibration_holdout(daily, "2022-09-30", "2022-12-31")
    model = CLTVModel(purchases="paretonbd", season={"shape": "months"}).fit(
        ch, purchase_days=calibration, end="2022-09-30")
    delta = np.array(model.season_["delta"])
    year = Clock(Season("months"), delta, day_numbers(["2021-10-01"])[0], day_numbers(["2022-09-30"])[0])
    got = pd.Series(year.s).groupby(pd.DatetimeIndex(year.days.astype("datetime64[D]")).month).mean()
    want = pd.Series([PROFILE.get(m, 1.0) for m in range(1, 13)], index=range(1, 13))
    np.testing.assert_allclose(got / np.exp(np.log(got).mean()), want / np.exp(np.log(want).mean()), rtol=0.1)
    geometric = np.exp(np.log(want).mean())  # alpha and beta per week of the geometric-mean multiplier
    np.testing.assert_allclose(model.purchases_.values, [0.55, 10.6 / geometric, 0.61, 11.7 / geometric], rtol=0.15)
    seasonal = model.expected_purchases(ch, 92 / 7.0 / 4.345).sum()
    without = model_without(model).expected_purchases(ch, 92 / 7.0 / 4.345).sum()
    actual = ch["holdout_purchases"].sum()
    assert abs(seasonal / actual - 1) < 0.03 and without / actual - 1 < -0.10, (actual, seasonal, without)
    assert 0.0 < model.predict(ch.head(200))["p_alive"].min() and len(holdout)


def model_without(model):
    from cltv import model_season

    return model_season.without(model)
