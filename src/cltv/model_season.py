"""The season in :class:`cltv.model.CLTVModel` (:mod:`cltv.season`, :mod:`cltv.models.seasonal`):
fitted after the purchase model without it (its optimum is the start and the baseline of a
likelihood-ratio test) from the customers' purchase days; predictions measure each customer's
history and each horizon in operational time from the scoring day, the training end.

A history's days follow from its RFM row and the scoring day ``e``: first purchase on
``e - 7 T``, last on ``first + 7 recency`` (rounded to whole days), so requests and tables keep
their calendar RFM columns.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError, FitError
from .models import seasonal
from .numeric import chi2_sf, matvec
from .season import Clock, Season, day_numbers, repeat_days

YEAR = 365  # days of history a yearly shape needs before the end of the fit


def check(setting: dict | None, covariates: dict) -> Season | None:
    """The :class:`Season` of a ``season`` setting ({"shape", "harmonics"}), None for none;
    refused, so far, with covariates."""
    if not setting:
        return None
    unknown = sorted(set(setting) - {"shape", "harmonics", "events"})
    if unknown:
        raise ConfigError(f"model.season: unknown key(s) {unknown}; expected shape, harmonics, events")
    season = Season(setting.get("shape", "none"), int(setting.get("harmonics", 2)), setting.get("events") or {})
    if not season.active:
        return None
    if covariates:
        raise ConfigError("model.season: a season with covariates is not supported yet; choose one")
    return season


def fit(model, season: Season, rfm: pd.DataFrame, weight, purchase_days: pd.DataFrame | None, end) -> dict:
    """Refit ``model.purchases_`` (fitted without a season) with ``season`` on ``rfm``'s histories
    to ``end`` (rows standing for ``weight`` customers) and their repeat purchase days:
    ``purchase_days`` is the daily table (``customer_id``, ``date``) or its
    :func:`cltv.season.repeat_days` (what Spark sends). The customers fitted are those whose first
    purchase day is one of ``rfm``'s (the cohort rules select by that day). Returns what
    :attr:`CLTVModel.season_` holds: the ``season``, its columns' ``names``, ``delta``, the
    ``covariance`` of (parameters, delta), the ``end`` day and the likelihood-ratio ``test``."""
    if purchase_days is None or end is None:
        raise ConfigError("model.season: the fit needs the purchase days and the end of the period "
                          "(CLTVModel.fit(..., purchase_days=daily, end=date)); a snapshot has none")
    end_day = int(day_numbers([end])[0])
    first = end_day - np.round(rfm["T"].to_numpy(dtype=float) * 7.0).astype("int64")
    last = first + np.round(rfm["recency"].to_numpy(dtype=float) * 7.0).astype("int64")
    x = rfm["frequency"].to_numpy(dtype="int64")
    counts = purchase_days if "customer_id" not in purchase_days.columns else repeat_days(
        purchase_days[purchase_days["date"] <= pd.Timestamp(end)])
    counts = counts[np.isin(counts["first_day"], first) & (counts["day"] <= end_day)]
    repeat, repeat_weight = counts["day"].to_numpy(dtype="int64"), counts["purchases"].to_numpy(dtype=float)
    if int(repeat_weight.sum()) != int(np.dot(x, np.ones(len(x)) if weight is None else weight)):
        raise DataError(f"model.season: the purchase days hold {int(repeat_weight.sum()):,} repeat purchases of the "
                        f"customers fitted and their RFM rows {int(np.sum(x if weight is None else x * weight)):,}; "
                        "build both from the same log and end day")
    span = end_day - int(first.min())
    if season.shape != "none" and span < YEAR:
        raise DataError(f"model.season.shape = {season.shape!r}: the fitted purchases span {span} days up to "
                        f"{pd.Timestamp(end).date()}; a yearly shape needs at least one full year ({YEAR} days): "
                        "use a longer calibration period or model.season.shape=none")
    if season.events:  # an event must happen in the fitted period to be estimated
        w = Season(events=season.events).features(np.arange(int(first.min()), end_day + 1))
        if absent := [n for n, col in zip(season.events, w.T) if not col.any()]:
            raise DataError(f"data.calendar: event(s) {absent} have no day from {first.min().astype('datetime64[D]')} "
                            f"to {pd.Timestamp(end).date()}, the fitted period; remove them or extend the period")
    plain = model.purchases_
    fitted, delta, covariance, result = seasonal.fit(plain, x, first, last, end_day, season, repeat, weight,
                                                     repeat_weight)
    if fitted is None:
        raise FitError(f"{plain.title} with a season ({season.shape}) did not converge ({result.message}); "
                       "try fewer harmonics or model.season.shape=months")
    before = plain.log_likelihood(x.astype(float), (last - first) / 7.0, (end_day - first) / 7.0, weight)
    lr = 2.0 * (result.log_likelihood - before)
    names = season.names()
    model.without_season_ = plain  # the test's baseline and the backtest's comparison, until saved
    model.purchases_ = fitted
    return {"season": season.to_dict(), "names": names, "delta": [float(d) for d in delta],
            "covariance": None if covariance is None else covariance.tolist(), "end": str(pd.Timestamp(end).date()),
            "test": {"log_likelihood": float(result.log_likelihood), "log_likelihood_without": float(before),
                     "lr": float(lr), "df": len(names), "p_value": chi2_sf(max(lr, 0.0), len(names))}}


def scoring_day(model) -> str:
    """The day a seasonal model's histories are measured to and its horizons start from: the
    training end unless :func:`on` set another."""
    return model.season_.get("scoring") or model.season_["end"]


def on(model, day):
    """A copy of ``model`` scoring histories measured to ``day`` (e.g. ``cltv score --as-of``);
    ``model`` itself without a season."""
    if not getattr(model, "season_", None):
        return model
    out = copy.copy(model)
    out.season_ = {**model.season_, "scoring": str(pd.Timestamp(day).date())}
    return out


def without(model):
    """A copy of a model fitted with a season, with the purchase model fitted without it (the same
    fit's start; not kept in the model JSON)."""
    plain = copy.copy(model)
    plain.season_, plain.purchases_ = None, getattr(model, "without_season_", model.purchases_)
    return plain


def _clock(model, first_day: int, ahead_weeks: float) -> tuple[Clock, int]:
    """The operational clock of a fitted season from ``first_day`` to ``ahead_weeks`` after the
    scoring day, and the scoring day."""
    s = model.season_
    end = int(day_numbers([scoring_day(model)])[0])
    clock = Clock(Season.from_dict(s["season"]), np.array(s["delta"]), min(first_day, end),
                  end + int(np.ceil(ahead_weeks * 7.0)) + 2)
    return clock, end


def clocked(model, rfm: pd.DataFrame) -> pd.DataFrame:
    """``rfm`` with ``recency`` and ``T`` in operational weeks at the scoring day; unchanged
    without a season."""
    if not getattr(model, "season_", None):
        return rfm
    T = rfm["T"].to_numpy(dtype=float)
    probe = int(day_numbers([scoring_day(model)])[0]) - int(np.round(T.max() * 7.0)) if len(T) else 0
    clock, end = _clock(model, probe, 0.0)
    first = end - np.round(T * 7.0)
    last = first + np.round(rfm["recency"].to_numpy(dtype=float) * 7.0)
    return rfm.assign(recency=clock.weeks(last) - clock.weeks(first), T=clock.weeks(end) - clock.weeks(first))


def ahead(model, weeks: np.ndarray) -> np.ndarray:
    """Calendar weeks after the scoring day as operational weeks; unchanged without a season."""
    weeks = np.asarray(weeks, dtype=float)
    if not getattr(model, "season_", None):
        return weeks
    clock, end = _clock(model, int(day_numbers([scoring_day(model)])[0]),
                        float(weeks.max()) if weeks.size else 0.0)
    return clock.weeks(end + weeks * 7.0) - clock.weeks(end)


def ages(model, start: pd.Timestamp, weeks: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """Weeks from each first purchase (``firsts``, weeks after day ``start``) to each of ``weeks``
    (weeks after ``start``), 0 before it: operational weeks with a season, else calendar weeks."""
    if not getattr(model, "season_", None):
        return np.clip(weeks[:, None] - firsts[None, :], 0.0, None)
    day0 = int(day_numbers([start])[0])
    clock = Clock(Season.from_dict(model.season_["season"]), np.array(model.season_["delta"]), day0,
                  day0 + int(np.ceil(7.0 * max(float(np.max(weeks)), 0.0))) + 2)
    at = clock.weeks(day0 + 7.0 * np.asarray(weeks, dtype=float))
    return np.clip(at[:, None] - clock.weeks(day0 + 7.0 * np.asarray(firsts, dtype=float))[None, :], 0.0, None)


def index(model, after=None) -> pd.DataFrame:
    """The fitted multiplier ``s`` on each of the 365 days after ``after`` (default: the scoring
    day): ``day`` (1 = the day after), ``date``, ``multiplier`` and its 95 % band ``low``, ``high``
    (from the covariance of ``delta``); 1 throughout without a season (``date`` empty without a day)."""
    day = np.arange(1, 366)
    s = getattr(model, "season_", None)
    if after is None and not s:
        return pd.DataFrame({"day": day, "date": "", "multiplier": 1.0, "low": 1.0, "high": 1.0})
    start = int(day_numbers([after if after is not None else scoring_day(model)])[0])
    dates = pd.Series((start + day).astype("datetime64[D]")).dt.strftime("%Y-%m-%d")
    if not s:
        return pd.DataFrame({"day": day, "date": dates, "multiplier": 1.0, "low": 1.0, "high": 1.0})
    w = Season.from_dict(s["season"]).features(start + day)
    log_s = matvec(w, np.array(s["delta"]))
    k = len(s["delta"])
    cov = np.array(s["covariance"])[-k:, -k:] if s.get("covariance") else np.zeros((k, k))
    se = np.sqrt(np.sum(np.multiply(w[:, :, None] * cov[None, :, :], w[:, None, :]), axis=(1, 2)))
    return pd.DataFrame({"day": day, "date": dates, "multiplier": np.exp(log_s),
                         "low": np.exp(log_s - 1.959963984540054 * se), "high": np.exp(log_s + 1.959963984540054 * se)})


def next_quarter(model, rfm: pd.DataFrame) -> tuple[float, float]:
    """Expected purchases of ``rfm``'s customers in the next 3 months: with the fitted season and
    with the same model on a flat calendar (``s = 1``)."""
    flat = copy.copy(model)
    flat.season_ = {**model.season_, "delta": [0.0] * len(model.season_["delta"])}
    return float(model.expected_purchases(rfm, 3.0).sum()), float(flat.expected_purchases(rfm, 3.0).sum())
