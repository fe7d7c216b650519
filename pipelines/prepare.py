"""Stage `prepare`: the input file -> RFM tables in data/.

Transaction logs (data=cdnow, data=transactions):
  data/daily.parquet        customer_id, date, amount (one row per customer and day)
  data/calibration.parquet  calibration RFM (weeks) + holdout_purchases, holdout_spend, holdout_weeks
  data/rfm.parquet          RFM over the whole history up to observation_end (training data)
  data/customers.parquet    customer_id (a log has no other customer attributes)
  metrics/data_quality.json rows read, dropped by reason (filtered, missing customer, cancellation,
                            non-positive amount, outside the window), kept; customers, purchase days, dates
engine=spark: the same tables, built in Spark, as folders of Parquet part files (docs/scaling.md).
FLO snapshot (data=flo): no time split is possible, so calibration.parquet is the RFM table
itself (in-sample evaluation) and daily.parquet is empty; customers.parquet adds the channels
and interest categories for the segment report.
"""
import pandas as pd
from common import ROOT, run
from engine import spark_session

from cltv.data import flo, rfm
from cltv.io import write_json, write_parquet
from cltv.data.transactions import LogSpec, Quality, account, load_log


def snapshot(p: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    d = p["data"]
    raw = flo.load_flo(ROOT / d["path"])
    capped = raw
    if d["capping"]["enabled"]:
        c = d["capping"]
        capped = flo.cap_outliers(raw, low=c["low_quantile"], high=c["high_quantile"], multiplier=c["multiplier"])
        changed = {col: int((capped[col] != raw[col]).sum()) for col in flo.CAPPED_COLUMNS}
        print(f"prepare: capped outliers {changed}")
    at = flo.analysis_date(raw, d["analysis_date"], d["analysis_offset_days"])
    table = flo.snapshot_rfm(capped, at, d["seed_compatible"], source=str(d["path"]))
    print(f"prepare: {len(table)} customers, analysis date {at.date()}, "
          f"{'seed-compatible (frequency = total orders)' if d['seed_compatible'] else 'frequency = total orders - 1'}")
    empty_daily = pd.DataFrame({"customer_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                                "amount": pd.Series(dtype=float)})
    quality = Quality(rows_read=len(raw), rows_kept=len(raw))
    return empty_daily, table, table, flo.customer_attributes(raw), {**quality.as_dict(), "customers": len(table)}


def log_spec(d: dict) -> LogSpec:
    """How to read the log, from the ``data.*`` keys (README "Your own transaction log")."""
    c, f = d["cancellations"], d["filter"]
    return LogSpec(customer_col=d["customer_col"], date_col=d["date_col"], amount_col=d["amount_col"],
                   quantity_col=d["quantity_col"], price_col=d["price_col"], invoice_col=d["invoice_col"],
                   cancel_prefix=c["invoice_prefix"], cancel_negative=c["negative"], cancellations=c["treatment"],
                   missing_customer=d["missing_customer"], nonpositive=d["nonpositive_amounts"],
                   filter_column=f["column"], filter_values=tuple(f["values"]), date_format=d["date_format"],
                   timezone=d["timezone"], sheets=tuple(d["sheets"]) if d["sheets"] else None)


def transactions(p: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    d = p["data"]
    tx, quality = load_log(ROOT / d["path"], log_spec(d), end=d["observation_end"])
    daily = rfm.daily_purchases(tx)
    rfm.check_period(daily, d["calibration_end"], d["observation_end"], source=str(d["path"]))
    calibration = rfm.calibration_holdout(daily, d["calibration_end"], d["observation_end"])
    full = rfm.rfm(daily, d["observation_end"])
    print(_summary(quality, "", len(daily), len(full), len(calibration)))
    return daily, calibration, full, full[["customer_id"]], account(quality, daily)


def transactions_spark(p: dict) -> None:
    """engine=spark: read, merge days and build both RFM tables in Spark; write Parquet part files."""
    from cltv.engines import spark

    d = p["data"]
    session = spark_session(p)
    tx, quality = spark.read_log(session, ROOT / d["path"], log_spec(d), end=d["observation_end"])
    daily = spark.daily_purchases(tx).cache()
    first, last, days = daily.selectExpr("min(date)", "max(date)", "count(*)").first()
    rfm.check_period(pd.DataFrame({"date": pd.to_datetime([first, last])}), d["calibration_end"],
                     d["observation_end"], source=str(d["path"]))
    full = spark.rfm(daily, d["observation_end"]).cache()
    tables = {"daily": daily, "calibration": spark.calibration_holdout(daily, d["calibration_end"], d["observation_end"]),
              "rfm": full, "customers": full.select("customer_id")}
    for name, table in tables.items():  # sorted: pandas reads the part files back in customer order
        spark.write_parquet(table.orderBy("customer_id", *(["date"] if name == "daily" else [])), ROOT / f"data/{name}.parquet")
    customers = full.count()
    cohort = session.read.parquet(str(ROOT / "data/calibration.parquet")).count()  # from the Parquet footers
    write_json(ROOT / "metrics/data_quality.json", {**quality.as_dict(), "customers": customers, "purchase_days": days,
                                                     "first_date": str(first), "last_date": str(last)})
    print(_summary(quality, f" in Spark ({d['path']})", days, customers, cohort))
    session.stop()


def _summary(quality, where: str, days: int, customers: int, cohort: int) -> str:
    """The stage's line on a transaction log: rows read, dropped by reason, what was built."""
    dropped = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in quality.dropped.items() if v) or "none"
    return (f"prepare: {quality.rows_read:,} rows read{where}, dropped: {dropped}; {days:,} purchase days, "
            f"{customers:,} customers ({cohort:,} in the calibration cohort)")


def main(p: dict) -> None:
    if p["engine"]["kind"] == "spark":
        return transactions_spark(p)
    daily, calibration, full, customers, quality = (snapshot if p["data"]["source"] == "flo" else transactions)(p)
    write_parquet(ROOT / "data/daily.parquet", daily)
    write_parquet(ROOT / "data/calibration.parquet", calibration)
    write_parquet(ROOT / "data/rfm.parquet", full)
    write_parquet(ROOT / "data/customers.parquet", customers)
    write_json(ROOT / "metrics/data_quality.json", quality)


if __name__ == "__main__":
    run(main)
