"""Inputs are read as declared: a link out of the repository, repeated column names, amounts that
add up past what a number holds and an unknown date directive are refused in one line, before
anything is written."""
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cltv.data import rfm
from cltv.data.files import read_table
from cltv.data.transactions import load_log
from cltv.errors import DataError
from pipelines.common import PINNED_ENV as PIN

from .repo import copy_repo, tool_env


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"))


def stage(repo, *overrides: str, name: str = "check") -> subprocess.CompletedProcess:
    env = {**tool_env(), **PIN}
    subprocess.run([sys.executable, "-m", "pipelines.compose_params", *overrides], cwd=repo, env=env, check=True)
    return subprocess.run([sys.executable, "-m", f"pipelines.{name}"], cwd=repo, env=env, capture_output=True,
                          text=True)


def one_line(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr


def test_a_link_to_a_file_outside_the_repository_is_refused(repo, tmp_path):
    outside = tmp_path / "orders.csv"
    outside.write_text("customer_id,date,amount\na,2020-01-01,5\n")
    (repo / "mydata").mkdir(exist_ok=True)
    (repo / "mydata/link.csv").symlink_to(outside)
    for name in ("check", "prepare"):
        one_line(stage(repo, "data=transactions", "data.path=mydata/link.csv", name=name), "outside the repository")
    (repo / "mydata/inside.csv").write_text(outside.read_text())
    (repo / "mydata/link_inside.csv").symlink_to(repo / "mydata/inside.csv")
    proc = stage(repo, "data=transactions", "data.path=mydata/link_inside.csv")
    assert "outside the repository" not in proc.stderr  # a link inside the repository is the file


@pytest.mark.parametrize("fmt", ["%Y-%m-%Q", "%d/%m/%", "day-month-year"])
def test_a_date_format_python_cannot_read_is_refused_by_the_config_check(repo, fmt):
    one_line(stage(repo, f"data.date_format='{fmt}'"), "data.date_format")


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "parquet"])
def test_a_repeated_column_name_is_refused(tmp_path, kind):
    path = tmp_path / f"orders.{kind}"
    if kind == "parquet":
        pq.write_table(pa.table([pa.array(["a"]), pa.array(["2020-01-01"]), pa.array([1.0]), pa.array([2.0])],
                                names=["customer_id", "date", "amount", "amount"]), path)
    else:
        pd.DataFrame([["a", "2020-01-01", 1, 2]]).to_csv(path, index=False, header=["customer_id", "date", "amount",
                                                                                     "amount"])
    with pytest.raises(DataError, match=r"column\(s\) \['amount'\] appear more than once"):
        read_table(path)


@pytest.mark.parametrize("amounts, words", [([1e308, 1e308], "the amounts of 2020-01-01"),
                                            ([1.0, 1.7e308, 1.7e308], "the repeat purchases add up")])
def test_amounts_that_add_up_past_a_number_are_refused_not_written_as_inf(amounts, words):
    days = ["2020-01-01"] * 2 if len(amounts) == 2 else ["2020-01-01", "2020-01-02", "2020-01-03"]
    tx = pd.DataFrame({"customer_id": "a", "date": pd.to_datetime(days), "amount": amounts})
    with pytest.raises(DataError, match=words):
        rfm.rfm(rfm.daily_purchases(tx), "2020-02-01")


@pytest.mark.parametrize("ids, words", [([["a", "b"], ["c"]], "list"), ([True, False], "truth value"),
                                        ([1.5, 2.0], "fraction")])
def test_ids_that_are_no_id_are_refused_with_file_column_and_lines(tmp_path, ids, words):
    """A list-valued, boolean or fractional Parquet id is refused, not turned into text."""
    path = tmp_path / "orders.parquet"
    pd.DataFrame({"customer_id": ids, "date": ["2020-01-01", "2020-01-02"], "amount": [1.0, 2.0]}).to_parquet(path)
    with pytest.raises(DataError) as raised:
        load_log(path)
    message = str(raised.value)
    assert words in message and str(path) in message and "customer_id" in message and "line" in message and "\n" not in message


def test_ids_are_read_as_sent(tmp_path):
    """NA, 00123 and a whole number written as 12417.0 are ids; the server reads them the same
    (tests/test_serving.py)."""
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,date,amount\nNA,2020-01-01,5\n00123,2020-01-02,6\n 12417 ,2020-01-03,7\n")
    tx, _ = load_log(path)
    assert sorted(tx["customer_id"]) == ["00123", "12417", "NA"]
    pq_path = tmp_path / "orders.parquet"
    pd.DataFrame({"customer_id": [12417.0, 7.0], "date": ["2020-01-01", "2020-01-02"],
                  "amount": [1.0, 2.0]}).to_parquet(pq_path)
    assert sorted(load_log(pq_path)[0]["customer_id"]) == ["12417", "7"]
    for ids, want in [([Decimal("12417"), Decimal("7")], ["12417", "7"]),  # a database's DECIMAL(18,0) ids
                      ([1e19, 7.0], ["10000000000000000000", "7"]),         # beyond int64, never wrapped around
                      (np.array([10**19, 7], dtype=np.uint64), ["10000000000000000000", "7"])]:
        pd.DataFrame({"customer_id": ids, "date": ["2020-01-01", "2020-01-02"], "amount": [1.0, 2.0]}).to_parquet(pq_path)
        assert sorted(load_log(pq_path)[0]["customer_id"]) == want


@pytest.mark.parametrize("stamps, days", [(["1577836800", " 1580515200"], ["2020-01-01", "2020-02-01"]),  # seconds
                                          (["1577836800000", "1580515200000"], ["2020-01-01", "2020-02-01"]),  # ms
                                          (["20200101", "20200201"], ["2020-01-01", "2020-02-01"])])  # yyyymmdd
def test_epoch_times_written_as_text_are_dates(tmp_path, stamps, days):
    """A CSV holds every value as text: a column of epoch numbers is read as epoch times, as in
    a Parquet file; eight digits stay a date."""
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,date,amount\n" + "".join(f"a,{s},5\n" for s in stamps))
    assert [str(d)[:10] for d in load_log(path)[0]["date"]] == days


def test_a_file_replaced_while_it_is_read_is_refused(tmp_path):
    """What `prepare` checks around its read: a replaced file (new inode) or one written to."""
    from cltv.data.files import state, unchanged_since

    path = tmp_path / "orders.csv"
    path.write_text("customer_id,date,amount\na,2020-01-01,5\n")
    before = state(path)
    unchanged_since(path, before)  # nothing happened
    (tmp_path / "new.csv").write_text("customer_id,date,amount\na,2020-01-01,6\n")
    (tmp_path / "new.csv").replace(path)
    with pytest.raises(DataError, match="changed while it was read; nothing was written"):
        unchanged_since(path, before)
    before = state(path)
    with open(path, "a") as f:
        f.write("b,2020-01-02,7\n")
    with pytest.raises(DataError, match="changed while it was read"):
        unchanged_since(path, before)
