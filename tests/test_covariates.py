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
