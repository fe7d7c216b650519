"""Bad transaction logs: each is refused with one message naming the file, the column, the first
offending lines and what was expected, or accepted when it is valid after all. Real files in a
temporary folder go through the same calls as stage `prepare` and the model fit."""
import gzip

import numpy as np
import pandas as pd
import pytest

from cltv.data import cdnow, rfm
from cltv.data import DataError
from cltv.model import CLTVModel, FitError

CAL, OBS = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    """A valid log: the CDNOW sample as text, dates ISO."""
    tx = cdnow.load_cdnow("sample")
    return tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d"), amount=tx["amount"].map(lambda v: f"{v:.2f}"))


def prepare_and_fit(path, date_format=None) -> pd.DataFrame:
    """What stages prepare + train do with a transaction log; returns the scores."""
    tx = cdnow.load_transactions(path, date_format=date_format, end=OBS)
    daily = rfm.daily_purchases(tx)
    rfm.check_period(daily, CAL, OBS, source=str(path))
    rfm.calibration_holdout(daily, CAL, OBS)
    full = rfm.rfm(daily, OBS)
    scores = CLTVModel().fit(full).predict(full)
    assert np.isfinite(scores.select_dtypes("number").to_numpy(dtype=float)).all()
    return scores


def write(tmp_path, df: pd.DataFrame | str, name="tx.csv") -> object:
    path = tmp_path / name
    if isinstance(df, str):
        path.write_text(df)
    else:
        df.to_csv(path, index=False)
    return path


def edit(row: int, column: str, value: str):
    def change(df):
        df = df.copy()
        df.loc[row, column] = value
        return df
    return change


REFUSED = {
    "missing required column": (lambda df: df.drop(columns="amount"), "missing column(s) ['amount']"),
    "wrong delimiter": (lambda df: df.to_csv(index=False, sep=";"), "missing column(s)"),
    "empty file": (lambda df: "", "the file is empty"),
    "header only": (lambda df: "customer_id,date,amount\n", "no transactions (header only)"),
    "non-numeric amount": (edit(3, "amount", "12,5x"), "column 'amount': non-numeric amount at line 5"),
    "missing customer id": (edit(7, "customer_id", ""), "column 'customer_id': missing customer id at line 9"),
    "unparseable date": (edit(2, "date", "1997-02-30"), "column 'date': unparseable date at line 4"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_log_is_refused(tmp_path, good, case):
    change, expected = REFUSED[case]
    path = write(tmp_path, change(good))
    with pytest.raises(DataError) as err:
        prepare_and_fit(path)
    assert str(err.value).startswith(str(path)) and expected in str(err.value), str(err.value)


def test_first_five_offending_lines_are_named(tmp_path, good):
    df = good.copy()
    df.loc[[1, 3, 5, 7, 9, 11, 13], "amount"] = "n/a"
    with pytest.raises(DataError, match=r"non-numeric amount at lines 3, 5, 7, 9, 11 and 2 more; expected a number"):
        prepare_and_fit(write(tmp_path, df))


@pytest.mark.parametrize("cal, obs, expected", [
    ("1996-12-01", OBS, "is before the first purchase 1997-01-01"),
    ("1998-07-15", "1998-12-31", "on or after the last purchase 1998-06-30: the holdout period would be empty"),
])
def test_calibration_end_outside_the_data_is_refused(tmp_path, good, cal, obs, expected):
    daily = rfm.daily_purchases(cdnow.load_transactions(write(tmp_path, good)))
    with pytest.raises(DataError, match=expected):
        rfm.check_period(daily, cal, obs, source="tx.csv")


def test_too_few_customers_or_no_repeat_spend_fail_the_fit(tmp_path, good):
    def train(df):  # stage train: the whole history
        return CLTVModel().fit(rfm.rfm(rfm.daily_purchases(cdnow.load_transactions(write(tmp_path, df))), OBS))

    with pytest.raises(FitError, match="on 1 customer.*at least 10 are needed"):
        train(good[good["customer_id"] == good["customer_id"].iloc[0]])
    with pytest.raises(FitError, match="Gamma-Gamma cannot be fitted: no customer has a repeat purchase"):
        train(good.drop_duplicates("customer_id"))  # every customer bought once


ACCEPTED = {
    "unknown extra columns": lambda df: df.assign(store="north", note="x"),
    "negative amount (a return)": edit(3, "amount", "-15.00"),
    "zero amount": edit(3, "amount", "0"),
    "amounts of 1e12": edit(10, "amount", "1e12"),
    "non-ASCII ids": lambda df: df.assign(customer_id="müşteri-" + df["customer_id"] + "-顧客"),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_valid_oddities_are_accepted(tmp_path, good, case):
    scores = prepare_and_fit(write(tmp_path, ACCEPTED[case](good)))
    assert len(scores) == good["customer_id"].nunique()


def test_bom_crlf_and_gzip_are_accepted(tmp_path, good):
    text = good.to_csv(index=False, lineterminator="\r\n")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    with gzip.open(tmp_path / "tx.csv.gz", "wt", newline="") as f:
        f.write(text)
    plain = prepare_and_fit(write(tmp_path, good))
    for name in ("bom.csv", "tx.csv.gz"):
        pd.testing.assert_frame_equal(prepare_and_fit(tmp_path / name), plain)


def test_a_file_output_replaces_a_spark_part_folder_and_a_failed_write_keeps_it(tmp_path):
    """Switching engine=spark back to pandas: data/*.parquet and outputs/scores.parquet were
    folders of part files; the pandas stages replace them by files, atomically."""
    from cltv.io import atomic, write_parquet

    folder = tmp_path / "scores.parquet"
    folder.mkdir()
    (folder / "part-00000.parquet").write_bytes(b"spark")

    def broken(path):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic(folder, broken)
    assert (folder / "part-00000.parquet").read_bytes() == b"spark"  # untouched
    frame = pd.DataFrame({"customer_id": ["1", "2"], "clv": [1.5, 2.5]})
    write_parquet(folder, frame)
    assert folder.is_file() and pd.read_parquet(folder).equals(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # nothing left aside
