"""Customers older than the log: the left-censoring diagnostic and the cohort rule.

A log that starts on a fixed date sees long-standing customers for the first time in its first
weeks, as if they had just been acquired. The models then read the whole log as "everyone is new
and nobody has left" (dropout not identified, see :meth:`cltv.models.purchase.PurchaseModel.dropout_note`).

- :func:`left_censoring` measures it: the weekly rate of customers first seen in the log's first
  :data:`FIRST_WEEKS` weeks against the weekly rate after them, up to the week by which 95 % of the
  later customers had come (a closed cohort such as CDNOW, acquired over its first 12 weeks, gives about 1; a log
  of a running business that starts on a fixed date gives a spike).
- The cohort rule (``data.acquired_after``: a day, or weeks after the log's first day) fits the
  models only on customers whose first purchase is after the cut-off (:func:`fitted`); the others
  are still scored, by the same model, with their histories as the log shows them (their first
  purchase in the log taken as their first): their P(alive) and CLV are approximations.

Tables: an RFM table (``T`` in weeks) measured to ``end``; a customer's first purchase day is
``end - 7 T`` days. The log's first day is the earliest of these.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import DAYS_PER_WEEK

FIRST_WEEKS = 4
TAIL = 0.95  # the later weeks end when this share of the later customers has come
SPIKE = 2.0  # weekly rate in the first weeks / later weekly rate at which the log looks left-censored
MIN_CUSTOMERS = 10


def ages(table: pd.DataFrame) -> np.ndarray:
    """Each customer's age ``T`` in whole days (``T`` is days / 7)."""
    return np.rint(table["T"].to_numpy(dtype=float) * DAYS_PER_WEEK).astype(np.int64)


def cutoff(acquired_after, first_day) -> pd.Timestamp | None:
    """The cut-off day of ``data.acquired_after`` (a day ``YYYY-MM-DD``, or whole weeks after
    ``first_day``, the log's first purchase day); None when it is null."""
    if acquired_after is None:
        return None
    if isinstance(acquired_after, str):
        return pd.Timestamp(acquired_after)
    return pd.Timestamp(first_day).normalize() + pd.Timedelta(days=DAYS_PER_WEEK * int(acquired_after))


def age_limit(end, acquired_after, oldest_days: int) -> int | None:
    """Customers first seen after the cut-off are those younger than this many days at ``end``
    (``T`` x 7 < limit); ``oldest_days``: the oldest customer's age at ``end`` in days (the log's
    first day is ``end`` minus it). None: no cohort rule."""
    at = cutoff(acquired_after, pd.Timestamp(end).normalize() - pd.Timedelta(days=int(oldest_days)))
    return None if at is None else int((pd.Timestamp(end).normalize() - at).days)


def fitted(table: pd.DataFrame, end, acquired_after, weights: np.ndarray | None = None) -> np.ndarray:
    """Which rows of ``table`` (RFM to ``end``; ``weights``: customers per row, default 1) the
    models are fitted on: all, or the customers first seen after the cut-off of
    ``acquired_after`` (the log's first day: the oldest customer's first purchase). Fewer than
    :data:`MIN_CUSTOMERS` customers left: DataError."""
    age = ages(table)
    limit = age_limit(end, acquired_after, int(age.max()))
    if limit is None:
        return np.ones(len(table), dtype=bool)
    keep = age < limit
    check(int(keep.sum() if weights is None else np.asarray(weights)[keep].sum()), acquired_after, end, limit)
    return keep


def account(calibration: pd.DataFrame, full: pd.DataFrame, calibration_end, observation_end, acquired_after,
            calibration_weights: np.ndarray | None = None, full_weights: np.ndarray | None = None) -> dict:
    """The data-quality entries ``cohort`` (the rule's cut-off, customers fitted and scored only)
    and ``left_censoring`` (:func:`left_censoring` of the calibration cohort). Tables: RFM to
    ``calibration_end`` and ``observation_end``; weights: customers per row (default 1; Spark
    passes one row per age). Fewer than :data:`MIN_CUSTOMERS` fitted: DataError."""
    oldest = int(ages(full).max())
    shift = int((pd.Timestamp(observation_end) - pd.Timestamp(calibration_end)).days)
    limits = (age_limit(calibration_end, acquired_after, oldest - shift), age_limit(observation_end, acquired_after, oldest))
    counts = []
    for table, weights, limit, end in ((calibration, calibration_weights, limits[0], calibration_end),
                                       (full, full_weights, limits[1], observation_end)):
        w = np.ones(len(table)) if weights is None else np.asarray(weights, dtype=float)
        fit = w.sum() if limit is None else w[ages(table) < limit].sum()
        if limit is not None:
            check(int(fit), acquired_after, end, limit)
        counts.append((int(fit), int(w.sum())))
    (cal_fit, cal_all), (fit, everyone) = counts
    at = None if limits[1] is None else str((pd.Timestamp(observation_end) - pd.Timedelta(days=limits[1])).date())
    return {"cohort": {"acquired_after": acquired_after, "cutoff": at, "customers_fitted": fit,
                       "customers_scored_not_fitted": everyone - fit, "calibration_customers_fitted": cal_fit,
                       "calibration_customers_not_fitted": cal_all - cal_fit},
            "left_censoring": left_censoring(calibration, calibration_weights)}


def check(kept: int, acquired_after, end, limit: int) -> None:
    """DataError when the cohort rule leaves fewer than :data:`MIN_CUSTOMERS` customers."""
    if kept < MIN_CUSTOMERS:
        at = pd.Timestamp(end).normalize() - pd.Timedelta(days=limit)
        raise DataError(f"data.acquired_after = {acquired_after!r} (cut-off {at.date()}) leaves {kept} customer(s) "
                        f"first seen after it and on or before {pd.Timestamp(end).date()}; expected at least "
                        f"{MIN_CUSTOMERS}: choose an earlier day or fewer weeks")


def left_censoring(table: pd.DataFrame, weights: np.ndarray | None = None) -> dict:
    """How many customers of ``table`` (the calibration cohort; ``weights``: customers per row,
    default 1) are first seen in the log's first :data:`FIRST_WEEKS` weeks: ``share_first_weeks``,
    and ``weekly_rate_ratio`` (their weekly rate over the later weekly rate, up to the week by
    which :data:`TAIL` of the later customers had come; None with fewer than :data:`FIRST_WEEKS` later weeks); ``suspected``
    when the ratio is at least :data:`SPIKE`."""
    age = ages(table)
    week = ((age.max() - age) // int(DAYS_PER_WEEK)).astype(np.int64) if age.size else age
    counts = np.bincount(week, weights=weights) if week.size else np.zeros(1)
    early, later = counts[:FIRST_WEEKS].sum(), counts[FIRST_WEEKS:]
    if later.sum() > 0:  # up to the week by which 95 % of the later customers came: a few stragglers
        later = later[:int(np.searchsorted(np.cumsum(later), TAIL * later.sum())) + 1]  # do not dilute it
    ratio = None
    if later.size >= FIRST_WEEKS and later.sum() > 0:
        ratio = round(float((early / FIRST_WEEKS) / (later.sum() / later.size)), 6)
    return {"first_weeks": FIRST_WEEKS, "share_first_weeks": round(float(early / max(counts.sum(), 1)), 6),
            "weekly_rate_ratio": ratio, "suspected": bool(ratio is not None and ratio >= SPIKE)}


def warning(diagnostic: dict, acquired_after) -> str | None:
    """The warning line for a left-censored log without a cohort rule, else None."""
    if not diagnostic["suspected"] or acquired_after is not None:
        return None
    return (f"{diagnostic['share_first_weeks']:.0%} of the calibration cohort is first seen in the log's first "
            f"{diagnostic['first_weeks']} weeks, {diagnostic['weekly_rate_ratio']:.1f}x the weekly rate after them: "
            "many customers are older than the log, which hides their dropout; set data.acquired_after (a day "
            "YYYY-MM-DD, or weeks after the log's first day) to fit only customers acquired after it")


def describe(quality: dict) -> str | None:
    """One sentence for the report from ``metrics/data_quality.json`` (its ``cohort`` and
    ``left_censoring`` entries), or None for a snapshot."""
    if "cohort" not in quality:
        return None
    c, lc = quality["cohort"], quality["left_censoring"]
    first = f"{lc['share_first_weeks']:.0%} of the calibration customers are first seen in the log's first " \
            f"{lc['first_weeks']} weeks" + (f" ({lc['weekly_rate_ratio']:.1f}x the later weekly rate)"
                                             if lc["weekly_rate_ratio"] is not None else "")
    if c["acquired_after"] is None:
        return first + (": many customers are older than the log, which hides their dropout; set "
                        "data.acquired_after to fit only customers acquired after a day." if lc["suspected"] else ".")
    return (first + f"; the models are fitted on the {c['customers_fitted']:,} customers first seen after "
            f"{c['cutoff']} (data.acquired_after = {c['acquired_after']}), and the {c['customers_scored_not_fitted']:,} "
            "older ones are scored by the same model, their first purchase in the log taken as their first.")
