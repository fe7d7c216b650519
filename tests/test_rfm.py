import gzip

import pandas as pd
import pytest

from cltv.data import cdnow, rfm
from cltv.data import DataError


def tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).assign(
        date=lambda d: pd.to_datetime(d["date"]).astype("datetime64[ns]"))


def test_same_day_purchases_merge_and_units():
    daily = rfm.daily_purchases(tx([
        ("a", "2020-01-01", 10.0), ("a", "2020-01-01", 5.0),  # one purchase of 15
        ("a", "2020-01-15", 20.0), ("a", "2020-01-29", 40.0),
        ("b", "2020-01-08", 7.0),
    ]))
    assert len(daily) == 4
    out = rfm.rfm(daily, "2020-02-12").set_index("customer_id")
    a, b = out.loc["a"], out.loc["b"]
    assert a["frequency"] == 2 and a["recency"] == 4.0 and a["T"] == 6.0  # weeks
    assert a["monetary_value"] == 30.0  # mean of repeat days, first purchase (15) excluded
    assert b["frequency"] == 0 and b["recency"] == 0 and b["T"] == 5.0 and b["monetary_value"] == 0


def test_non_positive_amounts_rule():
    out = rfm.rfm(rfm.daily_purchases(tx([
        ("a", "2020-01-01", 10.0), ("a", "2020-01-08", -5.0), ("a", "2020-01-15", 30.0),
        ("z", "2020-01-01", 0.0), ("z", "2020-01-08", 0.0), ("z", "2020-01-15", -3.0),
    ])), "2020-01-15").set_index("customer_id")
    # days <= 0 count as purchases but are left out of the monetary mean
    assert out.loc["a", "frequency"] == 2 and out.loc["a", "monetary_value"] == 30.0
    assert out.loc["z", "frequency"] == 2 and out.loc["z", "monetary_value"] == 0.0


def test_cdnow_master_has_non_positive_amounts():
    master = cdnow.load_cdnow("master")
    assert len(master) == 69659 and master["customer_id"].nunique() == 23570
    assert (master["amount"] <= 0).sum() == 80


def test_calibration_holdout_split():
    daily = rfm.daily_purchases(tx([
        ("a", "2020-01-01", 10.0), ("a", "2020-01-20", 10.0), ("a", "2020-02-10", 1.0), ("a", "2020-02-10", 2.0),
        ("a", "2020-02-20", 4.0), ("late", "2020-02-05", 9.0),
    ]))
    ch = rfm.calibration_holdout(daily, "2020-01-31", "2020-02-29").set_index("customer_id")
    assert list(ch.index) == ["a"]  # first purchase after calibration: not in the cohort
    assert ch.loc["a", "frequency"] == 1 and ch.loc["a", "T"] == 30 / 7
    assert ch.loc["a", "holdout_purchases"] == 2 and ch.loc["a", "holdout_spend"] == 7.0
    assert ch.loc["a", "holdout_weeks"] == 29 / 7
    with pytest.raises(DataError, match="calibration_end 2019-12-01 is before the first purchase"):
        rfm.check_period(daily, "2019-12-01", "2020-02-29")
    with pytest.raises(DataError, match="after observation_end"):
        rfm.check_period(daily, "2020-01-31", "2020-02-15")


def test_generic_transaction_files(tmp_path):
    frame = pd.DataFrame({"client": ["x", "x", "ÿ"], "day": ["01/02/2021", "15/02/2021", "03/02/2021"],
                          "paid": ["1.5", "2", "3"], "extra": [1, 2, 3]})
    csv = tmp_path / "t.csv.gz"
    with gzip.open(csv, "wt", encoding="utf-8") as fh:
        fh.write("\ufeff" + frame.to_csv(index=False).replace("\n", "\r\n"))
    got = cdnow.load_transactions(csv, "client", "day", "paid", "%d/%m/%Y")
    assert list(got.columns) == ["customer_id", "date", "amount"]
    assert got["date"].tolist() == list(pd.to_datetime(["2021-02-01", "2021-02-15", "2021-02-03"]))
    assert got["customer_id"].tolist() == ["x", "x", "ÿ"] and got["amount"].tolist() == [1.5, 2.0, 3.0]
    pq = tmp_path / "t.parquet"
    frame.to_parquet(pq)
    assert cdnow.load_transactions(pq, "client", "day", "paid", "%d/%m/%Y").equals(got)


@pytest.mark.parametrize("content, match", [
    ("customer_id,date\nx,2021-01-01\n", r"t\.csv: missing column\(s\) \['amount'\]"),
    ("", "empty"),
    ("customer_id,date,amount\n", "header only"),
    ("customer_id,date,amount\nx,2021-01-01,1\nx,2021-01-02,abc\n", r"'amount': non-numeric amount at line 3"),
    ("customer_id,date,amount\nx,2021-13-01,1\n", r"'date': unparseable date at line 2"),
    ("customer_id,date,amount\n,2021-01-01,1\n", r"'customer_id': missing customer id at line 2"),
])
def test_bad_transaction_files(tmp_path, content, match):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        cdnow.load_transactions(path)
