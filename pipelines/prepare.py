"""Stage `prepare`: transaction log -> daily purchases and RFM tables in data/.

data/daily.parquet        customer_id, date, amount (one row per customer and day)
data/calibration.parquet  calibration RFM (weeks) + holdout_purchases, holdout_spend, holdout_weeks
data/rfm.parquet          RFM over the whole history up to observation_end (training data)
"""
from common import ROOT, run

from cltv import data, rfm
from cltv.io import write_parquet


def main(p: dict) -> None:
    d = p["data"]
    path = ROOT / d["path"]
    tx = data.load_transactions(path, d["customer_col"], d["date_col"], d["amount_col"], d["date_format"])
    daily = rfm.daily_purchases(tx)
    rfm.check_period(daily, d["calibration_end"], d["observation_end"], source=str(d["path"]))
    calibration = rfm.calibration_holdout(daily, d["calibration_end"], d["observation_end"])
    full = rfm.rfm(daily, d["observation_end"])
    write_parquet(ROOT / "data/daily.parquet", daily)
    write_parquet(ROOT / "data/calibration.parquet", calibration)
    write_parquet(ROOT / "data/rfm.parquet", full)
    print(f"prepare: {len(tx)} transactions, {len(daily)} purchase days, {len(full)} customers "
          f"({len(calibration)} in the calibration cohort)")


if __name__ == "__main__":
    run(main)
