"""Stage `prepare`: the input file -> RFM tables in data/.

Transaction logs (data=cdnow, data=transactions):
  data/daily.parquet        customer_id, date, amount (one row per customer and day)
  data/calibration.parquet  calibration RFM (weeks) + holdout_purchases, holdout_spend, holdout_weeks
  data/rfm.parquet          RFM over the whole history up to observation_end (training data)
  data/customers.parquet    customer_id (a log has no other customer attributes)
FLO snapshot (data=flo): no time split is possible, so calibration.parquet is the RFM table
itself (in-sample evaluation) and daily.parquet is empty; customers.parquet adds the channels
and interest categories for the segment report.
"""
import pandas as pd
from common import ROOT, run

from cltv import data, flo, rfm
from cltv.io import write_parquet


def snapshot(p: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
    return empty_daily, table, table, flo.customer_attributes(raw)


def transactions(p: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    d = p["data"]
    tx = data.load_transactions(ROOT / d["path"], d["customer_col"], d["date_col"], d["amount_col"], d["date_format"],
                                end=d["observation_end"])
    daily = rfm.daily_purchases(tx)
    rfm.check_period(daily, d["calibration_end"], d["observation_end"], source=str(d["path"]))
    calibration = rfm.calibration_holdout(daily, d["calibration_end"], d["observation_end"])
    full = rfm.rfm(daily, d["observation_end"])
    print(f"prepare: {len(tx)} transactions, {len(daily)} purchase days, {len(full)} customers "
          f"({len(calibration)} in the calibration cohort)")
    return daily, calibration, full, full[["customer_id"]]


def main(p: dict) -> None:
    daily, calibration, full, customers = (snapshot if p["data"]["source"] == "flo" else transactions)(p)
    write_parquet(ROOT / "data/daily.parquet", daily)
    write_parquet(ROOT / "data/calibration.parquet", calibration)
    write_parquet(ROOT / "data/rfm.parquet", full)
    write_parquet(ROOT / "data/customers.parquet", customers)


if __name__ == "__main__":
    run(main)
