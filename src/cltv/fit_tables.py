"""The evaluation's plot tables of a fitted :class:`cltv.model.CLTVModel` and the chi-square of
its calibration histogram: customers by repeat purchases (observed vs expected), holdout
purchases by calibration frequency, cumulative repeat purchases, and P(alive) and expected
purchases over frequency x recency. Times in weeks (with a season, the model's ages and horizons
in operational weeks, :mod:`cltv.model_season`). With covariates, the population figures sum
each covariate row's model over its customers (:func:`cltv.model_effects.groups`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import model_effects, model_season, numeric
from .schema import DAYS_PER_WEEK

HISTOGRAM_CELLS = 8  # 0, 1, ..., 6 and 7+ repeat purchases


def calibration_histogram(ch: pd.DataFrame, model) -> pd.DataFrame:
    """Observed vs expected number of customers with 0..6 and 7+ repeat purchases in the
    calibration period (expected: sum over customers of P(X(T_i) = k), once per distinct T and
    covariate row)."""
    last = HISTOGRAM_CELLS - 1
    expected = np.zeros(last)
    T = model_season.clocked(model, ch)["T"].to_numpy(dtype=float)  # with a season: operational weeks
    for one, idx in model_effects.groups(model, ch):  # with covariates: per covariate row, summed
        ages, counts = np.unique(T[idx], return_counts=True)
        expected += [numeric.dot(one.purchases_.prob_n_purchases(ages, k), counts.astype(float)) for k in range(last)]
    expected = [*expected.tolist(), len(ch) - sum(expected.tolist())]
    observed = np.bincount(np.minimum(ch["frequency"].to_numpy(), last), minlength=HISTOGRAM_CELLS)
    labels = [str(k) for k in range(last)] + [f"{last}+"]
    return pd.DataFrame({"repeat_purchases": labels, "observed": observed.astype(float), "expected": expected})


def holdout_by_frequency(pred: pd.DataFrame) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency (0..6, 7+)."""
    last = HISTOGRAM_CELLS - 1
    key = np.minimum(pred["frequency"].to_numpy(), last)
    g = pred.assign(cell=key).groupby("cell", sort=True)
    out = pd.DataFrame({"customers": g.size(), "actual": g["actual"].mean(), "predicted": g["predicted"].mean()})
    out = out.reindex(range(HISTOGRAM_CELLS))
    out.insert(0, "frequency", [str(k) for k in range(last)] + [f"{last}+"])
    out["customers"] = out["customers"].fillna(0).astype("int64")
    return out.reset_index(drop=True)


def cumulative_repeat(daily: pd.DataFrame, model, calibration_end, observation_end,
                      ch: pd.DataFrame | None = None) -> pd.DataFrame:
    """Weekly cumulative repeat purchases of the calibration cohort, actual vs model.

    Week w counts days up to ``start + 7 w`` where ``start`` is the first purchase in the data.
    The model's curve sums each customer's unconditional E[X(w - s_i)], ``s_i`` being the
    customer's first purchase (weeks after ``start``); with covariates, under the model of the
    customer's covariate row of ``ch`` (the calibration table).
    """
    cal, obs = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    firsts = daily.groupby("customer_id", sort=True)["date"].min()
    cohort = firsts[firsts <= cal]
    start = cohort.min()
    n_weeks = int(np.ceil(((obs - start) / pd.Timedelta(days=1) + 1) / DAYS_PER_WEEK))
    weeks = np.arange(1, n_weeks + 1, dtype=float)

    d = daily[daily["customer_id"].isin(cohort.index) & (daily["date"] <= obs)]
    is_repeat = d["date"].to_numpy() > d["customer_id"].map(cohort).to_numpy()
    day = ((d["date"] - start) / pd.Timedelta(days=1)).to_numpy()[is_repeat]
    # a purchase on day k (0-based) is inside week w when k < 7 w
    actual = np.searchsorted(np.sort(day), DAYS_PER_WEEK * weeks, side="left").astype(float)

    first = ((cohort - start) / pd.Timedelta(days=1)).to_numpy() / DAYS_PER_WEEK
    expected = np.zeros(weeks.size)
    for one, idx in model_effects.groups(model, ch) if model.designs_ else [(model, None)]:
        s, counts = np.unique(first if idx is None else first[cohort.index.isin(ch["customer_id"].iloc[idx])],
                              return_counts=True)
        age = model_season.ages(model, start, weeks, s)  # with a season: operational weeks
        zeros = np.zeros_like(age)
        expected += numeric.matvec(one.purchases_.expected_purchases(age, zeros, zeros, zeros), counts)
    return pd.DataFrame({
        "week": weeks.astype("int64"),
        "actual": actual,
        "model": expected,
        "period": np.where(start + pd.to_timedelta(7 * weeks, unit="D") <= cal + pd.Timedelta(days=1), "calibration", "holdout"),
    })


def chi2(hist: pd.DataFrame, prefix: str, parameters: int) -> dict[str, float]:
    chi2 = float((((hist["observed"] - hist["expected"]) ** 2) / hist["expected"]).sum())
    dof = HISTOGRAM_CELLS - 1 - parameters
    return {f"{prefix}_chi2": chi2, f"{prefix}_chi2_dof": dof, f"{prefix}_chi2_pvalue": numeric.chi2_sf(chi2, dof)}


def frequency_recency_grid(model, T: float, months: float, cells: int = 12) -> pd.DataFrame:
    """P(alive) and expected purchases in the next ``months`` months of a customer of age ``T``
    weeks over a grid of frequency (0 .. ``cells`` - 1 repeat purchases) and recency (weeks,
    ``cells`` steps from 0 to T; frequency 0 has recency 0 only): the standard diagnostic of a
    purchase model (with covariates: of the reference customer, every covariate 0)."""
    recency = np.linspace(0.0, T, cells)
    x, tx = np.meshgrid(np.arange(cells, dtype=float), recency, indexing="ij")
    keep = (x > 0) | (tx == 0)
    x, tx = x[keep], tx[keep]
    age = np.full_like(x, T)
    op = model_season.clocked(model, pd.DataFrame({"recency": tx, "T": age}))  # with a season: operational weeks
    ahead = model_season.ahead(model, [months * model.horizon_weeks_per_month])[0]
    op_tx, op_age = op["recency"].to_numpy(), op["T"].to_numpy()
    return pd.DataFrame({
        "frequency": x.astype("int64"), "recency": tx, "p_alive": model.purchases_.prob_alive(x, op_tx, op_age),
        "expected_purchases": model.purchases_.expected_purchases(ahead, x, op_tx, op_age),
    })
