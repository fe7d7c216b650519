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

from .. import numeric
from ..errors import DataError
from ..schema import DAYS_PER_WEEK

NS_PER_DAY = 86_400 * 10**9
RFM_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]


def _sorted_by_customer_and_day(frame: pd.DataFrame) -> tuple[np.ndarray, pd.Series, np.ndarray, np.ndarray]:
    """``frame`` (``customer_id``, ``date``, ``amount``) as plain arrays sorted by customer and
    day: (customer code per row, the customer ids by code in ascending order, day number per
    row, amount per row). Rows of one customer and day keep their input order. Codes and days are
    32-bit (a row costs 16 bytes here, not 24) and each array is reordered alone, so the sort holds
    at most one extra column at a time."""
    ids = frame["customer_id"]
    values = ids.array
    day = _day_numbers(frame["date"])
    kind = np.int32 if len(ids) < 2**31 else np.int64
    if len(ids) > 1 and bool(np.all(np.asarray(values[1:] >= values[:-1]))):
        # already grouped in ascending id order (e.g. our own daily table): no hashing needed
        new = np.concatenate([[True], np.asarray(values[1:] != values[:-1])])
        code = np.cumsum(new, dtype=kind)
        code -= 1
        uniques = ids[new].reset_index(drop=True)
        del new
    else:
        code, uniques = pd.factorize(ids, sort=True)
        code = code.astype(kind)
        uniques = pd.Series(uniques, dtype=ids.dtype)
    amount = frame["amount"].to_numpy(dtype=float)
    if code.size > 1 and not (bool(np.all(code[1:] >= code[:-1])) and _days_ascending(code, day)):
        low = int(day.min())
        key = code.astype(np.int64)  # in place from here: one array of memory
        key *= int(day.max()) - low + 1
        key += day
        key -= low
        order = np.argsort(key, kind="stable")
        del key
        code = code[order]
        day = day[order]
        amount = amount[order]
    return code, uniques, day, amount


def _day_numbers(date: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of each ``date`` (int32), a block at a time."""
    ns = date.to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)
    day = np.empty(ns.size, dtype=np.int32)
    for rows in numeric.blocks(ns.size):
        day[rows] = ns[rows] // NS_PER_DAY
    return day


def _days_ascending(code: np.ndarray, day: np.ndarray) -> bool:
    """Whether ``day`` ascends within each customer of ``code`` (ascending)."""
    same = code[1:] == code[:-1]
    same &= day[1:] < day[:-1]
    return not bool(same.any())


def _days(day: np.ndarray) -> np.ndarray:
    return np.multiply(day, NS_PER_DAY, dtype=np.int64).view("datetime64[ns]")


def daily_purchases(tx: pd.DataFrame) -> pd.DataFrame:
    """Merge each customer's transactions of one day into one purchase.

    In: ``customer_id``, ``date``, ``amount``. Out: the same columns, one row per customer
    and day, sorted by customer and date.
    """
    code, ids, day, amount = _sorted_by_customer_and_day(tx)
    new = np.empty(len(code), dtype=bool)
    new[:1] = True
    np.not_equal(code[1:], code[:-1], out=new[1:])
    new[1:] |= day[1:] != day[:-1]
    start = np.flatnonzero(new)
    del new
    with np.errstate(over="ignore"):
        total = np.add.reduceat(amount, start) if start.size else amount[:0]
    del amount
    code = code[start]  # one row per customer and day; each per-transaction array goes once cut
    day = day[start]
    del start
    if not np.isfinite(total).all():
        i = np.flatnonzero(~np.isfinite(total))[0]
        raise DataError(f"customer {ids[code[i]]!r}: the amounts of {str(_days(day[i:i + 1])[0])[:10]} add "
                        "up to more than a number holds; expected amounts in money (at most about 1e12 each)")
    customer = ids.take(code).reset_index(drop=True)
    del code
    return pd.DataFrame({"customer_id": customer, "date": _days(day), "amount": total}, copy=False)


def _weeks(days: np.ndarray) -> np.ndarray:
    weeks = np.array(days, dtype=float)
    weeks /= DAYS_PER_WEEK
    return weeks


def _day(date: str | pd.Timestamp) -> int:
    return int(pd.Timestamp(date).as_unit("ns").value // NS_PER_DAY)


def _rfm_arrays(code, ids, day, amount, end: int) -> tuple[pd.DataFrame, np.ndarray]:
    """RFM of the purchases on or before day ``end``, and each output row's customer code."""
    keep = day <= end
    if not keep.all():
        code, day, amount = code[keep], day[keep], amount[keep]
    del keep
    start = np.flatnonzero(np.concatenate([[True], code[1:] != code[:-1]])) if code.size else code[:0]
    days = np.diff(np.append(start, code.size)).astype(np.int64, copy=False)  # purchase days per customer
    first, last = day[start], day[start + days - 1]
    positive = amount > 0
    positive[start] = False  # the first purchase is not a repeat purchase
    counts = np.add.reduceat(positive, start, dtype=np.int64) if start.size else days.copy()
    with np.errstate(over="ignore"):
        spend = np.add.reduceat(np.where(positive, amount, 0.0), start) if start.size else first * 0.0
    del positive
    if not np.isfinite(spend).all():
        i = np.flatnonzero(~np.isfinite(spend))[0]
        raise DataError(f"customer {ids[code[start[i]]]!r}: the repeat purchases add up to more than a number "
                        "holds; expected amounts in money (at most about 1e12 each)")
    spend /= np.maximum(counts, 1)  # in place from here: the mean of the repeat days, 0 without one
    spend[counts == 0] = 0.0
    del counts
    days -= 1
    cohort = code[start]
    out = pd.DataFrame({
        "customer_id": ids.take(cohort).astype(str).reset_index(drop=True),
        "frequency": days,
        "recency": _weeks(last - first),
        "T": _weeks(end - first),
        "monetary_value": spend,
    }, copy=False)
    return out, cohort


def rfm(daily: pd.DataFrame, end: str | pd.Timestamp) -> pd.DataFrame:
    """RFM per customer from the purchases on or before ``end`` (T is measured to ``end``).

    In: the output of :func:`daily_purchases` (one row per customer and day). Out:
    :data:`RFM_COLUMNS`, one row per customer whose first purchase is on or before ``end``,
    sorted by ``customer_id``.
    """
    return _rfm_arrays(*_sorted_by_customer_and_day(daily), _day(end))[0]


def check_period(daily: pd.DataFrame, calibration_end, observation_end, source: str = "data") -> None:
    """Fail with a clear message when the split dates do not fit the data."""
    cal, obs = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    first, last = daily["date"].min(), daily["date"].max()
    if cal >= obs:
        raise DataError(f"calibration_end {cal.date()} must be before observation_end {obs.date()}")
    if daily.empty:
        raise DataError(f"{source}: no purchase on or before observation_end {obs.date()}; expected split dates "
                        "within the log's dates")
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
    code, ids, day, amount = _sorted_by_customer_and_day(daily)
    cal, obs = _day(calibration_end), _day(observation_end)
    hold = (day > cal) & (day <= obs)
    n = ids.size
    held = code[hold]
    purchases = np.bincount(held, minlength=n)
    spend = np.bincount(held, weights=amount[hold], minlength=n)
    del held, hold
    keep = day <= cal  # the calibration rows only from here, cut one array at a time
    code = code[keep]
    day = day[keep]
    amount = amount[keep]
    del keep
    out, cohort = _rfm_arrays(code, ids, day, amount, cal)
    out["holdout_purchases"] = purchases[cohort].astype("int64")
    out["holdout_spend"] = spend[cohort].astype(float)
    out["holdout_weeks"] = float(_weeks(obs - cal))
    return out
