"""A realistic retail export with known truth: invoice lines drawn from BG/NBD + Gamma-Gamma.

Customers and their purchases come from :func:`cltv.data.purchase_events.purchase_events`
(known parameters). Each purchase becomes one invoice (sometimes two on the same day) of one to
five lines, quantity x unit price adding up to the purchase's spend (prices in steps of 0.25, so
every sum is exact in binary), stamped with a local time in ``timezone`` and written with its UTC offset. On top come
guest purchases (no customer id) and cancellations: lines with invoice ``C<number>`` and a negative
quantity that reverse part of an earlier line, on the same day or up to two weeks later.

Columns, as the UCI "Online Retail II" export names them: ``Invoice``, ``StockCode``,
``Quantity``, ``InvoiceDate`` (ISO 8601 with offset), ``Price``, ``Customer ID`` (text, empty for
guests), ``Country``. :func:`write_invoices` writes CSV (``.csv``, ``.csv.gz``), Parquet, or an
Excel workbook with one sheet per year.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..models.bgnbd import Params
from ..models.gamma_gamma import GGParams
from ..schema import DAYS_PER_WEEK
from .purchase_events import purchase_events

COUNTRIES = ["United Kingdom", "Germany", "France"]
COUNTRY_SHARES = [0.8, 0.12, 0.08]
PRICE_STEP = 0.25


def simulate_invoices(n: int, bgnbd: Params = (0.243, 4.414, 0.793, 2.426), gg: GGParams = (6.25, 3.74, 15.44),
                      start: str = "2020-01-01", end: str = "2021-06-30", timezone: str = "Europe/Istanbul",
                      acquisition_weeks: float = 12.0, guest_share: float = 0.05, cancel_share: float = 0.04,
                      seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(lines, clean)``: the export's invoice lines, and the generator's own clean purchase
    lines (``customer_id``, ``date`` the local day, ``amount``, ``country``): what a correct
    reading of the export must recover, guests and cancellations left out."""
    rng = np.random.default_rng(seed)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    horizon = (end_ts - start_ts) / pd.Timedelta(days=DAYS_PER_WEEK)
    who, when, spend = purchase_events(rng.uniform(0.0, acquisition_weeks, n), horizon, bgnbd, gg, rng)
    ids = np.array([f"{i + 12346}" for i in range(n)], dtype=object)  # numeric-looking ids, as real exports have
    country = rng.choice(COUNTRIES, n, p=COUNTRY_SHARES)
    guests = rng.random(who.size) < guest_share
    lines = _lines(when, spend, start_ts, rng)
    owner = who[lines["purchase"]]
    is_guest = guests[lines["purchase"]]
    lines["Customer ID"] = np.where(is_guest, "", ids[owner])
    lines["Country"] = np.where(is_guest, rng.choice(COUNTRIES, len(lines), p=COUNTRY_SHARES), country[owner])
    clean = pd.DataFrame({"customer_id": ids[owner][~is_guest], "date": lines["local"][~is_guest].dt.normalize(),
                          "amount": (lines["Quantity"] * lines["Price"])[~is_guest].to_numpy(),
                          "country": country[owner][~is_guest]})
    cancels = _cancellations(lines, cancel_share, end_ts, rng)
    out = pd.concat([lines, cancels], ignore_index=True)
    out = out.sort_values(["local", "Invoice"], kind="stable").reset_index(drop=True)
    stamps = out["local"].dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    out = out[stamps.notna().to_numpy()]  # times a clock change skips or repeats
    stamps = stamps[stamps.notna()]
    minutes = ((stamps.dt.tz_localize(None) - stamps.dt.tz_convert("UTC").dt.tz_localize(None))
               // pd.Timedelta(minutes=1)).to_numpy()
    sign = np.where(minutes < 0, "-", "+")
    offset = pd.Series(sign, index=out.index) + pd.Series(np.abs(minutes) // 60, index=out.index).map("{:02d}".format) \
        + ":" + pd.Series(np.abs(minutes) % 60, index=out.index).map("{:02d}".format)
    out["InvoiceDate"] = out["local"].dt.strftime("%Y-%m-%dT%H:%M:%S") + offset
    return (out[["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]]
            .reset_index(drop=True), clean.sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True))


def _lines(when: np.ndarray, spend: np.ndarray, start: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """One to five lines per purchase whose quantity x price add up to the purchase's spend
    (rounded to the price step), one invoice per purchase, a tenth of them split in two."""
    k = rng.integers(1, 6, when.size)
    purchase = np.repeat(np.arange(when.size), k)
    share = rng.dirichlet(np.ones(5), when.size)[purchase, np.arange(purchase.size) - np.repeat(np.cumsum(k) - k, k)]
    share = share / np.bincount(purchase, weights=share)[purchase]
    quantity = rng.integers(1, 4, purchase.size)
    price = np.maximum(np.round(spend[purchase] * share / quantity / PRICE_STEP), 1) * PRICE_STEP
    split = (rng.random(when.size) < 0.1)[purchase] & (np.arange(purchase.size) % 2 == 1)
    invoice = 2 * purchase + split.astype(int) + 500_000
    days = np.floor(when[purchase] * DAYS_PER_WEEK)
    seconds = np.minimum(np.floor((when[purchase] * DAYS_PER_WEEK - days) * 86_400), 86_399 - 600)  # the day stays the day
    local = start + pd.to_timedelta(days, unit="D") + pd.to_timedelta(seconds + 600 * split, unit="s")
    return pd.DataFrame({"purchase": purchase, "Invoice": invoice.astype(str),
                         "StockCode": rng.integers(10_000, 99_999, purchase.size).astype(str),
                         "Quantity": quantity, "Price": price, "local": local})


def _cancellations(lines: pd.DataFrame, share: float, end: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """Lines reversing part of ``share`` of the customers' lines, later the same day or up to two
    weeks later (never after ``end``)."""
    pick = (rng.random(len(lines)) < share) & (lines["Customer ID"] != "").to_numpy()
    c = lines[pick].copy()
    c["Invoice"] = "C" + c["Invoice"]
    c["Quantity"] = -rng.integers(1, c["Quantity"].to_numpy() + 1)
    c["local"] = c["local"] + pd.to_timedelta(rng.integers(60, 14 * 86_400, len(c)), unit="s")
    return c[c["local"] < end + pd.Timedelta(days=1)]


def write_invoices(lines: pd.DataFrame, path: str | Path) -> None:
    """Write the export as ``path``'s extension says: ``.csv``/``.csv.gz``, ``.parquet`` or
    ``.xlsx`` (one sheet per year of ``InvoiceDate``), atomically."""
    from ..io import atomic

    path = Path(path)
    if path.suffix == ".parquet":
        atomic(path, lambda p: lines.to_parquet(p, index=False))
    elif path.suffix == ".xlsx":
        def excel(p):
            with pd.ExcelWriter(p, engine="openpyxl") as book:
                for year, part in lines.groupby(lines["InvoiceDate"].str[:4], sort=True):
                    part.to_excel(book, sheet_name=f"Year {year}", index=False)
        atomic(path, excel)
    else:
        atomic(path, lambda p: lines.to_csv(p, index=False, compression="gzip" if path.suffix == ".gz" else None))
