"""The FLO omnichannel customer snapshot: one row per customer, totals only.

Columns (:data:`FLO_COLUMNS`): ``master_id``; ``order_channel``, ``last_order_channel``;
``first_order_date``, ``last_order_date``, ``last_order_date_online``,
``last_order_date_offline`` (``YYYY-MM-DD``); order counts ``order_num_total_ever_online`` /
``_offline`` (floats holding whole numbers); money totals ``customer_value_total_ever_offline`` /
``_online``; ``interested_in_categories_12`` (e.g. ``[ERKEK, KADIN]``).

Two ways to turn it into RFM (weeks; analysis date = latest ``last_order_date`` + N days):

- correct (default): ``frequency`` = total orders - 1 (repeat purchases, as BG/NBD defines it),
  ``monetary_value`` = total value / total orders. A snapshot has no per-order values, so this
  mean of *all* orders (the first included) is the best available estimate of the spend per
  order; the model is told so (``CLTVModel(monetary_includes_first=True)``), and Gamma-Gamma
  counts the total orders as the number of values behind that mean.
- seed-compatible: the analysts' original procedure, to the cent: ``frequency`` = total orders,
  the same monetary value, and the model settings of the preset conf/model/flo_original.yaml.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import DAYS_PER_WEEK
from .cdnow import _rows
from .files import LINE, lines_text, read_table

FLO_COLUMNS = [
    "master_id", "order_channel", "last_order_channel", "first_order_date", "last_order_date",
    "last_order_date_online", "last_order_date_offline", "order_num_total_ever_online",
    "order_num_total_ever_offline", "customer_value_total_ever_offline", "customer_value_total_ever_online",
    "interested_in_categories_12",
]
COUNT_COLUMNS = ["order_num_total_ever_online", "order_num_total_ever_offline"]
VALUE_COLUMNS = ["customer_value_total_ever_offline", "customer_value_total_ever_online"]
CAPPED_COLUMNS = COUNT_COLUMNS + VALUE_COLUMNS
DATE_COLUMNS = ["first_order_date", "last_order_date", "last_order_date_online", "last_order_date_offline"]
#: A channel's last-order date may be empty only when that channel has no orders.
CHANNEL_DATES = {"last_order_date_online": "order_num_total_ever_online",
                 "last_order_date_offline": "order_num_total_ever_offline"}

def load_flo(path: str | Path) -> pd.DataFrame:
    """Read and validate a FLO snapshot (CSV, optionally gzip-compressed, Parquet or Excel).

    Returns the 12 columns typed: dates as datetime64 (NaT where a channel has no orders),
    counts and values as float. Extra columns are kept. Raises :class:`DataError` naming the
    file, the column, up to five offending lines and what was expected.
    """
    path = Path(path)
    raw = read_table(path, expected="a header row and one row per customer")
    lines = raw.pop(LINE).to_numpy()

    def _rows(mask) -> str:  # the file's own line numbers (blank lines counted)
        return lines_text(lines[np.asarray(mask, dtype=bool)])

    missing = [c for c in FLO_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected the 12 FLO columns {FLO_COLUMNS} "
                        f"(found {list(raw.columns)[:12]}; check the delimiter is a comma)")
    if raw.empty:
        raise DataError(f"{path}: no customers (header only); expected one row per customer")
    df = raw.copy()
    text = {c: raw[c].astype(str).str.strip() for c in FLO_COLUMNS}
    blank = {c: raw[c].isna() | text[c].isin(["", "nan", "NaN", "None", "null"]) for c in FLO_COLUMNS}

    bad = blank["master_id"]
    if bad.any():
        raise DataError(f"{path}: column 'master_id': missing customer id at {_rows(bad)}; "
                        "expected a non-empty id on every row")
    dup = text["master_id"].duplicated(keep=False)
    if dup.any():
        raise DataError(f"{path}: column 'master_id': duplicate customer id at {_rows(dup)}; "
                        "expected one row per customer")
    df["master_id"] = text["master_id"]

    for col in COUNT_COLUMNS + VALUE_COLUMNS:
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            raise DataError(f"{path}: column {col!r}: missing or non-numeric value at {_rows(bad)}; expected a number")
        bad = values < 0
        if bad.any():
            raise DataError(f"{path}: column {col!r}: negative value at {_rows(bad)}; expected >= 0")
        if col in COUNT_COLUMNS:
            bad = values != np.floor(values)
            if bad.any():
                raise DataError(f"{path}: column {col!r}: fractional order count at {_rows(bad)}; "
                                "expected a whole number such as 4.0")
        df[col] = values.astype(float)
    bad = (df[COUNT_COLUMNS].sum(axis=1) < 1).to_numpy()
    if bad.any():
        raise DataError(f"{path}: columns {COUNT_COLUMNS}: no order at all at {_rows(bad)}; "
                        "expected at least 1 order in total")

    for col in DATE_COLUMNS:
        dates = pd.to_datetime(raw[col].where(~blank[col]), format="%Y-%m-%d", errors="coerce")
        may_be_blank = (df[CHANNEL_DATES[col]] == 0) if col in CHANNEL_DATES else pd.Series(False, index=raw.index)
        bad = (dates.isna() & ~blank[col]) | (blank[col] & ~may_be_blank)
        if bad.any():
            why = " (empty only allowed when that channel has no orders)" if col in CHANNEL_DATES else ""
            raise DataError(f"{path}: column {col!r}: missing or unparseable date at {_rows(bad)}; "
                            f"expected YYYY-MM-DD{why}")
        df[col] = dates.astype("datetime64[ns]")
    bad = (df["first_order_date"] > df["last_order_date"]).to_numpy()
    if bad.any():
        raise DataError(f"{path}: column 'first_order_date': after last_order_date at {_rows(bad)}; "
                        "expected first_order_date <= last_order_date")
    for col in CHANNEL_DATES:
        bad = ((df[col] > df["last_order_date"]) | (df[col] < df["first_order_date"])).to_numpy()
        if bad.any():
            raise DataError(f"{path}: column {col!r}: outside first_order_date..last_order_date at {_rows(bad)}; "
                            "expected a date between the customer's first and last order")
    for col in ("order_channel", "last_order_channel", "interested_in_categories_12"):
        df[col] = text[col]
    return df.reset_index(drop=True)


def cap_outliers(df: pd.DataFrame, columns=CAPPED_COLUMNS, low: float = 0.01, high: float = 0.99,
                 multiplier: float = 1.5) -> pd.DataFrame:
    """The original outlier rule, column by column: limits ``q_low - m * (q_high - q_low)`` and
    ``q_high + m * (q_high - q_low)`` (pandas' linear quantiles); values beyond a limit become
    the limit rounded to a whole number."""
    out = df.copy()
    for col in columns:
        q1, q3 = out[col].quantile(low), out[col].quantile(high)
        spread = q3 - q1
        lo, hi = q1 - multiplier * spread, q3 + multiplier * spread
        values = out[col].to_numpy(dtype=float).copy()
        values[values < lo] = round(lo)
        values[values > hi] = round(hi)
        out[col] = values
    return out


def analysis_date(df: pd.DataFrame, date=None, offset_days: int = 2) -> pd.Timestamp:
    """``date`` if given, else the latest ``last_order_date`` plus ``offset_days``."""
    if date is not None:
        return pd.Timestamp(date)
    return df["last_order_date"].max() + pd.Timedelta(days=offset_days)


def snapshot_rfm(df: pd.DataFrame, at: pd.Timestamp, seed_compatible: bool = False,
                 source: str = "snapshot") -> pd.DataFrame:
    """RFM per customer (``customer_id``, ``frequency``, ``recency``, ``T`` in weeks,
    ``monetary_value``) from a validated (and possibly capped) snapshot, at analysis date ``at``.

    ``frequency`` = total orders - 1, or total orders when ``seed_compatible``;
    ``monetary_value`` = total value / total orders in both modes.
    """
    bad = (df["last_order_date"] > at).to_numpy()
    if bad.any():
        raise DataError(f"{source}: column 'last_order_date': after the analysis date {at.date()} at {_rows(bad)}; "
                        "expected dates up to the analysis date (data.analysis_date)")
    orders = df[COUNT_COLUMNS].sum(axis=1).to_numpy()
    value = df[VALUE_COLUMNS].sum(axis=1).to_numpy()
    week = pd.Timedelta(days=DAYS_PER_WEEK)
    return pd.DataFrame({
        "customer_id": df["master_id"].to_numpy(),
        "frequency": (orders if seed_compatible else orders - 1).astype("int64"),
        "recency": ((df["last_order_date"] - df["first_order_date"]) / week).to_numpy(),
        "T": ((at - df["first_order_date"]) / week).to_numpy(),
        "monetary_value": value / orders,
    })


def customer_attributes(df: pd.DataFrame) -> pd.DataFrame:
    """What the segment report describes besides RFM: ``customer_id``, ``order_channel``,
    ``last_order_channel``, ``interested_in_categories_12``."""
    return pd.DataFrame({
        "customer_id": df["master_id"].to_numpy(),
        "order_channel": df["order_channel"].to_numpy(),
        "last_order_channel": df["last_order_channel"].to_numpy(),
        "interested_in_categories_12": df["interested_in_categories_12"].to_numpy(),
    })
