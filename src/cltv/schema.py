"""The RFM table every model reads, and the one check of its values.

Columns (one row per customer): ``customer_id`` (optional, text), ``frequency`` (repeat
purchases, a whole number >= 0), ``recency`` (weeks from the first to the last purchase; 0 when
``frequency`` is 0), ``T`` (weeks from the first purchase to the end of the period, >= recency),
``monetary_value`` (mean spend per purchase, >= 0; 0 means "no usable spend": the customer gets
the population's expected spend). :func:`validate_rfm` enforces exactly these rules for the
pipeline, :class:`cltv.model.CLTVModel` and the served model alike, so every row the pipeline
scores is accepted by the packaged model.
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from .errors import DataError

RFM_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
#: Units: time in weeks of 7 days; a month is 4.345 weeks (30.415 days, ``lifetimes``' convention).
DAYS_PER_WEEK = 7.0
WEEKS_PER_MONTH = 4.345
#: Upper bounds: far beyond any real customer, well inside what the closed forms compute exactly.
LIMITS = {"frequency": 100_000, "recency": 5_218, "T": 5_218, "monetary_value": 1e12}
ROWS_SHOWN = 5


class RFMError(DataError):
    """An RFM table breaks a rule; the message names the column, the first rows and the rule."""


def horizon_column(months: float) -> str:
    """Name of the expected-purchases column for a horizon in months, e.g. ``expected_purchases_3m``."""
    return f"expected_purchases_{months:g}m"


def score_columns(horizons_months) -> list[str]:
    """The numeric columns a fitted model adds to an RFM table (then ``segment``, a label)."""
    return [*(horizon_column(h) for h in horizons_months), "p_alive", "expected_value", "clv"]


def interval_names(horizons_months, clv_months: int) -> list[str]:
    """What the predictive intervals bound (:mod:`cltv.intervals`): purchases per horizon (whole
    numbers), spend over the CLV horizon and CLV."""
    return [*(f"purchases_{h:g}m" for h in horizons_months), f"spend_{clv_months:g}m", "clv"]


def interval_columns(horizons_months, clv_months: int) -> list[str]:
    """The bound columns of the predictive intervals, each ``*_lo`` then ``*_hi``; then the
    scores have ``segment_span`` (:data:`SEGMENT_SPAN`)."""
    return [f"{name}_{bound}" for name in interval_names(horizons_months, clv_months) for bound in ("lo", "hi")]


SEGMENT_SPAN = "segment_span"  # the segments from clv_hi's to clv_lo's


def rows(mask: np.ndarray, limit: int = ROWS_SHOWN) -> str:
    """``"row 3"`` or ``"rows 0, 4 and 2 more"`` (0-based) for the True entries of ``mask``."""
    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(i) for i in idx[:limit])
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"{'row' if len(idx) == 1 else 'rows'} {shown}{more} (0-based)"


def id_texts(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Customer ids as text, the one rule for logs and scoring requests: a text without surrounding
    spaces, a whole number as its digits (``12417.0`` is ``12417``); missing or empty ids are NA.
    Also the mask of values that are no id (a list, an object, a truth value, a fraction)."""
    none = np.zeros(len(values), dtype=bool)
    if pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(pd.NA, index=values.index, dtype="str"), values.notna().to_numpy()
    if pd.api.types.is_signed_integer_dtype(values.dtype):
        return values.astype("Int64").astype("str").where(values.notna()), none
    if pd.api.types.is_float_dtype(values.dtype):
        x = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(x) & (x == np.floor(x))
        small = whole & (np.abs(x) < 2.0 ** 63)
        text = pd.Series(np.where(small, x, 0).astype(np.int64), index=values.index).astype("str")
        text[whole & ~small] = [str(int(v)) for v in x[whole & ~small]]  # beyond int64: the digits the float holds
        return text.where(whole), ~whole & ~np.isnan(x)
    if isinstance(values.dtype, pd.StringDtype):
        text = values.str.strip()
        return text.where(text.notna() & (text != "")), none

    def one(v):  # text, None (missing) or False (no id)
        if isinstance(v, str):
            return v.strip() or None
        if isinstance(v, (bool, np.bool_)):
            return False
        if v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and np.isnan(v)):
            return None
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, Decimal) and v.is_finite() and v == v.to_integral_value():  # DECIMAL(18,0) columns
            return str(int(v))
        return False
    out = values.astype(object).map(one)
    invalid = out.map(lambda v: v is False).to_numpy(dtype=bool)
    return out.where(~invalid, None).astype("str"), invalid


def _ids(values: pd.Series) -> pd.array:
    """A request's ids as text; a missing id, a list or an object is refused."""
    text, invalid = id_texts(values)
    bad = invalid | text.isna().to_numpy()
    if bad.any():
        raise RFMError(f"customer_id: expected a text or a whole number (not missing, empty, a list or an object) in "
                       f"{rows(bad)}; send it for every row or for none")
    return text.array


def _numbers(values: pd.Series, column: str) -> np.ndarray:
    if isinstance(values.dtype, pd.StringDtype):  # text: name the cells that are no number (CSV: "two", "")
        bad = pd.to_numeric(values, errors="coerce").isna().to_numpy() | values.isna().to_numpy()
        bad = bad if bad.any() else np.ones(len(values), dtype=bool)  # numbers sent as text
        raise RFMError(f"{column}: expected a number in {rows(bad)}, e.g. {repr(values[bad].iloc[0])[:40]}")
    if values.dtype == bool or not (pd.api.types.is_numeric_dtype(values) or values.dtype == object):
        raise RFMError(f"{column}: expected numbers, got {values.dtype} values")
    if values.dtype == object:
        values = values.infer_objects()  # numbers sent as Python objects (MLflow's ``Any`` columns)
    if values.dtype == object:
        kinds = values.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
        bad = ~kinds.to_numpy() & values.notna().to_numpy()
        if bad.any():
            raise RFMError(f"{column}: expected a number in {rows(bad)}, e.g. {repr(values[bad].iloc[0])[:40]}")
        huge = values.map(lambda v: isinstance(v, int) and abs(v) > LIMITS[column]).to_numpy(dtype=bool)
        if huge.any():  # integers beyond a float's range
            raise RFMError(f"{column}: must be between 0 and {LIMITS[column]:g} in {rows(huge)}")
    return values.to_numpy(dtype=float, na_value=np.nan)


def missing_columns(missing: list[str]) -> str:
    """The one message for a table without some RFM columns (the pipeline, Python calls, the server)."""
    return f"missing column(s) {missing}; required: {RFM_COLUMNS} (customer_id optional)"


def validate_rfm(df: pd.DataFrame) -> pd.DataFrame:
    """The table with float RFM columns (and text ids when given), or :class:`RFMError` at the
    first broken rule (see the module docstring)."""
    if not isinstance(df, pd.DataFrame):
        raise RFMError(f"expected a table with columns {['customer_id', *RFM_COLUMNS]}, got {type(df).__name__}")
    missing = [c for c in RFM_COLUMNS if c not in df.columns]
    if missing:
        raise RFMError(missing_columns(missing))
    twice = sorted({c for c in df.columns[df.columns.duplicated()] if c in ["customer_id", *RFM_COLUMNS]})
    if twice:
        raise RFMError(f"column(s) {twice} appear more than once; send each column once")
    if df.empty:
        raise RFMError("the table has no rows; send at least one customer")
    out = {"customer_id": _ids(df["customer_id"])} if "customer_id" in df.columns else {}
    for column in RFM_COLUMNS:
        x = _numbers(df[column], column)
        bad = ~np.isfinite(x)
        if bad.any():
            raise RFMError(f"{column}: missing or non-finite value (null, NaN, inf) in {rows(bad)}")
        bad = (x < 0) | (x > LIMITS[column])
        if bad.any():
            raise RFMError(f"{column}: must be between 0 and {LIMITS[column]:g} in {rows(bad)}")
        out[column] = df[column] if df[column].dtype == np.float64 else x  # a float column is shared (copy-on-write)
    f, r, t = (np.asarray(out[c], dtype=float) for c in ("frequency", "recency", "T"))
    for bad, rule in ((f != np.floor(f), "frequency: must be a whole number of repeat purchases"),
                      (r > t, "recency: must not exceed T (both in weeks since the first purchase)"),
                      ((f == 0) & (r != 0), "recency: must be 0 when frequency is 0 (no repeat purchase)")):
        if bad.any():
            raise RFMError(f"{rule}; broken in {rows(bad)}")
    return pd.DataFrame(out, index=df.index, copy=False)  # the checked columns, not copied into one block
