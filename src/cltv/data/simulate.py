"""Data with known true parameters: RFM tables drawn from any registered model (each model's
``simulate``), and transaction logs and FLO-schema snapshots drawn from BG/NBD + Gamma-Gamma
purchase events (:mod:`cltv.data.purchase_events`). ``python -m cltv.data.simulate`` writes them.
"""
from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from ..models import purchase_model, spend_model
from ..models.bgnbd import Params
from ..models.gamma_gamma import GGParams
from ..schema import DAYS_PER_WEEK
from .purchase_events import calendar_clock, group_params, grouped_events, lexsort_order, purchase_events


def simulate_rfm(
    n: int,
    bgnbd: tuple[float, ...] | None = None,
    gg: tuple[float, ...] | None = None,
    T: float | np.ndarray | None = None,
    seed: int = 0,
    purchases: str = "bgnbd",
    spend: str = "gamma_gamma",
    attributes: pd.DataFrame | None = None,
    effects: dict[str, dict[str, float]] | None = None,
) -> pd.DataFrame:
    """An RFM table (:data:`cltv.schema.RFM_COLUMNS`, weeks) of ``n`` simulated customers.

    ``purchases`` and ``spend``: the models (:mod:`cltv.models` kinds) that generate the
    histories (:meth:`~cltv.models.purchase.PurchaseModel.simulate`) with parameters ``bgnbd``
    (in the model's ``param_names`` order: BG/NBD and MBG/NBD r, alpha, a, b; Pareto/NBD r,
    alpha, s, beta; default: the model's ``example``) and the mean spends with parameters ``gg``
    (default: the spend model's ``example``). ``T`` (weeks): one value, one per customer, or by default
    uniform on [4, 104). ``monetary_value`` is the mean of the x repeat amounts (0 when x = 0).

    Covariates: ``attributes`` (one numeric row per customer, e.g. 0/1 flags; its columns are
    added to the table) and ``effects`` (process -> column -> gamma, :mod:`cltv.models.effects`):
    each customer is drawn from the models at its own parameters.
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(4.0, 104.0, n) if T is None else np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    purchase, spending = purchase_model(purchases), spend_model(spend)
    effects = effects or {}
    p_model = purchase(dict(zip(purchase.param_names, purchase.example if bgnbd is None else bgnbd)),
                       effects={k: v for k, v in effects.items() if k in purchase.links})
    s_model = spending(dict(zip(spending.param_names, spending.example if gg is None else gg)),
                       effects={k: v for k, v in effects.items() if k in spending.links})
    table = pd.DataFrame(index=range(n)) if attributes is None else attributes.reset_index(drop=True)
    groups, inverse = np.unique(table.to_numpy(dtype=float).reshape(n, -1), axis=0, return_inverse=True)
    x, recency, monetary = np.zeros(n, dtype="int64"), np.zeros(n), np.zeros(n)
    for g, row in enumerate(groups):
        idx = np.flatnonzero(inverse.ravel() == g)
        values = dict(zip(table.columns, row))
        z = {p: np.array([values[c] for c in e]) for p, e in effects.items()}
        x[idx], recency[idx] = p_model.at(z).simulate(T[idx], rng)
        monetary[idx] = s_model.at(z).simulate(x[idx], rng)
    return pd.DataFrame({
        "customer_id": [f"c{i:08d}" for i in range(n)],
        "frequency": x,
        "recency": recency,
        "T": T,
        "monetary_value": monetary,
        **{c: table[c].to_numpy() for c in table.columns},
    })


def simulate_transactions(
    n: int,
    bgnbd: Params = (0.243, 4.414, 0.793, 2.426),
    gg: GGParams = (6.25, 3.74, 15.44),
    start: str = "2020-01-01",
    end: str = "2021-06-30",
    acquisition_weeks: float = 12.0,
    seed: int = 0,
    history_weeks: float = 0.0,
    attributes: pd.DataFrame | None = None,
    effects: dict[str, dict[str, float]] | None = None,
    season=None,
) -> pd.DataFrame:
    """A transaction log (``customer_id``, ``date``, ``amount``) of ``n`` simulated customers.

    First purchases are uniform over the first ``acquisition_weeks`` after ``start``; every
    customer is then observed up to ``end``. Times are continuous and rounded down to days,
    so two purchases may fall on one day (they merge in :func:`cltv.data.rfm.daily_purchases`).
    ``history_weeks`` > 0 makes a left-censored log: first purchases are uniform over
    (-``history_weeks``, ``acquisition_weeks``), and the log starts at ``start``, so customers
    acquired before it appear with their first purchase on or after ``start`` (or not at all)
    and ``n`` counts the customers of the whole history. Customer numbers follow acquisition.
    ``attributes`` and ``effects``: covariates as for :func:`simulate_rfm` (customer ``i``'s row
    is ``attributes.iloc[i]``). ``season``: the calendar multiplier of every purchase rate, a
    function of day numbers (days since 1970-01-01) such as :func:`monthly`; the purchases are
    drawn in its operational time (:mod:`cltv.season`) and placed back on the calendar.
    """
    rng = np.random.default_rng(seed)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    horizon = (end_ts - start_ts) / pd.Timedelta(days=DAYS_PER_WEEK)
    first = rng.uniform(-history_weeks, acquisition_weeks, n)
    if history_weeks > 0:
        first.sort()
    clock = calendar_clock(season, start_ts, first.min(), horizon) or (lambda weeks: weeks, None)
    to_clock = clock[0]
    if attributes is None or not effects:
        who, when, amount = purchase_events(to_clock(first), to_clock(horizon), bgnbd, gg, rng)
    else:
        who, when, amount = grouped_events(to_clock(first), to_clock(horizon),
                                           *group_params(bgnbd, gg, attributes, effects), rng)
    when = when if clock[1] is None else clock[1](when)
    seen = when >= 0.0  # the log's window
    who, when, amount = who[seen], when[seen], amount[seen]
    order = lexsort_order(when, who)
    return pd.DataFrame({
        "customer_id": pd.array([f"c{i:08d}" for i in range(n)], dtype="str")[who[order]],
        "date": (start_ts + pd.to_timedelta(np.floor(when[order] * DAYS_PER_WEEK), unit="D")).astype("datetime64[ns]"),
        "amount": np.round(amount[order], 2),
    })


def monthly(profile: dict[int, float]):
    """A calendar multiplier by month (1-12 -> multiplier, others 1), e.g. ``{11: 1.6, 12: 1.6}``."""
    table = np.array([profile.get(m, 1.0) for m in range(1, 13)], dtype=float)
    return lambda days: table[np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[M]")
                              .astype("int64") % 12]


# ------------------------------------------------------------------------------------ FLO
#: True parameters of the FLO-style generator (weeks; Turkish lira per order).
FLO_BGNBD: Params = (0.8, 25.0, 1.0, 3.0)
FLO_GG: GGParams = (4.0, 3.5, 90.0)
FLO_CHANNELS = ["Android App", "Mobile", "Ios App", "Desktop"]
FLO_CHANNEL_SHARES = [0.48, 0.24, 0.14, 0.14]
FLO_CATEGORIES = ["KADIN", "ERKEK", "AKTIFSPOR", "COCUK", "AKTIFCOCUK"]
FLO_CATEGORY_SHARES = [0.50, 0.40, 0.45, 0.30, 0.25]
#: effects of the first order's channel (``order_channel``) against the commonest, Android App, for
#: ``channel_effects=True`` (cltv.models.effects: purchase rate, dropout, mean spend)
FLO_CHANNEL_EFFECTS = {"purchases": {"Desktop": -0.4, "Ios App": 0.3}, "dropout": {"Mobile": 0.6},
                       "spend": {"Ios App": 0.25, "Desktop": 0.2}}


def _flo_batch(m: int, bgnbd: Params, gg: GGParams, start: pd.Timestamp, end: pd.Timestamp,
               rng: np.random.Generator, channel_effects: bool = False) -> pd.DataFrame:
    """``m`` simulated customers as FLO snapshot rows (before any selection), with typed columns."""
    span = (end - start) / pd.Timedelta(days=DAYS_PER_WEEK)
    first = span * (1.0 - np.sqrt(rng.uniform(0.0, 1.0, m)))  # acquisitions grow linearly in time
    first = span - first
    if channel_effects:  # the first order's channel acts on the customer's parameters
        main = rng.choice(len(FLO_CHANNELS), size=m, p=FLO_CHANNEL_SHARES)
        table = pd.DataFrame({c: (main == i).astype(float) for i, c in enumerate(FLO_CHANNELS) if i})
        who, when, amount = grouped_events(first, span, *group_params(bgnbd, gg, table, FLO_CHANNEL_EFFECTS), rng)
    else:
        who, when, amount = purchase_events(first, span, bgnbd, gg, rng)
    online_share = rng.beta(2.0, 2.0, m)
    online = rng.uniform(0.0, 1.0, who.size) < online_share[who]
    day = np.floor(when * DAYS_PER_WEEK).astype("int64")  # days after start
    amount = np.round(amount, 2)
    frame = pd.DataFrame({"who": who, "day": day, "online": online, "amount": amount, "when": when})
    frame = frame.sort_values(["who", "when"], kind="stable")
    per = frame.groupby("who", sort=True)
    last = per.tail(1).set_index("who")
    by_channel = frame.groupby(["who", "online"], sort=True).agg(n=("day", "size"), value=("amount", "sum"),
                                                                 last=("day", "max")).unstack("online")
    idx = np.arange(m)

    def channel(col: str, is_online: bool, fill):
        key = (col, is_online)
        return by_channel[key].reindex(idx).fillna(fill).to_numpy() if key in by_channel else np.full(m, fill)

    def date(days: np.ndarray) -> np.ndarray:
        out = np.full(m, "", dtype=object)
        ok = days >= 0
        out[ok] = (start + pd.to_timedelta(days[ok], unit="D")).strftime("%Y-%m-%d")
        return out

    if not channel_effects:
        main = rng.choice(len(FLO_CHANNELS), size=m, p=FLO_CHANNEL_SHARES)
    order_channel = np.asarray(FLO_CHANNELS, dtype=object)[main]
    last_online = last["online"].reindex(idx).to_numpy(dtype=bool)
    picks = rng.uniform(0.0, 1.0, (m, len(FLO_CATEGORIES))) < np.asarray(FLO_CATEGORY_SHARES)
    categories = ["[" + ", ".join(c for c, k in zip(FLO_CATEGORIES, row) if k) + "]" for row in picks]
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(m)]
    return pd.DataFrame({
        "master_id": ids,
        "order_channel": order_channel,
        "last_order_channel": np.where(last_online, order_channel, "Offline"),
        "first_order_date": date(np.floor(first * DAYS_PER_WEEK).astype("int64")),
        "last_order_date": date(last["day"].reindex(idx).to_numpy()),
        "last_order_date_online": date(channel("last", True, -1).astype("int64")),
        "last_order_date_offline": date(channel("last", False, -1).astype("int64")),
        "order_num_total_ever_online": channel("n", True, 0).astype(float),
        "order_num_total_ever_offline": channel("n", False, 0).astype(float),
        "customer_value_total_ever_offline": np.round(channel("value", False, 0.0), 2),
        "customer_value_total_ever_online": np.round(channel("value", True, 0.0), 2),
        "interested_in_categories_12": categories,
        "_last_day": last["day"].reindex(idx).to_numpy(),
    })


def simulate_flo(
    n: int,
    bgnbd: Params = FLO_BGNBD,
    gg: GGParams = FLO_GG,
    start: str = "2013-01-01",
    end: str = "2021-05-30",
    selection: bool = True,
    seed: int = 0,
    channel_effects: bool = False,
) -> pd.DataFrame:
    """A FLO omnichannel snapshot (schema: ``cltv.data.flo.FLO_COLUMNS``) of ``n`` simulated customers.

    Customers follow BG/NBD + Gamma-Gamma with the given parameters (weeks; one Gamma-Gamma
    draw per order, the first order included), are acquired between ``start`` and ``end`` at a
    linearly growing rate and observed up to ``end``. Each order is online with a
    customer-specific probability ~ Beta(2, 2). With ``selection`` (FLO's export), only
    customers with at least one online and one store order and a purchase in the last 365 days
    are kept, which biases what a model fitted on the file sees; without it, every simulated
    customer is kept (a channel without orders has an empty last-order date). ``channel_effects``:
    the first order's channel (``order_channel``) scales the customer's parameters by
    :data:`FLO_CHANNEL_EFFECTS` (else it is drawn independently of the purchases).
    """
    rng = np.random.default_rng(seed)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    active_from = (end_ts - pd.Timedelta(days=365) - start_ts).days
    kept, have = [], 0
    while have < n:
        batch = _flo_batch(max(4 * (n - have), 1000), bgnbd, gg, start_ts, end_ts, rng, channel_effects)
        if selection:
            batch = batch[(batch["order_num_total_ever_online"] >= 1) & (batch["order_num_total_ever_offline"] >= 1)
                          & (batch["_last_day"] >= active_from)]
        kept.append(batch)
        have += len(batch)
    return pd.concat(kept, ignore_index=True).head(n).drop(columns="_last_day")


def write_flo_csv(df: pd.DataFrame, path) -> None:
    """Write a FLO snapshot as the real export looks: counts as ``4.0``, values with 2 decimals."""
    from ..io import write_csv

    out = df.copy()
    for col in ("customer_value_total_ever_offline", "customer_value_total_ever_online"):
        out[col] = out[col].map(lambda v: f"{v:.2f}")
    write_csv(path, out)


def main(argv: list[str] | None = None) -> None:
    """``python -m cltv.data.simulate flo --customers N --seed S [--no-selection] --out FILE`` or
    ``python -m cltv.data.simulate invoices --customers N --seed S [--timezone TZ] [--acquisition-weeks W]
    [--history-weeks H] [--bgnbd r,alpha,a,b] [--start DAY --end DAY] [--season 11=1.6,12=1.6] --out FILE``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cltv.data.simulate", description=main.__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    flo = sub.add_parser("flo", help="a FLO-schema customer snapshot CSV")
    flo.add_argument("--customers", type=int, default=20_000)
    flo.add_argument("--seed", type=int, default=0)
    flo.add_argument("--no-selection", action="store_true",
                     help="keep every simulated customer (no FLO-style selection)")
    flo.add_argument("--out", required=True, help="CSV path (.csv or .csv.gz)")
    inv = sub.add_parser("invoices", help="a retail export of invoice lines (cltv.simulate_invoices)")
    inv.add_argument("--customers", type=int, default=20_000)
    inv.add_argument("--seed", type=int, default=0)
    inv.add_argument("--timezone", default="Europe/Istanbul")
    inv.add_argument("--acquisition-weeks", type=float, default=12.0,
                     help="first purchases spread over this many weeks after the export's start (2020-01-01)")
    inv.add_argument("--history-weeks", type=float, default=0.0,
                     help="and over this many weeks before it: customers older than the export (left-censored)")
    inv.add_argument("--bgnbd", default="0.243,4.414,0.793,2.426", help="the true BG/NBD r,alpha,a,b (weeks)")
    inv.add_argument("--start", default="2020-01-01", help="the export's first day")
    inv.add_argument("--end", default="2021-06-30", help="the export's last day")
    inv.add_argument("--season", default="", help="month=multiplier of every purchase rate, e.g. 11=1.6,12=1.6")
    inv.add_argument("--out", required=True, help=".csv, .csv.gz, .parquet or .xlsx (a sheet per year)")
    args = parser.parse_args(argv)
    if args.what == "invoices":
        from .simulate_invoices import simulate_invoices, write_invoices

        profile = {int(m): float(v) for m, v in (p.split("=") for p in args.season.split(",") if p)}
        lines, _ = simulate_invoices(args.customers, timezone=args.timezone, seed=args.seed, start=args.start,
                                     end=args.end, acquisition_weeks=args.acquisition_weeks,
                                     history_weeks=args.history_weeks, season=monthly(profile) if profile else None,
                                     bgnbd=tuple(float(v) for v in args.bgnbd.split(",")))
        write_invoices(lines, args.out)
        print(f"wrote {len(lines):,} invoice lines of {args.customers:,} customers (and guests) to {args.out}")
        return
    df = simulate_flo(args.customers, selection=not args.no_selection, seed=args.seed)
    write_flo_csv(df, args.out)
    print(f"wrote {len(df)} FLO-schema customers to {args.out}")


if __name__ == "__main__":
    main()
