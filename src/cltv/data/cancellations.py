"""Cancellations and returns matched to the purchases they reverse: the rule of both engines
(:mod:`cltv.data.transactions` in pandas, :mod:`cltv.engines.spark_read` in Spark).

**Matching.** Each cancellation row (an invoice starting with ``cancel_prefix``, or a negative
quantity or amount with ``cancel_negative``) reverses one purchase line of the same customer on
or before its day, the first of these that exists:

1. with ``product_col``: the latest line of the same product and the same quantity;
2. with ``product_col``: the latest line of the same product;
3. the customer's latest purchase line.

"Latest" is the latest day, and of one day the last line in the file's order. A cancellation
with no such purchase (its purchase lies before the log's first day or was dropped by a rule)
changes nothing and is counted as ``unmatched``.

**Orders.** The lines of one invoice (``invoice_col``) of one customer form an order; without an
invoice column each line is an order. An order whose matched cancellations add up to its whole
amount is **cancelled in full**: it was no purchase, so its lines are removed under both
treatments, and a day on which every order was cancelled in full is no purchase occasion. An
order cancelled in part keeps its amount under ``drop`` (the BTYD convention: the occasion
happened) and is lowered by what was cancelled under ``net``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

#: the matching stages: the columns a cancellation and its purchase line share (besides the customer)
STAGES = (("product", "quantity"), ("product",), ())
#: an order is cancelled in full when its cancellations reach this share of its amount (sums of cents)
FULL = 1.0 - 1e-9


@dataclass
class Account:
    """What the cancellations did (``metrics/data_quality.json``: ``cancellations``). Money in
    the log's currency."""
    rows: int = 0                       # cancellation rows in the window
    matched: int = 0                    # ... that reversed a purchase line
    unmatched: int = 0                  # ... without a purchase to reverse (no effect)
    orders_cancelled_in_full: int = 0   # orders removed: no purchase under either treatment
    purchase_lines_removed: int = 0     # their lines
    purchase_days_removed: int = 0      # customer-days left without any purchase
    customers_removed: int = 0          # customers left without any purchase
    spend_cancelled_in_full: float = 0.0  # the amount of the removed orders
    spend_netted: float = 0.0           # net: the amount taken off orders cancelled in part

    def as_dict(self) -> dict:
        return asdict(self)


def match(buys: pd.DataFrame, returns: pd.DataFrame) -> np.ndarray:
    """The row of ``buys`` each row of ``returns`` reverses (-1: none), by the stages of the
    module docstring. Both frames: ``customer_id``, ``date`` and, when the log has a product
    column, ``product`` (text) and ``quantity`` (the absolute quantity, or amount)."""
    target = np.full(len(returns), -1, dtype=np.int64)
    if returns.empty or buys.empty:
        return target
    b = buys.assign(__row__=np.arange(len(buys))).sort_values("date", kind="stable")
    r = returns.assign(__ret__=np.arange(len(returns))).sort_values("date", kind="stable")
    for shared in STAGES:
        if shared and "product" not in buys:
            continue
        todo = r[target[r["__ret__"].to_numpy()] < 0]
        if todo.empty:
            break
        by = ["customer_id", *shared]
        found = pd.merge_asof(todo[["date", "__ret__", *by]], b[["date", "__row__", *by]], on="date", by=by,
                              direction="backward")
        ok = found["__row__"].notna().to_numpy()
        target[found["__ret__"].to_numpy()[ok]] = found["__row__"].to_numpy()[ok].astype(np.int64)
    return target


def apply(buys: pd.DataFrame, returns: pd.DataFrame, order: np.ndarray, treatment: str
          ) -> tuple[pd.DataFrame, Account]:
    """``buys`` (``customer_id``, ``date``, ``amount`` and the matching columns of :func:`match`)
    without the orders cancelled in full and, under ``net``, lowered by the cancellations of the
    rest, with the :class:`Account`. ``returns``: the cancellation rows (their amounts are taken
    as reversed spend whatever their sign); ``order``: each buy line's order number (lines of
    one customer's invoice share one)."""
    target = match(buys, returns)
    ok = target >= 0
    cancelled = np.bincount(target[ok], weights=np.abs(returns["amount"].to_numpy(dtype=float))[ok],
                            minlength=len(buys))
    amount = buys["amount"].to_numpy(dtype=float)
    codes, order_code = np.unique(order, return_inverse=True)
    gross = np.bincount(order_code, weights=amount, minlength=codes.size)
    reversed_ = np.bincount(order_code, weights=cancelled, minlength=codes.size)
    full_order = (gross > 0) & (reversed_ >= FULL * gross) & (reversed_ > 0)
    removed = full_order[order_code]
    kept = buys[~removed]
    account = Account(rows=len(returns), matched=int(ok.sum()), unmatched=int((~ok).sum()),
                      orders_cancelled_in_full=int(full_order.sum()), purchase_lines_removed=int(removed.sum()),
                      purchase_days_removed=_days(buys) - _days(kept),
                      customers_removed=int(buys["customer_id"].nunique() - kept["customer_id"].nunique()),
                      spend_cancelled_in_full=float(gross[full_order].sum()))
    if treatment == "net":
        account.spend_netted = float(cancelled[~removed].sum())
        kept = kept.assign(amount=amount[~removed] - cancelled[~removed])
    return kept, account


def _days(frame: pd.DataFrame) -> int:
    """Distinct (customer, day) pairs of ``frame``."""
    return int(len(frame[["customer_id", "date"]].drop_duplicates()))
