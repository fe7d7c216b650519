"""The covariate design (cltv.covariates): one-hot levels against the most frequent one, numbers
centred and scaled, stored as JSON, and one clear line for every attribute problem."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from cltv.covariates import Design, attach
from cltv.errors import DataError, ModelError

TABLE = pd.DataFrame({
    "customer_id": ["a", "b", "c", "d", "e"],
    "channel": ["online", "store", "online", "both", "online"],
    "first_order": [10.0, 30.0, 20.0, 40.0, 50.0],
    "member": [True, False, True, True, False],
})


def test_levels_are_compared_with_the_most_frequent_and_numbers_are_standardised():
    design = Design.learn(TABLE, ["channel", "first_order", "member"], "attributes.csv")
    assert design.effects() == ["channel=both", "channel=store", "first_order", "member=False"]
    m = design.matrix(TABLE, "attributes.csv")
    assert m[:, 0].tolist() == [0, 0, 0, 1, 0] and m[:, 1].tolist() == [0, 1, 0, 0, 0]
    assert m[:, 2].mean() == pytest.approx(0) and m[:, 2].std() == pytest.approx(1)
    assert m[:, 3].tolist() == [0, 1, 0, 0, 1]  # True is the more frequent level, the reference


def test_the_design_round_trips_through_json_and_scores_new_customers_alike():
    design = Design.learn(TABLE, ["channel", "first_order"], "attributes.csv")
    again = Design.from_dict(json.loads(json.dumps(design.to_dict())))
    assert again == design
    new = pd.DataFrame({"channel": ["store"], "first_order": [30.0]})
    np.testing.assert_array_equal(again.matrix(new, "new.csv"), design.matrix(TABLE.iloc[[1]], "x"))
    with pytest.raises(ModelError, match="'channel' is not a valid 'categorical' column"):
        Design.from_dict([{"name": "channel", "kind": "categorical", "levels": ["a"], "reference": "z"}])


@pytest.mark.parametrize("table, names, words", [
    (TABLE, ["segment"], "no column 'segment' for model.covariates"),
    (TABLE.assign(channel=["online", None, "store", "both", "online"]), ["channel"], "1 missing value(s) (data rows [2])"),
    (TABLE.assign(first_order=1.0), ["first_order"], "column 'first_order' is constant"),
    (TABLE.assign(channel="online"), ["channel"], "has one level ('online')"),
    (pd.DataFrame({"email": [f"u{i}@x" for i in range(60)]}), ["email"], "has 60 levels; expected at most 50"),
])
def test_an_unusable_attribute_is_one_line_naming_the_table_and_column(table, names, words):
    with pytest.raises(DataError, match=re.escape(words)) as err:
        Design.learn(table, names, "attributes.csv")
    assert str(err.value).startswith("attributes.csv: ") and "\n" not in str(err.value)


def test_a_level_never_seen_in_training_is_refused_when_scoring():
    design = Design.learn(TABLE, ["channel"], "attributes.csv")
    with pytest.raises(DataError, match=r"level\(s\) \['kiosk'\] never seen in training"):
        design.matrix(pd.DataFrame({"channel": ["online", "kiosk"]}), "request")


def test_attributes_are_matched_to_the_logs_customers_and_every_one_needs_a_row():
    customers = pd.DataFrame({"customer_id": ["c", "a"]})
    table = attach(customers, TABLE, "customer_id", "attributes.csv")
    assert table["channel"].tolist() == ["online", "online"] and table["first_order"].tolist() == [20.0, 10.0]
    with pytest.raises(DataError, match=r"1 customer\(s\) without attributes \(e.g. \['z'\]\)"):
        attach(pd.DataFrame({"customer_id": ["a", "z"]}), TABLE, "customer_id", "attributes.csv")
    with pytest.raises(DataError, match="customer 'a' is listed more than once"):
        attach(customers, pd.concat([TABLE, TABLE.head(1)]), "customer_id", "attributes.csv")


def test_weighted_rows_learn_the_design_of_the_customers_they_stand_for():
    """Spark sends distinct rows with counts: the design equals the one of every customer."""
    counts = np.array([1, 4, 1, 2, 1])
    weighted = Design.learn(TABLE, ["channel", "first_order"], "rows", weights=counts)
    every = Design.learn(TABLE.loc[TABLE.index.repeat(counts)], ["channel", "first_order"], "customers")
    assert weighted.effects() == every.effects() == ["channel=both", "channel=online", "first_order"]  # store: 4 of 9
    a, b = weighted.columns[1], every.columns[1]  # first_order
    np.testing.assert_allclose([a.mean, a.scale], [b.mean, b.scale], rtol=1e-14)


def test_a_logs_first_purchase_gives_attributes_scored_from_the_log_alike(tmp_path):
    """first_purchase_amount (the first purchase day's spend) and first_<col> (the earliest row
    left after the rules: a cancelled first order does not count, nor a guest's row)."""
    from cltv.data.prepare import prepare, rfm_as_of
    from cltv.data.spec import DataSpec

    pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c", "c"],
        "invoice": ["1", "C1", "2", "3", "4", "5", "6"],
        "date": ["2020-01-03", "2020-01-04", "2020-02-01", "2020-01-05", "2020-01-05", "2020-03-01", "2020-01-20"],
        "amount": [50.0, -50.0, 20.0, 10.0, 15.0, 40.0, 5.0],
        "store": ["web", "web", "shop", "shop", "web", "web", " "],
    }).to_csv(tmp_path / "log.csv", index=False)
    spec = DataSpec(invoice_col="invoice", cancel_prefix="C", first_purchase=("store",))
    out = prepare(tmp_path / "log.csv", spec, "2020-02-15", "2020-03-31")
    got = out.customers.set_index("customer_id")
    assert got["first_purchase_amount"].to_dict() == {"a": 20.0, "b": 25.0, "c": 5.0}
    assert got["first_store"].iloc[:2].to_dict() == {"a": "shop", "b": "shop"} and pd.isna(got.loc["c", "first_store"])
    table = rfm_as_of(tmp_path / "log.csv", spec, "2020-03-31", attributes=True)
    pd.testing.assert_frame_equal(table[out.customers.columns], out.customers, check_dtype=False)
    with pytest.raises(DataError, match=r"missing value\(s\)"):  # c's first row has no store
        Design.learn(out.customers, ["first_store"], "data/customers.parquet")
    with pytest.raises(DataError, match=r"column\(s\) \['first_purchase_amount'\] are already there"):
        from cltv.covariates import join

        join(out.customers, out.customers, ["first_purchase_amount"], "attributes.csv")
