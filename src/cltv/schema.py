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


def _ids(values: pd.Series) -> pd.array:
    """Customer ids as text: strings as they are, whole numbers without a decimal point; a list,
    an object or a missing id is refused."""
    def text(v):
        if isinstance(v, str):
            return v
        if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            return str(int(v))
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            return str(int(v))
        return None
    if isinstance(values.dtype, pd.StringDtype) and not values.isna().any():
        return values.array
    out = values.map(text)
    bad = out.isna().to_numpy()
    if bad.any():
        raise RFMError(f"customer_id: expected a text or a whole number (not missing, a list or an object) in "
                       f"{rows(bad)}; send it for every row or for none")
    return out.astype(str).array


def _numbers(values: pd.Series, column: str) -> np.ndarray:
    if values.dtype == bool or not (pd.api.types.is_numeric_dtype(values) or values.dtype == object):
        raise RFMError(f"{column}: expected numbers, got {values.dtype} values")
    if values.dtype == object:
        kinds = values.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
        bad = ~kinds.to_numpy() & values.notna().to_numpy()
        if bad.any():
            raise RFMError(f"{column}: expected a number in {rows(bad)}")
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
        out[column] = x
    f, r, t = out["frequency"], out["recency"], out["T"]
    for bad, rule in ((f != np.floor(f), "frequency: must be a whole number of repeat purchases"),
                      (r > t, "recency: must not exceed T (both in weeks since the first purchase)"),
                      ((f == 0) & (r != 0), "recency: must be 0 when frequency is 0 (no repeat purchase)")):
        if bad.any():
            raise RFMError(f"{rule}; broken in {rows(bad)}")
    return pd.DataFrame(out, index=df.index)
