"""Real retail exports by configuration (cltv.data.transactions): invoice lines, cancellations, guests,
time zones, one market, CSV / Parquet / Excel, the data-quality account, and each bad file refused
with one line naming the file, the column and the lines."""
import gzip

import numpy as np
import pandas as pd
import pytest

from cltv.data import rfm
from cltv.errors import DataError
from cltv.model import CLTVModel
from cltv.data.simulate_invoices import simulate_invoices, write_invoices
from cltv.data.transactions import LogSpec, load_log

END = "2021-06-30"
RETAIL = LogSpec(customer_col="Customer ID", date_col="InvoiceDate", amount_col=None, quantity_col="Quantity",
                 price_col="Price", invoice_col="Invoice", product_col="StockCode", cancel_prefix="C", missing_customer="drop",
                 timezone="Europe/Istanbul", filter_column="Country", filter_values=("United Kingdom",))
TRUE_BG, TRUE_GG = (0.243, 4.414, 0.793, 2.426), (6.25, 3.74, 15.44)


@pytest.fixture(scope="module")
def export():
    """100,000 simulated customers as an invoice-line export, and the generator's ledger of the
    UK customers' purchase lines."""
    lines, ledger = simulate_invoices(100_000, TRUE_BG, TRUE_GG, end=END, seed=3)
    return lines, ledger[ledger["country"] == "United Kingdom"]


def clean_rfm(ledger: pd.DataFrame, amount: str = "amount") -> pd.DataFrame:
    """RFM of what a correct reading recovers: the lines of orders not cancelled in full."""
    kept = ledger[~ledger["cancelled_in_full"]]
    return rfm.rfm(rfm.daily_purchases(kept.assign(amount=kept[amount])[["customer_id", "date", "amount"]]), END)


def truth(ledger: pd.DataFrame, treatment: str) -> dict:
    """The cancellation account the generator's own links give (cltv.data.cancellations.Account)."""
    full, kept = ledger[ledger["cancelled_in_full"]], ledger[~ledger["cancelled_in_full"]]
    days = lambda t: len(t[["customer_id", "date"]].drop_duplicates())  # noqa: E731
    return {"orders_cancelled_in_full": full["order"].nunique(), "purchase_lines_removed": len(full),
            "purchase_days_removed": days(ledger) - days(kept),
            "customers_removed": ledger["customer_id"].nunique() - kept["customer_id"].nunique(),
            "spend_cancelled_in_full": float(full["amount"].sum()),
            "spend_netted": float((kept["amount"] - kept["net_amount"]).sum()) if treatment == "net" else 0.0}


@pytest.mark.parametrize("name", ["export.csv.gz", "export.parquet"])
def test_cleaned_rfm_equals_the_generators_and_recovers_its_parameters(export, tmp_path, name):
    lines, clean = export
    write_invoices(lines, tmp_path / name)
    tx, quality = load_log(tmp_path / name, RETAIL, end=END)
    ours = rfm.rfm(rfm.daily_purchases(tx), END)
    pd.testing.assert_frame_equal(ours, clean_rfm(clean), check_exact=True)
    q = quality.as_dict()
    assert q["rows_read"] == len(lines) == q["rows_kept"] + sum(q["dropped"].values())
    assert q["dropped"]["missing_customer"] > 0 and q["dropped"]["cancellation"] > 0 and q["dropped"]["filtered"] > 0
    if name.endswith(".parquet"):
        return
    model = CLTVModel().fit(ours)
    np.testing.assert_allclose(list(model.purchases_.params.values()), TRUE_BG, rtol=0.10)
    np.testing.assert_allclose(list(model.spend_.params.values()), TRUE_GG, rtol=0.10)


@pytest.mark.parametrize("treatment", ["drop", "net"])
def test_orders_cancelled_in_full_are_no_purchase_and_the_counts_are_the_generators(export, tmp_path, treatment):
    """Full and partial cancellations with known truth: under both treatments an order cancelled
    in full is gone (its day too, when it was the day's only order), a partial one keeps its day;
    net lowers the spend by exactly what was cancelled. Every count equals the generator's."""
    lines, ledger = export
    write_invoices(lines, tmp_path / "export.csv")
    tx, quality = load_log(tmp_path / "export.csv", LogSpec(**{**RETAIL.__dict__, "cancellations": treatment}), end=END)
    pd.testing.assert_frame_equal(rfm.rfm(rfm.daily_purchases(tx), END),
                                  clean_rfm(ledger, "net_amount" if treatment == "net" else "amount"), check_exact=True)
    q = quality.as_dict()
    want = truth(ledger, treatment)
    assert {k: q["cancellations"][k] for k in want} == want
    assert want["orders_cancelled_in_full"] > 100 and want["purchase_days_removed"] > 100 and want["customers_removed"] > 0
    assert q["cancellations"]["unmatched"] == 0 and q["dropped"]["cancelled_in_full"] == want["purchase_lines_removed"]
    assert q["rows_read"] == q["rows_kept"] + sum(q["dropped"].values())
    if treatment == "net":
        assert want["spend_netted"] > 0 and q["netted_cancellations"] == q["cancellations"]["matched"]


def test_matching_rule_without_product_column_and_by_product_and_quantity(tmp_path):
    """Without a product column a cancellation reverses the customer's latest purchase on or before
    it; with one, the line of the same product (and quantity, when several)."""
    path = write(tmp_path, "Invoice,Customer ID,InvoiceDate,StockCode,Quantity,Price\n"
                           "1,a,2021-01-04,X,2,10\n1,a,2021-01-04,Y,1,5\n2,a,2021-01-10,Z,1,7\n"
                           "3,a,2021-01-11,X,1,10\nC1,a,2021-01-12,X,-2,10\nC2,a,2021-01-12,Y,-1,5\n")
    base = dict(customer_col="Customer ID", date_col="InvoiceDate", amount_col=None, quantity_col="Quantity",
                price_col="Price", invoice_col="Invoice", cancel_prefix="C")
    # by product and quantity: invoice 1's X (2 x 10, not invoice 3's 1 x 10) and Y: order 1 cancelled in full
    tx, q = load_log(path, LogSpec(**base, product_col="StockCode"))
    assert list(tx["amount"]) == [7.0, 10.0] and q.cancellations["orders_cancelled_in_full"] == 1
    assert q.cancellations["purchase_days_removed"] == 1
    # no product column: both reverse the latest purchase (invoice 3, 10): cancelled in full, order 1 stays
    tx, q = load_log(path, LogSpec(**base))
    assert list(tx["amount"]) == [20.0, 5.0, 7.0] and q.cancellations["orders_cancelled_in_full"] == 1
    tx, q = load_log(path, LogSpec(**base, cancellations="net"))
    assert list(tx["amount"]) == [20.0, 5.0, 7.0] and q.cancellations["spend_netted"] == 0.0


def test_excel_workbook_with_a_sheet_per_year(tmp_path):
    lines, ledger = simulate_invoices(1500, end=END, seed=5)
    write_invoices(lines, tmp_path / "export.xlsx")
    assert pd.ExcelFile(tmp_path / "export.xlsx").sheet_names == ["Year 2020", "Year 2021"]
    spec = LogSpec(**{**RETAIL.__dict__, "filter_column": None, "filter_values": ()})
    tx, quality = load_log(tmp_path / "export.xlsx", spec, end=END)
    pd.testing.assert_frame_equal(rfm.rfm(rfm.daily_purchases(tx), END),
                                  clean_rfm(ledger), check_exact=True)
    only = load_log(tmp_path / "export.xlsx", LogSpec(**{**spec.__dict__, "sheets": ("Year 2021",)}), end=END)[1]
    assert 0 < only.rows_read < quality.rows_read


def write(tmp_path, text: str, name: str = "log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_cancellations_drop_or_net(tmp_path):
    path = write(tmp_path, "Invoice,Customer ID,InvoiceDate,Quantity,Price\n1,a,2021-01-04 10:00,2,10\n"
                           "2,a,2021-02-01 11:00,1,30\nC2,a,2021-02-03 09:00,-1,10\nC9,a,2021-03-01 09:00,-1,5\n")
    spec = LogSpec(customer_col="Customer ID", date_col="InvoiceDate", amount_col=None, quantity_col="Quantity",
                   price_col="Price", invoice_col="Invoice", cancel_prefix="C")
    dropped, q = load_log(path, spec)
    assert list(dropped["amount"]) == [20.0, 30.0] and q.dropped["cancellation"] == 2  # no cancellation-only day
    netted, q = load_log(path, LogSpec(**{**spec.__dict__, "cancellations": "net"}))
    assert list(netted["amount"]) == [20.0, 15.0] and q.netted_cancellations == 2  # 30 - 10 - 5
    assert q.cancellations["spend_netted"] == 15.0 and q.cancellations["orders_cancelled_in_full"] == 0
    assert q.rows_read == q.rows_kept + sum(q.dropped.values())


def test_time_zones_and_the_last_day(tmp_path):
    path = write(tmp_path, "customer_id,date,amount\na,2021-06-30 10:10,5\nb,2021-06-29T23:30:00Z,5\n"
                           "c,2021-06-30T01:00:00+05:00,5\nd,2021-07-01 00:00,5\n")
    as_written, q = load_log(path, end="2021-06-30")
    assert list(as_written["date"].dt.strftime("%m-%d")) == ["06-30", "06-29", "06-30"]  # 10:10 on the last day kept
    assert q.dropped["outside_window"] == 1
    istanbul, _ = load_log(path, LogSpec(timezone="Europe/Istanbul"), end="2021-06-30")
    assert list(istanbul["date"].dt.strftime("%m-%d")) == ["06-30", "06-30", "06-29"]  # 23:30Z is 02:30 there
    aware = pd.DataFrame({"customer_id": ["a", "b"], "date": pd.to_datetime(
        ["2021-06-29T22:30:00Z", "2021-06-29T12:00:00Z"], utc=True), "amount": [1.0, 2.0]})
    aware.to_parquet(tmp_path / "aware.parquet")
    tx, _ = load_log(tmp_path / "aware.parquet", LogSpec(timezone="Asia/Tokyo"))
    assert list(tx["date"].dt.strftime("%m-%d")) == ["06-30", "06-29"]


def test_ids_are_text_whatever_the_format(tmp_path):
    pd.DataFrame({"customer_id": [4.0, 17.0, None], "date": ["2021-01-01"] * 3, "amount": [1.0, 2.0, 3.0]}) \
        .to_parquet(tmp_path / "float_ids.parquet")
    tx, q = load_log(tmp_path / "float_ids.parquet", LogSpec(missing_customer="drop"))
    assert list(tx["customer_id"]) == ["4", "17"] and q.dropped["missing_customer"] == 1
    epoch = pd.DataFrame({"customer_id": pd.array([12417, 12418], dtype="int64"),
                          "date": [1609459200, 1612137600], "amount": [1.0, 2.0]})  # 2021-01-01, 2021-02-01
    epoch.to_parquet(tmp_path / "epoch.parquet")
    tx, _ = load_log(tmp_path / "epoch.parquet")
    assert list(tx["customer_id"]) == ["12417", "12418"] and list(tx["date"].dt.year) == [2021, 2021]
    named = write(tmp_path, "customer_id,date,amount\nNone,2021-01-01,1\n00123,2021-01-02,2\n")
    assert list(load_log(named)[0]["customer_id"]) == ["None", "00123"]


def _gz(tmp_path) -> object:
    data = gzip.compress(b"customer_id,date,amount\n" + b"a,2021-01-01,1\n" * 2000)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


BAD = {
    "truncated gzip": (_gz, "the compressed file is truncated or damaged"),
    "error after a blank line": (lambda t: write(t, "customer_id,date,amount\na,2021-01-01,1\n\nb,2021-01-02,x\n"),
                                 "column 'amount': non-numeric amount at line 4"),
    "mixed offsets are fine, bad ones are not": (
        lambda t: write(t, "customer_id,date,amount\na,2021-01-01T10:00+01:00,1\nb,2021-01-01T10:00+25:00,1\n"),
        "column 'date': unparseable date at line 3"),
    "year 1600": (lambda t: write(t, "customer_id,date,amount\na,1600-01-01,1\n"),
                  "column 'date': unparseable date at line 2; expected a date or timestamp"),
    "guest purchase": (lambda t: write(t, "customer_id,date,amount\na,2021-01-01,1\n,2021-01-02,1\n"),
                       "column 'customer_id': missing customer id at line 3; expected an id on every row "
                       "(guest purchases: set data.missing_customer=drop)"),
    "no such sheet": (lambda t: _book(t), "Worksheet named 'Year 1999' not found; set data.sheets"),
}


def _book(tmp_path):
    path = tmp_path / "book.xlsx"
    pd.DataFrame({"customer_id": ["a"], "date": ["2021-01-01"], "amount": [1]}).to_excel(path, index=False)
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_bad_file_is_refused_with_one_line(tmp_path, case):
    make, expected = BAD[case]
    path = make(tmp_path)
    spec = LogSpec(sheets=("Year 1999",)) if case == "no such sheet" else LogSpec(timezone="UTC")
    with pytest.raises(DataError) as err:
        load_log(path, spec)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_mixed_offsets_go_to_one_local_day(tmp_path):
    path = write(tmp_path, "customer_id,date,amount\na,2021-01-01T23:30:00-02:00,1\na,2021-01-02T00:30:00+00:00,1\n")
    tx, _ = load_log(path, LogSpec(timezone="UTC"))
    assert list(tx["date"].dt.strftime("%m-%d")) == ["01-02", "01-02"]
