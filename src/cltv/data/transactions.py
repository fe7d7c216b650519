"""Transaction logs as retailers export them, by configuration: invoice lines, cancellations and
returns, guest purchases, timestamps with time zones, one market out of several.

:class:`LogSpec` says how to read a log; :func:`load_log` returns the tidy table every later step
uses (``customer_id`` text, ``date`` the local calendar day, ``amount`` float) and a
:class:`Quality` account of what was read, dropped (by reason) and kept. The rules, in order:

1. **Rows**: every row of the file (all sheets of a workbook, or the ones named). Blank lines
   are skipped but counted for line numbers, as an editor numbers them (the header is line 1).
2. **Filter** (``filter_column`` in ``filter_values``): rows of other markets are dropped.
3. **Customer id**: read as text always (``00123`` stays; a numeric Parquet id ``4.0`` becomes
   ``4``). An empty id is a guest purchase: refused (``missing_customer: error``) or dropped and
   counted (``drop``). The text ``None`` is an id like any other.
4. **Day**: a timestamp without an offset is local time; one with an offset (``+05:00``, ``Z``)
   or a time-zone-aware Parquet column is converted to ``timezone`` (an IANA name such as
   ``Europe/London``) when that is set, else taken at its own offset. The calendar day of that
   local time is the purchase day (a purchase at 23:30 local time belongs to that day). Integer
   epoch values are read in the unit their size implies (seconds to nanoseconds).
5. **Amount**: the amount column, or quantity x unit price.
6. **Cancellations and returns**: a row whose invoice starts with ``cancel_prefix`` or (with
   ``cancel_negative``) whose quantity or amount is negative. Each reverses one purchase line
   (:mod:`cltv.data.cancellations`: same product and quantity, else same product, else the
   customer's latest purchase on or before it). An order cancelled in full is no purchase under
   either treatment: its lines are removed. An order cancelled in part keeps its amount under
   ``drop`` (the default, as in the BTYD literature, which counts purchase occasions: the
   purchase still happened) and is lowered by what was cancelled under ``net``.
7. **Non-positive amounts** (free items, price corrections): kept (a day still counts as a
   purchase, see :mod:`cltv.data.rfm`; CDNOW's convention) or dropped (``nonpositive: drop``).
8. **Window**: rows after ``end`` (the observation end) are dropped and counted.

Every refusal is one :class:`~cltv.errors.DataError` line naming the file, the column, up to five
line numbers and what was expected.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import id_texts
from . import cancellations
from .cancellations import Account
from .files import lines_text, read_table

OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
EPOCH_UNITS = [(1e8, 1e11, "s"), (1e11, 1e14, "ms"), (1e14, 1e17, "us"), (1e17, 1e20, "ns")]
EPOCH_TEXT = r"-?\d{9,20}"  # a column of such texts holds epoch numbers (dates as digits have 8: 20210530)


@dataclass(frozen=True)
class LogSpec:
    """How to read a transaction log (the ``data.*`` keys of the same names)."""
    customer_col: str = "customer_id"
    date_col: str = "date"
    amount_col: str | None = "amount"     # None: quantity_col x price_col
    quantity_col: str | None = None
    price_col: str | None = None
    invoice_col: str | None = None
    product_col: str | None = None        # matches cancellations to the lines they reverse
    cancel_prefix: str | None = None      # e.g. "C"
    cancel_negative: bool = False         # a negative quantity or amount marks a cancellation/return
    cancellations: str = "drop"           # drop | net
    missing_customer: str = "error"       # error | drop
    nonpositive: str = "keep"             # keep | drop
    filter_column: str | None = None
    filter_values: tuple = ()
    date_format: str | None = None
    timezone: str | None = None
    sheets: tuple | None = None           # Excel: None = every sheet
    first_purchase: tuple = ()            # columns whose value on the first purchase is an attribute (first_<col>)

    def columns(self) -> list[str]:
        """The columns of the log these rules read, each once."""
        return list(dict.fromkeys(c for c in (self.customer_col, self.date_col, self.amount_col, self.quantity_col,
                                              self.price_col, self.invoice_col, self.product_col,
                                              self.filter_column, *self.first_purchase) if c))


@dataclass
class Quality:
    """The data-quality account: rows read = rows kept + every dropped count."""
    rows_read: int = 0
    dropped: dict = field(default_factory=lambda: dict.fromkeys(
        ("filtered", "missing_customer", "cancellation", "cancelled_in_full", "nonpositive_amount",
         "outside_window"), 0))
    rows_kept: int = 0
    netted_cancellations: int = 0
    nonpositive_kept: int = 0
    cancellations: dict = field(default_factory=lambda: Account().as_dict())

    def as_dict(self) -> dict:
        return asdict(self)


def local_days(values: pd.Series, spec: LogSpec, where: str, lines: np.ndarray) -> pd.Series:
    """The local calendar day of each timestamp (rule 4 of the module docstring)."""
    if spec.date_format is None and not pd.api.types.is_numeric_dtype(values.dtype):
        text = values.astype("str").str.strip()
        if len(text) and text.str.fullmatch(EPOCH_TEXT).all():  # epoch numbers written as text (a CSV)
            values = pd.to_numeric(text)
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_float_dtype(values.dtype):
        size = values.abs().median()
        unit = next((u for lo, hi, u in EPOCH_UNITS if lo <= size < hi), None)
        if unit is None:
            raise DataError(f"{where}: numbers that are not epoch times (median {size:g}); expected dates")
        stamps = pd.to_datetime(values, unit=unit, utc=True, errors="coerce")
    elif isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        stamps = values
    else:
        text = values.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)).str.strip()
        aware = text.str.contains(OFFSET, na=False)
        if spec.timezone is None:  # the day as written: drop the offset
            text = text.where(~aware, text.str.replace(OFFSET, "", regex=True))
            aware[:] = False
        stamps = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        fmt = spec.date_format or "ISO8601"
        naive = _in_range(pd.to_datetime(text[~aware], format=fmt, errors="coerce"))
        stamps[~aware] = naive.astype("datetime64[ns]") if len(naive) else naive
        if aware.any():
            converted = _in_range(pd.to_datetime(text[aware], format=fmt, utc=True, errors="coerce"))
            stamps[aware] = converted.dt.tz_convert(spec.timezone).dt.tz_localize(None).astype("datetime64[ns]")
        bad = stamps.isna().to_numpy()
        if bad.any():
            shown = spec.date_format and f"format {spec.date_format!r}" or "a date or timestamp such as 2021-05-30 or 2021-05-30T10:10:00+03:00"
            raise DataError(f"{where}: unparseable date at {lines_text(lines[bad])}; expected {shown} "
                            "(years 1678 to 2261)")
        return stamps.dt.normalize()
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = (stamps.dt.tz_convert(spec.timezone) if spec.timezone else stamps).dt.tz_localize(None)
    bad = stamps.isna().to_numpy()
    if bad.any():
        raise DataError(f"{where}: missing date at {lines_text(lines[bad])}; expected a date on every row")
    return stamps.astype("datetime64[ns]").dt.normalize()


def _in_range(stamps: pd.Series) -> pd.Series:
    """NaT for times outside what nanosecond timestamps hold (years 1678 to 2261)."""
    if not len(stamps):
        return stamps
    years = stamps.dt.year
    return stamps.where((years >= 1678) & (years <= 2261))


def _numbers(raw: pd.DataFrame, column: str, path: Path, lines: np.ndarray, what: str) -> np.ndarray:
    values = pd.to_numeric(raw[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(f"{path}: column {column!r}: non-numeric {what} at {lines_text(lines[bad])}; expected a number")
    return values


def load_log(path: str | Path, spec: LogSpec = LogSpec(), end: str | pd.Timestamp | None = None
             ) -> tuple[pd.DataFrame, Quality]:
    """The tidy transactions of ``path`` (``customer_id``, ``date``, ``amount``; with
    ``spec.first_purchase`` also ``first_<col>``, each row's value of that column as text) and the
    account of what was dropped (see the module docstring for the rules)."""
    path = Path(path)
    raw = read_table(path, spec.sheets)
    quality = Quality(rows_read=len(raw))
    missing = [c for c in spec.columns() if c not in raw.columns]
    if missing:
        found = [c for c in raw.columns if c != "__line__"][:12]
        raise DataError(f"{path}: missing column(s) {missing}; found {found} (set the data.*_col keys, and check "
                        "the delimiter is a comma)")
    if raw.empty:
        raise DataError(f"{path}: no transactions (header only); expected at least one row")

    def drop(mask: np.ndarray, reason: str) -> None:
        nonlocal raw
        quality.dropped[reason] += int(mask.sum())
        raw = raw[~mask].reset_index(drop=True)

    if spec.filter_column:
        keep = raw[spec.filter_column].astype(str).str.strip().isin([str(v) for v in spec.filter_values])
        drop(~keep.to_numpy(), "filtered")
    ids, invalid = id_texts(raw[spec.customer_col])
    if invalid.any():
        raise DataError(f"{path}: column {spec.customer_col!r}: expected a text or a whole number as customer id "
                        f"(not a list, an object, a truth value or a fraction) at "
                        f"{lines_text(raw['__line__'].to_numpy()[invalid])}")
    guest = ids.isna().to_numpy()
    if guest.any() and spec.missing_customer == "error":
        raise DataError(f"{path}: column {spec.customer_col!r}: missing customer id at "
                        f"{lines_text(raw['__line__'].to_numpy()[guest])}; expected an id on every row "
                        "(guest purchases: set data.missing_customer=drop)")
    raw = raw.assign(__id__=ids)
    drop(guest, "missing_customer")
    lines = raw["__line__"].to_numpy()
    where = f"{path}: column {spec.date_col!r}"
    days = local_days(raw[spec.date_col], spec, where, lines)
    if spec.amount_col:
        amount = _numbers(raw, spec.amount_col, path, lines, "amount")
        quantity = amount
    else:
        quantity = _numbers(raw, spec.quantity_col, path, lines, "quantity")
        amount = quantity * _numbers(raw, spec.price_col, path, lines, "unit price")
    tx = pd.DataFrame({"customer_id": raw["__id__"].to_numpy(), "date": days.to_numpy(), "amount": amount})
    for column in spec.first_purchase:  # text as written, a blank cell missing
        text = raw[column].astype("str").str.strip()
        tx[f"first_{column}"] = text.where(raw[column].notna() & (text != "")).to_numpy()
    if spec.product_col:
        tx["product"] = raw[spec.product_col].astype("str").str.strip().to_numpy()
        tx["quantity"] = np.abs(quantity)
    order = ((raw["__id__"].astype("str") + "\x1f" + raw[spec.invoice_col].astype("str").str.strip()).to_numpy()
             if spec.invoice_col else np.arange(len(tx)))
    cancel = np.zeros(len(tx), dtype=bool)
    if spec.invoice_col and spec.cancel_prefix:
        cancel |= raw[spec.invoice_col].astype(str).str.strip().str.startswith(spec.cancel_prefix).to_numpy()
    if spec.cancel_negative:
        cancel |= (quantity < 0) | (amount < 0)
    if end is not None:
        late = (tx["date"] > pd.Timestamp(end).normalize()).to_numpy()
        quality.dropped["outside_window"] += int(late.sum())
        tx, cancel, order = tx[~late], cancel[~late], order[~late]
    if cancel.any():
        tx, done = cancellations.apply(tx[~cancel], tx[cancel], order[~cancel], spec.cancellations)
        quality.cancellations = done.as_dict()
        quality.netted_cancellations = done.matched if spec.cancellations == "net" else 0
        quality.dropped["cancellation"] += done.rows - quality.netted_cancellations
        quality.dropped["cancelled_in_full"] += done.purchase_lines_removed
    tx = tx[["customer_id", "date", "amount", *(f"first_{c}" for c in spec.first_purchase)]]
    nonpositive = (tx["amount"] <= 0).to_numpy()
    if spec.nonpositive == "drop":
        quality.dropped["nonpositive_amount"] += int(nonpositive.sum())
        tx = tx[~nonpositive]
    else:
        quality.nonpositive_kept = int(nonpositive.sum())
    quality.rows_kept = len(tx) + quality.netted_cancellations
    tx = tx.reset_index(drop=True).astype({"date": "datetime64[ns]", "amount": float})
    tx["customer_id"] = tx["customer_id"].astype("str")
    return tx, quality


def account(quality: Quality, daily: pd.DataFrame) -> dict:
    """The data-quality account with the customers, purchase days and date range of the result."""
    out = quality.as_dict()
    out.update({"customers": int(daily["customer_id"].nunique()), "purchase_days": int(len(daily)),
                "first_date": str(daily["date"].min().date()) if len(daily) else None,
                "last_date": str(daily["date"].max().date()) if len(daily) else None})
    return out
