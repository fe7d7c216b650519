"""The one data-preparation path: an input file and its :class:`~cltv.data.spec.DataSpec` -> RFM tables.

:func:`prepare` builds what the ``prepare`` stage writes; :func:`rfm_as_of` builds the RFM table
``cltv score`` scores. Both read the file by the same rules (:func:`cltv.data.transactions.load_log`
for a transaction log, :func:`cltv.data.flo.load_flo` for a FLO snapshot) and merge purchases into
days and weeks the same way (:mod:`cltv.data.rfm`). Tables:

- ``daily``: ``customer_id``, ``date``, ``amount`` (one row per customer and purchase day; empty
  for a snapshot);
- ``calibration``: the RFM columns (``frequency``; ``recency``, ``T`` in weeks; ``monetary_value``)
  of the calibration period + ``holdout_purchases``, ``holdout_spend``, ``holdout_weeks`` (a
  snapshot: the RFM table itself, evaluation is in-sample);
- ``rfm``: the RFM columns over the whole history up to ``observation_end`` (the training data);
- ``customers``: ``customer_id`` and attributes: a log's :func:`first_purchase` columns, a
  snapshot's channels and interest categories.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import DataError
from . import cohort, flo, rfm
from .spec import DataSpec
from .transactions import Quality, account, load_log

FIRST_AMOUNT = "first_purchase_amount"  # the attribute every transaction log gives its customers


@dataclass
class Prepared:
    """The tables of :func:`prepare`, the data-quality account and the lines to print."""
    daily: pd.DataFrame
    calibration: pd.DataFrame
    rfm: pd.DataFrame
    customers: pd.DataFrame
    quality: dict
    messages: list[str] = field(default_factory=list)


def prepare(path: str | Path, spec: DataSpec, calibration_end: str | None = None, observation_end: str | None = None,
            analysis_date: str | None = None, label: str | None = None, acquired_after: str | int | None = None
            ) -> Prepared:
    """The tables of ``path`` read by ``spec``. A transaction log needs ``calibration_end`` and
    ``observation_end`` (rows after it are dropped); a snapshot takes ``analysis_date`` (default:
    latest ``last_order_date`` + ``spec.analysis_offset_days``). ``label`` names the file in
    messages (default: ``path``). ``acquired_after``: the cohort rule (:mod:`cltv.data.cohort`),
    counted in the account; every customer stays in the tables."""
    label = str(path) if label is None else label
    if spec.source == "flo":
        return _snapshot(Path(path), spec, analysis_date, label)
    tx, quality = load_log(path, spec, end=observation_end)
    daily = rfm.daily_purchases(tx)
    rfm.check_period(daily, calibration_end, observation_end, source=label)
    calibration = rfm.calibration_holdout(daily, calibration_end, observation_end)
    full = rfm.rfm(daily, observation_end)
    out = {**account(quality, daily), **cohort.account(calibration, full, calibration_end, observation_end,
                                                       acquired_after)}
    messages = [summary(quality, "", len(daily), len(full), len(calibration))]
    if note := cohort.warning(out["left_censoring"], acquired_after):
        messages.append(f"prepare: WARNING {note}")
    return Prepared(daily, calibration, full, first_purchase(tx, daily, full), out, messages)


def first_purchase(tx: pd.DataFrame, daily: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Attributes a log itself holds, one row per customer of ``customers`` (in its order):
    ``first_purchase_amount`` (the spend of the first purchase day, in money) and each
    ``first_<col>`` column of ``tx`` (``data.first_purchase``: the value on the customer's earliest
    row, by day and then file order, e.g. the channel or market of acquisition, as text)."""
    ids = customers["customer_id"].astype(str).to_numpy()
    out = pd.DataFrame({"customer_id": ids})
    first_day = daily.drop_duplicates("customer_id").set_index("customer_id")  # daily: by customer and date
    out[FIRST_AMOUNT] = first_day["amount"].reindex(ids).to_numpy(dtype=float)
    derived = [c for c in tx.columns if c.startswith("first_")]
    if derived:
        earliest = tx.sort_values("date", kind="stable").drop_duplicates("customer_id").set_index("customer_id")
        for column in derived:
            out[column] = earliest[column].reindex(ids).to_numpy()
    return out


def rfm_as_of(path: str | Path, spec: DataSpec, as_of: str | None = None, label: str | None = None,
              attributes: bool = False) -> pd.DataFrame:
    """The RFM table (``customer_id``, ``frequency``, ``recency``, ``T`` in weeks, ``monetary_value``)
    of ``path`` read by ``spec``, as :func:`prepare` builds ``rfm``, as of ``as_of`` (a log: default
    its last purchase day, later rows dropped; a snapshot: the analysis date, default latest
    ``last_order_date`` + ``spec.analysis_offset_days``); with ``attributes`` also the columns of
    the ``customers`` table :func:`prepare` builds. A log's table says its day in ``attrs["as_of"]``."""
    if spec.source == "flo":
        out = _snapshot(Path(path), spec, as_of, str(path) if label is None else label)
        return out.rfm.merge(out.customers, on="customer_id", how="left") if attributes else out.rfm
    tx = load_log(path, spec, end=as_of)[0]
    if tx.empty:
        raise DataError(f"{str(path) if label is None else label}: no purchase on or before {as_of}; expected an "
                        "as-of date on or after the first purchase")
    daily = rfm.daily_purchases(tx)
    day = pd.Timestamp(as_of or daily["date"].max())
    table = rfm.rfm(daily, day)
    table = table.merge(first_purchase(tx, daily, table), on="customer_id") if attributes else table
    table.attrs["as_of"] = str(day.date())  # the day T is measured to (a season scores from it)
    return table


def _snapshot(path: Path, spec: DataSpec, analysis_date: str | None, label: str) -> Prepared:
    """A FLO snapshot: capped as ``spec`` says, RFM at the analysis date; ``daily`` is empty."""
    raw = flo.load_flo(path)
    capped, messages = raw, []
    if spec.capping:
        capped = flo.cap_outliers(raw, low=spec.cap_low, high=spec.cap_high, multiplier=spec.cap_multiplier)
        changed = {col: int((capped[col] != raw[col]).sum()) for col in flo.CAPPED_COLUMNS}
        messages.append(f"prepare: capped outliers {changed}")
    at = flo.analysis_date(raw, analysis_date, spec.analysis_offset_days)
    table = flo.snapshot_rfm(capped, at, spec.seed_compatible, source=label)
    messages.append(f"prepare: {len(table)} customers, analysis date {at.date()}, "
                    f"{'seed-compatible (frequency = total orders)' if spec.seed_compatible else 'frequency = total orders - 1'}")
    empty_daily = pd.DataFrame({"customer_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                                "amount": pd.Series(dtype=float)})
    quality = Quality(rows_read=len(raw), rows_kept=len(raw))
    return Prepared(empty_daily, table, table, flo.customer_attributes(raw),
                    {**quality.as_dict(), "customers": len(table)}, messages)


def summary(quality: Quality, where: str, days: int, customers: int, cohort: int) -> str:
    """The ``prepare`` line on a transaction log: rows read, dropped by reason, what was built."""
    dropped = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in quality.dropped.items() if v) or "none"
    return (f"prepare: {quality.rows_read:,} rows read{where}, dropped: {dropped}; {days:,} purchase days, "
            f"{customers:,} customers ({cohort:,} in the calibration cohort)")
