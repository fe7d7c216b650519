"""Stage `prepare`: the input file -> RFM tables in data/.

Transaction logs (data=cdnow, data=transactions):
  data/daily.parquet        customer_id, date, amount (one row per customer and day)
  data/calibration.parquet  calibration RFM (weeks) + holdout_purchases, holdout_spend, holdout_weeks
  data/rfm.parquet          RFM over the whole history up to observation_end (training data)
  data/customers.parquet    customer_id, first_purchase_amount, first_<col> per data.first_purchase, and
                            the columns of the data.customers table (docs/covariates.md)
  metrics/data_quality.json rows read, dropped by reason (filtered, missing customer, cancellation,
                            non-positive amount, outside the window), kept; customers, purchase days, dates
engine=spark: the same tables, built in Spark, as folders of Parquet part files (docs/scaling.md).
FLO snapshot (data=flo): no time split is possible, so calibration.parquet is the RFM table
itself (in-sample evaluation) and daily.parquet is empty; customers.parquet adds the channels
and interest categories for the segment report.
"""
import pandas as pd

from cltv import covariates
from cltv.data import cohort, rfm
from cltv.io import write_json, write_parquet
from cltv.data.files import state, unchanged_since
from cltv.data.prepare import prepare, summary
from cltv.data.spec import DataSpec
from pipelines.common import ROOT, run
from pipelines.engine import spark_session


def transactions_spark(p: dict) -> None:
    """engine=spark: read, merge days and build both RFM tables in Spark; write Parquet part files."""
    from cltv.engines import spark, spark_attributes

    d = p["data"]
    before = state(ROOT / d["path"])
    session = spark_session(p)
    tx, quality = spark.read_log(session, ROOT / d["path"], DataSpec.from_config(d), end=d["observation_end"])
    daily = spark.daily_purchases(tx).cache()
    first, last, days = daily.selectExpr("min(date)", "max(date)", "count(*)").first()
    rfm.check_period(pd.DataFrame({"date": pd.to_datetime([first, last])}), d["calibration_end"],
                     d["observation_end"], source=str(d["path"]))
    full = spark.rfm(daily, d["observation_end"]).cache()
    customers = spark_attributes.first_purchase(tx, daily, full)
    if d["customers"]["path"]:  # customer attributes for model.covariates, one row per customer of the log
        table = spark_attributes.read_attributes(session, ROOT / d["customers"]["path"], d["customers"]["id_col"])
        customers = spark_attributes.attach(customers, table, d["customers"]["path"])
    tables = {"daily": daily.select("customer_id", "date", "amount"),
              "calibration": spark.calibration_holdout(daily, d["calibration_end"], d["observation_end"]),
              "rfm": full, "customers": customers}
    by_age = {name: tables[name].groupBy("T").count().toPandas() for name in ("calibration", "rfm")}
    rule = cohort.account(by_age["calibration"], by_age["rfm"], d["calibration_end"], d["observation_end"],
                          d["acquired_after"], by_age["calibration"]["count"], by_age["rfm"]["count"])  # checked first
    for name, table in tables.items():  # sorted: pandas reads the part files back in customer order
        spark.write_parquet(table.orderBy("customer_id", *(["date"] if name == "daily" else [])), ROOT / f"data/{name}.parquet")
    unchanged_since(ROOT / d["path"], before)  # Spark read it while writing: the stage fails, dvc.lock stays
    customers = int(by_age["rfm"]["count"].sum())
    cal_customers = rule["cohort"]["calibration_customers_fitted"] + rule["cohort"]["calibration_customers_not_fitted"]
    write_json(ROOT / "metrics/data_quality.json", {**quality.as_dict(), "customers": customers, "purchase_days": days,
                                                     "first_date": str(first), "last_date": str(last), **rule})
    print(summary(quality, f" in Spark ({d['path']})", days, customers, cal_customers))
    if note := cohort.warning(rule["left_censoring"], d["acquired_after"]):
        print(f"prepare: WARNING {note}")
    session.stop()


def main(p: dict) -> None:
    if p["engine"]["kind"] == "spark":
        return transactions_spark(p)
    d = p["data"]  # the rules (cltv.data.spec) and this run's dates; cltv score reads files the same way
    before = state(ROOT / d["path"])
    out = prepare(ROOT / d["path"], DataSpec.from_config(d), d["calibration_end"], d["observation_end"],
                  d["analysis_date"], label=str(d["path"]), acquired_after=d["acquired_after"])
    unchanged_since(ROOT / d["path"], before)  # else dvc.lock would name content these tables were not built from
    print("\n".join(out.messages))
    if d["customers"]["path"]:  # customer attributes for model.covariates, one row per customer of the log
        attributes = covariates.read_attributes(ROOT / d["customers"]["path"], d["customers"]["id_col"])
        names = [c for c in attributes.columns if c != "customer_id"]
        out.customers = covariates.join(out.customers, attributes, names, d["customers"]["path"])
    for name in ("daily", "calibration", "rfm", "customers"):
        write_parquet(ROOT / f"data/{name}.parquet", getattr(out, name))
    write_json(ROOT / "metrics/data_quality.json", out.quality)


if __name__ == "__main__":
    run(main)
