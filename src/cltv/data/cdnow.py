"""Transaction logs in, one tidy DataFrame out.

Every loader returns a transaction table with the columns

- ``customer_id`` (str): the customer's id, kept as text (CDNOW ids keep their leading zeros);
- ``date`` (datetime64, day precision): the purchase date;
- ``amount`` (float): money spent in that transaction (any currency, may be 0 or negative:
  see :mod:`cltv.data.rfm` for how such amounts are treated).
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

CDNOW_FILES = {"master": "CDNOW_master.txt", "sample": "CDNOW_sample.txt"}


def _rows(mask: np.ndarray | pd.Series, offset: int = 2, limit: int = 5, unit: str = "line") -> str:
    """Up to ``limit`` positions of the True entries, numbered from ``offset`` (file lines: the
    header is line 1, so the first data row is line 2), e.g. ``"lines 3, 5 and 2 more"``."""
    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(i + offset) for i in idx[:limit])
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"{unit} {shown}{more}" if len(idx) == 1 else f"{unit}s {shown}{more}"


def cdnow_path(which: str = "master") -> Path:
    """Path of a CDNOW file shipped inside the installed ``lifetimes`` package."""
    if which not in CDNOW_FILES:
        raise DataError(f"unknown CDNOW file {which!r}: expected one of {sorted(CDNOW_FILES)}")
    return Path(str(importlib.resources.files("lifetimes") / "datasets" / CDNOW_FILES[which]))


def load_cdnow(which: str = "master") -> pd.DataFrame:
    """CDNOW transactions (Fader, Hardie & Lee 2005) from the ``lifetimes`` wheel.

    ``master``: 23,570 customers, 69,659 transactions; ``sample``: the 2,357-customer
    1/10 sample. ``customer_id`` is the master file's id in both (the sample's own
    1..2357 numbering is its second column: sample customer 1 is ``"00004"``).
    """
    path = cdnow_path(which)
    if which == "master":
        raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    else:
        raw = pd.read_csv(
            path, sep=r"\s+", header=None, dtype=str,
            names=["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"],
        )
    tx = pd.DataFrame({
        "customer_id": raw["customer_id"].astype(str),
        "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["dollar_value"].astype(float),
    })
    return _finish(tx)


def load_transactions(
    path: str | Path,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    date_format: str | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """A tidy transaction log (CSV, ``.csv.gz``, Parquet or Excel) with these columns, rows after
    ``end`` left out: :func:`cltv.data.transactions.load_log` with a plain :class:`~cltv.data.transactions.LogSpec`
    (use that for invoice lines, cancellations, guests, time zones and the data-quality account)."""
    from .transactions import LogSpec, load_log

    spec = LogSpec(customer_col=customer_col, date_col=date_col, amount_col=amount_col, date_format=date_format)
    return load_log(path, spec, end=end)[0]


def _finish(tx: pd.DataFrame) -> pd.DataFrame:
    tx["date"] = tx["date"].astype("datetime64[ns]")
    return tx.reset_index(drop=True)

