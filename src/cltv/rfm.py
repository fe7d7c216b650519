"""RFM features in ``lifetimes`` conventions, and the calibration/holdout split.

Conventions (Fader, Hardie & Lee 2005):

- all purchases of one customer on one day are one purchase (amounts summed);
- ``frequency``: number of *repeat* purchase days (distinct days - 1);
- ``recency``: first -> last purchase, in weeks (days / 7);
- ``T``: first purchase -> end of the period, in weeks (days / 7);
- ``monetary_value``: mean total of the repeat purchase days (the first purchase is excluded).

Amounts <= 0 (returns, free goods: CDNOW has 80 such transactions) never fail. A day still
counts as a purchase whatever its total, so it counts in ``frequency`` and ``recency``; but
repeat days whose total is <= 0 are left out of the ``monetary_value`` mean. A customer with no
repeat day of positive total gets ``monetary_value`` 0: the model leaves such customers out of
the Gamma-Gamma fit and scores them with the population mean order value.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data import DataError

DAYS_PER_WEEK = 7.0
RFM_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]


def daily_purchases(tx: pd.DataFrame) -> pd.DataFrame:
    """Merge each customer's transactions of one day into one purchase.

    In: ``customer_id``, ``date``, ``amount``. Out: the same columns, one row per customer
    and day, sorted by customer and date.
    """
    out = (
        tx.groupby(["customer_id", "date"], sort=True, observed=True)["amount"].sum().reset_index()
    )
    return out


def _weeks(delta: pd.Series | pd.TimedeltaIndex) -> np.ndarray:
    return np.asarray(delta / pd.Timedelta(days=1), dtype=float) / DAYS_PER_WEEK


def rfm(daily: pd.DataFrame, end: str | pd.Timestamp) -> pd.DataFrame:
    """RFM per customer from the purchases on or before ``end`` (T is measured to ``end``).

    In: the output of :func:`daily_purchases`. Out: :data:`RFM_COLUMNS`, one row per customer
    whose first purchase is on or before ``end``, sorted by ``customer_id``.
    """
    end = pd.Timestamp(end)
    d = daily[daily["date"] <= end]
    g = d.groupby("customer_id", sort=True, observed=True)
    first = g["date"].transform("min")
    repeat = d["date"] > first
    positive = repeat & (d["amount"] > 0)
    per = pd.DataFrame({
        "first": g["date"].min(),
        "last": g["date"].max(),
        "days": g["date"].size(),
        "spend": d["amount"].where(positive, 0.0).groupby(d["customer_id"], sort=True).sum(),
        "n_pos": positive.groupby(d["customer_id"], sort=True).sum(),
    })
    monetary = np.where(per["n_pos"] > 0, per["spend"] / per["n_pos"].clip(lower=1), 0.0)
    return pd.DataFrame({
        "customer_id": per.index.astype(str),
        "frequency": (per["days"] - 1).astype("int64").to_numpy(),
        "recency": _weeks(per["last"] - per["first"]),
        "T": _weeks(end - per["first"]),
        "monetary_value": monetary.astype(float),
    }).reset_index(drop=True)


def check_period(daily: pd.DataFrame, calibration_end, observation_end, source: str = "data") -> None:
    """Fail with a clear message when the split dates do not fit the data."""
    cal, obs = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    first, last = daily["date"].min(), daily["date"].max()
    if cal >= obs:
        raise DataError(f"calibration_end {cal.date()} must be before observation_end {obs.date()}")
    if cal < first:
        raise DataError(f"{source}: calibration_end {cal.date()} is before the first purchase {first.date()}")
    if cal >= last:
        raise DataError(
            f"{source}: calibration_end {cal.date()} is on or after the last purchase {last.date()}: "
            "the holdout period would be empty"
        )
    late = daily["date"] > obs
    if late.any():
        raise DataError(
            f"{source}: column 'date': {int(late.sum())} purchase day(s) after observation_end "
            f"{obs.date()} (latest {last.date()}); set data.observation_end to cover the data"
        )


def calibration_holdout(daily: pd.DataFrame, calibration_end, observation_end) -> pd.DataFrame:
    """Calibration RFM plus what each customer actually did in the holdout period.

    Customers are those whose first purchase is on or before ``calibration_end``. Out:
    :data:`RFM_COLUMNS` (calibration period) plus ``holdout_purchases`` (distinct purchase
    days after ``calibration_end`` up to ``observation_end``), ``holdout_spend`` (their total)
    and ``holdout_weeks`` (length of the holdout period, weeks).
    """
    cal, obs = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    out = rfm(daily, cal)
    hold = daily[(daily["date"] > cal) & (daily["date"] <= obs)]
    g = hold.groupby("customer_id", sort=True, observed=True)["amount"]
    stats = pd.DataFrame({"holdout_purchases": g.size(), "holdout_spend": g.sum()})
    out = out.join(stats, on="customer_id")
    out["holdout_purchases"] = out["holdout_purchases"].fillna(0).astype("int64")
    out["holdout_spend"] = out["holdout_spend"].fillna(0.0).astype(float)
    out["holdout_weeks"] = float(_weeks(pd.Series([obs - cal]))[0])
    return out
