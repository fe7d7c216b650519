"""A realistic retail export with known truth: invoice lines drawn from BG/NBD + Gamma-Gamma.

Customers and their purchases come from :func:`cltv.data.purchase_events.purchase_events`
(known parameters). Each purchase becomes one invoice (sometimes two on the same day) of one to
five lines, quantity x unit price adding up to the purchase's spend (prices in steps of 0.25, so
every sum is exact in binary), stamped with a local time in ``timezone`` and written with its UTC
offset. A product code appears at most once per customer. On top come guest purchases (no
customer id) and cancellations (invoice ``C<number>``, negative quantity), later the same day or up
to two weeks later: whole orders cancelled in full (every line, full quantity) and single lines
cancelled in part (1 to quantity - 1 of a line of quantity >= 2, never in an order cancelled in full).
With ``history_weeks`` the customers' histories start before the log (a left-censored export).

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
from .purchase_events import calendar_clock, purchase_events

COUNTRIES = ["United Kingdom", "Germany", "France"]
COUNTRY_SHARES = [0.8, 0.12, 0.08]
PRICE_STEP = 0.25


def simulate_invoices(n: int, bgnbd: Params = (0.243, 4.414, 0.793, 2.426), gg: GGParams = (6.25, 3.74, 15.44),
                      start: str = "2020-01-01", end: str = "2021-06-30", timezone: str = "Europe/Istanbul",
                      acquisition_weeks: float = 12.0, guest_share: float = 0.05, cancel_share: float = 0.04,
                      seed: int = 0, full_cancel_share: float = 0.01, history_weeks: float = 0.0, season=None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(lines, ledger)``: the export's invoice lines, and the generator's own ledger of the
    customers' purchase lines (guests left out) as they are in the export: ``customer_id``,
    ``date`` (the local day), ``order`` (the invoice), ``amount`` (quantity x price), ``net_amount``
    (less what its cancellations took back), ``cancelled_in_full`` (its order was), ``country``.
    A correct reading recovers the rows not ``cancelled_in_full``: with ``amount`` under
    ``cancellations.treatment: drop``, ``net_amount`` under ``net``. ``cancel_share``: the share
    of lines cancelled in part (of those with quantity >= 2), ``full_cancel_share``: of orders
    cancelled in full. ``history_weeks``: first purchases uniform over (-history_weeks,
    acquisition_weeks) weeks after ``start``, the export holding those from ``start`` on. ``season``:
    a calendar multiplier of every purchase rate (as :func:`cltv.data.simulate.simulate_transactions`)."""
    rng = np.random.default_rng(seed)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    horizon = (end_ts - start_ts) / pd.Timedelta(days=DAYS_PER_WEEK)
    first = rng.uniform(-history_weeks, acquisition_weeks, n)
    clock = calendar_clock(season, start_ts, first.min(), horizon) or (lambda weeks: weeks, None)
    who, when, spend = purchase_events(clock[0](first), clock[0](horizon), bgnbd, gg, rng)
    when = when if clock[1] is None else clock[1](when)
    seen = when >= 0.0  # the export's window
    who, when, spend = who[seen], when[seen], spend[seen]
    ids = np.array([f"{i + 12346}" for i in range(n)], dtype=object)  # numeric-looking ids, as real exports have
    country = rng.choice(COUNTRIES, n, p=COUNTRY_SHARES)
    guests = rng.random(who.size) < guest_share
    lines = _lines(when, spend, start_ts, rng)
    owner = who[lines["purchase"]]
    is_guest = guests[lines["purchase"]]
    lines["Customer ID"] = np.where(is_guest, "", ids[owner])
    lines["Country"] = np.where(is_guest, rng.choice(COUNTRIES, len(lines), p=COUNTRY_SHARES), country[owner])
    lines["StockCode"] = _product_codes(owner, rng)
    lines["line"] = np.arange(len(lines))
    cancels = _cancellations(lines, cancel_share, full_cancel_share, end_ts, rng)
    out = pd.concat([lines, cancels], ignore_index=True)
    out = out.sort_values(["local", "Invoice"], kind="stable").reset_index(drop=True)
    stamps = out["local"].dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    out = out[stamps.notna().to_numpy()]  # times a clock change skips or repeats
    stamps = stamps[stamps.notna()]
    kept = out["target"].isna().to_numpy() | out["target"].isin(out["line"]).to_numpy()  # no cancellation of a
    out, stamps = out[kept], stamps[kept]                                                  # line dropped just now
    minutes = ((stamps.dt.tz_localize(None) - stamps.dt.tz_convert("UTC").dt.tz_localize(None))
               // pd.Timedelta(minutes=1)).to_numpy()
    sign = np.where(minutes < 0, "-", "+")
    offset = pd.Series(sign, index=out.index) + pd.Series(np.abs(minutes) // 60, index=out.index).map("{:02d}".format) \
        + ":" + pd.Series(np.abs(minutes) % 60, index=out.index).map("{:02d}".format)
    out["InvoiceDate"] = out["local"].dt.strftime("%Y-%m-%dT%H:%M:%S") + offset
    return (out[["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]]
            .reset_index(drop=True), _ledger(out))


def _ledger(out: pd.DataFrame) -> pd.DataFrame:
    """The customers' purchase lines of the export ``out`` (with the generator's ``line`` and
    ``target`` columns) and what their cancellations did, from the generator's own links."""
    buys = out[(out["Customer ID"] != "") & out["target"].isna()]
    cancels = out[out["target"].notna()]
    taken = (cancels["Quantity"].abs() * cancels["Price"]).groupby(cancels["target"].astype(np.int64)).sum()
    amount = (buys["Quantity"] * buys["Price"]).to_numpy()
    back = taken.reindex(buys["line"].to_numpy(), fill_value=0.0).to_numpy()
    gross = pd.Series(amount).groupby(buys["Invoice"].to_numpy()).transform("sum").to_numpy()
    reversed_ = pd.Series(back).groupby(buys["Invoice"].to_numpy()).transform("sum").to_numpy()
    ledger = pd.DataFrame({"customer_id": buys["Customer ID"].to_numpy(), "date": buys["local"].dt.normalize().to_numpy(),
                           "order": buys["Invoice"].to_numpy(), "amount": amount, "net_amount": amount - back,
                           "cancelled_in_full": (reversed_ >= gross) & (reversed_ > 0),
                           "country": buys["Country"].to_numpy()})
    return ledger.sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)


def _product_codes(owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Five-digit product codes, none repeated within one customer's lines (a cancellation's
    product then names the line it reverses)."""
    order = np.argsort(owner, kind="stable")
    rank = np.empty(owner.size, dtype=np.int64)
    counts = np.bincount(owner)
    rank[order] = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    base = rng.integers(0, 90_000, owner.size if owner.size == 0 else owner.max() + 1)
    return (10_000 + (base[owner] + 7_919 * rank) % 90_000).astype(str)  # 7919 is prime to 90000


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


def _cancellations(lines: pd.DataFrame, share: float, full_share: float, end: pd.Timestamp,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Cancellation lines (``target``: the line each reverses) of customers' lines: every line of
    ``full_share`` of the orders with its full quantity, and part of ``share`` of the other lines of
    quantity >= 2; later the same day or up to two weeks later (never after ``end``)."""
    customer = (lines["Customer ID"] != "").to_numpy()
    picked = lines["Invoice"][customer & (rng.random(len(lines)) < full_share)].unique()
    whole = lines["Invoice"].isin(picked).to_numpy() & customer
    part = customer & ~whole & (lines["Quantity"] >= 2).to_numpy() & (rng.random(len(lines)) < share)
    c = lines[whole | part].copy()
    c["target"] = c["line"].astype(float)
    c["Quantity"] = np.where(whole[whole | part], -c["Quantity"], -rng.integers(1, np.maximum(c["Quantity"], 2)))
    later = pd.Series(rng.integers(60, 14 * 86_400, len(c)), index=c.index)
    c["local"] = c["local"] + pd.to_timedelta(later.groupby(c["Invoice"]).transform("first"), unit="s")
    c["Invoice"] = "C" + c["Invoice"]
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
